"""Who may enroll, IT's approvals, and revocation.

The enrollment token lets a *new* machine in, never an existing one:

- An identity (a serial or a hardware UUID, normalised) that no device holds: a new
  device, ``201``.
- The same identity again with that device's current secret (``Authorization: Bearer``):
  the secret is rotated, same device, ``201``; the old secret dies.
- An identity an enrolled device holds, without its secret (a reinstalled laptop, or
  someone with the token and the serial): nothing changes for that device. The request
  waits for IT (``202`` ``status: pending`` with a request secret only the asking
  computer holds); IT approves or rejects it on the device page or with
  ``checkup-server device approve|reject``. The next enrollment with the request secret
  gets the device's new secret (approved: ``201``) or ``403 enrollment_rejected``.
- An identity a revoked device holds: ``403 device_revoked``.

Revoking a device overwrites its secret hash (nothing hashes to it), so every request
with the old secret is a ``401`` at once; the row and its history stay.
"""
from __future__ import annotations

import logging
import secrets as _secrets
from dataclasses import dataclass

from pydantic import BaseModel
from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import Connection, Engine

from . import audit
from .db import utcnow
from .mdm.records import normalise_serial, normalise_uuid, uuid_key
from .models import Device, EnrollRequest, EnrollToken
from .security import matches, new_secret, split_secret

log = logging.getLogger("checkup.server.devices")

PENDING_RETRY_SECONDS = 900          # a waiting agent asks again after this long
REFUSED_RETRY_SECONDS = 24 * 3600    # a removed or rejected one, after this long
MAX_PENDING_PER_DEVICE = 10          # requests waiting for IT for one device
REVOKED_HASH = "revoked"             # no SHA-256 hex digest equals this (set with revoked_at)
RESTORED_HASH = "restored"           # nor this: a restored device's secret stays dead

WAITING = "waiting for IT to approve this computer"
REMOVED = "this computer was removed from Checkup by IT; ask IT to let it back in"
REJECTED = "IT did not approve this computer; ask IT if you think that is a mistake"

devices_t = Device.__table__
requests_t = EnrollRequest.__table__


class EnrollPending(BaseModel):
    """202 from /api/v1/enroll: waiting for IT. ``request_secret`` only in the first answer."""
    status: str = "pending"
    request_id: str
    request_secret: str | None = None
    detail: str


class DeviceError(Exception):
    """A device or request IT named does not exist or is in the wrong state."""


@dataclass
class Answer:
    status: int
    body: dict
    headers: dict | None = None


def identity_keys(serial, hardware_uuid) -> tuple[str | None, str | None]:  # noqa: ANN001
    """(serial key, UUID key): normalised, placeholders None."""
    return normalise_serial(serial), uuid_key(normalise_uuid(hardware_uuid))


def holder(conn: Connection, serial_key: str | None, uuid_key_: str | None,
           exclude: str | None = None):  # noqa: ANN201
    """The enrolled device (revoked or not) that holds this serial or this hardware UUID,
    or None. With several (older databases), a live one first, then the newest."""
    conds = []
    if serial_key:
        conds.append(Device.serial_key == serial_key)
    if uuid_key_:
        conds.append(Device.uuid_key == uuid_key_)
    if not conds:
        return None
    q = select(Device.id, Device.revoked_at, Device.serial_key, Device.uuid_key).where(or_(*conds))
    if exclude:
        q = q.where(Device.id != exclude)
    q = q.order_by(Device.revoked_at.is_not(None), Device.enrolled_at.desc()).limit(1)
    return conn.execute(q).first()


def _facts(d) -> dict:  # noqa: ANN001
    return {"platform": d.platform, "hostname": d.hostname, "os_name": d.os_name,
            "os_version": d.os_version, "os_build": d.os_build, "model": d.model}


