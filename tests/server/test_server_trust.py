"""What a report claims is not taken on trust: a checked_at in the future is capped at the
time the server received it, the device status is derived from the checks, a report with no
checks is refused, and a device secret cannot turn into another machine. The overview says
what it knows, in words that agree with the numbers."""
from __future__ import annotations

import datetime as dt
import json
import re

import requests
from sqlalchemy import text

import srvkit


def enroll(srv, token, fixture=0):
    rep = srvkit.report_for(srvkit.fixture_files()[fixture])
    r = requests.post(srv.url + "/api/v1/enroll", json={"enroll_token": token, "device": rep["device"]})
    assert r.status_code == 201, r.text
    body = r.json()
    return body["device_id"], body["device_secret"], rep


def post(srv, secret, report):
    return requests.post(srv.url + "/api/v1/reports", data=json.dumps(report), timeout=30,
                         headers={"Authorization": f"Bearer {secret}",
                                  "Content-Type": "application/json"})


def iso(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def device_row(srv, device_id):
    from sqlalchemy import select

    from server.models import Device
    with srv.engine.connect() as conn:
        return conn.execute(select(Device).where(Device.id == device_id)).one()


def overview_html(srv) -> str:
    if not hasattr(srv, "_it"):
        user, password = srv.admin()
        s = requests.Session()
        csrf = re.search(r'name="csrf" value="([^"]+)"', s.get(srv.url + "/login").text).group(1)
        r = s.post(srv.url + "/login", data={"username": user, "password": password, "csrf": csrf})
        assert r.status_code == 200, r.text[:300]
        srv._it = s
    r = srv._it.get(srv.url + "/")
    assert r.status_code == 200 and "Fleet overview" in r.text, r.text[:300]
    return r.text


def test_a_report_from_the_future_does_not_stay_newest(live_server):
    srv = live_server
    dev_id, secret, rep = enroll(srv, srv.token())
    now = dt.datetime.now(dt.timezone.utc)
    future = srvkit.with_id(rep, checked_at="2099-01-01T00:00:00Z")
    assert post(srv, secret, future).status_code == 202
    row = device_row(srv, dev_id)
    assert row.last_checked_at.year < 2099 and row.last_seen_at.year < 2099   # capped
    with srv.engine.connect() as conn:
        body = conn.execute(text("SELECT body FROM reports WHERE report_id = :r"),
                            {"r": future["report_id"]}).scalar_one()
    assert json.loads(body)["checked_at"] == "2099-01-01T00:00:00Z"           # kept as sent
    later = srvkit.with_id(rep, checked_at=iso(now + dt.timedelta(seconds=5)))
    assert post(srv, secret, later).status_code == 202
    assert device_row(srv, dev_id).last_report_id == later["report_id"]       # newer wins


def test_reports_older_than_30_days_are_refused_with_a_reason(live_server):
    srv = live_server
    _, secret, rep = enroll(srv, srv.token())
    now = dt.datetime.now(dt.timezone.utc)
    ok = srvkit.with_id(rep, checked_at=iso(now - dt.timedelta(days=29)))
    assert post(srv, secret, ok).status_code == 202
    old = srvkit.with_id(rep, checked_at=iso(now - dt.timedelta(days=31)))
    r = post(srv, secret, old)
    assert r.status_code == 422 and "older than 30 days" in r.json()["detail"]


def test_the_status_is_what_the_checks_say(live_server):
    srv = live_server
    dev_id, secret, rep = enroll(srv, srv.token())
    checks = [dict(c, status="pass") for c in rep["checks"]]
    checks[0]["status"] = "fail"
    lying = srvkit.with_id(rep, checks=checks, status="pass")
    assert post(srv, secret, lying).status_code == 202
    assert device_row(srv, dev_id).status == "fail"
    with srv.engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM reports WHERE report_id = :r"),
                            {"r": lying["report_id"]}).scalar_one() == "fail"
    for statuses, want in ((["nudge", "pass"], "nudge"), (["pass", "skip"], "pass"),
                           (["skip", "unknown"], "unknown")):
        checks = [dict(c, status=statuses[i % len(statuses)]) for i, c in enumerate(rep["checks"][:2])]
        r = post(srv, secret, srvkit.with_id(rep, checks=checks, status="fail"))
        assert r.status_code == 202
        assert device_row(srv, dev_id).status == want, statuses


def test_a_report_without_checks_is_refused_and_the_overview_tells_the_truth(live_server):
    srv = live_server
    dev_id, secret, rep = enroll(srv, srv.token())
    assert post(srv, secret, srvkit.with_id(rep)).status_code == 202
    empty = srvkit.with_id(rep, checks=[], status="pass",
                           checked_at=iso(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)))
    r = post(srv, secret, empty)
    assert r.status_code == 422 and "checks" in json.dumps(r.json()["detail"])
    assert srv.count("reports") == 1
    assert srv.count("device_checks") == len(rep["checks"])
    html = overview_html(srv)
    assert "No reports yet" not in html
    assert "1 device enrolled." in html and "1 devices" not in html


def test_overview_words_agree_with_the_numbers(live_server):
    srv = live_server
    html = overview_html(srv)
    assert "0 devices enrolled." in html and "No reports yet" in html
    dev_id, _, _ = enroll(srv, srv.token())
    html = overview_html(srv)
    assert "1 device enrolled." in html and "1 enrolled but never reported" in html
    assert "No reports yet" in html      # enrolled, but nothing reported
    enroll(srv, srv.token(), 1)
    assert "2 devices enrolled." in overview_html(srv)


