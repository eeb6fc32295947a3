"""Writing reports: one writer thread per server process, group commit.

A request hands its validated report to the writer and waits for the
transaction that stores it to commit, so a 202 always means "on disk". Under
load the writer takes everything queued at once and stores it in one
transaction (one fsync for many reports), which is what makes SQLite ingest
fast; several server processes on PostgreSQL each run their own writer.
"""
from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field

from sqlalchemy import and_, delete, select, update
from sqlalchemy.engine import Connection, Engine

from .db import utcnow
from .mdm.records import normalise_serial, normalise_uuid, uuid_key
from .models import Change, Device, DeviceCheck, DeviceDay, Report
from .schemas import RANK

log = logging.getLogger("checkup.server.ingest")

reports_t = Report.__table__
devices_t = Device.__table__
checks_t = DeviceCheck.__table__
days_t = DeviceDay.__table__
changes_t = Change.__table__

STORED, DUPLICATE, CONFLICT, UNAUTHORIZED = "stored", "duplicate", "conflict", "unauthorized"
IDENTITY = "identity"   # the report is from another machine than the one enrolled (item.why)
TAKEN = "taken"         # it names a serial/UUID another enrolled device holds (item.why)
REUSED = "reused"       # this device already sent this report_id with another body


def dialect_insert(engine_or_conn, table):
    if engine_or_conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def is_worse(old: str | None, new: str) -> bool:
    """Moved into nudge or fail from a better status (a first report is not 'worse')."""
    return old is not None and new in ("nudge", "fail") and RANK.get(new, 0) > RANK.get(old, 0)


@dataclass
class Item:
    device_id: str
    secret_hash: str
    report_id: str
    checked_at: dt.datetime
    status: str
    device: dict
    agent_version: str | None
    checks: dict[str, str]
    body: str
    future: Future = field(default_factory=Future)
    why: str = ""   # set with IDENTITY: what changed


class Writer:
    def __init__(self, engine: Engine, batch_max: int = 256):
        self.engine = engine
        self.batch_max = batch_max
        self.q: queue.Queue[Item | None] = queue.Queue()
        self.thread: threading.Thread | None = None
        self.conn: Connection | None = None

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._loop, name="checkup-writer", daemon=True)
            self.thread.start()

    def stop(self) -> None:
        if self.thread is not None:
            self.q.put(None)
            self.thread.join(timeout=30)
            if self.thread.is_alive():
                return  # still writing: it keeps its connection
            self.thread = None
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def submit(self, item: Item) -> Future:
        self.q.put(item)
        return item.future

    def _loop(self) -> None:
        while True:
            first = self.q.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self.batch_max:
                try:
                    nxt = self.q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            self.write(batch)
            if stop:
                return

    def write(self, batch: list[Item]) -> None:
        try:
            results = self._write(batch)
        except Exception:  # noqa: BLE001 - retry one by one so one bad row fails alone
            log.exception("batch of %d failed; writing one by one", len(batch))
            results = {}
            for item in batch:
                try:
                    results.update(self._write([item]))
                except Exception as exc:  # noqa: BLE001
                    log.exception("report %s not stored", item.report_id)
                    if not item.future.done():
                        item.future.set_exception(exc)
        for item in batch:
            if not item.future.done():
                item.future.set_result(results.get(id(item), STORED))

    def _write(self, batch: list[Item]) -> dict[int, str]:
        """write_batch on the writer's own connection, kept between batches (no pool
        checkout and liveness ping per batch); after any error it is dropped and the
        next batch takes a fresh, pinged one."""
        if self.conn is None:
            self.conn = self.engine.connect()
        try:
            return write_batch(self.conn, batch)
        except Exception:
            conn, self.conn = self.conn, None
            try:
                conn.invalidate()
                conn.close()
            except Exception:  # noqa: BLE001
                log.debug("closing the writer's connection failed", exc_info=True)
            raise


