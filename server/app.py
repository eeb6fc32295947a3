"""The FastAPI application: protocol v1 for agents, HTML pages for IT."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import threading

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.engine import Engine

from . import __version__
from .config import ServerConfig
from .db import make_engine, migrate, secret_key, utcnow
from .ingest import (CONFLICT, IDENTITY, REUSED, STORED, TAKEN, UNAUTHORIZED, Item,
                     Writer, prune)
from .models import Device
from .ratelimit import Buckets
from .schemas import EnrollRequest, Report, device_status
from .security import matches, sha256_hex, split_secret

log = logging.getLogger("checkup.server")

MAX_ENROLL_BYTES = 16 * 1024
MAX_REPORT_AGE_DAYS = 30   # DESIGN: reports up to 30 days old are accepted


class TooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) anything over ``limit`` bytes without reading it all."""
    length = request.headers.get("content-length")
    if length is not None:
        try:
            if int(length) > limit:
                raise TooLarge
        except ValueError:
            raise TooLarge from None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def problem(status: int, detail, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _errors(exc: ValidationError) -> list[dict]:
    return [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")}
            for e in exc.errors(include_url=False, include_input=False)][:20]


def bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


# -- the OpenAPI description ---------------------------------------------------
# The agents' routes read their bodies themselves (size limit first, then pydantic), so
# FastAPI does not see the models: their schemas are added here, nested models included,
# as components the request bodies point at.

BODY_MODELS = (EnrollRequest, Report)
DEVICE_AUTH = {"security": [{"deviceSecret": []}]}
SECURITY_SCHEMES = {"deviceSecret": {
    "type": "http", "scheme": "bearer",
    "description": "the device secret /api/v1/enroll returned"}}


def _json_body(model) -> dict:  # noqa: ANN001
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


def body_schemas() -> dict[str, dict]:
    """JSON Schemas of the request bodies and every model they use, by component name."""
    out: dict[str, dict] = {}
    for model in BODY_MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out


def _document_bodies(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = generate()
            components = schema.setdefault("components", {})
            components.setdefault("schemas", {}).update(body_schemas())
            components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
        return app.openapi_schema

    app.openapi = openapi


class State:
    """What one server process holds: engine, writer, rate limits, session key, and the
    settings routes read (``request.app.state.checkup``)."""

    def __init__(self, cfg: ServerConfig, engine: Engine):
        self.cfg = cfg
        self.engine = engine
        self.max_report = int(cfg.get("server", "max_report_bytes"))
        self.stale_days = int(cfg.get("server", "stale_after_days", 7))
        self.local_login = cfg.get("auth", "local_login", True) is not False
        self.session_hours = int(cfg.get("auth", "session_hours", 12))
        if self.session_hours < 1:
            log.warning("[auth] session_hours = %s is too short; using 1", self.session_hours)
            self.session_hours = 1
        self.writer = Writer(engine, batch_max=int(cfg.get("server", "batch_max", 256)))
        self.report_buckets = Buckets(float(cfg.get("server", "reports_per_minute")),
                                      int(cfg.get("server", "report_burst")))
        epm = int(cfg.get("server", "enrolls_per_minute"))
        self.enroll_buckets = Buckets(epm, max(10, epm // 2))   # per client address
        self.login_buckets = Buckets(10, 10)    # per client address
        env_name = cfg.get("server", "secret_key_env") or ""
        self.secret_key = os.environ.get(env_name) if env_name else None
        self.secret_key = self.secret_key or secret_key(engine)
        self._prune_stop = threading.Event()
        self._prune_thread: threading.Thread | None = None

    def start(self) -> None:
        self.writer.start()
        self._prune_thread = threading.Thread(target=self._prune_loop, name="checkup-prune",
                                              daemon=True)
        self._prune_thread.start()

    def stop(self) -> None:
        self._prune_stop.set()
        self.writer.stop()

    def _warm_trends(self) -> None:
        """Count and keep the trends' finished days now, so no IT visit waits for them."""
        try:
            from .db import utcnow
            from .trends import DAYS, counts
            today = utcnow().date()
            with self.engine.connect() as conn:
                counts(conn, [today - dt.timedelta(days=i) for i in range(DAYS - 1, -1, -1)], today)
        except Exception:  # noqa: BLE001
            log.exception("counting the trends failed")

    def _prune_loop(self) -> None:
        if not self._prune_stop.wait(30):
            self._warm_trends()
        while not self._prune_stop.wait(3600):
            self._warm_trends()
            try:
                prune(self.engine, int(self.cfg.get("server", "keep_reports_days")),
                      int(self.cfg.get("server", "keep_history_days")))
            except Exception:  # noqa: BLE001
                log.exception("pruning failed")
            try:
                from .sessions import prune_sessions   # ended sessions, old failure counts
                prune_sessions(self.engine)
            except Exception:  # noqa: BLE001
                log.exception("pruning sessions failed")


def create_app(cfg: ServerConfig, engine: Engine | None = None, run_migrations: bool = True) -> FastAPI:
    engine = engine or make_engine(cfg.database_url)
    if run_migrations:
        migrate(engine)
    state = State(cfg, engine)

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(_app):
        from .mdm.store import SyncScheduler   # [server] mdm_sync_minutes
        mdm_sync = SyncScheduler(engine, cfg)
        from .webhooks import Deliverer              # [webhooks]: the outbox's sender
        deliverer = Deliverer(engine, cfg)
        from .digest import DigestScheduler          # [digest] enabled: one email a working day
        digests = DigestScheduler(engine, cfg)
        state.start()
        mdm_sync.start()
        deliverer.start()
        digests.start()
        try:
            yield
        finally:
            digests.stop()
            deliverer.stop()
            mdm_sync.stop()
            state.stop()

    app = FastAPI(title="Checkup server", version=__version__, lifespan=lifespan,
                  description="Protocol v1 for Checkup agents, and IT's fleet pages.",
                  docs_url=None, redoc_url=None, openapi_url="/api/v1/openapi.json")
    app.state.checkup = state
    _document_bodies(app)

    app.add_middleware(FastPath, state=state, max_report=state.max_report,
                       body_timeout=float(cfg.get("server", "body_timeout_seconds", 30)),
                       body_idle=float(cfg.get("server", "body_idle_seconds", 10)))

    from . import access
    from .web import forbidden_page
    access.install(app, forbidden_page=forbidden_page)   # 401/403 answers of require()
    from .routes import agents as agent_routes   # protocol v1
    app.include_router(agent_routes.router)
    from .routes import login as login_routes    # /login, /logout
    app.include_router(login_routes.router)
    from .routes import pages as page_routes     # IT's pages
    app.include_router(page_routes.router)
    from .routes import ops as ops_routes        # /healthz, /readyz, /metrics
    app.include_router(ops_routes.router)

    from .routes import audit as audit_routes    # /audit
    app.include_router(audit_routes.router)
    from .routes import evidence as evidence_routes   # /evidence, /evidence.{csv,json,pdf}
    app.include_router(evidence_routes.router)
    from .routes import trends as trends_routes       # /trends
    app.include_router(trends_routes.router)
    from .routes import claim as claim_routes    # /api/v1/claim, /claim/{code}, owner form
    app.include_router(claim_routes.router)
    from .routes import oidc as oidc_routes      # /auth/oidc/*
    app.include_router(oidc_routes.router)
    from .routes import people as people_routes  # /me, /me.json, /people/{email}, the people API
    app.include_router(people_routes.router)
    from .routes import webhooks as webhook_routes  # /webhooks: outgoing alerts, delivery log
    app.include_router(webhook_routes.router)
    from .routes import it_api as it_api_routes  # IT's read API (/api/v1/devices, findings)
    app.include_router(it_api_routes.router)

    from .ops import install_ops   # what /readyz and /metrics read, request metrics
    install_ops(app, engine, int(cfg.get("server", "stale_after_days", 7)))
    return app


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; style-src 'self'; img-src 'self' data:; "
                                 b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000")


class BodyTimeout(HTTPException):
    """A request body that stalls: answered 408 and the connection closed."""

    def __init__(self, total: float, idle: float):
        super().__init__(408, f"the request body did not arrive in time ({total:g} s in all, "
                              f"at most {idle:g} s without data); send it again",
                         headers={"Connection": "close"})


_timeout = getattr(asyncio, "timeout", None)


def timed_receive(receive, total: float, idle: float):  # noqa: ANN001, ANN201
    """``receive`` with a deadline for the whole body (``total`` seconds from the start of
    the request) and for each gap in it (``idle``); after the body, as it was."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + total
    done = False

    async def timed():  # noqa: ANN202
        nonlocal done
        if done:
            return await receive()
        wait = min(idle, deadline - loop.time())
        try:
            if wait <= 0:
                raise asyncio.TimeoutError
            if _timeout is not None:   # Python 3.11+: no extra task per call
                async with _timeout(wait):
                    msg = await receive()
            else:
                msg = await asyncio.wait_for(receive(), wait)
        except (asyncio.TimeoutError, TimeoutError):
            done = True
            log.warning("request body stalled (limits %g s in all, %g s idle): 408", total, idle)
            raise BodyTimeout(total, idle) from None
        if msg["type"] != "http.request" or not msg.get("more_body"):
            done = True
        return msg
    return timed


class FastPath:
    """Pure ASGI middleware: security headers on every answer, a time limit on every
    request body, and the hot path (POST /api/v1/reports) answered here without the
    framework's per-request layers."""

    def __init__(self, app, state: "State", max_report: int, body_timeout: float = 30.0,  # noqa: ANN001
                 body_idle: float = 10.0):
        self.app = app
        self.state = state
        self.max_report = max_report
        self.body_timeout = body_timeout
        self.body_idle = body_idle

    async def __call__(self, scope, receive, send):  # noqa: ANN001
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        extra = SECURITY_HEADERS + ([HSTS] if scope.get("scheme") == "https" else [])
        receive = timed_receive(receive, self.body_timeout, self.body_idle)
        if scope["method"] == "POST" and scope["path"] == "/api/v1/reports":
            auth = length = None
            for k, v in scope["headers"]:
                if k == b"authorization":
                    auth = v.decode("latin-1")
                elif k == b"content-length":
                    length = v.decode("latin-1")

            async def chunks():
                while True:
                    msg = await receive()
                    if msg["type"] == "http.disconnect":
                        return
                    yield msg.get("body", b"")
                    if not msg.get("more_body"):
                        return

            try:
                status, payload, headers = await ingest_report(self.state, self.max_report, auth,
                                                               length, chunks())
            except BodyTimeout as exc:
                status, payload, headers = exc.status_code, {"detail": exc.detail}, exc.headers
            body = json.dumps(payload, separators=(",", ":")).encode()
            hdrs = [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())] + extra
            hdrs += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
            await send({"type": "http.response.start", "status": status, "headers": hdrs})
            await send({"type": "http.response.body", "body": body})
            return

        started = False

        async def send_with_headers(msg):  # noqa: ANN001
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
                have = {k.lower() for k, _ in msg.get("headers", [])}
                msg = dict(msg, headers=list(msg.get("headers", [])) +
                           [(k, v) for k, v in extra if k not in have])
            await send(msg)

        try:
            return await self.app(scope, receive, send_with_headers)
        except BodyTimeout as exc:   # read outside a route (a middleware): answer it here
            if started:
                raise
            body = json.dumps({"detail": exc.detail}).encode()
            await send_with_headers({"type": "http.response.start", "status": 408, "headers": [
                (b"content-type", b"application/json"), (b"connection", b"close"),
                (b"content-length", str(len(body)).encode())]})
            await send_with_headers({"type": "http.response.body", "body": body})


async def _read_limited(length: str | None, chunks, limit: int) -> bytes:
    if length is not None:
        try:
            if int(length) > limit:
                raise TooLarge
        except ValueError:
            raise TooLarge from None
    parts, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise TooLarge
        parts.append(chunk)
    return b"".join(parts)


async def ingest_report(state: "State", max_report: int, authorization: str | None,
                        length: str | None, chunks) -> tuple[int, dict, dict | None]:
    """POST /api/v1/reports: (status, JSON payload, extra headers)."""
    secret = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            secret = value.strip()
    device_id = split_secret(secret) if secret else None
    unauth = {"WWW-Authenticate": "Bearer"}
    if device_id is None:
        return 401, {"detail": "missing or malformed device secret; enroll again"}, unauth
    secret_hash = sha256_hex(secret)
    wait = state.report_buckets.take(secret_hash)
    if wait:
        return 429, {"detail": "too many reports from this device"}, {
            "Retry-After": Buckets.retry_after(wait)}
    try:
        raw = await _read_limited(length, chunks, max_report)
    except TooLarge:
        return 413, {"detail": f"report larger than {max_report} bytes"}, None
    try:
        rep = Report.model_validate_json(raw)
    except ValidationError as exc:
        return 422, {"detail": _errors(exc)}, None
    if rep.device_id is not None and rep.device_id != device_id:
        return 403, {"detail": "a device may only send its own reports"}, None
    received = utcnow()
    if rep.checked_at < received - dt.timedelta(days=MAX_REPORT_AGE_DAYS):
        return 422, {"detail": f"report is older than {MAX_REPORT_AGE_DAYS} days (checked_at "
                               f"{rep.checked_at:%Y-%m-%dT%H:%M:%SZ}); it is not stored"}, None
    checks = {c.id: c.status for c in rep.checks}
    # The report's claims are not trusted where the server can know better: its status is
    # what its checks say (DESIGN's rule), and a checked_at in the future is capped at the
    # time the server received it, so a wrong clock cannot make a report "newest" for ever.
    # The body is kept as sent.
    status = device_status(checks.values())
    if status != rep.status:
        log.info("device %s report %s says status %s but its checks say %s; stored as %s",
                 device_id, rep.report_id, rep.status, status, status)
    item = Item(device_id=device_id, secret_hash=secret_hash, report_id=str(rep.report_id),
                checked_at=min(rep.checked_at, received), status=status,
                device=rep.device.model_dump(), agent_version=rep.agent_version,
                checks=checks, body=raw.decode("utf-8"))
    try:
        result = await asyncio.wrap_future(state.writer.submit(item))
    except Exception:  # noqa: BLE001
        return 500, {"detail": "report not stored; send it again"}, None
    if result == UNAUTHORIZED:
        return 401, {"detail": "unknown device or wrong secret; enroll again"}, unauth
    if result == CONFLICT:
        return 409, {"detail": "this report_id belongs to another device"}, None
    if result == IDENTITY:
        log.warning("device %s: report %s refused, its %r", device_id, item.report_id, item.why)
        return 409, {"detail": f"this device is enrolled as another machine (enrolled with "
                               f"{item.why}); enroll again", "reason": "identity_changed"}, None
    if result == TAKEN:
        log.warning("device %s: report %s refused: %r", device_id, item.report_id, item.why)
        return 409, {"detail": f"another enrolled device already has this {item.why}; this "
                               "report is not stored (enroll again; IT approves it)",
                     "reason": "identity_taken"}, None
    if result == REUSED:
        return 409, {"detail": "this report_id was already used for a different report; a "
                               "new report needs a new report_id", "reason": "report_id_reused"}, None
    return 202, {"report_id": item.report_id, "stored": result == STORED}, None


def _device_ok(engine: Engine, secret: str) -> bool:
    device_id = split_secret(secret)
    if device_id is None:
        return False
    with engine.connect() as conn:
        stored = conn.execute(select(Device.secret_hash).where(Device.id == device_id)).scalar()
    return matches(secret, stored)


def json_dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))
