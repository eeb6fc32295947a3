"""Outgoing webhooks: IT hears of a change where it works (README "Alerts: webhooks and email").

- **Events** (``EVENTS``): a device newly failing a required check (``check.failing``), a
  device fixed (``device.fixed``: its status leaves ``fail``), an MDM finding appearing
  (``mdm.finding``), an MDM sync failing (``sync.failed``).
- **Outbox.** An event is written to ``webhook_outbox`` (one row per subscribed webhook) in
  the transaction of the change that causes it, so ingest never waits for the network; the
  ``Deliverer`` thread sends it.
- **Delivery.** A JSON POST with a timeout, redirects not followed; a 2xx is delivered,
  anything else is retried with exponential backoff (``[webhooks] backoff_seconds`` doubling,
  capped at ``backoff_cap_seconds``) up to ``max_attempts``, then ``failed``. Every attempt
  (status code, error, duration) goes to ``webhook_attempts``, shown on ``/webhooks``.
- **Signature.** ``Checkup-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
  f"{t}.{body}")>``. The secret is made by the server, shown once, and kept as it is in
  the database (it must sign, so it cannot be a hash); deleting the webhook revokes it.
- **URLs.** ``https://`` only; ``http://`` only to this machine (127.0.0.0/8, ::1, localhost).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import threading
import time
import uuid
from typing import Any, Iterable
from urllib.parse import urlsplit

from sqlalchemy.engine import Connection, Engine

from . import audit
from . import webhooks_store as store
from .db import utcnow
from .untrusted import json_text, shown, storable

log = logging.getLogger("checkup.server.webhooks")

EVENTS = ("check.failing", "device.fixed", "mdm.finding", "sync.failed")
FORMATS = ("generic", "slack")
SIGNATURE_HEADER = "Checkup-Signature"
SCHEMA_VERSION = 1


class WebhookError(ValueError):
    """Refused input; the message says why, for the person who typed it."""


# -- input ----------------------------------------------------------------------------

def check_url(url: str) -> str:
    url = (url or "").strip()
    if not url:
        raise WebhookError("Give the webhook's URL.")
    if len(url) > 2000 or not url.isprintable() or " " in url:
        raise WebhookError("That URL is not valid (at most 2000 characters, no spaces).")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port   # noqa: B018 - a bad port raises here
    except ValueError:
        raise WebhookError("That URL is not valid.") from None
    if parts.scheme not in ("https", "http") or not host:
        raise WebhookError("The webhook URL must start with https://.")
    if parts.username or parts.password:
        raise WebhookError("Put no user name or password in the URL; the signature "
                           "authenticates the server.")
    if parts.scheme == "http" and not is_loopback(host):
        raise WebhookError("The webhook URL must use https://. Plain http:// is only allowed "
                           "to this machine (127.0.0.1, ::1, localhost).")
    return url


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_events(events: Iterable[str]) -> list[str]:
    out = sorted({e.strip() for e in events if e and e.strip()})
    bad = [e for e in out if e not in EVENTS]
    if bad:
        raise WebhookError(f"Unknown event {bad[0][:40]!r}; choose from {', '.join(EVENTS)}.")
    if not out:
        raise WebhookError("Choose at least one event.")
    return out


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 200 or not name.isprintable():
        raise WebhookError("Give the webhook a name (plain text, at most 200 characters).")
    return name


# -- webhooks ---------------------------------------------------------------------------

def create(conn: Connection, *, name: str, url: str, fmt: str, events: Iterable[str],
           actor: str, role: str = "", address: str = "") -> tuple[str, str]:
    """(id, secret): the secret is shown once. Writes the audit row in ``conn``'s transaction."""
    name, url, events = check_name(name), check_url(url), check_events(events)
    if fmt not in FORMATS:
        raise WebhookError(f"The format must be one of {', '.join(FORMATS)}.")
    ident = secrets.token_hex(8)
    secret = "whsec_" + secrets.token_urlsafe(32)
    store.insert_webhook(conn, dict(id=ident, name=name, url=url, format=fmt,
                                    events=",".join(events), secret=secret,
                                    created_at=utcnow(), created_by=actor[:320]))
    audit.record(conn, actor=actor, role=role, action="webhook.create", target=ident,
                 address=address, detail=f"{name} {fmt} {_shown_url(url)} {','.join(events)}")
    return ident, secret


def delete(conn: Connection, webhook_id: str, *, actor: str, role: str = "",
           address: str = "") -> bool:
    ok = store.delete_webhook(conn, webhook_id[:32])
    audit.record(conn, actor=actor, role=role, action="webhook.delete", target=webhook_id[:32],
                 address=address, ok=ok, detail="" if ok else "no such webhook")
    return ok


