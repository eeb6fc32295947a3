"""firewall: `socketfilterfw --getglobalstate` and `--getstealthmode`.

The global state is keyed on `(State = N)`: 0 off, 1 and 2 on (the wording
around it changed between releases). Stealth: `Stealth mode enabled` /
`disabled` (old), `Firewall stealth mode is on` / `off` (macOS 15+).
"""
from __future__ import annotations

import re

from ..fact import Fact
from ..host import Host
from ._util import SOCKETFILTERFW, failure, not_understood, run

_STATE = re.compile(r"\(\s*State\s*=\s*(-?\d+)\s*\)", re.IGNORECASE)
_STEALTH = re.compile(r"\bstealth mode (enabled|disabled|is on|is off)\b", re.IGNORECASE)


def parse_global_state(text: str | None) -> bool | None:
    """True (State 1 or 2), False (State 0), None when no state is given."""
    states = {int(m) for m in _STATE.findall(text or "")}
    if len(states) != 1:
        return None
    state = states.pop()
    if state == 0:
        return False
    if state in (1, 2):
        return True
    return None


def parse_stealth(text: str | None) -> bool | None:
    answers = {m.lower() for m in _STEALTH.findall(text or "")}
    if answers and answers <= {"enabled", "is on"}:
        return True
    if answers and answers <= {"disabled", "is off"}:
        return False
    return None


def probe(host: Host) -> Fact:
    fact = Fact()
    name = "socketfilterfw"
    glob = run(host, [SOCKETFILTERFW, "--getglobalstate"])
    if glob.error is not None or glob.returncode is None:
        fact.miss("enabled", failure(glob, name))
    else:
        fact.set("enabled", parse_global_state(glob.output),
                 not_understood(name) if glob.returncode == 0 else failure(glob, name))
    stealth = run(host, [SOCKETFILTERFW, "--getstealthmode"])
    if stealth.error is not None or stealth.returncode is None:
        fact.miss("stealth", failure(stealth, name))
    else:
        fact.set("stealth", parse_stealth(stealth.output),
                 not_understood(name) if stealth.returncode == 0 else failure(stealth, name))
    return fact
