"""Issue 13 end to end, every part real: the server under uvicorn (SQLite and PostgreSQL)
with [auth.oidc] against the real OpenID provider (tests/oidc, oidc-provider on loopback)
and a Jamf connector pointed at the Jamf stub API (tests/mdm/mdmstubs.py); a real agent
(`checkup report --now`, `checkup devices --no-browser`, subprocesses) gets the claim link;
a person's browser (requests.Session, following every redirect the server and the IdP
send) signs in, claims the laptop and sees it and the phone on /me; another employee sees
none of it; IT, signed in through the IdP, sees the owner; the audit log has it all.
Also: an MDM user that is no email leaves the device unowned, with the reason on IT's
device page."""
from __future__ import annotations

import html
import os
import re
import sys
from urllib.parse import quote, urljoin, urlsplit

import pytest
import requests
from markupsafe import escape
from sqlalchemy import select

import srvkit
from test_server_claim import agent_cli, agent_config, enrolled, owner, person

sys.path.insert(0, os.path.join(srvkit.ROOT, "tests", "oidc"))
sys.path.insert(0, os.path.join(srvkit.ROOT, "tests", "mdm"))
import idp as testidp  # noqa: E402
from mdmstubs import PEOPLE_SYNC, JamfStub  # noqa: E402

from server.models import AuditEvent, Device  # noqa: E402

needs_idp = pytest.mark.skipif(testidp.missing() is not None,
                               reason=f"test IdP cannot run: {testidp.missing()}")

PORT = srvkit.free_port()        # every server of this module listens here (the IdP knows it)
SERVER = f"http://127.0.0.1:{PORT}"
FIXTURE = os.path.join(srvkit.FIXTURES, "macos", "sonoma-14-5-sip-and-gatekeeper-disabled.json")
ERIN = "erin@example.com"        # the IdP's employee account "erin"
OLGA = "olga@other.test"         # the IdP's other employee, "olga"


@pytest.fixture(scope="module")
def idp():
    provider = testidp.Idp([SERVER + "/auth/oidc/callback"]).start()
    yield provider
    provider.stop()


@pytest.fixture(autouse=True)
def client_secret(monkeypatch):
    monkeypatch.setenv("CHECKUP_OIDC_CLIENT_SECRET", testidp.CLIENT_SECRET)
    monkeypatch.setenv("E2E_JAMF_SECRET", "s3cret")


def laptop_facts() -> dict:
    return srvkit.report_for(FIXTURE)["device"]


def jamf_for(serial: str, hardware_uuid: str) -> JamfStub:
    """Jamf Pro's API, as the stub serves it: Erin's laptop (by its serial, with her email)
    and her iPhone (no passcode), plus a Mac whose user is a plain login name."""
    computers = [
        {"id": "501", "udid": hardware_uuid,
         "general": {"name": "dev-mbp-0388", "reportDate": PEOPLE_SYNC, "platform": "Mac"},
         "hardware": {"serialNumber": serial, "model": "MacBook Pro (14-inch, 2023)"},
         "operatingSystem": {"name": "macOS", "version": "14.5", "build": "23F79"},
         "userAndLocation": {"username": "erin", "realname": "Erin Employee", "email": "Erin@Example.com"}},
    ]
    mobiles = [
        {"mobileDeviceId": "601", "deviceType": "iOS",
         "general": {"udid": "00008110-0000000000000601", "lastInventoryUpdateDate": PEOPLE_SYNC,
                     "displayName": "Erin's iPhone", "osVersion": "26.1", "osBuild": "23B85"},
         "hardware": {"serialNumber": "F2LERIN0001", "model": "iPhone 16", "modelIdentifier": "iPhone17,3"},
         "security": {"dataProtected": False, "passcodePresent": False, "passcodeCompliant": False,
                      "hardwareEncryption": 3, "jailBreakDetected": False},
         "userAndLocation": {"username": "erin", "emailAddress": "erin@example.com"}},
    ]
    return JamfStub(computers, mobiles)


