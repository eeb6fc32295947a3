"""Validating the organisation's policy before it is saved.

The policy format is one of the data shapes the agent and the server share
(DESIGN: the server imports nothing of the agent "but the shared data
shapes"), so the server validates with the agent's own policy contract —
one definition of check ids, levels and parameters, never two that drift.
"""
from __future__ import annotations

import hashlib

from agent.policy import CHECK_IDS, LEVELS, PolicyError, parse_policy_text

__all__ = ["CHECK_IDS", "LEVELS", "MAX_POLICY_BYTES", "PolicyInvalid", "body_etag", "validate_policy"]

MAX_POLICY_BYTES = 64 * 1024
_SOURCE = "policy"


class PolicyInvalid(ValueError):
    pass


def validate_policy(text: str) -> dict:
    """Parse and check a policy; raises PolicyInvalid with one line for IT."""
    if len(text.encode("utf-8")) > MAX_POLICY_BYTES:
        raise PolicyInvalid(f"the policy is larger than {MAX_POLICY_BYTES // 1024} KB")
    try:
        return parse_policy_text(text, _SOURCE)
    except PolicyError as exc:
        message = str(exc)
        raise PolicyInvalid(message[len(_SOURCE) + 2:] if message.startswith(_SOURCE + ": ") else message) from None


def body_etag(text: str) -> str:
    """The ETag of a saved policy's text (agents fetch the policy with If-None-Match)."""
    return '"' + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32] + '"'
