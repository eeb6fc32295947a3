"""screen_lock: `sysadminctl -screenLock status`, the screen saver idle time and display sleep.

- sysadminctl prints on **stderr**, behind an NSLog prefix:
  `screenLock delay is 300 seconds`, `screenLock delay is immediate` (0),
  `screenLock is off`.
- `defaults -currentHost read com.apple.screensaver idleTime`: bare seconds, 0 =
  never; the key absent (exit 1, "does not exist") -> display sleep alone.
- `pmset -g`: ` displaysleep  10` in minutes, 0 = never.
Effective idle = the smaller NON-ZERO of the two; both zero -> 0 (never).
"""
from __future__ import annotations

import re

from ..fact import Fact
from ..host import Host
from ._util import DEFAULTS, PMSET, SYSADMINCTL, failure, key_absent, not_understood, run, strip_nslog

_DELAY = re.compile(r"^screenLock delay is (\d+) seconds?\.?$", re.IGNORECASE)
_IMMEDIATE = re.compile(r"^screenLock delay is immediate\.?$", re.IGNORECASE)
_OFF = re.compile(r"^screenLock is off\.?$", re.IGNORECASE)
_DISPLAYSLEEP = re.compile(r"^\s*displaysleep\s+(\d+)\b", re.MULTILINE)
_INTEGER = re.compile(r"^\s*(\d+)\s*$")

OFF = "off"


def parse_sysadminctl(text: str | None) -> int | str | None:
    """The lock delay in seconds, OFF when the lock is off, None when not understood."""
    answers = set()
    for line in (text or "").splitlines():
        line = strip_nslog(line)
        if not line:
            continue
        if _OFF.match(line):
            answers.add(OFF)
        elif _IMMEDIATE.match(line):
            answers.add(0)
        else:
            match = _DELAY.match(line)
            if match:
                answers.add(int(match.group(1)))
    return answers.pop() if len(answers) == 1 else None


def parse_idle_time(text: str | None) -> int | None:
    """`defaults … idleTime`: a bare number of seconds."""
    match = _INTEGER.match(text or "")
    return int(match.group(1)) if match else None


def parse_displaysleep(text: str | None) -> int | None:
    """Display sleep in minutes from `pmset -g`, None when the line is missing."""
    values = {int(v) for v in _DISPLAYSLEEP.findall(text or "")}
    return values.pop() if len(values) == 1 else None


def effective_idle(idle_time: int | None, displaysleep_minutes: int | None) -> int:
    """Smaller non-zero of screen saver idle (s) and display sleep (min); 0 = never.

    A None source is absent (not configured), not unknown.
    """
    candidates = [v for v in (idle_time, None if displaysleep_minutes is None else displaysleep_minutes * 60)
                  if v]
    return min(candidates) if candidates else 0


def probe(host: Host) -> Fact:
    fact = Fact()
    # 1. the lock itself and its delay
    lock = run(host, [SYSADMINCTL, "-screenLock", "status"])
    if lock.error is not None or lock.returncode is None:
        reason = failure(lock, "sysadminctl")
        fact.miss("enabled", reason).miss("lock_delay_seconds", reason)
    else:
        answer = parse_sysadminctl(lock.output)
        if answer is None:
            reason = not_understood("sysadminctl") if lock.returncode == 0 else failure(lock, "sysadminctl")
            fact.miss("enabled", reason).miss("lock_delay_seconds", reason)
        elif answer == OFF:
            fact.observed["enabled"] = False
        else:
            fact.observed["enabled"] = True
            fact.observed["lock_delay_seconds"] = answer

    # 2. screen saver idle time
    idle_reason = None
    saver = run(host, [DEFAULTS, "-currentHost", "read", "com.apple.screensaver", "idleTime"])
    idle_time: int | None = None
    if key_absent(saver):
        idle_time = None  # not set: display sleep alone decides
    elif not saver.ok:
        idle_reason = "the screen saver start time could not be read (" + failure(saver, "defaults") + ")"
    else:
        idle_time = parse_idle_time(saver.stdout)
        if idle_time is None:
            idle_reason = "the screen saver start time could not be read (" + not_understood("defaults") + ")"

    # 3. display sleep
    sleep_reason = None
    power = run(host, [PMSET, "-g"])
    displaysleep: int | None = None
    if not power.ok:
        sleep_reason = "the display sleep time could not be read (" + failure(power, "pmset") + ")"
    else:
        displaysleep = parse_displaysleep(power.stdout)
        if displaysleep is None:
            sleep_reason = "the display sleep time could not be read (" + not_understood("pmset") + ")"

    if idle_reason or sleep_reason:
        fact.miss("idle_seconds", idle_reason or sleep_reason)
        # What is known still bounds the idle time from above, for the judge.
        known = effective_idle(idle_time, displaysleep)
        if known:
            fact.extra["idle_seconds_at_most"] = known
    else:
        fact.observed["idle_seconds"] = effective_idle(idle_time, displaysleep)
    if idle_time is not None:
        fact.extra["screensaver_idle_seconds"] = idle_time
    if displaysleep is not None:
        fact.extra["displaysleep_minutes"] = displaysleep
    return fact
