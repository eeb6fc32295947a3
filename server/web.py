"""IT's pages: server-rendered HTML (Jinja2), behind a login. The routes are in
server/routes/ (pages.py, login.py); this module holds what they share: rendering, the
sign-in rules, saving the policy.

Sessions live on the server (server/sessions.py): the cookie holds a random
token, the database its hash, so logout, a password change or a revocation ends
a session at once in every process. The cookie is HttpOnly, SameSite=Lax, and
Secure with the ``__Host-`` prefix whenever the request came over https. Every
form carries a CSRF token bound to the session (the login form: to a
pre-session cookie); logout is such a form. Failed logins back off per account
(in the database) on top of the per-address limit.
"""
from __future__ import annotations

import datetime as dt
import hmac
import logging
import math
import os

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy import select, update

from . import audit
from .db import utcnow
from .models import Admin, OrgPolicy, PolicyVersion
from .policy_check import CHECK_IDS, body_etag
from .security import check_password
from .untrusted import shown
from .sessions import LOCAL, clear_failures, create_session, take_attempt

log = logging.getLogger("checkup.server")

PRE_COOKIE = "checkup_login"
HERE = os.path.dirname(os.path.abspath(__file__))

STATUS_WORDS = {"pass": "Healthy", "skip": "Not applicable", "unknown": "Unknown",
                "nudge": "Needs attention", "fail": "Failing", "exempt": "Exempt"}
PLATFORM_WORDS = {"darwin": "macOS", "windows": "Windows", "linux": "Linux"}


