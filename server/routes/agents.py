"""Protocol v1 for agents: enroll, reports, policy (DESIGN "Reporting and the central server").

``POST /api/v1/reports`` is normally answered by ``server.app.FastPath`` before routing (the
hot path); the route here documents it and answers when the app runs without that middleware.
"""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from ..access import device
from ..app import (DEVICE_AUTH, MAX_ENROLL_BYTES, TooLarge, _device_ok, _errors, _json_body,
                   bearer, ingest_report, problem, read_body)
from ..devices import EnrollPending
from ..models import OrgPolicy
from ..ratelimit import Buckets
from ..security import split_secret
from ..schemas import Accepted, EnrollRequest, EnrollResponse, Problem, Report

router = APIRouter(tags=["agents"])
DEVICE = [device()]   # every route here checks the device secret (or enrollment token) itself


@router.post("/api/v1/enroll", status_code=201, response_model=EnrollResponse,
             responses={202: {"model": EnrollPending}, 401: {"model": Problem},
                        403: {"model": Problem}, 413: {"model": Problem},
                        422: {"model": Problem}, 429: {"model": Problem}},
             openapi_extra=_json_body(EnrollRequest), dependencies=DEVICE,
             summary="Enroll a new device with an enrollment token",
             description="A new identity: 201. The identity of an enrolled device: 201 with "
                         "that device's current secret as Bearer (rotated), else 202 pending "
                         "until IT approves it (send the request_secret as Bearer to ask "
                         "again); 403 device_revoked / enrollment_rejected.")
async def enroll(request: Request):
    state = request.app.state.checkup
    client = request.client.host if request.client else "?"
    wait = state.enroll_buckets.take(client)
    if wait:
        return problem(429, "too many enrollments from this address",
                       {"Retry-After": Buckets.retry_after(wait)})
    try:
        raw = await read_body(request, MAX_ENROLL_BYTES)
    except TooLarge:
        return problem(413, f"body larger than {MAX_ENROLL_BYTES} bytes")
    try:
        req = EnrollRequest.model_validate_json(raw)
    except ValidationError as exc:
        return problem(422, _errors(exc))
    from ..devices import enroll as decide_enrollment
    answer = await run_in_threadpool(decide_enrollment, state.engine, req, bearer(request))
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


@router.post("/api/v1/reports", status_code=202, response_model=Accepted,
             responses={401: {"model": Problem}, 403: {"model": Problem},
                        409: {"model": Problem}, 413: {"model": Problem},
                        422: {"model": Problem}, 429: {"model": Problem}},
             openapi_extra={**_json_body(Report), **DEVICE_AUTH}, dependencies=DEVICE,
             summary="Store one report (the `checkup check --json` object + report_id)")
async def post_report(request: Request):
    # Normally answered by FastPath; kept so the route is documented and works when the
    # app is mounted without its middleware.
    state = request.app.state.checkup
    status, payload, headers = await ingest_report(
        state, state.max_report, request.headers.get("authorization"),
        request.headers.get("content-length"), request.stream())
    return JSONResponse(payload, status_code=status, headers=headers)


@router.get("/api/v1/policy",
            summary="The organisation's policy (TOML) with an ETag; 204 when there is none",
            responses={200: {"content": {"application/toml": {}}}, 204: {}, 304: {},
                       401: {"model": Problem}}, openapi_extra=DEVICE_AUTH,
            dependencies=DEVICE)
def get_policy(request: Request):
    engine = request.app.state.checkup.engine
    secret = bearer(request)
    if not secret or not _device_ok(engine, secret):
        return problem(401, "unknown device or wrong secret; enroll again",
                       {"WWW-Authenticate": "Bearer"})
    with engine.connect() as conn:
        row = conn.execute(select(OrgPolicy.text, OrgPolicy.etag)
                           .where(OrgPolicy.id == 1)).first()
    if row is None:
        return Response(status_code=204)
    inm = request.headers.get("if-none-match", "")
    if row.etag in [t.strip() for t in inm.split(",")]:
        return Response(status_code=304, headers={"ETag": row.etag})
    return PlainTextResponse(row.text, media_type="application/toml; charset=utf-8",
                             headers={"ETag": row.etag, "Cache-Control": "no-cache"})


@router.get("/api/v1/exemptions",
            summary="This device's exemptions in force today (an addition: older agents never ask)",
            responses={200: {"content": {"application/json": {}}}, 401: {"model": Problem}},
            openapi_extra=DEVICE_AUTH, dependencies=DEVICE)
def get_exemptions(request: Request):
    engine = request.app.state.checkup.engine
    secret = bearer(request)
    device_id = split_secret(secret) if secret else None
    if not device_id or not _device_ok(engine, secret):
        return problem(401, "unknown device or wrong secret; enroll again",
                       {"WWW-Authenticate": "Bearer"})
    from ..exemptions import active_for_device, today
    with engine.connect() as conn:
        found = active_for_device(conn, device_id)
    return JSONResponse({"today": today().isoformat(),
                         "exemptions": [e.as_agent() for e in found]},
                        headers={"Cache-Control": "no-store"})
