"""IT's API (DESIGN "API for IT"): devices, one device, findings, and one change (revoke).

Callers send ``Authorization: Bearer <API token>`` (checkup-server api-token create); an
IT session works too. Reads need IT_READ (viewer or admin), the revoke IT_CHANGE (admin).
The rules and shapes are in server/it_api.py.
"""
from __future__ import annotations

import hmac
from typing import Literal, Optional

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool

from .. import it_api
from ..access import IT_CHANGE, IT_READ, Caller, require
from ..schemas import STATUS_ORDER, Problem
from ..untrusted import json_text


class ApiJSON(JSONResponse):
    """JSON with agent and MDM text exact, bidi and control characters as \\uXXXX."""

    def render(self, content) -> bytes:  # noqa: ANN001
        return json_text(content, separators=(",", ":")).encode("utf-8")


# Declares the "apiToken" scheme in the OpenAPI and puts it on every route here; the
# decision itself is each route's require(...).
api_token = HTTPBearer(scheme_name="apiToken", auto_error=False,
                       description="an API token from `checkup-server api-token create`")

router = APIRouter(prefix="/api/v1", tags=["IT API"], default_response_class=ApiJSON,
                   dependencies=[Depends(api_token)])

REFUSALS = {401: {"model": Problem, "description": "no, an unknown, expired or revoked token"},
            403: {"model": Problem, "description": "the token's role may not do this"}}
NOT_FOUND = {404: {"model": Problem, "description": "no such device"}}
BAD_INPUT = {422: {"model": Problem, "description": "a parameter the API cannot use; detail says why"}}


def _problem(status: int, detail) -> ApiJSON:  # noqa: ANN001
    return ApiJSON({"detail": detail}, status_code=status)


@router.get("/devices", response_model=it_api.DevicePage, responses={**REFUSALS, **BAD_INPUT},
            summary="Devices, a page at a time (cursor pagination, in id order)")
def list_devices(request: Request, caller: Caller = require(IT_READ),
                 limit: int = Query(it_api.DEFAULT_LIMIT, ge=1, le=it_api.MAX_LIMIT,
                                    description="devices per page"),
                 cursor: Optional[str] = Query(None, max_length=200,
                                               description="next_cursor of the previous page"),
                 status: Optional[Literal[STATUS_ORDER]] = Query(None),  # type: ignore[valid-type]
                 owner: Optional[str] = Query(None, max_length=320,
                                              description="only this person's devices (email)"),
                 revoked: bool = Query(False, description="include revoked devices")):
    try:
        return it_api.list_devices(request.app.state.checkup.engine, limit=limit, cursor=cursor,
                                   status=status, owner=owner, revoked=revoked)
    except it_api.BadInput as exc:
        return _problem(422, str(exc))


@router.get("/devices/{device_id}", response_model=it_api.DeviceDetail,
            responses={**REFUSALS, **NOT_FOUND}, summary="One device with its newest report")
def one_device(device_id: str, request: Request, caller: Caller = require(IT_READ)):
    found = it_api.one_device(request.app.state.checkup.engine, device_id)
    if found is None:
        return _problem(404, "no such device")
    return found


@router.get("/findings", response_model=it_api.Findings, responses=REFUSALS,
            summary="Reconciliation of agent reports with the MDMs (as `reconcile --json`)")
def findings(request: Request, caller: Caller = require(IT_READ)):
    state = request.app.state.checkup
    return it_api.findings(state.engine, state.cfg)


@router.post("/devices/{device_id}/revoke", response_model=it_api.RevokeResult,
             responses={**REFUSALS, **NOT_FOUND,
                        400: {"model": Problem, "description": "a session without its form token"}},
             summary="Revoke a device: its secret stops working now (admin tokens only)",
             description="Written to the audit log with the token (`api-token:<id>`) and its "
                         "role. A signed-in admin's browser session must also send its form "
                         "token as X-CSRF-Token.")
async def revoke_device(device_id: str, request: Request, caller: Caller = require(IT_CHANGE)):
    if caller.via == "session":
        sent = request.headers.get("x-csrf-token", "")
        if not hmac.compare_digest(sent.encode("utf-8", "replace"),
                                   str(caller.session.csrf).encode()):
            return _problem(400, "CSRF token missing or wrong: send the page's form token "
                                 "as X-CSRF-Token")
    address = request.client.host if request.client else ""
    done = await run_in_threadpool(it_api.revoke_device, request.app.state.checkup.engine,
                                   device_id, caller, address)
    if done is None:
        return _problem(404, "no such device")
    return done
