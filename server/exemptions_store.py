"""SQL for exemptions (server/exemptions.py holds the rules)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, or_, select
from sqlalchemy.engine import Connection

from .models import Device, Exemption

T = Exemption.__table__


def insert(conn: Connection, **values) -> int:  # noqa: ANN003
    return int(conn.execute(Exemption.__table__.insert().values(**values)).inserted_primary_key[0])


def get(conn: Connection, exemption_id: int):  # noqa: ANN201
    return conn.execute(select(T).where(T.c.id == exemption_id)).first()


def remove(conn: Connection, exemption_id: int) -> None:
    conn.execute(delete(Exemption).where(Exemption.id == exemption_id))


def device_owner(conn: Connection, device_id: str) -> tuple[bool, str | None]:
    """(the device exists, its owner)."""
    row = conn.execute(select(Device.owner).where(Device.id == device_id)).first()
    return (row is not None, row.owner if row is not None else None)


def active_for(conn: Connection, device_id: str, owner: str | None, today: dt.date) -> list:
    """The exemptions in force today for this device: its own and its owner's."""
    who = [Exemption.device_id == device_id]
    if owner:
        who.append(Exemption.owner == owner)
    return conn.execute(select(T).where(or_(*who), Exemption.ends_on >= today)
                        .order_by(Exemption.check_id, Exemption.ends_on.desc(), Exemption.id)).all()


def listed(conn: Connection, today: dt.date, include_ended: bool = False, limit: int = 1000) -> list:
    q = select(T).order_by(Exemption.ends_on, Exemption.id).limit(limit)
    if not include_ended:
        q = q.where(Exemption.ends_on >= today)
    return conn.execute(q).all()