def write_batch(bind: Engine | Connection, batch: list[Item]) -> dict[int, str]:
    """Store a batch in one transaction. Returns {id(item): STORED|DUPLICATE|CONFLICT|
    UNAUTHORIZED|IDENTITY|TAKEN|REUSED}."""
    now = utcnow()
    out: dict[int, str] = {}
    with bind.begin() as tx:
        conn = tx if isinstance(bind, Engine) else bind
        # Authenticate the whole batch with one query (constant-time comparisons).
        claimed = sorted({i.device_id for i in batch})
        pg = _pg_cursor(conn)
        if pg is not None:
            # rows locked in id order, so two server processes cannot deadlock on them
            pg.execute(PG_LOCK_DEVICES, (claimed,), prepare=False)
            state = {r.id: r for r in pg.fetchall()}
        else:
            q = select(devices_t.c.id, devices_t.c.secret_hash, devices_t.c.status,
                       devices_t.c.failing, devices_t.c.last_checked_at, devices_t.c.last_report_id,
                       devices_t.c.platform, devices_t.c.serial, devices_t.c.hardware_uuid
                       ).where(devices_t.c.id.in_(claimed))
            state = {r.id: r for r in conn.execute(q)}
        authed = []
        known: dict[str, tuple] = {}   # device -> identity as stored, completed by this batch
        raw: dict[str, dict] = {}      # device -> platform/serial/hardware_uuid as written
        for item in batch:
            row = state.get(item.device_id)
            # a revoked device's secret_hash is "revoked": no presented hash equals it
            if row is None or not hmac.compare_digest(item.secret_hash, row.secret_hash):
                out[id(item)] = UNAUTHORIZED
                continue
            was = known.get(item.device_id) or _identity(row.platform, row.serial, row.hardware_uuid)
            now_is = _identity(item.device.get("platform"), item.device.get("serial"),
                               item.device.get("hardware_uuid"))
            item.why = _identity_change(was, now_is)
            if item.why:
                out[id(item)] = IDENTITY
                continue
            # a serial or UUID known for the first time must not be another device's
            gained = [(w, n) for w, n in zip(was[1:], now_is[1:])]
            if any(w is None and n is not None for w, n in gained):
                item.why = _taken(conn, item.device_id, *(n if w is None else None for w, n in gained))
                if item.why:
                    out[id(item)] = TAKEN
                    continue
            known[item.device_id] = tuple(a or b for a, b in zip(was, now_is))
            cur = raw.setdefault(item.device_id, {"platform": row.platform, "serial": row.serial,
                                                  "hardware_uuid": row.hardware_uuid})
            for k, key in zip(("platform", "serial", "hardware_uuid"), now_is):
                if key is not None:   # an unknown value never clears a known one
                    cur[k] = item.device.get(k)
            authed.append(item)
        batch = authed
        ids = list({i.report_id for i in batch})
        if not ids:
            return out
        if pg is not None:
            pg.execute(PG_OWNERS, (ids,), prepare=False)
            owner = {r.report_id: (r.device_id, r.body) for r in pg.fetchall()}
        else:
            owner = {r.report_id: (r.device_id, r.body) for r in conn.execute(
                select(reports_t.c.report_id, reports_t.c.device_id, reports_t.c.body)
                .where(reports_t.c.report_id.in_(ids)))}
        new: list[Item] = []
        for item in batch:
            prev = owner.get(item.report_id)
            if prev is not None:
                out[id(item)] = _resent(item, *prev)
                continue
            owner[item.report_id] = (item.device_id, item.body)
            new.append(item)
            out[id(item)] = STORED
        if not new:
            return out
        if pg is not None:
            new = _pg_insert_reports(pg, new, now, out)
            if not new:
                return out
        else:
            conn.execute(reports_t.insert(), [
                {"report_id": i.report_id, "device_id": i.device_id, "checked_at": i.checked_at,
                 "received_at": now, "status": i.status, "body": i.body} for i in new])

        by_dev: dict[str, list[Item]] = {}
        for i in new:
            by_dev.setdefault(i.device_id, []).append(i)
        dev_ids = sorted(by_dev)
        old_checks: dict[str, dict[str, str]] = {}
        if pg is not None:
            pg.execute(PG_CHECKS, (dev_ids,), prepare=False)
            rows = pg.fetchall()
        else:
            rows = conn.execute(select(checks_t.c.device_id, checks_t.c.check_id, checks_t.c.status)
                                .where(checks_t.c.device_id.in_(dev_ids)))
        for r in rows:
            old_checks.setdefault(r.device_id, {})[r.check_id] = r.status

        change_rows, day_new, day_old, check_rows, dev_updates = [], {}, {}, [], []
        check_gone: list[tuple[str, str]] = []
        for dev_id in dev_ids:
            row = state.get(dev_id)
            if row is None:
                continue
            last = row.last_checked_at
            cur_status = row.status if row.last_report_id else None
            cur_checks = dict(old_checks.get(dev_id, {}))
            # the day row as it stands: a report that changes nothing there writes nothing
            day_state = (last.date(), row.status, row.failing) if cur_status and last else None
            latest = None
            for item in sorted(by_dev[dev_id], key=lambda i: i.checked_at):
                day_key = (dev_id, item.checked_at.date())
                day_row = {"device_id": dev_id, "day": item.checked_at.date(),
                           "status": item.status, "failing": _failing(item.checks)}
                if last is not None and item.checked_at < last:
                    day_old.setdefault(day_key, day_row)  # an old report: fills a gap only
                    continue
                if day_state != (day_key[1], item.status, day_row["failing"]):
                    day_new[day_key] = day_row
                    day_state = (day_key[1], item.status, day_row["failing"])
                at = min(item.checked_at, now)
                if cur_status != item.status:
                    change_rows.append({"device_id": dev_id, "at": at, "check_id": "",
                                        "old_status": cur_status, "new_status": item.status,
                                        "worse": is_worse(cur_status, item.status)})
                for cid, st in item.checks.items():
                    old = cur_checks.get(cid) if cur_status is not None else None
                    if old != st and cur_status is not None:
                        change_rows.append({"device_id": dev_id, "at": at, "check_id": cid,
                                            "old_status": old, "new_status": st,
                                            "worse": is_worse(old, st)})
                cur_status, cur_checks, last, latest = item.status, dict(item.checks), item.checked_at, item
            if latest is None:
                continue
            d = dict(latest.device, **raw[dev_id])
            skey, ukey = known[dev_id][1], known[dev_id][2]
            dev_updates.append({
                "b_id": dev_id, "status": latest.status, "failing": _failing(latest.checks),
                "last_checked_at": latest.checked_at, "last_seen_at": min(latest.checked_at, now),
                "last_report_id": latest.report_id, "agent_version": latest.agent_version,
                "platform": d.get("platform"), "hostname": d.get("hostname"),
                "os_name": d.get("os_name"), "os_version": d.get("os_version"),
                "os_build": d.get("os_build"), "serial": d.get("serial"),
                "hardware_uuid": d.get("hardware_uuid"), "model": d.get("model"),
                "serial_key": skey, "uuid_key": ukey})
            before = old_checks.get(dev_id, {})
            check_rows.extend({"device_id": dev_id, "check_id": c, "status": s}
                              for c, s in latest.checks.items() if before.get(c) != s)
            check_gone.extend((dev_id, c) for c in before if c not in latest.checks)
        rest = [v for k, v in day_old.items() if k not in day_new]
        if pg is not None:
            _pg_apply(pg, dev_updates, check_gone, check_rows, change_rows, list(day_new.values()), rest)
            return out
        if dev_updates:
            from sqlalchemy import bindparam
            cols = [k for k in dev_updates[0] if k != "b_id"]
            conn.execute(update(devices_t).where(devices_t.c.id == bindparam("b_id"))
                         .values({c: bindparam(c) for c in cols}), dev_updates)
        for dev_id, check_id in check_gone:
            conn.execute(delete(checks_t).where(checks_t.c.device_id == dev_id,
                                                checks_t.c.check_id == check_id))
        if check_rows:
            ins = dialect_insert(conn, checks_t)
            conn.execute(ins.on_conflict_do_update(index_elements=["device_id", "check_id"],
                                                   set_={"status": ins.excluded.status}), check_rows)
        if change_rows:
            conn.execute(changes_t.insert(), change_rows)
        if day_new:
            ins = dialect_insert(conn, days_t)
            conn.execute(ins.on_conflict_do_update(
                index_elements=["device_id", "day"],
                set_={"status": ins.excluded.status, "failing": ins.excluded.failing}),
                list(day_new.values()))
        if rest:
            ins = dialect_insert(conn, days_t)
            conn.execute(ins.on_conflict_do_nothing(index_elements=["device_id", "day"]), rest)
    return out