def server(database_url: str, issuer: str, jamf_url: str | None = None) -> srvkit.LiveServer:
    srv = srvkit.LiveServer(database_url, port=PORT)
    srv.cfg.set("auth", "local_login", False)
    for key, value in {"issuer": issuer, "client_id": testidp.CLIENT_ID,
                       "admin_groups": ["checkup-admins"], "viewer_groups": ["checkup-viewers"]}.items():
        srv.cfg.set("auth.oidc", key, value)
    if jamf_url:
        srv.cfg.values["mdm.jamf"] = {"url": jamf_url, "client_id": "cid",
                                      "client_secret_env": "E2E_JAMF_SECRET"}
    return srv.start()


def follow_sign_in(s: requests.Session, login_page: requests.Response, who: str) -> requests.Response:
    """From the server's login page as a person would: the "Sign in with ..." link, the
    IdP's own login page, its form, every redirect back. The last response (not followed)."""
    m = re.search(r'id="sso" href="([^"]+)"', login_page.text)
    assert m, login_page.text[:800]
    assert "Sign in with" in login_page.text
    r = s.get(urljoin(login_page.url, html.unescape(m.group(1))), timeout=30)
    assert r.status_code == 200 and 'id="idp-login"' in r.text, (r.status_code, r.url)
    assert urlsplit(r.url).netloc != urlsplit(SERVER).netloc        # the IdP's page, not ours
    action = re.search(r'<form method="post" action="([^"]+)"', r.text).group(1)
    r = s.post(urljoin(r.url, action), data={"login": who, "password": testidp.PASSWORD},
               allow_redirects=False, timeout=30)
    for _ in range(12):
        assert r.status_code in (302, 303), (r.status_code, r.text[:500])
        url = urljoin(r.url, r.headers["location"])
        r = s.get(url, allow_redirects=False, timeout=30)
        if not url.startswith(SERVER + "/auth/oidc/callback"):
            continue
        return r
    raise AssertionError("never sent back to the server")


def signed_in(who: str, nxt: str) -> requests.Session:
    s = requests.Session()
    page = s.get(SERVER + "/login", params={"next": nxt}, timeout=30)
    r = follow_sign_in(s, page, who)
    assert r.status_code == 303 and r.headers["location"] == nxt, (r.status_code, r.headers)
    return s


def csrf_of(page: str) -> str:
    return html.unescape(re.search(r'name="csrf" value="([^"]+)"', page).group(1))


@needs_idp
def test_claim_sign_in_me_and_it_see_it(idp, database_url, tmp_path):
    facts = laptop_facts()
    report = srvkit.report_for(FIXTURE)
    failing = {c["id"]: c for c in report["checks"] if c["status"] == "fail"}
    assert {"system_integrity", "gatekeeper"} <= set(failing)
    jamf = jamf_for(facts["serial"], facts["hardware_uuid"])
    srv = server(database_url, idp.issuer, jamf.url)
    try:
        _the_whole_loop(srv, tmp_path, facts, failing)
    finally:
        srv.stop()
        jamf.close()


