"""Who may do what: the one place every route, page and API asks (DESIGN "Sign-in and
roles").

Each route declares exactly one access decision as a FastAPI dependency:

- ``require(permission)`` -- a signed-in person (session cookie) or an API token whose
  role has ``permission``; the route receives the ``Caller``.
- ``public(why)`` -- anyone (the login page, static files, health checks).
- ``device()`` -- an agent; the route checks the device secret itself (protocol v1).

``tests/server/test_server_access.py`` walks every route of the app and fails when one
has no decision, and calls each with every role and with none.

Refusals raise ``Denied``; the handler ``install`` adds answers a page with a redirect to
the login (nobody signed in) or a plain 403 page, and an API with JSON 401/403.
"""
from __future__ import annotations

import dataclasses
import logging
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

log = logging.getLogger("checkup.server")

# -- roles and permissions ------------------------------------------------------

IT_READ = "it.read"       # every IT page, export and read API; the audit log
IT_CHANGE = "it.change"   # policy, devices (approve, revoke, owner), tokens
ME = "me"                 # the person's own devices (/me, /me.json, /claim)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({IT_READ, IT_CHANGE, ME}),
    "viewer": frozenset({IT_READ, ME}),
    "employee": frozenset({ME}),
}
ROLES = tuple(ROLE_PERMISSIONS)


def permissions(role: str, via: str = "session") -> frozenset[str]:
    """What a caller with ``role`` may do. An API token is not a person: it has no devices
    of its own, so it never has ME (no /me, no claiming a laptop)."""
    perms = ROLE_PERMISSIONS.get(role, frozenset())
    return perms - {ME} if via == "token" else perms

SESSION_COOKIE = "checkup_session"            # over plain http (loopback)
HOST_SESSION_COOKIE = "__Host-checkup_session"  # over https: Secure, Path=/, no Domain


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who is asking: a person with a session, or an API token."""
    subject: str                 # account name or email; the token's label for a token
    role: str
    via: str                     # "session" | "token"
    session: object = None       # sessions.SessionInfo for "session"
    token_id: str | None = None

    def may(self, permission: str) -> bool:
        return permission in permissions(self.role, self.via)

    @property
    def actor(self) -> str:
        """The audit log's "who"."""
        return f"api-token:{self.token_id}" if self.via == "token" else self.subject


class Denied(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


# -- finding the caller ---------------------------------------------------------

def secure(request: Request) -> bool:
    mode = request.app.state.checkup.cfg.get("server", "secure_cookies")
    if isinstance(mode, bool):
        return mode
    return request.url.scheme == "https"


def cookie_name(request: Request) -> str:
    return HOST_SESSION_COOKIE if secure(request) else SESSION_COOKIE


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def current(request: Request) -> Caller | None:
    """The caller of this request (looked up once per request), or None."""
    if "checkup_caller" in request.scope:
        return request.scope["checkup_caller"]
    engine = request.app.state.checkup.engine
    caller = None
    token = _bearer(request)
    if token is not None:
        from .api_tokens import lookup_token
        info = lookup_token(engine, token)
        if info is not None:
            caller = Caller(subject=info.label or info.id, role=info.role, via="token",
                            token_id=info.id)
    else:
        from .sessions import lookup_session
        sess = lookup_session(engine, request.cookies.get(cookie_name(request)))
        if sess is not None:
            caller = Caller(subject=sess.subject, role=sess.role, via="session", session=sess)
    request.scope["checkup_caller"] = caller
    return caller


# -- the decisions routes declare -------------------------------------------------

def require(permission: str):  # noqa: ANN201 - a FastAPI dependency
    if not any(permission in perms for perms in ROLE_PERMISSIONS.values()):
        raise ValueError(f"unknown permission {permission!r}")

    def dependency(request: Request) -> Caller:
        caller = current(request)
        if caller is None:
            if _bearer(request) is not None:
                raise Denied(401, "unknown, expired or revoked API token")
            raise Denied(401, "sign in first")
        if not caller.may(permission):
            log.warning("refused %s %s to %s (role %s): needs %s", request.method,
                        request.url.path, caller.actor, caller.role, permission)
            if caller.via == "token" and permission == ME:
                raise Denied(403, "an API token is not a person: it has no devices of its own")
            raise Denied(403, f"your role ({caller.role}) may not do this")
        return caller

    dependency.checkup_access = ("require", permission)
    return Depends(dependency)


def public(why: str):  # noqa: ANN201
    def dependency() -> None:
        return None
    dependency.checkup_access = ("public", why)
    return Depends(dependency)


def device():  # noqa: ANN201
    def dependency() -> None:
        return None
    dependency.checkup_access = ("device", "the route checks the device secret")
    return Depends(dependency)


def all_routes(app: FastAPI) -> list:
    """Every API route of ``app``, routers included (FastAPI keeps an included router as
    one branch; ``iter_route_contexts`` gives each route with the path it is served on)."""
    from fastapi import routing
    from fastapi.routing import APIRoute
    walk = getattr(routing, "iter_route_contexts", None)
    items = walk(app.routes) if walk else app.routes
    return [r for r in items if isinstance(getattr(r, "original_route", r), APIRoute)]


def decision(route) -> tuple[str, str] | None:  # noqa: ANN001
    """The access decision a route declared (for the route walk), or None."""
    dependant = getattr(route, "dependant", None)
    found = []
    for dep in (dependant.dependencies if dependant else []):
        mark = getattr(dep.call, "checkup_access", None)
        if mark:
            found.append(mark)
    return found[0] if len(found) == 1 else None


# -- answering a refusal -----------------------------------------------------------

def wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path.endswith(".json")


def install(app: FastAPI, forbidden_page=None) -> None:  # noqa: ANN001
    """Answer ``Denied``: JSON for the API, a login redirect or a 403 page for pages.
    ``forbidden_page(request, caller, reason)`` renders the page (plain text without)."""

    @app.exception_handler(Denied)
    async def denied(request: Request, exc: Denied) -> Response:
        if wants_json(request):
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            return JSONResponse({"detail": exc.reason}, status_code=exc.status, headers=headers)
        if exc.status == 401:
            nxt = request.url.path + (("?" + request.url.query) if request.url.query else "")
            return RedirectResponse("/login?" + urlencode({"next": nxt}), status_code=303)
        caller = request.scope.get("checkup_caller")
        if forbidden_page is not None:
            return forbidden_page(request, caller, exc.reason)
        return HTMLResponse("You don't have access to this page.", status_code=403)
