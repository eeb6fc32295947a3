"""Claiming a laptop (DESIGN "Claim"): the rules.

The agent asks with its device secret for a code (``new_code``); the person opens
``<public_url>/claim/<code>``, signs in, and presses "This is my laptop" (``redeem``): the
device's owner becomes their email with source ``claim`` (server/owners.py's order: never
over IT's owner). A code is random (``secrets.token_urlsafe``), only its SHA-256 is kept,
it is valid ``CLAIM_MINUTES`` and works once. A device may ask for ``MAX_CODES`` codes per
``CLAIM_MINUTES`` (the count is in the database, so it holds across server processes).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import secrets

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection, Engine

from . import owners
from .db import utcnow
from .models import ClaimCode, Device
from .security import matches, sha256_hex, split_secret

log = logging.getLogger("checkup.server")

CLAIM_MINUTES = 15
MAX_CODES = 5                     # per device per CLAIM_MINUTES
_CODE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")

# states of a code, as the page shows them
OPEN = "open"            # valid: the page offers the button
DONE = "done"            # just claimed
YOURS = "yours"          # the person already owns the device
USED = "used"
EXPIRED = "expired"
UNKNOWN = "unknown"      # no such code (mistyped, guessed)
IT_OWNED = "it_owned"    # IT set another owner: nothing changes, "ask IT"
NOT_EMAIL = "not_email"  # signed in with an account that is no email (a local IT login)


class TooMany(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"too many claim links asked for; try again in {retry_after} s")
        self.retry_after = retry_after


@dataclasses.dataclass(frozen=True)
class Claim:
    state: str
    device_id: str | None = None
    hostname: str | None = None
    expires_at: dt.datetime | None = None


def code_hash(code: str) -> str | None:
    """The stored key of a presented code, or None when it cannot be one (no look-up)."""
    return sha256_hex(code) if isinstance(code, str) and _CODE.match(code) else None


def device_for_secret(engine: Engine, secret: str | None) -> str | None:
    """The enrolled, not revoked device this secret belongs to (constant-time check)."""
    device_id = split_secret(secret) if secret else None
    if device_id is None:
        return None
    with engine.connect() as conn:
        stored = conn.execute(select(Device.secret_hash).where(
            Device.id == device_id, Device.revoked_at.is_(None))).scalar()
    return device_id if matches(secret, stored) else None


def new_code(engine: Engine, device_id: str) -> tuple[str, dt.datetime]:
    """A fresh code for ``device_id``: (the code, when it expires). Raises TooMany."""
    now = utcnow()
    window = now - dt.timedelta(minutes=CLAIM_MINUTES)
    code = secrets.token_urlsafe(24)
    expires = now + dt.timedelta(minutes=CLAIM_MINUTES)
    with engine.begin() as conn:
        _store_forget_old(conn, device_id, now - dt.timedelta(days=1))
        recent = _store_recent(conn, device_id, window)
        if len(recent) >= MAX_CODES:
            wait = (min(recent) + dt.timedelta(minutes=CLAIM_MINUTES) - now).total_seconds()
            log.warning("device %s asked for more than %d claim links in %d min: refused",
                        device_id, MAX_CODES, CLAIM_MINUTES)
            raise TooMany(max(1, int(wait) + 1))
        conn.execute(ClaimCode.__table__.insert().values(
            code_hash=sha256_hex(code), device_id=device_id, created_at=now, expires_at=expires,
            used_at=None, used_by=""))
    log.info("device %s: claim link made, valid until %s", device_id, expires)
    return code, expires


def look_up(engine: Engine, code: str, email: str | None) -> Claim:
    """What the page shows for ``code`` to the person ``email`` (nothing changes)."""
    with engine.connect() as conn:
        return _state(conn, code, email, utcnow())


def _state(conn: Connection, code: str, email: str | None, now: dt.datetime) -> Claim:
    key = code_hash(code)
    row = _store_code(conn, key) if key else None
    if row is None:
        return Claim(UNKNOWN)
    dev = conn.execute(select(Device.hostname, Device.owner, Device.owner_source)
                       .where(Device.id == row.device_id)).first()
    if dev is None:
        return Claim(UNKNOWN)
    base = dict(device_id=row.device_id, hostname=dev.hostname, expires_at=row.expires_at)
    if row.used_at is not None:
        mine = email is not None and row.used_by == email and dev.owner == email
        return Claim(YOURS if mine else USED, **base)
    if row.expires_at <= now:
        return Claim(EXPIRED, **base)
    if email is None:
        return Claim(NOT_EMAIL, **base)
    if dev.owner == email and dev.owner_source != "mdm":
        return Claim(YOURS, **base)
    # owned by this person through an MDM's word only: the claim makes it their own (a later
    # change of user in the MDM then reports owner_mismatch instead of taking it away)
    if dev.owner and dev.owner_source == "it":
        return Claim(IT_OWNED, **base)
    return Claim(OPEN, **base)


class _Undo(Exception):
    def __init__(self, claim: Claim):
        super().__init__(claim.state)
        self.claim = claim


def person_email(subject: str) -> str | None:
    """The signed-in subject as an owner email, or None (a local IT login name)."""
    try:
        return owners.normalise_email(subject)
    except owners.OwnerError:
        return None


def redeem(engine: Engine, code: str, email: str | None, *, actor: str, role: str = "",
           address: str = "") -> Claim:
    """Make the code's device ``email``'s (source claim) and use the code up. Refusals
    (expired, used, unknown, IT's owner, no email) change nothing."""
    now = utcnow()
    try:
        with engine.begin() as conn:
            claim = _state(conn, code, email, now)
            if claim.state not in (OPEN, YOURS):
                raise _Undo(claim)
            # use the code up first: of two presses at once, one wins
            if not _store_use(conn, code_hash(code), email, now):
                late = claim.expires_at is not None and claim.expires_at <= now
                raise _Undo(claim if claim.state == YOURS else dataclasses.replace(
                    claim, state=EXPIRED if late else USED))
            # already theirs: an MDM's word becomes their own claim; IT's or a claim stays
            res = owners.set_owner(conn, claim.device_id, email, "claim", actor=actor,
                                   role=role, address=address)
            if claim.state == YOURS:
                return claim
            if res.outcome == owners.KEPT:   # IT set an owner between the look and the write
                raise _Undo(dataclasses.replace(claim, state=IT_OWNED))
            return dataclasses.replace(claim, state=DONE)
    except _Undo as undo:
        if undo.claim.state != YOURS:
            log.warning("claim refused (%s) for %s from %s, device %s", undo.claim.state,
                        actor, address or "?", undo.claim.device_id or "-")
        return undo.claim


# -- store ------------------------------------------------------------------------

def _store_code(conn: Connection, key: str):  # noqa: ANN202
    return conn.execute(select(ClaimCode.device_id, ClaimCode.expires_at, ClaimCode.used_at,
                               ClaimCode.used_by).where(ClaimCode.code_hash == key)).first()


def _store_use(conn: Connection, key: str, email: str, now: dt.datetime) -> bool:
    return conn.execute(update(ClaimCode).where(
        ClaimCode.code_hash == key, ClaimCode.used_at.is_(None), ClaimCode.expires_at > now)
        .values(used_at=now, used_by=email[:320])).rowcount == 1


def _store_recent(conn: Connection, device_id: str, since: dt.datetime) -> list[dt.datetime]:
    return list(conn.execute(select(ClaimCode.created_at).where(
        ClaimCode.device_id == device_id, ClaimCode.created_at > since)).scalars())


def _store_forget_old(conn: Connection, device_id: str, before: dt.datetime) -> None:
    conn.execute(delete(ClaimCode).where(ClaimCode.device_id == device_id,
                                         ClaimCode.expires_at < before))


def open_codes(engine: Engine, device_id: str) -> int:
    """How many unused, unexpired codes a device has (tests, the device page)."""
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(ClaimCode).where(
            ClaimCode.device_id == device_id, ClaimCode.used_at.is_(None),
            ClaimCode.expires_at > utcnow())).scalar_one()
