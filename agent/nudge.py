"""When to tell the person something: pure functions, no clock, no I/O.

``evaluate(state, report, now, rules) -> (new_state, Notification | None)``

* A check that newly turns ``fail`` or ``nudge`` (or worsens nudge -> fail) is
  due at once.
* A problem that stays is reminded: ``fail`` at most every
  ``remind_required_hours`` (24 h), ``nudge`` at most every
  ``remind_suggested_hours`` (7 days).
* Nothing during quiet hours or quiet days; what is due waits until they end.
  A "fixed" thank-you that falls in quiet hours is dropped, not queued.
* ``unknown`` never notifies and does not end a problem (a probe that timed out
  once does not make a failing check "new" again). ``skip`` ends it silently.
* All that is due goes into one notification.
* A check that failed, was reported, and passes again gets a short thank-you.
* Snooze (per check): no reminder before the chosen time; at most
  ``max_snoozes`` deferrals per problem, after which snooze is not offered.
* A check that flaps (fail, pass, fail) is not re-announced within
  ``FLAP_GUARD`` of its last notification.

``now`` is an aware datetime in the person's local time zone; quiet hours are
read from its wall clock.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .strings import t, tn

PROBLEM = ("fail", "nudge")
FLAP_GUARD = 3600.0
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass
class Rules:
    enabled: bool = True
    quiet: tuple[int, int] | None = (19 * 60, 9 * 60)   # minutes after midnight, [start, end)
    quiet_days: frozenset[int] = frozenset({5, 6})       # Monday = 0
    remind_required_s: float = 24 * 3600.0
    remind_suggested_s: float = 168 * 3600.0
    max_snoozes: int = 3
    problems: list[str] = field(default_factory=list)    # settings that could not be used

    @classmethod
    def from_settings(cls, settings: Any) -> "Rules":
        """Read ``[notifications]`` from agent.config Settings (or any ``get(section, key)``)."""
        r = cls()

        def get(key, default):
            v = settings.get("notifications", key) if settings is not None else None
            return default if v is None else v

        r.enabled = bool(get("enabled", True))
        r.quiet, bad = parse_quiet_hours(get("quiet_hours", "19:00-09:00"))
        if bad:
            r.problems.append(bad)
        r.quiet_days, bad = parse_quiet_days(get("quiet_days", ["sat", "sun"]))
        if bad:
            r.problems.append(bad)
        r.remind_required_s = _hours(get("remind_required_hours", 24), 24) * 3600.0
        r.remind_suggested_s = _hours(get("remind_suggested_hours", 168), 168) * 3600.0
        ms = get("max_snoozes", 3)
        r.max_snoozes = ms if isinstance(ms, int) and not isinstance(ms, bool) and ms >= 0 else 3
        return r


def _hours(v: Any, default: float) -> float:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0:
        return float(v)
    return float(default)


def parse_quiet_hours(text: Any) -> tuple[tuple[int, int] | None, str | None]:
    """"19:00-09:00" -> ((1140, 540), None); "" -> (None, None); junk -> (default, problem)."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None, None
    m = _HHMM.match(text) if isinstance(text, str) else None
    if m:
        h1, m1, h2, m2 = (int(x) for x in m.groups())
        if h1 <= 24 and h2 <= 24 and m1 < 60 and m2 < 60:
            start, end = (h1 * 60 + m1) % 1440, (h2 * 60 + m2) % 1440
            return (None if start == end else (start, end)), None
    return (19 * 60, 9 * 60), f"notifications.quiet_hours {text!r} is not like '19:00-09:00'; using 19:00-09:00"


def parse_quiet_days(days: Any) -> tuple[frozenset[int], str | None]:
    if not isinstance(days, (list, tuple)):
        return frozenset({5, 6}), "notifications.quiet_days must be a list like ['sat', 'sun']"
    out, bad = set(), []
    for d in days:
        key = str(d).strip().lower()[:3]
        if key in DAYS:
            out.add(DAYS.index(key))
        else:
            bad.append(str(d))
    return frozenset(out), (f"notifications.quiet_days: unknown day(s) {', '.join(bad)}" if bad else None)


def is_quiet(now: datetime, rules: Rules) -> bool:
    if now.weekday() in rules.quiet_days:
        return True
    if not rules.quiet:
        return False
    start, end = rules.quiet
    minute = now.hour * 60 + now.minute
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


def quiet_ends(now: datetime, rules: Rules) -> datetime:
    """The first minute at or after ``now`` that is not quiet (``now`` when not quiet)."""
    probe = now.replace(second=0, microsecond=0)
    for _ in range(8 * 24 * 4):          # 15-minute steps, at most 8 days ahead
        if not is_quiet(probe, rules):
            return max(probe, now)
        probe += timedelta(minutes=15)
    return now


@dataclass
class Notification:
    title: str
    body: str                      # without a "click here" hint; the notifier adds the right one
    problems: list[dict]           # [{"id", "title", "summary", "status"}], worst first
    fixed: list[dict]
    target: str | None             # check id whose fix page a click opens; None = the overview
    snoozable: list[str]

    @property
    def kind(self) -> str:
        return "problems" if self.problems else "fixed"


def _remind_s(status: str, rules: Rules) -> float:
    return rules.remind_required_s if status == "fail" else rules.remind_suggested_s


def _next_due(rec: dict, rules: Rules) -> float | None:
    """Epoch seconds when this problem is next due (None when there is no problem)."""
    if rec.get("problem") not in PROBLEM:
        return None
    if rec.get("notified_at") is None:
        due = (rec.get("last_notice") or -1e18) + FLAP_GUARD
    else:
        due = rec["notified_at"] + _remind_s(rec["problem"], rules)
    if rec.get("snoozed_until"):
        due = max(due, rec["snoozed_until"])
    return due


