"""Trends for IT: ``GET /trends`` (IT_READ): 90 days of device status, overall and per check,
as server-rendered SVG with the numbers in tables (server.trends)."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from .. import trends as tr
from ..access import IT_READ, Caller, require
from ..db import utcnow

router = APIRouter()


@router.get("/trends", include_in_schema=False, response_class=HTMLResponse)
def trends_page(request: Request, caller: Caller = require(IT_READ)):
    from ..web import render
    with request.app.state.checkup.engine.connect() as conn:
        overall, per_check = tr.trends(conn, utcnow().date())
    charts = [(s, Markup(tr.svg(s))) for s in [overall, *per_check]]   # svg() escapes its text
    return render(request, "trends.html", sess=caller.session, nav="trends", charts=charts,
                  bands=tr.BANDS, legend=Markup(tr.legend()))
