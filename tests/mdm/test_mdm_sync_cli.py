"""checkup-server sync / reconcile against a loopback Jamf stub and a real
(SQLite) server database; an interrupted sync keeps the previous inventory."""
import datetime as dt
import json

import pytest

from mdmstubs import JamfStub
from server.cli import main
from server.config import load_config
from server.db import make_engine, migrate
from server.mdm.store import load_records, mdm_config, sync_source, sync_status
from server.models import Device, Report
from test_mdm_jamf import computer

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def iso(when):
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def setup(tmp_path, monkeypatch):
    comps = [computer(n) for n in range(1, 6)]
    for c in comps:
        c["general"]["reportDate"] = iso(NOW - dt.timedelta(hours=3))
    comps[4]["general"]["reportDate"] = iso(NOW - dt.timedelta(days=1))
    stub = JamfStub(comps, [])
    cfg_path = tmp_path / "server.toml"
    cfg_path.write_text(f"""
[server]
database_url = "sqlite:///{tmp_path / 'db.sqlite3'}"
silent_after_days = 7

[mdm.jamf]
url = "{stub.url}"
client_id = "cid"
client_secret_env = "JAMF_TEST_SECRET"
page_size = 2
""")
    monkeypatch.setenv("JAMF_TEST_SECRET", "s3cret")
    cfg = load_config(str(cfg_path))
    engine = make_engine(cfg.database_url)
    migrate(engine)
    # two reporting laptops: #1 (in Jamf, FileVault off now) and one Jamf has never heard of
    with engine.begin() as conn:
        for dev_id, serial, enc in (("dev1", "C02XK00001", "off"), ("dev9", "C02ZZ99999", "on")):
            body = {"schema": 1, "checked_at": iso(NOW - dt.timedelta(hours=1)), "status": "fail",
                    "device": {"platform": "darwin", "hostname": f"host-{dev_id}", "serial": serial},
                    "checks": [{"id": "disk_encryption", "status": "fail" if enc == "off" else "pass",
                                "observed": {"state": enc}}]}
            conn.execute(Device.__table__.insert().values(
                id=dev_id, secret_hash="x", enrolled_at=NOW.replace(tzinfo=None), platform="darwin",
                hostname=f"host-{dev_id}", serial=serial, status="fail", failing="",
                last_seen_at=NOW.replace(tzinfo=None), last_report_id=f"r-{dev_id}"))
            conn.execute(Report.__table__.insert().values(
                report_id=f"r-{dev_id}", device_id=dev_id,
                checked_at=(NOW - dt.timedelta(hours=1)).replace(tzinfo=None),
                received_at=(NOW - dt.timedelta(hours=1)).replace(tzinfo=None),
                status="fail", body=json.dumps(body)))
    yield stub, cfg_path, cfg, engine
    stub.close()


def test_sync_all_then_reconcile_json_and_csv(setup, capsys):
    stub, cfg_path, cfg, engine = setup
    assert main(["--config", str(cfg_path), "sync", "all"]) == 0
    out, err = capsys.readouterr()
    assert "jamf: synced: 5 records in 4 pages" in out
    assert "intune: skipped: not configured" in err and "ivanti: skipped" in err
    assert main(["--config", str(cfg_path), "sync", "intune"]) == 3
    capsys.readouterr()
    assert main(["--config", str(cfg_path), "reconcile", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["generated_at"].endswith("Z")
    got = sorted((f["kind"], f["serial"], f["fact"]) for f in rep["findings"])
    assert got == [("disagreement", "C02XK00001", "disk_encryption"),
                   ("silent", "C02XK00002", None), ("silent", "C02XK00003", None),
                   ("silent", "C02XK00004", None), ("silent", "C02XK00005", None),
                   ("unmanaged", "C02ZZ99999", None)]
    dis = next(f for f in rep["findings"] if f["kind"] == "disagreement")
    assert dis["sources"] == ["agent", "jamf"] and dis["newer"] == "agent"
    assert dis["detail"] == "Jamf says FileVault is on; the laptop reported it off 2 hours later."
    assert main(["--config", str(cfg_path), "reconcile", "--csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("kind,serial,hostname,sources,fact") and len(lines) == 7
    assert main(["--config", str(cfg_path), "reconcile"]) == 0
    assert "unmanaged  C02ZZ99999" in capsys.readouterr().out


def test_interrupted_sync_keeps_inventory_and_rerun_completes(setup):
    stub, cfg_path, cfg, engine = setup
    config = mdm_config(cfg, "jamf")
    first = sync_source(engine, "jamf", config, sleep=lambda s: None)
    assert first.status == "ok" and len(load_records(engine)) == 5
    # the MDM drops #5 and changes #1; the next sync dies on its second page
    stub.computers = stub.computers[:4]
    stub.computers[0]["general"]["name"] = "renamed-mac"
    stub.faults = {n: (500, {}, {"httpStatus": 500}) for n in range(stub.data_requests + 2, 200)}
    second = sync_source(engine, "jamf", config, sleep=lambda s: None)
    assert second.status == "failed" and "previous inventory is kept" in second.message
    recs = {r.source_id: r for r in load_records(engine)}
    assert len(recs) == 5 and recs["1"].hostname == "renamed-mac"   # page 1 refreshed, rest kept
    stub.faults = {}
    third = sync_source(engine, "jamf", config, sleep=lambda s: None)
    assert third.status == "ok" and "1 records no longer in jamf removed" in third.message
    assert sorted(load_records(engine), key=lambda r: r.source_id)[0].hostname == "renamed-mac"
    assert len(load_records(engine)) == 4
    status = {s["source"]: s for s in sync_status(engine)}
    assert status["jamf"]["last"].status == "ok" and status["jamf"]["records"] == 4
