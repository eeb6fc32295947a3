"""The tray app: icon + menu (pystray), checks (Scheduler), nudges, pages.

Threads: pystray's UI loop (main thread); the scheduler thread runs checks and
then updates the icon, pages, state and notifications; the notifier's listener
thread handles notification clicks. Nothing the UI thread runs waits on a probe.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
import webbrowser
from datetime import datetime
from typing import Any, Callable

from .. import nudge, pages
from ..state import load_state, save_state, state_path
from ..strings import t, tooltip_words
from .icons import draw_icon
from .scheduler import Scheduler

log = logging.getLogger(__name__)

RECHECK_AFTER_S = 180.0     # after a fix page was opened, check again in 3 minutes
PAGE_REFRESH_S = 20         # the fix pages reload themselves this often while that is due


def tooltip_for(report: dict | None, checking: bool = False) -> str:
    return tooltip_words(report, checking)


def icon_state(report: dict | None, checking: bool) -> str:
    if report is None:
        return "checking" if checking else "unknown"
    status = report.get("status")
    return status if status in ("pass", "nudge", "fail") else "unknown"


def menu_groups(report: dict | None) -> list[tuple[str, list[dict]]]:
    """[("fail", [...]), ("nudge", [...]), ("unknown", [...]), ("exempt", [...])], empty groups
    left out (an exempt check is listed, with its end date, but never nags)."""
    checks = (report or {}).get("checks") or []
    return [(status, group) for status in ("fail", "nudge", "unknown", "exempt")
            if (group := [c for c in checks if c.get("status") == status])]


def unknown_report(error: BaseException | None) -> dict:
    return {"status": "unknown", "checks": [], "device": {}, "checked_at": None,
            "error": f"{type(error).__name__}: {error}" if error else None}


class TrayApp:
    def __init__(self, run_check: Callable[[], dict], settings: Any = None, org: dict | None = None,
                 replay: bool = False, pages_dir: str | None = None, state_file: str | None = None,
                 open_url: Callable[[str], Any] | None = None, notifier: Any = "auto",
                 on_report: Callable[[dict], Any] | None = None, now: Callable[[], datetime] | None = None):
        self.settings = settings
        self.org = org or {}
        self.replay = replay
        self.rules = nudge.Rules.from_settings(settings)
        for problem in self.rules.problems:
            log.warning("%s", problem)
        self.pages_dir = pages_dir or pages.pages_dir()
        self.state_file = state_file or state_path()
        self.open_url = open_url or (lambda url: webbrowser.open(url))
        self._notifier_choice = notifier
        self.notifier = None
        self.now = now or (lambda: datetime.now().astimezone())
        self.report: dict | None = None
        self.page_paths: dict[str, str] = {}
        self.state = load_state(self.state_file)
        self.checking = False
        self.icon = None
        self._lock = threading.Lock()
        interval = 60
        if settings is not None:
            v = settings.get("agent", "interval_minutes")
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0:
                interval = v
        self.scheduler = Scheduler(run_check, self._on_result, interval_s=interval * 60.0,
                                   on_report=on_report, on_start=self._on_check_start)
        self.server_url = settings.get("server", "url") if settings is not None else None
        self.reporting_on = bool(str(self.server_url or "").strip())
        self.devices_message: str | None = None   # what "See all my devices" last said
        # "I fixed it — check again": the loopback link (see recheck.py), a re-check a few
        # minutes after a fix page was opened, and the pages reloading until it is done.
        self.recheck_server = None
        self.recheck_after_s = RECHECK_AFTER_S
        self.page_refresh_s = PAGE_REFRESH_S
        self.recheck_due = False        # a re-check is planned or asked for
        self.rechecked_at: str | None = None   # "10:47": the last check was one of those
        self.checks_done = 0
        self._seq = threading.Condition()

    # -- pystray ------------------------------------------------------------------------
    def build_icon(self):
        import pystray
        item, menu = pystray.MenuItem, pystray.Menu
        self._pystray = pystray
        self._latin1_titles = pystray.Icon.__module__.endswith("_xorg")   # WM_NAME is a STRING there
        icon = pystray.Icon("checkup", draw_icon("checking"), self._title(t("tooltip.checking")),
                            menu=menu(lambda: self.menu_items(item, menu)))
        _enable_xorg_clicks(icon)
        self.icon = icon
        return icon

    def menu_items(self, item, menu) -> list:
        """The menu, rebuilt from the latest report each time pystray asks: the state in
        words and when it was checked, then what is required (✕), suggested (!) and could
        not be checked (?), each under its heading. "Open report" is the default item:
        a left click where the platform has one, the menu's first choice where not."""
        report = self.report
        items = []
        if self.checking and report is None:
            status_line = t("device.checking")
        elif report is None:
            status_line = t("device.unknown")
        else:
            status_line = pages.device_words(report)
        items.append(item(status_line, None, enabled=False))
        when = self.last_checked_words(report)
        if when:
            items.append(item(when, None, enabled=False))
        groups = menu_groups(report)
        for status, checks in groups:
            items.append(menu.SEPARATOR)
            items.append(item(t(f"menu.group_{status}"), None, enabled=False))
            for check in checks:
                items.append(item(t(f"menu.item_{status}", title=check.get("title") or check.get("id"),
                                    summary=check.get("summary") or ""),
                                  self._opener(check.get("id"))))
        items.append(menu.SEPARATOR)
        items.append(item(t("menu.checking") if self.checking else t("menu.check_now"),
                          lambda: self.check_now(), enabled=not self.checking))
        items.append(item(t("menu.open_report"), lambda: self.open_page("report"), default=True))
        if nudge.snoozable(self.state, self.rules):
            items.append(item(t("menu.snooze"), menu(
                item(t("menu.snooze_hour"), lambda: self.snooze("hour")),
                item(t("menu.snooze_tomorrow"), lambda: self.snooze("tomorrow")))))
        if self.reporting_on:
            items.append(item(t("menu.my_devices"), lambda: self.see_my_devices()))
        items.append(item(t("menu.about"), lambda: self.open_page("about")))
        items.append(item(t("menu.quit"), lambda: self.quit()))
        return items

    def last_checked_words(self, report: dict | None) -> str | None:
        """"Last checked 10:42" (today) or "Last checked 26 Nov, 10:42"; None before any check."""
        at = (report or {}).get("checked_at")
        if not isinstance(at, str) or not at:
            return None
        try:
            when = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            return t("menu.last_checked", when=at)
        now = self.now()
        if when.tzinfo is None:
            when = when.replace(tzinfo=now.tzinfo)
        when = when.astimezone(now.tzinfo)
        words = when.strftime("%H:%M") if when.date() == now.date() else \
            f"{when.day} {when.strftime('%b')}, {when.strftime('%H:%M')}"
        return t("menu.last_checked", when=words)

    def _opener(self, check_id):
        return lambda: self.open_fix(check_id)

    # -- actions (called from the UI thread or the notifier thread) ---------------------
    def check_now(self) -> None:
        self.scheduler.check_now()

    def see_my_devices(self, wait: bool = False) -> None:
        """Menu "See all my devices": ask IT's server for the claim link (off the UI
        thread) and open it in the browser; if there is none, say why."""
        worker = threading.Thread(target=self._see_my_devices, name="checkup-devices", daemon=True)
        worker.start()
        if wait:
            worker.join(60)

    def _see_my_devices(self) -> None:
        try:
            from ..reporting import claim_link
            _code, message, url = claim_link(self.settings)
        except Exception as exc:  # noqa: BLE001 - never a dead menu item
            log.exception("See all my devices failed")
            _code, message, url = 3, f"Something went wrong ({type(exc).__name__}).", None
        self.devices_message = message
        if url:
            try:
                self.open_url(url)
                return
            except Exception:  # noqa: BLE001
                log.exception("could not open the browser")
                message = "No web browser could be opened. " + message
                self.devices_message = message
        log.warning("See all my devices: %s", message)
        if self.notifier is not None:
            note = nudge.Notification(title=t("devices.not_opened"), body=message, problems=[],
                                      fixed=[], target=None, snoozable=[])
            try:
                path = self.page_paths.get("about") or self.page_paths.get("report")
                self.notifier.send(note, pages.file_uri(path) if path else "", None)
            except Exception:  # noqa: BLE001
                log.exception("notification failed")

    def open_page(self, key: str) -> None:
        path = self.page_paths.get(key)
        if not path:
            # No check has finished yet: write what we know (about / an empty report).
            self._write_pages(self.report or unknown_report(None))
            path = self.page_paths.get(key) or self.page_paths.get("report")
        if path:
            threading.Thread(target=self.open_url, args=(pages.file_uri(path),), daemon=True).start()

    def open_fix(self, check_id: str | None) -> None:
        """Open the fix page and, on the same machine, the settings pane itself."""
        if check_id is None or check_id not in self.page_paths:
            self.open_page("report")
            return
        self.plan_recheck()
        self.open_page(check_id)
        check = next((c for c in (self.report or {}).get("checks", []) if c.get("id") == check_id), None)
        if check and not self.replay:
            threading.Thread(target=open_settings, args=(check.get("fix") or {},), daemon=True).start()

    def plan_recheck(self) -> None:
        """A fix page is being opened: check again in a few minutes, and until then the
        pages reload themselves, so the one in front of the person shows the result."""
        self.recheck_due = True
        if self.report is not None:
            self._write_pages(self.report)
        self.scheduler.check_in(self.recheck_after_s)

    def ask_recheck(self, key: str) -> int:
        """The "I fixed it — check again" link was followed: check now. Returns how
        many checks had finished before, which the waiting page compares against."""
        with self._seq:
            seq = self.checks_done
        self.recheck_due = True
        self.scheduler.check_now()
        return seq

    def recheck_result(self, key: str, seq: int) -> tuple[bool, str]:
        """(done, words) for the waiting page: waits a little for a check after ``seq``."""
        with self._seq:
            self._seq.wait_for(lambda: self.checks_done > seq, timeout=1.5)
            if self.checks_done <= seq or self.report is None:
                return False, ""
            report, at = self.report, self.rechecked_at or self.now().strftime("%H:%M")
        if key == "report":
            words = t("again.report_pass") if report.get("status") == "pass" else t("again.report_still")
        else:
            check = next((c for c in report.get("checks") or [] if c.get("id") == key), None)
            status, title = (check or {}).get("status"), (check or {}).get("title") or key
            words = t("again.check_fixed", title=title) if status in ("pass", "skip") else \
                t("again.check_still", title=title) if status in ("fail", "nudge") else \
                t("again.check_unknown", title=title)
        return True, t("again.checked_at", when=at, words=words)

    def start_recheck_server(self) -> None:
        from .recheck import RecheckServer
        try:
            self.recheck_server = RecheckServer(self.ask_recheck, self.recheck_result).start()
        except OSError:
            log.exception("the check-again link is not available")
            self.recheck_server = None

    def _again(self) -> dict:
        return {"url": self.recheck_server.url if self.recheck_server else None,
                "refresh_s": self.page_refresh_s if self.recheck_due else None,
                "at": self.rechecked_at}

    def snooze(self, how: str, check_ids: list[str] | None = None) -> list[str]:
        now = self.now()
        until = nudge.snooze_hour(now) if how == "hour" else nudge.snooze_tomorrow(now, self.rules)
        with self._lock:
            ids = check_ids if check_ids is not None else nudge.current_problems(self.state)
            self.state, done = nudge.snooze(self.state, ids, until, self.rules)
            self._save_state()
        self._refresh_menu()
        return done

    def on_notification_action(self, note: nudge.Notification, key: str) -> None:
        if key == "snooze":
            self.snooze("tomorrow", note.snoozable)
        elif note.problems:
            self.open_fix(note.target)
        else:
            self.open_page("report")

    def quit(self) -> None:
        self.scheduler.stop(timeout=0)
        if self.recheck_server:
            self.recheck_server.close()
        if self.notifier:
            self.notifier.close()
        if self.icon:
            self.icon.stop()

    # -- results (scheduler thread) -------------------------------------------------------
    def _on_check_start(self) -> None:
        self.checking = True
        if self.report is None:
            self._set_icon("checking", t("tooltip.checking"))
        self._refresh_menu()

    def _on_result(self, report: dict | None, error: BaseException | None) -> None:
        self.checking = False
        if report is None:
            report = unknown_report(error)
        with self._seq:
            self.rechecked_at = self.now().strftime("%H:%M") if self.recheck_due else None
            self.recheck_due = False
            self.report = report
        self._write_pages(report)
        with self._seq:                 # the pages are written: a waiting "check again" may say so
            self.checks_done += 1
            self._seq.notify_all()
        note = None
        with self._lock:
            try:
                self.state, note = nudge.evaluate(self.state, report, self.now(), self.rules)
            except Exception:  # noqa: BLE001 - a nudge bug must not stop the icon
                log.exception("nudge rules failed")
            self.state["last_report"] = {"status": report.get("status"), "checked_at": report.get("checked_at")}
            self._save_state()
        self._set_icon(icon_state(report, False), tooltip_for(report))
        self._refresh_menu()
        if note is not None:
            self._notify(note)

    def _write_pages(self, report: dict) -> None:
        try:
            state_dir = os.path.dirname(self.state_file)
            self.page_paths = pages.write_pages(report, self.org, self.pages_dir,
                                                server_url=self.server_url or None, state_dir=state_dir,
                                                again=self._again())
        except OSError:
            log.exception("could not write the fix pages")

    def _save_state(self) -> None:
        try:
            save_state(self.state, self.state_file)
        except OSError:
            log.exception("could not save state")

    def _notify(self, note: nudge.Notification) -> None:
        if self.notifier is None:
            return
        target = note.target if note.target in self.page_paths else "report"
        uri = pages.file_uri(self.page_paths.get(target) or self.page_paths.get("report", ""))
        settings_uri = None
        if note.target:
            check = next((c for c in self.report.get("checks", []) if c.get("id") == note.target), {})
            settings_uri = (check.get("fix") or {}).get("link")
        try:
            self.notifier.send(note, uri, settings_uri)
        except Exception:  # noqa: BLE001
            log.exception("notification failed")

    def _set_icon(self, state: str, tooltip: str) -> None:
        if self.icon is None:
            return
        try:
            self.icon.icon = draw_icon(state)
            self.icon.title = self._title(tooltip)
        except Exception:  # noqa: BLE001
            log.exception("icon update failed")

    def _title(self, text: str) -> str:
        if not getattr(self, "_latin1_titles", False):
            return text
        text = text.replace("\u2026", "...").replace("\u2014", "-").replace("\u2019", "'")
        return text.encode("latin-1", "replace").decode("latin-1")

    def _refresh_menu(self) -> None:
        if self.icon is not None:
            try:
                self.icon.update_menu()
            except Exception:  # noqa: BLE001
                log.debug("menu update failed", exc_info=True)

    # -- run ------------------------------------------------------------------------------------
    def _setup(self, icon) -> None:
        icon.visible = True
        if self._notifier_choice == "auto":
            from ..notify import choose_notifier
            self.notifier = choose_notifier(on_action=self.on_notification_action,
                                            icons=self.notification_icons())
        else:
            self.notifier = self._notifier_choice
        self.start_recheck_server()
        self.scheduler.start()

    def notification_icons(self) -> dict[str, str]:
        """One PNG per state (checkup-fail.png, ...), so each notification shows the icon
        of what it says: a thank-you is the green check, not the stop sign."""
        icons: dict[str, str] = {}
        try:
            os.makedirs(self.pages_dir, exist_ok=True)
            for state in ("pass", "nudge", "fail", "unknown"):
                path = os.path.join(self.pages_dir, f"checkup-{state}.png")
                draw_icon(state, 64).save(path)
                icons[state] = path
        except OSError:
            log.exception("could not write the notification icons")
        return icons

    def run(self) -> int:
        icon = self.build_icon()
        icon.run(setup=self._setup)
        self.scheduler.stop(timeout=1)
        return 0


