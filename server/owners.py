"""Who owns each device (DESIGN "Ownership"): the rules.

Each device has at most one owner (an email, lower-case) and the source that set it,
strongest first: ``it`` (IT on the device page or ``checkup-server owner set``), ``claim``
(the person claimed it from the laptop), ``mdm`` (the assigned user of a matched MDM
record). A weaker source never replaces a stronger one; an equal or stronger one does.
Every change writes one audit row in the same transaction as the change, so there is no
change without its row. The SQL is in the small ``_store_*`` functions at the end.
"""
from __future__ import annotations

import dataclasses
import logging
import re

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine

from . import audit
from .db import utcnow
from .models import Device

log = logging.getLogger("checkup.server")

SOURCES = ("it", "claim", "mdm")                 # strongest first
STRENGTH = {"it": 3, "claim": 2, "mdm": 1}
SOURCE_WORDS = {"it": "set by IT", "claim": "claimed by the person", "mdm": "from the MDM"}

# outcomes
SET = "set"              # the owner (or its source) changed
UNCHANGED = "unchanged"  # already this owner from this source
KEPT = "kept"            # a stronger source holds the device: nothing changed
CLEARED = "cleared"
NO_OWNER = "no_owner"    # clear: there was none
NO_DEVICE = "no_device"

_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f.]+$")


class OwnerError(ValueError):
    """Bad input (not an email, unknown source): the message is for the person."""


@dataclasses.dataclass(frozen=True)
class OwnerResult:
    outcome: str                  # SET | UNCHANGED | KEPT | CLEARED | NO_OWNER | NO_DEVICE
    device_id: str
    owner: str | None             # the owner after the call
    source: str | None            # its source after the call
    previous: str | None = None
    previous_source: str | None = None
    reason: str = ""              # what happened and why, in words

    @property
    def changed(self) -> bool:
        return self.outcome in (SET, CLEARED)


def normalise_email(value: object) -> str:
    """``value`` as an owner email (trimmed, lower-case), or OwnerError saying why not."""
    text = str(value or "").strip().lower()
    if not text:
        raise OwnerError("no email given")
    if len(text) > 320 or not _EMAIL.match(text):
        raise OwnerError(f"{text[:80]!r} is not an email address")
    return text


def stronger(a: str | None, b: str | None) -> bool:
    """Is source ``a`` strictly stronger than ``b``?"""
    return STRENGTH.get(a or "", 0) > STRENGTH.get(b or "", 0)


def may_replace(new: str, current: str | None) -> bool:
    """May ``new`` replace an owner set by ``current``? (equal or stronger: yes)"""
    return STRENGTH[new] >= STRENGTH.get(current or "", 0)


def _check_source(source: str) -> None:
    if source not in STRENGTH:
        raise OwnerError(f"unknown owner source {source!r} (one of {', '.join(SOURCES)})")


def _action(source: str) -> str:
    return "owner.claim" if source == "claim" else "owner.set"


def set_owner(conn: Connection | Engine, device_id: str, email: str, source: str, *,
              actor: str, role: str = "", address: str = "") -> OwnerResult:
    """Make ``email`` the owner of ``device_id`` from ``source`` unless a stronger source
    holds it. Raises OwnerError for a bad email or source."""
    _check_source(source)
    email = normalise_email(email)
    if isinstance(conn, Engine):
        with conn.begin() as c:
            return set_owner(c, device_id, email, source, actor=actor, role=role, address=address)
    for _ in range(5):   # compare-and-set: another writer between read and write -> read again
        row = _store_get(conn, device_id)
        if row is None:
            return OwnerResult(NO_DEVICE, device_id, None, None, reason="no such device")
        owner, cur = row.owner, row.owner_source
        if owner == email and cur == source:
            return OwnerResult(UNCHANGED, device_id, owner, cur, owner, cur,
                               reason=f"{email} already owns it ({SOURCE_WORDS[source]})")
        if owner and not may_replace(source, cur):
            return OwnerResult(KEPT, device_id, owner, cur, owner, cur,
                               reason=f"kept {owner} ({SOURCE_WORDS.get(cur, cur)}): "
                                      f"{SOURCE_WORDS[source]} is a weaker source")
        if not _store_write(conn, device_id, (owner, cur), email, source, actor):
            continue
        was = f"; was {owner} ({cur})" if owner else "; had no owner"
        audit.record(conn, actor=actor, action=_action(source), role=role, target=device_id,
                     address=address, detail=f"{email} ({source}){was}")
        log.info("device %s owner %s (%s) by %s%s", device_id, email, source, actor, was)
        return OwnerResult(SET, device_id, email, source, owner, cur,
                           reason=f"{email} now owns it ({SOURCE_WORDS[source]})")
    raise RuntimeError(f"device {device_id}: owner kept changing under us")


