"""Read-side queries for IT's pages. Every query here is bounded or indexed:
the overview reads the current-state tables only, never the history."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.engine import Connection

from .db import utcnow
from .models import Change, Device, DeviceCheck, DeviceDay, Exemption, OrgPolicy, Report
from .schemas import STATUS_ORDER

PAGE_SIZE = 100
NO_OWNER = "none"    # /devices?owner=none: devices nobody owns (no email is "none")
SEEN_FILTERS = {"1d": ("within", 1), "7d": ("within", 7), "30d": ("within", 30),
                "stale": ("stale", None), "never": ("never", None)}


LIVE = Device.revoked_at.is_(None)   # revoked devices keep their history but leave the counts


def _live_ids():  # noqa: ANN202
    """Devices that count: every device IT has not revoked."""
    return select(Device.id).where(LIVE)


def exempt_device_ids():  # noqa: ANN202
    """Devices with a check IT exempted (DESIGN "Exemptions"): counted on their own."""
    return select(DeviceCheck.device_id).where(DeviceCheck.status == "exempt")


def overview(conn: Connection, stale_after_days: int) -> dict:
    now = utcnow()
    by_status = dict(conn.execute(select(Device.status, func.count()).where(LIVE)
                                  .group_by(Device.status)).all())
    total = sum(by_status.values())
    # a device's status never is "exempt": this tile counts devices with an exempted check
    # (a scan of device_checks, so only once IT has ever made an exemption)
    by_status["exempt"] = conn.execute(select(func.count()).select_from(Device).where(
        LIVE, Device.id.in_(exempt_device_ids()))).scalar_one() if conn.execute(
        select(Exemption.id).limit(1)).first() else 0
    stale = conn.execute(select(func.count()).select_from(Device).where(
        LIVE, Device.last_seen_at < now - dt.timedelta(days=stale_after_days))).scalar_one()
    never = conn.execute(select(func.count()).select_from(Device)
                         .where(LIVE, Device.last_seen_at.is_(None))).scalar_one()
    revoked = conn.execute(select(func.count()).select_from(Device)
                           .where(Device.revoked_at.is_not(None))).scalar_one()
    unowned = conn.execute(select(func.count()).select_from(Device)
                           .where(LIVE, Device.owner.is_(None))).scalar_one()
    by_check: dict[str, dict[str, int]] = {}
    for check_id, status, n in conn.execute(
            select(DeviceCheck.check_id, DeviceCheck.status, func.count())
            .where(DeviceCheck.device_id.in_(_live_ids()))
            .group_by(DeviceCheck.check_id, DeviceCheck.status)):
        by_check.setdefault(check_id, {})[status] = n
    checks = sorted(by_check.items(), key=lambda kv: (-kv[1].get("fail", 0), -kv[1].get("nudge", 0), kv[0]))
    by_os = conn.execute(select(Device.platform, Device.os_name, func.count().label("n")).where(LIVE)
                         .group_by(Device.platform, Device.os_name)
                         .order_by(func.count().desc()).limit(30)).all()
    week_ago = now - dt.timedelta(days=7)
    worse_by_check = dict(conn.execute(
        select(Change.check_id, func.count(func.distinct(Change.device_id)))
        .where(Change.at >= week_ago, Change.worse.is_(True), Change.device_id.in_(_live_ids()))
        .group_by(Change.check_id)).all())
    worse_devices = worse_by_check.pop("", 0)
    better = conn.execute(select(func.count(func.distinct(Change.device_id))).where(
        Change.at >= week_ago, Change.check_id == "", Change.worse.is_(False),
        Change.device_id.in_(_live_ids()),
        Change.old_status.in_(("fail", "nudge")), Change.new_status.in_(("pass", "skip")))).scalar_one()
    recent = conn.execute(
        select(Change.at, Change.old_status, Change.new_status, Device.id, Device.hostname,
               Device.platform)
        .join(Device, Device.id == Change.device_id)
        .where(Change.at >= week_ago, Change.worse.is_(True), Change.check_id == "", LIVE)
        .order_by(Change.at.desc()).limit(15)).all()
    return {"total": total, "reported": total - never,
            "by_status": {s: by_status.get(s, 0) for s in reversed(STATUS_ORDER)},
            "stale": stale, "never": never, "stale_after_days": stale_after_days,
            "revoked": revoked, "unowned": unowned,
            "checks": checks, "by_os": by_os, "worse_devices": worse_devices,
            "worse_by_check": sorted(worse_by_check.items(), key=lambda kv: -kv[1]),
            "better_devices": better, "recent_worse": recent}


@dataclass
class DeviceFilter:
    status: str = ""
    check: str = ""
    platform: str = ""
    seen: str = ""
    q: str = ""
    owner: str = ""      # an email (exact), part of one, or NO_OWNER
    page: int = 1

    def where(self, stale_after_days: int):
        now = utcnow()
        conds = []
        # revoked devices are listed only when asked for, so the list agrees with the overview
        if self.status == "revoked":
            conds.append(Device.revoked_at.is_not(None))
        else:
            conds.append(LIVE)
        if self.status == "exempt":   # a check IT exempted (the device's own status is the rest's)
            conds.append(Device.id.in_(exempt_device_ids()))
        elif self.status in STATUS_ORDER:
            conds.append(Device.status == self.status)
        if self.check:
            conds.append(Device.id.in_(select(DeviceCheck.device_id).where(
                DeviceCheck.check_id == self.check, DeviceCheck.status.in_(("fail", "nudge")))))
        if self.platform in ("darwin", "windows", "linux"):
            conds.append(Device.platform == self.platform)
        kind, days = SEEN_FILTERS.get(self.seen, (None, None))
        if kind == "within":
            conds.append(Device.last_seen_at >= now - dt.timedelta(days=days))
        elif kind == "stale":
            conds.append(Device.last_seen_at < now - dt.timedelta(days=stale_after_days))
        elif kind == "never":
            conds.append(Device.last_seen_at.is_(None))
        if self.owner == NO_OWNER:
            conds.append(Device.owner.is_(None))
        elif self.owner:
            from .people import normal_email
            email = normal_email(self.owner)
            if email is not None:
                conds.append(Device.owner == email)
            else:
                conds.append(Device.owner.ilike("%" + _like(self.owner.lower()) + "%", escape="\\"))
        if self.q:
            like = "%" + self.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            conds.append(or_(Device.hostname.ilike(like, escape="\\"),
                             Device.serial.ilike(like, escape="\\")))
        return and_(*conds) if conds else None


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def device_list(conn: Connection, f: DeviceFilter, stale_after_days: int) -> tuple[list, int]:
    where = f.where(stale_after_days)
    count_q = select(func.count()).select_from(Device)
    q = select(Device.id, Device.hostname, Device.platform, Device.os_name, Device.os_version,
               Device.status, Device.failing, Device.last_seen_at, Device.serial, Device.revoked_at,
               Device.owner, Device.owner_source)
    if where is not None:
        count_q = count_q.where(where)
        q = q.where(where)
    total = conn.execute(count_q).scalar_one()
    rank = case({s: i for i, s in enumerate(STATUS_ORDER)}, value=Device.status, else_=0)
    q = q.order_by(rank.desc(), Device.hostname, Device.id) \
         .limit(PAGE_SIZE).offset((max(1, f.page) - 1) * PAGE_SIZE)
    return conn.execute(q).all(), total


def device_detail(conn: Connection, device_id: str) -> dict | None:
    dev = conn.execute(select(Device).where(Device.id == device_id)).first()
    if dev is None:
        return None
    latest = None
    if dev.last_report_id:
        body = conn.execute(select(Report.body).where(Report.report_id == dev.last_report_id)).scalar()
        if body:
            try:
                latest = json.loads(body)
            except ValueError:
                latest = None
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    checks = sorted((latest or {}).get("checks", []), key=lambda c: -rank.get(c.get("status"), 0))
    since = (utcnow() - dt.timedelta(days=90)).date()
    days = conn.execute(select(DeviceDay.day, DeviceDay.status, DeviceDay.failing)
                        .where(DeviceDay.device_id == device_id, DeviceDay.day >= since)
                        .order_by(DeviceDay.day)).all()
    changes = conn.execute(select(Change.at, Change.check_id, Change.old_status, Change.new_status)
                           .where(Change.device_id == device_id)
                           .order_by(Change.at.desc(), Change.id.desc()).limit(50)).all()
    reports = conn.execute(select(Report.report_id, Report.checked_at, Report.received_at, Report.status)
                           .where(Report.device_id == device_id)
                           .order_by(Report.checked_at.desc()).limit(20)).all()
    _failing_days(conn, device_id, checks)
    return {"device": dev, "latest": latest, "checks": checks, "days": days,
            "changes": changes, "reports": reports}


def _failing_days(conn: Connection, device_id: str, checks: list[dict]) -> None:
    """Each failing or nudging check without the agent's own count (an older agent) gets
    ``failing_days`` from the server's change history: the day it last became a problem."""
    problem = ("fail", "nudge")
    want = [c.get("id") for c in checks if c.get("status") in problem and "failing_days" not in c]
    if not want:
        return
    began = dict(conn.execute(
        select(Change.check_id, func.max(Change.at))
        .where(Change.device_id == device_id, Change.check_id.in_(want),
               Change.new_status.in_(problem),
               or_(Change.old_status.is_(None), Change.old_status.not_in(problem)))
        .group_by(Change.check_id)).all())
    # no change of its own since the device's first report (kept): a problem since then
    first = conn.execute(select(func.min(Change.at)).where(
        Change.device_id == device_id, Change.check_id == "", Change.old_status.is_(None))).scalar()
    today = utcnow().date()
    for c in checks:
        at = began.get(c.get("id"), first) if c.get("id") in want else None
        if at is not None:
            c["failing_days"], c["failing_since"] = (today - at.date()).days, at.date().isoformat()
            c["failing_counted_by"] = "server"


def check_ids(conn: Connection) -> list[str]:
    from .policy_check import CHECK_IDS
    return list(CHECK_IDS)


def current_policy(conn: Connection):
    return conn.execute(select(OrgPolicy).where(OrgPolicy.id == 1)).first()
