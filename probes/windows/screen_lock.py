"""Screen lock: a secure screen saver with a timeout, or the machine inactivity limit.

A screen saver locks only when it is active, one is selected (`SCRNSAVE.EXE` set and not
blank), it asks for the password (`ScreenSaverIsSecure`) and it has a timeout. Windows
deletes `SCRNSAVE.EXE` when (None) is chosen, yet `ScreenSaveActive` often stays 1 (the
out-of-box state). Each value is read from the Group Policy key first, then the user's.
"""
from __future__ import annotations

from ..fact import Fact
from ..host import Host
from ._util import ABSENT, first_override, read_int, registry

DESKTOP = r"HKCU\Control Panel\Desktop"
DESKTOP_POLICY = r"HKCU\Software\Policies\Microsoft\Windows\Control Panel\Desktop"
SYSTEM_POLICY = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System"
KEYS = (DESKTOP_POLICY, DESKTOP)  # Group Policy first: it overrides value by value
SAVER_FILE = "SCRNSAVE.EXE"
NONE_SELECTED = "no screen saver is selected"


def _flag(value) -> bool | None:
    """ScreenSaveActive / ScreenSaverIsSecure: absent or 0 is off, 1 on, anything else unknown."""
    if value is ABSENT or value == 0:
        return False
    if value == 1:
        return True
    return None


def _seconds(value) -> int | None:
    """A timeout in seconds: absent or 0 = not set (0), a negative or garbage value = unknown."""
    if value is ABSENT:
        return 0
    if isinstance(value, int) and value >= 0:
        return value
    return None


def saver_selected(value) -> bool | None:
    """SCRNSAVE.EXE (a registry() result): absent or blank -> False, a file name -> True."""
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.replace("\x00", "").strip())
    return None  # a number where a file name belongs


def selected_saver(host: Host) -> bool | None:
    """Whether a screen saver is selected: the Group Policy value wins wherever it is set."""
    for key in KEYS:
        value = registry(host, key, SAVER_FILE)
        if value is not None:
            return saver_selected(value)
    return False


def screen_saver_idle(active, secure, timeout, selected: bool | None = True) -> int | None:
    """Seconds after which the screen saver locks; 0 when it does not lock; None when unknown.

    ``active``/``secure``/``timeout`` are read_int results (ABSENT, an int, or None for an
    unreadable value); ``selected`` is saver_selected's answer.
    """
    flags = (_flag(active), selected, _flag(secure))
    seconds = _seconds(timeout)
    if False in flags or seconds == 0:
        return 0
    if None in flags or seconds is None:
        return None
    return seconds


def off_reason(active, secure, timeout, selected: bool | None) -> str | None:
    """Why the screen saver does not lock, for people (the first reason that applies)."""
    if _flag(active) is False:
        return "the screen saver is turned off"
    if selected is False:
        return NONE_SELECTED
    if _flag(secure) is False:
        return "the screen saver doesn't ask for the password"
    if _seconds(timeout) == 0:
        return "the screen saver has no wait time"
    return None


def decide(saver_idle: int | None, inactivity: int | None) -> tuple[bool | None, int | None]:
    """(enabled, idle seconds) from the screen saver and the inactivity limit (0 = not set)."""
    applying = [s for s in (saver_idle, inactivity) if s]
    unknown = saver_idle is None or inactivity is None
    if not applying:
        return (None, None) if unknown else (False, None)
    if unknown:  # an unread value might be the smaller one
        return True, None
    return True, min(applying)


def probe(host: Host) -> Fact:
    fact = Fact()
    values = [first_override(host, KEYS, name)
              for name in ("ScreenSaveActive", "ScreenSaverIsSecure", "ScreenSaveTimeOut")]
    selected = selected_saver(host)
    saver = screen_saver_idle(*values, selected=selected)
    inactivity = _seconds(read_int(host, SYSTEM_POLICY, "InactivityTimeoutSecs"))
    enabled, idle = decide(saver, inactivity)
    reason = ("the screen saver settings in the registry are not understood"
              if saver is None else
              "the machine inactivity limit in the registry is not understood")
    fact.set("enabled", enabled, reason)
    if enabled:
        fact.set("idle_seconds", idle, reason)
        known = [s for s in (saver, inactivity) if s]
        if idle is None and known:  # the unread one can only make it lock sooner
            fact.extra["idle_seconds_at_most"] = min(known)
    elif enabled is False:
        why = off_reason(*values, selected=selected)
        if why:
            fact.extra["lock_off_reason"] = why
    fact.observed["lock_delay_seconds"] = 0  # Windows locks as the screen saver starts
    return fact
