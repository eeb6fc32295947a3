"""Each person's devices: /me, /me.json, /api/v1/people/{email}/devices, the IT person page,
the owner column / filter / overview count; and that nobody ever sees another person's
devices. Real server under uvicorn (SQLite and PostgreSQL), real agent reports sent by the
agent's own reporting code, MDM records stored through server/mdm/store.py's sync."""
from __future__ import annotations

import datetime as dt
import os
import re
from urllib.parse import quote

import pytest
import requests
from sqlalchemy import select, update

import srvkit
from agent.fixes import fix_for
from agent.reporting import report_now
from server.access import SESSION_COOKIE, decision
from server.api_tokens import create_token
from server.db import utcnow
from server.mdm.base import SyncStats
from server.mdm.records import MdmRecord
from server.mdm.store import sync_source
from server.models import Device, OrgPolicy
from server.sessions import create_session

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)

FIXTURES = {
    "mac": "macos/ventura-13-6-filevault-off-remote-login-admin.json",   # fail, serial C02ZK4XQMD6T
    "fedora": "linux/fedora-44-gnome-lock-too-slow-dnf5-automatic.json",  # GNOME steps
    "win": "windows/win11-24h2-enterprise-compliant.json",                # pass
    "bob_linux": "linux/debian-12-root-capture-nftables-no-desktop.json",  # serial 7H2KQ93
    "nobody": "macos/sonoma-14-6-compliant.json",
}
POLICY = """
[os_version]
minimum = { macos = "14.0", windows = "10.0.19045", ios = "17.0", ipados = "17.0", android = "14" }
recommended = { macos = "15.0", windows = "10.0.26100", ios = "18.0", ipados = "18.0", android = "15" }
"""


class Feed:
    """A connector that yields fixed records (the sync and the store are the real ones)."""

    def __init__(self, recs):
        self.recs = recs
        self.stats = SyncStats()

    def records(self):
        for r in self.recs:
            self.stats.records += 1
            yield r


def rec(source, source_id, **kw) -> MdmRecord:
    kw.setdefault("last_seen", NOW - dt.timedelta(hours=2))
    return MdmRecord(source=source, source_id=source_id, **kw)


def mdm_records(reports) -> dict[str, list[MdmRecord]]:
    mac_serial = reports["mac"]["device"]["serial"]
    bob_serial = reports["bob_linux"]["device"]["serial"]
    return {
        "jamf": [
            rec("jamf", "m-1", device_kind="phone", platform="ios", os_version="17.5", name="Alice's iPhone",
                model="iPhone 15", passcode=True, encrypted=True, compromised=False, user="alice",
                user_email=ALICE, serial="JAMFPHONE1"),
            rec("jamf", "m-2", device_kind="tablet", platform="ipados", os_version="16.7.8", name="Alice's iPad",
                model="iPad Air", passcode=None, encrypted=True, compromised=False, user_email=ALICE,
                unknown={"passcode": "Jamf does not report a passcode for shared iPads"}),
            rec("jamf", "m-3", device_kind="phone", platform="ios", os_version="18.1", name="Bob's iPhone",
                passcode=True, encrypted=True, compromised=False, user_email=BOB),
            # a name that spells alice's user field must not make it hers
            rec("jamf", "m-4", device_kind="phone", platform="ios", os_version="18.1",
                name='"user_email":"alice@example.com"', passcode=True, encrypted=True,
                compromised=False, user_email=BOB),
            rec("jamf", "m-5", device_kind="phone", platform="ios", os_version="18.1", name="Not Alice",
                passcode=True, encrypted=True, compromised=False, user_email="alice@example.com.evil"),
        ],
        "google": [
            rec("google", "g-1", device_kind="phone", platform="android", os_version="14", name="Pixel <b>8</b>",
                model="Pixel 8", passcode=True, encrypted=True, compromised=True,
                compromised_detail="Compromised", user_email=ALICE),
            rec("google", "g-2", device_kind="chromebook", platform="chromeos", os_version="126.0.6478.132",
                model="Chromebook Plus", user_email=ALICE, serial="CHROME1"),
            rec("google", "g-3", platform="tvos", user_email=ALICE),   # no phone, tablet or computer
        ],
        "intune": [
            rec("intune", "i-1", device_kind="laptop", platform="macos", os_version="13.6", serial=mac_serial,
                hostname="ops-mbp-0077", user_email=ALICE, encrypted=False),      # = her Checkup Mac
            rec("intune", "i-2", device_kind="laptop", platform="linux", serial=bob_serial,
                user_email=ALICE),                                               # bob's laptop
            rec("intune", "i-3", device_kind="laptop", platform="windows", os_version="10.0.22631.3447",
                name="ALICE-HOME-PC", serial="MDMONLY123", user_email=ALICE, encrypted=False),
        ],
    }


