"""The SQL behind a person's devices (server/people.py holds the rules).

Every query is indexed or bounded: devices by ``owner`` (ix_devices_owner), their newest
reports by ``report_id`` (unique), agent devices by ``serial_key`` / ``uuid_key``, MDM
records by ``user_email`` (ix_mdm_records_user_email, migration 0008; written by
server/mdm/store.py at each sync), each then checked against its JSON in Python.
"""
from __future__ import annotations

import json
import logging

from sqlalchemy import or_, select
from sqlalchemy.engine import Connection

from .mdm.records import MdmRecord
from .models import Device, MdmRecordRow, OrgPolicy, Report

log = logging.getLogger("checkup.server")

MAX_DEVICES = 200     # one person with more than this is an import gone wrong; IT sees the cut


def owned_devices(conn: Connection, email: str) -> list:
    """The person's enrolled, not revoked devices with the body of each newest report."""
    q = (select(Device.id, Device.hostname, Device.platform, Device.os_name, Device.os_version,
                Device.serial, Device.model, Device.status, Device.last_seen_at,
                Device.last_checked_at, Device.owner_source, Device.serial_key,
                Device.hardware_uuid, Report.body, Report.received_at)
         .outerjoin(Report, Report.report_id == Device.last_report_id)
         .where(Device.owner == email, Device.revoked_at.is_(None))
         .order_by(Device.hostname, Device.id).limit(MAX_DEVICES))
    return conn.execute(q).all()


def person_records(conn: Connection, email: str) -> list[MdmRecord]:
    """MDM records whose assigned user (``user_email``) is ``email`` (already lower-case)."""
    q = (select(MdmRecordRow.source, MdmRecordRow.source_id, MdmRecordRow.data)
         .where(MdmRecordRow.user_email == email)
         .order_by(MdmRecordRow.source, MdmRecordRow.source_id).limit(MAX_DEVICES))
    out = []
    for row in conn.execute(q):
        try:
            rec = MdmRecord.from_dict(json.loads(row.data))
        except (ValueError, TypeError) as exc:
            log.warning("MDM record %s:%s could not be read (%s); left off the person's page",
                        row.source, row.source_id, type(exc).__name__)
            continue
        if isinstance(rec.user_email, str) and rec.user_email.strip().lower() == email:
            out.append(rec)
    return out


def agents_for_records(conn: Connection, serial_keys: set[str], uuid_keys: set[str],
                       exclude: set[str]) -> list:
    """Live enrolled devices holding one of these identities (not those in ``exclude``),
    with their newest report bodies: the ones an MDM record could be matched to."""
    conds = []
    if serial_keys:
        conds.append(Device.serial_key.in_(sorted(serial_keys)))
    if uuid_keys:
        conds.append(Device.uuid_key.in_(sorted(uuid_keys)))
    if not conds:
        return []
    q = (select(Device.id, Device.serial, Device.hardware_uuid, Device.hostname, Device.platform,
                Device.last_seen_at, Report.body, Report.received_at)
         .outerjoin(Report, Report.report_id == Device.last_report_id)
         .where(or_(*conds), Device.revoked_at.is_(None)).limit(MAX_DEVICES * 4))
    return [r for r in conn.execute(q).all() if r.id not in exclude]


def org_policy_text(conn: Connection) -> str | None:
    return conn.execute(select(OrgPolicy.text).where(OrgPolicy.id == 1)).scalar()