def _the_whole_loop(srv, tmp_path, facts, failing):
    # -- the laptop: a real agent reports, then asks for its link ----------------------
    cfg = agent_config(tmp_path, SERVER, srv.token())
    r = agent_cli(tmp_path, "report", "--now", "--replay", FIXTURE, config=cfg)
    assert r.returncode == 0, r.stdout + r.stderr
    r = agent_cli(tmp_path, "devices", "--no-browser", config=cfg)
    assert r.returncode == 0, r.stderr
    url = r.stdout.strip().splitlines()[-1]
    assert re.fullmatch(re.escape(SERVER) + r"/claim/[A-Za-z0-9_-]{32}", url), r.stdout
    with srv.engine.connect() as conn:
        [dev] = conn.execute(select(Device.id, Device.owner, Device.hostname)).all()
    assert dev.owner is None and dev.hostname == facts["hostname"]

    # -- Erin's browser: the link -> /login -> the IdP -> back -> the claim page -----------
    erin = requests.Session()
    r = erin.get(url, timeout=30)
    assert urlsplit(r.url).path == "/login" and r.history[0].status_code == 303
    path = urlsplit(url).path
    back = follow_sign_in(erin, r, "erin")
    assert back.status_code == 303 and back.headers["location"] == path
    page = erin.get(SERVER + path, timeout=30)
    assert page.status_code == 200 and 'data-state="open"' in page.text, page.text[-1500:]
    assert facts["hostname"] in page.text and "This is my laptop" in page.text
    done = erin.post(SERVER + path, data={"csrf": csrf_of(page.text)}, timeout=30)
    assert done.status_code == 200 and 'data-state="done"' in done.text, done.text[-1500:]
    assert owner(srv, dev.id) == (ERIN, "claim")

    # -- Jamf, synced over HTTP: the laptop's record names Erin too, and her phone ------
    from server.mdm.store import sync_all
    [res] = sync_all(srv.engine, srv.cfg, sources=["jamf"])
    assert res.status == "ok", res.line()
    assert owner(srv, dev.id) == (ERIN, "claim")          # the claim stays; they agree

    # -- /me: the laptop with its failing checks' steps, and the phone from Jamf --------
    me = erin.get(SERVER + "/me", timeout=30)
    assert me.status_code == 200
    assert facts["hostname"] in me.text and "Erin&#39;s iPhone" in me.text
    for check in failing.values():
        for step in check["fix"]["steps"]:
            assert str(escape(step)) in me.text, (check["id"], step)
    data = erin.get(SERVER + "/me.json", timeout=30).json()
    assert data["email"] == ERIN
    by_source = sorted((d["source"], d["kind"]) for d in data["devices"])
    assert by_source == [("agent", "laptop"), ("jamf", "phone")], data
    [lap] = [d for d in data["devices"] if d["source"] == "agent"]
    [phone] = [d for d in data["devices"] if d["source"] == "jamf"]
    assert lap["id"] == dev.id and lap["status"] == "fail"
    steps = {p["id"]: p.get("steps") for p in lap["practices"] if p["status"] == "fail"}
    for cid, check in failing.items():
        assert steps[cid] == check["fix"]["steps"], cid
    assert phone["platform"] == "ios" and phone["status"] == "fail"
    assert any(p["status"] == "fail" and p.get("steps") for p in phone["practices"]), phone

    # -- Olga, another employee: nothing of Erin's, anywhere --------------------------
    olga = signed_in("olga", "/me")
    assert olga.get(SERVER + "/me.json", timeout=30).json() == {"email": OLGA, "devices": []}
    mine = olga.get(SERVER + "/me", timeout=30)
    assert mine.status_code == 200
    for secret_bit in (facts["hostname"], "Erin", dev.id, facts["serial"]):
        assert secret_bit not in mine.text
    for guess in (f"/people/{ERIN}", f"/people/{quote(ERIN)}", f"/api/v1/people/{ERIN}/devices",
                  f"/devices/{dev.id}", f"/devices?owner={ERIN}", "/devices.csv", "/reconcile.json"):
        r = olga.get(SERVER + guess, allow_redirects=False, timeout=30)
        assert r.status_code in (403, 404), (guess, r.status_code)
        assert facts["hostname"] not in r.text and dev.id not in r.text, guess
    # the used link: refused, and the laptop stays Erin's
    page = olga.get(url, timeout=30)
    assert page.status_code == 410 and 'data-state="used"' in page.text
    r = olga.post(url, data={"csrf": csrf_of(mine.text)}, timeout=30)
    assert r.status_code == 410 and 'data-state="used"' in r.text
    assert owner(srv, dev.id) == (ERIN, "claim")

    # -- IT: Alice, admin through the IdP's group --------------------------------------
    alice = signed_in("alice", "/devices")
    listing = alice.get(SERVER + "/devices", params={"owner": ERIN}, timeout=30)
    assert listing.status_code == 200 and facts["hostname"] in listing.text and ERIN in listing.text
    device_page = alice.get(f"{SERVER}/devices/{dev.id}", timeout=30)
    assert ERIN in device_page.text and "claimed by the person from this laptop" in device_page.text
    assert 'id="owner-unmapped"' not in device_page.text
    person_page = alice.get(f"{SERVER}/people/{ERIN}", timeout=30)
    assert person_page.status_code == 200
    assert facts["hostname"] in person_page.text and "Erin&#39;s iPhone" in person_page.text

    # -- the audit log: the three sign-ins and the claim -----------------------------
    with srv.engine.connect() as conn:
        rows = conn.execute(select(AuditEvent).order_by(AuditEvent.id)).all()
    sign_ins = [(r.actor, r.role, r.ok) for r in rows if r.action == "sign_in"]
    assert sign_ins == [(ERIN, "employee", True), (OLGA, "employee", True),
                        ("alice.admin@example.com", "admin", True)], sign_ins
    claims = [r for r in rows if r.action == "owner.claim"]
    assert [(r.actor, r.target, r.ok) for r in claims] == [(ERIN, dev.id, True)]
    audit_page = alice.get(SERVER + "/audit", timeout=30)
    assert audit_page.status_code == 200 and "owner.claim" in audit_page.text


