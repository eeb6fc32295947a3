"""The SQL behind the evidence report (server/evidence.py keeps the rules)."""
from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection

from .models import Device, DeviceDay, PolicyVersion


def first_day(conn: Connection) -> dt.date | None:
    """The oldest day any device reported (kept history), or None."""
    return conn.execute(select(func.min(DeviceDay.day))).scalar()


def devices_on(conn: Connection, day: dt.date) -> Sequence[Any]:
    """Devices enrolled by the end of ``day`` and not revoked before it began, with that day's
    row (status, failing, checks: None where the device did not report that day) and the
    newest day up to ``day`` it reported."""
    start = dt.datetime.combine(day, dt.time())
    end = start + dt.timedelta(days=1)
    last = (select(func.max(DeviceDay.day)).where(DeviceDay.device_id == Device.id,
                                                   DeviceDay.day <= day)
            .correlate(Device).scalar_subquery())
    q = (select(Device.id, Device.hostname, Device.owner, Device.os_name, Device.os_version,
                Device.platform, DeviceDay.status, DeviceDay.failing, DeviceDay.checks,
                last.label("last_day"))
         .outerjoin(DeviceDay, and_(DeviceDay.device_id == Device.id, DeviceDay.day == day))
         .where(Device.enrolled_at < end,
                or_(Device.revoked_at.is_(None), Device.revoked_at >= start))
         .order_by(Device.hostname, Device.id))
    return conn.execute(q).all()


def policy_on(conn: Connection, day: dt.date) -> Any:
    """The policy_versions row in force at the end of ``day`` (None: none saved by then)."""
    end = dt.datetime.combine(day, dt.time()) + dt.timedelta(days=1)
    return conn.execute(select(PolicyVersion.text, PolicyVersion.saved_at, PolicyVersion.saved_by)
                        .where(PolicyVersion.saved_at < end)
                        .order_by(PolicyVersion.saved_at.desc(), PolicyVersion.id.desc())
                        .limit(1)).first()
