"""Evidence for auditors: what the fleet's devices reported on a given day.

For each day asked: every device that counted that day (enrolled by its end, not revoked
before it began) with its status that day, owner, OS and last report; for each check the
share of those devices that passed; the policy in force; a summary by control
(server/controls.toml, or the file ``[evidence] controls_file`` names).

Nothing is invented. "Reported that day" means the device has a ``device_days`` row for the
day: ingest writes one for every (UTC) day a report was checked on (the day's newest report
wins). A device without one says "no report". Days stored before migration 0009 know only
the failing checks: their per-check statuses read "not recorded", never "pass".
"""
from __future__ import annotations

import datetime as dt
import io
import json
import sys
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy.engine import Connection

from . import evidence_store as store
from .untrusted import write_csv

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

NO_REPORT = "no report"
NOT_RECORDED = "not recorded"     # the day is from before per-check history (0009)
MAX_DAYS = 92                     # --to: at most this many days in one report
PASSING = ("pass",)               # a check status that counts as passing
NOT_APPLICABLE = ("skip",)        # a control check that does not apply to the device


class EvidenceError(ValueError):
    """Input the report cannot answer (a bad or too-early date): the message says why."""


@dataclass(frozen=True)
class Control:
    framework: str
    id: str
    title: str
    checks: tuple[str, ...]


def parse_day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(text).strip())
    except ValueError:
        raise EvidenceError(f"{text!r} is not a date: use YYYY-MM-DD, e.g. 2026-09-30") from None