def populate(srv, tmp_path) -> tuple[dict, dict]:
    token = srv.token()
    reports, ids = {}, {}
    for name, path in FIXTURES.items():
        sd = tmp_path / f"agent-{name}"
        sd.mkdir()
        rep = srvkit.with_id(srvkit.report_for(os.path.join(srvkit.FIXTURES, path)))
        code, msg = report_now(srvkit.agent_settings(srv.url, token), str(sd), report=rep)
        assert code == 0, msg
        reports[name] = rep
        with srv.engine.connect() as conn:
            ids[name] = conn.execute(select(Device.id).where(
                Device.hostname == rep["device"]["hostname"])).scalar_one()
    owners = {"mac": ALICE, "fedora": ALICE, "win": ALICE, "bob_linux": BOB}
    with srv.engine.begin() as conn:
        for name, email in owners.items():
            conn.execute(update(Device).where(Device.id == ids[name]).values(
                owner=email, owner_source="claim" if name == "mac" else "it", owner_set_at=utcnow()))
        conn.execute(OrgPolicy.__table__.insert().values(id=1, text=POLICY, etag='"t1"',
                                                         updated_at=utcnow(), updated_by="test"))
    for source, recs in mdm_records(reports).items():
        assert sync_source(srv.engine, source, {}, connector=Feed(recs)).status == "ok"
    return reports, ids


def session(srv, subject, role, auth="oidc") -> requests.Session:
    token, _ = create_session(srv.engine, subject, auth, role, "127.0.0.1", 1)
    s = requests.Session()
    s.cookies.set(SESSION_COOKIE, token)
    return s


def api(srv, role) -> requests.Session:
    with srv.engine.begin() as conn:
        _, token = create_token(conn, role, f"{role} token", "test")
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"
    return s


@pytest.fixture
def world(live_server, tmp_path):
    reports, ids = populate(live_server, tmp_path)
    return live_server, reports, ids


def by_id(data):
    return {d["id"]: d for d in data["devices"]}


def practice(device, pid):
    return next(p for p in device["practices"] if p["id"] == pid)


# -- what /me.json says -----------------------------------------------------------------

def test_me_json_is_the_contract_shape(world):
    srv, reports, ids = world
    r = session(srv, ALICE, "employee").get(srv.url + "/me.json")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    data = r.json()
    assert data["email"] == ALICE
    devs = by_id(data)
    # her three Checkup laptops, and the MDM-only ones; not her Checkup Mac's Intune record,
    # not bob's laptop that Intune assigns to her, not bob's phones, not the Apple TV
    assert set(devs) == {ids["mac"], ids["fedora"], ids["win"], "jamf:m-1", "jamf:m-2", "google:g-1",
                         "google:g-2", "intune:i-3"}
    for d in data["devices"]:
        assert {"id", "kind", "source", "platform", "os_version", "status", "last_seen",
                "practices"} <= set(d)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", d["last_seen"])
        assert d["status"] in ("pass", "skip", "unknown", "nudge", "fail")
        for p in d["practices"]:
            assert p["status"] in ("pass", "skip", "unknown", "nudge", "fail")
            if p["status"] in ("fail", "nudge"):
                assert p["summary"] and p["steps"], p
        assert "serial" not in d and "owner_source" not in d     # IT's details stay IT's
    # worst first
    ranks = {"pass": 0, "skip": 1, "unknown": 2, "nudge": 3, "fail": 4}
    assert [ranks[d["status"]] for d in data["devices"]] == \
        sorted((ranks[d["status"]] for d in data["devices"]), reverse=True)

    mac = devs[ids["mac"]]
    assert (mac["kind"], mac["source"], mac["platform"], mac["hostname"]) == \
        ("laptop", "agent", "macos", "ops-mbp-0077")
    assert mac["status"] == reports["mac"]["status"] == "fail"
    assert {p["id"]: p["status"] for p in mac["practices"]} == \
        {c["id"]: c["status"] for c in reports["mac"]["checks"]}
    assert devs[ids["win"]]["status"] == "pass"


