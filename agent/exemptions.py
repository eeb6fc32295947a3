"""What the agent adds to a judged report from what it remembers (DESIGN "Exemptions",
"Grace periods"):

- **Exemptions.** IT's server owns them; ``reporting.Sender.pull_exemptions`` fetches this
  device's active ones and caches them here (``exemptions.json``) with their end day, so an
  exemption ends on its day even offline. A failing or nudging check with an exemption in force
  becomes status ``exempt``, summary "Exempt until 12 Jan (IT: reason).", no notification; the
  judged status is kept in ``exempt.status``.
- **Failing since.** The first day the agent saw each check fail or nudge is kept in
  ``failing-since.json``; the check carries ``failing_since`` and ``failing_days`` and its
  summary says "Failing for 40 days." (a nudge: "Like this for 40 days.") once a day old.
- **Grace.** A check that fails for fewer than its policy's ``grace_days`` is a nudge
  ("needs attention") until then; ``grace_until`` says when it counts as failing.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os

from .status import device_status

log = logging.getLogger("checkup")

CACHE_FILE = "exemptions.json"
SINCE_FILE = "failing-since.json"
PROBLEMS = ("fail", "nudge")


def _read(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        return data if isinstance(data, dict) else {}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("%s could not be read (%s); starting afresh", path, exc)
        return {}


def _write(path: str, data: dict) -> None:
    from .state import atomic_write_text
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True))


def _day(text: object) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        return None


def save_cache(state_dir: str, url: str, items: object) -> int:
    """Keep the server's answer (well-formed entries only). Returns how many were kept."""
    kept = []
    for e in items if isinstance(items, list) else []:
        if (isinstance(e, dict) and isinstance(e.get("check"), str) and _day(e.get("until"))
                and isinstance(e.get("reason"), str)):
            kept.append({"check": e["check"], "until": e["until"], "reason": e["reason"][:500]})
    _write(os.path.join(state_dir, CACHE_FILE), {"url": url, "exemptions": kept})
    return len(kept)


def forget_cache(state_dir: str) -> None:
    try:
        os.unlink(os.path.join(state_dir, CACHE_FILE))
    except FileNotFoundError:
        pass


def cached(state_dir: str, url: str | None, today: dt.date) -> dict[str, dict]:
    """check id -> {"until", "reason"} for the exemptions in force on ``today``."""
    data = _read(os.path.join(state_dir, CACHE_FILE))
    if url is None or data.get("url") != url:
        return {}
    found: dict[str, dict] = {}
    for e in data.get("exemptions") or []:
        until = _day(e.get("until")) if isinstance(e, dict) else None
        if until is not None and until >= today:
            found[e["check"]] = {"until": until.isoformat(), "reason": str(e.get("reason", ""))}
    return found


def shown_day(day: dt.date, today: dt.date) -> str:
    """12 Jan (this year), 12 Jan 2028 (another)."""
    text = f"{day.day} {day:%b}"
    return text if day.year == today.year else f"{text} {day.year}"


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def apply(report: dict, policy, state_dir: str | None, url: str | None,  # noqa: ANN001
          today: dt.date | None = None, remember: bool = True) -> dict:
    """Add exemptions, failing-since and grace to ``report`` (changed in place and returned).

    ``remember`` False reads the failing-since record without writing it (a replayed capture
    is not this machine)."""
    if today is None:
        today = dt.datetime.now(dt.timezone.utc).date()
    since_path = os.path.join(state_dir, SINCE_FILE) if state_dir else None
    since = _read(since_path) if since_path else {}
    exempt = cached(state_dir, url, today) if state_dir else {}
    new_since: dict[str, str] = {}
    for c in report.get("checks", []):
        cid, status = c.get("id"), c.get("status")
        if status not in PROBLEMS:
            continue
        first = _day(since.get(cid)) or today
        first = min(first, today)
        new_since[cid] = first.isoformat()
        days = (today - first).days
        c["failing_since"], c["failing_days"] = first.isoformat(), days
        grace = policy.grace_days(cid) if policy is not None else 0
        if status == "fail" and days < grace:
            end = first + dt.timedelta(days=grace)
            c["status"], c["grace_until"] = "nudge", end.isoformat()
            c["summary"] = (f"{c.get('summary', '')} Needs attention: it counts as failing "
                            f"from {shown_day(end, today)}.").strip()
        if days >= 1:
            lead = "Failing for" if status == "fail" else "Like this for"
            c["summary"] = f"{c.get('summary', '')} {lead} {_days(days)}.".strip()
        if cid in exempt:
            ex = exempt[cid]
            c["exempt"] = {"until": ex["until"], "reason": ex["reason"], "status": c["status"],
                           "summary": c.get("summary", "")}
            c["status"] = "exempt"
            c["summary"] = (f"Exempt until {shown_day(_day(ex['until']), today)} "
                            f"(IT: {ex['reason']}).")
    if remember and since_path and new_since != since:
        try:
            _write(since_path, new_since)
        except OSError as exc:
            log.warning("could not remember when checks started failing (%s)", exc)
    report["status"] = device_status(c.get("status") for c in report.get("checks", []))
    return report
