"""Engine, migrations and small shared helpers."""
from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import sqlite3

from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import Engine

from .models import Meta

MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


def make_engine(url: str, **kw) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               pool_size=8, max_overflow=8, **kw)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            try:
                cur.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError as exc:   # a read-only file: readable, /readyz says why
                logging.getLogger("checkup.server").warning("SQLite %s: %s", path, exc)
            cur.execute("PRAGMA synchronous=FULL")  # a 202 means it is on disk
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
        return engine
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True, **kw)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (Alembic). Safe to run from several processes
    on PostgreSQL (an advisory lock serialises them)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(4242001)"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        _ensure_secret_key(conn)


def _ensure_secret_key(conn) -> None:  # noqa: ANN001
    if conn.execute(select(Meta.value).where(Meta.key == "secret_key")).scalar() is None:
        conn.execute(Meta.__table__.insert().values(key="secret_key",
                                                    value=secrets.token_urlsafe(48)))


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def secret_key(engine: Engine) -> str:
    with engine.connect() as conn:
        return conn.execute(select(Meta.value).where(Meta.key == "secret_key")).scalar_one()
