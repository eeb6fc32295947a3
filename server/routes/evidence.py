"""Evidence for auditors: ``GET /evidence`` (a page: pick a date; the day's checks, controls,
devices and policy) and ``/evidence.{csv,json,pdf}?at=DATE[&to=DATE]`` (downloads).
Read only (``IT_READ``); the rules are in ``server.evidence``."""
from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from .. import evidence as ev
from ..access import IT_READ, Caller, require
from ..db import utcnow

router = APIRouter()
PAGE_DEVICES = 500     # the page lists this many devices; the downloads list all
TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json", "pdf": "application/pdf"}


def _report(request: Request, at: str, to: str) -> dict:
    state = request.app.state.checkup
    day = ev.parse_day(at[:32])
    days = ev.days_between(day, ev.parse_day(to[:32]) if to else None)
    controls = ev.load_controls(state.cfg.get("evidence", "controls_file", ""))
    with state.engine.connect() as conn:
        return ev.evidence(conn, days, controls, today=utcnow().date())


@router.get("/evidence", include_in_schema=False, response_class=HTMLResponse)
def evidence_page(request: Request, at: str = "", to: str = "", caller: Caller = require(IT_READ)):
    from ..web import render
    report, error = None, ""
    if at:
        try:
            report = _report(request, at, "")
        except ev.EvidenceError as exc:
            error = str(exc)
    args = {k: v for k, v in (("at", at[:32]), ("to", to[:32])) if v}
    return render(request, "evidence.html", sess=caller.session, nav="evidence",
                  day=report["days"][0] if report else None, error=error, at=at[:32], to=to[:32],
                  query=urlencode(args), page_devices=PAGE_DEVICES,
                  NO_REPORT=ev.NO_REPORT, status=400 if error else 200)


@router.get("/evidence.{fmt}", include_in_schema=False)
def evidence_download(request: Request, fmt: str, at: str = "", to: str = "",
                      caller: Caller = require(IT_READ)):
    if fmt not in TYPES:
        return Response("Unknown format: use csv, json or pdf.\n", status_code=404,
                        media_type="text/plain; charset=utf-8")
    try:
        if not at:
            raise ev.EvidenceError("give the date: ?at=YYYY-MM-DD")
        report = _report(request, at, to)
    except ev.EvidenceError as exc:
        return Response(f"{exc}\n", status_code=400, media_type="text/plain; charset=utf-8")
    if fmt == "pdf":
        from ..evidence_pdf import render
        body: bytes | str = render(report)
    else:
        body = ev.to_json(report) if fmt == "json" else ev.to_csv(report)
    name = f"checkup-evidence-{report['days'][0]['date']}"
    if len(report["days"]) > 1:
        name += f"-to-{report['days'][-1]['date']}"
    return Response(body, media_type=TYPES[fmt], headers={
        "Cache-Control": "no-store", "Content-Disposition": f"attachment; filename={name}.{fmt}"})