def load_controls(path: str = "") -> list[Control]:
    """The controls table: ``path`` (IT's copy) or the one shipped in server/controls.toml."""
    try:
        if path:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        else:
            data = tomllib.loads(resources.files("server").joinpath("controls.toml")
                                 .read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvidenceError(f"controls file {path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise EvidenceError(f"controls file {path or 'server/controls.toml'}: not valid TOML "
                            f"({exc})") from None
    out = []
    for n, c in enumerate(data.get("control", []), 1):
        checks = c.get("checks") if isinstance(c, dict) else None
        if not (isinstance(checks, list) and all(isinstance(x, str) for x in checks)
                and all(isinstance(c.get(k), str) for k in ("framework", "id"))):
            raise EvidenceError(f"controls file {path or 'server/controls.toml'}: control {n} "
                                "needs framework, id (text) and checks (a list of check ids)")
        out.append(Control(c["framework"], c["id"], str(c.get("title", "")), tuple(checks)))
    return out


def default_policy_text() -> str:
    return resources.files("agent").joinpath("default_policy.toml").read_text(encoding="utf-8")


def days_between(at: dt.date, to: dt.date | None) -> list[dt.date]:
    to = to or at
    if to < at:
        raise EvidenceError(f"--to {to} is before --at {at}")
    n = (to - at).days + 1
    if n > MAX_DAYS:
        raise EvidenceError(f"{n} days asked: at most {MAX_DAYS} in one report")
    return [at + dt.timedelta(days=i) for i in range(n)]


def check_days(conn: Connection, days: list[dt.date], today: dt.date) -> None:
    """Refuse days no report can speak for: before the first kept report, or after today."""
    first = store.first_day(conn)
    if first is None:
        raise EvidenceError("No device has reported yet: there is no evidence for any date.")
    if days[0] < first:
        raise EvidenceError(f"No report is kept from before {first.isoformat()}: "
                            f"{days[0].isoformat()} is earlier than any report the server has "
                            "(it keeps keep_history_days of daily status).")
    if days[-1] > today:
        raise EvidenceError(f"{days[-1].isoformat()} is in the future (today is {today.isoformat()}).")


def day_evidence(conn: Connection, day: dt.date, controls: list[Control]) -> dict[str, Any]:
    """The evidence for one day (see the module doc)."""
    devices = []
    for r in store.devices_on(conn, day):
        reported = r.status is not None
        checks = json.loads(r.checks) if reported and r.checks else None
        os_ = " ".join(x for x in (r.os_name, r.os_version) if x) or r.platform or ""
        devices.append({
            "device_id": r.id, "hostname": r.hostname or "", "owner": r.owner or "", "os": os_,
            "status": r.status if reported else NO_REPORT,
            "checks": checks if checks is not None else ({} if not reported else None),
            "failing": (r.failing or "").split(",") if reported and r.failing else [],
            "last_report": r.last_day.isoformat() if r.last_day else None,
        })
    total = len(devices)
    check_ids = sorted({c for d in devices for c in (d["checks"] or {})}
                       | {c for ctl in controls for c in ctl.checks})
    checks = []
    for cid in check_ids:
        counts: dict[str, int] = {}
        for d in devices:
            if d["status"] == NO_REPORT:
                st = NO_REPORT
            elif d["checks"] is None:
                st = NOT_RECORDED
            else:
                st = d["checks"].get(cid, "not reported")
            counts[st] = counts.get(st, 0) + 1
        passing = sum(counts.get(s, 0) for s in PASSING)
        checks.append({"check_id": cid, "devices": total, "passing": passing,
                       "share_passing": _share(passing, total), "statuses": counts})
    summary = []
    for ctl in controls:
        met = sum(1 for d in devices if _meets(d, ctl))
        summary.append({"framework": ctl.framework, "control": ctl.id, "title": ctl.title,
                        "checks": list(ctl.checks), "devices": total, "meeting": met,
                        "share_meeting": _share(met, total)})
    pol = store.policy_on(conn, day)
    policy = ({"source": "organisation", "saved_at": pol.saved_at.isoformat(timespec="seconds"),
               "saved_by": pol.saved_by, "text": pol.text}
              if pol is not None and pol.text.strip() else
              {"source": "default", "saved_at": pol.saved_at.isoformat(timespec="seconds") if pol
               else None, "saved_by": pol.saved_by if pol else None, "text": default_policy_text()})
    return {"date": day.isoformat(), "devices_counted": total,
            "devices_reported": sum(1 for d in devices if d["status"] != NO_REPORT),
            # reported, but on a day stored before per-check history (0009)
            "devices_without_detail": sum(1 for d in devices if d["checks"] is None),
            "checks": checks, "controls": summary, "policy": policy, "devices": devices}


def evidence(conn: Connection, days: list[dt.date], controls: list[Control],
             today: dt.date) -> dict[str, Any]:
    check_days(conn, days, today)
    return {"generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "days": [day_evidence(conn, d, controls) for d in days]}


def _meets(device: dict, ctl: Control) -> bool:
    """Every check of the control that the device reported that day passed or did not apply,
    and at least one passed."""
    checks = device["checks"]
    if not checks:
        return False
    got = [checks[c] for c in ctl.checks if c in checks]
    return (any(s in PASSING for s in got)
            and all(s in PASSING or s in NOT_APPLICABLE for s in got))


def _share(n: int, total: int) -> float | None:
    return round(n / total, 4) if total else None


def to_json(report: dict) -> str:
    return json.dumps(report, indent=2, ensure_ascii=True) + "\n"


def to_csv(report: dict) -> str:
    """One row per device per day, one column per check (formula-safe cells)."""
    check_ids = sorted({c["check_id"] for d in report["days"] for c in d["checks"]})
    header = ["date", "device_id", "hostname", "owner", "os", "status", "last_report", *check_ids]
    rows = []
    for day in report["days"]:
        for d in day["devices"]:
            if d["status"] == NO_REPORT:
                cells = [NO_REPORT] * len(check_ids)
            elif d["checks"] is None:
                cells = [NOT_RECORDED] * len(check_ids)
            else:
                cells = [d["checks"].get(c, "") for c in check_ids]
            rows.append([day["date"], d["device_id"], d["hostname"], d["owner"], d["os"],
                         d["status"], d["last_report"] or "", *cells])
    out = io.StringIO()
    write_csv(out, header, rows)
    return out.getvalue()
