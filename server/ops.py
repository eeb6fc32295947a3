"""Running checkup-server in production: health, readiness, metrics, JSON logs, backups.

``install_ops(app, engine)`` gives a FastAPI app what these routes read (they live in
server/routes/ops.py) and the metrics middleware:

- ``GET /healthz``  the process is up and serving (no database call): liveness
  probes, the container HEALTHCHECK.
- ``GET /readyz``   the server can store a report: the database answers, its
  schema is at the Alembic head this code ships, a test write commits, the role
  may write the report tables (PostgreSQL), the disk has room (SQLite); ``503``
  with the reason otherwise: load balancers, compose ``depends_on``, rolling
  upgrades. A "ready" answer is reused for 5 s, so polling it costs nothing.
- ``GET /metrics``  Prometheus text format (``prometheus_client``): reports
  received and rejected by reason, devices by status, MDM sync runs and their
  errors (from the mdm_syncs table), request latency by route, process metrics.
- a pure ASGI middleware that times every request (label: the route template,
  never the raw path) and classifies ``POST /api/v1/reports`` answers.

With several worker processes (``checkup-server run --workers N``) set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory writable by the server
before it starts; ``/metrics`` then sums every worker.

``log_config(fmt, level)`` is a ``logging.config.dictConfig`` dictionary for the
server and uvicorn: ``fmt="json"`` writes one JSON object per line (``ts``,
``level``, ``logger``, ``msg``, ``pid``, extras, ``exc``), for journald, Docker
and log shippers. ``CHECKUP_SERVER_LOG_FORMAT=json`` selects it.

``backup(database_url, dest)`` copies a running server's database: SQLite with
the online backup API (consistent while the server writes), PostgreSQL with
``pg_dump --format=custom`` (restore with ``pg_restore``).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import logging.config
import os
import shutil
import sqlite3
import subprocess
import time
from typing import Any, Iterable

from prometheus_client import (REGISTRY, CollectorRegistry, Counter,
                               Histogram, disable_created_metrics, generate_latest)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

log = logging.getLogger("checkup.server.ops")

REPORTS_PATH = "/api/v1/reports"
OPS_PATHS = ("/healthz", "/readyz", "/metrics")
# answered before routing by a fast path (no scope["route"]) but worth their own label
KNOWN_PATHS = frozenset({REPORTS_PATH, "/api/v1/enroll", "/api/v1/policy"})
DEVICE_STATUSES = ("pass", "nudge", "fail", "skip", "unknown")
REJECT_REASONS = {401: "unauthorized", 403: "forbidden", 409: "conflict", 413: "too_large",
                  422: "invalid", 429: "rate_limited"}
READY_TIMEOUT = 5.0

# -- process-wide metrics ------------------------------------------------------
# Module level: one set per process, whatever number of apps a test builds.

disable_created_metrics()   # no *_created series: half the lines, nothing a dashboard uses

REPORTS_RECEIVED = Counter(
    "checkup_reports_received", "Reports accepted (202), by whether they were new or a resend",
    ["result"])
REPORTS_REJECTED = Counter(
    "checkup_reports_rejected", "Reports refused by the server, by reason", ["reason"])
REQUEST_LATENCY = Histogram(
    "checkup_http_request_duration_seconds", "Time to answer an HTTP request, by route template",
    ["method", "route", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
for _result in ("stored", "duplicate"):
    REPORTS_RECEIVED.labels(_result)
# every reason _count_report can give (the README's metric table lists them all)
REJECT_REASON_LABELS = (*REJECT_REASONS.values(), "other", "error")
for _reason in REJECT_REASON_LABELS:
    REPORTS_REJECTED.labels(_reason)


class DeviceCollector:
    """Devices by status, read from the database at scrape time (so every worker agrees)."""

    def __init__(self, engine: Engine, stale_after_days: int = 7):
        self.engine = engine
        self.stale_after_days = stale_after_days

    def collect(self) -> Iterable[GaugeMetricFamily]:
        from . import __version__
        from .models import Device
        info = GaugeMetricFamily("checkup_server_info", "Version of the running server",
                                 labels=["version"])
        info.add_metric([__version__], 1)
        yield info
        up = GaugeMetricFamily("checkup_database_up", "1 when the database answered this scrape")
        try:
            cutoff = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(
                days=self.stale_after_days)
            with self.engine.connect() as conn:
                # revoked devices are not counted; their secret_hash says so (a column every
                # schema has, so a server not yet migrated still answers its scrape)
                live = Device.secret_hash != "revoked"   # server.devices.REVOKED_HASH
                rows = conn.execute(select(Device.status, func.count()).where(live)
                                    .group_by(Device.status)).all()
                stale = conn.execute(select(func.count()).select_from(Device).where(live).where(
                    (Device.last_seen_at.is_(None)) | (Device.last_seen_at < cutoff))).scalar_one()
        except Exception as exc:  # noqa: BLE001 - a scrape must not fail because the DB is down
            log.warning("metrics: database unavailable: %s", exc.__class__.__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        counts = dict.fromkeys(DEVICE_STATUSES, 0)
        counts.update({status: n for status, n in rows})
        devices = GaugeMetricFamily("checkup_devices", "Enrolled devices by their newest status",
                                    labels=["status"])
        for status, n in sorted(counts.items()):
            devices.add_metric([status], n)
        yield devices
        g = GaugeMetricFamily("checkup_devices_stale",
                              f"Devices with no report for {self.stale_after_days} days")
        g.add_metric([], stale)
        yield g
        yield from self._syncs()

    def _syncs(self) -> Iterable:
        """MDM syncs from the mdm_syncs table: whichever process ran them (the scheduler in a
        server worker, or `checkup-server sync` from cron), every scrape sees them."""
        try:
            from .models import MdmSync
        except ImportError:   # a server without MDM reconciliation
            return
        try:
            with self.engine.connect() as conn:
                runs = conn.execute(select(MdmSync.source, MdmSync.status, func.count())
                                    .group_by(MdmSync.source, MdmSync.status)).all()
                last = conn.execute(select(MdmSync.source, func.max(MdmSync.finished_at))
                                    .where(MdmSync.status == "ok")
                                    .group_by(MdmSync.source)).all()
        except Exception as exc:  # noqa: BLE001 - e.g. the table is not migrated yet
            log.warning("metrics: MDM syncs unavailable: %s", exc.__class__.__name__)
            return
        total = CounterMetricFamily("checkup_sync_runs", "MDM inventory syncs by source and result",
                                    labels=["source", "result"])
        errors = CounterMetricFamily("checkup_sync_errors", "MDM syncs that failed, by source",
                                     labels=["source"])
        running = GaugeMetricFamily("checkup_sync_running", "MDM syncs in progress, by source",
                                    labels=["source"])
        by: dict[str, dict[str, int]] = {}
        for source, status, n in runs:
            by.setdefault(source, {})[status] = n
        for source, counts in sorted(by.items()):
            total.add_metric([source, "ok"], counts.get("ok", 0))
            total.add_metric([source, "failed"], counts.get("failed", 0))
            errors.add_metric([source], counts.get("failed", 0))
            running.add_metric([source], counts.get("running", 0))
        yield total
        yield errors
        yield running
        ts = GaugeMetricFamily("checkup_sync_last_success_timestamp_seconds",
                               "When the newest successful sync of a source finished (Unix time)",
                               labels=["source"])
        for source, finished in sorted(last):
            if finished is not None:
                ts.add_metric([source], finished.replace(tzinfo=dt.timezone.utc).timestamp())
        yield ts


def metrics_text(app_registry: CollectorRegistry | None) -> bytes:
    """Process metrics (every worker's, in multiprocess mode) + this app's database gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        out = generate_latest(registry)
    else:
        out = generate_latest(REGISTRY)
    if app_registry is not None:
        out += generate_latest(app_registry)
    return out


# -- readiness -----------------------------------------------------------------

_HEADS: tuple[str, ...] | None = None


def code_heads() -> tuple[str, ...]:
    """The Alembic head revision(s) this code ships."""
    global _HEADS
    if _HEADS is None:
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        from .db import MIGRATIONS
        cfg = Config()
        cfg.set_main_option("script_location", MIGRATIONS)
        _HEADS = tuple(sorted(ScriptDirectory.from_config(cfg).get_heads()))
    return _HEADS


# What storing a report writes to (ingest.Writer): readiness checks it may.
REPORT_TABLES = ("reports", "devices", "device_checks", "device_days", "changes")
MIN_FREE_BYTES = 8 * 1024 * 1024   # SQLite: less free space than this next to the database
READY_CACHE_OK = 5.0               # seconds a "ready" answer is reused


def _write_probe(conn) -> None:  # noqa: ANN001
    """A real write, committed by the caller: meta row ``ready_probe`` = now. On SQLite a
    read-only or unwritable file shows only here; on PostgreSQL a read-only transaction
    (default_transaction_read_only, a hot standby) too."""
    from .models import Meta
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    t = Meta.__table__
    if conn.execute(t.update().where(t.c.key == "ready_probe").values(value=now)).rowcount == 0:
        conn.execute(t.insert().values(key="ready_probe", value=now))


def _sqlite_free_bytes(engine: Engine) -> int | None:
    path = engine.url.database
    if not path or path == ":memory:":
        return None
    st = os.statvfs(os.path.dirname(os.path.abspath(path)))
    return st.f_bavail * st.f_frsize


def readiness(engine: Engine) -> tuple[bool, dict[str, Any]]:
    """Whether this server can store a report now: the database answers, its schema is
    this code's, a write commits, (PostgreSQL) the server's role may write every table a
    report goes to, (SQLite) the disk has room."""
    from alembic.runtime.migration import MigrationContext
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
    except Exception as exc:  # noqa: BLE001
        return False, {"database": "unreachable", "error": exc.__class__.__name__}
    heads = code_heads()
    if current != heads:
        return False, {"database": "ok", "schema": list(current), "expected": list(heads),
                       "error": "schema not at the current migration; run `checkup-server migrate`"}
    ok = {"database": "ok", "schema": list(current)}
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                denied = [t for t in REPORT_TABLES if not conn.execute(
                    text("SELECT has_table_privilege(:t, 'INSERT') AND has_table_privilege(:t, 'UPDATE')"),
                    {"t": t}).scalar()]
                if denied:
                    return False, {**ok, "writable": False,
                                   "error": "the database role may not write to " + ", ".join(denied)}
            _write_probe(conn)
    except Exception as exc:  # noqa: BLE001
        why = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        log.warning("readiness: a test write failed: %s: %s", exc.__class__.__name__,
                    why[0][:300] if why else "")
        if why and "disk is full" in why[0]:   # SQLITE_FULL
            return False, {**ok, "writable": False,
                           "error": "the disk holding the database is full"}
        return False, {**ok, "writable": False,
                       "error": f"the database refused a write ({exc.__class__.__name__})"}
    if engine.dialect.name == "sqlite":
        try:
            free = _sqlite_free_bytes(engine)
        except OSError:
            free = None
        if free is not None and free < MIN_FREE_BYTES:
            return False, {**ok, "writable": False, "free_bytes": free,
                           "error": f"the disk holding the database is full ({free} bytes free)"}
    return True, {**ok, "writable": True}


class Readiness:
    """readiness() at most once per READY_CACHE_OK seconds while ready; when not ready,
    every call looks again (so a fix shows at once), but callers arriving while a probe
    runs share its answer: one probe at a time, whatever the number of callers."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._lock = asyncio.Lock()
        self._result: tuple[bool, dict[str, Any]] | None = None
        self._done_at = 0.0

    async def get(self) -> tuple[bool, dict[str, Any]]:
        from starlette.concurrency import run_in_threadpool
        asked = time.monotonic()
        if self._fresh(asked):
            return self._result
        async with self._lock:
            if self._fresh(asked) or (self._result is not None and self._done_at >= asked):
                return self._result
            try:
                result = await asyncio.wait_for(run_in_threadpool(readiness, self.engine),
                                                READY_TIMEOUT)
            except asyncio.TimeoutError:
                result = (False, {"database": "timeout"})
            self._result, self._done_at = result, time.monotonic()
            return result

    def _fresh(self, now: float) -> bool:
        return self._result is not None and self._result[0] and now - self._done_at < READY_CACHE_OK


# -- the router and middleware ------------------------------------------------

class MetricsMiddleware:
    """Times every HTTP request; counts report answers by outcome. Pure ASGI (no body copies
    except the small JSON answer of a 202)."""

    def __init__(self, app):  # noqa: ANN001
        self.app = app

    async def __call__(self, scope, receive, send):  # noqa: ANN001
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        method = scope.get("method", "GET")
        is_report = method == "POST" and scope.get("path") == REPORTS_PATH
        status = 500
        body = bytearray()

        async def send_wrapper(message):  # noqa: ANN001
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif is_report and status == 202 and message["type"] == "http.response.body" \
                    and len(body) < 4096:
                body.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except BaseException:
            status = 500
            raise
        finally:
            route = getattr(scope.get("route"), "path", None) or (
                scope.get("path") if scope.get("path") in KNOWN_PATHS else "unmatched")
            REQUEST_LATENCY.labels(method, route, str(status)).observe(time.perf_counter() - start)
            if is_report:
                _count_report(status, bytes(body))


def _count_report(status: int, body: bytes) -> None:
    if status in (200, 201, 202):
        try:
            stored = bool(json.loads(body or b"{}").get("stored", True))
        except ValueError:
            stored = True
        REPORTS_RECEIVED.labels("stored" if stored else "duplicate").inc()
    elif status >= 500:
        REPORTS_REJECTED.labels("error").inc()
    else:
        REPORTS_REJECTED.labels(REJECT_REASONS.get(status, "other")).inc()


def install_ops(app, engine: Engine, stale_after_days: int = 7) -> None:  # noqa: ANN001
    """Give ``app`` what /readyz and /metrics read (server/routes/ops.py serves them) and
    the metrics middleware."""
    registry = CollectorRegistry()
    registry.register(DeviceCollector(engine, stale_after_days))
    app.state.checkup.metrics_registry = registry
    app.state.checkup.readiness = Readiness(engine)
    app.add_middleware(MetricsMiddleware)


# -- logging -------------------------------------------------------------------

_STD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message",
                                                      "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.timezone.utc)
                    .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STD_ATTRS and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        return json.dumps(out, default=str, ensure_ascii=False)


def log_format(value: str | None = None) -> str:
    fmt = (value or os.environ.get("CHECKUP_SERVER_LOG_FORMAT") or "text").strip().lower()
    return "json" if fmt == "json" else "text"


def log_config(fmt: str | None = None, level: str = "info") -> dict:
    """dictConfig for the server and uvicorn (pass as ``uvicorn.run(log_config=...)``)."""
    fmt = log_format(fmt)
    lvl = level.upper()
    formatter = ({"()": "server.ops.JsonFormatter"} if fmt == "json" else
                 {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "default",
                                "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": lvl},
        "loggers": {
            "uvicorn": {"handlers": [], "level": lvl, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": lvl, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": lvl, "propagate": True},
            # one line per /readyz otherwise ("Context impl ...")
            "alembic": {"handlers": [], "level": "WARNING", "propagate": True},
        },
    }


def configure_logging(fmt: str | None = None, level: str = "info") -> dict:
    cfg = log_config(fmt, level)
    logging.config.dictConfig(cfg)
    return cfg


# -- backups -------------------------------------------------------------------

class BackupError(RuntimeError):
    pass


def backup(database_url: str, dest: str) -> str:
    """Copy the database at ``database_url`` to ``dest`` while the server runs. Returns a
    one-line description. SQLite: the online backup API, then an integrity check.
    PostgreSQL: ``pg_dump --format=custom`` (the password goes in PGPASSWORD, not argv)."""
    from sqlalchemy.engine import make_url
    url = make_url(database_url)
    if os.path.exists(dest):
        raise BackupError(f"{dest} exists; name a new file")
    folder = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(folder):
        raise BackupError(f"cannot write {dest}: no directory {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BackupError(f"cannot write {dest}: {folder} is not writable")
    if url.get_backend_name() == "sqlite":
        src_path = url.database
        if not src_path or src_path == ":memory:" or not os.path.exists(src_path):
            raise BackupError(f"no SQLite database at {src_path!r}")
        tmp = dest + ".part"
        try:
            src = sqlite3.connect(f"file:{src_path}?mode=ro", uri=True, timeout=30)
            try:
                out = sqlite3.connect(tmp)
                try:
                    src.backup(out, pages=1024, sleep=0.005)
                    ok = out.execute("PRAGMA integrity_check").fetchone()[0]
                    out.execute("PRAGMA journal_mode=DELETE")
                finally:
                    out.close()
            finally:
                src.close()
        except (sqlite3.Error, OSError) as exc:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise BackupError(f"copying {src_path} to {dest} failed: {exc}") from None
        if ok != "ok":
            os.unlink(tmp)
            raise BackupError(f"the copy failed its integrity check: {ok}")
        os.chmod(tmp, 0o600)
        os.replace(tmp, dest)
        return f"SQLite {src_path} -> {dest} ({os.path.getsize(dest)} bytes)"
    if url.get_backend_name() == "postgresql":
        pg_dump = shutil.which("pg_dump")
        if not pg_dump:
            raise BackupError("pg_dump not found; install the PostgreSQL client of the server's "
                              "major version (Debian: postgresql-client)")
        env = dict(os.environ)
        if url.password is not None:
            env["PGPASSWORD"] = str(url.password)
        libpq = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
        # make_url renders an absent password as nothing; strip a dangling ":" if any
        proc = subprocess.run([pg_dump, "--format=custom", "--no-owner", "--file", dest,
                               "--dbname", libpq], env=env, capture_output=True, text=True,
                              timeout=3600)
        if proc.returncode != 0:
            if os.path.exists(dest):
                os.unlink(dest)
            raise BackupError("pg_dump failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1])
        os.chmod(dest, 0o600)
        return f"PostgreSQL {url.host or 'local'}/{url.database} -> {dest} " \
               f"({os.path.getsize(dest)} bytes, pg_dump custom format)"
    raise BackupError(f"cannot back up a {url.get_backend_name()} database")
