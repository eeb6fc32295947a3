"""SQL of the policy editor: the newest report of every device (the preview), the saved
versions (the history). Saving is web._save_policy (one transaction with its audit row)."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from .models import Device, PolicyVersion, Report

HISTORY_ROWS = 50


def newest_reports(conn: Connection):
    """(device id, hostname, platform, report body JSON) of every enrolled device with a report."""
    return conn.execute(
        select(Device.id, Device.hostname, Device.platform, Report.body)
        .join(Report, Report.report_id == Device.last_report_id)
        .where(Device.revoked_at.is_(None))).all()


def versions(conn: Connection, limit: int = HISTORY_ROWS):
    """The newest saved versions first, and how many there are in all."""
    rows = conn.execute(select(PolicyVersion).order_by(PolicyVersion.id.desc()).limit(limit)).all()
    total = conn.execute(select(func.count()).select_from(PolicyVersion)).scalar_one()
    return rows, total


def version(conn: Connection, version_id: int):
    return conn.execute(select(PolicyVersion).where(PolicyVersion.id == version_id)).first()
