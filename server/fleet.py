"""Read-side queries for IT's pages. Every query here is bounded or indexed:
the overview reads the current-state tables only, never the history."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.engine import Connection

from agent import checks as checks_registry   # the shared check registry (issue 14)
from agent.observed import rows as observed_rows  # the agent's words for what a probe observed

from .db import utcnow
from .models import Change, Device, DeviceCheck, DeviceDay, Exemption, OrgPolicy, Report
from .schemas import STATUS_ORDER

PAGE_SIZE = 100
CHECK_TITLES = checks_registry.titles()   # "screen_lock" -> "Screen lock" (agent/checks/*/check.toml)


def check_title(check_id: str | None) -> str:
    """A check's title for people; an id the registry does not know is shown as it is."""
    return CHECK_TITLES.get(check_id or "", check_id or "")


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
    by_os = os_releases(conn.execute(
        select(Device.platform, Device.os_name, Device.os_version, func.count()).where(LIVE)
        .group_by(Device.platform, Device.os_name, Device.os_version)
        .order_by(func.count().desc()).limit(2000)).all())
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


# Windows' feature releases by build number (the third part of 10.0.<build>.<ubr>):
# the name IT knows them by. An unlisted build is shown as "build <n>", never guessed.
WINDOWS_RELEASES = {"19044": "21H2", "19045": "22H2", "22000": "21H2", "22621": "22H2",
                    "22631": "23H2", "26100": "24H2", "26200": "25H2"}


def os_release(platform: str | None, os_name: str | None, os_version: str | None) -> str:
    """What "By operating system" calls a device's OS: "macOS 15.2", "Windows 11 Pro 24H2",
    "Ubuntu 24.04"; the patch level (15.2.1's .1, Windows' UBR) is left out."""
    name = (os_name or "").strip()
    version = (os_version or "").strip()
    if platform == "windows" and version.count(".") >= 2:
        build = version.split(".")[2]
        version = WINDOWS_RELEASES.get(build, f"build {build}" if build.isdigit() else version)
    elif platform == "darwin" and version:
        version = ".".join(version.split(".")[:2])
    return " ".join(x for x in (name, version) if x) or "unknown"


