"""gatekeeper: `spctl --status` -> `assessments enabled` / `assessments disabled`.

Printed on stdout or stderr depending on the release; the exit code is not
the answer (spctl exits non-zero when assessments are disabled).
"""
from __future__ import annotations

import re

from ..fact import Fact
from ..host import Host
from ._util import SPCTL, failure, not_understood, run

_STATUS = re.compile(r"^\s*assessments (enabled|disabled)\s*$", re.IGNORECASE | re.MULTILINE)


def parse_spctl(text: str | None) -> bool | None:
    answers = {m.lower() for m in _STATUS.findall(text or "")}
    if answers == {"enabled"}:
        return True
    if answers == {"disabled"}:
        return False
    return None


def probe(host: Host) -> Fact:
    fact = Fact()
    result = run(host, [SPCTL, "--status"])
    if result.error is not None or result.returncode is None:
        return fact.miss("enabled", failure(result, "spctl"))
    return fact.set("enabled", parse_spctl(result.output),
                    not_understood("spctl") if result.returncode in (0, 1) else failure(result, "spctl"))
