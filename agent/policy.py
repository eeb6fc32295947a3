"""Policy: which checks matter and how much, as TOML.

The built-in default is each check's declaration (agent/checks/<id>/check.toml: its
level and parameter defaults) plus default_policy.toml ([organization]). A policy file
is applied over it: the keys it sets replace the default's, check by check.
Every problem raises PolicyError with one line naming the file and key.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from . import checks as registry
from .checks import LEVELS, PLATFORMS
from .tomlcompat import TOMLDecodeError, tomllib

CHECK_IDS = registry.ids()
ORG_KEYS = ("name", "help_url", "help_text")
# Every check also takes ``grace_days``: how long a check that newly fails is only "needs
# attention" (a nudge) before it counts as failing. 0 (the default) = fails at once.
GRACE_KEY, MAX_GRACE_DAYS = "grace_days", 365


class PolicyError(ValueError):
    """A policy that cannot be used; the message is one line for the person."""


# Parameter types (agent/checks PARAM_TYPES): validator and what a value must be, in words.
def _int_seconds(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _version_table(v: Any) -> bool:
    return isinstance(v, dict) and all(
        isinstance(k, str) and re.fullmatch(r"[a-z0-9][a-z0-9._-]*", k)
        and isinstance(x, str) and parse_version(x) is not None
        for k, x in v.items())


def _names(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(n, str) for n in v)


def _names_by_platform(v: Any) -> bool:
    if _names(v):
        return True
    return isinstance(v, dict) and all(k in PLATFORMS and _names(x) for k, x in v.items())


TYPES: dict[str, tuple] = {
    "seconds": (_int_seconds, "a whole number of seconds"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "names": (_names, "a list of names, e.g. [\"1Password\"]"),
    "names_by_platform": (_names_by_platform, "a list of names, or a table of darwin/windows/linux lists"),
    "version_table": (_version_table, "a table of lower-case OS id = \"version number\", "
                                      "e.g. { macos = \"14.0\", windows = \"10.0.19045\" }"),
}


@dataclass
class Policy:
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    organization: dict[str, str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def level(self, check_id: str) -> str:
        declared = registry.get(check_id)
        return self.checks.get(check_id, {}).get("level", declared.level if declared else "required")

    def param(self, check_id: str, name: str, default: Any = None) -> Any:
        return self.checks.get(check_id, {}).get(name, default)

    def grace_days(self, check_id: str) -> int:
        return int(self.checks.get(check_id, {}).get(GRACE_KEY, 0))

    def required_software(self, platform: str) -> list[str]:
        req = self.param("security_software", "require", [])
        if isinstance(req, dict):
            req = req.get(platform, [])
        return list(req or [])

    def to_toml(self) -> str:
        """The effective policy as TOML text (for `checkup policy show`)."""
        lines: list[str] = []
        if self.sources:
            lines.append("# effective policy: built-in default" +
                         "".join(f" + {s}" for s in self.sources[1:]))
        lines.append("")
        lines.append("[organization]")
        for key in ORG_KEYS:
            lines.append(f"{key} = {_toml_value(self.organization.get(key, ''))}")
        for check in CHECK_IDS:
            lines.append("")
            lines.append(f"[{check}]")
            for key, value in self.checks.get(check, {}).items():
                lines.append(f"{key} = {_toml_value(value)}")
        return "\n".join(lines) + "\n"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    return '""'


def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _toml_value(k)


def parse_policy_text(text: str, source: str) -> dict:
    """TOML text -> validated dict of tables. Raises PolicyError."""
    try:
        data = tomllib.loads(text)
    except TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from None
    validate(data, source)
    return data


def validate(data: dict, source: str) -> None:
    for section, table in data.items():
        if section == "organization":
            if not isinstance(table, dict):
                raise PolicyError(f"{source}: [organization] must be a table")
            for key, value in table.items():
                if key not in ORG_KEYS:
                    raise PolicyError(f"{source}: organization.{key} is not a known key "
                                      f"(known: {', '.join(ORG_KEYS)})")
                if not isinstance(value, str):
                    raise PolicyError(f"{source}: organization.{key} must be text")
            continue
        if section not in CHECK_IDS:
            raise PolicyError(f"{source}: unknown check id [{section}] "
                              f"(known: {', '.join(CHECK_IDS)})")
        if not isinstance(table, dict):
            raise PolicyError(f"{source}: {section} must be a table")
        for key, value in table.items():
            if key == "level":
                if value not in LEVELS:
                    raise PolicyError(f"{source}: {section}.level must be one of "
                                      f"{', '.join(LEVELS)} (got {value!r})")
                continue
            if key == GRACE_KEY:
                if not (isinstance(value, int) and not isinstance(value, bool)
                        and 0 <= value <= MAX_GRACE_DAYS):
                    raise PolicyError(f"{source}: {section}.{GRACE_KEY} must be a whole number of "
                                      f"days from 0 to {MAX_GRACE_DAYS} (got {value!r})")
                continue
            param = registry.get(section).params.get(key)
            if param is None:
                raise PolicyError(f"{source}: {section}.{key} is not a known setting")
            check, expected = TYPES[param.type]
            if not check(value):
                raise PolicyError(f"{source}: {section}.{key} must be {expected}")


def default_policy_text() -> str:
    return resources.files("agent").joinpath("default_policy.toml").read_text(encoding="utf-8")


def merge(base: Policy, data: dict, source: str) -> Policy:
    merged = Policy(checks=copy.deepcopy(base.checks), organization=dict(base.organization),
                    sources=[*base.sources, source])
    for section, table in data.items():
        if section == "organization":
            merged.organization.update(table)
        else:
            merged.checks.setdefault(section, {}).update(copy.deepcopy(table))
    return merged


def load_policy(path: str | None = None, text: str | None = None) -> Policy:
    """The built-in default, with the file at ``path`` (or ``text``) applied over it."""
    default = {c.id: c.defaults() for c in registry.all_checks()}
    validate(default, "built-in policy (agent/checks)")
    for section, table in parse_policy_text(default_policy_text(), "built-in policy").items():
        default.setdefault(section, {}).update(table)
    policy = merge(Policy(), default, "built-in policy")
    if path:
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:
            raise PolicyError(f"{path}: no such file") from None
        except OSError as exc:
            raise PolicyError(f"{path}: cannot be read ({exc.strerror or exc})") from None
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise PolicyError(f"{path}: not UTF-8 text") from None
        policy = merge(policy, parse_policy_text(body, path), path)
    if text is not None:
        policy = merge(policy, parse_policy_text(text, "server policy"), "server policy")
    return policy


# -- versions -------------------------------------------------------------
_NUM = re.compile(r"\d+")


def parse_version(text: Any) -> tuple[int, ...] | None:
    """Numeric components of a version: "13.3.1 (a)" -> (13, 3, 1); trailing zeros dropped.

    "10.0.19041" > "10.0.1941"; "14" == "14.0". None when there is no number.
    """
    if not isinstance(text, str):
        return None
    match = re.match(r"\s*v?(\d+(?:\.\d+)*)", text)
    if not match:
        return None
    parts = [int(p) for p in match.group(1).split(".")[:6]]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def compare_versions(a: str, b: str) -> int | None:
    """-1, 0, 1, or None when either is not a version."""
    va, vb = parse_version(a), parse_version(b)
    if va is None or vb is None:
        return None
    return (va > vb) - (va < vb)
