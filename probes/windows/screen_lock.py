"""Screen lock: a secure screen saver with a timeout, or the machine inactivity limit."""
from __future__ import annotations

from ..fact import Fact
from ..host import Host
from ._util import ABSENT, first_override, read_int

DESKTOP = r"HKCU\Control Panel\Desktop"
DESKTOP_POLICY = r"HKCU\Software\Policies\Microsoft\Windows\Control Panel\Desktop"
SYSTEM_POLICY = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System"
KEYS = (DESKTOP_POLICY, DESKTOP)  # Group Policy first: it overrides value by value


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


def screen_saver_idle(active, secure, timeout) -> int | None:
    """Seconds after which the screen saver locks; 0 when it does not lock; None when unknown.

    Arguments are read_int results (ABSENT, an int, or None for an unreadable value).
    """
    flags = (_flag(active), _flag(secure))
    seconds = _seconds(timeout)
    if False in flags or seconds == 0:
        return 0
    if None in flags or seconds is None:
        return None
    return seconds


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
    saver = screen_saver_idle(first_override(host, KEYS, "ScreenSaveActive"),
                              first_override(host, KEYS, "ScreenSaverIsSecure"),
                              first_override(host, KEYS, "ScreenSaveTimeOut"))
    inactivity = _seconds(read_int(host, SYSTEM_POLICY, "InactivityTimeoutSecs"))
    enabled, idle = decide(saver, inactivity)
    reason = ("the screen saver settings in the registry are not understood"
              if saver is None else
              "the machine inactivity limit in the registry is not understood")
    fact.set("enabled", enabled, reason)
    if enabled:
        fact.set("idle_seconds", idle, reason)
    fact.observed["lock_delay_seconds"] = 0  # Windows locks as the screen saver starts
    return fact
