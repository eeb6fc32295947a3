"""Sustained report ingest: the real server (``checkup-server run``, a separate
process) on loopback, a load generator with many simulated agents sending real
report bodies (the agent's pipeline on the test captures), keep-alive HTTP/1.1.

    python benchmarks/server_ingest.py --backend sqlite --seconds 20
    python benchmarks/server_ingest.py --backend postgresql --workers 2
    python benchmarks/server_ingest.py --backend sqlite --flip --webhook-hang

``--flip``: every other report of a device fails its first check (each report is a status
change, so outgoing alerts fire); ``--webhook-hang``: a webhook to a loopback receiver that
never answers is configured first (ingest must not slow down).

Traffic goes to 127.0.0.1 only; the run is bounded in time and stops by itself.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "server"))

import requests  # noqa: E402

import srvkit  # noqa: E402


def start_server(db_url: str, port: int, workers: int, tmp: str) -> subprocess.Popen:
    cfg = os.path.join(tmp, "server.toml")
    with open(cfg, "w") as fh:
        fh.write(f'[server]\ndatabase_url = "{db_url}"\nenrolls_per_minute = 1000000\n')
    env = dict(os.environ, PYTHONPATH=ROOT)
    subprocess.run([sys.executable, "-m", "server", "--config", cfg, "migrate"], env=env, check=True,
                   capture_output=True)
    proc = subprocess.Popen([sys.executable, "-m", "server", "--config", cfg, "run", "--port", str(port),
                             "--workers", str(workers), "--log-level", "warning"], env=env,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def token(cfg_path: str) -> str:
    out = subprocess.run([sys.executable, "-m", "server", "--config", cfg_path, "token", "create"],
                         env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[0]


def hanging_receiver() -> str:
    """A loopback HTTP server that reads each POST and never answers (until the run ends)."""
    import http.server
    import threading

    class Hang(http.server.BaseHTTPRequestHandler):
        def log_message(self, *_a) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(3600)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hang)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}/hook"


def add_webhook(cfg_path: str, url: str) -> None:
    subprocess.run([sys.executable, "-m", "server", "--config", cfg_path, "webhook", "add",
                    "--name", "hanging", "--url", url], env=dict(os.environ, PYTHONPATH=ROOT),
                   capture_output=True, text=True, check=True)


def flipped(rep: dict) -> dict:
    """The report with its first check failing (a required check newly failing)."""
    rep = json.loads(json.dumps(rep))
    if rep.get("checks"):
        rep["checks"][0]["status"] = "fail"
        rep["checks"][0]["fix"] = {"steps": ["Open Settings."], "link": None}
        rep["status"] = "fail"
    return rep


def enroll_devices(url: str, tok: str, n: int, flip: bool = False) -> list[tuple[str, bytes]]:
    """(secret, body template) per simulated device; bodies are real reports."""
    files = srvkit.fixture_files()
    out = []
    s = requests.Session()
    for i in range(n):
        rep = srvkit.report_for(files[i % len(files)])
        # hardware_uuid from 1: UUID(int=0) is the report_id placeholder replaced in every body
        rep["device"] = dict(rep["device"], hostname=f"{rep['device'].get('hostname') or 'host'}-{i:05d}",
                             serial=f"SIM{i:08d}", hardware_uuid=str(uuid.UUID(int=i + 1)).upper())
        r = s.post(url + "/api/v1/enroll", json={"enroll_token": tok, "device": rep["device"]})
        r.raise_for_status()
        rep["report_id"] = "00000000-0000-0000-0000-000000000000"
        out.append((r.json()["device_secret"], json.dumps(rep).encode()))
        if flip:   # the same device again, failing: it alternates between the two bodies
            out.append((r.json()["device_secret"], json.dumps(flipped(rep)).encode()))
    return out


async def agent_conn(port: int, devices, idx0: int, step: int, stop_at: float, stats: dict) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = idx0
    try:
        while time.perf_counter() < stop_at:
            secret, template = devices[i % len(devices)]
            i += step
            body = template.replace(b"00000000-0000-0000-0000-000000000000", str(uuid.uuid4()).encode())
            req = (b"POST /api/v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   b"Authorization: Bearer " + secret.encode() + b"\r\nContent-Length: " +
                   str(len(body)).encode() + b"\r\n\r\n" + body)
            t0 = time.perf_counter()
            writer.write(req)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if length:
                await reader.readexactly(length)
            code = int(status_line.split()[1])
            stats["lat"].append(time.perf_counter() - t0)
            stats[code] = stats.get(code, 0) + 1
    finally:
        writer.close()


async def load(port: int, devices, conns: int, seconds: float) -> dict:
    stats: dict = {"lat": []}
    stop_at = time.perf_counter() + seconds
    await asyncio.gather(*(agent_conn(port, devices, k, conns, stop_at, stats) for k in range(conns)))
    return stats


def run_one(backend: str, args) -> dict:
    tmp = tempfile.mkdtemp(prefix="checkup-bench-")
    cluster = None
    if backend == "sqlite":
        db_url = "sqlite:///" + os.path.join(tmp, "bench.sqlite3")
    else:
        bindir = srvkit.pg_bindir()
        if not bindir:
            raise SystemExit("PostgreSQL binaries not found")
        cluster = srvkit.PgCluster(bindir)
        cluster.start()
        db_url = cluster.create_database("bench")
    port = srvkit.free_port()
    proc = start_server(db_url, port, args.workers if backend != "sqlite" else 1, tmp)
    try:
        url = f"http://127.0.0.1:{port}"
        tok = token(os.path.join(tmp, "server.toml"))
        if args.webhook_hang:
            add_webhook(os.path.join(tmp, "server.toml"), hanging_receiver())
        t0 = time.perf_counter()
        devices = enroll_devices(url, tok, args.devices, args.flip)
        enroll_s = time.perf_counter() - t0
        try:
            import uvloop
            uvloop.install()
        except ImportError:
            pass
        asyncio.run(load(port, devices, args.connections, 2.0))  # warm-up
        stats = asyncio.run(load(port, devices, args.connections, args.seconds))
        lat = sorted(stats.pop("lat"))
        ok = stats.get(202, 0)
        from sqlalchemy import create_engine, text
        eng = create_engine(db_url)
        with eng.connect() as conn:
            stored = conn.execute(text("SELECT COUNT(*) FROM reports")).scalar_one()
            try:   # outgoing alerts written by ingest (webhook_outbox, migration 0011)
                alerts = conn.execute(text("SELECT COUNT(*) FROM webhook_outbox")).scalar_one()
            except Exception:  # noqa: BLE001 - a server without webhooks
                alerts = None
        eng.dispose()
        return {"backend": backend, "workers": args.workers if backend != "sqlite" else 1,
                "devices": args.devices, "connections": args.connections, "seconds": args.seconds,
                "body_bytes": int(statistics.mean(len(b) for _, b in devices)),
                "accepted_per_s": round(ok / args.seconds), "codes": stats,
                "p50_ms": round(lat[len(lat) // 2] * 1000, 1) if lat else None,
                "p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 1) if lat else None,
                "flip": args.flip, "webhook_hang": args.webhook_hang,
                "reports_in_db": stored, "alerts_queued": alerts, "enroll_per_s": round(args.devices / enroll_s)}
    finally:
        proc.terminate()
        proc.wait(20)
        if cluster:
            cluster.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--devices", type=int, default=3000)
    p.add_argument("--connections", type=int, default=48)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--workers", type=int, default=1, help="server processes (PostgreSQL only)")
    p.add_argument("--flip", action="store_true", help="alternate each device's first check "
                   "between its status and fail (every report a change)")
    p.add_argument("--webhook-hang", action="store_true",
                   help="configure a webhook to a loopback receiver that never answers")
    args = p.parse_args()
    for backend in (["sqlite", "postgresql"] if args.backend == "both" else [args.backend]):
        print(json.dumps(run_one(backend, args)), flush=True)


if __name__ == "__main__":
    main()