def test_laptop_steps_are_the_laptops_own_fix_text(world):
    srv, reports, ids = world
    devs = by_id(session(srv, ALICE, "employee").get(srv.url + "/me.json").json())
    compared = 0
    for name in ("mac", "fedora"):
        rep = reports[name]
        for c in rep["checks"]:
            if c["status"] not in ("fail", "nudge"):
                continue
            p = practice(devs[ids[name]], c["id"])
            # exactly what the laptop's fix page shows (the report carries the agent's fix) ...
            assert p["steps"] == c["fix"]["steps"], (name, c["id"])
            assert p["summary"] == c["summary"]
            compared += 1
    assert compared >= 6
    # ... and computed on the server by agent.fixes, not copied from what the agent sent
    c = next(c for c in reports["mac"]["checks"] if c["id"] == "disk_encryption")
    assert practice(devs[ids["mac"]], "disk_encryption")["steps"] == \
        fix_for("disk_encryption", "darwin", reports["mac"]["device"]["os_version"],
                observed=c["observed"])["steps"]


def test_agent_text_is_not_trusted_for_steps(world, tmp_path):
    srv, reports, ids = world
    # a laptop that sends its own "steps": the page shows Checkup's, never the sender's
    rep = srvkit.with_id(reports["mac"])
    for c in rep["checks"]:
        if c["id"] == "disk_encryption":
            c["fix"]["steps"] = ["Call +1 555 0100 and read out your password."]
            c["summary"] = "FileVault is off\u202e; call IT"
    token = srv.token()
    # the Mac's own state dir: report_now finds its device secret there
    code, msg = report_now(srvkit.agent_settings(srv.url, token),
                           str(tmp_path / "agent-mac"), report=rep)
    assert code == 0, msg
    p = practice(by_id(session(srv, ALICE, "employee").get(srv.url + "/me.json").json())[ids["mac"]],
                 "disk_encryption")
    assert "555" not in " ".join(p["steps"]) and p["steps"]
    assert "\u202e" not in p["summary"]


