"""Make the README screenshots: docs/screenshots/tray-menu.png and fix-page.png.

    python tests/tray/make_screenshots.py            # the tray menu and the fix page
    python tests/tray/make_screenshots.py --pages    # only the agent's pages: fix-page.png,
                                                     # report-390.png (no desktop needed)

Starts its own desktop (Xvfb + trayer + dunst + session bus), runs
`checkup tray --replay` on a Mac with the firewall off, opens the menu with a real
right-click, and screenshots it; the firewall fix page is rendered by headless
Chromium.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from tray_desktop import FIXTURES, REPO, Desktop, TrayProcess, wait_until  # noqa: E402

OUT = os.path.join(REPO, "docs", "screenshots")


def _chromium_shot(page: str, out: str, size: str, work: str) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise SystemExit("chromium is needed for the page screenshots")
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--disable-quic", f"--user-data-dir={work}/profile",
                    "--hide-scrollbars", f"--window-size={size}", f"--screenshot={out}",
                    "file://" + page], capture_output=True, timeout=60, check=True)


def pages_only() -> int:
    """The real pages (agent.pages.write_pages, as the tray writes them) from real captures."""
    import json
    sys.path.insert(0, REPO)
    from agent import pages
    from agent.pipeline import run_check
    from agent.policy import load_policy
    from probes.host import RecordedHost
    work = tempfile.mkdtemp(prefix="checkup-shots-")
    org = {"name": "ACME IT", "help_url": "https://help.acme.example",
           "help_text": "Stuck? Call the ACME help desk on 555-0100 or chat with us in #it-help."}
    try:
        shots = (("mac-firewall-off.json", os.path.join(FIXTURES, "mac-firewall-off.json"), "firewall",
                  "fix-page.png", "800,1100"),
                 ("ubuntu", os.path.join(REPO, "tests", "fixtures", "linux",
                                         "ubuntu-22-04-gnome-lock-disabled-mokutil-missing.json"),
                  "report", "report-390.png", "390,1500"))
        for name, capture, page, out, size in shots:
            policy = os.path.join(work, "policy.toml")
            with open(capture) as fh:
                data = json.load(fh)
            with open(policy, "w") as fh:
                fh.write(data.get("policy") or "")
            report = run_check(RecordedHost.load(capture), load_policy(policy))
            paths = pages.write_pages(report, org, os.path.join(work, name), state_dir="~/.local/state/checkup")
            _chromium_shot(paths[page], os.path.join(OUT, out), size, work)
        print("wrote fix-page.png, report-390.png")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def main() -> int:
    if "--pages" in sys.argv[1:]:
        return pages_only()
    from PIL import Image
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="checkup-shots-")
    d = Desktop(width=800, height=500).start()
    tray = None
    try:
        org = ('[organization]\nname = "ACME IT"\nhelp_url = "https://help.acme.example"\n'
               'help_text = "Stuck? Call the ACME help desk on 555-0100 or chat with us in #it-help."\n')
        policy = os.path.join(work, "policy.toml")
        with open(policy, "w") as fh:
            fh.write(org)
        tray = TrayProcess(d, work, os.path.join(FIXTURES, "mac-firewall-off.json"), backend="gtk",
                           browser="true %s", config_text="[notifications]\nenabled = false\n")
        tray.argv += ["--policy", policy]
        tray.start()
        wait_until(lambda: tray.icon_colour(os.path.join(work, "s.png")) == "red", 15)
        tray.click(3)
        time.sleep(0.8)
        shot = d.screenshot(os.path.join(work, "menu.png"))
        Image.open(shot).crop((0, 0, 300, 250)).save(os.path.join(OUT, "tray-menu.png"))
        d.run(["xdotool", "key", "Escape"])
        page = None
        for root, _, files in os.walk(work):
            if "firewall.html" in files:
                page = os.path.join(root, "firewall.html")
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if page and chromium:
            subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                            "--disable-background-networking", "--disable-component-update", "--disable-sync",
                            "--no-first-run", "--disable-quic", f"--user-data-dir={work}/profile",
                            "--hide-scrollbars", "--window-size=800,1100",
                            f"--screenshot={OUT}/fix-page.png", "file://" + page],
                           capture_output=True, timeout=60)
        print("wrote", ", ".join(sorted(os.listdir(OUT))))
    finally:
        if tray:
            tray.stop()
        d.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
