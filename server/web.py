"""IT's pages: server-rendered HTML (Jinja2), behind a login.

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
import secrets
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy import select, update

from .db import utcnow
from .fleet import DeviceFilter, current_policy, device_detail, device_list, overview
from .models import Admin, OrgPolicy
from .policy_check import CHECK_IDS, PolicyInvalid, validate_policy
from .security import check_password
from .untrusted import shown
from .sessions import (LOCAL, clear_failures, create_session, lookup_session, revoke_session,
                       take_attempt)

log = logging.getLogger("checkup.server")

SESSION_COOKIE = "checkup_session"            # over plain http (loopback)
HOST_SESSION_COOKIE = "__Host-checkup_session"  # over https: Secure, Path=/, no Domain
PRE_COOKIE = "checkup_login"
HERE = os.path.dirname(os.path.abspath(__file__))

STATUS_WORDS = {"pass": "Healthy", "skip": "Not applicable", "unknown": "Unknown",
                "nudge": "Needs attention", "fail": "Failing"}
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
    env.filters["utc"] = lambda d: d.strftime("%Y-%m-%d %H:%M UTC") if d else "—"
    env.globals.update(STATUS_WORDS=STATUS_WORDS, PLATFORM_WORDS=PLATFORM_WORDS, CHECK_IDS=CHECK_IDS)
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


def add_web_routes(app: FastAPI, state) -> None:  # noqa: ANN001, C901
    engine = state.engine
    session_hours = int(state.cfg.get("auth", "session_hours", 12))
    if session_hours < 1:
        log.warning("[auth] session_hours = %s is too short; using 1", session_hours)
        session_hours = 1
    local_login = state.cfg.get("auth", "local_login", True) is not False
    stale_days = int(state.cfg.get("server", "stale_after_days"))
    secure_mode = state.cfg.get("server", "secure_cookies")
    css_path = os.path.join(HERE, "templates", "app.css")

    def secure(request: Request) -> bool:
        if isinstance(secure_mode, bool):
            return secure_mode
        return request.url.scheme == "https"

    def cookie_name(request: Request) -> str:
        return HOST_SESSION_COOKIE if secure(request) else SESSION_COOKIE

    def session(request: Request):  # -> sessions.SessionInfo | None
        """The signed-in person, from the database (revoked and expired sessions are none)."""
        return lookup_session(engine, request.cookies.get(cookie_name(request)))

    def end_cookie(request: Request, resp: Response) -> None:
        resp.delete_cookie(cookie_name(request), path="/", secure=secure(request),
                           httponly=True, samesite="lax")

    def login_redirect(request: Request) -> RedirectResponse:
        nxt = request.url.path + (("?" + request.url.query) if request.url.query else "")
        return RedirectResponse("/login?" + urlencode({"next": nxt}), status_code=303)

    def csrf_ok(sess, form) -> bool:  # noqa: ANN001
        return hmac.compare_digest(str(form.get("csrf", "")), sess.csrf)

    @app.get("/static/app.css", include_in_schema=False)
    def css():
        with open(css_path, "rb") as fh:
            return Response(fh.read(), media_type="text/css",
                            headers={"Cache-Control": "max-age=3600"})

    @app.get("/login", include_in_schema=False, response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/"):  # noqa: A002
        token = secrets.token_urlsafe(24)
        resp = render(request, "login.html", csrf=token, next=_safe_next(next), error=None)
        resp.set_cookie(PRE_COOKIE, token, httponly=True, samesite="strict",
                        secure=secure(request), max_age=1800, path="/login")
        return resp

    @app.post("/login", include_in_schema=False)
    async def login(request: Request):
        form = await request.form()
        nxt = _safe_next(str(form.get("next", "/")))
        pre = request.cookies.get(PRE_COOKIE, "")
        if not pre or not hmac.compare_digest(str(form.get("csrf", "")), pre):
            return render(request, "login.html", status=400, csrf=pre or "", next=nxt,
                          error="The form expired. Please try again.")
        client = request.client.host if request.client else "?"
        if state.login_buckets.take(client):
            log.warning("login refused for %s: too many attempts from this address", client)
            return render(request, "login.html", status=429, csrf=pre, next=nxt,
                          error="Too many attempts. Wait a minute and try again.")
        if not local_login:
            return render(request, "login.html", status=403, csrf=pre, next=nxt,
                          error="Signing in with a Checkup user name is turned off here.")
        username = str(form.get("username", ""))[:128].strip().replace("\x00", "")
        password = str(form.get("password", ""))[:1024]
        from starlette.concurrency import run_in_threadpool
        outcome, wait, token = await run_in_threadpool(_sign_in, engine, username, password,
                                                       client, session_hours)
        if outcome == "locked":
            minutes = plural(max(1, math.ceil(wait / 60)), "minute")
            return render(request, "login.html", status=429, csrf=pre, next=nxt,
                          error=f"Wrong user name or password, or too many attempts: "
                                f"wait {minutes} and try again.",
                          headers={"Retry-After": str(max(1, wait))})
        if outcome != "ok":
            return render(request, "login.html", status=401, csrf=pre, next=nxt,
                          error="Wrong user name or password.")
        resp = RedirectResponse(nxt, status_code=303)
        resp.set_cookie(cookie_name(request), token, httponly=True, samesite="lax",
                        secure=secure(request), max_age=session_hours * 3600, path="/")
        resp.delete_cookie(PRE_COOKIE, path="/login")
        return resp

    @app.get("/logout", include_in_schema=False, response_class=HTMLResponse)
    def logout_page(request: Request):
        # A link or a cross-site GET never logs anyone out: this only offers the button.
        sess = session(request)
        if sess is None:
            return RedirectResponse("/login", status_code=303)
        return render(request, "logout.html", sess=sess, nav="", error=None)

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request):
        from starlette.concurrency import run_in_threadpool
        sess = await run_in_threadpool(session, request)
        form = await request.form()
        if sess is None:
            resp = RedirectResponse("/login", status_code=303)
            if request.cookies.get(cookie_name(request)):
                end_cookie(request, resp)   # an ended session's cookie: drop it
            return resp
        if not csrf_ok(sess, form):
            log.warning("logout without its form token refused (account %r, from %s)",
                        sess.subject, request.client.host if request.client else "?")
            return render(request, "logout.html", status=403, sess=sess, nav="",
                          error="That log-out request did not come from a Checkup page, so you "
                                "are still logged in. To log out, use the button below.")
        await run_in_threadpool(revoke_session, engine, sess.token_hash)
        log.info("logout: account %r from %s", sess.subject,
                 request.client.host if request.client else "?")
        resp = RedirectResponse("/login", status_code=303)
        end_cookie(request, resp)
        return resp

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    def index(request: Request):
        sess = session(request)
        if sess is None:
            return login_redirect(request)
        with engine.connect() as conn:
            ov = overview(conn, stale_days)
        return render(request, "overview.html", sess=sess, ov=ov, nav="overview")

    @app.get("/devices", include_in_schema=False, response_class=HTMLResponse)
    def devices(request: Request, status: str = "", check: str = "", platform: str = "",
                seen: str = "", q: str = "", owner: str = "", page: int = 1):
        sess = session(request)
        if sess is None:
            return login_redirect(request)
        f = DeviceFilter(status=status, check=check if check in CHECK_IDS else "",
                         platform=platform, seen=seen, q=query_text(q),
                         owner=query_text(owner, 320).strip(), page=max(1, min(page, 100000)))
        from .devices import pending_requests
        with engine.connect() as conn:
            rows, total = device_list(conn, f, stale_days)
            waiting = pending_requests(conn, limit=20)
        args = {k: v for k, v in vars(f).items() if v and k != "page"}
        return render(request, "devices.html", sess=sess, rows=rows, total=total, f=f, nav="devices",
                      page_size=100, args=args, urlencode=urlencode, waiting=waiting)

    @app.get("/devices/{device_id}", include_in_schema=False, response_class=HTMLResponse)
    def device_page(request: Request, device_id: str):
        sess = session(request)
        if sess is None:
            return login_redirect(request)
        return show_device(request, sess, device_id,
                           done=request.query_params.get("done", "")[:20])

    def show_device(request: Request, sess: dict, device_id: str, status: int = 200,
                    done: str = "", error: str | None = None) -> HTMLResponse:
        from .devices import pending_requests
        d = None
        if device_id.isalnum() and len(device_id) <= 64:   # ids are hex; a NUL breaks PostgreSQL
            with engine.connect() as conn:
                d = device_detail(conn, device_id)
                if d is not None:
                    d["waiting"] = pending_requests(conn, device_id)
        if d is None:
            return render(request, "notfound.html", status=404, sess=sess, nav="devices")
        from .mdm.store import device_findings   # MDM reconciliation for this device
        mdm_findings = device_findings(engine, state.cfg, d["device"].id)
        return render(request, "device.html", status=status, sess=sess, nav="devices",
                      mdm_findings=mdm_findings, done=done, error=error,
                      admin=is_admin(sess), **d)

    @app.post("/devices/{device_id}/revoke", include_in_schema=False)
    async def device_revoke(request: Request, device_id: str):
        return await device_action(request, device_id, "revoke", "")

    @app.post("/devices/{device_id}/requests/{request_id}/{action}", include_in_schema=False)
    async def device_request(request: Request, device_id: str, request_id: str, action: str):
        if action not in ("approve", "reject"):
            return Response("Not found", status_code=404)
        return await device_action(request, device_id, action, request_id)

    async def device_action(request: Request, device_id: str, action: str, request_id: str):
        """IT's buttons on the device page (admins only; a POST with the session's CSRF token)."""
        sess = session(request)
        if sess is None:
            return login_redirect(request)
        if not is_admin(sess):
            return Response("Only IT admins can do this", status_code=403)
        form = await request.form()
        if not csrf_ok(sess, form):
            return Response("Bad request (CSRF token missing or wrong)", status_code=400)
        from starlette.concurrency import run_in_threadpool

        from . import devices as devs
        who = "web:" + str(sess.get("n", ""))
        device_id = device_id[:64]
        try:
            if action == "revoke":
                if not await run_in_threadpool(devs.revoke_device, engine, device_id, who):
                    raise devs.DeviceError("this device was already revoked")
            else:
                await run_in_threadpool(devs.decide, engine, request_id[:64], action == "approve",
                                        who, device_id)
        except devs.DeviceError as exc:
            return show_device(request, sess, device_id, status=409, error=str(exc))
        return RedirectResponse(f"/devices/{device_id}?done={action}", status_code=303)

    @app.get("/reconcile", include_in_schema=False, response_class=HTMLResponse)
    def reconcile_page(request: Request, kind: str = "", page: int = 1):
        sess = session(request)
        if sess is None:
            return login_redirect(request)
        from .mdm.webviews import reconcile_context
        ctx = reconcile_context(engine, state.cfg, kind, max(1, min(page, 100000)))
        return render(request, "reconcile.html", sess=sess, nav="reconcile", **ctx)

    @app.get("/reconcile.{fmt}", include_in_schema=False)
    def reconcile_export(request: Request, fmt: str):
        if session(request) is None:
            return login_redirect(request)
        if fmt not in ("csv", "json"):
            return Response("Not found", status_code=404)
        from .mdm.webviews import reconcile_export as export
        body, ctype = export(engine, state.cfg, fmt)
        return Response(body, media_type=ctype, headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f"attachment; filename=checkup-reconciliation.{fmt}"})

    @app.get("/policy", include_in_schema=False, response_class=HTMLResponse)
    def policy_page(request: Request):
        sess = session(request)
        if sess is None:
            return login_redirect(request)
        with engine.connect() as conn:
            pol = current_policy(conn)
        return render(request, "policy.html", sess=sess, nav="policy", pol=pol,
                      text=pol.text if pol else "", error=None, saved=request.query_params.get("saved"))

    @app.post("/policy", include_in_schema=False, response_class=HTMLResponse)
    async def policy_save(request: Request):
        sess = session(request)
        if sess is None:
            return login_redirect(request)
        form = await request.form()
        if not csrf_ok(sess, form):
            return Response("Bad request (CSRF token missing or wrong)", status_code=400)
        text = str(form.get("policy", "")).replace("\r\n", "\n")
        with engine.connect() as conn:
            pol = current_policy(conn)
        if text.strip():
            try:
                validate_policy(text)
            except PolicyInvalid as exc:
                return render(request, "policy.html", status=422, sess=sess, nav="policy", pol=pol,
                              text=text, error=str(exc), saved=None)
        from starlette.concurrency import run_in_threadpool
        await run_in_threadpool(_save_policy, engine, text, sess.get("n", ""))
        log.warning("organisation policy %s by account %r from %s",
                    "changed" if text.strip() else "cleared (agents use their own)", sess.get("n", ""),
                    request.client.host if request.client else "?")
        return RedirectResponse("/policy?saved=1", status_code=303)


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
        return "locked", wait, None
    row = _check_login(engine, username, password)
    if row is None:
        log.warning("login failed for account %r from %s (%d in a row)", username, client, failures)
        if wait:
            log.warning("account %r locked for %d min after %d failed logins (last from %s)",
                        username, math.ceil(wait / 60), failures, client)
            return "locked", wait, None
        return "wrong", 0, None
    clear_failures(engine, username)
    token, _ = create_session(engine, row.username, LOCAL, "admin", client, session_hours)
    log.info("login: account %r from %s", row.username, client)
    return "ok", 0, token


def _check_login(engine, username: str, password: str):  # noqa: ANN001
    with engine.connect() as conn:
        row = conn.execute(select(Admin.id, Admin.username, Admin.password_hash)
                           .where(Admin.username == username)).first()
    if not check_password(password, row.password_hash if row else None):
        return None
    with engine.begin() as conn:
        conn.execute(update(Admin).where(Admin.id == row.id).values(last_login_at=utcnow()))
    return row


def _save_policy(engine, text: str, who: str) -> None:  # noqa: ANN001
    from .app import body_etag
    with engine.begin() as conn:
        conn.execute(OrgPolicy.__table__.delete().where(OrgPolicy.id == 1))
        if text.strip():
            conn.execute(OrgPolicy.__table__.insert().values(
                id=1, text=text, etag=body_etag(text), updated_at=utcnow(), updated_by=who))
