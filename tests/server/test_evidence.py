"""The evidence report (server/evidence.py) on SQLite and PostgreSQL: devices stored by real
ingest (write_batch), read back through `checkup-server evidence` as JSON, CSV and PDF (the
PDF rendered with poppler's pdftoppm and its text read with pdftotext)."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
import subprocess

import pytest
from sqlalchemy import select, text

from server.db import make_engine, migrate
from server.ingest import Item, write_batch
from server.models import Device, PolicyVersion
from server.security import sha256_hex
from tests.server.srvkit import server_cli

D1, D2 = dt.date(2026, 11, 18), dt.date(2026, 11, 19)
T1 = dt.datetime(2026, 11, 18, 9, 0)
NASTY = "=HYPERLINK(\"http://x\")"


def _item(dev, rid, at, checks):
    status = "fail" if "fail" in checks.values() else "pass"
    return Item(device_id=dev, secret_hash=sha256_hex("s-" + dev), report_id=rid, checked_at=at,
                status=status, device={"platform": "macos", "hostname": dev + "-mbp",
                                       "os_name": "macOS", "os_version": "14.5"},
                agent_version="1.0", checks=checks, body=json.dumps({"r": rid}))


def _seed(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    enrolled = dt.datetime(2026, 11, 1)
    with engine.begin() as conn:
        conn.execute(Device.__table__.insert(), [dict(
            id=d, secret_hash=sha256_hex("s-" + d), enrolled_at=enrolled, status="unknown",
            failing="", platform="macos", revoked_by="", hostname=h, owner=o,
            revoked_at=r) for d, h, o, r in (
                ("alice", "alice-mbp", "alice@example.com", None),
                ("bob", "bob-mbp", None, None),
                ("carol", NASTY, NASTY, None),                       # never reports
                ("dave", "dave-mbp", None, dt.datetime(2026, 11, 10)))])   # revoked before
        conn.execute(PolicyVersion.__table__.insert(), [
            dict(text="[organization]\nname = \"Acme Nov 18\"\n", etag="e1",
                 saved_at=dt.datetime(2026, 11, 18, 8, 0), saved_by="it@example.com", note=""),
            dict(text="", etag="e2", saved_at=dt.datetime(2026, 11, 19, 23, 0),
                 saved_by="it@example.com", note="")])
    write_batch(engine, [_item("alice", "a1", T1, {"disk_encryption": "pass", "screen_lock": "pass",
                                                   "firewall": "fail"})])
    write_batch(engine, [_item("bob", "b1", T1, {"disk_encryption": "pass", "firewall": "pass"})])
    with engine.begin() as conn:   # bob's day as stored before migration 0009
        conn.execute(text("UPDATE device_days SET checks = NULL WHERE device_id = 'bob'"))
    write_batch(engine, [_item("alice", "a2", T1 + dt.timedelta(days=1),
                               {"disk_encryption": "pass", "screen_lock": "pass", "firewall": "pass"})])
    engine.dispose()


def test_evidence_json_counts_only_what_was_reported(database_url):
    _seed(database_url)
    code, out, err = server_cli(database_url, "evidence", "--at", "2026-11-18", "--to", "2026-11-19",
                                "--format", "json")
    assert code == 0, err
    rep = json.loads(out)
    d1, d2 = rep["days"]
    assert d1["date"] == "2026-11-18" and d1["devices_counted"] == 3   # dave was revoked
    assert d1["devices_reported"] == 2 and d1["devices_without_detail"] == 1   # bob
    dev = {d["device_id"]: d for d in d1["devices"]}
    assert dev["carol"]["status"] == "no report" and dev["carol"]["last_report"] is None
    assert dev["bob"]["status"] == "pass" and dev["bob"]["checks"] is None   # not recorded
    assert dev["alice"]["checks"]["firewall"] == "fail" and dev["alice"]["owner"] == "alice@example.com"
    checks = {c["check_id"]: c for c in d1["checks"]}
    # bob passed disk_encryption, but that day's detail was not recorded: not counted as passing
    assert checks["disk_encryption"]["passing"] == 1 and checks["disk_encryption"]["devices"] == 3
    assert checks["disk_encryption"]["statuses"] == {"pass": 1, "not recorded": 1, "no report": 1}
    assert checks["firewall"]["passing"] == 0
    ctl = {(c["framework"], c["control"]): c for c in d1["controls"]}
    assert ctl[("SOC 2", "CC6.1")]["meeting"] == 1        # alice: disk + screen lock pass
    assert ctl[("SOC 2", "CC6.7")]["meeting"] == 0        # alice's firewall failed
    assert ctl[("CIS Controls v8", "10.1")]["meeting"] == 0   # nobody reported antivirus
    assert d1["policy"]["source"] == "organisation" and "Acme Nov 18" in d1["policy"]["text"]
    dev2 = {d["device_id"]: d for d in d2["devices"]}
    assert dev2["bob"]["status"] == "no report" and dev2["bob"]["last_report"] == "2026-11-18"
    assert dev2["alice"]["status"] == "pass"
    assert d2["policy"]["source"] == "default" and "[organization]" in d2["policy"]["text"]


def test_evidence_csv_is_formula_safe(database_url):
    _seed(database_url)
    code, out, err = server_cli(database_url, "evidence", "--at", "2026-11-18", "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    carol = next(r for r in rows if r["device_id"] == "carol")
    assert carol["hostname"] == "'" + NASTY and carol["owner"] == "'" + NASTY
    assert carol["status"] == "no report" and carol["firewall"] == "no report"
    bob = next(r for r in rows if r["device_id"] == "bob")
    assert bob["firewall"] == "not recorded"


@pytest.mark.parametrize("args,says", [
    (("--at", "2026-11-01"), "No report is kept from before 2026-11-18"),
    (("--at", "2099-01-01"), "is in the future"),
    (("--at", "30/09/2026"), "is not a date"),
    (("--at", "2026-11-19", "--to", "2026-11-18"), "is before"),
    (("--at", "2026-01-01", "--to", "2026-12-01"), "at most 92"),
    (("--at", "2026-11-18", "--format", "pdf"), "needs --output"),
])
def test_evidence_bad_input_is_a_clear_message(database_url, args, says):
    _seed(database_url)
    code, out, err = server_cli(database_url, "evidence", *args)
    assert code != 0 and says in err and "Traceback" not in err and out == ""


def test_evidence_before_any_report(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    engine.dispose()
    code, _, err = server_cli(database_url, "evidence", "--at", "2026-11-18")
    assert code != 0 and "No device has reported yet" in err


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="poppler-utils (.ci/apt-server.txt)")
def test_evidence_pdf_renders_dated_with_no_report(database_url, tmp_path):
    _seed(database_url)
    pdf = tmp_path / "evidence.pdf"
    code, _, err = server_cli(database_url, "evidence", "--at", "2026-11-18", "--format", "pdf",
                              "-o", str(pdf))
    assert code == 0, err
    assert pdf.read_bytes().startswith(b"%PDF-")
    txt = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert "Device evidence for 2026-11-18 (UTC)" in txt
    assert "3 devices counted" in txt and "2 reported that day" in txt and "1 sent no report" in txt
    assert "no report" in txt and "not recorded" in txt and "Acme Nov 18" in txt
    assert "CC6.1" in txt and "A.8.24" in txt and "10.1" in txt
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf),
                    str(tmp_path / "page")], check=True, timeout=60)
    from PIL import Image
    png = next(tmp_path.glob("page*.png"))
    img = Image.open(png).convert("L")
    dark = sum(img.histogram()[:128])
    assert dark > img.width * img.height * 0.01   # text on the page, not a blank sheet


# -- the IT page and its downloads, in Chromium with axe-core ---------------------------

def test_the_evidence_page_and_downloads(live_server, database_url, tmp_path):
    import axekit
    import requests
    why = axekit.skip_reason()
    if why:
        pytest.skip(why)
    srv = live_server
    _seed(database_url)
    user, password = srv.admin()
    with axekit.axe_browser() as b:
        b.goto(srv.url + "/evidence?at=2026-11-18&to=2026-11-19")
        assert "/login" in b.url
        b.fill("#username", user)
        b.fill("#password", password)
        b.submit_by_click("#login")
        assert b.url.endswith("/evidence?at=2026-11-18&to=2026-11-19")
        txt = b.text()
        assert "3 devices counted; 2 reported that day; 1 sent no report." in txt
        assert "per-check detail not recorded" in txt and "Acme Nov 18" in txt
        rows = b.js("[...document.querySelectorAll('#devices tbody tr')].map(r => r.innerText)")
        assert any(NASTY in r and "no report" in r for r in rows)   # shown as text, not run
        assert b.js("document.querySelectorAll('#devices a[href^=\"http\"]').length") == 0
        assert axekit.serious(b) == []
        b.width(390)
        # at phone width the shared header (nav colours: base.html/app.css) is judged by the
        # IT pages' own tests; this page's content must be clean
        assert [v for v in axekit.serious(b) if not _in_header(b, v)] == []
        b.screenshot(str(tmp_path / "evidence.png"))
        b.goto(srv.url + "/evidence?at=2020-01-01")
        assert "No report is kept from before 2026-11-18" in b.js(
            "document.getElementById('error').innerText")
        assert [v for v in axekit.serious(b) if not _in_header(b, v)] == []
    s = requests.Session()
    page = s.get(srv.url + "/login", timeout=30)
    from tests.server.test_server_audit import csrf_of
    s.post(srv.url + "/login", data={"username": user, "password": password,
                                    "csrf": csrf_of(page.text)}, timeout=30)
    r = s.get(srv.url + "/evidence.csv?at=2026-11-18&to=2026-11-19", timeout=30)
    assert r.status_code == 200 and "filename=checkup-evidence-2026-11-18-to-2026-11-19.csv" in \
        r.headers["content-disposition"]
    assert len(list(csv.DictReader(io.StringIO(r.text)))) == 6     # 3 devices x 2 days
    r = s.get(srv.url + "/evidence.json?at=2026-11-18", timeout=30)
    assert r.status_code == 200 and r.json()["days"][0]["devices_reported"] == 2
    r = s.get(srv.url + "/evidence.pdf?at=2026-11-18", timeout=30)
    assert r.status_code == 200 and r.content.startswith(b"%PDF-")
    for bad in ("/evidence.csv", "/evidence.csv?at=nope", "/evidence.pdf?at=2020-01-01",
                "/evidence.json?at=2026-11-18&to=2027-11-18"):
        r = s.get(srv.url + bad, timeout=30)
        assert r.status_code == 400 and r.text.strip(), bad
    assert s.get(srv.url + "/evidence.xml?at=2026-11-18", timeout=30).status_code == 404


def _in_header(b, violation) -> bool:
    sel = json.dumps([t[0] for t in violation["targets"] if t])
    return bool(b.js(f"{sel}.every(s => {{ const e = document.querySelector(s); "
                     "return e && e.closest('header') !== null; })"))


def test_migration_0009_seeds_the_policy_in_force_and_downgrades(database_url):
    """0008 -> 0009 makes the org policy in force the first policy_versions row (its own save
    time and author) and adds device_days.checks; 0009 -> 0008 removes both."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    from server.db import MIGRATIONS
    engine = make_engine(database_url)
    migrate(engine, "0008")
    saved = dt.datetime(2026, 10, 1, 12, 0)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO org_policy (id, text, etag, updated_at, updated_by) "
                          "VALUES (1, '[organization]\nname = \"Old\"\n', 'e0', :t, 'it-admin')"),
                     {"t": saved})
    migrate(engine, "0009")
    with engine.connect() as conn:
        pv = PolicyVersion.__table__
        rows = conn.execute(select(pv.c.text, pv.c.etag, pv.c.saved_at, pv.c.saved_by,
                                   pv.c.note)).all()
        assert [tuple(r) for r in rows] == [('[organization]\nname = "Old"\n', "e0", saved, "it-admin",
                                             "in force at upgrade")]
        from server.evidence_store import policy_on
        assert policy_on(conn, dt.date(2026, 9, 30)) is None          # before: the default
        assert policy_on(conn, dt.date(2026, 10, 1)).saved_by == "it-admin"
    assert "checks" in {c["name"] for c in inspect(engine).get_columns("device_days")}
    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0008")
    insp = inspect(engine)
    assert "policy_versions" not in insp.get_table_names()
    assert "checks" not in {c["name"] for c in insp.get_columns("device_days")}
    engine.dispose()


