"""MDM inventories in the server database: sync, load, reconcile, schedule.

``sync_source`` streams a connector's records into ``mdm_records`` in batches
(one page-sized transaction at a time, so memory stays bounded). Each row
carries the sync's id; only a sync that *finished* deletes the source's rows it
did not see. An interrupted sync (crash, network, Ctrl-C) therefore leaves the
previous inventory in place plus whatever it had refreshed, and the next run
completes it. ``sync_all`` skips sources that are not configured and never lets
one failing source stop the others.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from dataclasses import dataclass, fields, replace
from typing import Any, Callable, Iterable, Mapping

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import Engine

from ..models import Device, MdmRecordRow, MdmSync, Report
from ..reconcile import AgentDevice, agent_device_from_report, reconcile
from ..untrusted import storable
from . import CONNECTORS
from .http import MdmError
from .records import MdmRecord, normalise_serial, normalise_uuid, swap_uuid

log = logging.getLogger("checkup.server.mdm")
BATCH = 500
UTC = dt.timezone.utc


def _naive(when: dt.datetime | None) -> dt.datetime | None:
    return when.astimezone(UTC).replace(tzinfo=None) if when else None


def _aware(when: dt.datetime | None) -> dt.datetime | None:
    return when.replace(tzinfo=UTC) if when and when.tzinfo is None else when


def _now() -> dt.datetime:
    return dt.datetime.now(UTC).replace(microsecond=0)


@dataclass
class SyncResult:
    source: str
    status: str            # ok | failed | skipped
    message: str
    records: int = 0
    skipped: int = 0

    def line(self) -> str:
        word = {"ok": "synced", "failed": "FAILED", "skipped": "skipped"}[self.status]
        return f"{self.source}: {word}: {self.message}"


def mdm_config(cfg: Any, source: str) -> dict:
    """The [mdm.SOURCE] table of a ServerConfig (or a plain mapping); Ivanti's also gets
    ``email_domain`` from ``[people] ivanti_email_domain`` (login names -> emails)."""
    values = cfg.values if hasattr(cfg, "values") else (cfg or {})
    out = dict(values.get(f"mdm.{source}", {}))
    if source == "ivanti" and "email_domain" not in out:
        out["email_domain"] = str((values.get("people") or {}).get("ivanti_email_domain") or "")
    return out


def update_owners(engine: Engine) -> dict[str, int]:
    """Owners from the MDMs' users (reconcile.mdm_owner_plan, applied by server.owners:
    never over IT's owner or a claim; each change audited as ``mdm:<source>``)."""
    from ..owners import apply_mdm_owners
    from ..reconcile import mdm_owner_plan
    counts = apply_mdm_owners(engine, mdm_owner_plan(load_agents(engine), load_records(engine)))
    if counts.get("set") or counts.get("cleared"):
        log.info("owners from the MDMs: %d set, %d removed", counts.get("set", 0),
                 counts.get("cleared", 0))
    return counts


def _update_owners_logged(engine: Engine) -> None:
    try:
        update_owners(engine)
    except Exception:  # noqa: BLE001 - the sync itself succeeded; say so, and why owners did not
        log.exception("owners from the MDMs not updated")


def _announce_findings_logged(engine: Engine, cfg: Any) -> None:
    """Webhooks: ``mdm.finding`` for each finding new since the last sync."""
    from .. import webhooks_store as hooks_store
    from ..webhooks import announce_findings
    try:
        with engine.connect() as conn:
            if not hooks_store.subscribers(conn):
                return
        announce_findings(engine, findings(engine, cfg))
    except Exception:  # noqa: BLE001 - the sync itself succeeded
        log.exception("MDM findings not announced to webhooks")


