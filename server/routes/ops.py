"""Health, readiness and metrics for load balancers, probes and Prometheus (server/ops.py
holds what they compute; ``install_ops`` sets it up on the app's state)."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from .. import __version__
from ..ops import metrics_text

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz():
    return {"ok": True, "version": __version__}


@router.get("/readyz")
async def readyz(request: Request):
    ok, detail = await request.app.state.checkup.readiness.get()
    return JSONResponse({"ready": ok, **detail}, status_code=200 if ok else 503,
                        headers={"Cache-Control": "no-store"})


@router.get("/metrics")
async def metrics(request: Request):
    data = await run_in_threadpool(metrics_text, request.app.state.checkup.metrics_registry)
    return Response(data, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
