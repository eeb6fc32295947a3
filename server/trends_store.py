"""The SQL behind the trends (server/trends.py keeps the rules)."""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from .models import DeviceDay, TrendDay


def status_counts(conn: Connection, since: dt.date, until: dt.date) -> Iterable[Any]:
    """(day, status, devices) over the days in [since, until] (the day index)."""
    return conn.execute(select(DeviceDay.day, DeviceDay.status, func.count())
                        .where(DeviceDay.day >= since, DeviceDay.day <= until)
                        .group_by(DeviceDay.day, DeviceDay.status))


def day_checks(conn: Connection, since: dt.date, until: dt.date) -> Iterable[Any]:
    """(day, checks JSON or None, devices) over the days in [since, until]. Ingest writes the
    JSON compact with sorted keys, so devices in the same state share one string and the
    database counts them: a few rows per day to parse instead of one per device."""
    return conn.execute(select(DeviceDay.day, DeviceDay.checks, func.count())
                        .where(DeviceDay.day >= since, DeviceDay.day <= until)
                        .group_by(DeviceDay.day, DeviceDay.checks))


def kept_days(conn: Connection, since: dt.date, until: dt.date) -> Iterable[Any]:
    """(day, check_id, status, devices) kept in trend_days for the days in [since, until]."""
    return conn.execute(select(TrendDay.day, TrendDay.check_id, TrendDay.status, TrendDay.devices)
                        .where(TrendDay.day >= since, TrendDay.day <= until))


def keep_days(conn: Connection, rows: list[dict]) -> None:
    """Keep computed days (their rows replace any kept before: two servers may race here)."""
    days = sorted({r["day"] for r in rows})
    if days:
        conn.execute(TrendDay.__table__.delete().where(TrendDay.day.in_(days)))
        conn.execute(TrendDay.__table__.insert(), rows)


def forget_days(conn: Connection, days: Iterable[dt.date]) -> None:
    """A late report changed these days: their kept counts are computed again when asked."""
    days = sorted(set(days))
    if days:
        conn.execute(TrendDay.__table__.delete().where(TrendDay.day.in_(days)))