# -- PostgreSQL: a constant, small number of statements per batch ------------
# Each statement takes whole columns as arrays (unnest), so a batch of any size
# is one round trip per table rather than one statement per row, and the
# statement text never changes with the batch size; arrays go in binary (no
# escaping of report bodies in Python). They are sent unprepared:
# a plan cached while a table was still small (a fresh server) would keep
# seq-scanning it after it grew.

PG_LOCK_DEVICES = ("SELECT id, secret_hash, status, failing, last_checked_at, last_report_id, "
                   "platform, serial, hardware_uuid "
                   "FROM devices WHERE id = ANY(%b::varchar[]) ORDER BY id FOR UPDATE")
PG_OWNERS = "SELECT report_id, device_id, body FROM reports WHERE report_id = ANY(%b::varchar[])"
PG_CHECKS = ("SELECT device_id, check_id, status FROM device_checks "
             "WHERE device_id = ANY(%b::varchar[])")
PG_INSERT_REPORTS = (
    "INSERT INTO reports (report_id, device_id, checked_at, received_at, status, body) "
    "SELECT r, d, c, %b::timestamp, s, b FROM unnest(%b::varchar[], %b::varchar[], "
    "%b::timestamp[], %b::varchar[], %b::text[]) AS t(r, d, c, s, b) "
    "ON CONFLICT (report_id) DO NOTHING RETURNING report_id")
