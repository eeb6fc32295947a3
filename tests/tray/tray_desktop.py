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
