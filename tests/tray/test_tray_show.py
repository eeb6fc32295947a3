"""`checkup tray --show` (the applications menu's "Checkup"): with a tray already running
(its lock held by another process) it opens that tray's report page, or says the first
check is not done yet; it never starts a second tray. Real processes, real lock file, a
BROWSER script that records the URL webbrowser would open."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path):
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" >> "{opened}"\n')
    browser.chmod(0o755)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(REPO),
           "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "BROWSER": f"{browser} %s"}
    return tmp_path, env, opened


def checkup(env, *args):
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True,
                          timeout=60, env=env, cwd=REPO)


@pytest.fixture
def running_tray(home):
    tmp_path, _, _ = home
    lock = tmp_path / "state" / "Checkup" / "tray.lock"
    lock.parent.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl,sys,time; f=open(sys.argv[1],'a+');"
                               "fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)",
                               str(lock)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    yield
    holder.kill()
    holder.wait()


def wait_for(path: Path, seconds: float = 10) -> str:
    deadline = time.time() + seconds
    while not path.exists() and time.time() < deadline:
        time.sleep(0.05)
    return path.read_text() if path.exists() else ""


def test_show_opens_the_running_trays_report(home, running_tray):
    tmp_path, env, opened = home
    report = tmp_path / "data" / "Checkup" / "pages" / "report.html"
    report.parent.mkdir(parents=True)
    report.write_text("<!doctype html><title>Checkup</title>")
    proc = checkup(env, "tray", "--show")
    assert proc.returncode == 0, proc.stderr
    assert wait_for(opened).split() == [report.as_uri()]


def test_show_before_the_first_check_says_so_and_opens_nothing(home, running_tray):
    _, env, opened = home
    proc = checkup(env, "tray", "--show")
    assert proc.returncode == 0, proc.stderr
    assert "Checkup is already running" in proc.stdout and "first check" in proc.stdout
    time.sleep(0.3)
    assert not opened.exists()


def test_without_show_a_second_tray_stays_quiet(home, running_tray):
    tmp_path, env, opened = home
    report = tmp_path / "data" / "Checkup" / "pages" / "report.html"
    report.parent.mkdir(parents=True)
    report.write_text("<!doctype html>")
    proc = checkup(env, "tray")
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == ""
    time.sleep(0.3)
    assert not opened.exists()


def test_show_with_no_tray_running_starts_one(home):
    _, env, opened = home                                   # no DISPLAY: the start is refused
    proc = checkup(env, "tray", "--show")
    assert proc.returncode == 3 and "needs a desktop session" in proc.stderr
    assert not opened.exists()
