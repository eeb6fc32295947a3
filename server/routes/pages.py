"""IT's pages: overview, devices, a device and its buttons, MDM reconciliation and its
exports, the organisation's policy (server/fleet.py and server/devices.py hold the rules)."""
from __future__ import annotations

import logging
import os
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..access import IT_CHANGE, IT_READ, ME, Caller, public, require
from ..fleet import (SORTS, DeviceFilter, current_policy, device_detail, device_list,
                     export_chunks, export_rows, overview)
from ..policy_check import CHECK_IDS
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


def _device_filter(status: str, check: str, platform: str, seen: str, q: str, owner: str,
                   page: int, sort: str, dir: str) -> DeviceFilter:  # noqa: A002
    """The device list's filters and order, the same for the page and its exports."""
    return DeviceFilter(status=status, check=check if check in CHECK_IDS else "",
                        platform=platform, seen=seen, q=query_text(q),
                        owner=query_text(owner, 320).strip(), page=max(1, min(page, 100000)),
                        sort=sort if sort in SORTS or sort == "status" else "",
                        dir=dir if dir in ("asc", "desc") else "")


@router.get("/devices", response_class=HTMLResponse)
def devices(request: Request, status: str = "", check: str = "", platform: str = "",
            seen: str = "", q: str = "", owner: str = "", page: int = 1, sort: str = "",
            dir: str = "", caller: Caller = require(IT_READ)):  # noqa: A002
    state = request.app.state.checkup
    sess = caller.session
    f = _device_filter(status, check, platform, seen, q, owner, page, sort, dir)
    from ..devices import pending_requests
    with state.engine.connect() as conn:
        rows, total = device_list(conn, f, state.stale_days)
        waiting = pending_requests(conn, limit=20)
    args = {k: v for k, v in vars(f).items() if v and k != "page"}
    return render(request, "devices.html", sess=sess, rows=rows, total=total, f=f, nav="devices",
                  page_size=100, args=args, urlencode=urlencode, waiting=waiting)


@router.get("/devices.{fmt}", dependencies=[require(IT_READ)])
def devices_export(request: Request, fmt: str, status: str = "", check: str = "",
                   platform: str = "", seen: str = "", q: str = "", owner: str = "",
                   sort: str = "", dir: str = ""):  # noqa: A002
    """The filtered device list, every page of it, as CSV or JSON (streamed in batches)."""
    if fmt not in ("csv", "json"):
        return Response("Not found", status_code=404)
    state = request.app.state.checkup
    f = _device_filter(status, check, platform, seen, q, owner, 1, sort, dir)
    body = export_chunks(export_rows(state.engine, f, state.stale_days), fmt)
    ctype = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    return StreamingResponse(body, media_type=ctype, headers={
        "Cache-Control": "no-store",
        "Content-Disposition": f"attachment; filename=checkup-devices.{fmt}"})


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


def _policy_page(request: Request, caller: Caller, status: int = 200, proposed: str | None = None,
                 values: dict | None = None, errors: dict | None = None, error: str | None = None,
                 preview=None, saved: str | None = None) -> HTMLResponse:  # noqa: ANN001
    """The policy editor: the effective policy as a form and as TOML, a preview, the history."""
    from .. import policy_edit as pe, policy_store
    state = request.app.state.checkup
    with state.engine.connect() as conn:
        pol = current_policy(conn)
        history, total = policy_store.versions(conn)
    text = pol.text if pol else ""
    default = pe.effective("")
    shown = pe.effective(proposed) if proposed is not None and not error and not errors else pe.effective(text)
    return render(request, "policy.html", status=status, sess=caller.session, nav="policy", pol=pol,
                  text=text if proposed is None or errors else proposed, error=error, saved=saved,
                  forms=pe.build_form(shown, default, values, errors), errors=errors or {},
                  org=pe.org_fields(shown, values), levels=pe.LEVEL_WORDS, preview=preview,
                  effective_toml=pe.effective(text).to_toml(), history=history, history_total=total,
                  admin=caller.may(IT_CHANGE))


@router.get("/policy", response_class=HTMLResponse)
def policy_page(request: Request, caller: Caller = require(IT_READ)):
    saved = request.query_params.get("saved", "")[:20]
    return _policy_page(request, caller, saved=saved or None)


async def _proposed(request: Request, caller: Caller):
    """A POST of the editor: (proposed TOML, typed values) of a valid policy, or the answer
    (400 without the CSRF token; 422, the page with the problems marked). ``source=form`` is
    the per-check form (the server writes its TOML); else the TOML box."""
    from .. import policy_edit as pe
    form = await request.form()
    if not _form_ok(caller, form):
        return Response("Bad request (CSRF token missing or wrong)", status_code=400)
    values, errors = None, {}
    if form.get("source") == "form":
        text, values, errors = pe.form_policy(form, pe.effective(""))
    else:
        text = str(form.get("policy", "")).replace("\r\n", "\n")
    error = None if errors else pe.check_text(text)
    if errors or error:
        return _policy_page(request, caller, 422, text, values, errors, error or "see the marked fields")
    return text, values


@router.post("/policy/preview", response_class=HTMLResponse)
async def policy_preview(request: Request, caller: Caller = require(IT_CHANGE)):
    from .. import policy_edit as pe, policy_store
    got = await _proposed(request, caller)
    if isinstance(got, Response):
        return got
    text, values = got
    engine = request.app.state.checkup.engine

    def compute():
        with engine.connect() as conn:
            pol = current_policy(conn)
            rows = policy_store.newest_reports(conn)
        return pe.preview(rows, pe.effective(pol.text if pol else ""), pe.effective(text))
    result = await run_in_threadpool(compute)
    return _policy_page(request, caller, 200, text, values, None, None, preview=result)


@router.post("/policy", response_class=HTMLResponse)
async def policy_save(request: Request, caller: Caller = require(IT_CHANGE)):
    state = request.app.state.checkup
    got = await _proposed(request, caller)
    if isinstance(got, Response):
        return got
    text, _ = got
    await run_in_threadpool(_save_policy, state.engine, text, caller.actor, caller.role,
                            request.client.host if request.client else "")
    log.warning("organisation policy %s by account %r from %s",
                "changed" if text.strip() else "cleared (agents use their own)", caller.actor,
                request.client.host if request.client else "?")
    return RedirectResponse("/policy?saved=1", status_code=303)


@router.post("/policy/revert/{version_id}", response_class=HTMLResponse)
async def policy_revert(request: Request, version_id: str, caller: Caller = require(IT_CHANGE)):
    """Save an earlier version's text again (a change of its own in the history and audit log)."""
    from .. import policy_edit as pe, policy_store
    state = request.app.state.checkup
    form = await request.form()
    if not _form_ok(caller, form):
        return Response("Bad request (CSRF token missing or wrong)", status_code=400)
    row = None
    if version_id.isdigit() and len(version_id) <= 12:
        with state.engine.connect() as conn:
            row = policy_store.version(conn, int(version_id))
    if row is None:
        return _policy_page(request, caller, 404, error=f"there is no version {version_id[:20]} to go back to")
    problem = pe.check_text(row.text)
    if problem:
        return _policy_page(request, caller, 409, error=f"version {row.id} no longer validates: {problem}")
    await run_in_threadpool(lambda: _save_policy(
        state.engine, row.text, caller.actor, caller.role,
        request.client.host if request.client else "", note=f"revert to version {row.id}"))
    log.warning("organisation policy reverted to version %d by account %r", row.id, caller.actor)
    return RedirectResponse(f"/policy?saved=revert-{row.id}", status_code=303)
