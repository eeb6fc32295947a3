"""Trends (server/trends.py) on SQLite and PostgreSQL: device-days written by real ingest,
the SVG's numbers and the page (Chromium + axe-core)."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import text

from server.db import make_engine, migrate, utcnow
from server.ingest import write_batch
from server import trends_store
from server.trends import svg, trends
from tests.server.test_evidence import _item, _seed


def _seed_recent(database_url):
    """alice, bob on two recent days (bob's first day without per-check detail)."""
    _seed(database_url)   # devices and November history
    engine = make_engine(database_url)
    migrate(engine)
    today = utcnow().date()
    y = dt.datetime.combine(today - dt.timedelta(days=1), dt.time(9))
    write_batch(engine, [_item("alice", "r1", y, {"firewall": "fail", "disk_encryption": "pass"}),
                         _item("bob", "r2", y, {"firewall": "pass", "disk_encryption": "pass"})])
    with engine.begin() as conn:
        conn.execute(text("UPDATE device_days SET checks = NULL WHERE device_id = 'bob' AND day = :d"),
                     {"d": y.date()})
    t = y + dt.timedelta(days=1)
    write_batch(engine, [_item("alice", "r3", t, {"firewall": "pass", "disk_encryption": "pass"}),
                         _item("bob", "r4", t, {"firewall": "pass", "disk_encryption": "unknown"})])
    return engine, today


def test_trend_numbers_match_the_device_days(database_url):
    engine, today = _seed_recent(database_url)
    with engine.connect() as conn:
        overall, per = trends(conn, today)
    engine.dispose()
    assert len(overall.days) == 90 and overall.days[-1] == today
    assert overall.counts["healthy"][-1] == 2 and overall.counts["failing"][-1] == 0
    assert overall.counts["healthy"][-2] == 1 and overall.counts["failing"][-2] == 1
    # before: only the seeded November days (alice, bob on the 18th; alice on the 19th)
    counted = {d: overall.total(i) for i, d in enumerate(overall.days[:88]) if overall.total(i)}
    seeded = {dt.date(2026, 11, 18): 2, dt.date(2026, 11, 19): 1}
    assert counted == {d: n for d, n in seeded.items() if d >= overall.days[0]}
    fw = next(s for s in per if s.name == "Firewall")
    assert fw.passing[-2:] == [0, 2] and fw.not_recorded[-2] == 1   # bob's day: not recorded
    assert fw.counts["failing"][-2] == 1 and fw.share(89) == 1.0
    de = next(s for s in per if s.name == "Disk encryption")
    assert de.counts["needs attention"][-1] == 1 and de.share(89) == 0.5
    chart = svg(fw)
    label = re.search(r'aria-label="([^"]*)"', chart).group(1)
    assert f"On {today}: 2 healthy, 0 needs attention, 0 failing; 2 passing." in label
    assert "<title>Firewall</title>" in chart and "<polyline" in chart


def test_the_trends_page(live_server, database_url):
    import axekit
    import requests
    why = axekit.skip_reason()
    if why:
        pytest.skip(why)
    srv = live_server
    engine, today = _seed_recent(database_url)
    engine.dispose()
    user, password = srv.admin()
    with axekit.axe_browser() as b:
        b.goto(srv.url + "/trends")
        b.fill("#username", user)
        b.fill("#password", password)
        b.submit_by_click("#login")
        assert b.url.endswith("/trends")
        names = b.js("[...document.querySelectorAll('section.trend h2')].map(h => h.innerText)")
        november = today - dt.timedelta(days=89) <= dt.date(2026, 11, 18)   # seeded screen_lock
        assert names == ["All checks", "Disk encryption", "Firewall"] + ["Screen lock"] * november
        label = b.js("document.querySelector('#trend-0 svg').getAttribute('aria-label')")
        assert f"On {today}: 2 healthy, 0 needs attention, 0 failing." in label
        cells = b.js("[...document.querySelectorAll('#trend-2 tbody tr:last-child td')]"
                     ".map(td => td.textContent)")
        assert cells == [today.isoformat(), "2", "0", "0", "2 (100%)", "0"]
        assert axekit.serious(b) == []
    assert requests.get(srv.url + "/trends", allow_redirects=False, timeout=30).status_code == 303


def test_devices_in_the_same_state_are_counted_by_the_database(database_url):
    """Ingest writes the checks JSON canonically, so the store groups identical states: the
    counts are the same as one row per device (3 alike + 1 other on one day)."""
    _seed(database_url)   # four enrolled devices: alice, bob, carol, dave
    engine = make_engine(database_url)
    day = utcnow().replace(microsecond=0)
    alike = {"firewall": "pass", "disk_encryption": "fail"}
    write_batch(engine, [_item(d, f"same-{d}", day, dict(alike)) for d in ("alice", "bob", "carol")]
                + [_item("dave", "odd1", day, {"firewall": "fail", "disk_encryption": "fail"})])
    with engine.connect() as conn:
        rows = list(trends_store.day_checks(conn, day.date(), day.date()))
        overall, per = trends(conn, day.date(), days=1)
    assert sorted(n for _, _, n in rows) == [1, 3]
    fw = next(s for s in per if s.name == "Firewall")
    assert (fw.passing, fw.counts["failing"]) == ([3], [1])
    de = next(s for s in per if s.name == "Disk encryption")
    assert de.counts["failing"] == [4] and overall.counts["failing"] == [4]
    engine.dispose()


def test_finished_days_are_kept_and_a_late_report_redoes_its_day(database_url):
    """Days before yesterday are counted once and kept (trend_days); the page reads them back
    with the same numbers; a report arriving late for such a day makes it counted again."""
    _seed(database_url)
    engine = make_engine(database_url)
    today = utcnow().date()
    old = dt.datetime.combine(today - dt.timedelta(days=5), dt.time(9))
    write_batch(engine, [_item("alice", "k1", old, {"firewall": "fail", "disk_encryption": "pass"})])
    with engine.connect() as conn:
        first = trends(conn, today)
    with engine.connect() as conn:
        kept = {tuple(r) for r in conn.execute(text(
            "SELECT check_id, status, devices FROM trend_days WHERE day = :d"), {"d": old.date()})}
        again = trends(conn, today)
    assert ("firewall", "fail", 1) in kept and ("~", "computed", 0) in kept
    assert [(s.name, s.counts, s.passing) for s in [first[0], *first[1]]] == \
        [(s.name, s.counts, s.passing) for s in [again[0], *again[1]]]
    i = first[0].days.index(old.date())
    assert first[0].counts["failing"][i] == 1
    # bob's report for that day arrives late (queued offline): the day is counted again
    write_batch(engine, [_item("bob", "k2", old, {"firewall": "pass", "disk_encryption": "pass"})])
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM trend_days WHERE day = :d"),
                            {"d": old.date()}).scalar() == 0
        overall, per = trends(conn, today)
    assert overall.counts["healthy"][i] == 1 and overall.counts["failing"][i] == 1
    fw = next(s for s in per if s.name == "Firewall")
    assert fw.passing[i] == 1
    engine.dispose()


def test_the_server_counts_finished_days_in_the_background(database_url):
    """What the server's hourly job runs (and once 30 s after start): every finished day of
    the window is kept, so the first IT visit reads them instead of counting."""
    from server.app import create_app
    from server.config import load_config
    _seed(database_url)
    cfg = load_config(None, environ={})
    cfg.set("server", "database_url", database_url)
    app = create_app(cfg)
    app.state.checkup._warm_trends()
    engine = make_engine(database_url)
    with engine.connect() as conn:
        marked = conn.execute(text("SELECT count(*) FROM trend_days WHERE check_id = '~'")).scalar()
    engine.dispose()
    assert marked == 90 - 2   # today and yesterday stay live
