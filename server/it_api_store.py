"""The SQL behind IT's read API (server/it_api.py holds the rules and shapes).

Devices are paged by keyset on ``devices.id`` (the primary key): a page is the next
``limit`` ids after the cursor's, so a device inserted or changed between two pages never
makes another one appear twice or go missing.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from .models import ApiToken, Device, DeviceCheck, Report

SUMMARY_COLUMNS = (Device.id, Device.hostname, Device.platform, Device.os_name,
                   Device.os_version, Device.serial, Device.status, Device.last_seen_at,
                   Device.owner, Device.owner_source, Device.revoked_at)


def device_page(conn: Connection, *, after: str | None, limit: int, status: str | None = None,
                owner: str | None = None, revoked: bool = False) -> list:
    """Up to ``limit`` devices with an id greater than ``after``, in id order."""
    q = select(*SUMMARY_COLUMNS)
    if not revoked:
        q = q.where(Device.revoked_at.is_(None))
    if after is not None:
        q = q.where(Device.id > after)
    if status == "exempt":   # devices with a check IT exempted (their own status is the rest's)
        from .fleet import exempt_device_ids
        q = q.where(Device.id.in_(exempt_device_ids()))
    elif status is not None:
        q = q.where(Device.status == status)
    if owner is not None:
        q = q.where(Device.owner == owner)
    return conn.execute(q.order_by(Device.id).limit(limit)).all()


def device_checks(conn: Connection, device_ids: list[str]) -> dict[str, dict[str, str]]:
    """{device id: {check id: status}} from the current-state table (one query)."""
    out: dict[str, dict[str, str]] = {i: {} for i in device_ids}
    if not device_ids:
        return out
    rows = conn.execute(select(DeviceCheck.device_id, DeviceCheck.check_id, DeviceCheck.status)
                        .where(DeviceCheck.device_id.in_(device_ids))
                        .order_by(DeviceCheck.device_id, DeviceCheck.check_id))
    for device_id, check_id, status in rows:
        out[device_id][check_id] = status
    return out


def device_row(conn: Connection, device_id: str):  # noqa: ANN201
    """One device's row (every column, by name), or None."""
    return conn.execute(select(Device).where(Device.id == device_id)).first()


def newest_report(conn: Connection, report_id: str | None):  # noqa: ANN201
    """(report_id, checked_at, received_at, body text) of a device's newest report, or None."""
    if not report_id:
        return None
    return conn.execute(select(Report.report_id, Report.checked_at, Report.received_at,
                               Report.body).where(Report.report_id == report_id)).first()


def token_row(conn: Connection, token_id: str):  # noqa: ANN201
    return conn.execute(select(ApiToken.id, ApiToken.role, ApiToken.label, ApiToken.revoked_at)
                        .where(ApiToken.id == token_id)).first()
