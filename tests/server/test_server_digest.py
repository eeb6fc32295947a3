"""The email digest through a real SMTP server on loopback (aiosmtpd), on SQLite and
PostgreSQL: one email per person per working day, with the /me page's fix steps."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import json

import pytest
import requests

import srvkit
from server import digest, owners
from server.people import person_devices

aiosmtpd = pytest.importorskip("aiosmtpd.controller", reason="test extra: pip install aiosmtpd")

MAC = {"platform": "darwin", "hostname": "<b>alice-mbp</b>", "serial": "C02DIGEST001",
       "hardware_uuid": "99999999-2222-3333-4444-555555555555"}
WEDNESDAY_10 = dt.datetime(2026, 12, 2, 10, 0)
SATURDAY_10 = dt.datetime(2026, 12, 5, 10, 0)


class Inbox:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.refuse = False

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        if self.refuse:
            return "451 try again later"
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = Inbox()
    ctl = aiosmtpd.Controller(inbox, hostname="127.0.0.1", port=srvkit.free_port())
    ctl.start()
    yield inbox, ctl.port
    ctl.stop()


@pytest.fixture
def server(database_url, smtp):
    srv = srvkit.LiveServer(database_url)
    for k, v in {"enabled": True, "smtp_host": "127.0.0.1", "smtp_port": smtp[1],
                 "starttls": False, "from": "Checkup <it@example.com>"}.items():
        srv.cfg.set("digest", k, v)
    srv.start()
    yield srv
    srv.stop()


def enrol_failing(srv, owner: str):
    r = requests.post(srv.url + "/api/v1/enroll", timeout=30,
                      json={"enroll_token": srv.token(), "device": MAC})
    dev, secret = r.json()["device_id"], r.json()["device_secret"]
    rep = srvkit.with_id(srvkit.report_for(srvkit.fixture_files()[0]), device=MAC)
    for i, c in enumerate(rep["checks"]):
        c["status"] = "fail" if i == 0 else "pass"
        c.pop("fix", None)
        if i == 0:
            c["fix"] = {"steps": ["Open Settings.", "Turn it on & <restart>."], "link": None}
    rep["status"] = "fail"
    r = requests.post(srv.url + "/api/v1/reports", data=json.dumps(rep), timeout=30,
                      headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"})
    assert r.status_code == 202, r.text
    owners.set_owner(srv.engine, dev, owner, "it", actor="test")
    return dev


def test_one_digest_a_working_day_with_the_me_steps(server, smtp):
    inbox, _ = smtp
    enrol_failing(server, "alice@example.com")
    assert digest.send_due(server.engine, server.cfg, SATURDAY_10)["sent"] == 0   # weekend
    assert digest.send_due(server.engine, server.cfg, WEDNESDAY_10.replace(hour=8))["sent"] == 0
    assert digest.send_due(server.engine, server.cfg, WEDNESDAY_10)["sent"] == 1
    assert digest.send_due(server.engine, server.cfg, WEDNESDAY_10 + dt.timedelta(hours=5)) == \
        {"sent": 0, "nothing_to_do": 0, "already": 1, "failed": 0}
    assert len(inbox.messages) == 1
    msg = inbox.messages[0]
    assert msg["To"] == "alice@example.com" and "it@example.com" in msg["From"]
    plain = msg.get_body(("plain",)).get_content()
    page = msg.get_body(("html",)).get_content()
    me = person_devices(server.engine, server.cfg, "alice@example.com")
    practice = [p for p in me["devices"][0]["practices"] if p["status"] == "fail"][0]
    for i, step in enumerate(practice["steps"], 1):   # the very steps of /me
        assert f"{i}. {step}" in plain
    assert "<b>alice-mbp</b>" in plain
    assert "&lt;b&gt;alice-mbp&lt;/b&gt;" in page and "<b>alice" not in page
    assert "Turn it on &amp; &lt;restart&gt;." in page or practice["steps"] != [
        "Open Settings.", "Turn it on & <restart>."]
    # the next working day: one more
    assert digest.send_due(server.engine, server.cfg, WEDNESDAY_10 + dt.timedelta(days=1))["sent"] == 1


def test_a_refused_send_is_retried_later_and_nothing_to_do_sends_nothing(server, smtp):
    inbox, _ = smtp
    enrol_failing(server, "alice@example.com")
    with server.engine.begin() as conn:   # bob owns nothing that needs doing
        from sqlalchemy import text
        conn.execute(text("UPDATE devices SET owner = NULL"))
    assert digest.send_due(server.engine, server.cfg, WEDNESDAY_10)["sent"] == 0
    with server.engine.begin() as conn:
        conn.execute(text("UPDATE devices SET owner = 'alice@example.com'"))
    inbox.refuse = True
    assert digest.send_due(server.engine, server.cfg, WEDNESDAY_10)["failed"] == 1
    inbox.refuse = False
    assert digest.send_due(server.engine, server.cfg, WEDNESDAY_10)["sent"] == 1
    assert len(inbox.messages) == 1


def test_no_smtp_server_is_a_failure_not_a_crash(server, smtp):
    enrol_failing(server, "alice@example.com")
    server.cfg.set("digest", "smtp_port", srvkit.free_port())   # nobody listens
    assert digest.send_due(server.engine, server.cfg, WEDNESDAY_10)["failed"] == 1
    server.cfg.set("digest", "smtp_host", "")
    with pytest.raises(digest.DigestConfigError, match="smtp_host"):
        digest.send_due(server.engine, server.cfg, WEDNESDAY_10)
