"""IT's pages: overview, devices, a device and its buttons, MDM reconciliation and its
exports, the organisation's policy (server/fleet.py and server/devices.py hold the rules)."""
from __future__ import annotations

import logging
import os
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ..access import IT_CHANGE, IT_READ, ME, Caller, public, require
from ..fleet import DeviceFilter, current_policy, device_detail, device_list, overview
from ..policy_check import CHECK_IDS, PolicyInvalid, validate_policy
from ..web import HERE, _save_policy, csrf_ok, query_text, render

log = logging.getLogger("checkup.server")

router = APIRouter(include_in_schema=False)
CSS_PATH = os.path.join(HERE, "templates", "app.css")


def _form_ok(caller: Caller, form) -> bool:  # noqa: ANN001
    """A form POST from a session carries its CSRF token; an API token (an Authorization
    header no other site can make a browser send) needs none."""
    return caller.via == "token" or csrf_ok(caller.session, form)


@router.get("/static/app.css", dependencies=[public("the pages' stylesheet")])
def css():
    with open(CSS_PATH, "rb") as fh:
        return Response(fh.read(), media_type="text/css",
                        headers={"Cache-Control": "max-age=3600"})


@router.get("/", response_class=HTMLResponse)
def index(request: Request, caller: Caller = require(ME)):
    if not caller.may(IT_READ):   # an employee: their own devices
        return RedirectResponse("/me", status_code=303)
    state = request.app.state.checkup
    sess = caller.session
    with state.engine.connect() as conn:
        ov = overview(conn, state.stale_days)
    return render(request, "overview.html", sess=sess, ov=ov, nav="overview")


@router.get("/devices", response_class=HTMLResponse)
def devices(request: Request, status: str = "", check: str = "", platform: str = "",
            seen: str = "", q: str = "", owner: str = "", page: int = 1,
            caller: Caller = require(IT_READ)):
    state = request.app.state.checkup
    sess = caller.session
    f = DeviceFilter(status=status, check=check if check in CHECK_IDS else "",
                     platform=platform, seen=seen, q=query_text(q),
                     owner=query_text(owner, 320).strip(), page=max(1, min(page, 100000)))
    from ..devices import pending_requests
    with state.engine.connect() as conn:
        rows, total = device_list(conn, f, state.stale_days)
        waiting = pending_requests(conn, limit=20)
    args = {k: v for k, v in vars(f).items() if v and k != "page"}
    return render(request, "devices.html", sess=sess, rows=rows, total=total, f=f, nav="devices",
                  page_size=100, args=args, urlencode=urlencode, waiting=waiting)


@router.get("/devices/{device_id}", response_class=HTMLResponse)
def device_page(request: Request, device_id: str, caller: Caller = require(IT_READ)):
    return show_device(request, caller, device_id, done=request.query_params.get("done", "")[:20])


def show_device(request: Request, caller: Caller, device_id: str, status: int = 200,
                done: str = "", error: str | None = None) -> HTMLResponse:
    state = request.app.state.checkup
    sess = caller.session
    from ..devices import pending_requests
    d = None
    if device_id.isalnum() and len(device_id) <= 64:   # ids are hex; a NUL breaks PostgreSQL
        with state.engine.connect() as conn:
            d = device_detail(conn, device_id)
            if d is not None:
                d["waiting"] = pending_requests(conn, device_id)
    if d is None:
        return render(request, "notfound.html", status=404, sess=sess, nav="devices")
    from ..mdm.store import device_findings, device_records, unmapped_users
    mdm_findings = device_findings(state.engine, state.cfg, d["device"].id)
    # no owner: say which MDM names a user that is not an email (and so owns nothing)
    unmapped = ([] if d["device"].owner else
                unmapped_users(device_records(state.engine, d["device"].id)))
    import datetime as _dt

    from ..exemptions import MAX_DAYS, active_for_device, today
    with state.engine.connect() as conn:
        exempt = active_for_device(conn, d["device"].id)
    return render(request, "device.html", status=status, sess=sess, nav="devices",
                  mdm_findings=mdm_findings, done=done, error=error, owner_unmapped=unmapped,
                  admin=caller.may(IT_CHANGE), exemptions=exempt, exempt_today=today().isoformat(),
                  exempt_max=(today() + _dt.timedelta(days=MAX_DAYS)).isoformat(), **d)


@router.post("/devices/{device_id}/revoke")
async def device_revoke(request: Request, device_id: str, caller: Caller = require(IT_CHANGE)):
    return await device_action(request, caller, device_id, "revoke", "")


@router.post("/devices/{device_id}/exemptions")
async def device_exempt(request: Request, device_id: str, caller: Caller = require(IT_CHANGE)):
    """The device page's exemption form (server/exemptions.py holds the rules)."""
    return await _exemption_action(request, caller, device_id, None)


@router.post("/devices/{device_id}/exemptions/{exemption_id}/delete")
async def device_exempt_end(request: Request, device_id: str, exemption_id: int,
                            caller: Caller = require(IT_CHANGE)):
    return await _exemption_action(request, caller, device_id, exemption_id)


