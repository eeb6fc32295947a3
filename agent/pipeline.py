"""host -> probes -> facts -> policy -> verdicts -> the report object of DESIGN.md.

This is the one layer where a bug in a probe, a judge or a fix page is caught, so one
broken check never stops the others: that check's status is "unknown" with a reason,
and the agent's log (logger ``checkup.pipeline``) gets an ERROR line naming the check id,
the exception and where it was raised (the traceback at DEBUG). Nothing below this layer catches such bugs.
"""
from __future__ import annotations

import logging
import traceback
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timezone
from typing import Any, Callable

from probes import submit_all
from probes.fact import Fact, not_applicable
from probes.host import Host

from . import __version__, checks as registry
from .policy import Policy
from .status import device_status, worst_first  # noqa: F401 - worst_first is part of this API
from .verdicts import Judgement, judge

SCHEMA = 1
WORKERS = 8
log = logging.getLogger("checkup.pipeline")


def desktop_of(host: Host) -> str | None:
    """gnome / kde / None, for choosing Linux settings apps."""
    if host.platform != "linux":
        return None
    current = (host.env("XDG_CURRENT_DESKTOP") or "").lower()
    if "kde" in current:
        return "kde"
    if any(n in current for n in ("gnome", "unity", "ubuntu", "budgie", "pantheon")):
        return "gnome"
    return None


def _guarded(what: str, check_id: str, fn: Callable[[], Any], fallback: Callable[[Exception], Any]) -> Any:
    """``fn()``; a bug (any exception) is logged with the check id and gives ``fallback(exc)``."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - the one layer: a bug must not stop the other checks
        where = traceback.extract_tb(exc.__traceback__)[-1:]
        at = f" at {where[0].filename}:{where[0].lineno}" if where else ""
        # One line (the CLI prints no tracebacks); the traceback at DEBUG (CHECKUP_LOG_LEVEL).
        log.error("check %s: the %s raised %s%s: %r", check_id, what, type(exc).__name__, at, str(exc))
        log.debug("check %s: the %s's traceback", check_id, what, exc_info=exc)
        return fallback(exc)


def probe(host: Host) -> tuple[dict[str, Fact], dict]:
    """Every declared check's fact on ``host`` (probes run concurrently) and the identity.

    A check not declared for this platform is skipped ("only on macOS"); a probe that
    raises gives an unknown fact (and a log line)."""
    facts: dict[str, Fact] = {}
    wanted = registry.on_platform(host.platform)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        jobs, identity_job = submit_all(pool, host, wanted)
        for check in registry.all_checks():
            if not check.applies_to(host.platform):
                facts[check.id] = not_applicable(check.not_applicable_reason())
            elif check.id not in jobs:
                log.error("check %s: no probe for %s (agent/checks/%s/check.toml declares it)",
                          check.id, host.platform, check.id)
                facts[check.id] = Fact(unread={"_": "not supported on this system yet"})
            else:
                facts[check.id] = _guarded(
                    "probe", check.id, lambda job=jobs[check.id]: _a_fact(job.result()),
                    lambda exc: Fact(unread={"_": f"the check failed unexpectedly ({type(exc).__name__})"}))
        identity = _guarded("identity probe", "device", lambda: _a_dict(identity_job.result()), lambda exc: {})
    return facts, identity


def _a_fact(value: Any) -> Fact:
    if not isinstance(value, Fact):
        raise TypeError(f"the probe returned {type(value).__name__}, not a Fact")
    return value


def _a_dict(value: Any) -> dict:
    if not isinstance(value, dict):
        raise TypeError(f"identity() returned {type(value).__name__}, not a dict")
    return value


def _fix(check_id: str, platform: str, version: str | None, desktop: str | None, observed: dict) -> dict | None:
    from .fixes import fix_for
    return _guarded("fix page", check_id,
                    lambda: fix_for(check_id, platform, version, desktop=desktop, observed=observed),
                    lambda exc: None)


def run_check(host: Host, policy: Policy, now: datetime | None = None, today: date | None = None) -> dict:
    """Run every probe on ``host`` and judge it: the `checkup check --json` object.

    ``today`` is the day support end dates are judged on (default: the check's UTC day)."""
    facts, identity = probe(host)
    when = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    os_fact = facts.get("os_version")
    if os_fact is not None:
        os_fact.extra["today"] = today or when.date()
    os_obs = os_fact.observed if os_fact else {}
    device = {
        "platform": host.platform,
        "hostname": _guarded("hostname read", "device", host.hostname, lambda exc: None),
        "os_name": os_obs.get("name"),
        "os_version": os_obs.get("version"),
        "os_build": os_obs.get("build"),
        "serial": identity.get("serial"),
        "hardware_uuid": identity.get("hardware_uuid"),
        "model": identity.get("model"),
        "mac_addresses": _guarded("MAC address read", "device", host.mac_addresses, lambda exc: None) or [],
    }
    desktop = desktop_of(host)
    checks = []
    for check in registry.all_checks():
        check_id = check.id
        status, j = _guarded(
            "judge", check_id, lambda: judge(check_id, facts[check_id], policy, host.platform),
            lambda exc: ("unknown", Judgement(
                "unknown", f"Checkup couldn't judge this check ({type(exc).__name__}).", {})))
        entry = {
            "id": check_id,
            "status": status,
            "level": policy.level(check_id),
            "title": check.title,
            "summary": j.summary,
            "observed": j.observed,
        }
        if status in ("fail", "nudge", "unknown"):
            fix = _fix(check_id, host.platform, device["os_version"], desktop, j.observed)
            if fix:
                entry["fix"] = fix
        checks.append(entry)
    return {
        "schema": SCHEMA,
        "agent_version": __version__,
        "checked_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "device": device,
        "status": device_status([c["status"] for c in checks]),
        "checks": checks,
    }
