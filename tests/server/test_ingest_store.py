"""Ingest's SQL (server/ingest_store.py): each store writes exactly what the rules decide,
and a report_id another server process stores while a batch is being written is answered
as a duplicate or a conflict, never stored twice. On SQLite and a real PostgreSQL."""
from __future__ import annotations

import datetime as dt
import json
from contextlib import contextmanager

from sqlalchemy import text

from server.db import make_engine, migrate, utcnow
from server.ingest import CONFLICT, DUPLICATE, STORED, Item, Writer, write_batch
from server.ingest_store import DEV_COLS, PsycopgStore, SqlStore, store_for
from server.mdm.records import normalise_serial, normalise_uuid, uuid_key
from server.models import Device
from server.security import sha256_hex

MAC = {"platform": "darwin", "hostname": "alice-mbp", "serial": "C02XK1JHJG5H",
       "hardware_uuid": "564D8E3A-1B2C-4D5E-8F90-A1B2C3D4E5F6", "os_name": "macOS",
       "os_version": "14.5"}
BOB = dict(MAC, hostname="bob-mbp", serial="C02BOB000001",
           hardware_uuid="AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE")
T0 = dt.datetime(2026, 11, 20, 9, 0, 0)


def _engine(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(Device.__table__.insert(), [dict(
            id=did, secret_hash=sha256_hex("s-" + did), enrolled_at=utcnow(), status="unknown",
            failing="", platform=d["platform"], serial=d["serial"], hardware_uuid=d["hardware_uuid"],
            serial_key=normalise_serial(d["serial"]), uuid_key=uuid_key(normalise_uuid(d["hardware_uuid"])),
            revoked_by="") for did, d in (("alice", MAC), ("bob", BOB))])
    return engine


def _item(dev, report_id, at, checks, device=None):
    status = "fail" if "fail" in checks.values() else "pass"
    body = json.dumps({"report_id": report_id, "checks": checks})
    return Item(device_id=dev, secret_hash=sha256_hex("s-" + dev), report_id=report_id,
                checked_at=at, status=status, device=device or (MAC if dev == "alice" else BOB),
                agent_version="1.0", checks=checks, body=body)


def _batches():
    """A device's week: first report, a check failing, a check gone, a new hostname, two
    reports in one batch, an old report that only fills a gap, a resend; bob alongside."""
    h = dt.timedelta(hours=1)
    return [
        [_item("alice", "a1", T0, {"firewall": "pass", "disk": "pass"})],
        [_item("alice", "a2", T0 + h, {"firewall": "fail", "disk": "pass"}),
         _item("bob", "b1", T0 + h, {"firewall": "pass"})],
        [_item("alice", "a3", T0 + 25 * h, {"firewall": "fail"}, dict(MAC, hostname="alice-new")),
         _item("alice", "a4", T0 + 26 * h, {"firewall": "pass", "screen_lock": "fail"}),
         _item("bob", "b2", T0 + 2 * h, {"firewall": "pass"})],
        [_item("alice", "a0", T0 - 48 * h, {"firewall": "pass"}),
         _item("alice", "a4", T0 + 26 * h, {"firewall": "pass", "screen_lock": "fail"}),
         _item("bob", "b3", T0 + 50 * h, {"firewall": "fail"})],
    ]


def _tables(engine):
    """Every row ingest writes, typed (received_at left out: the time of writing)."""
    from sqlalchemy import select

    from server.ingest_store import changes_t, checks_t, days_t, devices_t, reports_t
    q = {"devices": select(devices_t.c.id, *(devices_t.c[c] for c in DEV_COLS)).order_by(devices_t.c.id),
         "device_checks": select(checks_t).order_by(checks_t.c.device_id, checks_t.c.check_id),
         "device_days": select(days_t).order_by(days_t.c.device_id, days_t.c.day),
         "changes": select(changes_t.c.device_id, changes_t.c.at, changes_t.c.check_id,
                           changes_t.c.old_status, changes_t.c.new_status, changes_t.c.worse
                           ).order_by(changes_t.c.id),
         "reports": select(reports_t.c.report_id, reports_t.c.device_id, reports_t.c.checked_at,
                           reports_t.c.status, reports_t.c.body).order_by(reports_t.c.report_id)}
    with engine.connect() as conn:
        return {t: [tuple(r) for r in conn.execute(sql)] for t, sql in q.items()}


def test_each_store_writes_what_the_rules_decide(database_url):
    """The store chosen for the engine, and on PostgreSQL the SQLAlchemy store too (used
    with a driver other than psycopg): the same answers and the same rows."""
    engine = _engine(database_url)
    stores = [store_for(engine)]
    if engine.dialect.name == "postgresql":
        assert isinstance(stores[0], PsycopgStore)
        stores.append(SqlStore("postgresql"))
    else:
        assert isinstance(stores[0], SqlStore)
    seen = []
    for n, store in enumerate(stores):
        if n:
            with engine.begin() as conn:
                for t in ("changes", "device_days", "device_checks", "reports"):
                    conn.execute(text(f"DELETE FROM {t}"))
                conn.execute(text("UPDATE devices SET status = 'unknown', failing = '', "
                                  "last_checked_at = NULL, last_report_id = NULL"))
        answers = []
        for batch in _batches():
            out = write_batch(engine, batch, store)
            answers.append([out[id(i)] for i in batch])
        seen.append((answers, _tables(engine)))
    engine.dispose()
    answers, rows = seen[0]
    assert answers == [[STORED], [STORED, STORED], [STORED, STORED, STORED],
                       [STORED, DUPLICATE, STORED]]
    alice = rows["devices"][0]
    assert alice[0] == "alice" and alice[1:6] == ("fail", "screen_lock", T0 + dt.timedelta(hours=26),
                                                 T0 + dt.timedelta(hours=26), "a4")
    assert alice[DEV_COLS.index("hostname") + 1] == "alice-mbp"   # a4's device, the newest
    assert rows["device_checks"] == [("alice", "firewall", "pass"), ("alice", "screen_lock", "fail"),
                                     ("bob", "firewall", "fail")]
    days = [(d, str(day), s, f, json.loads(c)) for d, day, s, f, c in rows["device_days"]]
    assert days == [
        ("alice", "2026-11-18", "pass", "", {"firewall": "pass"}),
        ("alice", "2026-11-20", "fail", "firewall", {"firewall": "fail", "disk": "pass"}),
        ("alice", "2026-11-21", "fail", "screen_lock", {"firewall": "pass", "screen_lock": "fail"}),
        ("bob", "2026-11-20", "pass", "", {"firewall": "pass"}),
        ("bob", "2026-11-22", "fail", "firewall", {"firewall": "fail"})]
    changed = [(d, c, o, n, bool(w)) for d, _, c, o, n, w in rows["changes"]]
    assert ("alice", "firewall", "pass", "fail", True) in changed
    assert ("alice", "disk", "pass", None, False) not in changed   # a check gone is no change
    assert ("alice", "screen_lock", None, "fail", False) in changed
    assert ("alice", "firewall", "fail", "pass", False) in changed
    assert ("bob", "", "pass", "fail", True) in changed
    assert [r[0] for r in rows["reports"]] == ["a0", "a1", "a2", "a3", "a4", "b1", "b2", "b3"]
    for other in seen[1:]:
        assert other == seen[0]


class _Racing:
    """The engine's store, except that just before the batch's reports are inserted another
    connection (another server process) stores ``rows`` and commits."""

    def __init__(self, inner, engine, rows):
        self.inner, self.engine, self.rows = inner, engine, rows
        self.transactions = 0

    @contextmanager
    def transaction(self, bind):
        self.transactions += 1
        with self.inner.transaction(bind) as db:
            yield _RacingTx(db, self)


class _RacingTx:
    def __init__(self, db, racing):
        self.db, self.racing = db, racing

    def __getattr__(self, name):
        return getattr(self.db, name)

    def insert_reports(self, items, received_at):
        if self.racing.rows:
            rows, self.racing.rows = self.racing.rows, None
            with self.racing.engine.begin() as conn:
                conn.execute(text("INSERT INTO reports (report_id, device_id, checked_at, received_at, "
                                  "status, body) VALUES (:r, :d, :c, :c, 'pass', :b)"), rows)
        return self.db.insert_reports(items, received_at)


def test_a_report_another_process_stores_meanwhile_is_not_stored_twice(database_url):
    """Between the batch's look-up of its report_ids and its insert, another server process
    commits a report with one of them (for a device this batch has not locked: bob)."""
    engine = _engine(database_url)
    other = make_engine(database_url)
    resent = _item("alice", "r-same", T0, {"firewall": "pass"})
    write_batch(engine, [resent])
    resent = _item("alice", "r-same", T0, {"firewall": "pass"})   # the agent sends it again
    taken = _item("alice", "r-bobs", T0, {"firewall": "pass"})
    fresh = _item("alice", "r-new", T0 + dt.timedelta(minutes=1), {"firewall": "fail"})
    racing = _Racing(store_for(engine), other, [{"r": "r-bobs", "d": "bob", "c": T0, "b": "{}"}])
    writer = Writer(engine)
    writer.store = racing
    try:
        writer.write([resent, taken, fresh])
        got = [i.future.result(timeout=30) for i in (resent, taken, fresh)]
        rows = _tables(engine)
    finally:
        writer.stop()
        other.dispose()
        engine.dispose()
    assert got == [DUPLICATE, CONFLICT, STORED]
    assert [(r[0], r[1]) for r in rows["reports"]] == [("r-bobs", "bob"), ("r-new", "alice"),
                                                       ("r-same", "alice")]
    assert rows["devices"][0][DEV_COLS.index("last_report_id") + 1] == "r-new"
    if engine.dialect.name == "postgresql":
        # answered inside the batch's own transaction (ON CONFLICT DO NOTHING), not by
        # failing it and writing the reports one by one
        assert racing.transactions == 1
    else:
        assert racing.transactions == 4   # SQLite: the unique key fails the batch, then one by one


def test_prune_keeps_each_devices_newest_report(database_url):
    from server.ingest import prune
    engine = _engine(database_url)
    old = utcnow().replace(hour=9, minute=0, second=0) - dt.timedelta(days=3)
    try:
        write_batch(engine, [_item("alice", "a1", old, {"firewall": "pass"})])
        write_batch(engine, [_item("alice", "a2", old + dt.timedelta(hours=1), {"firewall": "fail"})])
        with engine.begin() as conn:
            conn.execute(text("UPDATE reports SET received_at = :t"), {"t": old})
        assert prune(engine, 1, 1) == {"reports": 1, "days": 1, "changes": 3}
        rows = _tables(engine)
    finally:
        engine.dispose()
    assert [r[0] for r in rows["reports"]] == ["a2"]
    assert rows["device_days"] == [] and rows["changes"] == []


def test_a_day_row_follows_each_checks_change(database_url):
    """device_days.checks is the day's newest report's {check: status}: a check moving between
    two statuses that leave the device's status and failing list alone (pass -> unknown)
    rewrites the row; the same report body again writes nothing new; a later report on the
    same day wins; a day before 0009 (checks NULL) keeps NULL until its state changes."""
    engine = _engine(database_url)
    h = dt.timedelta(hours=1)
    write_batch(engine, [_item("alice", "c1", T0, {"firewall": "pass", "disk": "pass"})])
    write_batch(engine, [_item("alice", "c2", T0 + h, {"firewall": "pass", "disk": "unknown"})])
    write_batch(engine, [_item("bob", "d1", T0, {"firewall": "pass"})])
    with engine.begin() as conn:   # as a day written before 0009 reads
        conn.execute(text("UPDATE device_days SET checks = NULL WHERE device_id = 'bob'"))
    write_batch(engine, [_item("bob", "d2", T0 + h, {"firewall": "pass"})])
    rows = _tables(engine)["device_days"]
    engine.dispose()
    assert [(d, str(day), s, f, c and json.loads(c)) for d, day, s, f, c in rows] == [
        ("alice", "2026-11-20", "pass", "", {"firewall": "pass", "disk": "unknown"}),
        ("bob", "2026-11-20", "pass", "", None)]
