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
import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field

from sqlalchemy import and_, delete, select, update
from sqlalchemy.engine import Engine

from .db import utcnow
from .models import Change, Device, DeviceCheck, DeviceDay, Report
from .schemas import RANK

log = logging.getLogger("checkup.server.ingest")

reports_t = Report.__table__
devices_t = Device.__table__
checks_t = DeviceCheck.__table__
days_t = DeviceDay.__table__
changes_t = Change.__table__

STORED, DUPLICATE, CONFLICT, UNAUTHORIZED = "stored", "duplicate", "conflict", "unauthorized"


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


class Writer:
    def __init__(self, engine: Engine, batch_max: int = 256):
        self.engine = engine
        self.batch_max = batch_max
        self.q: queue.Queue[Item | None] = queue.Queue()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._loop, name="checkup-writer", daemon=True)
            self.thread.start()

    def stop(self) -> None:
        if self.thread is not None:
            self.q.put(None)
            self.thread.join(timeout=30)
            self.thread = None

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
            results = write_batch(self.engine, batch)
        except Exception:  # noqa: BLE001 - retry one by one so one bad row fails alone
            log.exception("batch of %d failed; writing one by one", len(batch))
            results = {}
            for item in batch:
                try:
                    results.update(write_batch(self.engine, [item]))
                except Exception as exc:  # noqa: BLE001
                    log.exception("report %s not stored", item.report_id)
                    if not item.future.done():
                        item.future.set_exception(exc)
        for item in batch:
            if not item.future.done():
                item.future.set_result(results.get(id(item), STORED))


def write_batch(engine: Engine, batch: list[Item]) -> dict[int, str]:
    """Store a batch in one transaction. Returns {id(item): STORED|DUPLICATE|CONFLICT}."""
    now = utcnow()
    out: dict[int, str] = {}
    with engine.begin() as conn:
        # Authenticate the whole batch with one query (constant-time comparisons).
        claimed = sorted({i.device_id for i in batch})
        q = select(devices_t.c.id, devices_t.c.secret_hash, devices_t.c.status,
                   devices_t.c.failing, devices_t.c.last_checked_at, devices_t.c.last_report_id
                   ).where(devices_t.c.id.in_(claimed))
        if conn.dialect.name == "postgresql":
            q = q.with_for_update()
        state = {r.id: r for r in conn.execute(q)}
        authed = []
        for item in batch:
            row = state.get(item.device_id)
            if row is None or not hmac.compare_digest(item.secret_hash, row.secret_hash):
                out[id(item)] = UNAUTHORIZED
            else:
                authed.append(item)
        batch = authed
        ids = list({i.report_id for i in batch})
        if not ids:
            return out
        owner = dict(conn.execute(select(reports_t.c.report_id, reports_t.c.device_id)
                                  .where(reports_t.c.report_id.in_(ids))).all())
        new: list[Item] = []
        for item in batch:
            prev = owner.get(item.report_id)
            if prev is not None:
                out[id(item)] = DUPLICATE if prev == item.device_id else CONFLICT
                continue
            owner[item.report_id] = item.device_id
            new.append(item)
            out[id(item)] = STORED
        if not new:
            return out
        conn.execute(reports_t.insert(), [
            {"report_id": i.report_id, "device_id": i.device_id, "checked_at": i.checked_at,
             "received_at": now, "status": i.status, "body": i.body} for i in new])

        by_dev: dict[str, list[Item]] = {}
        for i in new:
            by_dev.setdefault(i.device_id, []).append(i)
        dev_ids = sorted(by_dev)
        old_checks: dict[str, dict[str, str]] = {}
        for r in conn.execute(select(checks_t.c.device_id, checks_t.c.check_id, checks_t.c.status)
                              .where(checks_t.c.device_id.in_(dev_ids))):
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
            d = latest.device
            dev_updates.append({
                "b_id": dev_id, "status": latest.status, "failing": _failing(latest.checks),
                "last_checked_at": latest.checked_at, "last_seen_at": min(latest.checked_at, now),
                "last_report_id": latest.report_id, "agent_version": latest.agent_version,
                "platform": d.get("platform"), "hostname": d.get("hostname"),
                "os_name": d.get("os_name"), "os_version": d.get("os_version"),
                "os_build": d.get("os_build"), "serial": d.get("serial"),
                "hardware_uuid": d.get("hardware_uuid"), "model": d.get("model")})
            before = old_checks.get(dev_id, {})
            check_rows.extend({"device_id": dev_id, "check_id": c, "status": s}
                              for c, s in latest.checks.items() if before.get(c) != s)
            check_gone.extend((dev_id, c) for c in before if c not in latest.checks)
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
        rest = [v for k, v in day_old.items() if k not in day_new]
        if rest:
            ins = dialect_insert(conn, days_t)
            conn.execute(ins.on_conflict_do_nothing(index_elements=["device_id", "day"]), rest)
    return out


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
