"""Claiming a laptop and setting its owner (DESIGN "Ownership", "Claim").

- ``POST /api/v1/claim`` (the agent, device secret) -> 201 ``{"url", "expires_at"}``
- ``GET /claim/{code}`` (signed in) -> "This is my laptop" button; ``POST`` claims it
- ``POST /devices/{id}/owner`` (IT admin, CSRF) -> set or clear the owner (source ``it``)
"""
from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from .. import claims, owners
from ..access import IT_CHANGE, ME, Caller, device, require
from ..schemas import Problem
from ..web import csrf_ok

log = logging.getLogger("checkup.server")
router = APIRouter()

STATUS = {claims.OPEN: 200, claims.DONE: 200, claims.YOURS: 200, claims.USED: 410,
          claims.EXPIRED: 410, claims.UNKNOWN: 404, claims.IT_OWNED: 409, claims.NOT_EMAIL: 403}


class ClaimLink(BaseModel):
    url: str            # <public_url>/claim/<code>
    expires_at: str     # RFC 3339 UTC


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def _rfc3339(when) -> str:  # noqa: ANN001
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def public_url(request: Request) -> str:
    """``[server] public_url``, else the URL this request came in on."""
    cfg = request.app.state.checkup.cfg
    url = str(cfg.get("server", "public_url", "") or "").strip()
    return (url or str(request.base_url)).rstrip("/")


@router.post("/api/v1/claim", status_code=201, tags=["agents"], response_model=ClaimLink,
             summary="A single-use link (15 minutes) that makes this laptop the signed-in person's",
             responses={401: {"model": Problem}, 429: {"model": Problem}},
             openapi_extra={"security": [{"deviceSecret": []}]},
             dependencies=[device()])
async def new_claim(request: Request):
    engine = request.app.state.checkup.engine
    device_id = await run_in_threadpool(claims.device_for_secret, engine, _bearer(request))
    if device_id is None:
        return JSONResponse({"detail": "unknown device or wrong secret; enroll again"},
                            status_code=401, headers={"WWW-Authenticate": "Bearer"})
    try:
        code, expires = await run_in_threadpool(claims.new_code, engine, device_id)
    except claims.TooMany as exc:
        return JSONResponse({"detail": str(exc)}, status_code=429,
                            headers={"Retry-After": str(exc.retry_after)})
    return JSONResponse({"url": f"{public_url(request)}/claim/{code}",
                         "expires_at": _rfc3339(expires)}, status_code=201,
                        headers={"Cache-Control": "no-store"})


def _page(request: Request, caller: Caller, claim: claims.Claim, code: str, *,
          status: int | None = None, note: str = "") -> Response:
    from ..web import render
    return render(request, "claim.html", status=status or STATUS[claim.state],
                  sess=caller.session, nav="", claim=claim, code=code, note=note,
                  who=caller.subject, minutes=claims.CLAIM_MINUTES,
                  headers={"Referrer-Policy": "no-referrer"})


@router.get("/claim/{code}", include_in_schema=False)
async def claim_page(request: Request, code: str, caller: Caller = require(ME)):
    engine = request.app.state.checkup.engine
    email = claims.person_email(caller.subject) if caller.via == "session" else None
    claim = await run_in_threadpool(claims.look_up, engine, code, email)
    return _page(request, caller, claim, code)


@router.post("/claim/{code}", include_in_schema=False)
async def claim_it(request: Request, code: str, caller: Caller = require(ME)):
    engine = request.app.state.checkup.engine
    form = await request.form()
    sess = caller.session
    if sess is None or not csrf_ok(sess, form):
        log.warning("claim without the page's form token refused (%s from %s)", caller.actor,
                    _address(request))
        claim = await run_in_threadpool(claims.look_up, engine, code,
                                        claims.person_email(caller.subject) if sess else None)
        return _page(request, caller, claim, code, status=403,
                     note="That didn't come from this page, so nothing changed. "
                          "Press the button below to claim the laptop.")
    email = claims.person_email(caller.subject)
    claim = await run_in_threadpool(
        lambda: claims.redeem(engine, code, email, actor=caller.actor, role=caller.role,
                              address=_address(request)))
    return _page(request, caller, claim, code)


@router.post("/devices/{device_id}/owner", include_in_schema=False)
async def set_device_owner(request: Request, device_id: str, caller: Caller = require(IT_CHANGE)):
    """IT's owner form on the device page: ``email`` sets (source it), ``clear`` removes."""
    from ..web import render
    engine = request.app.state.checkup.engine
    form = await request.form()
    sess = caller.session
    if sess is None or not csrf_ok(sess, form):
        return Response("Bad request (CSRF token missing or wrong)", status_code=400)
    device_id = device_id[:64]
    clear = str(form.get("action", "")) == "clear"
    kw = dict(actor=caller.actor, role=caller.role, address=_address(request))
    try:
        if clear:
            res = await run_in_threadpool(lambda: owners.clear_owner(engine, device_id, **kw))
        else:
            email = str(form.get("email", ""))[:400]
            res = await run_in_threadpool(
                lambda: owners.set_owner(engine, device_id, email, "it", **kw))
    except owners.OwnerError as exc:
        return render(request, "owner_error.html", status=422, sess=sess, nav="devices",
                      device_id=device_id, error=str(exc))
    if res.outcome == owners.NO_DEVICE:
        return render(request, "notfound.html", status=404, sess=sess, nav="devices")
    return RedirectResponse(f"/devices/{device_id}?done={'owner-cleared' if clear else 'owner'}",
                            status_code=303)