def test_evidence_pdf_prints_names_outside_latin1_as_written(database_url, tmp_path, monkeypatch, caplog):
    """DejaVu where installed (Debian fonts-dejavu-core, the server image): a Cyrillic or Greek
    hostname prints as written; without the fonts, '?' and a warning, never a crash."""
    from server import evidence_pdf
    _seed(database_url)
    code, out, err = server_cli(database_url, "evidence", "--at", "2026-11-18", "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    report["days"][0]["devices"][0]["hostname"] = "Ноутбук-Σοφία"

    def text_of(pdf_bytes: bytes) -> str:
        path = tmp_path / "u.pdf"
        path.write_bytes(pdf_bytes)
        return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                              check=True, timeout=60).stdout

    if evidence_pdf.font_files() is None:
        pytest.skip("fonts-dejavu-core not installed")
    assert "Ноутбук-Σοφία" in text_of(evidence_pdf.render(report))
    monkeypatch.setattr(evidence_pdf, "FONT_DIRS", (str(tmp_path / "no-fonts"),))
    with caplog.at_level("WARNING", logger="checkup.server"):
        txt = text_of(evidence_pdf.render(report))
    assert "Ноутбук" not in txt and "?????" in txt
    assert any("DejaVu fonts not found" in r.getMessage() for r in caplog.records)
