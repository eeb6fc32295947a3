"""IT's pages for people (issue 16, items 12, 13 and 15): the device list's CSV and JSON
exports (the page's filters, every page, formula-safe), check titles instead of ids, "By OS"
with versions, sortable columns, observations in words, and axe-core on every IT page at
1280 and 390 px. A real server under uvicorn (SQLite and PostgreSQL), real agent reports sent
by the agent's own reporting code, MDM records through the real sync, real headless Chromium."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import uuid

import pytest
import requests
from sqlalchemy import func, insert, select, update

import srvkit
from agent.reporting import report_now
from server.access import SESSION_COOKIE
from server.db import utcnow
from server.fleet import DeviceFilter, export_rows, observed_words, os_release
from server.models import Device
from server.sessions import create_session
from test_server_me import ALICE, populate

HOSTILE = "=HYPERLINK(\"http://evil\")\u202e<b>x</b>"


def session(srv, subject, role, auth="oidc") -> requests.Session:
    token, _ = create_session(srv.engine, subject, auth, role, "127.0.0.1", 1)
    s = requests.Session()
    s.cookies.set(SESSION_COOKIE, token)
    return s


def hostile_device(srv, tmp_path) -> str:
    """A laptop whose agent sends a formula, a bidi control and markup as its hostname and
    in a check's summary and observed facts."""
    rep = srvkit.with_id(srvkit.report_for(os.path.join(
        srvkit.FIXTURES, "macos/ventura-13-6-filevault-off-remote-login-admin.json")))
    rep["device"]["hostname"] = HOSTILE
    rep["device"]["serial"] = "HOSTILE01"
    rep["device"]["hardware_uuid"] = str(uuid.uuid4()).upper()
    rep["device"]["mac_addresses"] = []
    rep["checks"][0]["summary"] = "<script>alert(1)</script>"
    rep["checks"][0]["observed"] = {"<img src=x>": "@SUM(1)", "idle_seconds": 300}
    sd = tmp_path / "agent-hostile"
    sd.mkdir()
    code, msg = report_now(srvkit.agent_settings(srv.url, srv.token()), str(sd), report=rep)
    assert code == 0, msg
    with srv.engine.connect() as conn:
        return conn.execute(select(Device.id).where(Device.serial == "HOSTILE01")).scalar_one()


@pytest.fixture
def world(live_server, tmp_path):
    reports, ids = populate(live_server, tmp_path)
    ids["hostile"] = hostile_device(live_server, tmp_path)
    return live_server, reports, ids


def page_ids(html: str) -> list[str]:
    return re.findall(r'<tr class="device"><td><a href="/devices/([0-9a-f]+)"', html)


def test_exports_are_the_filtered_list_in_its_order(world):
    srv, reports, ids = world
    it = session(srv, "vera@example.com", "viewer")
    for query in ("", "status=fail", "platform=darwin", "owner=" + ALICE, "owner=none",
                  "status=fail&sort=device&dir=desc", "sort=seen&dir=asc", "q=ops"):
        page = it.get(srv.url + "/devices?" + query, timeout=30)
        assert page.status_code == 200
        want = page_ids(page.text)
        r = it.get(srv.url + "/devices.csv?" + query, timeout=30)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert r.headers["content-disposition"] == "attachment; filename=checkup-devices.csv"
        assert r.headers["cache-control"] == "no-store"
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert [row["id"] for row in rows] == want, query
        j = it.get(srv.url + "/devices.json?" + query, timeout=30)
        assert j.status_code == 200 and j.headers["content-type"] == "application/json"
        data = j.json()["devices"]
        assert [d["id"] for d in data] == want, query
    # the same numbers as the page says
    r = it.get(srv.url + "/devices.json?status=fail", timeout=30).json()["devices"]
    n_fail = sum(1 for rep in reports.values() if rep["status"] == "fail") + 1   # + hostile
    assert len(r) == n_fail and all(d["status"] == "fail" for d in r)
    assert all(isinstance(d["failing"], list) and d["failing"] for d in r)
    mac = next(d for d in r if d["id"] == ids["mac"])
    assert mac["owner"] == ALICE and mac["owner_source"] == "claim"
    assert mac["last_seen_at"].endswith("Z") and mac["platform"] == "darwin"
    # a format that is neither is not found; odd filters are ignored, never a 5xx
    assert it.get(srv.url + "/devices.xml", timeout=30).status_code == 404
    for bad in ("sort=id;drop", "dir=sideways", "check=nope", "page=-1", "q=%00", "owner=%00x",
                "seen=forever", "status=skip"):
        r = it.get(srv.url + "/devices.csv?" + bad, timeout=30)
        assert r.status_code == 200, bad
        r = it.get(srv.url + "/devices?" + bad, timeout=30)
        assert r.status_code == 200, bad


