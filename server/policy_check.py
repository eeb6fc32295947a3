"""Validating the organisation's policy before it is saved.

The server imports nothing of the agent (DESIGN), so this is its own copy of the
policy contract: TOML, one table per check id with ``level`` in
required/suggested/off and the known parameters, plus ``[organization]``.
Keep it in step with agent/policy.py (tests/server compare both when the agent
is importable).
"""
from __future__ import annotations

import sys
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CHECK_IDS = (
    "disk_encryption", "firewall", "screen_lock", "os_version", "automatic_updates",
    "system_integrity", "remote_login", "gatekeeper", "antivirus", "security_software",
)
LEVELS = ("required", "suggested", "off")
PLATFORMS = ("darwin", "windows", "linux")
ORG_KEYS = ("name", "help_url", "help_text")
MAX_POLICY_BYTES = 64 * 1024


class PolicyInvalid(ValueError):
    pass


def _seconds(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _versions(v: Any) -> bool:
    return isinstance(v, dict) and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items())


def _names(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(n, str) for n in v)


def _require(v: Any) -> bool:
    return _names(v) or (isinstance(v, dict) and all(k in PLATFORMS and _names(x) for k, x in v.items()))


PARAMS = {
    "screen_lock": {"max_seconds": (_seconds, "a whole number of seconds")},
    "os_version": {"minimum": (_versions, 'a table of OS id = "version"'),
                   "recommended": (_versions, 'a table of OS id = "version"')},
    "security_software": {"require": (_require, "a list of process names, or a table of "
                                                "darwin/windows/linux lists")},
}


def validate_policy(text: str) -> dict:
    """Parse and check a policy; raises PolicyInvalid with one line for IT."""
    if len(text.encode("utf-8")) > MAX_POLICY_BYTES:
        raise PolicyInvalid(f"the policy is larger than {MAX_POLICY_BYTES // 1024} KB")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyInvalid(f"not valid TOML: {exc}") from None
    for section, table in data.items():
        if not isinstance(table, dict):
            raise PolicyInvalid(f"{section} must be a table ([{section}])")
        if section == "organization":
            for key, value in table.items():
                if key not in ORG_KEYS:
                    raise PolicyInvalid(f"organization.{key} is not a known key "
                                        f"(known: {', '.join(ORG_KEYS)})")
                if not isinstance(value, str):
                    raise PolicyInvalid(f"organization.{key} must be text")
            continue
        if section not in CHECK_IDS:
            raise PolicyInvalid(f"unknown check id [{section}] (known: {', '.join(CHECK_IDS)})")
        for key, value in table.items():
            if key == "level":
                if value not in LEVELS:
                    raise PolicyInvalid(f"{section}.level must be one of {', '.join(LEVELS)} "
                                        f"(got {value!r})")
                continue
            spec = PARAMS.get(section, {}).get(key)
            if spec is None:
                raise PolicyInvalid(f"{section}.{key} is not a known setting")
            ok, expected = spec
            if not ok(value):
                raise PolicyInvalid(f"{section}.{key} must be {expected}")
    return data
