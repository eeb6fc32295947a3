"""The audit log (DESIGN "Audit log"): one row per change made by a person or an API
token, and per sign-in, success or failure. Rows are only ever inserted, here.

``record`` takes the caller's connection, so the row commits (or rolls back) with the
change it describes: nothing half-done, and no change without its row.
"""
from __future__ import annotations

import logging

from sqlalchemy.engine import Connection, Engine

from .db import utcnow
from .models import AuditEvent
from .untrusted import shown

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
    "mdm.sync",
)


def record(conn: Connection | Engine, *, actor: str, action: str, role: str = "",
           target: str = "", address: str = "", ok: bool = True, detail: str = "") -> None:
    """Insert one audit row (inside ``conn``'s transaction when given a connection)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    values = dict(at=utcnow(), actor=shown(actor or "?")[:320], role=(role or "")[:16],
                  action=action, target=shown(target or "")[:320],
                  address=(address or "")[:64], ok=bool(ok), detail=shown(detail or "")[:2000])
    if isinstance(conn, Connection):
        conn.execute(AuditEvent.__table__.insert().values(**values))
    else:
        with conn.begin() as c:
            c.execute(AuditEvent.__table__.insert().values(**values))
