"""Outgoing webhooks for IT: ``GET /webhooks`` (the webhooks and their delivery log,
IT_READ), ``POST /webhooks`` (create: the secret is shown once), ``POST
/webhooks/{webhook_id}/delete`` and ``/test`` (IT_CHANGE, audited). Rules in
server/webhooks.py."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .. import webhooks
from .. import webhooks_store as store
from ..access import IT_CHANGE, IT_READ, Caller, require
from .pages import _form_ok

router = APIRouter()


def _page(request: Request, caller: Caller, status: int = 200, error: str = "",
          secret: str = "", created: str = "", form: dict | None = None) -> HTMLResponse:
    engine = request.app.state.checkup.engine
    with engine.connect() as conn:
        hooks = store.webhooks(conn)
        log = store.attempts(conn)
        counts = store.counts(conn)
    names = {h.id: h.name for h in hooks}
    from ..web import render
    return render(request, "webhooks.html", status=status, sess=caller.session, nav="webhooks",
                  hooks=hooks, log=log, counts=counts, names=names, events=webhooks.EVENTS,
                  formats=webhooks.FORMATS, error=error, secret=secret, created=created,
                  admin=caller.may(IT_CHANGE), form=form or {},
                  shown_url=webhooks._shown_url, done=request.query_params.get("done", "")[:20])


@router.get("/webhooks", include_in_schema=False, response_class=HTMLResponse)
def webhooks_page(request: Request, caller: Caller = require(IT_READ)):
    return _page(request, caller)


def _by(request: Request, caller: Caller) -> dict:
    return dict(actor=caller.actor, role=caller.role,
                address=request.client.host if request.client else "")


@router.post("/webhooks", include_in_schema=False)
async def webhook_create(request: Request, caller: Caller = require(IT_CHANGE)):
    form = await request.form()
    if not _form_ok(caller, form):
        return Response("Bad request (CSRF token missing or wrong)", status_code=400)
    engine = request.app.state.checkup.engine
    values = {k: str(form.get(k, ""))[:4000] for k in ("name", "url", "format")}
    events = [str(e)[:40] for e in form.getlist("events")][:20]

    def create():  # noqa: ANN202
        with engine.begin() as conn:   # the webhook and its audit row, or neither
            return webhooks.create(conn, name=values["name"], url=values["url"],
                                   fmt=values["format"] or "generic", events=events,
                                   **_by(request, caller))
    try:
        ident, secret = await run_in_threadpool(create)
    except webhooks.WebhookError as exc:
        return await run_in_threadpool(_page, request, caller, 400, str(exc), "", "",
                                       dict(values, events=events))
    headers = {"Cache-Control": "no-store"}
    page = await run_in_threadpool(_page, request, caller, 201, "", secret, ident)
    page.headers.update(headers)
    return page


@router.post("/webhooks/{webhook_id}/{action}", include_in_schema=False)
async def webhook_action(request: Request, webhook_id: str, action: str,
                         caller: Caller = require(IT_CHANGE)):
    if action not in ("delete", "test"):
        return Response("Not found", status_code=404)
    form = await request.form()
    if not _form_ok(caller, form):
        return Response("Bad request (CSRF token missing or wrong)", status_code=400)
    engine = request.app.state.checkup.engine

    def act() -> bool:
        if action == "test":
            return webhooks.send_test(engine, webhook_id, **_by(request, caller))
        with engine.begin() as conn:
            return webhooks.delete(conn, webhook_id, **_by(request, caller))
    if not await run_in_threadpool(act):
        return await run_in_threadpool(_page, request, caller, 404, "There is no such webhook.")
    return RedirectResponse(f"/webhooks?done={action}", status_code=303)
