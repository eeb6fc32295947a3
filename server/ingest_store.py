"""The SQL behind ingest (server/ingest.py keeps the rules: what a report changes).

One small interface, one implementation per kind of database, chosen once per
engine by ``store_for``:

- ``PsycopgStore`` (PostgreSQL through psycopg): a constant, small number of
  statements per batch, each taking whole columns as arrays;
- ``SqlStore`` (SQLite, or PostgreSQL through another driver): SQLAlchemy Core,
  one executemany per table.

A batch is stored in one transaction: ``with store.transaction(bind) as db:``
gives an ``IngestTx`` whose methods read and write inside it. Rows read come
back with attribute access (``row.secret_hash``); rows to write go in as dicts
keyed by column name (devices also by ``b_id``, the device to update).
"""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Protocol, Sequence

from sqlalchemy import and_, bindparam, delete, select, update
from sqlalchemy.engine import Connection, Engine

from .models import Change, Device, DeviceCheck, DeviceDay, Report

if TYPE_CHECKING:
    from .ingest import Item

reports_t = Report.__table__
devices_t = Device.__table__
checks_t = DeviceCheck.__table__
days_t = DeviceDay.__table__
changes_t = Change.__table__

# the device columns a report writes, besides b_id (the device's id)
DEV_COLS = ("status", "failing", "last_checked_at", "last_seen_at", "last_report_id", "agent_version",
            "platform", "hostname", "os_name", "os_version", "os_build", "serial", "hardware_uuid",
            "model", "serial_key", "uuid_key")


@dataclass
class Writes:
    """Everything a batch changes besides the reports themselves, in the order applied."""
    devices: list[dict] = field(default_factory=list)         # b_id + DEV_COLS
    checks_gone: list[tuple[str, str]] = field(default_factory=list)   # (device_id, check_id)
    checks: list[dict] = field(default_factory=list)          # device_id, check_id, status: upserted
    changes: list[dict] = field(default_factory=list)         # device_id, at, check_id, old/new_status, worse
    days: list[dict] = field(default_factory=list)            # device_id, day, status, failing, checks: upserted
    days_fill: list[dict] = field(default_factory=list)       # same, written only where no row is


