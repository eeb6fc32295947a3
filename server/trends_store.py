"""The SQL behind the trends (server/trends.py keeps the rules)."""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from .models import DeviceDay


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