def enroll(engine: Engine, req, presented: str | None) -> Answer:  # noqa: ANN001
    """POST /api/v1/enroll: the whole decision, in one transaction."""
    now = utcnow()
    d = req.device
    skey, ukey = identity_keys(d.serial, d.hardware_uuid)
    with engine.begin() as conn:
        pg = conn.dialect.name == "postgresql"
        if presented:
            answer = _with_secret(conn, presented, d, now, pg)
            if answer is not None:
                return answer
        token = req.enroll_token.strip()
        token_id = split_secret(token)
        row = None
        if token_id:
            q = select(EnrollToken).where(EnrollToken.id == token_id)
            row = conn.execute(q.with_for_update() if pg else q).first()
        if not matches(token, row.secret_hash if row else None):
            return _unknown_token()
        if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now) \
                or (row.max_uses is not None and row.uses >= row.max_uses):
            return _unknown_token()
        if pg:   # two enrollments of one new identity at once: one creates it, one waits
            conn.execute(select(func.pg_advisory_xact_lock(4242002)))
        held = holder(conn, skey, ukey)
        if held is not None and held.revoked_at is not None:
            log.warning("enrollment refused: device %s (serial %r) was revoked", held.id, skey)
            return Answer(403, {"detail": REMOVED, "reason": "device_revoked"},
                          {"Retry-After": str(REFUSED_RETRY_SECONDS)})
        if held is not None:
            waiting = conn.execute(select(func.count()).select_from(EnrollRequest).where(
                EnrollRequest.device_id == held.id, EnrollRequest.status == "pending")).scalar_one()
            if waiting >= MAX_PENDING_PER_DEVICE:
                return Answer(429, {"detail": f"{MAX_PENDING_PER_DEVICE} requests for this computer "
                                              "are already waiting for IT"},
                              {"Retry-After": str(PENDING_RETRY_SECONDS)})
            conn.execute(update(EnrollToken).where(EnrollToken.id == token_id)
                         .values(uses=EnrollToken.uses + 1))
            request_id = _secrets.token_hex(16)
            secret, secret_hash = new_secret(request_id)
            conn.execute(requests_t.insert().values(
                id=request_id, secret_hash=secret_hash, device_id=held.id, token_id=token_id,
                created_at=now, last_seen_at=now, status="pending", decided_by="",
                serial=d.serial, hardware_uuid=d.hardware_uuid, **_facts(d)))
            log.warning("enrollment of device %s's identity without its secret (token %s): "
                        "request %s waits for IT", held.id, token_id, request_id)
            return Answer(202, {"status": "pending", "request_id": request_id,
                                "request_secret": secret, "detail": WAITING},
                          {"Retry-After": str(PENDING_RETRY_SECONDS)})
        conn.execute(update(EnrollToken).where(EnrollToken.id == token_id)
                     .values(uses=EnrollToken.uses + 1))
        device_id = _secrets.token_hex(16)
        secret, secret_hash = new_secret(device_id)
        conn.execute(devices_t.insert().values(
            id=device_id, secret_hash=secret_hash, token_id=token_id, enrolled_at=now,
            status="unknown", failing="", serial=d.serial, hardware_uuid=d.hardware_uuid,
            serial_key=skey, uuid_key=ukey, revoked_by="", **_facts(d)))
    log.info("enrolled device %s with token %s", device_id, token_id)
    return Answer(201, {"device_id": device_id, "device_secret": secret})


def _unknown_token() -> Answer:
    return Answer(401, {"detail": "enrollment token unknown, expired, used up or revoked"})