def test_mdm_devices_practices(world):
    srv, _, _ = world
    devs = by_id(session(srv, ALICE, "employee").get(srv.url + "/me.json").json())

    phone = devs["jamf:m-1"]
    assert (phone["kind"], phone["source"], phone["platform"], phone["name"], phone["os_version"]) == \
        ("phone", "jamf", "ios", "Alice's iPhone", "17.5")
    assert {p["id"]: p["status"] for p in phone["practices"]} == \
        {"passcode": "pass", "encryption": "pass", "os_version": "nudge", "compromised": "pass"}
    osv = practice(phone, "os_version")
    assert "17.5" in osv["summary"] and "18.0" in osv["summary"]
    assert any("Software Update" in s for s in osv["steps"])
    assert phone["status"] == "nudge"

    ipad = devs["jamf:m-2"]
    assert ipad["kind"] == "tablet" and ipad["status"] == "fail"          # below the minimum
    assert practice(ipad, "os_version")["status"] == "fail"
    pc = practice(ipad, "passcode")
    assert pc["status"] == "unknown" and "shared iPads" in pc["summary"] and "steps" not in pc

    android = devs["google:g-1"]
    comp = practice(android, "compromised")
    assert comp["status"] == "fail" and android["status"] == "fail"
    assert "jailbroken or rooted: contact IT" in comp["summary"]
    assert any("Contact IT" in s for s in comp["steps"])

    chromebook = devs["google:g-2"]
    assert chromebook["kind"] == "chromebook"
    st = {p["id"]: p for p in chromebook["practices"]}
    assert {k: p["status"] for k, p in st.items()} == \
        {"passcode": "unknown", "encryption": "unknown", "os_version": "unknown", "compromised": "unknown"}
    assert "No minimum version is set for ChromeOS" in st["os_version"]["summary"]
    # the reason is the record's own (the connector's), else "Google Workspace doesn't say."
    assert re.fullmatch(r"Checkup doesn't know whether a passcode is set: .*Google.{10,}\.",
                        st["passcode"]["summary"]), st["passcode"]["summary"]
    assert chromebook["status"] == "unknown"

    pc = devs["intune:i-3"]
    assert (pc["kind"], pc["platform"], pc["name"]) == ("laptop", "windows", "ALICE-HOME-PC")
    st = {p["id"]: p for p in pc["practices"]}
    assert st["checkup"]["status"] == "nudge" and any("Install Checkup" in s for s in st["checkup"]["steps"])
    assert st["encryption"]["status"] == "fail"
    # the agent's own judge: Windows 11 23H2 is past its end of support (10 November 2026)
    assert st["os_version"]["status"] == "fail" and "no longer gets security fixes" in st["os_version"]["summary"]
    assert "compromised" not in st and "passcode" not in st
    assert pc["status"] == "fail"


def test_os_version_minimums_fall_back_to_the_builtin_policy(world):
    srv, _, _ = world
    with srv.engine.begin() as conn:
        conn.execute(OrgPolicy.__table__.delete())
    from agent.policy import load_policy
    builtin = load_policy().param("os_version", "minimum", {})
    devs = by_id(session(srv, ALICE, "employee").get(srv.url + "/me.json").json())
    p = practice(devs["jamf:m-1"], "os_version")
    if "ios" in builtin:      # the built-in policy names iOS (the MDM work adds it)
        assert p["status"] in ("pass", "nudge", "fail")
    else:
        assert p["status"] == "unknown" and "No minimum version is set for iOS" in p["summary"]


# -- the pages ---------------------------------------------------------------------------

def test_me_page_cards_and_escaping(world):
    srv, reports, ids = world
    r = session(srv, ALICE, "employee").get(srv.url + "/me")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    html = r.text
    assert "<script" not in html.lower()                     # no JavaScript at all
    assert html.count('class="card device-card') == 8
    assert "ops-mbp-0077" in html and "Alice&#39;s iPhone" in html
    assert "Pixel &lt;b&gt;8&lt;/b&gt;" in html and "<b>8</b>" not in html
    assert "This phone looks jailbroken or rooted: contact IT." in html
    assert "Install Checkup" in html
    assert "Bob" not in html and "build-tp-0077" not in html
    step = next(c for c in reports["mac"]["checks"] if c["id"] == "disk_encryption")["fix"]["steps"][0]
    from markupsafe import escape
    assert str(escape(step)) in html
    assert "Last seen" in html and "ago" in html


def test_me_page_empty_state(world):
    srv, _, _ = world
    html = session(srv, "dave@example.com", "employee").get(srv.url + "/me").text
    assert "No devices yet" in html
    assert "open Checkup's menu and choose <strong>See all my devices</strong>" in html
    assert "IT's device management" in html
    data = session(srv, "dave@example.com", "employee").get(srv.url + "/me.json").json()
    assert data == {"email": "dave@example.com", "devices": []}