def test_plural_words():
    from server.db import utcnow
    from server.web import _ago, plural
    assert plural(1, "device") == "1 device" and plural(0, "device") == "0 devices"
    assert plural(2, "day") == "2 days"
    now = utcnow()
    assert _ago(now - dt.timedelta(hours=40)) == "1 day ago"
    assert _ago(now - dt.timedelta(days=3)) == "3 days ago"


MAC = {"platform": "darwin", "hostname": "alice-mbp", "serial": "C02XK1JHJG5H",
       "hardware_uuid": "564D8E3A-1B2C-4D5E-8F90-A1B2C3D4E5F6", "os_name": "macOS",
       "os_version": "14.5"}


def enroll_as(srv, device):
    r = requests.post(srv.url + "/api/v1/enroll", json={"enroll_token": srv.token(), "device": device})
    assert r.status_code == 201, r.text
    return r.json()["device_id"], r.json()["device_secret"]


def test_a_device_secret_cannot_become_another_machine(live_server):
    srv = live_server
    rep = srvkit.report_for(srvkit.fixture_files()[0])
    dev_id, secret = enroll_as(srv, MAC)

    def send(**device):
        return post(srv, secret, srvkit.with_id(rep, device=dict(MAC, **device)))

    assert send().status_code == 202
    for change in ({"platform": "windows"}, {"platform": "linux"}, {"serial": "5CG1234XYZ"},
                   {"hardware_uuid": "11111111-2222-3333-4444-555555555555"}):
        r = send(**change)
        assert r.status_code == 409, (change, r.text)
        assert r.json()["reason"] == "identity_changed"
        assert "enrolled as another machine" in r.json()["detail"] and "enroll again" in r.json()["detail"]
    row = device_row(srv, dev_id)
    assert (row.platform, row.serial) == ("darwin", MAC["serial"]) and srv.count("reports") == 1
    # the same machine, written differently, or with a fact unknown this time: accepted
    swapped = "3A8E4D56-2C1B-5E4D-8F90-A1B2C3D4E5F6"            # first groups byte-swapped
    assert send(serial=" c02xk1jhjg5h ", hardware_uuid=swapped.lower()).status_code == 202
    assert send(serial=None, hardware_uuid=None).status_code == 202
    assert send(serial="To Be Filled By O.E.M.").status_code == 202   # a placeholder is unknown
    assert send(hostname="alice-new-name").status_code == 202       # hostnames may change
    assert device_row(srv, dev_id).hostname == "alice-new-name"


def test_an_unknown_serial_may_become_known_once(live_server):
    srv = live_server
    rep = srvkit.report_for(srvkit.fixture_files()[0])
    dev_id, secret = enroll_as(srv, dict(MAC, serial=None))
    first = srvkit.with_id(rep, device=dict(MAC, serial="AAA111"))
    assert post(srv, secret, first).status_code == 202
    assert device_row(srv, dev_id).serial == "AAA111"
    assert post(srv, secret, srvkit.with_id(rep, device=dict(MAC, serial="BBB222"))).status_code == 409


def test_the_agent_enrolls_again_when_its_secret_is_another_machines(live_server, tmp_path):
    """A copied state directory (a cloned disk image): the server answers 409
    identity_changed, and the agent forgets the credentials, enrolls as itself once and
    sends the report again; nothing is dropped."""
    from agent.reporting import load_credentials, report_now
    srv = live_server
    settings = srvkit.agent_settings(srv.url, srv.token())
    sd = str(tmp_path / "agent")
    rep = srvkit.report_for(srvkit.fixture_files()[0])
    code, msg = report_now(settings, sd, report=srvkit.with_id(rep, device=MAC))
    assert code == 0, msg
    first = load_credentials(sd, srv.url)
    other = dict(MAC, serial="C02OTHER0001", hardware_uuid="AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE",
                 hostname="bob-mbp")
    report = srvkit.with_id(rep, device=other)
    code, msg = report_now(settings, sd, report=report)
    assert code == 0 and "Sent 1 of 1" in msg, msg
    again = load_credentials(sd, srv.url)
    assert again.device_id != first.device_id
    with srv.engine.connect() as conn:
        owner = conn.execute(text("SELECT device_id FROM reports WHERE report_id = :r"),
                             {"r": report["report_id"]}).scalar_one()
    assert owner == again.device_id and srv.count("devices") == 2
    assert device_row(srv, first.device_id).serial == MAC["serial"]    # the first is untouched


def test_agent_text_in_a_refusal_cannot_forge_a_log_line(live_server, caplog):
    """The serial in an identity-change refusal is agent text: the log line quotes it, so a
    newline in it cannot start a forged line in a plain-text log."""
    import logging
    srv = live_server
    rep = srvkit.report_for(srvkit.fixture_files()[0])
    _dev_id, secret = enroll_as(srv, MAC)
    forged = "X1\n2026-12-02 INFO login: account 'admin' from 10.0.0.1"
    with caplog.at_level(logging.WARNING, logger="checkup.server"):
        r = post(srv, secret, srvkit.with_id(rep, device=dict(MAC, serial=forged)))
        assert r.status_code == 409 and r.json()["reason"] == "identity_changed"
    lines = [rec.getMessage() for rec in caplog.records if "refused" in rec.getMessage()]
    assert lines, caplog.text
    assert all("\n" not in line for line in lines) and any("\\n" in line for line in lines)