# -- the same in a real browser: headless Chromium, claim -> /me ------------------------

@needs_idp
@pytest.mark.skipif(__import__("srvcdp").chromium_path() is None,
                    reason="chromium not installed (apt-get install chromium)")
def test_claim_to_me_in_chromium(idp, tmp_path):
    import srvcdp
    from test_server_claim import MAC, ask
    srv = server("sqlite:///" + str(tmp_path / "s.sqlite3"), idp.issuer)
    b = None
    try:
        dev, secret = enrolled(srv)
        r = ask(srv, secret)                     # what `checkup devices` asks (tested above)
        assert r.status_code == 201, r.text
        url = r.json()["url"]
        b = srvcdp.Browser()
        b.goto(url)
        assert "/login" in b.url and "Sign in with" in b.text(), b.url
        b.submit_by_click("#sso")
        assert b.url.startswith(idp.issuer + "/interaction/"), b.url
        b.fill("#idp-login", "erin")
        b.fill("#idp-password", testidp.PASSWORD)
        b.submit_by_click("#idp-submit")
        assert b.url == url and "This is my laptop" in b.text(), (b.url, b.text()[:500])
        b.submit_by_click("#claim-button")
        assert b.js("document.querySelector('#claim').dataset.state") == "done", b.text()[:500]
        assert owner(srv, dev) == (ERIN, "claim")
        b.submit_by_click("#see-devices")
        assert b.url == SERVER + "/me", b.url
        assert MAC["hostname"] in b.text() and ERIN in b.text()
        b.screenshot(str(tmp_path / "me-after-claim.png"))
    finally:
        if b is not None:
            b.close()
        srv.stop()


# -- an MDM user that is no email: unowned, and the device page says why ---------------

def test_unmappable_mdm_user_leaves_the_device_unowned_with_the_reason(live_server):
    from server.mdm.store import sync_source
    srv = live_server
    dev, _ = enrolled(srv, {"platform": "darwin", "hostname": "lab-mac", "serial": "C02LAB000001",
                            "os_name": "macOS", "os_version": "14.5"})
    computers = [{"id": "701", "general": {"name": "lab-mac", "reportDate": PEOPLE_SYNC, "platform": "Mac"},
                  "hardware": {"serialNumber": "C02LAB000001", "model": "Mac mini"},
                  "operatingSystem": {"name": "macOS", "version": "14.5"},
                  "userAndLocation": {"username": "<b>labuser</b>", "email": ""}}]
    jamf = JamfStub(computers, [])
    try:
        res = sync_source(srv.engine, "jamf", {"url": jamf.url, "client_id": "cid",
                                               "client_secret_env": "E2E_JAMF_SECRET"})
    finally:
        jamf.close()
    assert res.status == "ok", res.line()
    assert owner(srv, dev) == (None, None)
    reason = "Jamf user &#39;&lt;b&gt;labuser&lt;/b&gt;&#39; is not an email, so Jamf gives this device no owner."

    admin, csrf = person(srv, "it-admin", role="admin", auth="local")
    page = admin.get(f"{srv.url}/devices/{dev}", timeout=30)
    assert page.status_code == 200 and 'id="owner-unmapped"' in page.text
    assert reason in page.text and "<b>labuser" not in page.text
    assert "Set the owner below" in page.text
    viewer, _ = person(srv, "it-viewer", role="viewer", auth="local")
    page = viewer.get(f"{srv.url}/devices/{dev}", timeout=30)
    assert reason in page.text and "Set the owner below" not in page.text

    # IT sets the owner: the reason goes (the device has an owner now)
    r = admin.post(f"{srv.url}/devices/{dev}/owner", data={"csrf": csrf, "action": "set",
                                                           "email": "lab@example.com"}, timeout=30)
    assert r.status_code == 200 and owner(srv, dev) == ("lab@example.com", "it"), r.text[-500:]
    assert 'id="owner-unmapped"' not in r.text and "labuser" not in r.text
