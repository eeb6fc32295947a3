"""Ownership rules (server/owners.py) against the real database, SQLite and PostgreSQL:
every source over every source, clearing, emails, the audit row of every change, and
`checkup-server owner set|clear`."""
from __future__ import annotations

import getpass
import uuid

import pytest
import srvkit
from sqlalchemy import select

from server import owners
from server.db import make_engine, migrate, utcnow
from server.models import AuditEvent, Device

SOURCES = ("it", "claim", "mdm")
STRENGTH = {"it": 3, "claim": 2, "mdm": 1}   # written out again: the test's own table


@pytest.fixture
def engine(database_url):
    eng = make_engine(database_url)
    migrate(eng)
    yield eng
    eng.dispose()


def new_device(engine, owner=None, source=None, hostname="alice-mbp") -> str:
    dev_id = uuid.uuid4().hex
    with engine.begin() as conn:
        conn.execute(Device.__table__.insert().values(
            id=dev_id, secret_hash="0" * 64, enrolled_at=utcnow(), hostname=hostname,
            status="pass", failing="", owner=owner, owner_source=source,
            owner_set_by="test" if owner else "", revoked_by=""))
    return dev_id


def row(engine, dev_id):
    with engine.connect() as conn:
        return conn.execute(select(Device.owner, Device.owner_source, Device.owner_set_by,
                                   Device.owner_set_at).where(Device.id == dev_id)).one()


def audit_rows(engine, target=None):
    with engine.connect() as conn:
        q = select(AuditEvent).order_by(AuditEvent.id)
        if target:
            q = q.where(AuditEvent.target == target)
        return list(conn.execute(q))


@pytest.mark.parametrize("current", [None, *SOURCES])
def test_every_source_over_every_source(engine, current):
    """The whole table: for each holder (none, it, claim, mdm) and each new source, with the
    same and with another email."""
    for new in SOURCES:
        for same_email in (True, False):
            dev = new_device(engine, "alice@example.com" if current else None, current)
            email = "alice@example.com" if same_email or current is None else "bob@example.com"
            before = len(audit_rows(engine, dev))
            res = owners.set_owner(engine, dev, email.upper() if new == "it" else email, new,
                                   actor=f"tester-{new}")
            r = row(engine, dev)
            case = f"{current} -> {new} ({'same' if same_email else 'other'} email)"
            if current is None or STRENGTH[new] >= STRENGTH[current]:
                if current == new and email == "alice@example.com" and current is not None:
                    assert res.outcome == owners.UNCHANGED, case
                    assert not res.changed
                    assert (r.owner, r.owner_source) == ("alice@example.com", current), case
                    assert len(audit_rows(engine, dev)) == before, case
                else:
                    assert res.outcome == owners.SET, case
                    assert res.changed and res.owner == email and res.source == new, case
                    assert (r.owner, r.owner_source, r.owner_set_by) == (email, new, f"tester-{new}"), case
                    assert r.owner_set_at is not None
                    rows = audit_rows(engine, dev)
                    assert len(rows) == before + 1, case
                    a = rows[-1]
                    assert a.action == ("owner.claim" if new == "claim" else "owner.set"), case
                    assert a.actor == f"tester-{new}" and a.ok
                    assert email in a.detail and f"({new})" in a.detail
            else:
                assert res.outcome == owners.KEPT, case
                assert not res.changed
                assert (r.owner, r.owner_source) == ("alice@example.com", current), case
                assert res.owner == "alice@example.com" and res.source == current
                assert "weaker" in res.reason and "alice@example.com" in res.reason
                assert len(audit_rows(engine, dev)) == before, case


@pytest.mark.parametrize("current", [None, *SOURCES])
def test_clearing_follows_the_same_order(engine, current):
    for by in SOURCES:
        dev = new_device(engine, "alice@example.com" if current else None, current)
        res = owners.clear_owner(engine, dev, actor="tester", source=by)
        r = row(engine, dev)
        if current is None:
            assert res.outcome == owners.NO_OWNER and audit_rows(engine, dev) == []
        elif STRENGTH[by] >= STRENGTH[current]:
            assert res.outcome == owners.CLEARED and res.previous == "alice@example.com"
            assert (r.owner, r.owner_source) == (None, None)
            [a] = audit_rows(engine, dev)
            assert a.action == "owner.clear" and "alice@example.com" in a.detail
        else:
            assert res.outcome == owners.KEPT
            assert (r.owner, r.owner_source) == ("alice@example.com", current)
            assert audit_rows(engine, dev) == []


