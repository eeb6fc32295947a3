"""Outgoing webhooks end to end: a real server (SQLite and PostgreSQL), real reports, the
delivery worker, and a real receiver on loopback that checks each signature."""
from __future__ import annotations

import json
import time

import pytest
import requests
from sqlalchemy import text

import hookkit
import srvkit
from server import webhooks
from server.webhooks import WebhookError, check_url

MAC = {"platform": "darwin", "hostname": "hook-mbp", "serial": "C02HOOK00001",
       "hardware_uuid": "11111111-2222-3333-4444-555555555555"}


@pytest.fixture
def server(database_url):
    srv = srvkit.LiveServer(database_url)
    for k, v in {"poll_seconds": 0.1, "backoff_seconds": 0.2, "backoff_cap_seconds": 0.5,
                 "timeout_seconds": 1, "max_attempts": 3}.items():
        srv.cfg.set("webhooks", k, v)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def receiver():
    r = hookkit.Receiver()
    yield r
    r.close()


def add_hook(srv, recv, fmt="generic", events=webhooks.EVENTS):
    with srv.engine.begin() as conn:
        ident, secret = webhooks.create(conn, name="IT channel", url=recv.url, fmt=fmt,
                                        events=events, actor="test")
    recv.secret = secret
    return ident


def enrolled(srv, device=MAC):
    r = requests.post(srv.url + "/api/v1/enroll", timeout=30,
                      json={"enroll_token": srv.token(), "device": device})
    assert r.status_code == 201, r.text
    return r.json()["device_id"], r.json()["device_secret"]


def report(device, failing: str = ""):
    """A fixture report with every check passing, or ``failing`` failing."""
    rep = srvkit.with_id(srvkit.report_for(srvkit.fixture_files()[0]), device=device)
    for c in rep["checks"]:
        c["status"] = "fail" if c["id"] == failing else "pass"
        c.pop("fix", None)
        if c["status"] == "fail":
            c["fix"] = {"steps": ["Open Settings."], "link": None}
    rep["status"] = "fail" if failing else "pass"
    return rep


def post(srv, secret, rep):
    t = time.monotonic()
    r = requests.post(srv.url + "/api/v1/reports", data=json.dumps(rep), timeout=30,
                      headers={"Authorization": f"Bearer {secret}",
                               "Content-Type": "application/json"})
    assert r.status_code == 202, r.text
    return time.monotonic() - t


def attempts(srv):
    with srv.engine.connect() as conn:
        return conn.execute(text("SELECT event, attempt, status_code, error FROM webhook_attempts "
                                 "ORDER BY id")).all()


