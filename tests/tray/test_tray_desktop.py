"""`checkup tray --replay` on a real X display with a real tray host, real D-Bus and dunst.

Xvfb + trayer + dunst + a private session bus come from the ``desktop`` fixture.
The menu is driven with xdotool, pages are "opened" through $BROWSER (which
records the URL), the icon colour is read from a screenshot.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from tray_desktop import FIXTURES, TrayProcess, have_gtk, wait_until

pytestmark = pytest.mark.skipif(not have_gtk(), reason="the gtk pystray backend needs PyGObject "
                                "(pip install 'pygobject<3.52' with libgirepository1.0-dev libcairo2-dev)")


def notif_count(desktop) -> int:
    out = desktop.run(["dunstctl", "count", "displayed"]).stdout.strip()
    return int(out) if out.isdigit() else 0


def test_tray_red_then_click_through_then_green(desktop, browser, tmp_path):
    capture = tmp_path / "capture.json"
    shutil.copy(os.path.join(FIXTURES, "mac-firewall-off.json"), capture)
    desktop.run(["dunstctl", "close-all"])
    desktop.run(["dunstctl", "history-clear"])
    tray = TrayProcess(desktop, str(tmp_path), str(capture), backend="gtk", browser=browser.env_value).start()
    try:
        tray.wait_icon()
        # 1. red icon, words in the tooltip
        assert wait_until(lambda: tray.icon_colour(str(tmp_path / "red.png")) == "red", 10), tray.output()
        assert tray.icon_window()["name"] == "Checkup: 1 thing needs your attention"

        # 2. the notification arrives on the real bus; its default action opens the fix page
        assert wait_until(lambda: notif_count(desktop) >= 1, 10), tray.output()
        desktop.run(["dunstctl", "action", "0"])
        urls = wait_until(browser.urls, 5)
        assert urls and urls[-1].startswith("file://") and urls[-1].endswith("/pages/firewall.html"), urls
        history = wait_until(lambda: _all_notifications(desktop), 5)
        assert any(n.get("summary") == "Checkup: Firewall needs your attention" and n.get("appname") == "Checkup"
                   and str(n.get("icon_path")).endswith("/pages/checkup-fail.png") for n in history), history
        page = urls[-1][len("file://"):]
        assert "Network &gt; Firewall" in open(page).read()

        # 3. the menu, with real input: first item is "✕ Firewall"
        browser.clear()
        tray.menu(1)
        urls = wait_until(browser.urls, 5)
        assert urls and urls[-1].endswith("/pages/firewall.html"), urls

        # 4. fix the capture on disk, choose Check now (third item), the icon turns green
        shutil.copy(os.path.join(FIXTURES, "mac-all-good.json"), capture)
        tray.menu(2)
        assert wait_until(lambda: tray.icon_colour(str(tmp_path / "green.png")) == "green", 10), tray.output()
        assert tray.icon_window()["name"] == "Checkup: everything looks good"
        # ... and says thank you
        thanks = wait_until(lambda: [n for n in _all_notifications(desktop)
                                     if "fixed, thank you" in (n.get("summary") or "")], 5)
        assert thanks and str(thanks[-1].get("icon_path")).endswith("/pages/checkup-pass.png"), thanks

        # 5. a second `checkup tray` for the same user exits quietly
        second = subprocess.run(tray.argv, env=tray.env, cwd=os.path.dirname(FIXTURES), capture_output=True,
                                text=True, timeout=20)
        assert second.returncode == 0 and second.stdout == "" and second.stderr == ""
        assert tray.proc.poll() is None
    finally:
        tray.stop()
    state = tmp_path / "state"
    assert any(p.name == "state.json" for p in state.rglob("*"))


def _all_notifications(desktop):
    desktop.run(["dunstctl", "close-all"])
    time.sleep(0.1)
    return desktop.dunst_history()


def test_xorg_backend_shows_red_and_left_click_opens_the_report(desktop, browser, tmp_path):
    capture = tmp_path / "capture.json"
    shutil.copy(os.path.join(FIXTURES, "mac-firewall-off.json"), capture)
    tray = TrayProcess(desktop, str(tmp_path), str(capture), backend="xorg", browser=browser.env_value,
                       config_text="[notifications]\nenabled = false\n").start()
    try:
        assert wait_until(lambda: tray.icon_colour(str(tmp_path / "x.png")) == "red", 10), tray.output()
        tray.click(1)
        urls = wait_until(browser.urls, 5)
        assert urls and urls[-1].endswith("/pages/report.html"), (urls, tray.output())
    finally:
        tray.stop()


def test_pages_render_in_headless_chromium(chromium, tmp_path):
    """Every page of a failing Mac, a Windows and a Linux capture renders offline in Chromium."""
    from agent.pages import write_pages
    from agent.pipeline import run_check
    from agent.policy import load_policy
    from probes.host import RecordedHost

    repo_fixtures = os.path.join(os.path.dirname(os.path.dirname(FIXTURES)), "fixtures")
    captures = [os.path.join(FIXTURES, "mac-firewall-off.json"),
                os.path.join(repo_fixtures, "windows", "win10-22h2-bitlocker-off-firewall-partly-off.json"),
                os.path.join(repo_fixtures, "linux", "ubuntu-22-04-gnome-lock-disabled-mokutil-missing.json")]
    org = {"name": "ACME IT", "help_url": "https://help.acme.example", "help_text": "Call 555-0100."}
    shots = []
    for cap in captures:
        if not os.path.exists(cap):
            continue
        report = run_check(RecordedHost.load(cap), load_policy())
        out = tmp_path / os.path.basename(cap)
        paths = write_pages(report, org, str(out))
        failing = [c["id"] for c in report["checks"] if c["status"] in ("fail", "nudge")]
        for key in ["report", *failing[:2]]:
            png = tmp_path / f"{os.path.basename(cap)}-{key}.png"
            r = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                                "--no-first-run", "--disable-quic", f"--user-data-dir={tmp_path / 'profile'}",
                                "--window-size=900,1200", f"--screenshot={png}", "file://" + paths[key]],
                               capture_output=True, timeout=60)
            assert png.exists(), r.stderr[-2000:]
            shots.append(png)
    assert len(shots) >= 3
    from PIL import Image
    for png in shots:
        img = Image.open(png).convert("RGB")
        colours = img.resize((90, 120)).getcolors(10000) or []
        assert len(colours) > 20, png          # not a blank page: text and badges were drawn
