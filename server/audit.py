"""The audit log (DESIGN "Audit log"): one row per change made by a person or an API
token, and per sign-in, success or failure. Rows are only ever inserted, here.

``record`` takes the caller's connection, so the row commits (or rolls back) with the
change it describes: nothing half-done, and no change without its row.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from .db import utcnow
from .models import AuditEvent
from .untrusted import shown, storable

log = logging.getLogger("checkup.server")

# Every action name the server writes; the audit page and CLI filter on these.
ACTIONS = (
    "sign_in",              # ok or refused (detail: why)
    "sign_out",
    "policy.change", "policy.clear",
    "enroll_token.create", "enroll_token.revoke",
    "api_token.create", "api_token.revoke",
    "admin.create", "admin.password", "admin.delete", "admin.unlock", "admin.logout",
    "device.approve", "device.reject", "device.revoke", "device.restore",
    "owner.set", "owner.clear", "owner.claim",
    "exemption.create", "exemption.delete",
    "mdm.sync",
    "webhook.create", "webhook.delete", "webhook.test",
)


def record(conn: Connection | Engine, *, actor: str, action: str, role: str = "",
           target: str = "", address: str = "", ok: bool = True, detail: str = "") -> None:
    """Insert one audit row (inside ``conn``'s transaction when given a connection)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    def text(value: str, limit: int) -> str:   # untrusted (IdP, agent, typed) text
        return storable(shown(str(value or "")))[:limit]
    values = dict(at=utcnow(), actor=text(actor, 320) or "?", role=text(role, 16),
                  action=action, target=text(target, 320), address=text(address, 64),
                  ok=bool(ok), detail=text(detail, 2000))
    if isinstance(conn, Connection):
        conn.execute(AuditEvent.__table__.insert().values(**values))
    else:
        with conn.begin() as c:
            c.execute(AuditEvent.__table__.insert().values(**values))


# -- who did it, from a command ---------------------------------------------------

def cli_actor() -> str:
    """The audit log's "who" for a ``checkup-server`` command: ``cli:<OS user name>``."""
    import getpass
    try:
        name = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name (no $USER, no passwd entry): still a row
        name = ""
    return "cli:" + (shown(name).strip() or "unknown")


# -- reading the log (the page, its exports, ``checkup-server audit``) ---------------

RESULTS = ("ok", "refused")
PAGE_SIZE = 100
MAX_EXPORT = 100_000


@dataclasses.dataclass
class AuditFilter:
    """What the page, the exports and the command filter on. Empty = any."""
    action: str = ""      # one of ACTIONS, or a prefix ending in "." ("device.")
    actor: str = ""       # part of "who", any case
    result: str = ""      # "ok" | "refused"
    days: int = 0         # the last N days; 0 = all time

    @classmethod
    def of(cls, action: str = "", actor: str = "", result: str = "",
           days: int | str | None = 0) -> "AuditFilter":
        """A filter from untrusted input: unknown values are dropped, never an error."""
        action = (action or "").strip()
        if action not in ACTIONS and not (action.endswith(".") and
                                          any(a.startswith(action) for a in ACTIONS)):
            action = ""
        try:
            n = int(days or 0)
        except (TypeError, ValueError):
            n = 0
        return cls(action=action, actor=shown(actor or "").strip()[:100],
                   result=result if result in RESULTS else "", days=min(max(n, 0), 36500))

    def args(self) -> dict[str, str]:
        """The filter as query parameters (for links)."""
        return {k: str(v) for k, v in dataclasses.asdict(self).items() if v}


def _where(q, f: AuditFilter, now: dt.datetime | None = None):  # noqa: ANN001, ANN202
    t = AuditEvent.__table__.c
    if f.action.endswith("."):
        q = q.where(t.action.like(_like_escape(f.action) + "%", escape="\\"))
    elif f.action:
        q = q.where(t.action == f.action)
    if f.actor:
        q = q.where(func.lower(t.actor).like("%" + _like_escape(f.actor.lower()) + "%",
                                             escape="\\"))
    if f.result:
        q = q.where(t.ok == (f.result == "ok"))
    if f.days:
        q = q.where(t.at >= (now or utcnow()) - dt.timedelta(days=f.days))
    return q


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def query(conn: Connection, f: AuditFilter, page: int = 1,
          page_size: int = PAGE_SIZE) -> tuple[list[dict], int]:
    """One page of rows matching ``f``, newest first, and how many match in all."""
    t = AuditEvent.__table__
    page = min(max(int(page), 1), 1_000_000)
    total = conn.execute(_where(select(func.count()).select_from(t), f)).scalar_one()
    rows = conn.execute(_where(select(t), f).order_by(t.c.at.desc(), t.c.id.desc())
                        .limit(page_size).offset((page - 1) * page_size)).mappings().all()
    return [as_dict(r) for r in rows], total


def export(conn: Connection, f: AuditFilter, limit: int = MAX_EXPORT) -> list[dict]:
    """Every row matching ``f`` (at most ``limit``), newest first."""
    return query(conn, f, 1, max(1, min(int(limit), MAX_EXPORT)))[0]


FIELDS = ("id", "at", "actor", "role", "action", "target", "address", "ok", "detail")


def as_dict(row) -> dict:  # noqa: ANN001
    """One row as the exports and ``--json`` give it (``at``: ISO 8601 UTC, ``Z``)."""
    at = row["at"]
    return {"id": row["id"],
            "at": at.strftime("%Y-%m-%dT%H:%M:%SZ") if at is not None else None,
            "actor": row["actor"], "role": row["role"] or "", "action": row["action"],
            "target": row["target"] or "", "address": row["address"] or "",
            "ok": bool(row["ok"]), "detail": row["detail"] or ""}


def write_csv(fh, rows: list[dict]) -> None:  # noqa: ANN001
    """The CSV export: formula-safe cells through server.untrusted.write_csv."""
    from .untrusted import write_csv as _write
    _write(fh, FIELDS, ([r[k] for k in FIELDS] for r in rows))
