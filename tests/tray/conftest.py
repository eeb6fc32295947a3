"""Fixtures for the tray tests: a real desktop session started and stopped here.

``desktop`` starts Xvfb, a private session dbus-daemon, dunst and trayer (each by
PID, each stopped after the session), or skips with the missing Debian package.
Install them with: apt-get install $(cat .ci/apt-tray.txt)
"""
from __future__ import annotations

import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from tray_desktop import desktop_session  # noqa: E402


@pytest.fixture(scope="session")
def desktop():
    yield from desktop_session()


@pytest.fixture
def browser(tmp_path):
    """A BROWSER command that records the URLs it is asked to open."""
    log = tmp_path / "opened.txt"
    script = tmp_path / "browser.sh"
    script.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{log}'\n")
    script.chmod(0o755)

    class Browser:
        env_value = f"{script} %s"
        path = log

        def urls(self):
            return log.read_text().split() if log.exists() else []

        def clear(self):
            if log.exists():
                log.unlink()
    return Browser()


@pytest.fixture
def chromium():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        pytest.skip("page rendering needs chromium (Debian package chromium)")
    return exe
