"""OpenID Connect sign-in routes (DESIGN "Sign-in and roles"): ``GET /auth/oidc/start``
sends the browser to the identity provider, ``GET /auth/oidc/callback`` takes it back.

Every refusal is a ``log.warning`` with its reason, an audit row (``sign_in``, ok false)
and a plain page for the person (signin_error.html); none answers 5xx. A success is a
server-side session (the local login's cookie) and an audit row with the role.
"""
from __future__ import annotations

import logging
import secrets
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .. import audit
from ..access import cookie_name, public, secure
from ..config import ConfigError
from ..oidc import SignInError, service
from ..oidc_store import ATTEMPT_MINUTES, save_attempt, take_attempt
from ..sessions import create_session
from ..web import _safe_next, render

log = logging.getLogger("checkup.server")
router = APIRouter()

BROWSER_COOKIE = "checkup_oidc"       # binds an attempt to the browser that started it
COOKIE_PATH = "/auth/oidc"
EMPLOYEE_PATHS = ("/me", "/me.json")  # where an employee may land (and /me/…, /claim/…)
STATUS = {"person": 403, "attempt": 400, "token": 400, "idp": 400,
          # the IdP or the settings are broken, not the request: the page says so
          "unavailable": 200, "setup": 200}


def _address(request: Request) -> str:
    return request.client.host if request.client else "?"


def _redirect_uri(request: Request, public_url: str) -> str:
    base = public_url or str(request.base_url).rstrip("/")
    return base + "/auth/oidc/callback"


def _landing(role: str, nxt: str) -> str:
    if role in ("admin", "viewer"):
        return nxt
    path = nxt.split("?", 1)[0]
    if path in EMPLOYEE_PATHS or path.startswith(("/me/", "/claim/")):
        return nxt
    return "/me"


def _options(request: Request) -> tuple[str, bool]:
    cfg = request.app.state.checkup.cfg
    name = str(cfg.get("auth.oidc", "display_name") or "your company account")
    return name, cfg.get("auth", "local_login", True) is not False


def _refuse(request: Request, exc: SignInError, nxt: str) -> Response:
    address = _address(request)
    log.warning("OIDC sign-in refused (%s) for %r from %s: %s", exc.kind, exc.who, address,
                exc.reason)
    try:
        audit.record(request.app.state.checkup.engine, actor=exc.who or "?", action="sign_in",
                     ok=False, detail=f"oidc: {exc.reason}", address=address)
    except Exception:  # noqa: BLE001 - the page still answers; the failure is logged
        log.exception("OIDC: could not write the audit row of a refused sign-in (%s)", exc.reason)
    name, local = _options(request)
    resp = render(request, "signin_error.html", status=STATUS.get(exc.kind, 400), kind=exc.kind,
                  code=exc.code, idp_name=name, local_login=local,
                  retry="/auth/oidc/start?" + urlencode(
                      {"next": nxt, **({"again": "1"} if exc.kind == "person" else {})}),
                  local_url="/login?" + urlencode({"next": nxt}))
    resp.delete_cookie(BROWSER_COOKIE, path=COOKIE_PATH, secure=secure(request), httponly=True,
                       samesite="lax")
    return resp


def _service(request: Request):  # noqa: ANN202 - Oidc | None | a SignInError for the page
    try:
        return service(request.app.state.checkup)
    except ConfigError as exc:
        return SignInError("setup", f"[auth.oidc] cannot work: {exc}")


@router.get("/auth/oidc/start", include_in_schema=False, response_class=HTMLResponse,
            dependencies=[public("starts a sign-in at the identity provider")])
def start(request: Request, next: str = "/", again: str = ""):  # noqa: A002
    nxt = _safe_next(next[:2000])
    svc = _service(request)
    if isinstance(svc, SignInError):
        return _refuse(request, svc, nxt)
    if svc is None:
        return render(request, "signin_error.html", status=404, kind="off")
    browser = request.cookies.get(BROWSER_COOKIE, "")
    if not (20 <= len(browser) <= 100 and browser.replace("-", "").replace("_", "").isalnum()):
        browser = secrets.token_urlsafe(32)
    try:
        url, attempt = svc.begin(_redirect_uri(request, svc.settings.public_url), nxt,
                                 again=again == "1")
    except SignInError as exc:
        return _refuse(request, exc, nxt)
    save_attempt(request.app.state.checkup.engine, attempt, browser)
    resp = RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
    resp.set_cookie(BROWSER_COOKIE, browser, httponly=True, samesite="lax", secure=secure(request),
                    max_age=ATTEMPT_MINUTES * 60, path=COOKIE_PATH)
    return resp


@router.get("/auth/oidc/callback", include_in_schema=False, response_class=HTMLResponse,
            dependencies=[public("the identity provider sends the browser back here")])
def callback(request: Request):
    state = request.app.state.checkup
    q = request.query_params
    svc = _service(request)
    if isinstance(svc, SignInError):
        return _refuse(request, svc, "/")
    if svc is None:
        return render(request, "signin_error.html", status=404, kind="off")
    browser = request.cookies.get(BROWSER_COOKIE)
    nxt = "/"
    try:
        error = q.get("error")
        if error:
            try:
                nxt = take_attempt(state.engine, q.get("state", ""), browser).next
            except SignInError:
                pass
            raise SignInError("idp", f"the identity provider answered {error[:100]!r}"
                                     + (f": {q.get('error_description', '')[:200]!r}"
                                        if q.get("error_description") else ""))
        attempt = take_attempt(state.engine, q.get("state", ""), browser)
        nxt = attempt.next
        code = q.get("code", "")
        if not code or len(code) > 4096:
            raise SignInError("attempt", "the callback has no code")
        person = svc.sign_in(code, attempt)
    except SignInError as exc:
        return _refuse(request, exc, nxt)
    except Exception as exc:  # noqa: BLE001 - a bug or a surprise: a page, never a 5xx
        log.exception("OIDC callback failed")
        return _refuse(request, SignInError("idp", f"unexpected {type(exc).__name__}: "
                                                   f"{str(exc)[:200]}"), nxt)
    hours = max(1, int(state.cfg.get("auth", "session_hours", 12)))
    address = _address(request)
    token, _ = create_session(state.engine, person.email, "oidc", person.role, address, hours)
    audit.record(state.engine, actor=person.email, action="sign_in", role=person.role, ok=True,
                 detail=f"oidc: {person.why}", address=address)
    log.info("login: %s (%s) with OpenID Connect from %s", person.email, person.role, address)
    resp = RedirectResponse(_landing(person.role, nxt), status_code=303)
    resp.set_cookie(cookie_name(request), token, httponly=True, samesite="lax",
                    secure=secure(request), max_age=hours * 3600, path="/")
    resp.delete_cookie(BROWSER_COOKIE, path=COOKIE_PATH, secure=secure(request), httponly=True,
                       samesite="lax")
    return resp
