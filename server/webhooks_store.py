"""The SQL behind outgoing webhooks (server/webhooks.py keeps the rules)."""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection

from .models import MdmFindingSeen, Webhook, WebhookAttempt, WebhookOutbox

hooks_t = Webhook.__table__
outbox_t = WebhookOutbox.__table__
attempts_t = WebhookAttempt.__table__
seen_t = MdmFindingSeen.__table__


def insert_webhook(conn: Connection, row: dict) -> None:
    conn.execute(hooks_t.insert().values(**row))


def delete_webhook(conn: Connection, webhook_id: str) -> bool:
    gone = conn.execute(delete(hooks_t).where(hooks_t.c.id == webhook_id)).rowcount
    conn.execute(delete(outbox_t).where(outbox_t.c.webhook_id == webhook_id,
                                        outbox_t.c.state == "pending"))
    return bool(gone)


def webhooks(conn: Connection) -> list[Any]:
    return list(conn.execute(select(hooks_t).order_by(hooks_t.c.created_at, hooks_t.c.id)))


def webhook(conn: Connection, webhook_id: str) -> Any:
    return conn.execute(select(hooks_t).where(hooks_t.c.id == webhook_id)).first()


def subscribers(conn: Connection) -> list[tuple[str, str]]:
    """(id, events) of every webhook: one small query, made only when an event happened."""
    return [(r.id, r.events) for r in conn.execute(select(hooks_t.c.id, hooks_t.c.events))]


def enqueue(conn: Connection, rows: list[dict]) -> None:
    if rows:
        conn.execute(outbox_t.insert(), rows)


def due(conn: Connection, now: dt.datetime, limit: int) -> list[Any]:
    return list(conn.execute(select(outbox_t).where(outbox_t.c.state == "pending",
                                                    outbox_t.c.next_at <= now)
                             .order_by(outbox_t.c.next_at, outbox_t.c.id).limit(limit)))


def claim(conn: Connection, outbox_id: int, seen_next_at: dt.datetime, lease_until: dt.datetime) -> bool:
    """Take one due row for this process (another server process that read it too loses)."""
    return conn.execute(update(outbox_t).where(
        outbox_t.c.id == outbox_id, outbox_t.c.state == "pending",
        outbox_t.c.next_at == seen_next_at).values(next_at=lease_until)).rowcount == 1


def finish(conn: Connection, outbox_id: int, attempts: int, state: str, next_at: dt.datetime,
           attempt: dict) -> None:
    conn.execute(update(outbox_t).where(outbox_t.c.id == outbox_id).values(
        attempts=attempts, state=state, next_at=next_at))
    conn.execute(attempts_t.insert().values(**attempt))


def attempts(conn: Connection, webhook_id: str | None = None, limit: int = 200) -> list[Any]:
    q = select(attempts_t).order_by(attempts_t.c.at.desc(), attempts_t.c.id.desc()).limit(limit)
    if webhook_id:
        q = q.where(attempts_t.c.webhook_id == webhook_id)
    return list(conn.execute(q))


def counts(conn: Connection) -> dict[tuple[str, str], int]:
    """{(webhook_id, state): n} of the outbox."""
    rows = conn.execute(select(outbox_t.c.webhook_id, outbox_t.c.state, func.count())
                        .group_by(outbox_t.c.webhook_id, outbox_t.c.state))
    return {(w, s): n for w, s, n in rows}


def seen_keys(conn: Connection) -> set[str]:
    return {r[0] for r in conn.execute(select(seen_t.c.key))}


def set_seen(conn: Connection, add: Iterable[str], remove: Iterable[str], now: dt.datetime) -> None:
    add, remove = list(add), list(remove)
    if add:
        conn.execute(seen_t.insert(), [{"key": k, "first_at": now} for k in add])
    if remove:
        conn.execute(delete(seen_t).where(seen_t.c.key.in_(remove)))


def prune(conn: Connection, before: dt.datetime) -> int:
    n = conn.execute(delete(attempts_t).where(attempts_t.c.at < before)).rowcount
    conn.execute(delete(outbox_t).where(outbox_t.c.state != "pending", outbox_t.c.next_at < before))
    return n
