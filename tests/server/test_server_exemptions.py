"""Exemptions end to end (DESIGN "Exemptions"): IT exempts a device from one check with
`checkup-server exempt` or the device page, the real agent fetches it from the real server,
shows the check as "Exempt until …", the fleet counts it apart, and it ends on its day on
both sides. Grace periods and "failing for N days" are in tests/test_exemptions_agent.py."""
from __future__ import annotations

import datetime as dt
import os

import srvkit
from sqlalchemy import text

from agent import exemptions as agent_ex
from agent.policy import load_policy
from agent.reporting import Sender, report_now
from server import exemptions
from server.fleet import DeviceFilter, device_list, overview

FIXTURE = "fedora-44-gnome-lock-too-slow-dnf5-automatic.json"   # screen_lock fails, updates nudge


def _fixture() -> str:
    return next(f for f in srvkit.fixture_files() if f.endswith(FIXTURE))


def _cli(srv, *args):
    return srvkit.server_cli(srv.cfg.get("server", "database_url"), *args)


def _device_id(srv) -> str:
    with srv.engine.connect() as conn:
        return conn.execute(text("SELECT id FROM devices")).scalar_one()


def _enrolled(srv, tmp_path):
    """(agent settings, state dir, device id) of the fixture's machine after its first report."""
    settings, sd = srvkit.agent_settings(srv.url, srv.token()), str(tmp_path / "agent")
    os.makedirs(sd)
    assert report_now(settings, sd, report=srvkit.with_id(srvkit.report_for(_fixture())))[0] == 0
    return settings, sd, _device_id(srv)


def _judged(sd, url, day=None):
    rep = srvkit.with_id(srvkit.report_for(_fixture()))
    return agent_ex.apply(rep, load_policy(), sd, url, today=day)


def test_exempt_from_cli_reaches_agent_fleet_and_ends_on_its_day(live_server, tmp_path):
    srv = live_server
    settings, sd, device_id = _enrolled(srv, tmp_path)
    today = exemptions.today()
    until = (today + dt.timedelta(days=10)).isoformat()

    # refusals: one clear line each, nothing stored
    for args, words in [
        (["--check", "screen_lock", "--until", until, "--reason", "  "], "give a reason"),
        (["--check", "screen_lock", "--until", (today - dt.timedelta(days=1)).isoformat(),
          "--reason", "x"], "in the past"),
        (["--check", "screen_lock", "--until", (today + dt.timedelta(days=400)).isoformat(),
          "--reason", "x"], "more than 366 days"),
        (["--check", "no_such_check", "--until", until, "--reason", "x"], "unknown check"),
        (["--check", "screen_lock", "--until", "12 Jan", "--reason", "x"], "not a date"),
    ]:
        code, _out, err = _cli(srv, "exempt", "add", device_id, *args)
        assert code == 3 and words in err, (args, err)
    code, _out, err = _cli(srv, "exempt", "add", "deadbeef", "--check", "screen_lock",
                           "--until", until, "--reason", "x")
    assert code == 3 and "no device 'deadbeef'" in err
    assert srv.count("exemptions") == 0

    code, out, err = _cli(srv, "exempt", "add", device_id, "--check", "screen_lock", "--until",
                          until, "--reason", "kiosk lock by the building's system")
    assert code == 0, err
    assert "exempt from screen_lock until" in out
    assert srv.count("audit_log", "WHERE action = 'exemption.create'") == 1
    code, out, err = _cli(srv, "exempt", "list")
    assert code == 0 and "screen_lock" in out and "kiosk lock" in out, err

    # the agent learns it with its next report and caches it with its end day
    code, msg = report_now(settings, sd, report=srvkit.with_id(srvkit.report_for(_fixture())))
    assert code == 0, msg
    rep = _judged(sd, srv.url)
    lock = next(c for c in rep["checks"] if c["id"] == "screen_lock")
    assert lock["status"] == "exempt"
    assert lock["summary"].startswith("Exempt until ") and "(IT: kiosk lock by the building's system)" in lock["summary"]
    assert lock["exempt"]["status"] == "fail" and lock["exempt"]["until"] == until
    assert rep["status"] == "nudge"           # only the nudge is left: not failing
    assert report_now(settings, sd, report=rep)[0] == 0
    with srv.engine.connect() as conn:
        ov = overview(conn, 30)
        assert ov["by_status"]["exempt"] == 1 and ov["by_status"]["fail"] == 0
        assert ov["by_status"]["nudge"] == 1
        rows, total = device_list(conn, DeviceFilter(status="exempt"), 30)
        assert total == 1 and rows[0].id == device_id

    # offline, after its day: the agent's cache ends it by itself
    srv.stop()
    after = dt.date.fromisoformat(until) + dt.timedelta(days=1)
    rep = _judged(sd, srv.url, day=after)
    lock = next(c for c in rep["checks"] if c["id"] == "screen_lock")
    assert lock["status"] == "fail" and "exempt" not in lock and rep["status"] == "fail"
    assert next(c for c in _judged(sd, srv.url, day=dt.date.fromisoformat(until))["checks"]
                if c["id"] == "screen_lock")["status"] == "exempt"    # the last day still counts
    srv.start()
    # and the server stops handing it out after its day
    with srv.engine.connect() as conn:
        assert [e.check_id for e in exemptions.active_for_device(conn, device_id)] == ["screen_lock"]
        assert exemptions.active_for_device(conn, device_id, now=after) == []

    # removed: audited, and the agent's next fetch forgets it
    ex_id = exemptions.listed(srv.engine.connect())[0].id
    code, out, _ = _cli(srv, "exempt", "remove", str(ex_id))
    assert code == 0 and "removed" in out
    assert srv.count("audit_log", "WHERE action = 'exemption.delete'") == 1
    code, _out, err = _cli(srv, "exempt", "remove", str(ex_id))
    assert code == 3 and f"no exemption #{ex_id}" in err
    assert report_now(settings, sd, report=srvkit.with_id(srvkit.report_for(_fixture())))[0] == 0
    assert next(c for c in _judged(sd, srv.url)["checks"]
                if c["id"] == "screen_lock")["status"] == "fail"


