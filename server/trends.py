"""Trends for IT: per day over the last 90 days, how many devices were healthy / needed
attention / were failing, overall and per check, and per check the share of devices passing.

Counted from ``device_days`` (one row per device per day it reported; the day's newest report
wins): a day counts the devices that reported that day, nothing is carried over. Per-check
counts come from ``device_days.checks``; days stored before migration 0009 have none and are
counted as "per-check detail not recorded". Charts are server-rendered SVG with a title, a
description and a table of the same numbers.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection

from . import trends_store as store
from .fleet import check_title

log = logging.getLogger("checkup.server")

DAYS = 90
# status -> band, table-driven: a status not listed here (a new one) counts as "other"
BANDS = ("healthy", "needs attention", "failing", "other")
BAND_OF = {"pass": "healthy", "skip": "healthy", "nudge": "needs attention",
           "unknown": "needs attention", "fail": "failing"}
COLOURS = {"healthy": "#17692d", "needs attention": "#8a5a00", "failing": "#b3261e",
           "other": "#555d66"}


@dataclass
class Series:
    name: str
    days: list[dt.date]
    counts: dict[str, list[int]] = field(default_factory=dict)   # band -> per day
    passing: list[int] = field(default_factory=list)              # per check: status "pass"
    not_recorded: list[int] = field(default_factory=list)         # per check: no detail that day

    def total(self, i: int) -> int:
        return sum(self.counts[b][i] for b in BANDS)

    def share(self, i: int) -> float | None:
        t = self.total(i)
        return self.passing[i] / t if t and self.passing else None


LIVE_DAYS = 2   # today and yesterday are counted live every time (their reports still arrive)
OVERALL, NO_DETAIL, MARK = "", "*", "~"   # trend_days' special check ids (migration 0012)


def _count(conn: Connection, since: dt.date, until: dt.date) -> dict[tuple, int]:
    """(day, check_id, status) -> devices for the days in [since, until], from device_days;
    check_id OVERALL is the device's status, NO_DETAIL counts days without per-check detail."""
    out: dict[tuple, int] = {}
    for day, status, n in store.status_counts(conn, since, until):
        out[(day, OVERALL, status)] = out.get((day, OVERALL, status), 0) + n
    for day, checks, n in store.day_checks(conn, since, until):
        pairs = [(NO_DETAIL, "not_recorded")] if checks is None else json.loads(checks).items()
        for cid, st in pairs:
            out[(day, cid, st)] = out.get((day, cid, st), 0) + n
    return out


