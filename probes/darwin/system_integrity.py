"""system_integrity: `csrutil status` (System Integrity Protection).

`System Integrity Protection status: enabled.` / `disabled.`; a custom
configuration (`unknown (Custom Configuration).`, or `enabled (Custom
Configuration).` on older releases) followed by a tabbed list of protections
is not fully enabled.
"""
from __future__ import annotations

import re

from ..fact import Fact
from ..host import Host
from ._util import CSRUTIL, failure, not_understood, run

_STATUS = re.compile(
    r"System Integrity Protection status:\s*(enabled|disabled|unknown)\s*(\(Custom Configuration\))?\s*\.?",
    re.IGNORECASE)
_ITEM = re.compile(r"^\s*([A-Za-z][A-Za-z .-]*?):\s*(enabled|disabled)\s*$", re.IGNORECASE | re.MULTILINE)


def parse_csrutil(text: str | None) -> bool | None:
    """True only for plain "enabled."; False for "disabled." and custom configurations."""
    found = _STATUS.findall(text or "")
    if len(found) != 1:
        return None
    word, custom = found[0]
    if custom:
        return False
    word = word.lower()
    if word == "enabled":
        return True
    if word == "disabled":
        return False
    return None


def disabled_protections(text: str | None) -> list[str]:
    """The protections a custom configuration lists as disabled."""
    return [name.strip() for name, state in _ITEM.findall(text or "") if state.lower() == "disabled"]


def probe(host: Host) -> Fact:
    fact = Fact()
    result = run(host, [CSRUTIL, "status"])
    if result.error is not None or result.returncode is None:
        return fact.miss("sip", failure(result, "csrutil"))
    sip = parse_csrutil(result.output)
    fact.set("sip", sip, not_understood("csrutil") if result.returncode == 0 else failure(result, "csrutil"))
    if "custom configuration" in (result.output or "").lower():
        fact.extra["custom_configuration"] = True
        fact.extra["disabled_protections"] = disabled_protections(result.output)
    return fact