def test_exports_are_formula_safe_and_keep_json_exact(world):
    srv, reports, ids = world
    it = session(srv, "vera@example.com", "viewer")
    r = it.get(srv.url + "/devices.csv?q=HYPERLINK", timeout=30)
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 1
    # a spreadsheet sees text, not a formula; the bidi control is gone
    assert rows[0]["hostname"] == "'=HYPERLINK(\"http://evil\")<b>x</b>"
    assert "\u202e" not in r.text
    j = it.get(srv.url + "/devices.json?q=HYPERLINK", timeout=30)
    assert "\\u202e" in j.text                     # escaped, so no viewer reorders it
    assert j.json()["devices"][0]["hostname"] == HOSTILE   # and the data is exact


def test_exports_need_it_read(world):
    srv, reports, ids = world
    employee = session(srv, ALICE, "employee")
    for fmt in ("csv", "json"):
        r = employee.get(srv.url + f"/devices.{fmt}", timeout=30, allow_redirects=False)
        assert r.status_code == 403 and ids["bob_linux"] not in r.text
        r = requests.get(srv.url + f"/devices.{fmt}", timeout=30, allow_redirects=False)
        assert r.status_code in (303, 401)
        assert ids["mac"] not in r.text


def test_export_reads_in_batches_across_pages(world):
    """More devices than a page (and than a batch): every one exactly once, in the page's
    order, one bounded query per batch."""
    srv, reports, ids = world
    now = utcnow()
    with srv.engine.begin() as conn:
        conn.execute(insert(Device), [
            {"id": uuid.uuid4().hex, "hostname": f"bulk-{i:04d}", "platform": "linux",
             "status": "pass", "failing": "", "enrolled_at": now, "last_seen_at": now,
             "secret_hash": "x"} for i in range(260)])
        total = conn.execute(select(func.count()).select_from(Device)
                             .where(Device.revoked_at.is_(None))).scalar_one()
    f = DeviceFilter(sort="device")
    got = [r.hostname for r in export_rows(srv.engine, f, 30, batch=7)]
    assert len(got) == total and len(set(got)) == total
    assert [h for h in got if h.startswith("bulk-")] == [f"bulk-{i:04d}" for i in range(260)]
    it = session(srv, "vera@example.com", "viewer")
    rows = list(csv.DictReader(io.StringIO(it.get(srv.url + "/devices.csv?platform=linux",
                                                  timeout=30).text)))
    assert sum(1 for r in rows if r["hostname"].startswith("bulk-")) == 260
    page3 = it.get(srv.url + "/devices?platform=linux&page=3", timeout=30).text
    assert page_ids(page3) == [r["id"] for r in rows[200:300]]


