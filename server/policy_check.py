"""Validating the organisation's policy before it is saved.

The policy format is one of the data shapes the agent and the server share
(DESIGN: the server imports nothing of the agent "but the shared data
shapes"), so the server validates with the agent's own policy contract —
one definition of check ids, levels and parameters, never two that drift.
"""
from __future__ import annotations

import hashlib

from agent import checks as registry
from agent.policy import CHECK_IDS, LEVELS, ORG_KEYS, TYPES, PolicyError, _toml_value, parse_policy_text, validate
from agent.tomlcompat import TOMLDecodeError, tomllib

__all__ = ["CHECK_IDS", "LEVELS", "MAX_POLICY_BYTES", "PolicyInvalid", "body_etag", "validate_policy"]

MAX_POLICY_BYTES = 64 * 1024
MAX_SECONDS = 365 * 24 * 3600   # a "seconds" setting longer than a year is a typo
_SOURCE = "policy"


class PolicyInvalid(ValueError):
    pass


def validate_policy(text: str) -> dict:
    """Parse and check a policy; raises PolicyInvalid with one line for IT."""
    if len(text.encode("utf-8")) > MAX_POLICY_BYTES:
        raise PolicyInvalid(f"the policy is larger than {MAX_POLICY_BYTES // 1024} KB")
    try:
        data = parse_policy_text(text, _SOURCE)
    except PolicyError as exc:
        message = str(exc)
        plain = _plain_problem(text)   # the same refusal, in the editor's words when it can
        raise PolicyInvalid(plain or (message[len(_SOURCE) + 2:] if message.startswith(_SOURCE + ": ")
                                      else message)) from None
    for section, table in data.items():   # the editor's own bounds (a typo of many nines)
        for key, value in (table.items() if section in CHECK_IDS else ()):
            problem = value_problem(section, key, value)
            if problem:
                raise PolicyInvalid(problem)
    return data


def wrote(value) -> str:  # noqa: ANN001
    """A value as IT typed it (TOML), cut short: the "(you wrote ...)" of a message."""
    shown = _toml_value(value) if not isinstance(value, float) else repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def value_problem(check_id: str, key: str, value) -> str | None:  # noqa: ANN001
    """What is wrong with one setting, naming the field and the rule in plain words, or None
    (None also for a key this editor does not know: the agent's validation decides it)."""
    if key == "level":
        if value not in LEVELS:
            return f"{check_id}: level must be required, suggested or off (you wrote {wrote(value)})"
        return None
    param = registry.get(check_id).params.get(key)
    if param is None:
        return None
    if param.type == "seconds" and isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            return f"{check_id}: {key} must be 0 or more (you wrote {wrote(value)})"
        if value > MAX_SECONDS:
            return f"{check_id}: {key} must be at most {MAX_SECONDS} (a year; you wrote {wrote(value)})"
    ok, expected = TYPES[param.type]
    if not ok(value):
        return f"{check_id}: {key} must be {expected} (you wrote {wrote(value)})"
    return None


def _agent_accepts(section: str, key: str, value) -> bool:  # noqa: ANN001
    """A key the agent's policy knows beyond the check's declared ones (e.g. one every
    check has): the agent's validation is the rule."""
    try:
        validate({section: {key: value}}, _SOURCE)
    except PolicyError:
        return False
    return True


def _plain_problem(text: str) -> str | None:
    """The first problem of a refused policy in plain words: section, key, rule, value."""
    try:
        data = tomllib.loads(text)
    except TOMLDecodeError as exc:
        return f"this is not valid TOML: {exc}"
    for section, table in data.items():
        if section == "organization":
            if isinstance(table, dict):
                for key, value in table.items():
                    if key not in ORG_KEYS:
                        return (f"organization: {key} is not a setting (the settings are "
                                f"{', '.join(ORG_KEYS)})")
                    if not isinstance(value, str):
                        return f"organization: {key} must be text in quotes (you wrote {wrote(value)})"
            continue
        if section not in CHECK_IDS:
            return f"[{section}] is not a check (the checks are {', '.join(CHECK_IDS)})"
        if not isinstance(table, dict):
            return f"{section} must be a table: a [{section}] line with settings under it"
        known = ("level", *registry.get(section).params)
        for key, value in table.items():
            problem = value_problem(section, key, value)
            if problem:
                return problem
            if key not in known and not _agent_accepts(section, key, value):
                return f"{section}: {key} is not a setting of this check (its settings are {', '.join(known)})"
    return None


def body_etag(text: str) -> str:
    """The ETag of a saved policy's text (agents fetch the policy with If-None-Match)."""
    return '"' + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32] + '"'
