"""IT's read API (DESIGN "API for IT"): the rules and the JSON shapes.

Routes (server/routes/it_api.py) parse the request and call these; the SQL is in
server/it_api_store.py. Agent and MDM text is returned exactly as stored (the response
class writes bidi and control characters as ``\\uXXXX``, server/untrusted.py).
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
import re
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Engine

from . import it_api_store as store
from .schemas import STATUS_ORDER

log = logging.getLogger("checkup.server.api")

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
_CURSOR_PREFIX = "d1:"
# Device ids the server makes are 32 hex digits; anything unlike an id names no device.
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")


class BadInput(ValueError):
    """A parameter the API cannot use: 422 with this reason."""


# -- the shapes (documented in the OpenAPI through the routes' response models) ---------

class DeviceSummary(BaseModel):
    """One device as GET /api/v1/devices lists it."""
    id: str
    hostname: Optional[str] = Field(description="as the agent reported it")
    platform: Optional[str] = Field(description="darwin, windows or linux (the agent's name)")
    os_name: Optional[str]
    os_version: Optional[str]
    serial: Optional[str]
    status: str = Field(description="pass, skip, unknown, nudge or fail (from its checks; "
                                    "status=exempt filters devices with an exempted check)")
    last_seen: Optional[str] = Field(description="RFC 3339 UTC: the newest report's checked_at, "
                                                 "capped at when it arrived; null = never reported")
    owner: Optional[str] = Field(description="the owner's email; null when nobody owns it")
    owner_source: Optional[str] = Field(description="it, claim or mdm; null when no owner")
    checks: dict[str, str] = Field(description="check id -> status, from the newest report")
    revoked_at: Optional[str] = Field(description="RFC 3339 UTC when IT revoked it; null = live "
                                                  "(revoked devices are listed only with revoked=true)")


class DevicePage(BaseModel):
    devices: list[DeviceSummary]
    next_cursor: Optional[str] = Field(description="pass as cursor for the next page; null = "
                                                   "this was the last page")


class DeviceDetail(DeviceSummary):
    """One device with its newest report."""
    os_build: Optional[str]
    model: Optional[str]
    agent_version: Optional[str]
    enrolled_at: Optional[str]
    report_id: Optional[str] = Field(description="the newest report's id; null = no report yet")
    report_received_at: Optional[str]
    report: Optional[dict[str, Any]] = Field(
        description="the newest report exactly as the agent sent it (the `checkup check --json` "
                    "object plus report_id); null = no report yet")


class Finding(BaseModel):
    """One reconciliation finding (DESIGN "Server configuration and reconciliation output")."""
    model_config = ConfigDict(extra="allow")
    kind: str
    serial: Optional[str] = None
    hostname: Optional[str] = None
    sources: list[str] = []
    fact: Optional[str] = None
    agent: Optional[str] = None
    mdm: Optional[str] = None
    newer: Optional[str] = None
    detail: str = ""
    device_id: Optional[str] = None
    mdm_ids: list[str] = []
    agent_seen: Optional[str] = None
    mdm_seen: Optional[str] = None


class Findings(BaseModel):
    """The object `checkup-server reconcile --json` prints."""
    generated_at: str
    findings: list[Finding]


class RevokeResult(BaseModel):
    id: str
    revoked: bool = Field(description="true: revoked now; false: it already was")
    revoked_at: Optional[str]
    detail: str


# -- parameters ----------------------------------------------------------------------

def rfc3339(when: dt.datetime | None) -> str | None:
    if when is None:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def encode_cursor(device_id: str) -> str:
    return base64.urlsafe_b64encode((_CURSOR_PREFIX + device_id).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    """The device id a cursor names (None: the first page). BadInput when it is not one
    this API gave out."""
    if cursor is None or cursor == "":
        return None
    bad = BadInput("cursor: not a cursor this API gave out; pass next_cursor from the previous "
                   "page unchanged, or leave cursor out for the first page")
    if len(cursor) > 200 or not re.fullmatch(r"[A-Za-z0-9_-]+", cursor):
        raise bad
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise bad from None
    if not text.startswith(_CURSOR_PREFIX) or not _ID.match(text[len(_CURSOR_PREFIX):]):
        raise bad
    return text[len(_CURSOR_PREFIX):]


def owner_filter(owner: str | None) -> str | None:
    """An owner email as stored (trimmed, lower case); BadInput when it is not an email."""
    if owner is None:
        return None
    email = owner.strip().lower()
    if not email:
        return None
    local, at, domain = email.rpartition("@")
    if (not at or not local or not domain or len(email) > 320 or _CONTROL.search(email)
            or "@" in domain):
        raise BadInput("owner: give an email address, like alice@example.com")
    return email


def status_filter(status: str | None) -> str | None:
    if status is None or status == "":
        return None
    if status not in STATUS_ORDER:
        raise BadInput(f"status: one of {', '.join(STATUS_ORDER)}")
    return status


def valid_id(device_id: str) -> bool:
    return bool(_ID.match(device_id))


# -- the answers ----------------------------------------------------------------------

def _summary(row, checks: dict[str, str]) -> dict:  # noqa: ANN001
    return {"id": row.id, "hostname": row.hostname, "platform": row.platform,
            "os_name": row.os_name, "os_version": row.os_version, "serial": row.serial,
            "status": row.status, "last_seen": rfc3339(row.last_seen_at),
            "owner": row.owner or None, "owner_source": (row.owner_source or None) if row.owner else None,
            "checks": checks, "revoked_at": rfc3339(row.revoked_at)}


def list_devices(engine: Engine, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None,
                 status: str | None = None, owner: str | None = None,
                 revoked: bool = False) -> dict:
    """GET /api/v1/devices: one page, in id order. BadInput for an unusable parameter."""
    if not 1 <= limit <= MAX_LIMIT:
        raise BadInput(f"limit: 1 to {MAX_LIMIT}")
    after = decode_cursor(cursor)
    status_ = status_filter(status)
    owner_ = owner_filter(owner)
    with engine.connect() as conn:
        rows = store.device_page(conn, after=after, limit=limit + 1, status=status_,
                                 owner=owner_, revoked=revoked)
        more = len(rows) > limit
        rows = rows[:limit]
        checks = store.device_checks(conn, [r.id for r in rows])
    return {"devices": [_summary(r, checks[r.id]) for r in rows],
            "next_cursor": encode_cursor(rows[-1].id) if more else None}


def one_device(engine: Engine, device_id: str) -> dict | None:
    """GET /api/v1/devices/{id}: the device and its newest report, or None."""
    if not valid_id(device_id):
        return None
    with engine.connect() as conn:
        dev = store.device_row(conn, device_id)
        if dev is None:
            return None
        checks = store.device_checks(conn, [dev.id])[dev.id]
        newest = store.newest_report(conn, dev.last_report_id)
    body = None
    if newest is not None:
        try:
            body = json.loads(newest.body)
        except ValueError:
            log.warning("device %s: its newest report %s is not readable JSON; answered "
                        "without it", dev.id, newest.report_id)
        if not isinstance(body, dict):
            body = None
    out = _summary(dev, checks)
    out.update(os_build=dev.os_build, model=dev.model, agent_version=dev.agent_version,
               enrolled_at=rfc3339(dev.enrolled_at),
               report_id=newest.report_id if newest is not None else None,
               report_received_at=rfc3339(newest.received_at) if newest is not None else None,
               report=body)
    return out


def findings(engine: Engine, cfg) -> dict:  # noqa: ANN001
    """GET /api/v1/findings: what `checkup-server reconcile --json` prints."""
    from .mdm.store import findings as find
    from .reconcile import report
    return report(find(engine, cfg))


def revoke_device(engine: Engine, device_id: str, caller, address: str) -> dict | None:  # noqa: ANN001
    """POST /api/v1/devices/{id}/revoke: the device's secret stops working now (as the
    device page's button and `checkup-server device revoke`). None: no such device.
    A revocation writes one audit row: actor ``api-token:<id>`` (or the person), the
    caller's role and address; revoking a revoked device changes nothing and writes none."""
    from . import devices
    if not valid_id(device_id):
        return None
    who = caller.actor
    try:
        now = devices.revoke_device(engine, device_id, who, actor=who, role=caller.role,
                                    address=address)
    except devices.DeviceError:
        return None
    with engine.connect() as conn:
        row = store.device_row(conn, device_id)
    log.warning("%s (%s) revoked device %s through the API%s", who, caller.role, device_id,
                "" if now else " (it already was)")
    return {"id": device_id, "revoked": now, "revoked_at": rfc3339(row.revoked_at) if row else None,
            "detail": ("Revoked: its secret no longer works and it cannot enroll again; its "
                       "history is kept." if now else "It was already revoked.")}
