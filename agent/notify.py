"""Show a nudge, and catch the click where the platform lets us.

* Linux: org.freedesktop.Notifications over the session D-Bus (jeepney), with a
  ``default`` action (a click on the bubble) plus "Show me how" and "Remind me
  tomorrow"; ``ActionInvoked`` calls back into the tray, which opens the page.
* Windows: a toast whose activation is a protocol launch of the fix page
  (``toast_xml`` makes it; shown through PowerShell's WinRT bridge).
* macOS: ``osascript`` ``display notification``. A click there cannot be caught,
  so the text names the Checkup menu in the menu bar.
* Anything else: plyer, with the same "open the tray menu" text.

``on_action(note, key)`` is called off the UI thread with key ``"default"``,
``"open"``, ``"snooze"``.
"""
from __future__ import annotations

import html
import logging
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from typing import Callable

from .nudge import Notification
from .strings import t

log = logging.getLogger(__name__)

Action = Callable[[Notification, str], None]

# PowerShell's own AppUserModelID: a toast needs a registered AUMID, and this one
# exists on every Windows 10/11. The installer may register "Checkup" instead.
WINDOWS_POWERSHELL_AUMID = r"{1AC14E77-02E7-4E5D-B744-2EB1AE5198B7}\WindowsPowerShell\v1.0\powershell.exe"


class NotAvailable(Exception):
    pass


def icon_state(note: Notification) -> str:
    """The tray state whose icon a notification shows: what it says, not the worst case.
    A required problem is the red stop sign, only suggested ones the amber "!", a
    thank-you the green check, anything else (e.g. "can't open your devices") grey."""
    if note.problems:
        return "fail" if any(p.get("status") == "fail" for p in note.problems) else "nudge"
    return "pass" if note.fixed else "unknown"


class Notifier:
    clickable = False
    name = "none"

    def send(self, note: Notification, page_uri: str, settings_uri: str | None = None) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def body_for(self, note: Notification) -> str:
        if not note.problems:
            return note.body
        return note.body + "\n" + (t("notify.click_hint") if self.clickable else self.menu_hint())

    def menu_hint(self) -> str:
        return t("notify.menu_hint") if sys.platform == "darwin" else t("notify.menu_hint_tray")


# ---------------------------------------------------------------- Linux, D-Bus

NOTIFY_PATH = "/org/freedesktop/Notifications"
NOTIFY_NAME = "org.freedesktop.Notifications"


