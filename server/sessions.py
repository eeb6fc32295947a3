"""Server-side sessions for the web pages, and per-account login backoff.

A session is a row in ``web_sessions``: the browser's cookie holds a random token, the
database only its SHA-256, so every server process sees the same sessions and logout, a
password change or ``checkup-server admin logout`` ends one at once. The row names who
(``subject``: a local user name now, an email with single sign-on later), how (``auth``:
``local``) and the ``role``, so it is not tied to the local admin table.

Failed sign-ins are counted per account name in ``login_failures`` (every process shares
them, on SQLite and PostgreSQL): after ``FREE_FAILURES`` the name is locked for 1 minute,
doubling with each further failure up to 1 hour; a success or ``checkup-server admin
unlock`` clears it, and the count starts again after a day without failures. Names that
are no account are counted the same way, so the answer never tells whether one exists.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import secrets

from sqlalchemy import and_, case, delete, or_, select, update
from sqlalchemy.engine import Connection, Engine

from .db import utcnow
from .models import Admin, LoginFailure, WebSession
from .security import sha256_hex

log = logging.getLogger("checkup.server")

LOCAL = "local"
FREE_FAILURES = 4            # the 5th failure in a row locks the account
FIRST_LOCK_SECONDS = 60
MAX_LOCK_SECONDS = 3600
FORGET_FAILURES_AFTER = dt.timedelta(days=1)
SEEN_EVERY = dt.timedelta(seconds=60)   # last_seen_at is written at most this often


@dataclasses.dataclass(frozen=True)
class SessionInfo:
    token_hash: str
    subject: str
    auth: str
    role: str
    csrf: str
    created_at: dt.datetime
    expires_at: dt.datetime

    # The templates and pages read sess.n (who) and sess.c (the form token).
    @property
    def n(self) -> str:
        return self.subject

    @property
    def c(self) -> str:
        return self.csrf

    def get(self, key: str, default=None):  # noqa: ANN001 - dict-style access used by pages
        return getattr(self, key, default)


# -- sessions -----------------------------------------------------------------

def create_session(engine: Engine, subject: str, auth: str, role: str, address: str,
                   hours: float) -> tuple[str, SessionInfo]:
    """A new session: (the token for the cookie, the session). Only the token's hash is kept."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    info = SessionInfo(token_hash=sha256_hex(token), subject=subject, auth=auth, role=role,
                       csrf=secrets.token_urlsafe(24), created_at=now,
                       expires_at=now + dt.timedelta(hours=hours))
    with engine.begin() as conn:
        conn.execute(WebSession.__table__.insert().values(
            token_hash=info.token_hash, subject=subject, auth=auth, role=role, csrf=info.csrf,
            created_at=now, expires_at=info.expires_at, last_seen_at=now, revoked_at=None,
            address=(address or "")[:64]))
    return token, info


def lookup_session(engine: Engine, token: str | None) -> SessionInfo | None:
    """The live session a cookie's token names, or None (unknown, revoked, expired, or its
    local admin no longer exists)."""
    if not token or len(token) > 200:
        return None
    token_hash = sha256_hex(token)
    now = utcnow()
    with engine.connect() as conn:
        row = conn.execute(
            select(*WebSession.__table__.c, Admin.id.label("admin_id"))
            .outerjoin(Admin, and_(WebSession.auth == LOCAL, Admin.username == WebSession.subject))
            .where(WebSession.token_hash == token_hash)).first()
    if row is None:
        return None
    s = row
    if s.revoked_at is not None or s.expires_at <= now:
        return None
    if s.auth == LOCAL and row.admin_id is None:   # the admin was deleted
        return None
    if now - s.last_seen_at >= SEEN_EVERY:
        with engine.begin() as conn:
            conn.execute(update(WebSession).where(WebSession.token_hash == token_hash)
                         .values(last_seen_at=now))
    return SessionInfo(token_hash=s.token_hash, subject=s.subject, auth=s.auth, role=s.role,
                       csrf=s.csrf, created_at=s.created_at, expires_at=s.expires_at)


def revoke_session(engine: Engine, token_hash: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(WebSession).where(WebSession.token_hash == token_hash,
                                              WebSession.revoked_at.is_(None))
                     .values(revoked_at=utcnow()))


