"""The email digest (README "Alerts: webhooks and email"): once a working day, each person
whose devices need something gets one email listing them, with the same fix steps as
their /me page (server/people.py builds both). Opt-in by IT: ``[digest] enabled``.

At most one a day per person: the ``digest_sent`` row (email, day) is written *before*
the email is sent, so a second server process or a restart finds it and sends nothing;
a send that fails removes it again and the next round retries.
"""
from __future__ import annotations

import datetime as dt
import html
import logging
import smtplib
import threading
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from . import digest_store as store
from .db import utcnow
from .untrusted import shown

log = logging.getLogger("checkup.server.digest")


class DigestConfigError(ValueError):
    pass


class Settings:
    def __init__(self, cfg: Any):
        def get(k: str, d: Any = None) -> Any:
            return cfg.get("digest", k, d)
        self.enabled = bool(get("enabled", False))
        self.host = str(get("smtp_host", "") or "")
        self.port = int(get("smtp_port", 587))
        self.starttls = bool(get("starttls", True))
        self.user = str(get("smtp_user", "") or "")
        self.password_file = str(get("password_file", "") or "")
        self.sender = str(get("from", "") or "")
        self.days = {int(d) for d in (get("working_days", [1, 2, 3, 4, 5]) or [])}
        self.hour = int(get("send_hour", 9))
        self.tz = ZoneInfo(str(get("timezone", "UTC") or "UTC"))
        self.subject = str(get("subject", "") or "Your devices: a few things to do")
        self.public_url = str(cfg.get("server", "public_url", "") or "").rstrip("/")

    def missing(self) -> list[str]:
        return [f"[digest] {k}" for k, v in (("smtp_host", self.host), ("from", self.sender)) if not v]

    def password(self) -> str:
        if not self.password_file:
            return ""
        try:
            with open(self.password_file, encoding="utf-8") as fh:
                return fh.read().strip()
        except OSError as exc:
            raise DigestConfigError(f"[digest] password_file {self.password_file}: "
                                    f"{exc.strerror or exc}") from None

    def working_day(self, now: dt.datetime) -> dt.date | None:
        """Today (local) if digests go out now (a working day, from send_hour), else None."""
        local = now.replace(tzinfo=dt.timezone.utc).astimezone(self.tz)
        if local.isoweekday() in self.days and local.hour >= self.hour:
            return local.date()
        return None


def needs(person: dict) -> list[dict]:
    """The person's devices with something to do, each with only those practices."""
    out = []
    for d in person.get("devices", []):
        todo = [p for p in d.get("practices", []) if p.get("status") in ("fail", "nudge")]
        if todo:
            out.append(dict(d, practices=todo))
    return out


def _name(d: dict) -> str:
    return shown(str(d.get("hostname") or d.get("name") or d.get("model") or "Your device"))


def message(s: Settings, email: str, devices: list[dict]) -> EmailMessage:
    """Plain text and an HTML alternative; every agent or MDM word is escaped in the HTML."""
    lines = ["Hello,", "", "Checkup found a few things to do on your devices. Each one takes "
             "a few minutes:", ""]
    parts = ["<p>Hello,</p><p>Checkup found a few things to do on your devices. Each one "
             "takes a few minutes:</p>"]
    for d in devices:
        lines.append(_name(d))
        parts.append(f"<h2>{html.escape(_name(d))}</h2><ul>")
        for p in d["practices"]:
            must = "needs fixing" if p["status"] == "fail" else "recommended"
            title = shown(str(p.get("title", p.get("id", ""))))
            lines.append(f"  * {title} ({must})")
            parts.append(f"<li><strong>{html.escape(title)}</strong> ({must})")
            if p.get("summary"):
                lines.append(f"    {shown(str(p['summary']))}")
                parts.append(f"<br>{html.escape(shown(str(p['summary'])))}")
            steps = [shown(str(x)) for x in p.get("steps") or []]
            if steps:
                parts.append("<ol>")
                for i, step in enumerate(steps, 1):
                    lines.append(f"    {i}. {step}")
                    parts.append(f"<li>{html.escape(step)}</li>")
                parts.append("</ol>")
            parts.append("</li>")
        parts.append("</ul>")
        lines.append("")
    if s.public_url:
        lines += [f"Your devices, any time: {s.public_url}/me", ""]
        parts.append(f'<p>Your devices, any time: <a href="{html.escape(s.public_url)}/me">'
                     f"{html.escape(s.public_url)}/me</a></p>")
    lines.append("Thank you! You get at most one of these a working day.")
    parts.append("<p>Thank you! You get at most one of these a working day.</p>")
    msg = EmailMessage()
    msg["Subject"] = s.subject
    msg["From"] = s.sender
    msg["To"] = email
    msg["Message-ID"] = make_msgid(domain=s.sender.rsplit("@", 1)[-1].strip("> ") or None)
    msg.set_content("\n".join(lines))
    msg.add_alternative("<!doctype html><html><body>" + "".join(parts) + "</body></html>",
                        subtype="html")
    return msg


def _smtp(s: Settings) -> smtplib.SMTP:
    conn = smtplib.SMTP(s.host, s.port, timeout=30)
    if s.starttls:
        conn.starttls()
    if s.user:
        conn.login(s.user, s.password())
    return conn


def send_due(engine: Engine, cfg: Any, now: dt.datetime | None = None, *,
             force: bool = False) -> dict[str, int]:
    """Send today's digests not sent yet: {"sent", "nothing_to_do", "already", "failed"}.
    ``force``: also outside working days and hours (still at most one a day)."""
    from .people import person_devices
    s = Settings(cfg)
    out = {"sent": 0, "nothing_to_do": 0, "already": 0, "failed": 0}
    now = now or utcnow()
    day = s.working_day(now) or (now.replace(tzinfo=dt.timezone.utc).astimezone(s.tz).date()
                                 if force else None)
    if day is None:
        return out
    if s.missing():
        raise DigestConfigError("the digest needs " + ", ".join(s.missing()))
    with engine.connect() as conn:
        people = store.owners(conn)
        done = store.sent_on(conn, day)
    smtp = None
    try:
        for email in people:
            if email in done:
                out["already"] += 1
                continue
            devices = needs(person_devices(engine, cfg, email, now=now.replace(tzinfo=dt.timezone.utc)))
            if not devices:
                out["nothing_to_do"] += 1
                continue
            if not store.claim(engine, email, day, now):
                out["already"] += 1
                continue
            try:
                smtp = smtp or _smtp(s)
                smtp.send_message(message(s, email, devices))
                out["sent"] += 1
            except (smtplib.SMTPException, OSError, DigestConfigError) as exc:
                store.release(engine, email, day)
                log.warning("digest to %s not sent: %s", email, exc)
                out["failed"] += 1
                if smtp is not None:
                    try:
                        smtp.close()
                    except Exception:  # noqa: BLE001
                        log.debug("closing SMTP failed", exc_info=True)
                smtp = None
    finally:
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                log.debug("SMTP QUIT failed", exc_info=True)
    return out


class DigestScheduler:
    """Looks every ``check_seconds`` (300) whether today's digests are due (a thread per
    server process; the digest_sent rows keep it at one email per person per day)."""

    def __init__(self, engine: Engine, cfg: Any, check_seconds: float = 300):
        self.engine, self.cfg, self.every = engine, cfg, check_seconds
        self._stop = threading.Event()

    def start(self) -> None:
        if Settings(self.cfg).enabled:
            threading.Thread(target=self._loop, name="checkup-digest", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                r = send_due(self.engine, self.cfg)
                if r["sent"] or r["failed"]:
                    log.info("digest: %s", r)
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("digest round failed")