def clear_owner(conn: Connection | Engine, device_id: str, *, actor: str, source: str = "it",
                role: str = "", address: str = "") -> OwnerResult:
    """Remove the owner, if ``source`` may replace the one that set it (IT may clear any;
    an MDM only an owner that came from an MDM)."""
    _check_source(source)
    if isinstance(conn, Engine):
        with conn.begin() as c:
            return clear_owner(c, device_id, actor=actor, source=source, role=role,
                               address=address)
    for _ in range(5):
        row = _store_get(conn, device_id)
        if row is None:
            return OwnerResult(NO_DEVICE, device_id, None, None, reason="no such device")
        owner, cur = row.owner, row.owner_source
        if not owner:
            return OwnerResult(NO_OWNER, device_id, None, None, reason="it had no owner")
        if not may_replace(source, cur):
            return OwnerResult(KEPT, device_id, owner, cur, owner, cur,
                               reason=f"kept {owner} ({SOURCE_WORDS.get(cur, cur)}): "
                                      f"{SOURCE_WORDS[source]} is a weaker source")
        if not _store_write(conn, device_id, (owner, cur), None, None, actor):
            continue
        audit.record(conn, actor=actor, action="owner.clear", role=role, target=device_id,
                     address=address, detail=f"was {owner} ({cur})")
        log.info("device %s owner cleared by %s; was %s (%s)", device_id, actor, owner, cur)
        return OwnerResult(CLEARED, device_id, None, None, owner, cur,
                           reason=f"no owner now; was {owner} ({SOURCE_WORDS.get(cur, cur)})")
    raise RuntimeError(f"device {device_id}: owner kept changing under us")


def owner_of(conn: Connection | Engine, device_id: str) -> tuple[str | None, str | None] | None:
    """(owner, source) of a device, or None when there is no such device."""
    if isinstance(conn, Engine):
        with conn.connect() as c:
            return owner_of(c, device_id)
    row = _store_get(conn, device_id)
    return None if row is None else (row.owner, row.owner_source)


# -- MDM-derived owners -----------------------------------------------------------

def apply_mdm_owners(engine: Engine, plan: dict[str, tuple[str | None, str]]) -> dict[str, int]:
    """Apply ``reconcile.mdm_owner_plan``: device id -> (email, MDM source) to set, or
    (None, source) to clear an owner that came from an MDM which no longer names anyone.
    Stronger sources are kept (set_owner's rule). Returns counts by outcome."""
    counts: dict[str, int] = {}
    for device_id, (email, source) in sorted(plan.items()):
        try:
            with engine.begin() as conn:
                if email is None:
                    res = clear_owner(conn, device_id, actor=f"mdm:{source}", source="mdm")
                else:
                    res = set_owner(conn, device_id, email, "mdm", actor=f"mdm:{source}")
        except OwnerError as exc:
            log.warning("device %s: %s user not used as owner: %s", device_id, source, exc)
            res = None
        key = res.outcome if res else "invalid"
        counts[key] = counts.get(key, 0) + 1
    return counts


# -- store ------------------------------------------------------------------------

def _store_get(conn: Connection, device_id: str):  # noqa: ANN202
    if not isinstance(device_id, str) or not device_id.isalnum() or len(device_id) > 32:
        return None
    return conn.execute(select(Device.owner, Device.owner_source)
                        .where(Device.id == device_id)).first()


def _store_write(conn: Connection, device_id: str, old: tuple[str | None, str | None],
                 owner: str | None, source: str | None, by: str) -> bool:
    """Write the owner if it is still ``old`` (compare and set); False when it changed."""
    old_owner, old_source = old
    cond = [Device.id == device_id,
            Device.owner.is_(None) if old_owner is None else Device.owner == old_owner,
            Device.owner_source.is_(None) if old_source is None else Device.owner_source == old_source]
    done = conn.execute(update(Device).where(*cond).values(
        owner=owner, owner_source=source, owner_set_at=utcnow(),   # when it last changed
        owner_set_by=(by or "")[:320])).rowcount
    return done == 1
