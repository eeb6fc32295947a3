"""Health, readiness and metrics for load balancers, probes and Prometheus (server/ops.py
holds what they compute; ``install_ops`` sets it up on the app's state)."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from .. import __version__
from ..access import public
from ..ops import metrics_text

router = APIRouter(include_in_schema=False)


@router.get("/healthz", dependencies=[public("liveness probes")])
async def healthz():
    return {"ok": True, "version": __version__}


@router.get("/readyz", dependencies=[public("readiness probes and load balancers")])
async def readyz(request: Request):
    ok, detail = await request.app.state.checkup.readiness.get()
    return JSONResponse({"ready": ok, **detail}, status_code=200 if ok else 503,
                        headers={"Cache-Control": "no-store"})


# /metrics has no sign-in: Prometheus scrapes the server port directly and the reverse
# proxy does not serve it (deploy/nginx, README "Monitoring").
@router.get("/metrics", dependencies=[public("Prometheus on the server port; not served by the proxy")])
async def metrics(request: Request):
    data = await run_in_threadpool(metrics_text, request.app.state.checkup.metrics_registry)
    return Response(data, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