def test_owner_exemption_and_old_server(live_server, tmp_path):
    """An exemption for an owner covers each of their devices; a server without exemptions
    (404, older than the agent) means none, and the agent forgets its cache."""
    srv = live_server
    settings, sd, device_id = _enrolled(srv, tmp_path)
    until = (exemptions.today() + dt.timedelta(days=3)).isoformat()
    code, _o, err = _cli(srv, "exempt", "add", "--owner", "not-an-email", "--check", "firewall",
                         "--until", until, "--reason", "x")
    assert code == 3 and "not an email" in err
    assert _cli(srv, "owner", "set", device_id, "Ana@Example.com")[0] == 0
    code, out, err = _cli(srv, "exempt", "add", "--owner", "ana@example.com", "--check",
                          "automatic_updates", "--until", until, "--reason", "pilot ring")
    assert code == 0 and "every device of ana@example.com" in out, err
    assert report_now(settings, sd, report=srvkit.with_id(srvkit.report_for(_fixture())))[0] == 0
    rep = _judged(sd, srv.url)
    upd = next(c for c in rep["checks"] if c["id"] == "automatic_updates")
    assert upd["status"] == "exempt" and upd["exempt"]["status"] == "nudge"
    assert rep["status"] == "fail"           # screen_lock still fails: exempting one is not all

    proxy = srvkit.FaultProxy(srv.url)
    try:
        from agent.reporting import load_credentials
        sender = Sender(srvkit.agent_settings(proxy.url, ""), sd)
        creds = load_credentials(sd, srv.url)
        sender.url = proxy.url
        proxy.script = [(404, {}, False)]
        assert sender.pull_exemptions(creds) == "the server has no exemptions"
        sender.close()
    finally:
        proxy.close()
    assert agent_ex.cached(sd, srv.url, exemptions.today()) == {}


def test_it_api_lists_devices_with_an_exempted_check(live_server, tmp_path):
    srv = live_server
    settings, sd, device_id = _enrolled(srv, tmp_path)
    until = (exemptions.today() + dt.timedelta(days=5)).isoformat()
    assert _cli(srv, "exempt", "add", device_id, "--check", "screen_lock", "--until", until,
                "--reason", "kiosk")[0] == 0
    assert report_now(settings, sd, report=srvkit.with_id(srvkit.report_for(_fixture())))[0] == 0
    assert report_now(settings, sd, report=_judged(sd, srv.url))[0] == 0
    from server.it_api import list_devices
    found = list_devices(srv.engine, status="exempt")
    assert [d["id"] for d in found["devices"]] == [device_id]
    assert found["devices"][0]["checks"]["screen_lock"] == "exempt"
    assert found["devices"][0]["status"] == "nudge"
    assert list_devices(srv.engine, status="fail")["devices"] == []


def test_failing_days_from_the_servers_history_for_an_older_agent(live_server, tmp_path):
    """An older agent sends no failing_days: the device page counts from the changes."""
    srv = live_server
    settings, sd = srvkit.agent_settings(srv.url, srv.token()), str(tmp_path / "agent")
    os.makedirs(sd)
    rep = srvkit.with_id(srvkit.report_for(_fixture()))     # as an older agent sends it
    assert all("failing_days" not in c for c in rep["checks"])
    assert report_now(settings, sd, report=rep)[0] == 0
    device_id = _device_id(srv)
    from server.fleet import device_detail
    with srv.engine.begin() as conn:
        conn.execute(text("UPDATE changes SET at = :at"),
                     {"at": dt.datetime.utcnow() - dt.timedelta(days=40, hours=1)})
    with srv.engine.connect() as conn:
        checks = {c["id"]: c for c in device_detail(conn, device_id)["checks"]}
    assert checks["screen_lock"]["failing_days"] == 40
    assert "failing_days" not in checks["firewall"]          # passing: no count
    user, password = srv.admin()
    import requests
    s = requests.Session()
    page = s.get(srv.url + "/login").text
    import re
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    s.post(srv.url + "/login", data={"username": user, "password": password, "csrf": csrf})
    html = s.get(f"{srv.url}/devices/{device_id}").text
    assert "Failing for 40 days." in html
