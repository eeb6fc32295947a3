"""Judge of password_manager: is a password manager installed (and the company's one)?

The probe's fact: ``found`` (the managers installed as apps or browser extensions, by name)
and ``builtin`` (the OS's or browsers' own password saving); ``found`` unread when nothing
could be read. Policy: ``require`` (names; then only those count; another one found is a
nudge naming the company's) and ``builtin_counts`` (default false).
"""
from __future__ import annotations

from probes.fact import Fact
from probes.password_managers import MANAGERS

from ...verdicts import Judgement, unknown

CHECK = "password_manager"


def _names(items) -> list[str]:
    return [str(n) for n in items if isinstance(n, str) and n.strip()] if isinstance(items, list) else []


def _canonical(name: str) -> str:
    """A policy name spelled the catalogue's way ("1password" -> "1Password")."""
    key = "".join(name.lower().split())
    for known in MANAGERS:
        if "".join(known.lower().split()) == key:
            return known
    return name.strip()


def _listed(names: list[str]) -> str:
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _installed(names: list[str]) -> str:
    return f"{_listed(names)} {'is' if len(names) == 1 else 'are'} installed."


def judge(fact: Fact, policy, platform: str) -> Judgement:
    if "found" not in fact.observed:
        return unknown(fact, "for a password manager")
    required = [_canonical(n) for n in _names(policy.param(CHECK, "require", []))]
    builtin_counts = policy.param(CHECK, "builtin_counts", False) is True
    found = _names(fact.observed.get("found"))
    builtin = _names(fact.observed.get("builtin"))
    counted = found + ([b for b in builtin if b not in found] if builtin_counts else [])
    obs = {"found": counted}
    if required:
        obs["required"] = required
    partly_unread = bool(fact.unread)

    if required:
        wanted = {"".join(n.lower().split()) for n in required}
        have = [n for n in counted if "".join(n.lower().split()) in wanted]
        if have:
            return Judgement("pass", _installed(have), obs)
        if partly_unread:
            return unknown(fact, f"for {_listed(required)}")
        if counted:
            return Judgement("warn", f"You use {_listed(counted)}; your company asks you to use "
                                     f"{_listed(required)} instead.", obs)
        return Judgement("bad", f"{_listed(required)} is not installed; your company asks you "
                                "to use it for your work passwords.", obs)
    if counted:
        return Judgement("pass", _installed(counted), obs)
    if partly_unread:
        return unknown(fact, "for a password manager")
    if builtin and not builtin_counts:
        return Judgement("bad", "No password manager is installed (passwords saved in the browser "
                                "or the system don't count for your company).", obs)
    return Judgement("bad", "No password manager is installed, so passwords are easy to reuse "
                            "or lose.", obs)