DEV_COLS = ("status", "failing", "last_checked_at", "last_seen_at", "last_report_id", "agent_version",
            "platform", "hostname", "os_name", "os_version", "os_build", "serial", "hardware_uuid",
            "model", "serial_key", "uuid_key")
_DEV_TYPES = {"last_checked_at": "timestamp", "last_seen_at": "timestamp"}
PG_UPDATE_DEVICES = (
    "UPDATE devices AS d SET " + ", ".join(f"{c} = v.{c}" for c in DEV_COLS) +
    " FROM unnest(%b::varchar[], " +
    ", ".join(f"%b::{_DEV_TYPES.get(c, 'varchar')}[]" for c in DEV_COLS) +
    ") AS v(b_id, " + ", ".join(DEV_COLS) + ") WHERE d.id = v.b_id")
PG_DELETE_CHECKS = (
    "DELETE FROM device_checks AS x USING unnest(%b::varchar[], %b::varchar[]) AS g(d, c) "
    "WHERE x.device_id = g.d AND x.check_id = g.c")
PG_UPSERT_CHECKS = (
    "INSERT INTO device_checks (device_id, check_id, status) "
    "SELECT * FROM unnest(%b::varchar[], %b::varchar[], %b::varchar[]) "
    "ON CONFLICT (device_id, check_id) DO UPDATE SET status = excluded.status")
PG_INSERT_CHANGES = (
    "INSERT INTO changes (device_id, at, check_id, old_status, new_status, worse) "
    "SELECT * FROM unnest(%b::varchar[], %b::timestamp[], %b::varchar[], %b::varchar[], "
    "%b::varchar[], %b::boolean[])")
PG_DAYS = ("INSERT INTO device_days (device_id, day, status, failing) "
           "SELECT * FROM unnest(%b::varchar[], %b::date[], %b::varchar[], %b::varchar[]) "
           "ON CONFLICT (device_id, day) ")
PG_UPSERT_DAYS = PG_DAYS + "DO UPDATE SET status = excluded.status, failing = excluded.failing"
PG_FILL_DAYS = PG_DAYS + "DO NOTHING"


def _pg_cursor(conn):  # noqa: ANN001, ANN202
    """A psycopg cursor on the transaction's connection (rows as named tuples), or None."""
    if conn.dialect.name != "postgresql" or conn.dialect.driver != "psycopg":
        return None
    from psycopg.rows import namedtuple_row
    return conn.connection.driver_connection.cursor(row_factory=namedtuple_row)


def _cols(rows: list[dict], keys) -> list[list]:  # noqa: ANN001
    return [[r[k] for r in rows] for k in keys]


def _pg_insert_reports(pg, new: list[Item], now: dt.datetime, out: dict[int, str]) -> list[Item]:  # noqa: ANN001
    """Insert the batch's new reports in one statement; a report_id another server
    process stored meanwhile is answered as a duplicate/conflict, not stored twice."""
    pg.execute(PG_INSERT_REPORTS, (now, [i.report_id for i in new], [i.device_id for i in new],
                                   [i.checked_at for i in new], [i.status for i in new],
                                   [i.body for i in new]), prepare=False)
    stored = {r.report_id for r in pg.fetchall()}
    if len(stored) == len(new):
        return new
    lost = [i for i in new if i.report_id not in stored]
    pg.execute(PG_OWNERS, ([i.report_id for i in lost],), prepare=False)
    owner = {r.report_id: (r.device_id, r.body) for r in pg.fetchall()}
    for i in lost:
        out[id(i)] = _resent(i, *owner.get(i.report_id, (None, None)))
    return [i for i in new if i.report_id in stored]


