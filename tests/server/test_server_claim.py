"""Claiming a laptop (DESIGN "Claim") and IT's owner form, against the real server (uvicorn)
on SQLite and PostgreSQL: the agent's POST /api/v1/claim with its device secret, the page
a signed-in person opens, single use, expiry, IT's owner, wrong secrets, guessed codes,
the audit rows; and the agent's `checkup devices` end to end."""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import uuid

import requests
from sqlalchemy import select, update

import srvkit
from server import owners
from server.access import SESSION_COOKIE
from server.db import utcnow
from server.models import AuditEvent, ClaimCode, Device
from server.sessions import create_session

MAC = {"platform": "darwin", "hostname": "alice-mbp", "serial": "C02XK1JHJG5H",
       "hardware_uuid": "564D8E3A-1B2C-4D5E-8F90-A1B2C3D4E5F6", "os_name": "macOS",
       "os_version": "14.5"}


def enrolled(srv, device=MAC):
    r = requests.post(srv.url + "/api/v1/enroll", timeout=30,
                      json={"enroll_token": srv.token(), "device": device})
    assert r.status_code == 201, r.text
    return r.json()["device_id"], r.json()["device_secret"]


def ask(srv, secret):
    headers = {"Authorization": f"Bearer {secret}"} if secret is not None else {}
    return requests.post(srv.url + "/api/v1/claim", headers=headers, timeout=30)


def new_code(srv, secret) -> str:
    r = ask(srv, secret)
    assert r.status_code == 201, r.text
    return r.json()["url"].rsplit("/", 1)[1]


def person(srv, email="alice@example.com", role="employee", auth="oidc"):
    """A browser signed in as ``email``: (requests session, its CSRF token). A local
    session needs its IT login to exist."""
    if auth == "local":
        srv.admin(email)
    token, info = create_session(srv.engine, email, auth, role, "127.0.0.1", 1)
    s = requests.Session()
    s.cookies.set(SESSION_COOKIE, token)
    return s, info.csrf


def owner(srv, dev_id):
    with srv.engine.connect() as conn:
        return tuple(conn.execute(select(Device.owner, Device.owner_source)
                                  .where(Device.id == dev_id)).one())


def audit(srv, action=None):
    with srv.engine.connect() as conn:
        q = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            q = q.where(AuditEvent.action == action)
        return list(conn.execute(q))


def state_of(html: str) -> str:
    return re.search(r'data-state="([a-z_]+)"', html).group(1)


