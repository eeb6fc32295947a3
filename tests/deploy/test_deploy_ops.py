"""Operations on the real server process: readiness follows migrations, SIGTERM lets an
in-flight report finish, backups (SQLite online backup, PostgreSQL pg_dump) restore, MDM
syncs show in the metrics, logs are JSON."""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import requests

from deploykit import ServerProc, free_port, make_report, metric_values, server_cli, server_env


def _enroll(base: str, env: dict) -> str:
    made = server_cli("token", "create", env=env)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    report = make_report()
    r = requests.post(base + "/api/v1/enroll", json={"enroll_token": token, "device": report["device"]},
                      timeout=10)
    assert r.status_code == 201, r.text
    return r.json()["device_secret"]


def _report_body() -> bytes:
    report = make_report()
    report["report_id"] = str(uuid.uuid4())
    return json.dumps(report).encode()


def test_readyz_follows_the_schema_and_migrate_fixes_it(tmp_path):
    """A database one migration behind the code (an upgrade not yet migrated): the process is
    alive but not ready until `checkup-server migrate`."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from server.db import MIGRATIONS, make_engine, migrate
    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    revisions = [r.revision for r in ScriptDirectory.from_config(cfg).walk_revisions()]
    if len(revisions) < 2:
        pytest.skip("only one migration exists: no older schema to start from")
    url = f"sqlite:///{tmp_path}/older.sqlite3"
    engine = make_engine(url)
    migrate(engine, revisions[1])          # one before head
    engine.dispose()
    env = server_env(tmp_path, DATABASE_URL=url)
    server = ServerProc(tmp_path, free_port(), env, ("--no-migrate",))
    try:
        assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
        r = requests.get(server.url + "/readyz", timeout=10)
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["ready"] is False and "checkup-server migrate" in body["error"]
        assert body["schema"] == [revisions[1]] and body["expected"] == [revisions[0]]
        m = metric_values(requests.get(server.url + "/metrics", timeout=10).text)
        assert m[("checkup_database_up", ())] == 1
        out = server_cli("migrate", env=env)
        assert out.returncode == 0, out.stderr
        assert "revision" in out.stdout
        r = requests.get(server.url + "/readyz", timeout=10)
        assert r.status_code == 200 and r.json()["ready"] is True, r.text
    finally:
        server.stop()


def test_sigterm_lets_an_in_flight_report_finish(tmp_path):
    """A report whose body is still arriving when the server is told to stop is answered
    (202) and stored; new connections are refused meanwhile; the process then exits."""
    db = tmp_path / "graceful.sqlite3"
    env = server_env(tmp_path, DATABASE_URL=f"sqlite:///{db}")
    port = free_port()
    server = ServerProc(tmp_path, port, env, ("--graceful-timeout", "20"))
    try:
        secret = _enroll(server.url, env)
        body = _report_body()
        sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        head = (f"POST /api/v1/reports HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Authorization: Bearer {secret}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        sock.sendall(head + body[:100])
        time.sleep(0.3)
        t0 = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        # the listener closes at once ...
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                time.sleep(0.05)
            except OSError:
                break
        else:
            pytest.fail("the server still accepts connections 10 s after SIGTERM")
        assert server.proc.poll() is None, "the server quit with a request in flight"
        time.sleep(1.0)
        assert server.proc.poll() is None, "the server quit with a request in flight"
        # ... and the slow client finishes its report
        sock.sendall(body[100:])
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        sock.close()
        status_line = answer.split(b"\r\n", 1)[0]
        assert b" 202 " in status_line, answer[:300]
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["stored"] is True
        rc = server.proc.wait(20)
        took = time.monotonic() - t0
    finally:
        server.stop()
    assert rc in (0, -signal.SIGTERM), server.log()
    assert took < 20
    import sqlite3
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM reports").fetchone()[0] == 1
    assert "Application shutdown complete" in server.log()


def test_sqlite_online_backup_and_restore(tmp_path):
    db = tmp_path / "live.sqlite3"
    env = server_env(tmp_path, DATABASE_URL=f"sqlite:///{db}")
    server = ServerProc(tmp_path, free_port(), env)
    try:
        secret = _enroll(server.url, env)
        for _ in range(3):
            r = requests.post(server.url + "/api/v1/reports", data=_report_body(), timeout=10,
                              headers={"Authorization": f"Bearer {secret}",
                                       "Content-Type": "application/json"})
            assert r.status_code == 202, r.text
        # while it runs (WAL mode: most of the data may still sit in the -wal file)
        out = server_cli("backup", str(tmp_path / "backup.sqlite3"), env=env)
        assert out.returncode == 0, out.stderr
        assert "SQLite" in out.stdout
        again = server_cli("backup", str(tmp_path / "backup.sqlite3"), env=env)
        assert again.returncode == 3 and "exists" in again.stderr
    finally:
        server.stop()
    assert oct((tmp_path / "backup.sqlite3").stat().st_mode & 0o777) == "0o600"
    # restore = put the copy where the database was (server stopped) and start again
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    shutil.copy(tmp_path / "backup.sqlite3", db)
    server = ServerProc(tmp_path, free_port(), env)
    try:
        assert requests.get(server.url + "/readyz", timeout=10).status_code == 200
        m = metric_values(requests.get(server.url + "/metrics", timeout=10).text)
        assert sum(v for (name, _), v in m.items() if name == "checkup_devices") == 1
        r = requests.get(server.url + "/api/v1/policy", timeout=10,
                         headers={"Authorization": f"Bearer {secret}"})
        assert r.status_code in (200, 204), r.text      # the device and its secret came back
    finally:
        server.stop()
    import sqlite3
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM reports").fetchone()[0] == 3


# -- PostgreSQL -------------------------------------------------------------------------

def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for base in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (base / name).exists():
            return str(base / name)
    return None


@pytest.fixture(scope="module")
def postgres_url():
    """A throwaway PostgreSQL cluster on a Unix socket (initdb + pg_ctl as the `postgres`
    user), or $CHECKUP_TEST_POSTGRES_URL when CI provides one."""
    if os.environ.get("CHECKUP_TEST_POSTGRES_URL"):
        yield os.environ["CHECKUP_TEST_POSTGRES_URL"]
        return
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl or not _pg_bin("pg_dump") or not _pg_bin("pg_restore"):
        pytest.skip("PostgreSQL server binaries are not installed (Debian: postgresql)")
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to run PostgreSQL as")
        prefix = ["runuser", "-u", "postgres", "--"]
    else:
        user, prefix = pwd.getpwuid(os.geteuid()), []
    base = Path(tempfile.mkdtemp(prefix="checkup-pg-"))
    os.chown(base, user.pw_uid, user.pw_gid)
    data = base / "data"
    port = free_port()
    subprocess.run([*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8"],
                   check=True, capture_output=True, timeout=120)
    subprocess.run([*prefix, pg_ctl, "-D", str(data), "-l", str(base / "log"), "-w", "-t", "60",
                    "-o", f"-k {base} -p {port} -c listen_addresses='' -c fsync=off", "start"],
                   check=True, capture_output=True, timeout=120)
    try:
        yield f"postgresql://postgres@/postgres?host={base}&port={port}"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def test_postgres_backup_with_pg_dump_restores_with_pg_restore(tmp_path, postgres_url):
    from sqlalchemy import create_engine, text

    from server.config import normalise_db_url
    admin = create_engine(normalise_db_url(postgres_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in ("checkup_live", "checkup_restored"):
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    live = postgres_url.replace("/postgres?", "/checkup_live?")
    restored = postgres_url.replace("/postgres?", "/checkup_restored?")
    env = server_env(tmp_path, DATABASE_URL=live)
    server = ServerProc(tmp_path, free_port(), env)
    try:
        secret = _enroll(server.url, env)
        r = requests.post(server.url + "/api/v1/reports", data=_report_body(), timeout=10,
                          headers={"Authorization": f"Bearer {secret}",
                                   "Content-Type": "application/json"})
        assert r.status_code == 202, r.text
        dump = tmp_path / "checkup.dump"
        out = server_cli("backup", str(dump), env=env)
        assert out.returncode == 0, out.stderr
        assert "pg_dump" in out.stdout and dump.stat().st_size > 0
    finally:
        server.stop()
    from sqlalchemy.engine import make_url
    url = make_url(restored)
    q = url.query
    subprocess.run([_pg_bin("pg_restore"), "--no-owner", "--exit-on-error", "-h", q["host"],
                    "-p", str(q["port"]), "-U", "postgres", "-d", "checkup_restored", str(dump)],
                   check=True, capture_output=True, timeout=120)
    env2 = server_env(tmp_path, DATABASE_URL=restored)
    server = ServerProc(tmp_path, free_port(), env2)
    try:
        assert requests.get(server.url + "/readyz", timeout=10).json()["ready"] is True
        m = metric_values(requests.get(server.url + "/metrics", timeout=10).text)
        assert sum(v for (name, _), v in m.items() if name == "checkup_devices") == 1
    finally:
        server.stop()


# -- metrics of MDM syncs, logs ---------------------------------------------------------------

def test_mdm_syncs_show_in_the_metrics(tmp_path):
    from sqlalchemy import insert

    from server.db import make_engine, migrate
    try:
        from server.models import MdmSync
    except ImportError:
        pytest.skip("this server has no MDM sync table")
    url = f"sqlite:///{tmp_path}/sync.sqlite3"
    engine = make_engine(url)
    migrate(engine)
    now = dt.datetime(2026, 11, 26, 12, 0, 0)
    rows = [("jamf", "ok", now), ("jamf", "ok", now + dt.timedelta(hours=6)),
            ("jamf", "failed", now + dt.timedelta(hours=12)), ("intune", "running", None)]
    with engine.begin() as conn:
        for source, status, finished in rows:
            conn.execute(insert(MdmSync).values(source=source, status=status, started_at=now,
                                                finished_at=finished, records=3, skipped=0,
                                                message=""))
    engine.dispose()
    server = ServerProc(tmp_path, free_port(), server_env(tmp_path, DATABASE_URL=url))
    try:
        m = metric_values(requests.get(server.url + "/metrics", timeout=10).text)
    finally:
        server.stop()
    assert m[("checkup_sync_runs_total", (("result", "ok"), ("source", "jamf")))] == 2
    assert m[("checkup_sync_runs_total", (("result", "failed"), ("source", "jamf")))] == 1
    assert m[("checkup_sync_errors_total", (("source", "jamf"),))] == 1
    assert m[("checkup_sync_running", (("source", "intune"),))] == 1
    last = m[("checkup_sync_last_success_timestamp_seconds", (("source", "jamf"),))]
    assert last == (now + dt.timedelta(hours=6)).replace(tzinfo=dt.timezone.utc).timestamp()


def test_json_log_lines():
    from server.ops import JsonFormatter
    fmt = JsonFormatter()
    rec = logging.LogRecord("checkup.server", logging.WARNING, __file__, 1, "stored %d reports",
                            (3,), None)
    rec.device_id = "abc"
    line = json.loads(fmt.format(rec))
    assert line["level"] == "warning" and line["msg"] == "stored 3 reports"
    assert line["logger"] == "checkup.server" and line["device_id"] == "abc"
    assert line["ts"].endswith("Z")
    try:
        raise ValueError("boom")
    except ValueError:
        import sys
        rec = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = json.loads(fmt.format(rec))
    assert "ValueError: boom" in line["exc"] and "\n" not in fmt.format(rec)


def test_several_workers_on_postgres_add_up_their_metrics(tmp_path, postgres_url):
    """`run --workers 2` (the compose default) with PROMETHEUS_MULTIPROC_DIR: whichever worker
    answers /metrics counts the requests every worker served."""
    from sqlalchemy import create_engine, text

    from server.config import normalise_db_url
    admin = create_engine(normalise_db_url(postgres_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS checkup_workers"))
        conn.execute(text("CREATE DATABASE checkup_workers"))
    admin.dispose()
    prom = tmp_path / "prom"
    prom.mkdir()
    env = server_env(tmp_path, DATABASE_URL=postgres_url.replace("/postgres?", "/checkup_workers?"),
                     PROMETHEUS_MULTIPROC_DIR=str(prom), CHECKUP_SERVER_LOG_FORMAT="json")
    server = ServerProc(tmp_path, free_port(), env, ("--workers", "2"))
    try:
        def started_pids():
            return {json.loads(ln)["pid"] for ln in server.log().splitlines()
                    if ln.startswith("{") and "Application startup complete" in ln}

        deadline = time.monotonic() + 30
        while requests.get(server.url + "/readyz", timeout=10).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        # Both workers must be serving before the requests are spread over them.
        while len(started_pids()) < 2:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.2)
        for _ in range(40):
            # a new connection each time, so both workers get some
            r = requests.get(server.url + "/healthz", timeout=10, headers={"Connection": "close"})
            assert r.status_code == 200
        for _ in range(3):
            m = metric_values(requests.get(server.url + "/metrics", timeout=10,
                                           headers={"Connection": "close"}).text)
            served = sum(v for (name, labels), v in m.items()
                         if name == "checkup_http_request_duration_seconds_count"
                         and ("route", "/healthz") in labels)
            assert served == 40
            assert m[("checkup_server_info", (("version", __import__("server").__version__),))] == 1
        assert len(started_pids()) == 2, server.log()
    finally:
        server.stop()
    assert len(list(prom.glob("*.db"))) >= 2


def test_backup_into_a_missing_directory_says_so_in_one_line(tmp_path):
    env = server_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3")
    assert server_cli("migrate", env=env).returncode == 0
    out = server_cli("backup", "/nonexistent/dir/x", env=env)
    assert out.returncode == 3, out
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert "/nonexistent/dir" in out.stderr and "no directory" in out.stderr
    assert not os.path.exists("/nonexistent/dir/x.part")


def test_json_log_format_makes_every_start_up_line_json(tmp_path):
    """`run --log-format json`: the start-up lines (the URL, the no-TLS warning) are log
    records like uvicorn's, so the whole of stderr is JSON lines; the URL is the real one."""
    env = server_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3")
    port = free_port()
    server = ServerProc(tmp_path, port, env, ("--log-format", "json", "--host", "0.0.0.0"))
    try:
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).ok
    finally:
        server.stop()
    lines = [json.loads(ln) for ln in server.log().splitlines() if ln.strip()]  # all JSON
    msgs = [ln["msg"] for ln in lines]
    assert any(f"Checkup server on http://0.0.0.0:{port}/" in m for m in msgs), msgs
    assert any("without TLS" in m for m in msgs), msgs