def test_sortable_columns(world):
    srv, reports, ids = world
    it = session(srv, "vera@example.com", "viewer")
    html = it.get(srv.url + "/devices", timeout=30).text
    # the default: status, worst first; the header says so
    assert re.search(r'<th aria-sort="descending"><a class="sort" id="sort-status"', html)
    assert html.count("aria-sort=") == 1
    html = it.get(srv.url + "/devices?sort=device&dir=asc&platform=linux", timeout=30).text
    assert re.search(r'<th aria-sort="ascending"><a class="sort" id="sort-device" '
                     r'href="/devices\?platform=linux&amp;sort=device&amp;dir=desc"', html)
    names = re.findall(r'<a href="/devices/[0-9a-f]+"><bdi>([^<]*)</bdi>', html)
    assert names == sorted(names) and len(names) >= 2
    desc = re.findall(r'<a href="/devices/[0-9a-f]+"><bdi>([^<]*)</bdi>',
                      it.get(srv.url + "/devices?sort=device&dir=desc&platform=linux", timeout=30).text)
    assert desc == names[::-1]
    # the filter form keeps the order; export links keep filters and order
    assert '<input type="hidden" name="sort" value="device">' in html
    assert 'href="/devices.csv?platform=linux&amp;sort=device&amp;dir=asc"' in html
    # owner: nobody's devices last either way round (NULLs last)
    html = it.get(srv.url + "/devices?sort=owner&dir=desc", timeout=30).text
    owners = re.findall(r'<td class="owner">(?:<a href="/people/[^"]+"><bdi>([^<]+)</bdi>|(<span))', html)
    got = [o[0] for o in owners]
    assert got[:4] == sorted([o for o in got if o], reverse=True)[:4] and got[-1] == ""


def test_titles_versions_and_words(world):
    srv, reports, ids = world
    srv.admin("it-admin")
    it = session(srv, "it-admin", "admin", "local")
    html = it.get(srv.url + "/", timeout=30).text
    assert ">Disk encryption</a>" in html and ">disk_encryption</a>" not in html
    assert "Not applicable</span></a>" not in html          # no device is ever "not applicable"
    assert 'class="tile s-skip"' not in html
    by_os = html.split('id="by-os"')[1].split("</section>")[0]
    assert "macOS 13.6" in by_os and "24H2" in by_os, by_os
    html = it.get(srv.url + "/devices", timeout=30).text
    assert '<option value="screen_lock" >Screen lock</option>' in html or \
        re.search(r'<option value="screen_lock"\s*>Screen lock</option>', html)
    assert "disk_encryption" not in html.split("<tbody>")[1].split("</tbody>")[0]
    html = it.get(srv.url + f"/devices/{ids['fedora']}", timeout=30).text
    assert '<dl class="observed small">' in html and "=&#34;" not in html
    assert "<dt><bdi>Locks after inactivity of</bdi></dt>" in html
    # hostile agent text: escaped, the bidi control gone
    html = it.get(srv.url + f"/devices/{ids['hostile']}", timeout=30).text
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "<img src=x>" not in html and "\u202e" not in html
    assert "<dd><bdi>5 minutes</bdi></dd>" in html


def test_observed_words_and_os_release():
    assert observed_words({"enabled": True, "idle_seconds": 0, "lock_delay_seconds": 120,
                           "profiles": {"domain": True, "public": False}, "missing": [],
                           "products": [{"name": "Defender", "enabled": True, "up_to_date": False}],
                           "odd_key": None}) == [
        ("Turned on", "Yes"), ("Locks after inactivity of", "never"),
        ("Then asks for the password after", "2 minutes"), ("Networks", "Domain: on, Public: off"),
        ("Not running", "none"), ("Antivirus", "Defender (on, out of date)")]   # a value not read: not shown
    # the same words as the agent's fix page (one formatter, agent/observed.py), per check
    assert observed_words({"enabled": False, "idle_seconds": 0}, "screen_lock") == [("Locks by itself", "No")]
    assert observed_words("not a dict") == [] and observed_words(None) == []
    assert os_release("darwin", "macOS", "15.2.1") == "macOS 15.2"
    assert os_release("windows", "Windows 11 Pro", "10.0.26100.2605") == "Windows 11 Pro 24H2"
    assert os_release("windows", "Windows 10 Pro", "10.0.19045.5247") == "Windows 10 Pro 22H2"
    assert os_release("windows", "Windows 11 Pro", "10.0.99999.1") == "Windows 11 Pro build 99999"
    assert os_release("windows", "Windows", "weird") == "Windows weird"
    assert os_release("linux", "Ubuntu", "24.04") == "Ubuntu 24.04"
    assert os_release(None, None, None) == "unknown"