def evaluate(state: dict, report: dict, now: datetime, rules: Rules) -> tuple[dict, Notification | None]:
    """Fold one check's report into ``state``; say what (if anything) to show now."""
    new = copy.deepcopy(state) if state else {"version": 1, "checks": {}}
    records: dict[str, dict] = new.setdefault("checks", {})
    ts = now.timestamp()
    due: list[dict] = []
    fixed: list[dict] = []
    for check in report.get("checks", []):
        cid, status = check.get("id"), check.get("status")
        if not isinstance(cid, str):
            continue
        rec = records.setdefault(cid, {})
        rec["title"] = check.get("title") or cid
        rec["status"] = status
        if status in PROBLEM:
            newly = rec.get("problem") not in PROBLEM or (rec.get("problem") == "nudge" and status == "fail")
            if newly:
                if rec.get("problem") not in PROBLEM:      # a new problem: fresh snooze budget
                    rec["snoozes"] = 0
                rec["since"] = ts
                rec["notified_at"] = None
                rec["snoozed_until"] = None
            rec["problem"] = status
            nxt = _next_due(rec, rules)
            if nxt is not None and ts >= nxt:
                due.append({"id": cid, "title": rec["title"], "summary": check.get("summary") or "",
                            "status": status, "level": check.get("level")})
        elif status == "pass":
            if rec.get("problem") in PROBLEM and rec.get("notified_at") is not None:
                fixed.append({"id": cid, "title": rec["title"]})
            _clear(rec)
        elif status in ("skip", "exempt"):   # exempt: IT excused it, so no reminders until it ends
            _clear(rec)
        # unknown (or anything else): keep the problem as it was, never notify

    if not rules.enabled or is_quiet(now, rules) or not (due or fixed):
        return new, None

    due.sort(key=lambda d: (0 if d["status"] == "fail" else 1))
    for d in due:
        rec = records[d["id"]]
        rec["notified_at"] = ts
        rec["last_notice"] = ts
        rec["snoozed_until"] = None
    new["last_notified_at"] = ts
    return new, _compose(due, fixed, records, rules)


def _clear(rec: dict) -> None:
    rec["problem"] = None
    rec["notified_at"] = None
    rec["snoozed_until"] = None
    rec["snoozes"] = 0


def _compose(due: list[dict], fixed: list[dict], records: dict, rules: Rules) -> Notification:
    lines: list[str] = []
    if due:
        if len(due) == 1:
            key = "notify.title_one" if due[0]["status"] == "fail" else "notify.title_nudge_one"
            title = t(key, title=due[0]["title"])
        elif any(d["status"] == "fail" for d in due):
            title = tn("notify.title", len(due))
        else:
            title = tn("notify.title_nudge", len(due))
        if fixed:
            lines.append(t("notify.fixed_and_more", titles=", ".join(f["title"] for f in fixed)))
        shown = due[:3]
        lines += [f"• {d['summary'] or d['title']}" for d in shown]
        if len(due) > len(shown):
            lines.append(t("notify.more", n=len(due) - len(shown)))
    else:
        title = (t("notify.fixed_title_one", title=fixed[0]["title"]) if len(fixed) == 1
                 else tn("notify.fixed_title", len(fixed)))
        lines.append(t("notify.fixed_body"))
    snoozable = [d["id"] for d in due if records[d["id"]].get("snoozes", 0) < rules.max_snoozes]
    target = due[0]["id"] if len(due) == 1 else None
    return Notification(title=title, body="\n".join(lines), problems=due, fixed=fixed,
                        target=target, snoozable=snoozable)


def current_problems(state: dict) -> list[str]:
    return [cid for cid, rec in state.get("checks", {}).items() if rec.get("problem") in PROBLEM]


def can_snooze(state: dict, check_id: str, rules: Rules) -> bool:
    rec = state.get("checks", {}).get(check_id) or {}
    return rec.get("problem") in PROBLEM and rec.get("snoozes", 0) < rules.max_snoozes


def snoozable(state: dict, rules: Rules) -> list[str]:
    return [cid for cid in current_problems(state) if can_snooze(state, cid, rules)]


def snooze(state: dict, check_ids: list[str], until: datetime, rules: Rules) -> tuple[dict, list[str]]:
    """No reminder for these checks before ``until``. Uses one deferral per check
    only when it actually postpones the next reminder. Returns (new_state, snoozed ids)."""
    new = copy.deepcopy(state)
    done = []
    until_ts = until.timestamp()
    for cid in check_ids:
        rec = new.get("checks", {}).get(cid)
        if not rec or not can_snooze(new, cid, rules):
            continue
        nxt = _next_due(rec, rules)
        if nxt is not None and nxt >= until_ts:
            done.append(cid)            # already quiet until then; costs nothing
            continue
        rec["snoozed_until"] = until_ts
        rec["snoozes"] = rec.get("snoozes", 0) + 1
        done.append(cid)
    return new, done


def snooze_hour(now: datetime) -> datetime:
    return now + timedelta(hours=1)


def snooze_tomorrow(now: datetime, rules: Rules) -> datetime:
    """Tomorrow at the end of quiet hours (09:00 by default), skipping quiet days."""
    start = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    end_min = rules.quiet[1] if rules.quiet else 9 * 60
    morning = start.replace(hour=end_min // 60, minute=end_min % 60)
    return quiet_ends(morning, rules)


def next_due_at(state: dict, rules: Rules) -> float | None:
    """Earliest epoch time a reminder could become due (for the scheduler)."""
    times = [n for rec in state.get("checks", {}).values() if (n := _next_due(rec, rules)) is not None]
    return min(times) if times else None
