"""Helpers for the server tests: a throwaway PostgreSQL cluster, the real server
under uvicorn on loopback, a fault-injecting proxy, and real report bodies."""
from __future__ import annotations

import copy
import datetime as dt
import glob
import http.server
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")


# -- PostgreSQL ---------------------------------------------------------------

def pg_bindir() -> str | None:
    for pattern in ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin"):
        for d in sorted(glob.glob(pattern), reverse=True):
            if os.path.exists(os.path.join(d, "initdb")) and os.path.exists(os.path.join(d, "pg_ctl")):
                return d
    found = shutil.which("initdb")
    return os.path.dirname(found) if found else None


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class PgCluster:
    """initdb + pg_ctl in a temp dir, as the `postgres` user when we are root."""

    def __init__(self, bindir: str):
        self.bindir = bindir
        self.dir = tempfile.mkdtemp(prefix="checkup-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.user = None
        if os.geteuid() == 0:
            self.user = "postgres"
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = list(argv)
        if self.user:
            cmd = ["runuser", "-u", self.user, "--"] + cmd
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.dir)

    def start(self) -> None:
        r = self._run(os.path.join(self.bindir, "initdb"), "-D", self.data, "-A", "trust",
                      "-U", "postgres", "-E", "UTF8", "--no-sync")
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed: {r.stderr}")
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=200 -c shared_buffers=128MB")
        r = self._run(os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-o", opts,
                      "-l", os.path.join(self.dir, "log"), "-w", "-t", "60", "start")
        if r.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {r.stderr}{r.stdout}")

    def stop(self) -> None:
        self._run(os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", "immediate", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)

    def create_database(self, name: str) -> str:
        import psycopg
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"


# -- the real server under uvicorn ------------------------------------------

class LiveServer:
    """create_app + uvicorn.Server in a thread, on a loopback port; restartable."""

    def __init__(self, database_url: str, port: int | None = None,
                 tls: tuple[str, str] | None = None, **server_cfg):
        """``tls``: (certificate file, key file): serve https:// (uvicorn's own TLS)."""
        from server.config import load_config
        self.cfg = load_config(None, environ={})
        self.cfg.set("server", "database_url", database_url)
        for k, v in server_cfg.items():
            self.cfg.set("server", k, v)
        self.port = port or free_port()
        self.tls = tls
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.thread = None
        self.uv = None
        self.app = None

    def start(self) -> "LiveServer":
        import uvicorn

        from server.app import create_app
        self.app = create_app(self.cfg)
        self.engine = self.app.state.checkup.engine
        tls = {"ssl_certfile": self.tls[0], "ssl_keyfile": self.tls[1]} if self.tls else {}
        config = uvicorn.Config(self.app, log_level="warning", lifespan="on", access_log=False,
                                **tls)
        self.uv = uvicorn.Server(config)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.thread = threading.Thread(target=self.uv.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.time() + 20
        while not self.uv.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        self._sock = sock
        return self

    def stop(self) -> None:
        if self.uv is not None:
            self.uv.should_exit = True
            self.thread.join(15)
            self._sock.close()
            self.engine.dispose()
            self.uv = None

    # set-up helpers (what the CLI commands do)
    def token(self, uses: int | None = None, expires_days: float | None = None) -> str:
        if expires_days is not None and expires_days <= 0:
            # the CLI refuses to make an expired token: make one, then move its expiry back
            import datetime as dt

            from sqlalchemy import update

            from server.db import utcnow
            from server.models import EnrollToken
            from server.security import split_secret
            secret = self.token(uses)
            with self.engine.begin() as conn:
                conn.execute(update(EnrollToken).where(EnrollToken.id == split_secret(secret))
                             .values(expires_at=utcnow() + dt.timedelta(days=expires_days)))
            return secret
        from server.cli import main as cli
        import contextlib
        import io
        out = io.StringIO()
        env = {"DATABASE_URL": self.cfg.get("server", "database_url")}
        args = ["token", "create"]
        if uses:
            args += ["--uses", str(uses)]
        if expires_days is not None:
            args += ["--expires", str(expires_days)]
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
                assert cli(args) == 0
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        return out.getvalue().strip().splitlines()[0]

    def admin(self, username: str = "it-admin", password: str = "correct horse battery") -> tuple[str, str]:
        from server.db import utcnow
        from server.models import Admin
        from server.security import hash_password
        with self.engine.begin() as conn:
            conn.execute(Admin.__table__.insert().values(
                username=username, password_hash=hash_password(password), created_at=utcnow()))
        return username, password

    def count(self, table: str, where: str = "") -> int:
        from sqlalchemy import text
        with self.engine.connect() as conn:
            return conn.execute(text(f"SELECT COUNT(*) FROM {table} {where}")).scalar_one()


# -- a proxy that can fail on purpose -----------------------------------------

class FaultProxy:
    """Forwards to ``upstream``; ``script`` is a list of (status, headers, forward_first)
    answered instead of the server's answer, one per request, before passing through
    again. ``forward_first`` sends the request on and throws the real answer away.
    ``body_faults`` answers every request carrying a marker with a fixed status."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.script: list[tuple[int, dict]] = []
        # (marker, status): a request whose body contains ``marker`` is answered ``status``
        # (a report the server keeps failing on), every time
        self.body_faults: list[tuple[bytes, int]] = []
        self.seen: list[tuple[str, str, int]] = []
        proxy = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # noqa: ANN002
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = next((st for marker, st in proxy.body_faults if marker in body), None)
                if fault is not None and not proxy.script:
                    proxy.script = [(fault, {}, False)]
                if proxy.script and proxy.script[0][2] and self.command == "POST":
                    # forward, then lose the answer: the server stored it, the agent never knows
                    status, headers, _ = proxy.script.pop(0)
                    requests.request(self.command, proxy.upstream + self.path, data=body,
                                     headers={k: v for k, v in self.headers.items()
                                              if k.lower() not in ("host", "content-length",
                                                                   "connection")}, timeout=30)
                    proxy.script.insert(0, (status, headers, False))
                if proxy.script:
                    status, headers, _ = proxy.script.pop(0)
                    data = json.dumps({"detail": "injected"}).encode()
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    proxy.seen.append((self.command, self.path, status))
                    return
                hdrs = {k: v for k, v in self.headers.items()
                        if k.lower() not in ("host", "content-length", "connection")}
                r = requests.request(self.command, proxy.upstream + self.path, data=body,
                                     headers=hdrs, allow_redirects=False, timeout=30)
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection",
                                         "content-encoding", "date", "server"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)
                proxy.seen.append((self.command, self.path, r.status_code))

            do_GET = do_POST = _handle

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# -- report bodies --------------------------------------------------------------

def fixture_files() -> list[str]:
    return sorted(f for os_dir in ("macos", "windows", "linux")
                  for f in glob.glob(os.path.join(FIXTURES, os_dir, "*.json")))


def _from_expect(fx: dict) -> dict:
    """A report shaped by DESIGN from a fixture's expected results (used only when the
    agent's pipeline cannot run the capture)."""
    exp = fx.get("expect", {})
    device = {k.split(".", 1)[1]: v for k, v in exp.items() if k.startswith("device.")}
    device.setdefault("platform", fx.get("platform"))
    checks: dict[str, dict] = {}
    for k, v in exp.items():
        if not k.startswith("checks."):
            continue
        parts = k.split(".")
        c = checks.setdefault(parts[1], {"id": parts[1], "title": parts[1].replace("_", " ").capitalize(),
                                         "summary": "", "observed": {}})
        if parts[2] == "status":
            c["status"] = v
        elif parts[2] == "observed" and len(parts) > 3:
            c["observed"][parts[3]] = v
    checks_l = [c for c in checks.values() if "status" in c]
    for c in checks_l:
        if c["status"] in ("fail", "nudge"):
            c["fix"] = {"steps": ["Open Settings.", f"Turn on {c['title']}."], "link": None}
    statuses = [c["status"] for c in checks_l]
    status = ("fail" if "fail" in statuses else "nudge" if "nudge" in statuses
              else "pass" if "pass" in statuses else "unknown")
    return {"schema": 1, "agent_version": "0.1.0",
            "checked_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "device": device, "status": status, "checks": checks_l}


_CACHE: dict[str, dict] = {}


def report_for(path: str) -> dict:
    """The `checkup check --json` object for a capture: the real pipeline when it runs."""
    if path not in _CACHE:
        with open(path, encoding="utf-8") as fh:
            fx = json.load(fh)
        try:
            from agent.pipeline import run_check
            from agent.policy import load_policy
            from probes.host import RecordedHost
            rep = run_check(RecordedHost.load(path), load_policy(text=fx.get("policy")))
        except Exception:  # noqa: BLE001 - the pipeline is not there yet: DESIGN's shape
            rep = _from_expect(fx)
        _CACHE[path] = rep
    rep = copy.deepcopy(_CACHE[path])
    rep["checked_at"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return rep


def with_id(report: dict, **changes) -> dict:
    r = copy.deepcopy(report)
    r["report_id"] = str(uuid.uuid4())
    r.update(changes)
    return r


def agent_settings(url: str, token: str):
    from agent.config import Settings
    s = Settings()
    s.values["server"]["url"] = url
    s.values["server"]["enroll_token"] = token
    return s


def server_cli(database_url: str, *args: str, stdin: str = "") -> tuple[int, str, str]:
    """`checkup-server ARGS` in this process on ``database_url``: (exit code, stdout, stderr)."""
    import contextlib
    import io
    import sys

    from server.cli import main
    out, err = io.StringIO(), io.StringIO()
    old_env, old_stdin = os.environ.get("DATABASE_URL"), sys.stdin
    os.environ["DATABASE_URL"] = database_url
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        sys.stdin = old_stdin
        if old_env is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = old_env
    return code, out.getvalue(), err.getvalue()