def test_claim_link_sign_in_and_claim(live_server):
    srv = live_server
    dev, secret = enrolled(srv)
    before = utcnow()
    r = ask(srv, secret)
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"url", "expires_at"}
    assert body["url"].startswith(srv.url + "/claim/")
    code = body["url"].rsplit("/", 1)[1]
    assert len(code) >= 32 and re.fullmatch(r"[A-Za-z0-9_-]+", code)
    expires = dt.datetime.strptime(body["expires_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert before + dt.timedelta(minutes=14) < expires <= utcnow() + dt.timedelta(minutes=15, seconds=1)
    # only the code's hash is stored
    with srv.engine.connect() as conn:
        rows = list(conn.execute(select(ClaimCode)))
    assert [row.code_hash for row in rows] == [hashlib.sha256(code.encode()).hexdigest()]
    assert code not in repr([tuple(row) for row in rows])

    # nobody signed in: to the login, and back here after it
    r = requests.get(body["url"], allow_redirects=False, timeout=30)
    assert r.status_code == 303
    assert r.headers["location"] == f"/login?next=%2Fclaim%2F{code}"

    alice, csrf = person(srv)
    r = alice.get(body["url"], timeout=30)
    assert r.status_code == 200 and state_of(r.text) == "open"
    assert "alice-mbp" in r.text and "This is my laptop" in r.text
    assert owner(srv, dev) == (None, None)          # looking changes nothing

    r = alice.post(body["url"], data={"csrf": "wrong"}, timeout=30)
    assert r.status_code == 403 and "nothing changed" in r.text
    assert owner(srv, dev) == (None, None)
    r = alice.post(body["url"], data={}, timeout=30)
    assert r.status_code == 403 and owner(srv, dev) == (None, None)

    r = alice.post(body["url"], data={"csrf": csrf}, timeout=30)
    assert r.status_code == 200 and state_of(r.text) == "done", r.text
    assert 'href="/me"' in r.text
    assert owner(srv, dev) == ("alice@example.com", "claim")
    [row] = audit(srv, "owner.claim")
    assert (row.actor, row.role, row.target, row.address, row.ok) == (
        "alice@example.com", "employee", dev, "127.0.0.1", True)
    assert "alice@example.com (claim)" in row.detail

    # single use: alice is told it is hers, bob that it was used; nothing changes
    r = alice.post(body["url"], data={"csrf": csrf}, timeout=30)
    assert r.status_code == 200 and state_of(r.text) == "yours"
    bob, bob_csrf = person(srv, "bob@example.com")
    r = bob.get(body["url"], timeout=30)
    assert r.status_code == 410 and state_of(r.text) == "used"
    r = bob.post(body["url"], data={"csrf": bob_csrf}, timeout=30)
    assert r.status_code == 410 and state_of(r.text) == "used"
    assert owner(srv, dev) == ("alice@example.com", "claim")
    assert len(audit(srv, "owner.claim")) == 1

    # a new link from the laptop: already hers
    code2 = new_code(srv, secret)
    r = alice.get(f"{srv.url}/claim/{code2}", timeout=30)
    assert r.status_code == 200 and state_of(r.text) == "yours"
    # the laptop passed on to bob: his claim replaces hers (a claim over a claim)
    code3 = new_code(srv, secret)
    r = bob.post(f"{srv.url}/claim/{code3}", data={"csrf": bob_csrf}, timeout=30)
    assert state_of(r.text) == "done" and owner(srv, dev) == ("bob@example.com", "claim")
    assert "was alice@example.com (claim)" in audit(srv, "owner.claim")[-1].detail


def test_expired_and_it_owned_links_change_nothing(live_server):
    srv = live_server
    dev, secret = enrolled(srv)
    alice, csrf = person(srv)
    code = new_code(srv, secret)
    with srv.engine.begin() as conn:
        conn.execute(update(ClaimCode).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    r = alice.get(f"{srv.url}/claim/{code}", timeout=30)
    assert r.status_code == 410 and state_of(r.text) == "expired" and "15 minutes" in r.text
    r = alice.post(f"{srv.url}/claim/{code}", data={"csrf": csrf}, timeout=30)
    assert r.status_code == 410 and state_of(r.text) == "expired"
    assert owner(srv, dev) == (None, None)

    owners.set_owner(srv.engine, dev, "carol@example.com", "it", actor="it-admin")
    code = new_code(srv, secret)
    r = alice.get(f"{srv.url}/claim/{code}", timeout=30)
    assert r.status_code == 409 and state_of(r.text) == "it_owned" and "Ask IT" in r.text
    assert "carol" not in r.text                    # whose it is stays with IT
    r = alice.post(f"{srv.url}/claim/{code}", data={"csrf": csrf}, timeout=30)
    assert r.status_code == 409 and state_of(r.text) == "it_owned"
    assert owner(srv, dev) == ("carol@example.com", "it")
    assert audit(srv, "owner.claim") == []
    # carol herself: already hers
    carol, carol_csrf = person(srv, "Carol@Example.com")
    r = carol.post(f"{srv.url}/claim/{code}", data={"csrf": carol_csrf}, timeout=30)
    assert r.status_code == 200 and state_of(r.text) == "yours"
    assert owner(srv, dev) == ("carol@example.com", "it")

    # an MDM's owner: the person's claim replaces it; their own MDM ownership becomes a claim
    dev2, secret2 = enrolled(srv, dict(MAC, hostname="spare", serial="C02SPARE0001",
                                       hardware_uuid="11111111-2222-3333-4444-555555555555"))
    owners.set_owner(srv.engine, dev2, "alice@example.com", "mdm", actor="mdm:jamf")
    code2 = new_code(srv, secret2)
    r = alice.get(f"{srv.url}/claim/{code2}", timeout=30)   # the button is offered
    assert state_of(r.text) == "open"
    r = alice.post(f"{srv.url}/claim/{code2}", data={"csrf": csrf}, timeout=30)
    assert state_of(r.text) == "done" and owner(srv, dev2) == ("alice@example.com", "claim")
    owners.set_owner(srv.engine, dev2, "dave@example.com", "mdm", actor="mdm:jamf")   # kept
    assert owner(srv, dev2) == ("alice@example.com", "claim")


def test_wrong_secrets_guessed_codes_and_limits(live_server):
    srv = live_server
    dev, secret = enrolled(srv)
    did = secret.split(".", 1)[0]
    for bad in (None, "", "nonsense", did + ".wrong", "x" * 500, secret + "x", "." + secret):
        r = ask(srv, bad)
        assert r.status_code == 401, (bad, r.text)
        assert r.json()["detail"] and r.headers["WWW-Authenticate"] == "Bearer"
    r = requests.post(srv.url + "/api/v1/claim", headers={"Authorization": "Basic " + secret},
                      timeout=30)
    assert r.status_code == 401
    assert srv.count("claim_codes") == 0

    alice, csrf = person(srv)
    for guess in (secrets.token_urlsafe(24), secrets.token_urlsafe(24)[:-1] + "A", "a" * 20,
                  "a" * 1000, "%00", "x%00y", "%E2%80%AEabc", "..%2F..%2Fetc", "null",
                  "' OR 1=1 --"):
        r = alice.get(f"{srv.url}/claim/{guess}", timeout=30)
        assert r.status_code == 404, (guess, r.status_code)
        if "%2F" not in guess:   # a slash in the code is no claim route at all
            assert state_of(r.text) == "unknown", guess
        r = alice.post(f"{srv.url}/claim/{guess}", data={"csrf": csrf}, timeout=30)
        assert r.status_code == 404, guess
    assert owner(srv, dev) == (None, None)

    # a local IT login (no email) cannot own a laptop
    it, it_csrf = person(srv, "it-admin", role="admin", auth="local")
    code = new_code(srv, secret)
    r = it.post(f"{srv.url}/claim/{code}", data={"csrf": it_csrf}, timeout=30)
    assert r.status_code == 403 and state_of(r.text) == "not_email"
    assert owner(srv, dev) == (None, None)

    # five links per 15 minutes per device (one used above), then 429 with Retry-After
    for _ in range(4):
        assert ask(srv, secret).status_code == 201
    r = ask(srv, secret)
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 15 * 60 + 1
    # another device is not limited by this one
    _, other = enrolled(srv, dict(MAC, hostname="b", serial="C02OTHER0001",
                                  hardware_uuid="21111111-2222-3333-4444-555555555555"))
    assert ask(srv, other).status_code == 201
    # the earlier link still works
    r = alice.post(f"{srv.url}/claim/{code}", data={"csrf": csrf}, timeout=30)
    assert state_of(r.text) == "done"

    # a revoked device's secret makes no more links, and its open links still need sign-in
    from server.devices import revoke_device
    revoke_device(srv.engine, dev, "test")
    assert ask(srv, secret).status_code == 401


def test_public_url_names_the_link(database_url):
    srv = srvkit.LiveServer(database_url, public_url="https://checkup.example.com/").start()
    try:
        _, secret = enrolled(srv)
        url = ask(srv, secret).json()["url"]
        assert re.fullmatch(r"https://checkup\.example\.com/claim/[A-Za-z0-9_-]{32}", url), url
    finally:
        srv.stop()


def test_it_sets_and_clears_the_owner_on_the_device_page(live_server):
    srv = live_server
    dev, secret = enrolled(srv)
    owners.set_owner(srv.engine, dev, "alice@example.com", "claim", actor="alice@example.com")
    admin, csrf = person(srv, "it-admin", role="admin", auth="local")
    page = admin.get(f"{srv.url}/devices/{dev}", timeout=30)
    assert page.status_code == 200 and 'id="owner-form"' in page.text
    assert "alice@example.com" in page.text and "claimed by the person" in page.text

    url = f"{srv.url}/devices/{dev}/owner"
    r = admin.post(url, data={"csrf": "nope", "email": "bob@example.com"}, allow_redirects=False)
    assert r.status_code == 400 and owner(srv, dev) == ("alice@example.com", "claim")
    r = admin.post(url, data={"csrf": csrf, "email": "not an email"}, allow_redirects=False)
    assert r.status_code == 422 and "is not an email address" in r.text
    r = admin.post(url, data={"csrf": csrf, "email": "Bob@Example.com", "action": "set"},
                   allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/devices/{dev}?done=owner"
    assert owner(srv, dev) == ("bob@example.com", "it")
    row = audit(srv, "owner.set")[-1]
    assert (row.actor, row.role, row.target) == ("it-admin", "admin", dev)
    assert "was alice@example.com (claim)" in row.detail
    page = admin.get(f"{srv.url}/devices/{dev}?done=owner", timeout=30)
    assert "Owner set." in page.text and "set by IT" in page.text

    r = admin.post(f"{srv.url}/devices/{uuid.uuid4().hex}/owner",
                   data={"csrf": csrf, "email": "bob@example.com"}, allow_redirects=False)
    assert r.status_code == 404
    r = admin.post(f"{srv.url}/devices/x%00y/owner", data={"csrf": csrf, "email": "b@example.com"},
                   allow_redirects=False)
    assert r.status_code == 404

    for who, role in (("viewer@example.com", "viewer"), ("alice@example.com", "employee")):
        s, c = person(srv, who, role=role)
        r = s.post(url, data={"csrf": c, "action": "clear"}, allow_redirects=False)
        assert r.status_code == 403, role
    r = requests.post(url, data={"action": "clear"}, allow_redirects=False, timeout=30)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    assert owner(srv, dev) == ("bob@example.com", "it")

    r = admin.post(url, data={"csrf": csrf, "action": "clear"}, allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/devices/{dev}?done=owner-cleared"
    assert owner(srv, dev) == (None, None)
    assert audit(srv, "owner.clear")[-1].actor == "it-admin"


# -- the agent: `checkup devices` and the tray's "See all my devices", for real ----------

def agent_cli(tmp_path, *args, config=None, env_extra=None):
    import os
    import subprocess
    import sys
    env = dict(os.environ, PYTHONPATH=srvkit.ROOT, XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"))
    env.pop("BROWSER", None)
    env.update(env_extra or {})
    cmd = [sys.executable, "-c", "import sys; from agent.cli import main; sys.exit(main())", *args]
    if config:
        cmd += ["--config", str(config)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120,
                          cwd=srvkit.ROOT)


def agent_config(tmp_path, url, token=""):
    path = tmp_path / "checkup.toml"
    path.write_text(f'[server]\nurl = "{url}"\nenroll_token = "{token}"\n')
    return path


def test_checkup_devices_end_to_end(live_server, tmp_path):
    srv = live_server
    # reporting off: says so
    off = tmp_path / "off.toml"
    off.write_text("[agent]\n")
    r = agent_cli(tmp_path, "devices", config=off)
    assert r.returncode == 3 and "Reporting to IT is off" in r.stderr and r.stdout == ""
    # reporting on, not enrolled yet
    cfg = agent_config(tmp_path, srv.url, srv.token())
    r = agent_cli(tmp_path, "devices", config=cfg)
    assert r.returncode == 3 and "not connected to IT's server yet" in r.stderr
    assert srv.count("claim_codes") == 0
    # the laptop reports (enrolls), then asks for its link; the browser is opened with it
    fixture = srvkit.fixture_files()[0]
    r = agent_cli(tmp_path, "report", "--now", "--replay", fixture, config=cfg)
    assert r.returncode == 0, r.stdout + r.stderr
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{opened}'\n")
    browser.chmod(0o755)
    r = agent_cli(tmp_path, "devices", config=cfg, env_extra={"BROWSER": f"{browser} %s"})
    assert r.returncode == 0, r.stderr
    url = r.stdout.strip().splitlines()[-1]
    assert re.fullmatch(re.escape(srv.url) + r"/claim/[A-Za-z0-9_-]{32}", url), r.stdout
    assert "works once, and expires in 15 minutes" in r.stdout
    for _ in range(50):
        if opened.exists() and opened.read_text().strip():
            break
        import time
        time.sleep(0.1)
    assert opened.read_text().split() == [url]
    # the agent sent no user name: the server knows the device, nobody owns it yet
    with srv.engine.connect() as conn:
        [dev] = conn.execute(select(Device.id, Device.owner)).all()
    assert dev.owner is None
    # the person signs in and claims it
    alice, csrf = person(srv)
    r = alice.post(url, data={"csrf": csrf}, timeout=30)
    assert state_of(r.text) == "done" and owner(srv, dev.id) == ("alice@example.com", "claim")
    # --no-browser prints only
    r = agent_cli(tmp_path, "devices", "--no-browser", config=cfg)
    assert r.returncode == 0 and "/claim/" in r.stdout and len(opened.read_text().split()) == 1
    # IT removes the laptop: the server no longer knows it
    from server.devices import revoke_device
    revoke_device(srv.engine, dev.id, "test")
    r = agent_cli(tmp_path, "devices", config=cfg)
    assert r.returncode == 2 and "no longer knows this computer" in r.stderr
    # the server is down: says so
    srv.stop()
    r = agent_cli(tmp_path, "devices", config=cfg)
    assert r.returncode == 1 and "Can't reach IT's server" in r.stderr, r.stderr


def test_tray_item_see_all_my_devices(live_server, tmp_path, monkeypatch):
    import os
    monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    import pystray

    from agent.reporting import report_now
    from agent.tray.app import TrayApp
    srv = live_server

    def tray(settings, opened):
        return TrayApp(lambda: {}, settings=settings, replay=True, pages_dir=str(tmp_path / "p"),
                       state_file=str(tmp_path / "tray.json"), open_url=opened.append,
                       notifier=None)

    def labels(app):
        return [getattr(i, "text", i) for i in app.menu_items(pystray.MenuItem, pystray.Menu)]

    from agent.config import Settings
    opened: list[str] = []
    assert "See all my devices" not in labels(tray(Settings(), opened))     # reporting off
    settings = srvkit.agent_settings(srv.url, srv.token())
    app = tray(settings, opened)
    items = app.menu_items(pystray.MenuItem, pystray.Menu)
    [item] = [i for i in items if getattr(i, "text", None) == "See all my devices"]
    # not enrolled yet: nothing opens, the reason is kept (and logged)
    app.see_my_devices(wait=True)
    assert opened == [] and "not connected to IT's server yet" in app.devices_message
    code, msg = report_now(settings, report=srvkit.report_for(srvkit.fixture_files()[0]))
    assert code == 0, msg
    assert os.path.isdir(tmp_path / "state")
    item(app.icon)                                   # the menu item itself, as pystray calls it
    for _ in range(100):
        if opened:
            break
        import time
        time.sleep(0.05)
    assert len(opened) == 1 and opened[0].startswith(srv.url + "/claim/")
    alice, csrf = person(srv)
    r = alice.get(opened[0], timeout=30)
    assert state_of(r.text) == "open" and "This is my laptop" in r.text


def test_owner_mismatch_on_it_pages_and_exports(live_server):
    """A claimed laptop whose Jamf record names someone else: the finding on the MDM page,
    the device page, and in /reconcile.json and /reconcile.csv (IT's exports over HTTP)."""
    from test_server_owners import StubConnector, mac

    from server.mdm.store import sync_source
    srv = live_server
    dev, secret = enrolled(srv)
    alice, csrf = person(srv)
    r = alice.post(f"{srv.url}/claim/{new_code(srv, secret)}", data={"csrf": csrf}, timeout=30)
    assert state_of(r.text) == "done"
    res = sync_source(srv.engine, "jamf", {}, connector=StubConnector(
        [mac("jamf", "77", "C02XK1JHJG5H", "bob@example.com", hostname="alice-mbp")]))
    assert res.status == "ok"
    assert owner(srv, dev) == ("alice@example.com", "claim")      # the MDM does not win
    admin, _ = person(srv, "it-admin", role="admin", auth="local")
    page = admin.get(srv.url + "/reconcile?kind=owner_mismatch", timeout=30)
    assert page.status_code == 200 and "Owner differs (1)" in page.text
    assert "Jamf says the user is bob@example.com, but alice@example.com claimed it." in page.text
    data = admin.get(srv.url + "/reconcile.json", timeout=30).json()
    [f] = [f for f in data["findings"] if f["kind"] == "owner_mismatch"]
    assert (f["device_id"], f["agent"], f["mdm"], f["sources"]) == (
        dev, "alice@example.com", "bob@example.com", ["agent", "jamf"])
    csv_text = admin.get(srv.url + "/reconcile.csv", timeout=30).text
    assert any(ln.startswith("owner_mismatch,C02XK1JHJG5H,alice-mbp,agent jamf,")
               for ln in csv_text.splitlines())
    page = admin.get(f"{srv.url}/devices/{dev}", timeout=30)
    assert "owner_mismatch" in page.text and "bob@example.com" in page.text