def os_releases(rows, limit: int = 30) -> list[tuple[str, str, int]]:  # noqa: ANN001
    """(platform, release, devices) from (platform, os_name, os_version, n) rows, most first."""
    counts: dict[tuple[str, str], int] = {}
    for platform, os_name, os_version, n in rows:
        key = (platform or "", os_release(platform, os_name, os_version))
        counts[key] = counts.get(key, 0) + n
    return [(p, r, n) for (p, r), n in
            sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


# /devices?sort=: the columns a list may be sorted by (a whitelist; anything else is the default)
SORTS = {"device": (Device.hostname,), "platform": (Device.platform,),
         "os": (Device.os_name, Device.os_version), "seen": (Device.last_seen_at,),
         "owner": (Device.owner,)}   # "status" (the default) is the status rank


@dataclass
class DeviceFilter:
    status: str = ""
    check: str = ""
    platform: str = ""
    seen: str = ""
    q: str = ""
    owner: str = ""      # an email (exact), part of one, or NO_OWNER
    page: int = 1
    sort: str = ""       # a SORTS key or "status"; "" is status, worst first
    dir: str = ""        # "asc" or "desc"; "" is each column's natural order

    def order_by(self) -> list:
        """The list's order: a whitelisted column, then hostname and id (a stable order,
        so paging never repeats or skips a device)."""
        desc = self.dir == "desc"
        if self.sort in SORTS:
            cols = [c.desc() if desc else c.asc() for c in SORTS[self.sort]]
            cols = [c.nulls_last() for c in cols]
        else:   # status: worst first unless asked for ascending
            rank = case({s: i for i, s in enumerate(STATUS_ORDER)}, value=Device.status, else_=0)
            cols = [rank.asc() if self.dir == "asc" else rank.desc()]
        return [*cols, Device.hostname, Device.id]

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


LIST_COLUMNS = (Device.id, Device.hostname, Device.platform, Device.os_name, Device.os_version,
                Device.status, Device.failing, Device.last_seen_at, Device.serial,
                Device.revoked_at, Device.owner, Device.owner_source)


def _list_query(f: DeviceFilter, stale_after_days: int, columns=LIST_COLUMNS):  # noqa: ANN001, ANN202
    where = f.where(stale_after_days)
    q = select(*columns)
    return (q.where(where) if where is not None else q).order_by(*f.order_by())


def device_list(conn: Connection, f: DeviceFilter, stale_after_days: int) -> tuple[list, int]:
    where = f.where(stale_after_days)
    count_q = select(func.count()).select_from(Device)
    if where is not None:
        count_q = count_q.where(where)
    total = conn.execute(count_q).scalar_one()
    q = _list_query(f, stale_after_days).limit(PAGE_SIZE).offset((max(1, f.page) - 1) * PAGE_SIZE)
    return conn.execute(q).all(), total


EXPORT_COLUMNS = LIST_COLUMNS + (Device.os_build, Device.model, Device.agent_version,
                                 Device.last_checked_at, Device.enrolled_at)


def export_rows(engine, f: DeviceFilter, stale_after_days: int, batch: int = 500):  # noqa: ANN001, ANN201
    """Every device the filter matches (all pages), in the list's order, ``batch`` rows per
    query: a 5,000-device export never holds more than one batch, nor a connection between
    batches."""
    offset = 0
    while True:
        with engine.connect() as conn:
            rows = conn.execute(_list_query(f, stale_after_days, EXPORT_COLUMNS)
                                .limit(batch).offset(offset)).all()
        yield from rows
        if len(rows) < batch:
            return
        offset += batch


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


EXPORT_FIELDS = ("id", "hostname", "serial", "status", "failing", "platform", "os_name",
                 "os_version", "os_build", "model", "agent_version", "last_seen_at",
                 "last_checked_at", "enrolled_at", "revoked_at", "owner", "owner_source")


def _when(value: dt.datetime | None) -> str | None:
    return value.replace(tzinfo=dt.timezone.utc).isoformat().replace("+00:00", "Z") if value else None


def export_record(row) -> dict:  # noqa: ANN001
    """One device of /devices.csv and /devices.json (times in RFC 3339 UTC)."""
    rec = {k: getattr(row, k) for k in EXPORT_FIELDS}
    rec["failing"] = [c for c in (row.failing or "").split(",") if c]
    for k in ("last_seen_at", "last_checked_at", "enrolled_at", "revoked_at"):
        rec[k] = _when(rec[k])
    return rec


def export_chunks(rows, fmt: str):  # noqa: ANN001, ANN201
    """The export's text, a piece at a time: CSV through server.untrusted.write_csv (no
    formulas, no bidi controls), JSON through json_text (bidi controls escaped)."""
    import io

    from .untrusted import json_text, write_csv
    if fmt == "csv":
        buf = io.StringIO()
        write_csv(buf, EXPORT_FIELDS, [])
        yield buf.getvalue()
        for row in rows:
            buf = io.StringIO()
            rec = export_record(row)
            write_csv(buf, (), [[rec[k] for k in EXPORT_FIELDS]])
            yield buf.getvalue().split("\n", 1)[1]   # the row, without the empty header line
        return
    yield '{"devices": ['
    first = True
    for row in rows:
        yield ("" if first else ",") + "\n" + json_text(export_record(row))
        first = False
    yield "\n]}\n"


def observed_words(observed, check_id: str | None = None) -> list[tuple[str, str]]:  # noqa: ANN001
    """What the laptop saw, in words for the device page: the agent's own formatter
    (agent/observed.py, shared contract), so both pages say the same. Keys and values come
    from the agent: the page escapes them."""
    return observed_rows(observed, check_id)
