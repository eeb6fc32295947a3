"""Exemptions (DESIGN "Exemptions"): IT excuses one device, or every device of one owner,
from one check until an end day, with a reason. The server owns them; each agent fetches its
own device's active ones (``GET /api/v1/exemptions``), caches them with their end day and
shows the check as "Exempt until 12 Jan (IT: reason)" instead of nagging. The exemption ends
on its own: active while ``ends_on`` >= today (UTC), on the server and in the agent's cache.

Rules (one place): a reason is required (at most 500 characters); the end day is today or
later and at most ``MAX_DAYS`` ahead; the check id is one the agent knows; the device exists
(or the owner is an email). Every create and delete is audited in the same transaction.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy.engine import Connection, Engine

from agent import checks as registry

from . import audit
from . import exemptions_store as store
from .db import utcnow
from .untrusted import shown, storable

log = logging.getLogger("checkup.server.exemptions")

MAX_DAYS = 366          # an exemption is a temporary excuse: at most a year (then renew it)
MAX_REASON = 500


class ExemptionError(ValueError):
    """Bad input: the message is for the person who typed it."""


@dataclass
class Exempt:
    id: int
    check_id: str
    until: dt.date
    reason: str
    device_id: str | None
    owner: str | None
    created_by: str

    def as_agent(self) -> dict:
        """What the agent gets (DESIGN "Exemptions")."""
        return {"check": self.check_id, "until": self.until.isoformat(), "reason": self.reason}


def today() -> dt.date:
    return utcnow().date()


def _row(r) -> Exempt:  # noqa: ANN001
    return Exempt(r.id, r.check_id, r.ends_on, r.reason, r.device_id, r.owner, r.created_by)


def parse_day(text: object) -> dt.date:
    if isinstance(text, dt.date):
        return text
    try:
        return dt.date.fromisoformat(str(text or "").strip())
    except ValueError:
        raise ExemptionError(f"{str(text)[:40]!r} is not a date (give YYYY-MM-DD)") from None


def validate(check_id: object, reason: object, until: object, now: dt.date | None = None
             ) -> tuple[str, str, dt.date]:
    """(check id, reason, end day), or ExemptionError saying what is wrong."""
    now = now or today()
    check = str(check_id or "").strip()
    if check not in registry.ids():
        raise ExemptionError(f"unknown check {check[:64]!r} (one of: {', '.join(registry.ids())})")
    why = storable(shown(str(reason or ""))).strip()
    if not why:
        raise ExemptionError("give a reason: the person sees it next to the check")
    if len(why) > MAX_REASON:
        raise ExemptionError(f"the reason is longer than {MAX_REASON} characters")
    day = parse_day(until)
    if day < now:
        raise ExemptionError(f"the end date {day.isoformat()} is in the past")
    if day > now + dt.timedelta(days=MAX_DAYS):
        raise ExemptionError(f"the end date {day.isoformat()} is more than {MAX_DAYS} days away; "
                             "exemptions are temporary (make a new one when it ends)")
    return check, why, day


def create(engine: Engine, *, check_id: str, reason: str, until: object, device_id: str = "",
           owner: str = "", owners_devices: bool = False, actor: str, role: str = "",
           address: str = "") -> Exempt:
    """Exempt one device (``device_id``) or every device of ``owner`` from one check;
    ``owners_devices``: every device of ``device_id``'s owner (the device page's tick box)."""
    check, why, day = validate(check_id, reason, until)
    if bool(device_id) == bool(owner):
        raise ExemptionError("say which device, or which owner (an email), not both")
    with engine.begin() as conn:
        if device_id:
            exists, device_owner = (store.device_owner(conn, device_id)
                                    if device_id.isalnum() and len(device_id) <= 64 else (False, None))
            if not exists:
                raise ExemptionError(f"no device {device_id[:40]!r} (see 'checkup-server device list')")
            if owners_devices and not device_owner:
                raise ExemptionError("this device has no owner, so it can only be exempted itself")
            owner = device_owner if owners_devices else ""
        if not owner:
            target, owner_email = f"device:{device_id}", None
        else:
            from .owners import OwnerError, normalise_email
            try:
                owner_email = normalise_email(owner)
            except OwnerError as exc:
                raise ExemptionError(str(exc)) from None
            target = f"owner:{owner_email}"
        new_id = store.insert(conn, device_id=None if owner_email else device_id, owner=owner_email, check_id=check,
                              reason=why, ends_on=day, created_at=utcnow(), created_by=actor[:320])
        audit.record(conn, actor=actor, role=role, action="exemption.create", target=target,
                     address=address, detail=f"#{new_id} {check} until {day.isoformat()}: {why}")
    log.info("exemption #%d: %s %s until %s by %s", new_id, target, check, day, actor)
    return Exempt(new_id, check, day, why, None if owner_email else device_id, owner_email, actor)


def delete(engine: Engine, exemption_id: int, *, actor: str, role: str = "",
           address: str = "") -> Exempt:
    with engine.begin() as conn:
        row = store.get(conn, exemption_id)
        if row is None:
            raise ExemptionError(f"no exemption #{exemption_id}")
        ex = _row(row)
        store.remove(conn, exemption_id)
        target = f"device:{ex.device_id}" if ex.device_id else f"owner:{ex.owner}"
        audit.record(conn, actor=actor, role=role, action="exemption.delete", target=target,
                     address=address, detail=f"#{ex.id} {ex.check_id} until {ex.until.isoformat()}")
    log.info("exemption #%d deleted by %s", exemption_id, actor)
    return ex


def active_for_device(conn: Connection, device_id: str, now: dt.date | None = None) -> list[Exempt]:
    """The device's exemptions in force today, one per check (the one that ends last)."""
    if not (device_id.isalnum() and len(device_id) <= 64):
        return []
    _exists, owner = store.device_owner(conn, device_id)
    seen: dict[str, Exempt] = {}
    for r in store.active_for(conn, device_id, owner, now or today()):
        seen.setdefault(r.check_id, _row(r))
    return list(seen.values())


def listed(conn: Connection, include_ended: bool = False) -> list[Exempt]:
    return [_row(r) for r in store.listed(conn, today(), include_ended)]
