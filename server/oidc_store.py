"""OpenID Connect sign-in attempts (table ``oidc_logins``): kept by /auth/oidc/start,
taken once by /auth/oidc/callback.

The ``state`` is stored as its SHA-256, together with the SHA-256 of the browser cookie
that started the attempt: a callback from another browser, an unknown or altered
``state``, an attempt older than ``ATTEMPT_MINUTES`` and a second use of one callback
URL are each refused with their own reason. Taking an attempt is one UPDATE that sets
``used_at`` only while it is NULL, so two callbacks racing on several server processes
cannot both win.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine

from .db import utcnow
from .models import OidcLogin
from .oidc import Attempt, SignInError
from .security import sha256_hex

ATTEMPT_MINUTES = 10        # the person has this long at the IdP
KEEP_HOURS = 24             # used and expired attempts are deleted after this


def save_attempt(engine: Engine, attempt: Attempt, browser: str) -> None:
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(delete(OidcLogin).where(
            OidcLogin.created_at < now - dt.timedelta(hours=KEEP_HOURS)))
        conn.execute(OidcLogin.__table__.insert().values(
            state_hash=sha256_hex(attempt.state), browser_hash=sha256_hex(browser),
            nonce=attempt.nonce, code_verifier=attempt.code_verifier,
            redirect_uri=attempt.redirect_uri[:2000], next=attempt.next[:2000],
            created_at=now, used_at=None))


def take_attempt(engine: Engine, state: str, browser: str | None) -> Attempt:
    """The attempt ``state`` names, marked used; ``SignInError("attempt")`` if it cannot be."""
    if not state or len(state) > 200:
        raise SignInError("attempt", "the callback has no state (or a state that is no "
                                     "attempt of this server)")
    state_hash = sha256_hex(state)
    now = utcnow()
    with engine.connect() as conn:
        row = conn.execute(select(OidcLogin.__table__).where(
            OidcLogin.state_hash == state_hash)).first()
    if row is None:
        raise SignInError("attempt", "unknown state: the callback is not for a sign-in this "
                                     "server started (altered or forged)")
    if row.used_at is not None:
        raise SignInError("attempt", "replayed callback: this sign-in attempt was already used")
    if row.created_at < now - dt.timedelta(minutes=ATTEMPT_MINUTES):
        raise SignInError("attempt", f"the sign-in attempt is older than {ATTEMPT_MINUTES} minutes")
    if not browser or sha256_hex(browser) != row.browser_hash:
        raise SignInError("attempt", "the callback came to another browser than the one that "
                                     "started the sign-in (no or another sign-in cookie)")
    with engine.begin() as conn:
        won = conn.execute(update(OidcLogin).where(OidcLogin.state_hash == state_hash,
                                                   OidcLogin.used_at.is_(None))
                           .values(used_at=now)).rowcount
    if won != 1:
        raise SignInError("attempt", "replayed callback: this sign-in attempt was already used")
    return Attempt(state=state, nonce=row.nonce, code_verifier=row.code_verifier,
                   redirect_uri=row.redirect_uri, next=row.next)