def revoke_subject(conn: Connection, subject: str, auth: str = LOCAL) -> int:
    """End every live session of ``subject`` (inside the caller's transaction); how many."""
    now = utcnow()
    return conn.execute(update(WebSession).where(
        WebSession.auth == auth, WebSession.subject == subject,
        WebSession.revoked_at.is_(None), WebSession.expires_at > now)
        .values(revoked_at=now)).rowcount


def live_sessions(engine: Engine, subject: str, auth: str = LOCAL) -> list:
    with engine.connect() as conn:
        return conn.execute(
            select(WebSession.token_hash, WebSession.created_at, WebSession.last_seen_at,
                   WebSession.expires_at, WebSession.address)
            .where(WebSession.auth == auth, WebSession.subject == subject,
                   WebSession.revoked_at.is_(None), WebSession.expires_at > utcnow())
            .order_by(WebSession.created_at)).all()


def prune_sessions(engine: Engine) -> dict[str, int]:
    """Drop ended sessions and failure counts nobody needs any more."""
    now = utcnow()
    with engine.begin() as conn:
        sessions = conn.execute(delete(WebSession).where(or_(
            WebSession.expires_at <= now, WebSession.revoked_at.is_not(None)))).rowcount
        failures = conn.execute(delete(LoginFailure).where(
            LoginFailure.last_failure_at < now - FORGET_FAILURES_AFTER,
            or_(LoginFailure.locked_until.is_(None), LoginFailure.locked_until <= now))).rowcount
    return {"sessions": sessions, "login_failures": failures}


# -- per-account backoff -------------------------------------------------------

def lock_seconds(failures: int) -> int:
    """How long an account waits after ``failures`` failures in a row: none for the first
    four, then 1 minute, doubling, at most an hour."""
    if failures <= FREE_FAILURES:
        return 0
    return min(MAX_LOCK_SECONDS, FIRST_LOCK_SECONDS * 2 ** min(failures - FREE_FAILURES - 1, 12))


def _insert(conn: Connection):  # noqa: ANN202 - the dialect's INSERT, for ON CONFLICT
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(LoginFailure)


def take_attempt(engine: Engine, subject: str, auth: str = LOCAL) -> tuple[bool, int, int]:
    """Before a password is checked: may ``subject`` try now? (allowed, failures in a row
    counting this attempt, seconds locked).

    The attempt is counted as a failure up front, in one statement that refuses when the
    name is locked, so attempts arriving at once on several server processes cannot slip
    past the lock: at most 5 passwords are ever checked before it, then one per lock. A
    success clears the count (``clear_failures``); a failure leaves it.
    """
    now = utcnow()
    t = LoginFailure.__table__
    with engine.begin() as conn:
        stmt = _insert(conn).values(auth=auth, subject=subject, failures=1,
                                    last_failure_at=now, locked_until=None)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.auth, t.c.subject],
            set_={"failures": case((t.c.last_failure_at < now - FORGET_FAILURES_AFTER, 1),
                                   else_=t.c.failures + 1),
                  "last_failure_at": now},
            where=or_(t.c.locked_until.is_(None), t.c.locked_until <= now))
        failures = conn.execute(stmt.returning(t.c.failures)).scalar()
        if failures is None:   # locked: nothing was counted
            until = conn.execute(select(t.c.locked_until).where(
                t.c.auth == auth, t.c.subject == subject)).scalar()
            return False, 0, max(1, int((until - now).total_seconds())) if until else 1
        wait = lock_seconds(failures)
        if wait:
            conn.execute(update(LoginFailure).where(
                LoginFailure.auth == auth, LoginFailure.subject == subject)
                .values(locked_until=now + dt.timedelta(seconds=wait)))
    return True, failures, wait


def clear_failures(engine_or_conn, subject: str, auth: str = LOCAL) -> int:  # noqa: ANN001
    """Forget ``subject``'s failures (a success, an unlock); how many there were."""
    def run(conn: Connection) -> int:
        n = conn.execute(select(LoginFailure.failures).where(
            LoginFailure.auth == auth, LoginFailure.subject == subject)).scalar()
        if n is not None:
            conn.execute(delete(LoginFailure).where(LoginFailure.auth == auth,
                                                    LoginFailure.subject == subject))
        return n or 0
    if isinstance(engine_or_conn, Connection):
        return run(engine_or_conn)
    with engine_or_conn.begin() as conn:
        return run(conn)
