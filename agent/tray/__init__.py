"""`checkup tray`: the tray icon, its schedule, nudges and fix pages.

Entry point for the CLI: ``main(args) -> int`` where ``args`` is the argparse
Namespace of ``checkup tray`` (attributes ``replay``, ``policy``, ``config``;
missing ones count as None) or a list of command-line words
(``["--replay", "x.json"]``).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

log = logging.getLogger("checkup.tray")

LOCK_NAME = "tray.lock"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="checkup tray")
    p.add_argument("--replay", metavar="FILE")
    p.add_argument("--policy", metavar="FILE")
    p.add_argument("--config", metavar="FILE")
    p.add_argument("--show", action="store_true")
    return p.parse_args(argv)


class InstanceLock:
    """One tray per user: an exclusive lock on a file in the user state directory,
    released by the OS when the process ends (even if it crashes)."""

    def __init__(self, path: str):
        self.path = path
        self._fh = None

    def acquire(self) -> bool:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fh = open(self.path, "a+")
        try:
            if sys.platform == "win32":
                import msvcrt
                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return False
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh
        return True

    def release(self) -> None:
        if self._fh:
            self._fh.close()
            self._fh = None


def reporting_hook(settings: Any):
    """The scheduler's ``on_report``: agent.reporting's background Reporter when IT has
    configured a server, else None. Built on the first report, so nothing of
    reporting (requests, sqlite) is imported before the icon shows."""
    if not settings.get("server", "url"):
        return None
    holder: dict[str, Any] = {}

    def on_report(report: dict) -> None:
        if "reporter" not in holder:
            try:
                from ..reporting import Reporter
                holder["reporter"] = Reporter(settings)
            except Exception:  # noqa: BLE001 - no reporting must never stop the tray
                log.exception("reporting is not available")
                holder["reporter"] = None
        if holder["reporter"] is not None:
            holder["reporter"].submit(report)
    return on_report


def show_running(open_url: Any = None) -> int:
    """`checkup tray --show` while a tray runs: open the report page that tray keeps
    up to date (the person clicked "Checkup" in the applications menu)."""
    from .. import pages
    path = os.path.join(pages.pages_dir(), "report.html")
    if not os.path.isfile(path):
        # The running tray writes it when its first check ends (a few seconds after start).
        print("Checkup is already running: its icon is in the tray. "
              "The report appears there when the first check is done.")
        return 0
    if open_url is None:
        import webbrowser
        open_url = webbrowser.open
    if not open_url(pages.file_uri(path)):
        log.warning("no web browser could open %s", path)
        print(f"Checkup is already running. Its report is in {path}")
    return 0


def main(args: Any = None) -> int:
    if args is None:
        args = parse_args(sys.argv[1:])
    elif isinstance(args, (list, tuple)):
        args = parse_args(list(args))
    for name in ("replay", "policy", "config", "show"):
        if not hasattr(args, name):
            setattr(args, name, None)
    logging.basicConfig(level=os.environ.get("CHECKUP_LOG_LEVEL", "WARNING").upper(),
                        format="checkup tray: %(levelname)s %(message)s")

    from ..runtime import UsageError, load_policy_for, load_settings_for, make_host
    from ..config import user_state_dir

    settings = load_settings_for(args)
    policy = load_policy_for(args, settings)           # a bad policy is a usage error: exit 3
    if args.replay:
        make_host(args.replay)                          # a bad capture is a usage error too

    lock = InstanceLock(os.path.join(user_state_dir(), LOCK_NAME))
    if not lock.acquire():
        log.info("another checkup tray is running; exiting")
        if args.show:
            return show_running()
        return 0

    # A tray icon needs no OpenGL, but GDK probes GLX at start-up and maps Mesa
    # (libLLVM alone is ~43 MB RSS). Disable that for our GTK only: the variable is
    # removed again once GTK is initialised, so browsers and settings apps we start
    # do not inherit it.
    added_gdk_gl = "GDK_GL" not in os.environ
    if added_gdk_gl:
        os.environ["GDK_GL"] = "disable"
    try:
        import pystray  # noqa: F401 - fails without a desktop session
    except Exception as exc:  # noqa: BLE001 - Xlib raises its own errors when DISPLAY is unset
        lock.release()
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise UsageError("checkup tray needs a desktop session: no display was found here "
                             "(run it from your desktop, or use 'checkup' in a terminal)") from None
        raise UsageError(f"checkup tray could not start its icon ({type(exc).__name__}: {exc})") from None
    finally:
        if added_gdk_gl:
            os.environ.pop("GDK_GL", None)

    from .app import TrayApp

    holder: dict[str, Any] = {"policy": policy}

    def run_check() -> dict:
        try:  # IT may change the policy while we run; a broken edit keeps the last good one
            holder["policy"] = load_policy_for(args, settings)
            if app is not None:
                app.org = holder["policy"].organization
        except Exception as exc:  # noqa: BLE001
            log.warning("policy not reloaded: %s", exc)
        from ..pipeline import run_check as pipeline_run_check   # after the icon shows
        host = make_host(args.replay)                   # re-read the capture on every check
        from ..runtime import finish_report
        return finish_report(pipeline_run_check(host, holder["policy"]), settings, holder["policy"],
                             remember=not args.replay)

    app = None
    app = TrayApp(run_check, settings=settings, org=policy.organization, replay=bool(args.replay),
                  on_report=reporting_hook(settings))
    try:
        return app.run()
    finally:
        lock.release()