def test_emails_are_checked_and_lower_cased(engine):
    dev = new_device(engine)
    res = owners.set_owner(engine, dev, "  Alice.Smith@Example.COM ", "it", actor="t")
    assert res.owner == "alice.smith@example.com"
    assert row(engine, dev).owner == "alice.smith@example.com"
    for bad in ("", "alice", "alice@", "@example.com", "a b@example.com", "alice@example",
                "alice@@example.com", "al\x00ice@example.com", "a\n@example.com",
                "x" * 320 + "@example.com"):
        with pytest.raises(owners.OwnerError):
            owners.set_owner(engine, dev, bad, "it", actor="t")
    with pytest.raises(owners.OwnerError):
        owners.set_owner(engine, dev, "bob@example.com", "boss", actor="t")
    assert row(engine, dev).owner == "alice.smith@example.com"
    assert len(audit_rows(engine, dev)) == 1


def test_unknown_and_guessed_devices(engine):
    for guess in (uuid.uuid4().hex, "", "../etc", "a" * 40, "x\x00y", "1' OR '1'='1"):
        assert owners.set_owner(engine, guess, "a@example.com", "it", actor="t").outcome == owners.NO_DEVICE
        assert owners.clear_owner(engine, guess, actor="t").outcome == owners.NO_DEVICE
        assert owners.owner_of(engine, guess) is None
    assert audit_rows(engine) == []


def test_change_and_audit_row_commit_together(engine):
    """The audit row is written in the change's transaction: when the transaction fails,
    neither is there."""
    dev = new_device(engine)
    with pytest.raises(RuntimeError):
        with engine.begin() as conn:
            owners.set_owner(conn, dev, "alice@example.com", "claim", actor="t")
            raise RuntimeError("boom")
    assert row(engine, dev).owner is None and audit_rows(engine, dev) == []


def cli(database_url, *args):
    return srvkit.server_cli(database_url, *args)


def test_cli_owner_set_and_clear(engine, database_url):
    dev = new_device(engine, "bob@example.com", "claim")
    code, out, err = cli(database_url, "owner", "set", dev, "Alice@Example.com")
    assert code == 0, err
    assert "alice@example.com now owns it (set by IT)" in out
    r = row(engine, dev)
    assert (r.owner, r.owner_source, r.owner_set_by) == ("alice@example.com", "it",
                                                         "cli:" + getpass.getuser())
    a = audit_rows(engine, dev)[-1]
    assert (a.action, a.actor, a.role) == ("owner.set", "cli:" + getpass.getuser(), "admin")
    assert "was bob@example.com (claim)" in a.detail

    code, out, err = cli(database_url, "owner", "set", dev, "not-an-email")
    assert code == 3 and "'not-an-email' is not an email address" in err and out == ""
    code, out, err = cli(database_url, "owner", "set", "f" * 32, "alice@example.com")
    assert code == 3 and "no device" in err
    code, out, err = cli(database_url, "owner", "clear", dev)
    assert code == 0 and "no owner now; was alice@example.com" in out
    assert row(engine, dev).owner is None
    assert audit_rows(engine, dev)[-1].action == "owner.clear"
    code, out, err = cli(database_url, "owner", "clear", dev)
    assert code == 0 and "it had no owner" in out
    code, out, err = cli(database_url, "owner")
    assert code == 3


# -- owners from the MDMs, and owner_mismatch in IT's exports ------------------------

class StubConnector:
    """Stands in for a vendor connector: the records it gives (MdmRecord, as a connector
    maps them) go through the real sync and store."""

    def __init__(self, records):
        from server.mdm.base import SyncStats
        self._records = records
        self.stats = SyncStats()

    def records(self):
        for r in self._records:
            self.stats.records += 1
            yield r