def test_person_page_and_api_for_it(world):
    srv, _, ids = world
    viewer = session(srv, CAROL, "viewer")
    r = viewer.get(srv.url + "/people/" + quote(ALICE))
    assert r.status_code == 200
    html = r.text
    assert f'value="{srv.url}/me"' in html                  # the link IT sends
    assert f'href="/devices/{ids["mac"]}"' in html and "ALICE-HOME-PC" in html
    assert "intune:i-2" in html and f'/devices/{ids["bob_linux"]}' in html   # also named
    api_data = viewer.get(srv.url + f"/api/v1/people/{ALICE}/devices").json()
    me_data = session(srv, ALICE, "employee").get(srv.url + "/me.json").json()
    assert [d["id"] for d in api_data["devices"]] == [d["id"] for d in me_data["devices"]]
    assert by_id(api_data)[ids["mac"]]["owner_source"] == "claim"
    assert by_id(api_data)["intune:i-3"]["serial"] == "MDMONLY123"
    assert api_data["also_named"] == [{"record": "intune:i-2", "device_ids": [ids["bob_linux"]]}]
    # an API token reads it too
    tok = api(srv, "viewer").get(srv.url + f"/api/v1/people/{BOB}/devices")
    assert tok.status_code == 200
    assert set(by_id(tok.json())) == {ids["bob_linux"], "jamf:m-3", "jamf:m-4"}
    # an unknown person: an empty list, not an error
    r = viewer.get(srv.url + "/api/v1/people/nobody@example.com/devices")
    assert r.status_code == 200 and r.json()["devices"] == []
    r = viewer.get(srv.url + "/people/nobody@example.com")
    assert r.status_code == 200 and 'id="empty"' in r.text


def test_owner_column_filter_and_overview_count(world):
    srv, reports, ids = world
    user, _ = srv.admin()
    it = session(srv, user, "admin", auth="local")
    html = it.get(srv.url + "/devices").text
    assert f'href="/people/{quote(ALICE, safe="")}"' in html or f'href="/people/{quote(ALICE)}"' in html
    names = lambda h: set(re.findall(r'<a href="/devices/[0-9a-f]+"><bdi>([^<]+)</bdi>', h))  # noqa: E731
    assert names(it.get(srv.url + f"/devices?owner={ALICE}").text) == \
        {reports[n]["device"]["hostname"] for n in ("mac", "fedora", "win")}
    assert names(it.get(srv.url + "/devices?owner=ALICE@Example.com").text) == \
        {reports[n]["device"]["hostname"] for n in ("mac", "fedora", "win")}
    assert names(it.get(srv.url + "/devices?owner=bob").text) == {reports["bob_linux"]["device"]["hostname"]}
    assert names(it.get(srv.url + "/devices?owner=none").text) == {reports["nobody"]["device"]["hostname"]}
    for weird in ("%00", "a%00b@example.com", "%25", "_", "\u00e5lice@ex\u00e4mple.com", "x" * 500):
        r = it.get(srv.url + "/devices?owner=" + weird)
        assert r.status_code == 200, weird
    overview = it.get(srv.url + "/").text
    assert re.search(r'<a href="/devices\?owner=none" id="unowned">1 device without an owner</a>', overview)
    page = it.get(srv.url + f"/devices/{ids['mac']}").text
    owner_block = page[page.index('id="owner"'):]
    assert ALICE in owner_block[:600] and "claimed by the person" in owner_block[:600]
    page = it.get(srv.url + f"/devices/{ids['nobody']}").text
    assert "nobody yet" in page


# -- privacy: nobody sees another person's devices ------------------------------------------