def sync_source(engine: Engine, source: str, config: Mapping[str, Any], *,
                environ: Mapping[str, str] | None = None, connector=None,
                sleep: Callable[[float], None] | None = None, owners: bool = True) -> SyncResult:
    cls = CONNECTORS[source]
    if connector is None:
        if not cls.is_configured(config):
            return SyncResult(source, "skipped", "not configured (set " +
                              ", ".join(f"[mdm.{source}] {k}" for k in cls.required) + ")")
        connector = cls(config, environ=environ, sleep=sleep)
    started = _now()
    with engine.begin() as conn:
        sync_id = conn.execute(MdmSync.__table__.insert().values(
            source=source, started_at=_naive(started), status="running", records=0, skipped=0,
            message="")).inserted_primary_key[0]
    stored = 0
    batch: dict[str, MdmRecord] = {}
    try:
        for rec in connector.records():
            batch[rec.source_id] = rec
            if len(batch) >= BATCH:
                stored += _store(engine, source, sync_id, batch.values())
                batch = {}
        if batch:
            stored += _store(engine, source, sync_id, batch.values())
        with engine.begin() as conn:
            gone = conn.execute(delete(MdmRecordRow).where(
                MdmRecordRow.source == source, MdmRecordRow.sync_id != sync_id)).rowcount
            msg = connector.stats.summary() + (f"; {gone} records no longer in {source} removed"
                                               if gone else "")
            conn.execute(update(MdmSync).where(MdmSync.id == sync_id).values(
                finished_at=_naive(_now()), status="ok", records=connector.stats.records,
                skipped=connector.stats.skipped, message=storable(msg)))
        if owners:   # a sync of one source alone (sync_all does these once, after all)
            _update_owners_logged(engine)
            _announce_findings_logged(engine, None)
        return SyncResult(source, "ok", msg, connector.stats.records, connector.stats.skipped)
    except (MdmError, OSError, ValueError) as exc:
        stored += _flush_quietly(engine, source, sync_id, batch)
        msg = f"{exc} (after {stored} records; the previous inventory is kept, a rerun completes it)"
    except Exception as exc:  # noqa: BLE001 - one source never stops the others
        log.exception("%s: sync failed", source)
        stored += _flush_quietly(engine, source, sync_id, batch)
        msg = f"unexpected {type(exc).__name__} (after {stored} records; see the server log)"
    with engine.begin() as conn:
        conn.execute(update(MdmSync).where(MdmSync.id == sync_id).values(
            finished_at=_naive(_now()), status="failed", records=connector.stats.records,
            skipped=connector.stats.skipped, message=storable(msg)))
        from ..webhooks import enqueue   # outgoing alert, in the same transaction
        enqueue(conn, [("sync.failed", {"source": source, "message": storable(msg)})])
    return SyncResult(source, "failed", msg, connector.stats.records, connector.stats.skipped)


def _flush_quietly(engine: Engine, source: str, sync_id: int, batch: dict) -> int:
    """Keep what a failing sync had already read (it is newer than what is stored)."""
    if not batch:
        return 0
    try:
        return _store(engine, source, sync_id, batch.values())
    except Exception:  # noqa: BLE001
        log.exception("%s: could not store the records read before the failure", source)
        return 0


def _storable_record(r: MdmRecord) -> MdmRecord:
    """The record with every text field fit for the database (server.untrusted.storable):
    an MDM's NUL or lone surrogate must not fail the sync, nor later the pages."""
    changes = {}
    for f in fields(r):
        v = getattr(r, f.name)
        if isinstance(v, str):
            clean = storable(v)
        elif isinstance(v, tuple):
            clean = tuple(storable(x) if isinstance(x, str) else x for x in v)
        elif isinstance(v, dict):   # unknown: fact -> reason (reasons quote MDM text)
            clean = {storable(str(k)): storable(x) if isinstance(x, str) else x for k, x in v.items()}
        else:
            continue
        if clean != v:
            changes[f.name] = clean
    return replace(r, **changes) if changes else r


def _user_email(r: MdmRecord) -> str | None:
    """The ``user_email`` column: the record's user as an email, lower-case (what a
    person's page looks up; migration 0008 fills it in the same way for older rows)."""
    if not isinstance(r.user_email, str):
        return None
    email = r.user_email.strip().lower()
    return email if email and len(email) <= 320 else None


