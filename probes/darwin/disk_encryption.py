"""disk_encryption: `fdesetup status` (FileVault).

Exit 0, or 2 while converting. `FileVault is On.` / `FileVault is Off.`; a line
`Encryption in progress: …` (a percentage or `Pending`) means encrypting; a
`Decryption in progress` line means decrypting whatever the first line says;
`Deferred enablement appears to be active for user 'x'.` means off (pending).
"""
from __future__ import annotations

import re

from ..fact import Fact
from ..host import Host
from ._util import FDESETUP, failure, not_understood, run

_PERCENT = re.compile(r"percent completed\s*=\s*([0-9]+(?:\.[0-9]+)?)", re.IGNORECASE)
_ON = re.compile(r"^FileVault is On\b", re.IGNORECASE)
_OFF = re.compile(r"^FileVault is Off\b", re.IGNORECASE)


def parse_fdesetup(text: str | None) -> str | None:
    """on / off / encrypting / decrypting, or None when the output says none of these."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if any(line.lower().startswith("decryption") for line in lines):
        return "decrypting"
    if any(line.lower().startswith("encryption") for line in lines):
        return "encrypting"
    if any(line.lower().startswith("deferred enablement") for line in lines):
        return "off"
    for line in lines:
        if _ON.match(line):
            return "on"
        if _OFF.match(line):
            return "off"
    return None


def parse_progress(text: str | None) -> float | None:
    """The conversion percentage, when fdesetup gives one."""
    match = _PERCENT.search(text or "")
    return float(match.group(1)) if match else None


def probe(host: Host) -> Fact:
    fact = Fact()
    result = run(host, [FDESETUP, "status"])
    if result.error is not None or result.returncode not in (0, 2):
        return fact.miss("state", failure(result, "fdesetup"))
    state = parse_fdesetup(result.stdout)
    fact.set("state", state, not_understood("fdesetup"))
    progress = parse_progress(result.stdout)
    if state in ("encrypting", "decrypting") and progress is not None:
        fact.extra["progress_percent"] = progress
    return fact
