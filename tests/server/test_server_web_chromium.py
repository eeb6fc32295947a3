"""IT's pages in headless Chromium (driven over the DevTools pipe): log in,
filter the device list, open a device, edit the policy (a bad one is refused).
Plus the session/CSRF rules checked with plain HTTP."""
from __future__ import annotations

import os
import re
import time

import pytest
import requests

import srvkit
import srvcdp
from agent.reporting import report_now

pytestmark = pytest.mark.skipif(srvcdp.chromium_path() is None,
                                reason="chromium not installed (apt-get install chromium)")


def populate(srv, tmp_path) -> dict[str, dict]:
    token = srv.token()
    reports = {}
    for i, fx in enumerate(srvkit.fixture_files()):
        sd = str(tmp_path / f"a{i}")
        os.makedirs(sd)
        rep = srvkit.with_id(srvkit.report_for(fx))
        code, msg = report_now(srvkit.agent_settings(srv.url, token), sd, report=rep)
        assert code == 0, msg
        reports[fx] = rep
    return reports


@pytest.fixture
def browser():
    b = srvcdp.Browser()
    yield b
    b.close()


def test_it_pages_in_chromium(live_server, tmp_path, browser):
    srv = live_server
    reports = populate(srv, tmp_path)
    user, password = srv.admin()
    b = browser

    b.goto(srv.url + "/devices?status=fail")
    assert "/login" in b.url  # not logged in
    b.fill("#username", user)
    b.fill("#password", "wrong password!")
    b.submit_by_click("#login")
    assert "Wrong user name or password" in b.text()
    b.fill("#username", user)
    b.fill("#password", password)
    b.submit_by_click("#login")
    assert b.url.endswith("/devices?status=fail")  # back where we were going

    b.goto(srv.url + "/")
    page = b.text()
    assert "Fleet overview" in page and f"{len(reports)} devices enrolled" in page
    n_fail = sum(1 for r in reports.values() if r["status"] == "fail")
    tiles = b.js("[...document.querySelectorAll('#by-status .tile')].map(t => t.innerText)")
    assert any(t.startswith(str(n_fail)) and "Failing" in t for t in tiles)

    # filter: failing devices on Windows
    b.goto(srv.url + "/devices")
    b.js("document.querySelector('#f-status').value = 'fail'")
    b.js("document.querySelector('#f-platform').value = 'windows'")
    b.submit_by_click("#apply")
    assert "status=fail" in b.url and "platform=windows" in b.url
    names = b.js("[...document.querySelectorAll('#devices tr.device td:first-child a')].map(a => a.innerText)")
    expect = sorted(r["device"]["hostname"] for r in reports.values()
                    if r["status"] == "fail" and r["device"]["platform"] == "windows")
    assert sorted(names) == expect and expect

    # filter by a failing check
    b.goto(srv.url + "/devices?check=disk_encryption")
    names = b.js("[...document.querySelectorAll('#devices tr.device td:first-child a')].map(a => a.innerText)")
    expect = sorted(r["device"]["hostname"] for r in reports.values()
                    if any(c["id"] == "disk_encryption" and c["status"] in ("fail", "nudge")
                           for c in r["checks"]))
    assert sorted(names) == expect

    # open a device
    target = next(r for r in reports.values() if r["status"] == "fail")
    b.goto(srv.url + "/devices?q=" + target["device"]["hostname"])
    b.submit_by_click("#devices tr.device a")
    assert "/devices/" in b.url
    page = b.text()
    assert target["device"]["hostname"] in page
    failing = [c for c in target["checks"] if c["status"] == "fail"]
    for c in failing:
        assert b.js(f"!!document.querySelector('#check-{c['id']}')")
    assert "How the employee fixes it" in page
    assert b.js("document.querySelectorAll('#history .day').length") >= 1
    b.screenshot(str(tmp_path / "device.png"))

    # edit the policy: a typo is refused with the reason, a good one is saved
    b.goto(srv.url + "/policy")
    assert "No organisation policy is set" in b.text()
    b.fill("#policy", "[screen_lok]\nmax_seconds = 600\n")
    b.submit_by_click("#save")
    assert "[screen_lok] is not a check" in b.text()
    assert srv.count("org_policy") == 0
    b.fill("#policy", '[organization]\nname = "Example Ltd"\n\n[screen_lock]\nmax_seconds = 600\n')
    b.submit_by_click("#save")
    assert "Saved" in b.text() and "max_seconds = 600" in b.js("document.querySelector('#policy').value")
    assert srv.count("org_policy") == 1

    # the session cookie is out of reach of the page's scripts
    assert "checkup_session" not in b.js("document.cookie")
    # opening /logout (a link, a GET) only asks; the button logs out
    b.goto(srv.url + "/logout")
    assert "Log out?" in b.text()
    b.goto(srv.url + "/policy")
    assert b.url.endswith("/policy")
    # log out ends the session
    b.submit_by_click(".logout button")
    b.goto(srv.url + "/policy")
    assert "/login" in b.url


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_session_cookie_and_csrf(live_server):
    srv = live_server
    user, password = srv.admin()
    s = requests.Session()
    r = s.get(srv.url + "/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
    # login without the pre-session cookie's token: refused
    r = requests.post(srv.url + "/login", data={"username": user, "password": password, "csrf": "x"},
                      allow_redirects=False)
    assert r.status_code == 400
    r = s.post(srv.url + "/login", data={"username": user, "password": password, "csrf": csrf,
                                         "next": "https://evil.example/"}, allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"  # no open redirect
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert s.get(srv.url + "/policy").status_code == 200
    # a cross-site form post without the CSRF token is refused
    r = s.post(srv.url + "/policy", data={"policy": "[firewall]\nlevel = \"off\"\n"})
    assert r.status_code == 400 and srv.count("org_policy") == 0
    # a forged cookie is not a session
    r = requests.get(srv.url + "/", cookies={"checkup_session": "forged.value"}, allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    h = requests.get(srv.url + "/login").headers
    assert "frame-ancestors 'none'" in h["content-security-policy"] and h["x-frame-options"] == "DENY"


def test_approve_and_revoke_on_the_device_page_in_chromium(live_server, tmp_path, browser):
    """IT approves a reinstalled laptop and revokes a device with the page's own buttons;
    the revoke button does nothing until its confirmation box is ticked."""
    srv = live_server
    mac = {"platform": "darwin", "hostname": "alice-mbp", "serial": "C02XK1JHJG5H",
           "hardware_uuid": "564D8E3A-1B2C-4D5E-8F90-A1B2C3D4E5F6", "os_name": "macOS"}
    token = srv.token()
    r = requests.post(srv.url + "/api/v1/enroll", json={"enroll_token": token, "device": mac})
    dev_id = r.json()["device_id"]
    waiting = requests.post(srv.url + "/api/v1/enroll",
                            json={"enroll_token": token, "device": dict(mac, hostname="reinstalled")}).json()
    user, password = srv.admin()
    b = browser
    b.goto(srv.url + "/devices")
    b.fill("#username", user)
    b.fill("#password", password)
    b.submit_by_click("#login")
    assert "Waiting for IT: alice-mbp" in b.text()
    b.submit_by_click("#waiting a")
    assert "Waiting for IT" in b.text() and "reinstalled" in b.text()
    b.screenshot(str(tmp_path / "waiting.png"))
    b.submit_by_click(f"#request-{waiting['request_id']} button.approve")
    assert "Approved." in b.text()
    r = requests.post(srv.url + "/api/v1/enroll", json={"enroll_token": token, "device": mac},
                      headers={"Authorization": f"Bearer {waiting['request_secret']}"})
    assert r.status_code == 201 and r.json()["device_id"] == dev_id
    secret = r.json()["device_secret"]

    b.goto(f"{srv.url}/devices/{dev_id}")
    b.js("document.querySelector('#revoke').click()")        # not confirmed: the form stays
    time.sleep(0.5)
    assert b.url.endswith(f"/devices/{dev_id}") and "Revoked." not in b.text()
    b.js("document.querySelector('#revoke-form input[name=confirm]').checked = true")
    b.submit_by_click("#revoke")
    assert "Revoked." in b.text() and b.js("!!document.querySelector('#revoked-badge')")
    b.screenshot(str(tmp_path / "revoked.png"))
    r = requests.get(srv.url + "/api/v1/policy", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 401


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_cross_site_logout_form_does_not_log_out(live_server, browser, tmp_path):
    """Another site's page posting a form to /logout (with a guessed token): the admin stays
    logged in. The other site is http://localhost:P (a different site from 127.0.0.1).
    Before server-side sessions this logged the admin out (the answer deleted the cookie)."""
    import functools
    import http.server
    import threading
    srv = live_server
    user, password = srv.admin()
    (tmp_path / "evil.html").write_text(
        f'<form method="post" action="{srv.url}/logout"><input type="hidden" name="csrf" '
        f'value="guessed"><button id="go">Win a prize</button></form>')
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):  # noqa: ANN002
            pass
    handler = functools.partial(Quiet, directory=str(tmp_path))
    evil = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        b = browser
        b.goto(srv.url + "/login")
        b.fill("#username", user)
        b.fill("#password", password)
        b.submit_by_click("#login")
        assert "Fleet overview" in b.text()
        b.goto(f"http://localhost:{evil.server_address[1]}/evil.html")
        b.submit_by_click("#go")
        b.goto(srv.url + "/policy")
        assert b.url.endswith("/policy") and "Policy" in b.text()   # still logged in
        assert srv.count("web_sessions", "WHERE revoked_at IS NULL") == 1
    finally:
        evil.shutdown()
        evil.server_close()
