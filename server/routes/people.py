"""Each person's devices: /me and /me.json for the signed-in person, the IT person page
and IT's API (DESIGN "Each person's devices"). The rules are in server/people.py.

A person only ever sees their own devices: /me and /me.json take no email and no id, only
the signed-in caller's own (verified, lower-cased) email; anyone else's devices need
IT_READ.
"""
from __future__ import annotations

import datetime as dt
import logging

from typing import Any, Optional

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from ..access import IT_READ, ME, Caller, require
from ..people import NotAnEmail, normal_email, person_devices
from ..schemas import Problem
from ..web import _ago as ago
from ..web import render

log = logging.getLogger("checkup.server")
router = APIRouter()

NO_STORE = {"Cache-Control": "no-store"}

# The OpenAPI's "apiToken" scheme (as IT's other API routes declare it); the decision
# itself is the route's require(IT_READ).
api_token = HTTPBearer(scheme_name="apiToken", auto_error=False,
                       description="an API token from `checkup-server api-token create`")


class Practice(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    status: str
    title: Optional[str] = None
    summary: Optional[str] = None
    steps: Optional[list[str]] = None


class PersonDevice(BaseModel):
    """A laptop running Checkup (source "agent") or a device only an MDM knows."""
    model_config = ConfigDict(extra="allow")
    id: str
    kind: str
    source: str
    platform: Optional[str] = None
    os_version: Optional[str] = None
    status: str
    last_seen: Optional[str] = None
    practices: list[Practice]


class PersonDevices(BaseModel):
    """/me.json, and IT's view of one person (plus serials, owner sources, also_named)."""
    model_config = ConfigDict(extra="allow")
    email: Optional[str]
    devices: list[PersonDevice]
    also_named: Optional[list[dict[str, Any]]] = None


def _own_email(caller: Caller) -> str | None:
    """The caller's own email: a person signed in with one. An API token is nobody, and
    a local IT account with a plain user name owns no devices."""
    if caller.via != "session" or getattr(caller.session, "auth", "") == "local":
        return None
    return normal_email(caller.subject)


def _mine(request: Request, caller: Caller) -> dict:
    email = _own_email(caller)
    if email is None:
        return {"email": None, "devices": []}
    state = request.app.state.checkup
    return person_devices(state.engine, state.cfg, email)


def seen_words(data: dict | None) -> dict[str, str]:
    """"3 h ago" for each device's last_seen (RFC 3339), by device id."""
    out = {}
    for d in (data or {}).get("devices", []):
        when = None
        if d.get("last_seen"):
            try:
                when = dt.datetime.strptime(d["last_seen"], "%Y-%m-%dT%H:%M:%SZ")
            except ValueError:
                when = None
        out[d["id"]] = ago(when)
    return out


def _public_url(request: Request) -> str:
    url = str(request.app.state.checkup.cfg.get("server", "public_url", "") or "").strip()
    return (url or str(request.base_url)).rstrip("/")


@router.get("/me", include_in_schema=False)
async def me_page(request: Request, caller: Caller = require(ME)):
    data = await run_in_threadpool(_mine, request, caller)
    return render(request, "me.html", me=data, caller=caller, sess=caller.session,
                  it=caller.may(IT_READ), seen=seen_words(data))


@router.get("/me.json", include_in_schema=False)
async def me_json(request: Request, caller: Caller = require(ME)):
    data = await run_in_threadpool(_mine, request, caller)
    return JSONResponse(data, headers=NO_STORE)


@router.get("/api/v1/people/{email}/devices", tags=["IT API"], response_model=PersonDevices,
            dependencies=[Depends(api_token)],
            summary="One person's devices, as /me.json shows them to that person",
            responses={401: {"model": Problem, "description": "no, an unknown, expired or revoked token"},
                       403: {"model": Problem, "description": "the token's role may not do this"},
                       422: {"model": Problem, "description": "not an email address"}})
async def person_api(request: Request, email: str, caller: Caller = require(IT_READ)):
    state = request.app.state.checkup
    try:
        data = await run_in_threadpool(person_devices, state.engine, state.cfg, email, it=True)
    except NotAnEmail:
        return JSONResponse({"detail": "not an email address"}, status_code=422, headers=NO_STORE)
    return JSONResponse(data, headers=NO_STORE)


@router.get("/people/{email}", include_in_schema=False)
async def person_page(request: Request, email: str, caller: Caller = require(IT_READ)):
    state = request.app.state.checkup
    try:
        data = await run_in_threadpool(person_devices, state.engine, state.cfg, email, it=True)
    except NotAnEmail:
        return render(request, "person.html", status=404, person=None, sess=caller.session,
                      nav="devices", me_url=_public_url(request) + "/me")
    return render(request, "person.html", person=data, sess=caller.session, nav="devices",
                  me_url=_public_url(request) + "/me", seen=seen_words(data))
