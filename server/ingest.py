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

from sqlalchemy.engine import Connection, Engine

from .db import utcnow
from .ingest_store import IngestStore, IngestTx, Writes, store_for
from .mdm.records import normalise_serial, normalise_uuid, uuid_key
from .schemas import RANK

log = logging.getLogger("checkup.server.ingest")

STORED, DUPLICATE, CONFLICT, UNAUTHORIZED = "stored", "duplicate", "conflict", "unauthorized"
IDENTITY = "identity"   # the report is from another machine than the one enrolled (item.why)
TAKEN = "taken"         # it names a serial/UUID another enrolled device holds (item.why)
REUSED = "reused"       # this device already sent this report_id with another body


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
        self.store = store_for(engine)   # the SQL for this engine's database, chosen once
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
            return write_batch(self.conn, batch, self.store)
        except Exception:
            conn, self.conn = self.conn, None
            try:
                conn.invalidate()
                conn.close()
            except Exception:  # noqa: BLE001
                log.debug("closing the writer's connection failed", exc_info=True)
            raise


def write_batch(bind: Engine | Connection, batch: list[Item],
                store: IngestStore | None = None) -> dict[int, str]:
    """Store a batch in one transaction. Returns {id(item): STORED|DUPLICATE|CONFLICT|
    UNAUTHORIZED|IDENTITY|TAKEN|REUSED}. ``store``: the engine's (``store_for``), chosen
    once by the writer."""
    now = utcnow()
    out: dict[int, str] = {}
    if store is None:
        store = store_for(bind)
    with store.transaction(bind) as db:
        # Authenticate the whole batch with one query (constant-time comparisons).
        state = db.devices(sorted({i.device_id for i in batch}))
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
                item.why = _taken(db, item.device_id, *(n if w is None else None for w, n in gained))
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
        owner = db.owners(ids)
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
        stored = db.insert_reports(new, now)
        if len(stored) != len(new):
            # a report_id another server process stored meanwhile: answered as a
            # duplicate/conflict, not stored twice
            lost = [i for i in new if i.report_id not in stored]
            owner = db.owners([i.report_id for i in lost])
            for i in lost:
                out[id(i)] = _resent(i, *owner.get(i.report_id, (None, None)))
            new = [i for i in new if i.report_id in stored]
            if not new:
                return out

        by_dev: dict[str, list[Item]] = {}
        for i in new:
            by_dev.setdefault(i.device_id, []).append(i)
        dev_ids = sorted(by_dev)
        old_checks: dict[str, dict[str, str]] = {}
        for r in db.checks(dev_ids):
            old_checks.setdefault(r.device_id, {})[r.check_id] = r.status

        w = Writes()
        day_new, day_old = {}, {}
        for dev_id in dev_ids:
            row = state.get(dev_id)
            if row is None:
                continue
            last = row.last_checked_at
            cur_status = row.status if row.last_report_id else None
            cur_checks = dict(old_checks.get(dev_id, {}))
            # the day row as it stands: a report that changes nothing there writes nothing
            # (the device's checks stand for the row's: the row was written from them)
            day_state = ((last.date(), row.status, day_checks(cur_checks))
                         if cur_status and last else None)
            latest = None
            for item in sorted(by_dev[dev_id], key=lambda i: i.checked_at):
                day_key = (dev_id, item.checked_at.date())
                checks_json = day_checks(item.checks)
                day_row = {"device_id": dev_id, "day": item.checked_at.date(),
                           "status": item.status, "failing": _failing(item.checks),
                           "checks": checks_json}
                if last is not None and item.checked_at < last:
                    day_old.setdefault(day_key, day_row)  # an old report: fills a gap only
                    continue
                if day_state != (day_key[1], item.status, checks_json):
                    day_new[day_key] = day_row
                    day_state = (day_key[1], item.status, checks_json)
                at = min(item.checked_at, now)
                if cur_status != item.status:
                    w.changes.append({"device_id": dev_id, "at": at, "check_id": "",
                                      "old_status": cur_status, "new_status": item.status,
                                      "worse": is_worse(cur_status, item.status)})
                for cid, st in item.checks.items():
                    old = cur_checks.get(cid) if cur_status is not None else None
                    if old != st and cur_status is not None:
                        w.changes.append({"device_id": dev_id, "at": at, "check_id": cid,
                                          "old_status": old, "new_status": st,
                                          "worse": is_worse(old, st)})
                cur_status, cur_checks, last, latest = item.status, dict(item.checks), item.checked_at, item
            if latest is None:
                continue
            d = dict(latest.device, **raw[dev_id])
            skey, ukey = known[dev_id][1], known[dev_id][2]
            w.devices.append({
                "b_id": dev_id, "status": latest.status, "failing": _failing(latest.checks),
                "last_checked_at": latest.checked_at, "last_seen_at": min(latest.checked_at, now),
                "last_report_id": latest.report_id, "agent_version": latest.agent_version,
                "platform": d.get("platform"), "hostname": d.get("hostname"),
                "os_name": d.get("os_name"), "os_version": d.get("os_version"),
                "os_build": d.get("os_build"), "serial": d.get("serial"),
                "hardware_uuid": d.get("hardware_uuid"), "model": d.get("model"),
                "serial_key": skey, "uuid_key": ukey})
            before = old_checks.get(dev_id, {})
            w.checks.extend({"device_id": dev_id, "check_id": c, "status": s}
                            for c, s in latest.checks.items() if before.get(c) != s)
            w.checks_gone.extend((dev_id, c) for c in before if c not in latest.checks)
        w.days = list(day_new.values())
        w.days_fill = [v for k, v in day_old.items() if k not in day_new]
        db.apply(w)
        late = {d["day"] for d in w.days + w.days_fill} if w.days or w.days_fill else set()
        late = {d for d in late if d < now.date() - dt.timedelta(days=1)}
        if late:        # a late report changed a finished day: its trend counts are redone
            from .trends_store import forget_days
            forget_days(db.conn, late)
        if w.changes:   # outgoing alerts: outbox rows in this transaction, no network here
            from .webhooks import on_ingest
            on_ingest(db.conn, w.changes, w.devices)
    return out


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


def _taken(db: IngestTx, device_id: str, serial_key: str | None, uuid_key_: str | None) -> str:
    """What of a newly known serial/UUID another device (revoked or not) holds; '' = none."""
    other = db.holder(serial_key, uuid_key_, exclude=device_id)
    if other is None:
        return ""
    if serial_key and other.serial_key == serial_key:
        return f"serial ({serial_key})"
    return f"hardware UUID ({uuid_key_})"


def day_checks(checks: dict[str, str]) -> str:
    """A device-day's ``checks``: {check_id: status} as compact JSON, keys sorted (one text per
    state, so an unchanged day compares equal and writes nothing)."""
    return json.dumps(checks, sort_keys=True, separators=(",", ":"))


def _failing(checks: dict[str, str]) -> str:
    return ",".join(sorted(c for c, s in checks.items() if s in ("fail", "nudge")))[:1024]


def prune(engine: Engine, keep_reports_days: int, keep_history_days: int) -> dict[str, int]:
    """Drop report bodies and history past their retention (a device's newest report stays)."""
    now = utcnow()
    history = now - dt.timedelta(days=keep_history_days)
    return store_for(engine).prune(engine, reports_before=now - dt.timedelta(days=keep_reports_days),
                                   days_before=history.date(), changes_before=history)