def wait_for(cond, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = cond()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_urls_https_only_except_loopback():
    for ok in ("https://hooks.example.com/x", "http://127.0.0.1:9/h", "http://[::1]:8080/",
               "http://localhost/h", "http://127.5.6.7/"):
        assert check_url(ok) == ok
    for bad, words in (("http://hooks.example.com/x", "https"), ("http://10.0.0.1/", "https"),
                       ("ftp://example.com/", "https://"), ("https://u:p@example.com/", "password"),
                       ("", "URL"), ("https://exa mple.com", "not valid"), ("https://[::1", "not valid"),
                       ("http://127.0.0.1.evil.example/", "https")):
        with pytest.raises(WebhookError, match=words):
            check_url(bad)


def test_failing_and_fixed_are_posted_signed(server, receiver):
    add_hook(server, receiver)
    dev, secret = enrolled(server)
    check = report(MAC)["checks"][0]["id"]
    post(server, secret, report(MAC))                  # first report: no event
    post(server, secret, report(MAC, failing=check))   # newly failing a required check
    got = receiver.wait(1)
    ev = got[0]["json"]
    assert got[0]["signed_ok"], got[0]
    assert ev["event"] == "check.failing" and ev["schema"] == 1
    assert ev["data"] == {"device_id": dev, "hostname": "hook-mbp", "check_id": check,
                          "old_status": "pass", "new_status": "fail"}
    post(server, secret, report(MAC))                  # fixed
    got = receiver.wait(2)
    assert got[1]["json"]["event"] == "device.fixed" and got[1]["signed_ok"]
    assert got[1]["json"]["data"]["new_status"] == "pass"
    wait_for(lambda: len(attempts(server)) == 2)
    assert [(a.event, a.status_code) for a in attempts(server)] == [("check.failing", 200),
                                                                   ("device.fixed", 200)]
    # a wrong secret does not verify
    assert not webhooks.verify("whsec_other", webhooks.sign(receiver.secret, int(time.time()),
                                                            got[0]["body"]), got[0]["body"])


def test_retries_with_backoff_then_gives_up(server, receiver):
    add_hook(server, receiver, events=["check.failing"])
    receiver.script = [(500, 0), (200, 0)]
    dev, secret = enrolled(server)
    check = report(MAC)["checks"][0]["id"]
    post(server, secret, report(MAC))
    post(server, secret, report(MAC, failing=check))
    got = receiver.wait(2)
    assert got[1]["at"] - got[0]["at"] >= 0.15        # waited the backoff
    assert got[0]["json"]["id"] == got[1]["json"]["id"]   # the same event again
    wait_for(lambda: len(attempts(server)) == 2)
    assert [(a.attempt, a.status_code) for a in attempts(server)] == [(1, 500), (2, 200)]
    # a receiver that always fails: max_attempts (3), then failed
    receiver.script = [(500, 0)] * 10
    post(server, secret, report(MAC))
    post(server, secret, report(MAC, failing=check))
    wait_for(lambda: server.count("webhook_outbox", "WHERE state = 'failed'") == 1)
    assert [a.status_code for a in attempts(server)][2:] == [500, 500, 500]
    time.sleep(1)
    assert len(attempts(server)) == 5


def test_a_hanging_receiver_never_slows_ingest(server, receiver):
    add_hook(server, receiver)
    receiver.script = [(200, 5)] * 20    # answers after 5 s; the sender waits 1 s
    dev, secret = enrolled(server)
    check = report(MAC)["checks"][0]["id"]
    took = [post(server, secret, report(MAC, failing=check if i % 2 else "")) for i in range(10)]
    assert max(took) < 1.0, took
    wait_for(lambda: attempts(server))
    a = attempts(server)[0]
    assert a.status_code is None and "no answer within 1 s" in a.error


def test_redirects_are_not_followed(server, receiver):
    add_hook(server, receiver)
    receiver.script = [(302, 0)] * 5
    assert webhooks.send_test(server.engine, add_hook(server, receiver), actor="test")
    wait_for(lambda: attempts(server))
    assert attempts(server)[0].status_code == 302 and "redirect" in attempts(server)[0].error
    time.sleep(0.3)
    assert all(g["path"] == "/hook" for g in receiver.got)


def test_slack_format_escapes_agent_text(server, receiver):
    add_hook(server, receiver, fmt="slack")
    evil = dict(MAC, hostname="<!channel> & <http://x|y>")
    dev, secret = enrolled(server, evil)
    check = report(evil)["checks"][0]["id"]
    post(server, secret, report(evil))
    post(server, secret, report(evil, failing=check))
    got = receiver.wait(1)
    assert got[0]["signed_ok"]
    assert got[0]["json"] == {"text": f"Checkup: &lt;!channel&gt; &amp; &lt;http://x|y&gt; now "
                                      f"fails the required check {check}."}


def test_a_failed_sync_is_posted(server, receiver):
    from server.mdm.http import MdmError
    from server.mdm.store import sync_source
    add_hook(server, receiver, events=["sync.failed"])

    class Broken:   # a connector whose vendor answers an error
        stats = type("S", (), {"records": 0, "skipped": 0, "summary": lambda self: ""})()

        def records(self):
            raise MdmError("jamf: https://jamf.example/api answered HTTP 401")
            yield
    r = sync_source(server.engine, "jamf", {}, connector=Broken())
    assert r.status == "failed"
    ev = receiver.wait(1)[0]
    assert ev["signed_ok"] and ev["json"]["event"] == "sync.failed"
    assert ev["json"]["data"]["source"] == "jamf" and "HTTP 401" in ev["json"]["data"]["message"]


def test_the_page_creates_shows_the_secret_once_and_deletes(server, receiver):
    from server.sessions import create_session
    server.admin()
    token, info = create_session(server.engine, "it-admin", "local", "admin", "127.0.0.1", 1)
    s = requests.Session()
    s.headers["Cookie"] = f"checkup_session={token}"
    r = s.post(server.url + "/webhooks", data={"csrf": info.csrf, "name": "Ops",
                                               "url": "http://hooks.example.com/x",
                                               "format": "slack", "events": ["sync.failed"]})
    assert r.status_code == 400 and "must use https://" in r.text
    r = s.post(server.url + "/webhooks", data={"csrf": "wrong", "name": "Ops", "url": receiver.url})
    assert r.status_code == 400
    r = s.post(server.url + "/webhooks", data={"csrf": info.csrf, "name": "Ops <b>",
                                               "url": receiver.url, "format": "generic",
                                               "events": ["check.failing", "device.fixed"]})
    assert r.status_code == 201, r.text
    with server.engine.connect() as conn:
        hook = conn.execute(text("SELECT id, secret FROM webhooks")).one()
    assert hook.secret in r.text and "Ops &lt;b&gt;" in r.text
    page = s.get(server.url + "/webhooks")
    assert page.status_code == 200 and hook.secret not in page.text and "Ops &lt;b&gt;" in page.text
    receiver.secret = hook.secret
    r = s.post(server.url + f"/webhooks/{hook.id}/test", data={"csrf": info.csrf},
               allow_redirects=False)
    assert r.status_code == 303
    assert receiver.wait(1)[0]["signed_ok"]
    wait_for(lambda: attempts(server))
    assert ">200<" in s.get(server.url + "/webhooks").text
    r = s.post(server.url + f"/webhooks/{hook.id}/delete", data={"csrf": info.csrf},
               allow_redirects=False)
    assert r.status_code == 303 and server.count("webhooks") == 0
    assert s.post(server.url + f"/webhooks/{hook.id}/delete",
                  data={"csrf": info.csrf}).status_code == 404
    assert s.post(server.url + "/webhooks/x/nope", data={"csrf": info.csrf}).status_code == 404
    with server.engine.connect() as conn:
        acts = conn.execute(text("SELECT action, ok FROM audit_log WHERE action LIKE 'webhook.%' "
                                 "ORDER BY id")).all()
    assert [tuple(a) for a in acts] == [("webhook.create", True), ("webhook.test", True),
                                        ("webhook.delete", True), ("webhook.delete", False)]


def test_cli_add_list_test_delete(server, receiver):
    url = server.cfg.database_url
    code, _, err = srvkit.server_cli(url, "webhook", "add", "--name", "Ops", "--url",
                                     "http://hooks.example.com/")
    assert code == 3 and "must use https://" in err
    code, out, err = srvkit.server_cli(url, "webhook", "add", "--name", "Ops", "--url", receiver.url,
                                       "--event", "sync.failed")
    assert code == 0 and out.startswith("whsec_") and "shown only now" in err
    receiver.secret = out.strip()
    code, out, _ = srvkit.server_cli(url, "webhook", "list")
    assert code == 0 and "Ops" in out and "sync.failed" in out and receiver.secret not in out
    ident = out.split()[0]
    assert srvkit.server_cli(url, "webhook", "test", ident)[0] == 0
    assert receiver.wait(1)[0]["signed_ok"]
    assert srvkit.server_cli(url, "webhook", "delete", ident)[0] == 0
    code, _, err = srvkit.server_cli(url, "webhook", "delete", ident)
    assert code == 3 and "no webhook" in err


def test_the_page_in_chromium_is_accessible_at_desktop_and_phone_width(server, receiver):
    import os
    import sys
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import axekit
    why = axekit.skip_reason()
    if why:
        pytest.skip(why)
    from server.sessions import create_session
    server.admin()
    ident = add_hook(server, receiver)
    assert webhooks.send_test(server.engine, ident, actor="test")
    wait_for(lambda: attempts(server))
    token, _ = create_session(server.engine, "it-admin", "local", "admin", "127.0.0.1", 1)
    with axekit.axe_browser() as b:
        b.call("Network.setCookie", {"name": "checkup_session", "value": token, "url": server.url,
                                     "httpOnly": True, "sameSite": "Lax"}, session=True)
        b.goto(server.url + "/webhooks")
        assert "IT channel" in b.text() and "Delivery log" in b.text()
        assert axekit.serious(b) == []
        b.width(390)
        # the shared header's colours at phone width are another piece of work (the IT pages'
        # header); this page's own content must be clean
        import json as _json
        mine = [v for v in axekit.serious(b)
                if not all(b.js("!!document.querySelector(%s).closest('header')" % _json.dumps(t[0]))
                           for t in v["targets"])]
        assert mine == []


def test_an_mdm_finding_is_announced_once(server, receiver):
    add_hook(server, receiver, events=["mdm.finding"])
    f = {"kind": "mdm_only", "serial": "C02MDM", "hostname": "<i>ghost</i>", "sources": ["jamf"],
         "fact": None, "agent": None, "mdm": None, "detail": "In Jamf, no Checkup report.",
         "device_id": None, "mdm_ids": ["jamf:7"]}
    assert webhooks.announce_findings(server.engine, [f]) == 1
    assert webhooks.announce_findings(server.engine, [f]) == 0     # still there: not again
    ev = receiver.wait(1)[0]
    assert ev["signed_ok"] and ev["json"]["event"] == "mdm.finding"
    assert ev["json"]["data"]["hostname"] == "<i>ghost</i>" and ev["json"]["data"]["serial"] == "C02MDM"
    assert webhooks.announce_findings(server.engine, []) == 0      # gone ...
    assert webhooks.announce_findings(server.engine, [f]) == 1     # ... and back: new again
    assert len(receiver.wait(2)) == 2