def _store(engine: Engine, source: str, sync_id: int, recs: Iterable[MdmRecord]) -> int:
    now = _naive(_now())
    recs = list({r.source_id[:200]: r for r in map(_storable_record, recs)}.values())
    rows = [{"source": source, "source_id": r.source_id[:200], "serial": (r.serial or "")[:128] or None,
             "hardware_uuid": r.hardware_uuid, "hostname": (r.hostname or "")[:256] or None,
             "platform": (r.platform or "")[:16] or None, "last_seen": _naive(r.last_seen),
             "data": json.dumps(r.to_dict(), separators=(",", ":")), "sync_id": sync_id,
             "updated_at": now, "user_email": _user_email(r)} for r in recs]
    ids = [r["source_id"] for r in rows]
    with engine.begin() as conn:
        conn.execute(delete(MdmRecordRow).where(MdmRecordRow.source == source,
                                                MdmRecordRow.source_id.in_(ids)))
        conn.execute(MdmRecordRow.__table__.insert(), rows)
    return len(rows)


def sync_all(engine: Engine, cfg: Any, sources: Iterable[str] | None = None, **kw) -> list[SyncResult]:
    results = []
    for source in (sources or CONNECTORS):
        try:
            results.append(sync_source(engine, source, mdm_config(cfg, source), owners=False, **kw))
        except Exception as exc:  # noqa: BLE001 - e.g. the database went away mid-way
            log.exception("%s: sync failed", source)
            results.append(SyncResult(source, "failed", f"unexpected {type(exc).__name__}"))
    if any(r.status == "ok" for r in results):
        _update_owners_logged(engine)   # once, after every source
        _announce_findings_logged(engine, cfg)
    return results


def sync_status(engine: Engine) -> list[dict]:
    """The newest sync of each source, and the newest successful one."""
    out = []
    with engine.connect() as conn:
        for source in CONNECTORS:
            last = conn.execute(select(MdmSync).where(MdmSync.source == source)
                                .order_by(MdmSync.id.desc()).limit(1)).first()
            ok = conn.execute(select(MdmSync.finished_at).where(
                MdmSync.source == source, MdmSync.status == "ok").order_by(MdmSync.id.desc()).limit(1)
            ).scalar()
            count = conn.execute(select(func.count()).select_from(MdmRecordRow)
                                 .where(MdmRecordRow.source == source)).scalar()
            out.append({"source": source, "last": last, "last_ok": ok, "records": count})
    return out


def synced_sources(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(select(MdmSync.source).where(MdmSync.status == "ok").distinct())
                      .scalars())


def load_records(engine: Engine, where=None) -> list[MdmRecord]:
    q = select(MdmRecordRow.data)
    if where is not None:
        q = q.where(where)
    out = []
    with engine.connect() as conn:
        for (data,) in conn.execute(q.execution_options(yield_per=2000)):
            try:
                out.append(MdmRecord.from_dict(json.loads(data)))
            except (ValueError, TypeError):
                continue
    return out


def load_agents(engine: Engine, device_id: str | None = None) -> list[AgentDevice]:
    """Every enrolled device with the facts of its newest stored report."""
    q = (select(Device.id, Device.serial, Device.hardware_uuid, Device.hostname, Device.platform,
                Device.last_seen_at, Device.owner, Device.owner_source, Report.body, Report.received_at)
         .outerjoin(Report, Report.report_id == Device.last_report_id))
    if device_id is not None:
        q = q.where(Device.id == device_id)
    out = []
    with engine.connect() as conn:
        for row in conn.execute(q.execution_options(yield_per=2000)):
            body = None
            if row.body:
                try:
                    body = json.loads(row.body)
                except ValueError:
                    body = None
            if isinstance(body, dict):
                a = agent_device_from_report(row.id, body, _aware(row.received_at))
                a.hostname = a.hostname or row.hostname
                a.serial = a.serial or normalise_serial(row.serial)
                a.hardware_uuid = a.hardware_uuid or normalise_uuid(row.hardware_uuid)
            else:
                a = AgentDevice.create(row.id, serial=row.serial, hardware_uuid=row.hardware_uuid,
                                       platform=row.platform, last_seen=_aware(row.last_seen_at),
                                       hostname=row.hostname)
            a.owner, a.owner_source = row.owner, row.owner_source
            out.append(a)
    return out


