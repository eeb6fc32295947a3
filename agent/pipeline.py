"""host -> probes -> facts -> policy -> verdicts -> the report object of DESIGN.md."""
from __future__ import annotations

from datetime import date, datetime, timezone

from probes import CHECK_IDS, probe_all
from probes.host import Host

from . import __version__
from .policy import Policy
from .verdicts import STATUS_ORDER, device_status, judge

SCHEMA = 1


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


def _fix(check_id: str, platform: str, version: str | None, desktop: str | None, observed: dict) -> dict | None:
    try:
        from .fixes import fix_for
    except ImportError:
        return None
    try:
        return fix_for(check_id, platform, version, desktop=desktop, observed=observed)
    except Exception:  # noqa: BLE001 - missing help text must not break a check
        return None


def _title(check_id: str) -> str:
    try:
        from .fixes import CHECK_TITLES
        return CHECK_TITLES.get(check_id) or check_id.replace("_", " ").capitalize()
    except ImportError:
        return check_id.replace("_", " ").capitalize()


def run_check(host: Host, policy: Policy, now: datetime | None = None, today: date | None = None) -> dict:
    """Run every probe on ``host`` and judge it: the `checkup check --json` object.

    ``today`` is the day support end dates are judged on (default: the check's UTC day)."""
    facts, identity = probe_all(host)
    when = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    os_fact = facts.get("os_version")
    if os_fact is not None:
        os_fact.extra["today"] = today or when.date()
    os_obs = os_fact.observed if os_fact else {}
    device = {
        "platform": host.platform,
        "hostname": _safe(host.hostname),
        "os_name": os_obs.get("name"),
        "os_version": os_obs.get("version"),
        "os_build": os_obs.get("build"),
        "serial": identity.get("serial"),
        "hardware_uuid": identity.get("hardware_uuid"),
        "model": identity.get("model"),
        "mac_addresses": _safe(host.mac_addresses) or [],
    }
    desktop = desktop_of(host)
    checks = []
    for check_id in CHECK_IDS:
        status, j = judge(check_id, facts[check_id], policy, host.platform)
        entry = {
            "id": check_id,
            "status": status,
            "level": policy.level(check_id),
            "title": _title(check_id),
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


def _safe(fn):
    try:
        return fn()
    except Exception:  # noqa: BLE001
        return None


def worst_first(checks: list[dict]) -> list[dict]:
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    return sorted(checks, key=lambda c: -rank.get(c["status"], 0))
