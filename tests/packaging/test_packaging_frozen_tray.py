"""The frozen Linux build's tray (issue 15.5 and 15.6), on a real desktop: Xvfb, a private
session bus, dunst, trayer, and a StatusNotifierWatcher (sni_watcher.py: what GNOME's
AppIndicator extension and KDE's panel provide).

* the build ships PyGObject, GTK 3 and libayatana-appindicator: its tray registers an
  AppIndicator item and exports its menu over com.canonical.dbusmenu, with the expected
  items; choosing one there (a dbusmenu "clicked" event, what the panel sends) works;
* the "Checkup" launcher's command (`checkup tray --show`) while that tray runs opens its
  report and registers no second icon; after Quit the same command starts the tray again;
* without a StatusNotifier host the same build falls back to an XEmbed icon (trayer) whose
  right-click menu works.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "tray"))
from tray_desktop import FIXTURES, desktop_session, wait_until  # noqa: E402

gi = pytest.importorskip("gi", reason="talking D-Bus to the tray needs PyGObject in the test Python")
from gi.repository import Gio, GLib  # noqa: E402


@pytest.fixture(scope="module")
def desktop():
    yield from desktop_session()


@pytest.fixture
def frozen(built_binary):
    exe = built_binary / "checkup" / "checkup"
    if not (built_binary / "checkup" / "_internal" / "gi_typelibs" / "AyatanaAppIndicator3-0.1.typelib").is_file():
        pytest.fail("the Linux build has no AppIndicator menu backend (packaging/build binary must refuse that)")
    return exe


class Session:
    """One person's session: their own XDG folders, a recording BROWSER, and the frozen tray."""

    def __init__(self, desktop, tmp_path: Path, exe: Path):
        self.exe = exe
        self.env = dict(desktop.env)
        self.env.pop("PYSTRAY_BACKEND", None)                # the build picks its own backend
        self.env.pop("PYTHONPATH", None)
        for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_STATE_HOME", "state"),
                         ("XDG_DATA_HOME", "data"), ("XDG_CACHE_HOME", "cache")):
            self.env[var] = str(tmp_path / sub)
            (tmp_path / sub).mkdir(exist_ok=True)
        (tmp_path / "config" / "Checkup").mkdir(exist_ok=True)
        (tmp_path / "config" / "Checkup" / "config.toml").write_text(
            '[notifications]\nquiet_hours = ""\nquiet_days = []\n')
        self.opened = tmp_path / "opened.txt"
        browser = tmp_path / "browser.sh"
        browser.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{self.opened}"\n')
        browser.chmod(0o755)
        self.env["BROWSER"] = f"{browser} %s"
        self.capture = tmp_path / "capture.json"
        shutil.copy(os.path.join(FIXTURES, "mac-firewall-off.json"), self.capture)
        self.tmp = tmp_path
        self.trays: list[subprocess.Popen] = []

    def start_tray(self, *args) -> subprocess.Popen:
        log = open(self.tmp / f"tray{len(self.trays)}.log", "wb")
        proc = subprocess.Popen([str(self.exe), "tray", *args], env=self.env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT)
        self.trays.append(proc)
        return proc

    def launcher(self) -> subprocess.CompletedProcess:
        """What the applications menu's "Checkup" runs (Exec= of checkup-launcher.desktop)."""
        return subprocess.run([str(self.exe), "tray", "--show", "--replay", str(self.capture)],
                              env=self.env, capture_output=True, text=True, timeout=60)

    def urls(self) -> list[str]:
        return self.opened.read_text().split() if self.opened.exists() else []

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.tmp.glob("tray*.log")))

    def stop(self):
        for proc in self.trays:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)


class Watcher:
    """sni_watcher.py on the desktop's bus; ``items`` are the registrations it has seen."""

    def __init__(self, desktop, tmp_path: Path):
        self.log = tmp_path / "watcher.log"
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("sni_watcher.py"))],
                                     env=desktop.env, stdout=open(self.log, "wb"), stderr=subprocess.STDOUT)
        assert wait_until(lambda: "ready" in self.text(), 15), self.text()

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def items(self) -> list[tuple[str, str]]:
        """Distinct (bus name, path) items, in order (an item may register more than once)."""
        seen = [tuple(line.split()[1:3]) for line in self.text().splitlines() if line.startswith("registered ")]
        return list(dict.fromkeys(seen))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def bus(desktop) -> Gio.DBusConnection:
    flags = Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION
    return Gio.DBusConnection.new_for_address_sync(desktop.env["DBUS_SESSION_BUS_ADDRESS"], flags, None, None)


def call(conn, name, path, iface, method, args=None, reply=None):
    return conn.call_sync(name, path, iface, method, args, GLib.VariantType(reply) if reply else None,
                          Gio.DBusCallFlags.NONE, 5000, None).unpack()


