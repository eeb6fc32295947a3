"""remote_login: `launchctl print system/com.openssh.sshd`, then (admin) `systemsetup -getremotelogin`.

launchctl exit 0 with a service dump = on; exit 113 (`Could not find service`)
= off; anything else is no answer. Then, only when admin, systemsetup's
`Remote Login: On` / `Off`. Without admin rights systemsetup prints "You need
administrator access…" on stdout and exits 0: that is not an answer.
"""
from __future__ import annotations

import re

from ..fact import Fact
from ..host import Host
from ._util import LAUNCHCTL, SYSTEMSETUP, failure, not_understood, run

SERVICE = "system/com.openssh.sshd"
NOT_FOUND_EXIT = 113
_REMOTE_LOGIN = re.compile(r"^\s*Remote Login:\s*(On|Off)\s*$", re.IGNORECASE | re.MULTILINE)


def parse_launchctl(returncode: int | None, stdout: str | None, stderr: str | None = "") -> bool | None:
    """True (the service is loaded), False (not found), None (no answer)."""
    if returncode == 0 and "com.openssh.sshd" in (stdout or "") and "{" in (stdout or ""):
        return True
    if returncode == NOT_FOUND_EXIT:
        return False
    return None


def parse_systemsetup(text: str | None) -> bool | None:
    if "administrator access" in (text or "").lower():
        return None
    answers = {m.lower() for m in _REMOTE_LOGIN.findall(text or "")}
    if answers == {"on"}:
        return True
    if answers == {"off"}:
        return False
    return None


def probe(host: Host) -> Fact:
    fact = Fact()
    launchd = run(host, [LAUNCHCTL, "print", SERVICE])
    answer = None
    if launchd.error is None:
        answer = parse_launchctl(launchd.returncode, launchd.stdout, launchd.stderr)
    if answer is not None:
        fact.observed["enabled"] = answer
        return fact
    reason = failure(launchd, "launchctl") if (launchd.error or launchd.returncode != 0) \
        else not_understood("launchctl")
    admin = host.is_admin() is True
    if not admin:
        return fact.miss("enabled", reason)
    setup = run(host, [SYSTEMSETUP, "-getremotelogin"])
    if not setup.ok:
        return fact.miss("enabled", f"{reason}; {failure(setup, 'systemsetup')}")
    answer = parse_systemsetup(setup.output)
    if answer is None:
        if "administrator access" in (setup.output or "").lower():
            return fact.miss("enabled", "needs administrator rights")
        return fact.miss("enabled", f"{reason}; {not_understood('systemsetup')}")
    fact.observed["enabled"] = answer
    return fact
