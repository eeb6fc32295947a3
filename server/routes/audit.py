"""The audit log for IT: ``GET /audit`` (a page), ``/audit.json`` and ``/audit.csv``
(exports with the page's filters). Read only: there is no route that changes a row.
Viewers and admins read it (``IT_READ``); the rows come from ``server.audit``."""
from __future__ import annotations

import io
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from .. import audit
from ..access import IT_READ, Caller, require
from ..db import utcnow

router = APIRouter()

DAYS_CHOICES = (("1", "the last day"), ("7", "the last 7 days"), ("30", "the last 30 days"),
                ("90", "the last 90 days"), ("365", "the last year"))


def _filter(action: str, who: str, result: str, days: str) -> audit.AuditFilter:
    return audit.AuditFilter.of(action=action[:64], actor=who, result=result[:10],
                                days=days[:6] if days.isdigit() else 0)


def _page(page: str) -> int:
    return min(int(page), 1_000_000) if page.isdigit() and int(page) >= 1 else 1


@router.get("/audit", include_in_schema=False, response_class=HTMLResponse)
def audit_page(request: Request, action: str = "", who: str = "", result: str = "",
               days: str = "", page: str = "1", caller: Caller = require(IT_READ)):
    f = _filter(action, who, result, days)
    n = _page(page)
    engine = request.app.state.checkup.engine
    with engine.connect() as conn:
        rows, total = audit.query(conn, f, n)
    from ..web import render
    args = {("who" if k == "actor" else k): v for k, v in f.args().items()}
    return render(request, "audit.html", sess=caller.session, nav="audit", rows=rows,
                  total=total, f=f, page=n, page_size=audit.PAGE_SIZE, args=args,
                  urlencode=urlencode, actions=audit.ACTIONS, days_choices=DAYS_CHOICES)


@router.get("/audit.json", include_in_schema=False)
def audit_json(request: Request, action: str = "", who: str = "", result: str = "",
               days: str = "", caller: Caller = require(IT_READ)):
    rows, total = _export(request, _filter(action, who, result, days))
    from ..untrusted import json_text
    body = json_text({"generated_at": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"), "total": total,
                      "truncated": total > len(rows), "rows": rows})
    return Response(body, media_type="application/json", headers=_download("json"))


@router.get("/audit.csv", include_in_schema=False)
def audit_csv(request: Request, action: str = "", who: str = "", result: str = "",
              days: str = "", caller: Caller = require(IT_READ)):
    rows, _ = _export(request, _filter(action, who, result, days))
    out = io.StringIO()
    audit.write_csv(out, rows)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=_download("csv"))


def _export(request: Request, f: audit.AuditFilter) -> tuple[list[dict], int]:
    with request.app.state.checkup.engine.connect() as conn:
        return audit.query(conn, f, 1, audit.MAX_EXPORT)


def _download(ext: str) -> dict:
    return {"Cache-Control": "no-store",
            "Content-Disposition": f"attachment; filename=checkup-audit.{ext}"}