def _with_secret(conn: Connection, presented: str, d, now, pg: bool) -> Answer | None:  # noqa: ANN001
    """Enrollment that presents a secret: the device's own (rotation) or a waiting
    request's (its answer). None: the secret proves nothing here; go on as without."""
    from .ingest import _identity, _identity_change
    ident = split_secret(presented)
    if ident is None:
        return None
    q = select(Device.id, Device.secret_hash, Device.platform, Device.serial,
               Device.hardware_uuid).where(Device.id == ident)
    dev = conn.execute(q.with_for_update() if pg else q).first()
    if dev is not None:
        if not matches(presented, dev.secret_hash):
            return None
        if _identity_change(_identity(dev.platform, dev.serial, dev.hardware_uuid),
                            _identity(d.platform, d.serial, d.hardware_uuid)):
            return None   # this secret is another machine's: this one enrolls as itself
        secret, secret_hash = new_secret(dev.id)
        values = {k: v for k, v in _facts(d).items() if v is not None and k != "platform"}
        conn.execute(update(Device).where(Device.id == dev.id)
                     .values(secret_hash=secret_hash, **values))
        log.info("device %s rotated its secret", dev.id)
        return Answer(201, {"device_id": dev.id, "device_secret": secret})
    q = select(EnrollRequest).where(EnrollRequest.id == ident)
    er = conn.execute(q.with_for_update() if pg else q).first()
    if er is None or not matches(presented, er.secret_hash) or er.status == "done":
        return None
    conn.execute(update(EnrollRequest).where(EnrollRequest.id == er.id).values(last_seen_at=now))
    target = conn.execute(select(Device.id, Device.revoked_at).where(Device.id == er.device_id)).first()
    if target is None or target.revoked_at is not None:
        return Answer(403, {"detail": REMOVED, "reason": "device_revoked"},
                      {"Retry-After": str(REFUSED_RETRY_SECONDS)})
    if er.status == "rejected":
        return Answer(403, {"detail": REJECTED, "reason": "enrollment_rejected"},
                      {"Retry-After": str(REFUSED_RETRY_SECONDS)})
    if er.status == "pending":
        return Answer(202, {"status": "pending", "request_id": er.id, "detail": WAITING},
                      {"Retry-After": str(PENDING_RETRY_SECONDS)})
    # approved: this computer is that device now, with a new secret (the old one dies)
    secret, secret_hash = new_secret(er.device_id)
    values = {k: v for k, v in _facts(er).items() if v is not None and k != "platform"}
    conn.execute(update(Device).where(Device.id == er.device_id)
                 .values(secret_hash=secret_hash, **values))
    conn.execute(update(EnrollRequest).where(EnrollRequest.id == er.id).values(status="done"))
    log.info("device %s is back in through request %s (approved by %s)", er.device_id, er.id,
             er.decided_by)
    return Answer(201, {"device_id": er.device_id, "device_secret": secret})


# -- IT's actions (CLI and device page) -----------------------------------------

# Each of IT's actions below writes its audit row (server/audit.py) in the transaction of
# the change: ``actor`` is the audit log's who (default ``who``, the name kept on the row),
# ``role`` their role, ``address`` where the request came from ("" for a command).

def decide(engine: Engine, request_id: str, approve: bool, who: str,
           device_id: str | None = None, *, actor: str | None = None, role: str = "",
           address: str = "") -> dict:
    """Approve or reject a waiting request. Returns the request as a dict. ``device_id``:
    the request must be for that device (the device page's buttons)."""
    with engine.begin() as conn:
        q = select(EnrollRequest).where(EnrollRequest.id == request_id[:32])
        if device_id is not None:
            q = q.where(EnrollRequest.device_id == device_id)
        er = conn.execute(q).first()
        if er is None:
            raise DeviceError(f"no enrollment request {request_id!r}")
        if er.status != "pending":
            raise DeviceError(f"request {er.id} is already {_REQUEST_WORDS.get(er.status, er.status)}")
        revoked = conn.execute(select(Device.revoked_at).where(Device.id == er.device_id)).scalar()
        if approve and revoked is not None:
            raise DeviceError(f"device {er.device_id} is revoked; restore it first "
                              f"(checkup-server device restore {er.device_id})")
        conn.execute(update(EnrollRequest).where(EnrollRequest.id == er.id).values(
            status="approved" if approve else "rejected", decided_at=utcnow(), decided_by=who[:128]))
        audit.record(conn, actor=actor or who, action="device.approve" if approve else "device.reject",
                     role=role, target=er.device_id, address=address,
                     detail=f"enrollment request {er.id}")
    log.warning("%s %s enrollment request %s for device %s", who, "approved" if approve else "rejected",
                er.id, er.device_id)
    return dict(er._mapping, status="approved" if approve else "rejected")