def mac(source, sid, serial, email=None, **kw):
    from server.mdm.records import MdmRecord
    return MdmRecord(source=source, source_id=sid, serial=serial, platform="macos",
                     last_seen=None, user_email=email, **kw)


def serial_device(engine, serial, owner=None, source=None):
    dev = new_device(engine, owner, source, hostname=f"host-{serial.lower()}")
    with engine.begin() as conn:
        conn.execute(Device.__table__.update().where(Device.id == dev).values(
            serial=serial, platform="darwin"))
    return dev


def test_mdm_sync_sets_owners_and_keeps_stronger_ones(engine, monkeypatch):
    from server.config import load_config
    from server.mdm.store import sync_all, sync_source
    cfg = load_config(None, environ={})
    d1 = serial_device(engine, "S1")
    d2 = serial_device(engine, "S2", "carol@example.com", "it")
    d3 = serial_device(engine, "S3", "dave@example.com", "claim")
    d4 = serial_device(engine, "S4")
    d5 = serial_device(engine, "S5", "old@example.com", "mdm")
    jamf = [mac("jamf", "1", "S1", "Alice@Example.com"), mac("jamf", "2", "S2", "bob@example.com"),
            mac("jamf", "3", "S3", "bob@example.com"),
            mac("jamf", "4", "S4", user="alice", user_unmapped="Jamf user 'alice' is not an email"),
            mac("jamf", "5", "S5", "new@example.com")]
    res = sync_source(engine, "jamf", {}, connector=StubConnector(jamf))
    assert res.status == "ok", res.message
    assert row(engine, d1)[:3] == ("alice@example.com", "mdm", "mdm:jamf")
    assert row(engine, d2)[:2] == ("carol@example.com", "it")
    assert row(engine, d3)[:2] == ("dave@example.com", "claim")
    assert row(engine, d4)[:2] == (None, None)
    assert row(engine, d5)[:2] == ("new@example.com", "mdm")
    rows = audit_rows(engine)
    assert sorted((a.target, a.action, a.actor) for a in rows) == sorted(
        [(d1, "owner.set", "mdm:jamf"), (d5, "owner.set", "mdm:jamf")])
    # a second sync with nothing new changes nothing
    sync_source(engine, "jamf", {}, connector=StubConnector(jamf))
    assert len(audit_rows(engine)) == 2

    # Intune names someone else for S1: a finding, and the MDM owner is removed, not guessed
    from server.mdm import store
    real = store.sync_source

    def fake(engine_, source, config, **kw):
        recs = jamf if source == "jamf" else [mac("intune", "i1", "S1", "eve@example.com")]
        return real(engine_, source, config, connector=StubConnector(recs), **kw)
    monkeypatch.setattr(store, "sync_source", fake)
    results = sync_all(engine, cfg, sources=["jamf", "intune"])
    assert [r.status for r in results] == ["ok", "ok"]
    assert row(engine, d1)[:2] == (None, None)
    assert audit_rows(engine)[-1].action == "owner.clear"
    assert audit_rows(engine)[-1].actor == "mdm:intune"

    import json

    from server.mdm.webviews import reconcile_export
    found = [f for f in json.loads(reconcile_export(engine, cfg, "json")[0])["findings"]
             if f["kind"] == "owner_mismatch"]
    by_dev = {f["device_id"]: f for f in found}
    assert set(by_dev) == {d1, d2, d3}
    assert by_dev[d1]["sources"] == ["intune", "jamf"]
    assert by_dev[d2]["agent"] == "carol@example.com" and by_dev[d2]["mdm"] == "bob@example.com"
    assert "IT set carol@example.com as its owner" in by_dev[d2]["detail"]
    assert "dave@example.com claimed it" in by_dev[d3]["detail"]
    csv_text = reconcile_export(engine, cfg, "csv")[0]
    lines = [ln for ln in csv_text.splitlines() if ln.startswith("owner_mismatch,")]
    assert len(lines) == 3 and any("host-s2" in ln and "carol@example.com" in ln for ln in lines)
    # and on the device's own page data
    from server.mdm.store import device_findings
    # (it never reported, so it is also silent)
    assert [f["kind"] for f in device_findings(engine, cfg, d2)] == ["owner_mismatch", "silent"]
