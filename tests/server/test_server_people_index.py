"""Migration 0008: mdm_records.user_email, indexed, filled from the JSON of the rows
stored before it and written by every sync; a person's page finds their MDM records by
it (SQLite and PostgreSQL)."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import inspect, text

from server.config import load_config
from server.db import make_engine, migrate
from server.mdm.records import MdmRecord
from server.people import person_devices


@pytest.fixture
def engine(database_url):
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


def raw_row(conn, sid, data: str):
    conn.execute(text(
        "INSERT INTO mdm_records (source, source_id, serial, hardware_uuid, hostname, platform, "
        "last_seen, data, sync_id, updated_at) VALUES ('jamf', :sid, :serial, NULL, NULL, 'ios', "
        "NULL, :data, 1, '2026-11-30 09:00:00')"), {"sid": sid, "serial": f"S-{sid}", "data": data})


def phone(sid, email, **kw):
    return MdmRecord(source="jamf", source_id=sid, serial=f"S-{sid}", platform="ios",
                     device_kind="phone", os_version="26.1", user_email=email, name=f"Phone {sid}", **kw)


def dumped(rec: MdmRecord) -> str:
    return json.dumps(rec.to_dict(), separators=(",", ":"))


def column(engine) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT source_id, user_email FROM mdm_records")).all())


def test_migration_fills_user_email_from_the_json(engine):
    migrate(engine, "0007")
    with engine.begin() as conn:
        raw_row(conn, "a", dumped(phone("a", "alice@example.com")))
        raw_row(conn, "n", dumped(phone("n", None, user_unmapped="Jamf user 'bob' is not an email")))
        raw_row(conn, "x", '{"user_email":"bob@example.com", "broken": ')       # unreadable
        raw_row(conn, "u", dumped(phone("u", " Dave@Example.COM ")))           # an older writer
        for i in range(2100):                                                   # past one page
            raw_row(conn, f"c{i:04d}", dumped(phone(f"c{i:04d}", f"carol{i % 3}@example.com")))
    migrate(engine)
    got = column(engine)
    assert (got["a"], got["n"], got["x"], got["u"]) == ("alice@example.com", None, None, "dave@example.com")
    assert all(got[f"c{i:04d}"] == f"carol{i % 3}@example.com" for i in range(2100))
    indexes = {ix["name"]: ix["column_names"] for ix in inspect(engine).get_indexes("mdm_records")}
    assert indexes["ix_mdm_records_user_email"] == ["user_email"]

    cfg = load_config(None, environ={})
    data = person_devices(engine, cfg, "Alice@Example.com")
    assert [(d["source"], d["kind"]) for d in data["devices"]] == [("jamf", "phone")]
    assert person_devices(engine, cfg, "bob@example.com")["devices"] == []
    assert len(person_devices(engine, cfg, "dave@example.com")["devices"]) == 1
    assert len(person_devices(engine, cfg, "carol1@example.com")["devices"]) == 200   # MAX_DEVICES

    migrate_down(engine, "0007")
    assert "user_email" not in {c["name"] for c in inspect(engine).get_columns("mdm_records")}
    migrate(engine)
    assert column(engine)["a"] == "alice@example.com"


def migrate_down(engine, revision):
    from alembic import command
    from alembic.config import Config

    from server.db import MIGRATIONS
    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_sync_writes_user_email_and_the_page_follows_it(engine):
    from test_server_owners import StubConnector

    from server.mdm.store import sync_source
    migrate(engine)
    cfg = load_config(None, environ={})
    res = sync_source(engine, "jamf", {}, connector=StubConnector(
        [phone("p1", "alice@example.com"), phone("p2", None), phone("p3", "bob@example.com")]))
    assert res.status == "ok"
    assert column(engine) == {"p1": "alice@example.com", "p2": None, "p3": "bob@example.com"}
    assert [d["name"] for d in person_devices(engine, cfg, "alice@example.com")["devices"]] == ["Phone p1"]
    # Jamf now says the phone is Bob's: Alice's page drops it, Bob's has both
    res = sync_source(engine, "jamf", {}, connector=StubConnector(
        [phone("p1", "bob@example.com"), phone("p2", None), phone("p3", "bob@example.com")]))
    assert res.status == "ok"
    assert column(engine)["p1"] == "bob@example.com"
    assert person_devices(engine, cfg, "alice@example.com")["devices"] == []
    assert sorted(d["name"] for d in person_devices(engine, cfg, "bob@example.com")["devices"]) == [
        "Phone p1", "Phone p3"]
    if engine.dialect.name == "sqlite":          # the look-up uses the index, not a scan
        with engine.connect() as conn:
            plan = " ".join(str(r[-1]) for r in conn.execute(text(
                "EXPLAIN QUERY PLAN SELECT source, source_id, data FROM mdm_records "
                "WHERE user_email = 'bob@example.com' ORDER BY source, source_id LIMIT 200")))
        assert "ix_mdm_records_user_email" in plan, plan