def test_nobody_signed_in(world):
    srv, _, _ = world
    r = requests.get(srv.url + "/me", allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=%2Fme")
    for path in ("/me.json", f"/api/v1/people/{ALICE}/devices"):
        r = requests.get(srv.url + path, allow_redirects=False)
        assert r.status_code == 401 and r.json()["detail"], path
    r = requests.get(srv.url + f"/people/{ALICE}", allow_redirects=False)
    assert r.status_code == 303
    # a cookie that is no session is nobody
    s = requests.Session()
    s.cookies.set(SESSION_COOKIE, "guessed")
    assert s.get(srv.url + "/me.json").status_code == 401


def test_an_employee_sees_only_their_own(world):
    srv, _, ids = world
    bob = session(srv, BOB, "employee")
    mine = bob.get(srv.url + "/me.json").json()
    assert mine["email"] == BOB
    assert set(by_id(mine)) == {ids["bob_linux"], "jamf:m-3", "jamf:m-4"}
    # parameters never choose the person
    for q in (f"?email={ALICE}", f"?owner={ALICE}", f"?id={ids['mac']}", f"?device={ids['mac']}",
              "?email=%00", "?email=" + "\u00e5" * 400):
        assert bob.get(srv.url + "/me.json" + q).json() == mine, q
        html = bob.get(srv.url + "/me" + q).text
        assert "ops-mbp-0077" not in html and "Alice" not in html, q
    # IT's person page and API refuse an employee, whoever they ask for (themselves too)
    for email in (ALICE, BOB, "ALICE@EXAMPLE.COM", "alice%40example.com", "nobody@example.com"):
        r = bob.get(srv.url + f"/api/v1/people/{email}/devices")
        assert r.status_code == 403 and ALICE not in r.text, email
        r = bob.get(srv.url + f"/people/{email}", allow_redirects=False)
        assert r.status_code == 403 and "ops-mbp" not in r.text, email
    # guessed device ids and records under /me are not routes
    for path in (f"/me/{ids['mac']}", "/me/jamf:m-1", f"/me.json/{ids['mac']}"):
        assert bob.get(srv.url + path, allow_redirects=False).status_code == 404, path


def test_it_pages_refuse_employees_once_the_access_layer_covers_them(world):
    """The device list and device page are IT's: with the access layer on every route (the
    routers work), an employee gets 403 there too."""
    srv, _, ids = world
    from server.access import all_routes
    routes = {getattr(r, "path", ""): r for r in all_routes(srv.app)}
    if decision(routes["/devices/{device_id}"]) is None:
        pytest.skip("/devices pages do not declare an access decision yet (routers work)")
    bob = session(srv, BOB, "employee")
    for path in (f"/devices/{ids['mac']}", f"/devices?owner={ALICE}", "/devices"):
        r = bob.get(srv.url + path, allow_redirects=False)
        assert r.status_code == 403 and "ops-mbp-0077" not in r.text, path


def test_emails_are_compared_lower_case(world):
    srv, _, ids = world
    data = session(srv, "Alice@Example.COM", "employee").get(srv.url + "/me.json").json()
    assert data["email"] == ALICE and ids["mac"] in by_id(data)
    viewer = session(srv, CAROL, "viewer")
    a = viewer.get(srv.url + "/api/v1/people/ALICE@example.com/devices").json()
    b = viewer.get(srv.url + f"/api/v1/people/{ALICE}/devices").json()
    assert a == b
    # a near miss is someone else
    for other in ("alice@example.co", "lice@example.com", "alice+x@example.com", "alice@example"):
        assert viewer.get(srv.url + f"/api/v1/people/{other}/devices").json()["devices"] == [], other
    evil = viewer.get(srv.url + "/api/v1/people/alice@example.com.evil/devices").json()
    assert [d["id"] for d in evil["devices"]] == ["jamf:m-5"]


def test_accounts_that_are_no_person(world):
    srv, _, _ = world
    user, _ = srv.admin()
    # IT's local account (even one named like an email) and API tokens own no devices
    local = session(srv, user, "admin", auth="local")
    assert local.get(srv.url + "/me.json").json() == {"email": None, "devices": []}
    # ... but IT sees people
    assert local.get(srv.url + f"/people/{ALICE}").status_code == 200
    assert len(local.get(srv.url + f"/api/v1/people/{ALICE}/devices").json()["devices"]) == 8
    assert len(api(srv, "admin").get(srv.url + f"/api/v1/people/{ALICE}/devices").json()["devices"]) == 8
    assert "not a company email address" in local.get(srv.url + "/me").text
    srv.admin(ALICE, "correct horse battery")
    named = session(srv, ALICE, "admin", auth="local")
    assert named.get(srv.url + "/me.json").json()["devices"] == []
    for role in ("viewer", "admin"):
        t = api(srv, role)
        r = t.get(srv.url + "/me.json")   # a token is not a person (server.access)
        assert r.status_code == 403 and "not a person" in r.json()["detail"]
    t = api(srv, "viewer")
    with srv.engine.begin() as conn:
        from server.models import ApiToken
        conn.execute(update(ApiToken).values(revoked_at=utcnow()))
    assert t.get(srv.url + f"/api/v1/people/{ALICE}/devices").status_code == 401


def test_bad_input_never_5xx(world):
    srv, _, _ = world
    viewer = session(srv, CAROL, "viewer")
    bad = ["%00", "alice%00@example.com", "alice@example.com%00", "%E2%80%AEalice@example.com",
           "@", "a@", "@b", "a@@b", "a@b@c", "a%20b@c.d", "a@.b", "a@b..c", "%FF%FE", "%ED%A0%80",
           "x" * 400 + "@example.com", "%0A", "a%09b@c.d", "a%2Fb@c.d"]
    for b in bad:
        r = viewer.get(srv.url + f"/api/v1/people/{b}/devices")
        assert r.status_code in (404, 422), (b, r.status_code)
        r = viewer.get(srv.url + f"/people/{b}", allow_redirects=False)
        assert r.status_code in (404, 422), (b, r.status_code)
    for good in ("\u00e5lice@ex\u00e4mple.com", "%F0%9F%98%80@example.com", "o'brien@example.com",
                 "%3Cscript%3E@example.com"):
        r = viewer.get(srv.url + f"/api/v1/people/{good}/devices")
        assert r.status_code == 200 and r.json()["devices"] == [], good
        r = viewer.get(srv.url + f"/people/{good}")
        assert r.status_code == 200 and "<script>" not in r.text, good
    # a session whose subject is garbage is no person
    for subject in ("\x01alice@example.com", "\u202ealice@example.com", "", "x" * 300, "a b@example.com"):
        s = session(srv, subject, "employee") if subject else None
        if s is not None:
            assert s.get(srv.url + "/me.json").json()["devices"] == []
            assert s.get(srv.url + "/me").status_code == 200


def test_unreadable_stored_data_is_shown_not_a_crash(world):
    srv, _, ids = world
    from server.models import MdmRecordRow, Report
    with srv.engine.begin() as conn:
        rid = conn.execute(select(Device.last_report_id).where(Device.id == ids["win"])).scalar_one()
        conn.execute(update(Report).where(Report.report_id == rid).values(body="{not json"))
        conn.execute(update(MdmRecordRow).where(MdmRecordRow.source_id == "m-2")
                     .values(data='{"user_email":"alice@example.com", "broken": '))
    r = session(srv, ALICE, "employee").get(srv.url + "/me.json")
    assert r.status_code == 200
    devs = by_id(r.json())
    assert devs[ids["win"]]["status"] == "unknown" and devs[ids["win"]]["practices"] == []
    assert "jamf:m-2" not in devs and "jamf:m-1" in devs
    assert session(srv, ALICE, "employee").get(srv.url + "/me").status_code == 200


# -- in a real browser: 1280 px and a phone's 390 px ------------------------------------------

SHOTS = os.path.join(srvkit.ROOT, "docs", "screenshots")


@pytest.mark.skipif(__import__("srvcdp").chromium_path() is None,
                    reason="chromium not installed (apt-get install chromium)")
def test_me_in_chromium_at_1280_and_390(tmp_path):
    """Screenshots of /me at 1280 and 390 px wide; at 390 nothing overflows sideways.
    CHECKUP_WRITE_SCREENSHOTS=1 also writes them to docs/screenshots/me-1280.png and
    me-390.png (the README's)."""
    import srvcdp
    srv = srvkit.LiveServer("sqlite:///" + str(tmp_path / "server.sqlite3")).start()
    b = None
    try:
        populate(srv, tmp_path)
        token, _ = create_session(srv.engine, ALICE, "oidc", "employee", "127.0.0.1", 1)
        b = srvcdp.Browser()
        b.call("Network.setCookie", {"name": SESSION_COOKIE, "value": token, "url": srv.url,
                                     "httpOnly": True}, session=True)
        for width, mobile, cap in ((1280, False, 2000), (390, True, 2400)):
            b.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": 900,
                                                          "deviceScaleFactor": 1, "mobile": mobile},
                   session=True)
            b.goto(srv.url + "/me")
            assert b.url == srv.url + "/me"                       # signed in, not sent to /login
            assert b.js("document.scripts.length") == 0           # no JavaScript needed
            assert b.js("document.querySelectorAll('.device-card').length") == 8
            text = b.text()
            assert "Your devices" in text and "Alice's iPhone" in text and "Checkup is not installed" in text
            assert b.js("document.documentElement.scrollWidth") <= width
            # every card and step fits the screen
            widest = b.js("Math.max(...[...document.querySelectorAll('.card, ol.steps li, pre, h2')]"
                          ".map(e => e.getBoundingClientRect().right))")
            assert widest <= width, (width, widest)
            # the steps open without JavaScript (<details>), and fit once open
            b.js("document.querySelectorAll('details.fix').forEach(d => d.open = true)")
            assert b.js("document.documentElement.scrollWidth") <= width
            widest = b.js("Math.max(...[...document.querySelectorAll('ol.steps li, pre')]"
                          ".map(e => e.getBoundingClientRect().right))")
            assert widest <= width, (width, widest)
            font = b.js("parseFloat(getComputedStyle(document.querySelector('ol.steps li')).fontSize)")
            assert font >= 14                                     # readable on a phone
            b.js("document.querySelectorAll('details.fix').forEach((d, i) => d.open = i == 0)")
            height = min(int(b.js("document.documentElement.scrollHeight")), cap)
            b.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                          "deviceScaleFactor": 1, "mobile": mobile},
                   session=True)
            shot = tmp_path / f"me-{width}.png"
            b.screenshot(str(shot))
            from PIL import Image
            with Image.open(shot) as im:
                assert im.size == (width, height)
                assert len(im.convert("RGB").resize((64, 64)).getcolors(4096) or ()) > 20   # not blank
            if os.environ.get("CHECKUP_WRITE_SCREENSHOTS") == "1":
                import shutil
                shutil.copy(shot, os.path.join(SHOTS, f"me-{width}.png"))
    finally:
        if b is not None:
            b.close()
        srv.stop()


