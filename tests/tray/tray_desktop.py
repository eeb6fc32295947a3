"""A throwaway desktop session for tray and notification tests.

Starts Xvfb, a private session dbus-daemon, dunst and trayer (each recorded by
PID and stopped by PID), and exposes the environment a child process needs.
Used by tests/tray/conftest.py and benchmarks/tray_bench.py.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time

BINARIES = {
    "Xvfb": "xvfb",
    "xdpyinfo": "x11-utils",
    "xwininfo": "x11-utils",
    "xdotool": "xdotool",
    "import": "imagemagick",
    "dbus-daemon": "dbus-daemon",
    "dunst": "dunst",
    "dunstctl": "dunst",
    "trayer": "trayer",
}


def missing_binaries(names=None) -> list[str]:
    names = names or BINARIES
    return [f"{n} (Debian package {BINARIES.get(n, n)})" for n in names if not shutil.which(n)]


def _wait(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:
            pass
        time.sleep(interval)
    raise RuntimeError(f"timed out waiting for {what}")


class Desktop:
    """Xvfb + session bus + dunst + trayer. ``start()`` / ``stop()``."""

    def __init__(self, display: int | None = None, width: int = 1024, height: int = 768,
                 with_dunst: bool = True, with_tray: bool = True):
        self.display_num = display if display is not None else self._free_display()
        self.display = f":{self.display_num}"
        self.size = (width, height)
        self.with_dunst = with_dunst
        self.with_tray = with_tray
        self.tmp = tempfile.mkdtemp(prefix="checkup-desktop-")
        self.procs: dict[str, subprocess.Popen] = {}
        self.bus_pid: int | None = None
        self.env = dict(os.environ)
        for k in ("DBUS_SESSION_BUS_ADDRESS", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE"):
            self.env.pop(k, None)
        self.env["DISPLAY"] = self.display
        self.env["NO_AT_BRIDGE"] = "1"          # no accessibility bus from GTK
        self.env["GSETTINGS_BACKEND"] = "memory"
        # A private HOME so dunst/GTK read no user config and write nothing outside.
        home = os.path.join(self.tmp, "home")
        os.makedirs(home)
        self.env["HOME"] = home
        self.env["XDG_RUNTIME_DIR"] = os.path.join(self.tmp, "run")
        os.makedirs(self.env["XDG_RUNTIME_DIR"], mode=0o700)
        for var, sub in (("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share"),
                         ("XDG_STATE_HOME", ".local/state"), ("XDG_CACHE_HOME", ".cache")):
            self.env[var] = os.path.join(home, sub)
            os.makedirs(self.env[var], exist_ok=True)

    @staticmethod
    def _free_display() -> int:
        for n in range(90, 200):
            if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"):
                return n
        raise RuntimeError("no free X display number")

    def _spawn(self, name: str, argv: list[str], **kw) -> subprocess.Popen:
        log = open(os.path.join(self.tmp, f"{name}.log"), "wb")
        proc = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, **kw)
        self.procs[name] = proc
        return proc

    def run(self, argv, **kw) -> subprocess.CompletedProcess:
        kw.setdefault("timeout", 20)
        return subprocess.run(argv, env=self.env, capture_output=True, text=True, **kw)

    def start(self) -> "Desktop":
        try:
            self._start()
        except Exception:
            self.stop()
            raise
        return self

    def _start(self):
        w, h = self.size
        self._spawn("xvfb", ["Xvfb", self.display, "-screen", "0", f"{w}x{h}x24", "-nolisten", "tcp"])
        _wait(lambda: self.run(["xdpyinfo"], timeout=5).returncode == 0, 15, "Xvfb")
        out = subprocess.run(["dbus-daemon", "--session", "--fork", "--print-address=1", "--print-pid=1"],
                             env=self.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL, check=True, timeout=15, text=True).stdout.split()
        self.env["DBUS_SESSION_BUS_ADDRESS"], self.bus_pid = out[0], int(out[1])
        if self.with_dunst:
            self._write_dunstrc()
            self._spawn("dunst", ["dunst", "-config", os.path.join(self.tmp, "dunstrc")])
            _wait(lambda: self.run(["dunstctl", "count"], timeout=5).returncode == 0, 15, "dunst")
        if self.with_tray:
            self._spawn("trayer", ["trayer", "--edge", "top", "--align", "left", "--widthtype", "pixel",
                                   "--width", "200", "--heighttype", "pixel", "--height", "40",
                                   "--SetDockType", "false", "--SetPartialStrut", "false",
                                   "--transparent", "false", "--tint", "0x303030"])
            _wait(self.tray_ready, 15, "trayer to own _NET_SYSTEM_TRAY_S0")

    def _write_dunstrc(self):
        with open(os.path.join(self.tmp, "dunstrc"), "w") as fh:
            fh.write("[global]\n    font = DejaVu Sans 10\n    origin = top-right\n"
                     "    offset = 10x50\n    width = 360\n    idle_threshold = 0\n"
                     "    sticky_history = yes\n    history_length = 50\n"
                     "    show_indicators = no\n")

    def tray_ready(self) -> bool:
        from Xlib import display as xdisplay
        d = xdisplay.Display(self.display)
        try:
            atom = d.intern_atom("_NET_SYSTEM_TRAY_S0")
            return d.get_selection_owner(atom) != 0
        finally:
            d.close()

    def stop(self):
        for name in reversed(list(self.procs)):
            proc = self.procs[name]
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        self.procs.clear()
        if self.bus_pid:
            try:
                os.kill(self.bus_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self.bus_pid = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- helpers for tests -------------------------------------------------

    def screenshot(self, path: str) -> str:
        r = self.run(["import", "-window", "root", path])
        if r.returncode != 0:
            raise RuntimeError(f"import failed: {r.stderr}")
        return path

    def tray_windows(self) -> list[dict]:
        """Windows embedded in trayer (children of its window), with geometry."""
        r = self.run(["xwininfo", "-root", "-tree"])
        return _parse_tree(r.stdout)

    def dunst_history(self) -> list[dict]:
        import json
        r = self.run(["dunstctl", "history"])
        data = json.loads(r.stdout or "{}")
        out = []
        for group in data.get("data", []):
            for n in group:
                out.append({k: v.get("data") if isinstance(v, dict) else v for k, v in n.items()})
        return out


def desktop_session():
    """A pytest fixture body: yields a started Desktop and stops it after, or skips the
    tests naming the missing Debian packages."""
    import pytest
    missing = missing_binaries()
    if missing:
        pytest.skip("desktop session tests need: " + ", ".join(missing))
    d = Desktop().start()
    try:
        yield d
    finally:
        d.stop()


def _parse_tree(text: str) -> list[dict]:
    import re
    wins = []
    for line in text.splitlines():
        m = re.match(r'^(\s*)(0x[0-9a-f]+) (\(has no name\)|"(.*?)"):? \((.*?)\)\s+(\d+)x(\d+)\+(-?\d+)\+(-?\d+)\s+\+(-?\d+)\+(-?\d+)', line)
        if not m:
            continue
        wins.append({"depth": len(m.group(1)), "id": m.group(2), "name": m.group(4),
                     "class": m.group(5), "w": int(m.group(6)), "h": int(m.group(7)),
                     "abs_x": int(m.group(10)), "abs_y": int(m.group(11))})
    return wins


# ---- the tray under test -------------------------------------------------------

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def have_gtk() -> bool:
    """PyGObject with GTK 3 importable (for pystray's gtk backend)?"""
    try:
        r = subprocess.run([__import__("sys").executable, "-c",
                            "import gi; gi.require_version('Gtk', '3.0')"], capture_output=True, timeout=20)
        return r.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class TrayProcess:
    """``checkup tray`` in its own process on the desktop, with its own user dirs."""

    def __init__(self, desktop: Desktop, workdir: str, replay: str, backend: str = "gtk",
                 browser: str | None = None, config_text: str | None = None, python: str | None = None):
        import sys
        self.desktop = desktop
        self.env = dict(desktop.env)
        for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_STATE_HOME", "state"),
                         ("XDG_DATA_HOME", "data"), ("XDG_CACHE_HOME", "cache")):
            self.env[var] = os.path.join(workdir, sub)
            os.makedirs(self.env[var], exist_ok=True)
        self.env["PYSTRAY_BACKEND"] = backend
        self.env["PYTHONPATH"] = REPO + os.pathsep + self.env.get("PYTHONPATH", "")
        if browser:
            self.env["BROWSER"] = browser
        self.config = os.path.join(workdir, "config.toml")
        with open(self.config, "w") as fh:
            fh.write(config_text if config_text is not None else
                     '[notifications]\nquiet_hours = ""\nquiet_days = []\n')
        self.argv = [python or sys.executable, "-m", "agent.cli", "tray", "--replay", replay,
                     "--config", self.config]
        self.log = os.path.join(workdir, "tray.log")
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0

    def start(self) -> "TrayProcess":
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=REPO, stdin=subprocess.DEVNULL,
                                     stdout=open(self.log, "wb"), stderr=subprocess.STDOUT)
        return self

    def output(self) -> str:
        try:
            return open(self.log, errors="replace").read()
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def icon_window(self) -> dict | None:
        """The embedded icon: a window inside trayer's bar, named by our tooltip, > 1 px."""
        for w in self.desktop.tray_windows():
            if (w["name"] or "").startswith("Checkup") and w["w"] > 1 and w["h"] > 1 \
                    and 0 <= w["abs_x"] < 200 and 0 <= w["abs_y"] < 40:
                return w
        return None

    def wait_icon(self, timeout: float = 10.0) -> dict:
        """Wait until the icon is embedded and its size has stopped changing."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            w = self.icon_window()
            if w and last and (w["w"], w["h"], w["abs_x"]) == (last["w"], last["h"], last["abs_x"]):
                return w
            last = w
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"tray exited: {self.output()}")
            time.sleep(0.05)
        raise RuntimeError(f"icon never appeared; log: {self.output()}")

    def icon_colour(self, shot_path: str) -> str:
        """'red', 'green', 'yellow', 'grey' or 'none': the dominant state colour in the icon."""
        from PIL import Image
        w = self.wait_icon()
        self.desktop.screenshot(shot_path)
        img = Image.open(shot_path).convert("RGB").crop(
            (w["abs_x"], w["abs_y"], w["abs_x"] + w["w"], w["abs_y"] + w["h"]))
        return classify(img)

    def click(self, button: int = 3):
        w = self.wait_icon()
        x, y = w["abs_x"] + w["w"] // 2, w["abs_y"] + w["h"] // 2
        self.desktop.run(["xdotool", "mousemove", str(x), str(y), "click", str(button)])

    def menu(self, downs: int):
        """Right-click the icon, move down ``downs`` items, press Return."""
        self.click(3)
        time.sleep(0.4)
        self.desktop.run(["xdotool", "key", *(["Down"] * downs), "Return"])


def classify(img) -> str:
    counts = {"red": 0, "green": 0, "yellow": 0, "grey": 0}
    data = img.get_flattened_data() if hasattr(img, "get_flattened_data") else img.getdata()
    for r, g, b in data:
        if r > 170 and g < 90 and b < 90:
            counts["red"] += 1
        elif g > 110 and r < 90 and b < 110:
            counts["green"] += 1
        elif r > 200 and 140 < g < 220 and b < 80:
            counts["yellow"] += 1
        elif abs(r - g) < 12 and abs(g - b) < 14 and 100 < r < 150:
            counts["grey"] += 1
    best = max(counts, key=counts.get)
    return best if counts[best] >= 20 else "none"


def wait_until(pred, timeout: float = 10.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    return pred()