class Menu:
    """The item's menu as a panel reads it: com.canonical.dbusmenu at the item's Menu path."""

    def __init__(self, conn, name, item_path):
        self.conn, self.name = conn, name
        (menu_path,) = call(conn, name, item_path, "org.freedesktop.DBus.Properties", "Get",
                            GLib.Variant("(ss)", ("org.kde.StatusNotifierItem", "Menu")), "(v)")
        self.path = menu_path

    def items(self) -> dict[str, int]:
        """Top-level labels (without GTK's _ mnemonics) -> dbusmenu item id."""
        _, (_, _, children) = call(self.conn, self.name, self.path, "com.canonical.dbusmenu", "GetLayout",
                                   GLib.Variant("(iias)", (0, 1, [])), "(u(ia{sv}av))")
        out = {}
        for child in children:
            item_id, props, _ = child
            if props.get("visible", True) and props.get("label"):
                out[props["label"].replace("_", "")] = item_id
        return out

    def click(self, label: str):
        item_id = self.items()[label]
        call(self.conn, self.name, self.path, "com.canonical.dbusmenu", "Event",
             GLib.Variant("(isvu)", (item_id, "clicked", GLib.Variant("s", ""), 0)))


def test_frozen_tray_exports_its_menu_and_the_launcher_never_starts_a_second_one(desktop, frozen, tmp_path):
    watcher = Watcher(desktop, tmp_path)
    session = Session(desktop, tmp_path, frozen)
    try:
        tray = session.start_tray("--replay", str(session.capture))
        assert wait_until(watcher.items, 30), session.logs() + watcher.text()
        (name, path), = watcher.items()
        menu = Menu(bus(desktop), name, path)
        labels = wait_until(lambda: "✕ Firewall" in menu.items() and menu.items(), 30)
        assert labels, (menu.items(), session.logs())
        # every check judged in the frozen build too (a judge.py lives in the archive, not a file)
        assert "raised" not in session.logs() and "? Password manager" not in labels, session.logs()
        assert {"Required", "✕ Firewall", "Check now", "Open report", "About & privacy", "Quit"} <= set(labels)
        assert list(labels)[-1] == "Quit"

        menu.click("Open report")                          # what the panel sends on a click
        assert wait_until(lambda: any(u.endswith("/pages/report.html") for u in session.urls()), 10), \
            session.logs()

        # The "Checkup" launcher while this tray runs: its report opens, no second icon.
        before = len(session.urls())
        shown = session.launcher()
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert wait_until(lambda: len(session.urls()) == before + 1, 10), session.logs()
        assert session.urls()[-1].endswith("/pages/report.html")
        time.sleep(1)
        assert len(watcher.items()) == 1 and tray.poll() is None

        # Quit, then the launcher starts the tray again: a new icon with the same menu.
        menu.click("Quit")
        assert tray.wait(20) == 0, session.logs()
        relaunched = subprocess.Popen([str(frozen), "tray", "--show", "--replay", str(session.capture)],
                                      env=session.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        session.trays.append(relaunched)
        assert wait_until(lambda: len(watcher.items()) == 2, 30), session.logs() + watcher.text()
        name2, path2 = watcher.items()[1]
        assert name2 != name
        assert wait_until(lambda: "Check now" in Menu(bus(desktop), name2, path2).items(), 30)
        assert relaunched.poll() is None
    finally:
        session.stop()
        watcher.stop()


def test_frozen_tray_without_a_status_notifier_host_has_an_xembed_icon_with_a_menu(desktop, frozen, tmp_path):
    session = Session(desktop, tmp_path, frozen)
    try:
        session.start_tray("--replay", str(session.capture))

        def icon():
            for w in desktop.tray_windows():
                if w["w"] > 1 and w["h"] > 1 and 0 <= w["abs_x"] < 200 and 0 <= w["abs_y"] < 40 \
                        and w["depth"] > 0 and (w["name"] or "").startswith("Checkup"):
                    return w
            return None
        w = wait_until(icon, 30)
        assert w, session.logs()
        wait_until(lambda: (icon() or {}).get("name", "").startswith("Checkup: 1 thing"), 20)
        # Right-click, first item ("✕ Firewall"): its fix page opens.
        x, y = w["abs_x"] + w["w"] // 2, w["abs_y"] + w["h"] // 2
        desktop.run(["xdotool", "mousemove", str(x), str(y), "click", "3"])
        time.sleep(0.6)
        desktop.run(["xdotool", "key", "Down", "Return"])
        assert wait_until(lambda: any(u.endswith("/pages/firewall.html") for u in session.urls()), 10), \
            (session.urls(), session.logs())
    finally:
        session.stop()