class IngestTx(Protocol):
    """Reads and writes inside one batch's transaction."""

    def devices(self, ids: Sequence[str]) -> dict[str, Any]:
        """id -> (id, secret_hash, status, failing, last_checked_at, last_report_id, platform,
        serial, hardware_uuid) of these devices, locked until commit where the database can
        (in id order, so two server processes cannot deadlock)."""

    def holder(self, serial_key: str | None, uuid_key_: str | None, exclude: str) -> Any:
        """The other device (revoked or not) holding this serial or UUID, or None."""

    def owners(self, report_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """report_id -> (device_id, body) of these reports the database has."""

    def insert_reports(self, items: Sequence[Item], received_at: dt.datetime) -> set[str]:
        """Store these reports; the report_ids stored. One another server process stored
        meanwhile is left as it is (not in the answer)."""

    def checks(self, device_ids: Sequence[str]) -> Sequence[Any]:
        """(device_id, check_id, status) rows of these devices."""

    def apply(self, w: Writes) -> None:
        """Write the rest of the batch."""


class IngestStore:
    """Chosen once per engine (``store_for``); holds no connection."""

    @contextmanager
    def transaction(self, bind: Engine | Connection) -> Iterator[IngestTx]:
        with bind.begin() as tx:
            conn = tx if isinstance(bind, Engine) else bind
            yield self.open(conn)

    def open(self, conn: Connection) -> IngestTx:
        raise NotImplementedError

    def prune(self, engine: Engine, reports_before: dt.datetime, days_before: dt.date,
              changes_before: dt.datetime) -> dict[str, int]:
        """Delete report bodies received before ``reports_before`` (a device's newest stays),
        days before ``days_before`` and changes before ``changes_before``: counts deleted."""
        out = {}
        with engine.begin() as conn:
            keep = select(devices_t.c.last_report_id).where(devices_t.c.last_report_id.is_not(None))
            r = conn.execute(delete(reports_t).where(and_(
                reports_t.c.received_at < reports_before, reports_t.c.report_id.not_in(keep))))
            out["reports"] = r.rowcount
            r = conn.execute(delete(days_t).where(days_t.c.day < days_before))
            out["days"] = r.rowcount
            r = conn.execute(delete(changes_t).where(changes_t.c.at < changes_before))
            out["changes"] = r.rowcount
        return out


def store_for(bind: Engine | Connection) -> IngestStore:
    """The store for this engine's database and driver."""
    dialect = bind.dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        return PsycopgStore()
    return SqlStore(dialect.name)


def _holder(conn: Connection, serial_key: str | None, uuid_key_: str | None, exclude: str):  # noqa: ANN202
    from .devices import holder
    return holder(conn, serial_key, uuid_key_, exclude=exclude)


# -- SQLAlchemy Core (SQLite; PostgreSQL through a driver other than psycopg) --

def dialect_insert(dialect_name: str, table):  # noqa: ANN001, ANN201
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


class SqlStore(IngestStore):
    def __init__(self, dialect_name: str):
        ids = bindparam("ids", expanding=True)
        self.q_devices = select(
            devices_t.c.id, devices_t.c.secret_hash, devices_t.c.status, devices_t.c.failing,
            devices_t.c.last_checked_at, devices_t.c.last_report_id, devices_t.c.platform,
            devices_t.c.serial, devices_t.c.hardware_uuid).where(devices_t.c.id.in_(ids))
        self.q_owners = select(reports_t.c.report_id, reports_t.c.device_id, reports_t.c.body
                               ).where(reports_t.c.report_id.in_(ids))
        self.q_checks = select(checks_t.c.device_id, checks_t.c.check_id, checks_t.c.status
                               ).where(checks_t.c.device_id.in_(ids))
        self.s_reports = reports_t.insert()
        self.s_devices = update(devices_t).where(devices_t.c.id == bindparam("b_id")).values(
            {c: bindparam(c) for c in DEV_COLS})
        self.s_checks_gone = delete(checks_t).where(checks_t.c.device_id == bindparam("d"),
                                                    checks_t.c.check_id == bindparam("c"))
        ins = dialect_insert(dialect_name, checks_t)
        self.s_checks = ins.on_conflict_do_update(index_elements=["device_id", "check_id"],
                                                  set_={"status": ins.excluded.status})
        self.s_changes = changes_t.insert()
        ins = dialect_insert(dialect_name, days_t)
        self.s_days = ins.on_conflict_do_update(
            index_elements=["device_id", "day"],
            set_={"status": ins.excluded.status, "failing": ins.excluded.failing,
                  "checks": ins.excluded.checks})
        self.s_days_fill = dialect_insert(dialect_name, days_t).on_conflict_do_nothing(
            index_elements=["device_id", "day"])

    def open(self, conn: Connection) -> IngestTx:
        return _SqlTx(self, conn)


class _SqlTx:
    def __init__(self, store: SqlStore, conn: Connection):
        self.s = store
        self.conn = conn

    def devices(self, ids: Sequence[str]) -> dict[str, Any]:
        return {r.id: r for r in self.conn.execute(self.s.q_devices, {"ids": list(ids)})}

    def holder(self, serial_key: str | None, uuid_key_: str | None, exclude: str) -> Any:
        return _holder(self.conn, serial_key, uuid_key_, exclude)

    def owners(self, report_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        return {r.report_id: (r.device_id, r.body)
                for r in self.conn.execute(self.s.q_owners, {"ids": list(report_ids)})}

    def insert_reports(self, items: Sequence[Item], received_at: dt.datetime) -> set[str]:
        # one writer at a time (SQLite): a report_id stored meanwhile cannot happen; on a
        # server-process database a unique violation fails the batch (then one by one)
        self.conn.execute(self.s.s_reports, [
            {"report_id": i.report_id, "device_id": i.device_id, "checked_at": i.checked_at,
             "received_at": received_at, "status": i.status, "body": i.body} for i in items])
        return {i.report_id for i in items}

    def checks(self, device_ids: Sequence[str]) -> Sequence[Any]:
        return self.conn.execute(self.s.q_checks, {"ids": list(device_ids)}).all()

    def apply(self, w: Writes) -> None:
        conn, s = self.conn, self.s
        if w.devices:
            conn.execute(s.s_devices, w.devices)
        if w.checks_gone:
            conn.execute(s.s_checks_gone, [{"d": d, "c": c} for d, c in w.checks_gone])
        if w.checks:
            conn.execute(s.s_checks, w.checks)
        if w.changes:
            conn.execute(s.s_changes, w.changes)
        if w.days:
            conn.execute(s.s_days, w.days)
        if w.days_fill:
            conn.execute(s.s_days_fill, w.days_fill)


# -- PostgreSQL through psycopg: a constant, small number of statements per batch --
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
PG_DAYS = ("INSERT INTO device_days (device_id, day, status, failing, checks) "
           "SELECT * FROM unnest(%b::varchar[], %b::date[], %b::varchar[], %b::varchar[], "
           "%b::text[]) ON CONFLICT (device_id, day) ")
PG_UPSERT_DAYS = PG_DAYS + ("DO UPDATE SET status = excluded.status, failing = excluded.failing, "
                            "checks = excluded.checks")
PG_FILL_DAYS = PG_DAYS + "DO NOTHING"

_DEV_KEYS = ("b_id",) + DEV_COLS
_CHECK_KEYS = ("device_id", "check_id", "status")
_CHANGE_KEYS = ("device_id", "at", "check_id", "old_status", "new_status", "worse")
_DAY_KEYS = ("device_id", "day", "status", "failing", "checks")


def _cols(rows: list[dict], keys: Sequence[str]) -> list[list]:
    return [[r[k] for r in rows] for k in keys]


class PsycopgStore(IngestStore):
    def open(self, conn: Connection) -> IngestTx:
        from psycopg.rows import namedtuple_row
        # the transaction's own psycopg connection; rows as named tuples
        return _PgTx(conn, conn.connection.driver_connection.cursor(row_factory=namedtuple_row))


class _PgTx:
    def __init__(self, conn: Connection, cur):  # noqa: ANN001
        self.conn = conn
        self.cur = cur

    def _all(self, sql: str, params: Sequence) -> list:
        self.cur.execute(sql, params, prepare=False)
        return self.cur.fetchall()

    def devices(self, ids: Sequence[str]) -> dict[str, Any]:
        return {r.id: r for r in self._all(PG_LOCK_DEVICES, (list(ids),))}

    def holder(self, serial_key: str | None, uuid_key_: str | None, exclude: str) -> Any:
        return _holder(self.conn, serial_key, uuid_key_, exclude)

    def owners(self, report_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        return {r.report_id: (r.device_id, r.body) for r in self._all(PG_OWNERS, (list(report_ids),))}

    def insert_reports(self, items: Sequence[Item], received_at: dt.datetime) -> set[str]:
        rows = self._all(PG_INSERT_REPORTS, (
            received_at, [i.report_id for i in items], [i.device_id for i in items],
            [i.checked_at for i in items], [i.status for i in items], [i.body for i in items]))
        return {r.report_id for r in rows}

    def checks(self, device_ids: Sequence[str]) -> Sequence[Any]:
        return self._all(PG_CHECKS, (list(device_ids),))

    def apply(self, w: Writes) -> None:
        cur = self.cur
        if w.devices:
            cur.execute(PG_UPDATE_DEVICES, _cols(w.devices, _DEV_KEYS), prepare=False)
        if w.checks_gone:
            cur.execute(PG_DELETE_CHECKS, ([d for d, _ in w.checks_gone], [c for _, c in w.checks_gone]),
                        prepare=False)
        if w.checks:
            cur.execute(PG_UPSERT_CHECKS, _cols(w.checks, _CHECK_KEYS), prepare=False)
        if w.changes:
            cur.execute(PG_INSERT_CHANGES, _cols(w.changes, _CHANGE_KEYS), prepare=False)
        if w.days:
            cur.execute(PG_UPSERT_DAYS, _cols(w.days, _DAY_KEYS), prepare=False)
        if w.days_fill:
            cur.execute(PG_FILL_DAYS, _cols(w.days_fill, _DAY_KEYS), prepare=False)