class DBusNotifier(Notifier):
    """Freedesktop notifications with actions, via jeepney's threaded router."""

    name = "dbus"

    def __init__(self, on_action: Action | None = None, app_icon: str = "", timeout: float = 5.0,
                 icons: dict[str, str] | None = None):
        try:
            from jeepney import DBusAddress, MatchRule, new_method_call  # noqa: F401
            from jeepney.bus_messages import message_bus
            from jeepney.io.threading import DBusRouter, Proxy, open_dbus_connection
        except ImportError as exc:
            raise NotAvailable(f"jeepney is not installed ({exc})") from None
        if not os.environ.get("DBUS_SESSION_BUS_ADDRESS") and not os.path.exists(
                f"/run/user/{os.getuid()}/bus"):
            raise NotAvailable("no session bus")
        self._timeout = timeout
        self.on_action = on_action
        self.app_icon = app_icon
        self.icons = dict(icons or {})          # icon_state -> PNG path
        try:
            self._conn = open_dbus_connection(bus="SESSION")
        except Exception as exc:  # noqa: BLE001 - no bus = no D-Bus notifications
            raise NotAvailable(f"cannot reach the session bus ({exc})") from None
        self._router = DBusRouter(self._conn)
        self._addr = DBusAddress(NOTIFY_PATH, bus_name=NOTIFY_NAME, interface=NOTIFY_NAME)
        self._lock = threading.Lock()
        self._sent: dict[int, Notification] = {}
        self._last_id = 0
        try:
            caps = self._call("GetCapabilities", "", ())[0]
        except Exception as exc:  # noqa: BLE001
            self._router.close()
            self._conn.close()
            raise NotAvailable(f"no notification server on the session bus ({exc})") from None
        self.capabilities = set(caps)
        self.clickable = "actions" in self.capabilities
        self._events: queue.Queue = queue.Queue(maxsize=100)
        bus = Proxy(message_bus, self._router, timeout=timeout)
        for member in ("ActionInvoked", "NotificationClosed"):
            rule = MatchRule(type="signal", interface=NOTIFY_NAME, member=member, path=NOTIFY_PATH)
            bus.AddMatch(rule)
            self._router.filter(rule, queue=self._events)
        self._listener = threading.Thread(target=self._listen, name="checkup-notify", daemon=True)
        self._listener.start()

    def _call(self, method: str, signature: str, body: tuple):
        from jeepney import new_method_call
        from jeepney.wrappers import unwrap_msg
        msg = new_method_call(self._addr, method, signature, body)
        return unwrap_msg(self._router.send_and_get_reply(msg, timeout=self._timeout))

    def send(self, note: Notification, page_uri: str, settings_uri: str | None = None) -> bool:
        body = self.body_for(note)
        if "body-markup" in self.capabilities:
            body = html.escape(body, quote=False)
        actions: list[str] = []
        if self.clickable and note.problems:
            actions = ["default", t("notify.action_open"), "open", t("notify.action_open")]
            if note.snoozable:
                actions += ["snooze", t("notify.action_snooze")]
        elif self.clickable:
            actions = ["default", t("notify.action_open")]
        hints = {"urgency": ("y", 1), "desktop-entry": ("s", "checkup"),
                 "category": ("s", "device")}
        with self._lock:
            replaces = self._last_id if self._last_id in self._sent else 0
            try:
                (nid,) = self._call("Notify", "susssasa{sv}i",
                                    (t("app_name"), replaces, self.icon_for(note), note.title, body,
                                     actions, hints, -1))
            except Exception as exc:  # noqa: BLE001
                log.warning("notification not shown: %s", exc)
                return False
            self._sent.pop(replaces, None)
            self._sent[nid] = note
            self._last_id = nid
        return True

    def icon_for(self, note: Notification) -> str:
        return self.icons.get(icon_state(note)) or self.app_icon

    def _listen(self) -> None:
        while True:
            msg = self._events.get()
            if msg is None:
                return
            member = msg.header.fields.get(3)  # HeaderFields.member
            try:
                if member == "ActionInvoked":
                    nid, key = msg.body
                    with self._lock:
                        note = self._sent.get(nid)
                    if note is not None and self.on_action:
                        self.on_action(note, key)
                elif member == "NotificationClosed":
                    nid = msg.body[0]
                    with self._lock:
                        if nid != self._last_id:
                            self._sent.pop(nid, None)
            except Exception:  # noqa: BLE001 - a bad signal must not end the listener
                log.exception("notification action failed")

    def close(self) -> None:
        try:
            self._events.put_nowait(None)
            self._router.close()
            self._conn.close()
        except Exception:  # noqa: BLE001
            pass


# ---------------------------------------------------------------- Windows toast

def xml_escape(text: str) -> str:
    return html.escape(text, quote=False)


def quoteattr(text: str) -> str:
    """A double-quoted XML attribute value (html.escape's entities are valid XML)."""
    return '"' + html.escape(text, quote=True) + '"'


def toast_xml(note: Notification, page_uri: str, settings_uri: str | None = None) -> str:
    """A ToastGeneric toast. Clicking it (or "Show me how") protocol-launches ``page_uri``,
    which Windows opens in the default browser; "Open Settings" launches ``settings_uri``
    (an ``ms-settings:`` link) when there is one."""
    lines = [ln for ln in note.body.split("\n") if ln.strip()]
    texts = [f"<text>{xml_escape(note.title)}</text>"]
    if lines:
        texts.append(f"<text>{xml_escape(' '.join(lines[:2]))}</text>")
    if len(lines) > 2:
        texts.append(f"<text placement=\"attribution\">{xml_escape(' '.join(lines[2:]))}</text>")
    actions = []
    if note.problems:
        actions.append(f"<action content={quoteattr(t('notify.action_open'))} activationType=\"protocol\" "
                       f"arguments={quoteattr(page_uri)}/>")
        if settings_uri and settings_uri.split(":", 1)[0].lower() in ("ms-settings", "windowsdefender"):
            actions.append(f"<action content={quoteattr(t('notify.action_settings'))} "
                           f"activationType=\"protocol\" arguments={quoteattr(settings_uri)}/>")
    return (f"<toast activationType=\"protocol\" launch={quoteattr(page_uri)} duration=\"long\">"
            "<visual><binding template=\"ToastGeneric\">" + "".join(texts) + "</binding></visual>"
            + (f"<actions>{''.join(actions)}</actions>" if actions else "")
            + "</toast>")