def shots(b, srv, ids, tmp_path) -> None:
    """The README's IT screenshots from the real pages (signed in as the last role, so as
    admin again first): the overview, the device list, a device. Written to docs/screenshots
    only with CHECKUP_WRITE_SCREENSHOTS=1; always taken and checked not blank."""
    from PIL import Image
    token, _ = create_session(srv.engine, "it-admin", "local", "admin", "127.0.0.1", 1)
    b.call("Network.setCookie", {"name": SESSION_COOKIE, "value": token, "url": srv.url,
                                 "httpOnly": True}, session=True)
    for name, path in (("it-overview", "/"), ("it-devices", "/devices?sort=device&owner=example.com"),
                       ("it-device", f"/devices/{ids['mac']}")):
        b.width(1280)
        b.goto(srv.url + path)
        height = min(int(b.js("document.documentElement.scrollHeight")), 1600)
        b.width(1280, height)
        shot = tmp_path / f"{name}.png"
        b.screenshot(str(shot))
        with Image.open(shot) as im:
            assert im.size == (1280, height)
            assert len(im.convert("RGB").resize((64, 64)).getcolors(4096) or ()) > 20
        if os.environ.get("CHECKUP_WRITE_SCREENSHOTS") == "1":
            import shutil
            shutil.copy(shot, os.path.join(srvkit.ROOT, "docs", "screenshots", f"{name}-1280.png"))


# -- axe-core: every IT page, 1280 and 390 px, as the roles that see it ----------------------

def test_axe_on_every_it_page(tmp_path):
    import axekit
    why = axekit.skip_reason()
    if why:
        pytest.skip(why)
    srv = srvkit.LiveServer("sqlite:///" + str(tmp_path / "server.sqlite3")).start()
    try:
        _, ids = populate(srv, tmp_path)
        ids["hostile"] = hostile_device(srv, tmp_path)
        srv.admin("it-admin")
        with srv.engine.begin() as conn:   # one revoked device, so its badge and notice show
            conn.execute(update(Device).where(Device.id == ids["nobody"])
                         .values(revoked_at=utcnow(), revoked_by="it-admin"))
        it_pages = ["/", "/devices", "/devices?status=fail&platform=darwin&sort=seen&dir=desc",
                    "/devices?owner=none", "/devices?q=nothing-matches",
                    f"/devices/{ids['mac']}",          # MDM findings (Intune disagrees)
                    f"/devices/{ids['hostile']}", f"/devices/{ids['nobody']}",
                    "/reconcile", "/audit", "/people/" + ALICE, "/devices/0000"]
        pages = {"admin": [*it_pages, "/me"], "viewer": it_pages, "employee": ["/me", "/devices"]}
        found = {}
        with axekit.axe_browser() as b:
            b.goto(srv.url + "/login")
            for width in (1280, 390):
                b.width(width)
                found[("nobody", "/login", width)] = axekit.serious(b)
            for role, paths in pages.items():
                subject, auth = {"admin": ("it-admin", "local"), "viewer": ("vera@example.com", "oidc"),
                                 "employee": (ALICE, "oidc")}[role]
                token, _ = create_session(srv.engine, subject, auth, role, "127.0.0.1", 1)
                b.call("Network.setCookie", {"name": SESSION_COOKIE, "value": token, "url": srv.url,
                                             "httpOnly": True}, session=True)
                for path in paths:
                    b.goto(srv.url + path)
                    for width in (1280, 390):
                        b.width(width)
                        found[(role, path, width)] = axekit.serious(b)
            shots(b, srv, ids, tmp_path)
        bad = {k: v for k, v in found.items() if v}
        assert bad == {}, json.dumps({" ".join(map(str, k)): v for k, v in bad.items()}, indent=1)
        assert len(found) == 2 + 2 * (len(pages["admin"]) + len(pages["viewer"]) + len(pages["employee"]))
    finally:
        srv.stop()