def _shown_url(url: str) -> str:
    """The URL without its path and query (Slack's URLs carry their secret in the path)."""
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}/…" if p.path not in ("", "/") or p.query else url


# -- events -----------------------------------------------------------------------------

def event_body(event: str, data: dict, at: dt.datetime) -> str:
    """The generic format (README): {schema, id, event, at, data}."""
    return json_text({"schema": SCHEMA_VERSION, "id": str(uuid.uuid4()), "event": event,
                      "at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "data": data}, sort_keys=True)


def enqueue(conn: Connection, events: list[tuple[str, dict]], now: dt.datetime | None = None) -> int:
    """Put ``events`` [(event, data)] in the outbox of every webhook subscribed to them, in
    ``conn``'s transaction. Returns the rows written."""
    if not events:
        return 0
    subs = store.subscribers(conn)
    if not subs:
        return 0
    now = now or utcnow()
    rows = []
    for event, data in events:
        body = event_body(event, data, now)
        rows += [dict(webhook_id=wid, event=event, body=body, created_at=now, next_at=now,
                      attempts=0, state="pending")
                 for wid, evs in subs if event in evs.split(",")]
    store.enqueue(conn, rows)
    return len(rows)


def from_changes(changes: list[dict], hostnames: dict[str, str | None]) -> list[tuple[str, dict]]:
    """The events in ingest's ``changes`` rows: a check newly ``fail`` (a required check
    failing: a recommended one only nudges), and a device leaving ``fail``."""
    out = []
    for c in changes:
        dev, old, new = c["device_id"], c["old_status"], c["new_status"]
        base = {"device_id": dev, "hostname": hostnames.get(dev), "old_status": old,
                "new_status": new}
        if c["check_id"] and new == "fail" and old not in (None, "fail"):
            out.append(("check.failing", dict(base, check_id=c["check_id"])))
        elif not c["check_id"] and old == "fail" and new != "fail":
            out.append(("device.fixed", base))
    return out


def on_ingest(conn: Connection, changes: list[dict], devices: list[dict]) -> None:
    """Ingest's hook (server/ingest.py, in its transaction): no query unless an event happened."""
    events = from_changes(changes, {d["b_id"]: d.get("hostname") for d in devices})
    if events:
        enqueue(conn, events)


def finding_key(f: dict) -> str:
    raw = json.dumps([f.get("kind"), f.get("device_id") or f.get("serial"), f.get("fact"),
                      sorted(f.get("mdm_ids") or [])], default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def announce_findings(engine: Engine, found: list[dict]) -> int:
    """After an MDM sync: ``mdm.finding`` for each finding not announced before."""
    with engine.begin() as conn:
        if not store.subscribers(conn):
            return 0
        seen = store.seen_keys(conn)
        keyed = {finding_key(f): f for f in found}
        new = [k for k in keyed if k not in seen]
        now = utcnow()
        store.set_seen(conn, new, seen - keyed.keys(), now)
        fields = ("kind", "device_id", "serial", "hostname", "sources", "fact", "agent", "mdm",
                  "detail")
        return enqueue(conn, [("mdm.finding", {f: keyed[k].get(f) for f in fields}) for k in new], now)


# -- formats and signing -------------------------------------------------------------

def slack_escape(text: str) -> str:
    return shown(str(text)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def summary(event: str, data: dict) -> str:
    """One plain sentence for a chat (untrusted names are escaped by the caller's format)."""
    name = data.get("hostname") or data.get("serial") or data.get("device_id") or "a device"
    if event == "check.failing":
        return f"Checkup: {name} now fails the required check {data.get('check_id')}."
    if event == "device.fixed":
        return f"Checkup: {name} passes its required checks again (now {data.get('new_status')})."
    if event == "mdm.finding":
        detail = data.get("detail") or data.get("fact") or ""
        return f"Checkup: new MDM finding ({data.get('kind')}) for {name}. {detail}".strip()
    if event == "sync.failed":
        return f"Checkup: the {data.get('source')} MDM sync failed: {data.get('message')}"
    if event == "test":
        return "Checkup: test message. This webhook works."
    return f"Checkup: {event}"


def render(fmt: str, body: str) -> str:
    if fmt != "slack":
        return body
    ev = json.loads(body)
    return json_text({"text": slack_escape(summary(ev["event"], ev["data"]))})


def sign(secret: str, t: int, body: str) -> str:
    mac = hmac.new(secret.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(secret: str, header: str, body: str, tolerance: int = 300,
           now: float | None = None) -> bool:
    """What a receiver does (README has the same in a snippet)."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now or time.time()) - t) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, t, body), f"t={t},v1={parts.get('v1', '')}")


# -- delivery ---------------------------------------------------------------------------

class Settings:
    def __init__(self, cfg: Any):
        get = (lambda k, d: cfg.get("webhooks", k, d)) if cfg is not None else (lambda k, d: d)
        self.timeout = float(get("timeout_seconds", 10))
        self.max_attempts = max(1, int(get("max_attempts", 8)))
        self.backoff = float(get("backoff_seconds", 30))
        self.backoff_cap = float(get("backoff_cap_seconds", 3600))
        self.poll = float(get("poll_seconds", 2))
        self.keep_days = int(get("keep_log_days", 30))


def post(url: str, fmt: str, secret: str, body: str, timeout: float) -> tuple[int | None, str, int]:
    """One signed POST: (status code or None, error text, milliseconds)."""
    import requests
    payload = render(fmt, body)
    t = int(time.time())
    headers = {"Content-Type": "application/json", "User-Agent": "Checkup-Webhooks/1",
               SIGNATURE_HEADER: sign(secret, t, payload)}
    start = time.monotonic()
    try:
        r = requests.post(url, data=payload.encode(), headers=headers, timeout=timeout,
                          allow_redirects=False)
    except requests.Timeout:
        return None, f"no answer within {timeout:g} s", _ms(start)
    except requests.RequestException as exc:
        return None, f"could not connect ({type(exc).__name__})", _ms(start)
    ms = _ms(start)
    if 200 <= r.status_code < 300:
        return r.status_code, "", ms
    if 300 <= r.status_code < 400:
        return r.status_code, "redirect not followed; give the final URL", ms
    return r.status_code, storable(shown(r.text[:200])), ms


def _ms(start: float) -> int:
    return int((time.monotonic() - start) * 1000)


def backoff(s: Settings, attempts: int) -> float:
    return min(s.backoff_cap, s.backoff * 2 ** max(0, attempts - 1))


def _precise_now() -> dt.datetime:
    """Naive UTC with microseconds (backoffs shorter than a second are kept exact)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def deliver_due(engine: Engine, s: Settings, limit: int = 20) -> int:
    """Send what is due now (each row claimed first, so two processes never both send it)."""
    now = _precise_now()
    with engine.connect() as conn:
        rows = store.due(conn, now, limit)
        hooks = {h.id: h for h in store.webhooks(conn)} if rows else {}
    sent = 0
    for row in rows:
        lease = now + dt.timedelta(seconds=s.timeout * 3 + 60)
        with engine.begin() as conn:
            if not store.claim(conn, row.id, row.next_at, lease):
                continue
        hook = hooks.get(row.webhook_id)
        if hook is None:
            continue   # deleted meanwhile: its pending rows are gone with it
        code, error, ms = post(hook.url, hook.format, hook.secret, row.body, s.timeout)
        attempts = row.attempts + 1
        ok = code is not None and 200 <= code < 300
        state = "delivered" if ok else ("failed" if attempts >= s.max_attempts else "pending")
        at = _precise_now()
        nxt = at + dt.timedelta(seconds=backoff(s, attempts)) if state == "pending" else at
        if not ok:
            log.warning("webhook %s (%s): %s attempt %d: %s", hook.id, row.event,
                        code or "no answer", attempts, error)
        with engine.begin() as conn:
            store.finish(conn, row.id, attempts, state, nxt, dict(
                outbox_id=row.id, webhook_id=hook.id, event=row.event, at=at, attempt=attempts,
                status_code=code, error=error[:500], duration_ms=ms))
        sent += 1
    return sent


def send_test(engine: Engine, webhook_id: str, *, actor: str, role: str = "",
              address: str = "") -> bool:
    """Queue a ``test`` event for one webhook (delivered and logged like any other)."""
    now = utcnow()
    with engine.begin() as conn:
        if store.webhook(conn, webhook_id[:32]) is None:
            return False
        store.enqueue(conn, [dict(webhook_id=webhook_id[:32], event="test",
                                  body=event_body("test", {}, now), created_at=now, next_at=now,
                                  attempts=0, state="pending")])
        audit.record(conn, actor=actor, role=role, action="webhook.test", target=webhook_id[:32],
                     address=address)
    return True


class Deliverer:
    """The delivery worker: a thread per server process, like the MDM sync scheduler."""

    def __init__(self, engine: Engine, cfg: Any):
        self.engine = engine
        self.s = Settings(cfg)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_prune = 0.0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="checkup-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.s.poll):
            try:
                while deliver_due(self.engine, self.s) and not self._stop.is_set():
                    pass
                if time.monotonic() - self._last_prune > 3600:
                    self._last_prune = time.monotonic()
                    with self.engine.begin() as conn:
                        store.prune(conn, utcnow() - dt.timedelta(days=self.s.keep_days))
            except Exception:  # noqa: BLE001 - the worker keeps going; the next round retries
                log.exception("webhook delivery round failed")
