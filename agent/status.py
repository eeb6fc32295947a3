"""Statuses and the device status rule: one copy, used by the agent and the server."""
from __future__ import annotations

from typing import Iterable

# best to worst; "exempt": failing or nudging, but IT excused it until a date (DESIGN "Exemptions")
STATUS_ORDER = ("pass", "skip", "exempt", "unknown", "nudge", "fail")
RANK = {s: i for i, s in enumerate(STATUS_ORDER)}


def device_status(statuses: Iterable[str]) -> str:
    """The device status DESIGN derives from its checks: fail if any check fails, else
    nudge if any nudges, else pass if any passes (an exempt check counts as passing here:
    a device whose only problems IT exempted is not failing), else unknown."""
    found = set(statuses)
    for s in ("fail", "nudge", "pass"):
        if s in found:
            return s
    return "pass" if "exempt" in found else "unknown"


def worst_first(checks: list[dict]) -> list[dict]:
    """Checks sorted worst status first (stable: equal statuses keep their order)."""
    return sorted(checks, key=lambda c: -RANK.get(c.get("status"), 0))