def findings(engine: Engine, cfg: Any, now: dt.datetime | None = None) -> list[dict]:
    days = int(cfg.get("server", "silent_after_days") if hasattr(cfg, "get") else 7)
    return reconcile(load_agents(engine), load_records(engine), now=now, silent_after_days=days,
                     sources_synced=synced_sources(engine))


def _records_of(engine: Engine, a: AgentDevice) -> list[MdmRecord]:
    """The MDM records holding this device's serial or hardware UUID (indexed look-ups)."""
    conds = []
    if a.serial:
        conds.append(MdmRecordRow.serial == a.serial)
    if a.hardware_uuid:
        conds.append(MdmRecordRow.hardware_uuid.in_([a.hardware_uuid, swap_uuid(a.hardware_uuid)]))
    return load_records(engine, or_(*conds)) if conds else []


def device_records(engine: Engine, device_id: str) -> list[MdmRecord]:
    """The MDM records of one enrolled device (those its findings are made from), sorted
    by source and id."""
    agents = load_agents(engine, device_id)
    if not agents:
        return []
    return sorted(_records_of(engine, agents[0]), key=lambda r: (r.source, r.source_id))


def unmapped_users(records: Iterable[MdmRecord]) -> list[tuple[str, str]]:
    """(MDM name, reason) for each record whose user could not be made an email: why a
    device an MDM assigns to someone still has no owner."""
    from .records import SOURCE_NAMES
    return [(SOURCE_NAMES.get(r.source, r.source), r.user_unmapped) for r in records
            if r.user_email is None and isinstance(r.user_unmapped, str) and r.user_unmapped]


def device_findings(engine: Engine, cfg: Any, device_id: str, now: dt.datetime | None = None) -> list[dict]:
    """Findings about one enrolled device: its own records only (indexed look-ups)."""
    agents = load_agents(engine, device_id)
    if not agents:
        return []
    a = agents[0]
    records = _records_of(engine, a)
    days = int(cfg.get("server", "silent_after_days") if hasattr(cfg, "get") else 7)
    out = reconcile(agents, records, now=now, silent_after_days=days, sources_synced=synced_sources(engine))
    return [f for f in out if f["device_id"] == device_id or f["kind"] in ("duplicate", "compromised")]


class SyncScheduler:
    """Runs ``sync_all`` every ``[server] mdm_sync_minutes`` (0 = never) in a thread.

    With several server processes, each checks the newest sync in the database
    first, so one sync runs per interval, not one per process.
    """

    def __init__(self, engine: Engine, cfg: Any):
        self.engine = engine
        self.cfg = cfg
        self.minutes = int(cfg.get("server", "mdm_sync_minutes", 0) or 0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.minutes <= 0 or not any(cls.is_configured(mdm_config(self.cfg, s))
                                        for s, cls in CONNECTORS.items()):
            return
        self._thread = threading.Thread(target=self._loop, name="checkup-mdm-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def due(self) -> bool:
        with self.engine.connect() as conn:
            last = conn.execute(select(func.max(MdmSync.started_at))).scalar()
        return last is None or _aware(last) <= _now() - dt.timedelta(minutes=self.minutes)

    def _loop(self) -> None:
        while not self._stop.wait(60):
            try:
                if self.due():
                    for r in sync_all(self.engine, self.cfg):
                        if r.status != "skipped":
                            log.info("MDM %s", r.line())
            except Exception:  # noqa: BLE001
                log.exception("scheduled MDM sync failed")
