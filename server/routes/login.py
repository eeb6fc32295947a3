"""Signing in and out with a local IT account (server/web.py has the rules: _sign_in,
_check_login, _safe_next; server/sessions.py the sessions)."""
from __future__ import annotations

import hmac
import logging
import math
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ..access import cookie_name, public, secure
from ..sessions import lookup_session
from ..web import PRE_COOKIE, _safe_next, _sign_in, _sign_out, csrf_ok, plural, render

log = logging.getLogger("checkup.server")

router = APIRouter(include_in_schema=False)


def _session(request: Request):  # -> sessions.SessionInfo | None
    """The session the cookie names, from the database (revoked and expired ones are none)."""
    return lookup_session(request.app.state.checkup.engine,
                          request.cookies.get(cookie_name(request)))


def _end_cookie(request: Request, resp: Response) -> None:
    resp.delete_cookie(cookie_name(request), path="/", secure=secure(request),
                       httponly=True, samesite="lax")


@router.get("/login", response_class=HTMLResponse,
            dependencies=[public("the sign-in form")])
def login_form(request: Request, next: str = "/"):  # noqa: A002
    token = secrets.token_urlsafe(24)
    resp = render(request, "login.html", csrf=token, next=_safe_next(next), error=None)
    resp.set_cookie(PRE_COOKIE, token, httponly=True, samesite="strict",
                    secure=secure(request), max_age=1800, path="/login")
    return resp


@router.post("/login", dependencies=[public("signing in (CSRF: the pre-session cookie)")])
async def login(request: Request):
    state = request.app.state.checkup
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
    if not state.local_login:
        return render(request, "login.html", status=403, csrf=pre, next=nxt,
                      error="Signing in with a Checkup user name is turned off here.")
    username = str(form.get("username", ""))[:128].strip().replace("\x00", "")
    password = str(form.get("password", ""))[:1024]
    outcome, wait, token = await run_in_threadpool(_sign_in, state.engine, username, password,
                                                   client, state.session_hours)
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
                    secure=secure(request), max_age=state.session_hours * 3600, path="/")
    resp.delete_cookie(PRE_COOKIE, path="/login")
    return resp


@router.get("/logout", response_class=HTMLResponse,
            dependencies=[public("offers the log-out button to a session, else the sign-in")])
def logout_page(request: Request):
    # A link or a cross-site GET never logs anyone out: this only offers the button.
    sess = _session(request)
    if sess is None:
        return RedirectResponse("/login", status_code=303)
    return render(request, "logout.html", sess=sess, nav="", error=None)


@router.post("/logout", dependencies=[public("ends the cookie's session (CSRF: the session's token)")])
async def logout(request: Request):
    sess = await run_in_threadpool(_session, request)
    form = await request.form()
    if sess is None:
        resp = RedirectResponse("/login", status_code=303)
        if request.cookies.get(cookie_name(request)):
            _end_cookie(request, resp)   # an ended session's cookie: drop it
        return resp
    if not csrf_ok(sess, form):
        log.warning("logout without its form token refused (account %r, from %s)",
                    sess.subject, request.client.host if request.client else "?")
        return render(request, "logout.html", status=403, sess=sess, nav="",
                      error="That log-out request did not come from a Checkup page, so you "
                            "are still logged in. To log out, use the button below.")
    await run_in_threadpool(_sign_out, request.app.state.checkup.engine, sess,
                            request.client.host if request.client else "")
    log.info("logout: account %r from %s", sess.subject,
             request.client.host if request.client else "?")
    resp = RedirectResponse("/login", status_code=303)
    _end_cookie(request, resp)
    return resp