def _pg_apply(pg, dev_updates, check_gone, check_rows, change_rows, day_new, day_old) -> None:  # noqa: ANN001
    if dev_updates:
        pg.execute(PG_UPDATE_DEVICES, _cols(dev_updates, ("b_id",) + DEV_COLS), prepare=False)
    if check_gone:
        pg.execute(PG_DELETE_CHECKS, ([d for d, _ in check_gone], [c for _, c in check_gone]),
                   prepare=False)
    if check_rows:
        pg.execute(PG_UPSERT_CHECKS, _cols(check_rows, ("device_id", "check_id", "status")),
                   prepare=False)
    if change_rows:
        pg.execute(PG_INSERT_CHANGES, _cols(change_rows, ("device_id", "at", "check_id", "old_status",
                                                          "new_status", "worse")), prepare=False)
    day_keys = ("device_id", "day", "status", "failing")
    if day_new:
        pg.execute(PG_UPSERT_DAYS, _cols(day_new, day_keys), prepare=False)
    if day_old:
        pg.execute(PG_FILL_DAYS, _cols(day_old, day_keys), prepare=False)


def _identity(platform, serial, hardware_uuid) -> tuple:  # noqa: ANN001
    """(platform, normalised serial, one key for the UUID in either byte order); placeholders
    and unknown values are None."""
    return (platform or None, normalise_serial(serial), uuid_key(normalise_uuid(hardware_uuid)))


def _identity_change(was: tuple, now_is: tuple) -> str:
    """What makes a report another machine than the enrolled one ('' = the same): the
    platform never changes; the serial and hardware UUID only from or to unknown. The
    hostname may change (DESIGN)."""
    for what, old, new in zip(("platform", "serial", "hardware UUID"), was, now_is):
        if old is not None and new is not None and old != new:
            return f"{what} {old}, this report says {new}"
    return ""


def _resent(item: Item, owner: str | None, body: str | None) -> str:
    """A report_id the server has: the same report sent again (the agent's at-least-once
    resend: DUPLICATE), another device's (CONFLICT), or this device's with another body
    (REUSED)."""
    if owner != item.device_id:
        return CONFLICT
    if body == item.body:
        return DUPLICATE
    try:
        return DUPLICATE if json.loads(body or "null") == json.loads(item.body) else REUSED
    except ValueError:
        return REUSED


def _taken(conn, device_id: str, serial_key: str | None, uuid_key_: str | None) -> str:  # noqa: ANN001
    """What of a newly known serial/UUID another device (revoked or not) holds; '' = none."""
    from .devices import holder
    other = holder(conn, serial_key, uuid_key_, exclude=device_id)
    if other is None:
        return ""
    if serial_key and other.serial_key == serial_key:
        return f"serial ({serial_key})"
    return f"hardware UUID ({uuid_key_})"


def _failing(checks: dict[str, str]) -> str:
    return ",".join(sorted(c for c, s in checks.items() if s in ("fail", "nudge")))[:1024]


def prune(engine: Engine, keep_reports_days: int, keep_history_days: int) -> dict[str, int]:
    """Drop report bodies and history past their retention (a device's newest report stays)."""
    now = utcnow()
    out = {}
    with engine.begin() as conn:
        keep = select(devices_t.c.last_report_id).where(devices_t.c.last_report_id.is_not(None))
        r = conn.execute(delete(reports_t).where(and_(
            reports_t.c.received_at < now - dt.timedelta(days=keep_reports_days),
            reports_t.c.report_id.not_in(keep))))
        out["reports"] = r.rowcount
        r = conn.execute(delete(days_t).where(
            days_t.c.day < (now - dt.timedelta(days=keep_history_days)).date()))
        out["days"] = r.rowcount
        r = conn.execute(delete(changes_t).where(
            changes_t.c.at < now - dt.timedelta(days=keep_history_days)))
        out["changes"] = r.rowcount
    return out
