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


NEVER = "never"  # a possibility: nothing locks the screen


def saver_options(active, secure, timeout, selected: bool | None) -> list:
    """What the screen saver may do: NEVER, or lock after (low, high) seconds (high None =
    no bound). One option when everything was understood, two when a value was not.

    ``active``/``secure``/``timeout`` are read_int results (ABSENT, an int, or None for an
    unreadable value); ``selected`` is saver_selected's answer.
    """
    flags = (_flag(active), selected, _flag(secure))
    seconds = _seconds(timeout)
    if False in flags or seconds == 0:
        return [NEVER]
    locks = (seconds, seconds) if seconds is not None else (1, None)
    return [NEVER, locks] if None in flags or seconds is None else [locks]


def inactivity_options(value) -> list:
    """InactivityTimeoutSecs the same way: absent or 0 is NEVER, garbage is either."""
    seconds = _seconds(value)
    if seconds == 0:
        return [NEVER]
    return [NEVER, (1, None)] if seconds is None else [(seconds, seconds)]


def combine(saver: list, inactivity: list) -> tuple[bool | None, int | None, int | None]:
    """(enabled, lowest, highest idle seconds) over every possibility; the smaller limit wins.

    enabled is None when one possibility locks and another does not; lowest/highest are
    None when nothing locks (highest also when an unread value leaves it unbounded).
    """
    outcomes = []
    for s in saver:
        for i in inactivity:
            if s == NEVER or i == NEVER:
                outcomes.append(i if s == NEVER else s)
            else:
                highs = [h for h in (s[1], i[1]) if h is not None]
                outcomes.append((min(s[0], i[0]), min(highs) if highs else None))
    locks = [o for o in outcomes if o != NEVER]
    if not locks:
        return False, None, None
    enabled = True if len(locks) == len(outcomes) else None
    highs = [high for _, high in locks]
    return enabled, min(low for low, _ in locks), None if None in highs else max(highs)


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


def probe(host: Host) -> Fact:
    fact = Fact()
    values = [first_override(host, KEYS, name)
              for name in ("ScreenSaveActive", "ScreenSaverIsSecure", "ScreenSaveTimeOut")]
    selected = selected_saver(host)
    saver = saver_options(*values, selected=selected)
    inactivity = inactivity_options(read_int(host, SYSTEM_POLICY, "InactivityTimeoutSecs"))
    enabled, low, high = combine(saver, inactivity)
    reason = ("the screen saver settings in the registry are not understood" if len(saver) > 1 else
              "the machine inactivity limit in the registry is not understood")
    fact.set("enabled", enabled, reason)
    if low is not None and low == high:
        fact.observed["idle_seconds"] = low  # when it locks (enabled may be unread)
    elif low is not None:
        fact.miss("idle_seconds", reason)
        fact.extra["idle_seconds_at_least"] = low  # the unread value can only change it within these
        if high is not None:
            fact.extra["idle_seconds_at_most"] = high
    if enabled is False:
        why = off_reason(*values, selected=selected)
        if why:
            fact.extra["lock_off_reason"] = why
    fact.observed["lock_delay_seconds"] = 0  # Windows locks as the screen saver starts
    return fact