async def _exemption_action(request: Request, caller: Caller, device_id: str,
                            exemption_id: int | None):
    from .. import exemptions
    engine = request.app.state.checkup.engine
    form = await request.form()
    if not _form_ok(caller, form):
        return Response("Bad request (CSRF token missing or wrong)", status_code=400)
    device_id = device_id[:64]
    by = dict(actor=caller.actor, role=caller.role,
              address=request.client.host if request.client else "")
    try:
        if exemption_id is not None:
            await run_in_threadpool(lambda: exemptions.delete(engine, exemption_id, **by))
        else:
            await run_in_threadpool(lambda: exemptions.create(
                engine, check_id=str(form.get("check", ""))[:64],
                reason=str(form.get("reason", ""))[:2000], until=str(form.get("until", ""))[:40],
                device_id=device_id, owners_devices=str(form.get("scope", "")) == "owner", **by))
    except exemptions.ExemptionError as exc:
        return await run_in_threadpool(show_device, request, caller, device_id, 422, "", str(exc))
    return RedirectResponse(f"/devices/{device_id}?done={'exempt-ended' if exemption_id else 'exempt'}",
                            status_code=303)


@router.post("/devices/{device_id}/requests/{request_id}/{action}")
async def device_request(request: Request, device_id: str, request_id: str, action: str,
                         caller: Caller = require(IT_CHANGE)):
    if action not in ("approve", "reject"):
        return Response("Not found", status_code=404)
    return await device_action(request, caller, device_id, action, request_id)


async def device_action(request: Request, caller: Caller, device_id: str, action: str,
                        request_id: str):
    """IT's buttons on the device page (IT_CHANGE; a POST with the session's CSRF token)."""
    engine = request.app.state.checkup.engine
    form = await request.form()
    if not _form_ok(caller, form):
        return Response("Bad request (CSRF token missing or wrong)", status_code=400)
    from .. import devices as devs
    who = "web:" + caller.actor
    device_id = device_id[:64]
    by = dict(actor=caller.actor, role=caller.role,
              address=request.client.host if request.client else "")
    try:
        if action == "revoke":
            if not await run_in_threadpool(lambda: devs.revoke_device(engine, device_id, who, **by)):
                raise devs.DeviceError("this device was already revoked")
        else:
            await run_in_threadpool(lambda: devs.decide(engine, request_id[:64],
                                                        action == "approve", who, device_id, **by))
    except devs.DeviceError as exc:
        return await run_in_threadpool(show_device, request, caller, device_id, 409, "",
                                       str(exc))
    return RedirectResponse(f"/devices/{device_id}?done={action}", status_code=303)


@router.get("/reconcile", response_class=HTMLResponse)
def reconcile_page(request: Request, kind: str = "", page: int = 1,
                   caller: Caller = require(IT_READ)):
    state = request.app.state.checkup
    sess = caller.session
    from ..mdm.webviews import reconcile_context
    ctx = reconcile_context(state.engine, state.cfg, kind, max(1, min(page, 100000)))
    return render(request, "reconcile.html", sess=sess, nav="reconcile", **ctx)


@router.get("/reconcile.{fmt}", dependencies=[require(IT_READ)])
def reconcile_export(request: Request, fmt: str):
    state = request.app.state.checkup
    if fmt not in ("csv", "json"):
        return Response("Not found", status_code=404)
    from ..mdm.webviews import reconcile_export as export
    body, ctype = export(state.engine, state.cfg, fmt)
    return Response(body, media_type=ctype, headers={
        "Cache-Control": "no-store",
        "Content-Disposition": f"attachment; filename=checkup-reconciliation.{fmt}"})


@router.get("/policy", response_class=HTMLResponse)
def policy_page(request: Request, caller: Caller = require(IT_READ)):
    state = request.app.state.checkup
    sess = caller.session
    with state.engine.connect() as conn:
        pol = current_policy(conn)
    return render(request, "policy.html", sess=sess, nav="policy", pol=pol,
                  text=pol.text if pol else "", error=None, saved=request.query_params.get("saved"))


@router.post("/policy", response_class=HTMLResponse)
async def policy_save(request: Request, caller: Caller = require(IT_CHANGE)):
    state = request.app.state.checkup
    sess = caller.session
    form = await request.form()
    if not _form_ok(caller, form):
        return Response("Bad request (CSRF token missing or wrong)", status_code=400)
    text = str(form.get("policy", "")).replace("\r\n", "\n")
    with state.engine.connect() as conn:
        pol = current_policy(conn)
    if text.strip():
        try:
            validate_policy(text)
        except PolicyInvalid as exc:
            return render(request, "policy.html", status=422, sess=sess, nav="policy", pol=pol,
                          text=text, error=str(exc), saved=None)
    await run_in_threadpool(_save_policy, state.engine, text, caller.actor, caller.role,
                            request.client.host if request.client else "")
    log.warning("organisation policy %s by account %r from %s",
                "changed" if text.strip() else "cleared (agents use their own)", caller.actor,
                request.client.host if request.client else "?")
    return RedirectResponse("/policy?saved=1", status_code=303)