# -- the words ---------------------------------------------------------------------------------

def test_every_phone_tablet_and_chromebook_has_its_own_steps():
    from server import people
    data = people.steps_data()
    for practice in ("passcode", "encryption", "os_version"):
        for platform in ("ios", "ipados", "android", "chromeos"):
            steps = people._steps(practice, platform)
            assert steps and steps != data[practice]["any"]["steps"], (practice, platform)
            assert all(s.strip() and len(s) < 200 for s in steps)
    for platform in ("macos", "windows", "linux"):
        assert any("Checkup" in s for s in people._steps("checkup", platform))
    assert people._steps("compromised", "android") == data["compromised"]["any"]["steps"]
    # every summary fills in for every platform
    r = MdmRecord(source="intune", source_id="x", platform=None)
    for practice in ("passcode", "encryption", "compromised"):
        for status, text in data[practice]["summary"].items():
            for platform in ("ios", "ipados", "android", "chromeos", "macos", "windows", "linux", None):
                r.platform = platform
                out = people._summary(practice, status, r, reason="a reason.")
                assert out[0].isupper() and "{" not in out, (practice, status, platform, out)


def test_service_takes_a_connection_and_refuses_what_is_no_email(tmp_path):
    from server.config import load_config
    from server.db import make_engine, migrate
    from server.people import NotAnEmail, normal_email, person_devices
    engine = make_engine("sqlite:///" + str(tmp_path / "s.db"))
    migrate(engine)
    cfg = load_config(None, environ={})
    with engine.connect() as conn:
        assert person_devices(conn, cfg, " Dave@Example.com ") == {"email": "dave@example.com", "devices": []}
    for bad in ("", "dave", "a@b@c", "a\x00@b.c", "\u202ea@b.c", None, 42, "x" * 330 + "@b.c"):
        with pytest.raises(NotAnEmail):
            person_devices(engine, cfg, bad)
        assert normal_email(bad) is None
    engine.dispose()