def _runs(days: list[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Contiguous runs of days, as (first, last): one query per run."""
    runs: list[list[dt.date]] = []
    for d in days:
        if runs and (d - runs[-1][1]).days == 1:
            runs[-1][1] = d
        else:
            runs.append([d, d])
    return [(a, b) for a, b in runs]


def counts(conn: Connection, day_list: list[dt.date], today: dt.date) -> dict[tuple, int]:
    """The counts of every day in ``day_list``: finished days from trend_days where kept,
    else computed and kept (committed on ``conn``); the last LIVE_DAYS days always live."""
    kept_until = today - dt.timedelta(days=LIVE_DAYS)
    out: dict[tuple, int] = {}
    done: set[dt.date] = set()
    for day, cid, st, n in store.kept_days(conn, day_list[0], kept_until):
        if cid == MARK:
            done.add(day)
        else:
            out[(day, cid, st)] = n
    missing = [d for d in day_list if d <= kept_until and d not in done]
    fresh: dict[tuple, int] = {}
    for a, b in _runs(missing):
        fresh.update(_count(conn, a, b))
    if missing:
        rows = [{"day": d, "check_id": c, "status": st, "devices": n} for (d, c, st), n in fresh.items()]
        rows += [{"day": d, "check_id": MARK, "status": "computed", "devices": 0} for d in missing]
        try:
            store.keep_days(conn, rows)
            conn.commit()
        except Exception as exc:  # noqa: BLE001 - a read-only database still shows the page
            conn.rollback()
            log.warning("trends: could not keep the counts of %d days (%s: %s)", len(missing),
                        type(exc).__name__, exc)
    out.update(fresh)
    live = [d for d in day_list if d > kept_until]
    if live:
        out.update(_count(conn, live[0], live[-1]))
    return out


def trends(conn: Connection, today: dt.date, days: int = DAYS) -> tuple[Series, list[Series]]:
    since = today - dt.timedelta(days=days - 1)
    day_list = [since + dt.timedelta(days=i) for i in range(days)]
    index = {d: i for i, d in enumerate(day_list)}
    overall = Series("All checks", day_list, {b: [0] * days for b in BANDS})
    per: dict[str, Series] = {}
    no_detail = [0] * days
    found = counts(conn, day_list, today)
    for (day, cid, st), n in found.items():
        if cid == OVERALL:
            overall.counts[BAND_OF.get(st, "other")][index[day]] += n
        elif cid == NO_DETAIL:
            no_detail[index[day]] += n
    for (day, cid, st), n in sorted(found.items(), key=lambda kv: kv[0][1]):
        if cid in (OVERALL, NO_DETAIL):
            continue
        s = per.get(cid)
        if s is None:
            s = per[cid] = Series(check_title(cid), day_list, {b: [0] * days for b in BANDS},
                                  [0] * days, no_detail)
        i = index[day]
        s.counts[BAND_OF.get(st, "other")][i] += n
        if st == "pass":
            s.passing[i] += n
    return overall, [per[c] for c in sorted(per)]


def svg(s: Series, width: int = 720, height: int = 180) -> str:
    """Stacked bars per day (devices by band) and, per check, a line: the share passing."""
    from markupsafe import escape
    left, right, top, bottom = 40, 44, 10, 22
    w, h = width - left - right, height - top - bottom
    n = len(s.days)
    peak = max([s.total(i) for i in range(n)] + [1])
    bw = w / n
    parts = []
    for i in range(n):
        y = top + h
        for b in BANDS:
            c = s.counts[b][i]
            if not c:
                continue
            bh = h * c / peak
            y -= bh
            parts.append(f'<rect x="{left + i * bw:.1f}" y="{y:.1f}" width="{max(bw - 1, 1):.1f}" '
                         f'height="{bh:.1f}" fill="{COLOURS[b]}"/>')
    if s.passing:
        runs, run = [], []   # a day without data breaks the line: nothing is drawn across it
        for i in range(n):
            sh = s.share(i)
            if sh is None:
                run = []
                continue
            if not run:
                runs.append(run)
            run.append(f"{left + (i + .5) * bw:.1f},{top + h * (1 - sh):.1f}")
        for pts in runs:
            if len(pts) == 1:
                x, y = pts[0].split(",")
                parts.append(f'<circle cx="{x}" cy="{y}" r="2.5" fill="#1f4e9c"/>')
            else:
                parts.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="#1f4e9c" '
                             'stroke-width="2"/>')
        parts.append(f'<text x="{width - right + 4}" y="{top + 8}" font-size="10">100%</text>'
                     f'<text x="{width - right + 4}" y="{top + h}" font-size="10">0%</text>')
    axis = (f'<line x1="{left}" y1="{top + h}" x2="{left + w}" y2="{top + h}" stroke="#555d66"/>'
            f'<text x="{left - 4}" y="{top + 8}" font-size="10" text-anchor="end">{peak}</text>'
            f'<text x="{left - 4}" y="{top + h}" font-size="10" text-anchor="end">0</text>'
            f'<text x="{left}" y="{height - 6}" font-size="10">{s.days[0].isoformat()}</text>'
            f'<text x="{left + w}" y="{height - 6}" font-size="10" text-anchor="end">'
            f'{s.days[-1].isoformat()}</text>')
    last = n - 1
    desc = (f"Devices per day from {s.days[0]} to {s.days[-1]}. On {s.days[last]}: "
            + ", ".join(f"{s.counts[b][last]} {b}" for b in BANDS if b != "other" or s.counts[b][last])
            + (f"; {s.passing[last]} passing" if s.passing else "") + ".")
    name = escape(s.name)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{name}: {escape(desc)}" class="trend"><title>{name}</title>'
            f'<desc>{escape(desc)}</desc>{axis}{"".join(parts)}</svg>')


def legend() -> str:
    """The bands' colours and the share line, as one small SVG (no inline styles)."""
    from markupsafe import escape
    items, x = [], 0
    for b in BANDS[:-1]:
        items.append(f'<rect x="{x}" y="3" width="10" height="10" fill="{COLOURS[b]}"/>'
                     f'<text x="{x + 14}" y="12" font-size="12">{escape(b)}</text>')
        x += 14 + 8 * len(b) + 16
    items.append(f'<line x1="{x}" y1="8" x2="{x + 16}" y2="8" stroke="#1f4e9c" stroke-width="2"/>'
                 f'<text x="{x + 20}" y="12" font-size="12">share passing (per check)</text>')
    x += 20 + 8 * 26
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {x} 16" width="{x}" height="16" '
            'role="img" aria-label="Legend: green healthy, amber needs attention, red failing, '
            f'blue line share passing"><title>Legend</title>{"".join(items)}</svg>')
