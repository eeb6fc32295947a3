"""API tokens for IT's read API (DESIGN "API for IT").

A token is ``<id>.<random>`` (server.security.new_secret): shown once, only its SHA-256
is stored. It has a role (viewer | admin), may expire, and is revoked by setting
``revoked_at``; ``lookup`` refuses revoked and expired ones.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import secrets

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine

from .db import utcnow
from .models import ApiToken
from .security import matches, new_secret, split_secret

ROLES = ("viewer", "admin")
USED_EVERY = dt.timedelta(seconds=60)   # last_used_at is written at most this often


@dataclasses.dataclass(frozen=True)
class TokenInfo:
    id: str
    role: str
    label: str


def create_token(conn: Connection, role: str, label: str, created_by: str,
                 expires_days: float | None = None) -> tuple[str, str]:
    """(token id, the token itself, shown once)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    ident = secrets.token_hex(8)
    token, digest = new_secret(ident)
    now = utcnow()
    conn.execute(ApiToken.__table__.insert().values(
        id=ident, secret_hash=digest, role=role, label=(label or "")[:200], created_at=now,
        created_by=(created_by or "")[:320], revoked_at=None, last_used_at=None,
        expires_at=now + dt.timedelta(days=expires_days) if expires_days else None))
    return ident, token


def lookup_token(engine: Engine, token: str | None) -> TokenInfo | None:
    """The live token a bearer value names, or None."""
    ident = split_secret(token or "")
    if ident is None:
        return None
    with engine.connect() as conn:
        stored = conn.execute(select(*ApiToken.__table__.c)
                              .where(ApiToken.id == ident)).first()
    if not matches(token, stored.secret_hash if stored else None):
        return None
    now = utcnow()
    if stored.revoked_at is not None or (stored.expires_at and stored.expires_at <= now):
        return None
    if stored.last_used_at is None or now - stored.last_used_at >= USED_EVERY:
        with engine.begin() as conn:
            conn.execute(update(ApiToken).where(ApiToken.id == ident).values(last_used_at=now))
    return TokenInfo(id=stored.id, role=stored.role, label=stored.label)


def revoke_token(conn: Connection, ident: str) -> bool:
    """True when a live token was revoked."""
    return conn.execute(update(ApiToken).where(ApiToken.id == ident,
                                               ApiToken.revoked_at.is_(None))
                        .values(revoked_at=utcnow())).rowcount > 0


def list_tokens(conn: Connection) -> list:
    return conn.execute(select(ApiToken.id, ApiToken.role, ApiToken.label, ApiToken.created_at,
                               ApiToken.created_by, ApiToken.expires_at, ApiToken.revoked_at,
                               ApiToken.last_used_at).order_by(ApiToken.created_at)).all()
