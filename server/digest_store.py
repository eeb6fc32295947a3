"""The SQL behind the email digest (server/digest.py keeps the rules)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from .models import Device, DigestSent

sent_t = DigestSent.__table__


def owners(conn: Connection) -> list[str]:
    """Every person owning an enrolled, not revoked device."""
    return list(conn.execute(select(Device.owner).where(Device.owner.is_not(None),
                                                        Device.revoked_at.is_(None))
                             .distinct().order_by(Device.owner)).scalars())


def claim(engine, email: str, day: dt.date, now: dt.datetime) -> bool:  # noqa: ANN001
    """Mark ``email``'s digest of ``day`` as sent; False if it already was (by anyone)."""
    try:
        with engine.begin() as conn:
            conn.execute(sent_t.insert().values(email=email, day=day, sent_at=now))
        return True
    except IntegrityError:
        return False


def release(engine, email: str, day: dt.date) -> None:  # noqa: ANN001
    """The send failed: let a later round try again."""
    with engine.begin() as conn:
        conn.execute(delete(sent_t).where(sent_t.c.email == email, sent_t.c.day == day))


def sent_on(conn: Connection, day: dt.date) -> set[str]:
    return set(conn.execute(select(sent_t.c.email).where(sent_t.c.day == day)).scalars())
