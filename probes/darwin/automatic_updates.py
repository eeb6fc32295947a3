"""automatic_updates: four `defaults read /Library/Preferences/com.apple.SoftwareUpdate <key>`.

`1`/`0`; a missing key (exit 1, "does not exist") is the default, which is on.
`enabled` = AutomaticCheckEnabled on; `complete` = all four on; `settings_off`
names the keys that are off, in this order.
"""
from __future__ import annotations

import re

from ..fact import Fact
from ..host import Host
from ._util import DEFAULTS, failure, key_absent, not_understood, run

DOMAIN = "/Library/Preferences/com.apple.SoftwareUpdate"
KEYS = ("AutomaticCheckEnabled", "AutomaticDownload", "AutomaticallyInstallMacOSUpdates",
        "CriticalUpdateInstall")
_BOOL = re.compile(r"^\s*(1|0|true|false|yes|no)\s*$", re.IGNORECASE)


def parse_bool(text: str | None) -> bool | None:
    """`defaults read` of a boolean: 1 / 0 (true/false/yes/no as written by hand)."""
    match = _BOOL.match(text or "")
    if not match:
        return None
    return match.group(1).lower() in ("1", "true", "yes")


def probe(host: Host) -> Fact:
    values: dict[str, bool] = {}
    reasons: dict[str, str] = {}
    for key in KEYS:
        result = run(host, [DEFAULTS, "read", DOMAIN, key])
        if key_absent(result):
            values[key] = True  # the macOS default
        elif not result.ok:
            reasons[key] = f"{key} could not be read ({failure(result, 'defaults')})"
        else:
            value = parse_bool(result.stdout)
            if value is None:
                reasons[key] = f"{key} could not be read ({not_understood('defaults')})"
            else:
                values[key] = value
    return to_fact(values, reasons)


def to_fact(values: dict[str, bool], reasons: dict[str, str]) -> Fact:
    """The Fact from the settings read (``values``) and why the others were not (``reasons``)."""
    fact = Fact()
    first = KEYS[0]
    fact.set("enabled", values.get(first), reasons.get(first))
    off = [key for key in KEYS if values.get(key) is False]
    if reasons:
        reason = "; ".join(reasons.values())
        if off:
            fact.observed["complete"] = False
        else:
            fact.miss("complete", reason)
        fact.miss("settings_off", reason)
        fact.extra["settings_off_known"] = off
    else:
        fact.observed["complete"] = not off
        fact.observed["settings_off"] = off
    return fact