_REQUEST_WORDS = {"pending": "waiting", "approved": "approved (the computer has not picked it up yet)",
                  "rejected": "rejected", "done": "used (the computer is back in)"}


def revoke(engine: Engine, device_ids: list[str], who: str, *, actor: str | None = None,
           role: str = "", address: str = "", why: str = "") -> int:
    """Revoke devices: the secret dies now, waiting requests are rejected, history stays.
    Returns how many were newly revoked (each gets its audit row; ``why``: its detail)."""
    if not device_ids:
        return 0
    now = utcnow()
    n = 0
    with engine.begin() as conn:
        pg = conn.dialect.name == "postgresql"
        for i in range(0, len(device_ids), 500):
            chunk = device_ids[i:i + 500]
            q = select(Device.id).where(Device.id.in_(chunk), Device.revoked_at.is_(None))
            live = list(conn.execute(q.with_for_update() if pg else q).scalars())
            if not live:
                continue
            n += conn.execute(update(Device).where(Device.id.in_(live), Device.revoked_at.is_(None))
                              .values(secret_hash=REVOKED_HASH, revoked_at=now,
                                      revoked_by=who[:128])).rowcount
            for dev_id in live:
                audit.record(conn, actor=actor or who, action="device.revoke", role=role,
                             target=dev_id, address=address, detail=why)
            conn.execute(update(EnrollRequest).where(EnrollRequest.device_id.in_(chunk),
                                                     EnrollRequest.status.in_(("pending", "approved")))
                         .values(status="rejected", decided_at=now, decided_by=who[:128]))
    log.warning("%s revoked %d device(s): %s", who, n, ", ".join(device_ids[:20]))
    return n


def revoke_device(engine: Engine, device_id: str, who: str, *, actor: str | None = None,
                  role: str = "", address: str = "") -> bool:
    """True when revoked now; False when it already was. DeviceError: no such device."""
    with engine.connect() as conn:
        if conn.execute(select(Device.id).where(Device.id == device_id[:64])).first() is None:
            raise DeviceError(f"no device {device_id!r}")
    return revoke(engine, [device_id[:64]], who, actor=actor, role=role, address=address) == 1


def token_device_ids(engine: Engine, token_id: str) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(Device.id).where(
            Device.token_id == token_id, Device.revoked_at.is_(None)).order_by(Device.id)).scalars())


def restore(engine: Engine, device_id: str, who: str, *, actor: str | None = None,
            role: str = "", address: str = "") -> None:
    """Un-revoke: the device is no longer removed, but its old secret stays dead; the
    laptop's next enrollment waits for IT's approval as any other."""
    with engine.begin() as conn:
        n = conn.execute(update(Device).where(Device.id == device_id[:64], Device.revoked_at.is_not(None))
                         .values(revoked_at=None, revoked_by="", secret_hash=RESTORED_HASH)).rowcount
        if not n:
            known = conn.execute(select(Device.id).where(Device.id == device_id[:64])).first()
            raise DeviceError(f"device {device_id!r} is not revoked" if known else
                              f"no device {device_id!r}")
        audit.record(conn, actor=actor or who, action="device.restore", role=role,
                     target=device_id[:64], address=address)
    log.warning("%s restored device %s", who, device_id)


def pending_requests(conn: Connection, device_id: str | None = None, limit: int = 200) -> list:
    q = select(EnrollRequest, Device.hostname.label("device_hostname")).join(
        Device, Device.id == EnrollRequest.device_id)
    if device_id is not None:
        q = q.where(EnrollRequest.device_id == device_id)
        q = q.where(EnrollRequest.status.in_(("pending", "approved")))
    else:
        q = q.where(EnrollRequest.status == "pending")
    return conn.execute(q.order_by(EnrollRequest.created_at.desc()).limit(limit)).all()