_TOAST_PS1 = r"""
param([string]$XmlPath, [string]$AppId)
$ErrorActionPreference = 'Stop'
[Windows.UI.Notifications.ToastNotificationManager, Windows.UI.Notifications, ContentType = WindowsRuntime] | Out-Null
[Windows.Data.Xml.Dom.XmlDocument, Windows.Data.Xml.Dom.XmlDocument, ContentType = WindowsRuntime] | Out-Null
$doc = New-Object Windows.Data.Xml.Dom.XmlDocument
$doc.LoadXml([IO.File]::ReadAllText($XmlPath, [Text.Encoding]::UTF8))
$toast = New-Object Windows.UI.Notifications.ToastNotification $doc
[Windows.UI.Notifications.ToastNotificationManager]::CreateToastNotifier($AppId).Show($toast)
"""


class WindowsToastNotifier(Notifier):
    name = "toast"
    clickable = True

    def __init__(self, app_id: str | None = None):
        self.powershell = os.path.join(os.environ.get("SystemRoot", r"C:\Windows"),
                                       "System32", "WindowsPowerShell", "v1.0", "powershell.exe")
        if not os.path.exists(self.powershell):
            raise NotAvailable("powershell.exe not found")
        self.app_id = app_id or os.environ.get("CHECKUP_TOAST_APP_ID") or WINDOWS_POWERSHELL_AUMID

    def send(self, note: Notification, page_uri: str, settings_uri: str | None = None) -> bool:
        xml = toast_xml(note, page_uri, settings_uri)
        tmp = tempfile.mkdtemp(prefix="checkup-toast-")
        try:
            xml_path = os.path.join(tmp, "toast.xml")
            ps1 = os.path.join(tmp, "toast.ps1")
            with open(xml_path, "w", encoding="utf-8") as fh:
                fh.write(xml)
            with open(ps1, "w", encoding="utf-8") as fh:
                fh.write(_TOAST_PS1)
            r = subprocess.run([self.powershell, "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass",
                                "-File", ps1, xml_path, self.app_id],
                               capture_output=True, timeout=30,
                               creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
            return r.returncode == 0
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("toast not shown: %s", exc)
            return False
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- macOS

def osascript_argv(title: str, body: str) -> list[str]:
    """``display notification`` with the text passed as arguments: nothing to escape."""
    return ["/usr/bin/osascript",
            "-e", "on run argv",
            "-e", "display notification (item 2 of argv) with title (item 1 of argv)",
            "-e", "end run", title, body]


class MacNotifier(Notifier):
    name = "osascript"
    clickable = False          # the click opens Script Editor, not us: name the menu instead

    def __init__(self):
        if not os.path.exists("/usr/bin/osascript"):
            raise NotAvailable("osascript not found")

    def menu_hint(self) -> str:
        return t("notify.menu_hint")

    def send(self, note: Notification, page_uri: str, settings_uri: str | None = None) -> bool:
        try:
            return subprocess.run(osascript_argv(note.title, self.body_for(note)),
                                  capture_output=True, timeout=15).returncode == 0
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("notification not shown: %s", exc)
            return False


# ---------------------------------------------------------------- plyer

class PlyerNotifier(Notifier):
    name = "plyer"
    clickable = False

    def __init__(self):
        try:
            from plyer import notification  # noqa: F401
        except ImportError as exc:
            raise NotAvailable(f"plyer is not installed ({exc})") from None

    def send(self, note: Notification, page_uri: str, settings_uri: str | None = None) -> bool:
        from plyer import notification
        try:
            notification.notify(title=note.title, message=self.body_for(note),
                                app_name=t("app_name"), timeout=15)
            return True
        except Exception as exc:  # noqa: BLE001 - plyer raises whatever its backend raises
            log.warning("notification not shown: %s", exc)
            return False


def choose_notifier(on_action: Action | None = None, platform: str | None = None,
                    app_icon: str = "", icons: dict[str, str] | None = None) -> Notifier | None:
    platform = platform or sys.platform
    candidates: list[Callable[[], Notifier]] = []
    if platform.startswith("linux") or "bsd" in platform:
        candidates.append(lambda: DBusNotifier(on_action=on_action, app_icon=app_icon, icons=icons))
    elif platform in ("win32", "windows"):
        candidates.append(WindowsToastNotifier)
    elif platform == "darwin":
        candidates.append(MacNotifier)
    candidates.append(PlyerNotifier)
    for make in candidates:
        try:
            return make()
        except NotAvailable as exc:
            log.info("notifications: %s", exc)
    return None