def _ago(when: dt.datetime | None) -> str:
    if when is None:
        return "never"
    secs = (utcnow() - when).total_seconds()
    if secs < 90:
        return "just now"
    if secs < 5400:
        return f"{int(secs // 60)} min ago"
    if secs < 36 * 3600:
        return f"{int(secs // 3600)} h ago"
    return plural(int(secs // 86400), "day") + " ago"


def plural(n: int, word: str, words: str | None = None) -> str:
    """``3|plural('device')`` -> "3 devices"; 1 -> "1 device"."""
    return f"{n} {word if n == 1 else (words or word + 's')}"


def _finalize(value):  # noqa: ANN001, ANN202
    """Every {{ value }} on IT's pages: agent and MDM text loses bidi and control
    characters (server.untrusted.shown), so it cannot reorder the page; escaping follows."""
    if isinstance(value, Markup):
        return Markup(shown(str(value)))
    if isinstance(value, str):
        return shown(value)
    return value


def query_text(value: str, limit: int = 100) -> str:
    """A search box's text: control characters (a NUL breaks PostgreSQL) removed, bounded."""
    return shown(value)[:limit]


def make_env() -> Environment:
    env = Environment(loader=FileSystemLoader(os.path.join(HERE, "templates")),
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True,
                      finalize=_finalize)
    env.filters["ago"] = _ago
    env.filters["plural"] = plural
    from .fleet import check_title, observed_words
    env.filters["check_title"] = check_title   # "screen_lock" -> "Screen lock"
    env.filters["observed_words"] = observed_words
    env.filters["utc"] = lambda d: d.strftime("%Y-%m-%d %H:%M UTC") if d else "—"
    env.globals.update(STATUS_WORDS=STATUS_WORDS, PLATFORM_WORDS=PLATFORM_WORDS, CHECK_IDS=CHECK_IDS)
    from .oidc import login_options    # the login page's choices: SSO button, local form
    env.globals["login_options"] = login_options
    return env


_ENV: Environment | None = None


def render(request: Request, name: str, status: int = 200, headers: dict | None = None,
           **ctx) -> HTMLResponse:
    """A page from server/templates (every router renders through this)."""
    global _ENV
    if _ENV is None:
        _ENV = make_env()
    html = _ENV.get_template(name).render(request=request, **ctx)
    return HTMLResponse(html, status_code=status,
                        headers={"Cache-Control": "no-store", **(headers or {})})


def forbidden_page(request: Request, caller, reason: str) -> HTMLResponse:  # noqa: ANN001
    """The 403 page (server.access.install): an employee is pointed at their own devices
    (/me) and sees no IT navigation; IT without the permission is told who can do it."""
    from .access import IT_READ
    employee = caller is not None and not caller.may(IT_READ)
    sess = getattr(caller, "session", None)
    return render(request, "forbidden.html", status=403, sess=None if employee else sess,
                  person=sess if employee else None, employee=employee, reason=reason, nav="")


def csrf_ok(sess, form) -> bool:  # noqa: ANN001
    """The form carries the session's CSRF token (every form of a signed-in page has it)."""
    return hmac.compare_digest(str(form.get("csrf", "")), sess.csrf)


def is_admin(sess: dict) -> bool:
    """May this session change things (revoke, approve)? Every IT login is an admin today;
    a session that says otherwise (a read-only role) may not."""
    return sess.get("role", "admin") == "admin"


def _safe_next(nxt: str) -> str:
    """Only local paths: never an open redirect."""
    if not nxt.startswith("/") or nxt.startswith("//") or "\\" in nxt:
        return "/"
    return nxt


def _sign_in(engine, username: str, password: str, client: str,  # noqa: ANN001
             session_hours: int) -> tuple[str, int, str | None]:
    """("ok", 0, cookie token) | ("wrong", 0, None) | ("locked", seconds to wait, None).

    A known and an unknown user name take the same path (one counted attempt, one scrypt),
    so neither the answer nor its time tells whether the account exists.
    """
    allowed, failures, wait = take_attempt(engine, username)
    if not allowed:
        log.warning("login refused for account %r from %s: locked for %d s more",
                    username, client, wait)
        audit.record(engine, actor=username, action="sign_in", target=LOCAL, address=client,
                     ok=False, detail=f"locked out after failed sign-ins: {wait} s more to wait")
        return "locked", wait, None
    row = _check_login(engine, username, password)
    if row is None:
        log.warning("login failed for account %r from %s (%d in a row)", username, client, failures)
        why = f"wrong user name or password ({failures} in a row)"
        if wait:
            log.warning("account %r locked for %d min after %d failed logins (last from %s)",
                        username, math.ceil(wait / 60), failures, client)
            why += f"; locked for {math.ceil(wait / 60)} min"
        audit.record(engine, actor=username, action="sign_in", target=LOCAL, address=client,
                     ok=False, detail=why)
        return ("locked", wait, None) if wait else ("wrong", 0, None)
    clear_failures(engine, username)
    token, _ = create_session(engine, row.username, LOCAL, "admin", client, session_hours)
    audit.record(engine, actor=row.username, action="sign_in", role="admin", target=LOCAL,
                 address=client)
    log.info("login: account %r from %s", row.username, client)
    return "ok", 0, token


def _sign_out(engine, sess, client: str) -> None:  # noqa: ANN001
    """End this session (the logout button), with its audit row, in one transaction."""
    from .models import WebSession
    with engine.begin() as conn:
        conn.execute(update(WebSession).where(WebSession.token_hash == sess.token_hash,
                                              WebSession.revoked_at.is_(None))
                     .values(revoked_at=utcnow()))
        audit.record(conn, actor=sess.subject, action="sign_out", role=sess.role,
                     target=sess.auth, address=client)


def _check_login(engine, username: str, password: str):  # noqa: ANN001
    with engine.connect() as conn:
        row = conn.execute(select(Admin.id, Admin.username, Admin.password_hash)
                           .where(Admin.username == username)).first()
    if not check_password(password, row.password_hash if row else None):
        return None
    with engine.begin() as conn:
        conn.execute(update(Admin).where(Admin.id == row.id).values(last_login_at=utcnow()))
    return row


def _save_policy(engine, text: str, who: str, role: str = "", address: str = "",  # noqa: ANN001
                 actor: str | None = None, note: str = "") -> None:
    """Set (or, with empty text, clear) the organisation policy, and its audit row, in one
    transaction. ``actor`` is the audit log's who (default ``who``); ``note`` says why
    (e.g. "revert to version 7"), on the version and in the audit row."""
    with engine.begin() as conn:
        conn.execute(OrgPolicy.__table__.delete().where(OrgPolicy.id == 1))
        kept = text if text.strip() else ""
        conn.execute(PolicyVersion.__table__.insert().values(
            text=kept, etag=body_etag(kept) if kept else "", saved_at=utcnow(), saved_by=who,
            note=note[:256]))
        if text.strip():
            etag = body_etag(text)
            conn.execute(OrgPolicy.__table__.insert().values(
                id=1, text=text, etag=etag, updated_at=utcnow(), updated_by=who))
            audit.record(conn, actor=actor or who, action="policy.change", role=role,
                         target="organisation policy", address=address,
                         detail=f"{len(text.encode())} bytes, ETag {etag}" + (f"; {note}" if note else ""))
        else:
            audit.record(conn, actor=actor or who, action="policy.clear", role=role,
                         target="organisation policy", address=address,
                         detail="cleared: agents use their own policy" + (f"; {note}" if note else ""))