def open_settings(fix: dict) -> bool:
    """Open the settings pane named by a fix: ``open`` (argv list, or a URI) or ``link``."""
    target = fix.get("open") or fix.get("link")
    try:
        if isinstance(target, list) and target and all(isinstance(a, str) for a in target):
            prog = (target[0] if os.path.exists(target[0]) else None) if os.path.isabs(target[0]) \
                else shutil.which(target[0])
            if not prog:
                return False
            subprocess.Popen([prog, *target[1:]], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
            return True
        if isinstance(target, str) and target:
            if sys.platform == "darwin":
                subprocess.Popen(["/usr/bin/open", target], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                return True
            if sys.platform == "win32":
                os.startfile(target)  # type: ignore[attr-defined]
                return True
    except OSError:
        log.warning("could not open the settings for %s", target)
    return False


def _enable_xorg_clicks(icon) -> None:
    """pystray 0.19's xorg backend never asks X for ButtonPress (moses-palmer/pystray#151),
    so a left click (which opens the report) would never arrive."""
    if type(icon).__module__.rsplit(".", 1)[-1] != "_xorg":
        return
    try:
        import Xlib.X
        icon._window.change_attributes(event_mask=Xlib.X.ExposureMask | Xlib.X.StructureNotifyMask
                                       | Xlib.X.ButtonPressMask)
        icon._display.flush()
    except Exception:  # noqa: BLE001 - a newer pystray may have fixed or renamed this
        log.debug("could not enable clicks on the xorg icon", exc_info=True)
