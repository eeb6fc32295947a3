"""Every server test runs against SQLite and against a real PostgreSQL cluster
that this file starts (and ends) itself."""
from __future__ import annotations

import os
import sys
import uuid

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
pytest.importorskip("fastapi", reason="server extra not installed: pip install '.[server]'")

import srvkit  # noqa: E402


@pytest.fixture(scope="session")
def pg_cluster():
    bindir = srvkit.pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL binaries not found (apt-get install postgresql): "
                    "PostgreSQL half of the server suite skipped")
    cluster = srvkit.PgCluster(bindir)
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return "sqlite:///" + str(tmp_path / "server.sqlite3")
    cluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database("t_" + uuid.uuid4().hex[:12])


@pytest.fixture
def live_server(database_url):
    srv = srvkit.LiveServer(database_url).start()
    yield srv
    srv.stop()


@pytest.fixture
def state_dir(tmp_path):
    d = tmp_path / "agent-state"
    d.mkdir()
    return str(d)
