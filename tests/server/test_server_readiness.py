"""/readyz says whether the server can store a report, tested with the failures themselves
against the real server: SQLite on a real filesystem that fills up or turns read-only (a
tmpfs mounted here; needs root), PostgreSQL with a revoked privilege and with
default_transaction_read_only. Each time a real report is sent too, to show /readyz tells
the truth both ways."""
from __future__ import annotations

import errno
import json
import os
import subprocess
import time
import uuid

import pytest
import requests

import srvkit


def _ready(srv, want: bool, within: float = 12.0) -> dict:
    """Poll /readyz until it says ``want`` (a "ready" answer is reused for 5 s)."""
    end = time.monotonic() + within
    while True:
        r = requests.get(srv.url + "/readyz", timeout=10)
        assert r.status_code in (200, 503), r.text
        assert r.headers["Cache-Control"] == "no-store"
        body = r.json()
        assert body["ready"] is (r.status_code == 200)
        if body["ready"] is want or time.monotonic() > end:
            assert body["ready"] is want, body
            return body
        time.sleep(0.25)


def _enroll(srv) -> tuple[str, dict]:
    rep = srvkit.report_for(srvkit.fixture_files()[0])
    r = requests.post(srv.url + "/api/v1/enroll", json={"enroll_token": srv.token(),
                                                        "device": rep["device"]}, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()["device_secret"], rep


def _send(srv, secret: str, rep: dict) -> int:
    return requests.post(srv.url + "/api/v1/reports", data=json.dumps(srvkit.with_id(rep)),
                         headers={"Authorization": f"Bearer {secret}",
                                  "Content-Type": "application/json"}, timeout=30).status_code


# -- SQLite on a real, small filesystem ------------------------------------------

@pytest.fixture
def small_fs(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mnt = tmp_path / "fs"
    mnt.mkdir()
    r = subprocess.run(["/bin/mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mnt)],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    yield mnt
    subprocess.run(["/bin/umount", "-l", str(mnt)], capture_output=True, timeout=30)


def _fill(folder) -> str:
    path = os.path.join(folder, "filler")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return path


def test_sqlite_disk_full_makes_readyz_503_until_there_is_room(small_fs):
    srv = srvkit.LiveServer("sqlite:///" + str(small_fs / "checkup.sqlite3")).start()
    try:
        secret, rep = _enroll(srv)
        body = _ready(srv, True)
        assert body["writable"] is True
        assert _send(srv, secret, rep) == 202
        filler = _fill(small_fs)
        body = _ready(srv, False)
        assert "full" in body["error"] and body["writable"] is False
        # the truth: a report does not get stored now either (the agent keeps it queued)
        codes = {_send(srv, secret, rep) for _ in range(20)}
        assert codes - {202} and all(c >= 500 for c in codes - {202}), codes
        os.unlink(filler)
        _ready(srv, True)
        assert _send(srv, secret, rep) == 202
    finally:
        srv.stop()


def test_sqlite_on_a_read_only_filesystem_is_not_ready(small_fs, tmp_path):
    """The database file can be read but not written (a read-only mount): it answers every
    SELECT, and used to be "ready"."""
    db = small_fs / "checkup.sqlite3"
    srv = srvkit.LiveServer("sqlite:///" + str(db)).start()
    secret, rep = _enroll(srv)
    srv.stop()
    import sqlite3
    # a copy in rollback-journal mode (WAL needs a writable -shm file even to read); a copy,
    # because other connections of this process may still have the original open
    src, dst = sqlite3.connect(db), sqlite3.connect(small_fs / "copy.sqlite3")
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        src.close()
        dst.close()
    ro = tmp_path / "ro"
    ro.mkdir()
    subprocess.run(["/bin/mount", "--bind", str(small_fs), str(ro)], check=True, timeout=30)
    try:
        subprocess.run(["/bin/mount", "-o", "remount,ro,bind", str(ro)], check=True, timeout=30)
        srv = srvkit.LiveServer("sqlite:///" + str(ro / "copy.sqlite3")).start()
        try:
            assert requests.get(srv.url + "/healthz", timeout=10).status_code == 200
            body = _ready(srv, False)
            assert "refused a write" in body["error"], body
            assert body["database"] == "ok"
            assert _send(srv, secret, rep) >= 500       # really cannot store
        finally:
            srv.stop()
    finally:
        subprocess.run(["/bin/umount", "-l", str(ro)], capture_output=True, timeout=30)


# -- PostgreSQL ---------------------------------------------------------------------

def _psql(cluster, sql: str, db: str = "postgres") -> None:
    import psycopg
    with psycopg.connect(f"host=127.0.0.1 port={cluster.port} user=postgres dbname={db}",
                         autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture
def pg_app(pg_cluster):
    """A database migrated by its owner, and the server running as a role with only the
    privileges it needs (as a careful DBA sets it up)."""
    name = "t_" + uuid.uuid4().hex[:12]
    role = "app_" + uuid.uuid4().hex[:8]
    owner_url = pg_cluster.create_database(name)
    from server.db import make_engine, migrate
    engine = make_engine(owner_url)
    migrate(engine)
    engine.dispose()
    _psql(pg_cluster, f"CREATE ROLE {role} LOGIN")
    _psql(pg_cluster, f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}; "
                      f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}", db=name)
    srv = srvkit.LiveServer(owner_url.replace("postgres@", f"{role}@")).start()
    yield srv, name, role
    srv.stop()


def test_postgresql_revoked_insert_makes_readyz_503(pg_app, pg_cluster):
    srv, name, role = pg_app
    secret, rep = _enroll(srv)
    assert _ready(srv, True)["writable"] is True
    assert _send(srv, secret, rep) == 202
    _psql(pg_cluster, f"REVOKE INSERT ON reports FROM {role}", db=name)
    body = _ready(srv, False)
    assert body["error"] == "the database role may not write to reports", body
    assert _send(srv, secret, rep) >= 500
    _psql(pg_cluster, f"GRANT INSERT ON reports TO {role}", db=name)
    _ready(srv, True)
    assert _send(srv, secret, rep) == 202


def test_postgresql_read_only_transactions_make_readyz_503(pg_app, pg_cluster):
    srv, name, role = pg_app
    secret, rep = _enroll(srv)
    _ready(srv, True)
    # new sessions are read-only (as on a standby, or a DBA's freeze); end the old ones
    _psql(pg_cluster, f"ALTER DATABASE {name} SET default_transaction_read_only = on")
    _psql(pg_cluster, f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
    try:
        body = _ready(srv, False)
        assert "refused a write" in body["error"], body
        assert _send(srv, secret, rep) >= 500
    finally:
        _psql(pg_cluster, f"ALTER DATABASE {name} SET default_transaction_read_only = off")
        _psql(pg_cluster, f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
    _ready(srv, True)
    assert _send(srv, secret, rep) == 202


def test_readyz_under_load_runs_few_probes(live_server, monkeypatch):
    """Hundreds of /readyz calls while ready cost one probe per 5 s."""
    import server.ops as ops
    calls = []
    real = ops.readiness

    def counting(engine):
        calls.append(time.monotonic())
        return real(engine)
    monkeypatch.setattr(ops, "readiness", counting)
    s = requests.Session()
    t0 = time.monotonic()
    for _ in range(300):
        assert s.get(live_server.url + "/readyz", timeout=10).status_code == 200
    took = time.monotonic() - t0
    assert len(calls) <= 1 + int(took // ops.READY_CACHE_OK) + 1, (len(calls), took)
