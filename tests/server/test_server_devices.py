"""The enrollment token lets a new machine in, never an existing one; IT lets a reinstalled
laptop back in; IT revokes devices and leaked tokens; a reused report_id is a conflict.
Every test runs the attack itself against the real server, on SQLite and PostgreSQL."""
from __future__ import annotations

import json
import os
import re
import stat
import time

import requests
from sqlalchemy import select, text

import srvkit

MAC = {"platform": "darwin", "hostname": "alice-mbp", "serial": "C02XK1JHJG5H",
       "hardware_uuid": "564D8E3A-1B2C-4D5E-8F90-A1B2C3D4E5F6", "os_name": "macOS",
       "os_version": "14.5"}
BOB = dict(MAC, hostname="bob-mbp", serial="C02BOB000001",
           hardware_uuid="AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE")


def rep():
    return srvkit.report_for(srvkit.fixture_files()[0])


def enroll(srv, device, token=None, bearer=None):
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return requests.post(srv.url + "/api/v1/enroll", headers=headers, timeout=30,
                         json={"enroll_token": token or srv.token(), "device": device})


def enrolled(srv, device, token=None):
    r = enroll(srv, device, token)
    assert r.status_code == 201, r.text
    return r.json()["device_id"], r.json()["device_secret"]


def post(srv, secret, report):
    return requests.post(srv.url + "/api/v1/reports", data=json.dumps(report), timeout=30,
                         headers={"Authorization": f"Bearer {secret}",
                                  "Content-Type": "application/json"})


def report_as(srv, secret, device, **changes):
    return post(srv, secret, srvkit.with_id(rep(), device=device, **changes))


def policy(srv, secret):
    return requests.get(srv.url + "/api/v1/policy", headers={"Authorization": f"Bearer {secret}"},
                        timeout=30)


def device_row(srv, device_id):
    from server.models import Device
    with srv.engine.connect() as conn:
        return conn.execute(select(Device).where(Device.id == device_id)).one()


def cli(srv, *args):
    return srvkit.server_cli(srv.cfg.get("server", "database_url"), *args)


def it_session(srv):
    user, password = srv.admin()
    s = requests.Session()
    csrf = re.search(r'name="csrf" value="([^"]+)"', s.get(srv.url + "/login").text).group(1)
    r = s.post(srv.url + "/login", data={"username": user, "password": password, "csrf": csrf})
    assert r.status_code == 200, r.text[:300]
    return s


def csrf_of(html):
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


# -- part 1: no takeover by re-enrollment ----------------------------------------

def test_the_token_and_a_serial_do_not_take_over_a_device(live_server):
    srv = live_server
    dev_id, secret = enrolled(srv, MAC)
    assert report_as(srv, secret, MAC).status_code == 202
    variants = [MAC,                                                            # exact copy
                dict(MAC, serial=" c02xk1jhjg5h ", hardware_uuid=None),         # serial only
                dict(MAC, serial=None, hardware_uuid="3a8e4d56-2c1b-5e4d-8f90-a1b2c3d4e5f6"),  # UUID, swapped
                dict(MAC, platform="windows", hardware_uuid="11111111-2222-3333-4444-555555555555"),
                dict(MAC, serial="C02ATTACKER1")]                               # UUID only
    for claim in variants:
        r = enroll(srv, dict(claim, hostname="evil"))
        assert r.status_code == 202, (claim, r.text)
        body = r.json()
        assert body["status"] == "pending" and "waiting for IT" in body["detail"]
        assert "device_secret" not in body and "device_id" not in body
        assert int(r.headers["Retry-After"]) >= 60
        # asking again with its request secret: still waiting, still no secret
        again = enroll(srv, claim, bearer=body["request_secret"])
        assert again.status_code == 202 and "device_secret" not in again.json()
        assert again.json()["request_id"] == body["request_id"]
    assert srv.count("devices") == 1 and srv.count("enroll_requests") == len(variants)
    # nothing replaced the real device: its secret works, its facts are its own
    assert report_as(srv, secret, MAC).status_code == 202
    assert policy(srv, secret).status_code == 204
    row = device_row(srv, dev_id)
    assert row.hostname == "alice-mbp" and row.serial == MAC["serial"]
    # a forged bearer (another device's id, a made-up secret) is no way in either
    r = enroll(srv, MAC, bearer=f"{dev_id}.forged")
    assert r.status_code == 202 and r.json()["status"] == "pending"
    # an identity nobody holds is a new device, as before
    other_id, other_secret = enrolled(srv, BOB)
    assert other_id != dev_id and report_as(srv, other_secret, BOB).status_code == 202


def test_a_device_cannot_report_its_way_onto_another_devices_identity(live_server):
    srv = live_server
    _, alice = enrolled(srv, MAC)
    nobody = dict(MAC, serial=None, hardware_uuid=None, hostname="blank")
    blank_id, blank = enrolled(srv, nobody)              # enrolled with no serial, no UUID
    for stolen in (dict(nobody, serial=MAC["serial"]),
                   dict(nobody, hardware_uuid=MAC["hardware_uuid"].lower()),
                   dict(nobody, serial="c02xk1jhjg5h", hardware_uuid=MAC["hardware_uuid"])):
        r = report_as(srv, blank, stolen)
        assert r.status_code == 409, (stolen, r.text)
        assert r.json()["reason"] == "identity_taken"
        assert "another enrolled device" in r.json()["detail"]
    row = device_row(srv, blank_id)
    assert row.serial is None and row.hardware_uuid is None and row.last_report_id is None
    assert report_as(srv, alice, MAC).status_code == 202          # the real one is untouched
    # its own, new serial is fine, once; then it is locked like any other
    assert report_as(srv, blank, dict(nobody, serial="5CG0001ABC")).status_code == 202
    assert report_as(srv, blank, dict(nobody, serial=None)).status_code == 202
    assert device_row(srv, blank_id).serial == "5CG0001ABC"      # unknown never clears it
    assert report_as(srv, blank, dict(nobody, serial="5CG0002XYZ")).status_code == 409


def test_re_enrolling_with_the_current_secret_rotates_it(live_server):
    srv = live_server
    dev_id, old = enrolled(srv, MAC)
    r = enroll(srv, dict(MAC, hostname="alice-renamed"), bearer=old)
    assert r.status_code == 201, r.text
    assert r.json()["device_id"] == dev_id and r.json()["device_secret"] != old
    new = r.json()["device_secret"]
    assert srv.count("devices") == 1 and device_row(srv, dev_id).hostname == "alice-renamed"
    assert report_as(srv, old, MAC).status_code == 401
    assert report_as(srv, new, MAC).status_code == 202
    # the secret presented by another machine (a cloned disk) rotates nothing: that machine
    # enrolls as itself
    r = enroll(srv, BOB, bearer=new)
    assert r.status_code == 201 and r.json()["device_id"] != dev_id
    assert report_as(srv, new, MAC).status_code == 202


def test_a_reinstalled_laptop_gets_back_in_through_it(live_server, tmp_path):
    """The real agent: enrolled, reinstalled (its state is gone), waits for IT without
    hammering the server, IT approves it with checkup-server, it is the same device again
    and nothing it queued is lost."""
    from agent.reporting import REQUEST_FILE, Sender, load_credentials, report_now
    srv = live_server
    settings = srvkit.agent_settings(srv.url, srv.token())
    first_dir, second_dir = str(tmp_path / "before"), str(tmp_path / "after")
    code, msg = report_now(settings, first_dir, report=srvkit.with_id(rep(), device=MAC))
    assert code == 0, msg
    dev_id = load_credentials(first_dir, srv.url).device_id
    old_secret = load_credentials(first_dir, srv.url).device_secret

    queued = [srvkit.with_id(rep(), device=MAC) for _ in range(2)]
    code, msg = report_now(settings, second_dir, report=queued[0])
    assert code == 1, msg
    assert "waiting for IT to approve this computer" in msg and "1 still queued" in msg
    path = os.path.join(second_dir, REQUEST_FILE)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_credentials(second_dir, srv.url) is None
    sender = Sender(settings, second_dir)
    try:
        assert sender.next_attempt_at() - time.time() > 800          # the server's Retry-After
        sender.queue.add(queued[1])
        assert sender.flush().skipped                                 # not before that
    finally:
        sender.close()
    code, msg = report_now(settings, second_dir)                      # asks again: same request
    assert code == 1 and "waiting for IT" in msg
    assert srv.count("enroll_requests") == 1

    code, out, _ = cli(srv, "device", "requests")
    assert code == 0 and dev_id in out and "alice-mbp" in out
    request_id = re.search(r"request (\w+)", out).group(1)
    code, out, _ = cli(srv, "device", "list")
    assert code == 0 and dev_id in out and "device requests" in out
    assert report_as(srv, old_secret, MAC).status_code == 202        # not yet approved
    code, out, _ = cli(srv, "device", "approve", request_id)
    assert code == 0 and "Approved" in out

    code, msg = report_now(settings, second_dir)
    assert code == 0 and "Sent 2 of 2" in msg, msg
    assert load_credentials(second_dir, srv.url).device_id == dev_id
    assert not os.path.exists(path)
    assert report_as(srv, old_secret, MAC).status_code == 401        # the old install's secret
    assert srv.count("devices") == 1
    with srv.engine.connect() as conn:
        owners = conn.execute(text("SELECT DISTINCT device_id FROM reports")).scalars().all()
    assert owners == [dev_id]
    # the used request is spent: presenting it again gets nothing
    code, _, err = cli(srv, "device", "approve", request_id)
    assert code == 3 and "already used" in err


def test_it_rejects_an_impostor_on_the_device_page(live_server):
    srv = live_server
    dev_id, secret = enrolled(srv, MAC)
    r = enroll(srv, dict(MAC, hostname="evil-box"))
    request_id, request_secret = r.json()["request_id"], r.json()["request_secret"]
    it = it_session(srv)
    page = it.get(f"{srv.url}/devices/{dev_id}").text
    assert "Waiting for IT" in page and "evil-box" in page and f"request-{request_id}" in page
    assert "Waiting for IT" in it.get(srv.url + "/devices").text
    action = f"{srv.url}/devices/{dev_id}/requests/{request_id}/reject"
    assert it.post(action, data={}).status_code == 400                      # no CSRF token
    assert requests.post(action, data={"csrf": "x"}, allow_redirects=False).status_code == 303  # not signed in
    r = it.post(action, data={"csrf": csrf_of(page)}, allow_redirects=False)
    assert r.status_code == 303
    assert "Rejected" in it.get(srv.url + r.headers["location"]).text
    r = enroll(srv, MAC, bearer=request_secret)
    assert r.status_code == 403 and r.json()["reason"] == "enrollment_rejected"
    assert "device_secret" not in r.json()
    assert report_as(srv, secret, MAC).status_code == 202
    # deciding twice, or a request of another device, is refused with a reason, not a 500
    r = it.post(action.replace("reject", "approve"), data={"csrf": csrf_of(page)})
    assert r.status_code == 409 and "already rejected" in r.text
    r = it.post(f"{srv.url}/devices/{dev_id}/requests/nosuch/approve", data={"csrf": csrf_of(page)})
    assert r.status_code == 409
    assert it.post(f"{srv.url}/devices/{dev_id}/requests/{request_id}/delete",
                   data={"csrf": csrf_of(page)}).status_code == 404


def test_it_approves_on_the_device_page(live_server):
    srv = live_server
    dev_id, _ = enrolled(srv, MAC)
    r = enroll(srv, MAC)
    request_secret = r.json()["request_secret"]
    it = it_session(srv)
    page = it.get(f"{srv.url}/devices/{dev_id}").text
    r = it.post(f"{srv.url}/devices/{dev_id}/requests/{r.json()['request_id']}/approve",
                data={"csrf": csrf_of(page)}, allow_redirects=False)
    assert r.status_code == 303
    r = enroll(srv, MAC, bearer=request_secret)
    assert r.status_code == 201 and r.json()["device_id"] == dev_id
    assert report_as(srv, r.json()["device_secret"], MAC).status_code == 202
    assert enroll(srv, MAC, bearer=request_secret).status_code == 202   # spent: a new request


def test_waiting_requests_per_device_are_bounded(database_url):
    srv = srvkit.LiveServer(database_url).start()
    try:
        enrolled(srv, MAC)
        token = srv.token()
        codes = [enroll(srv, MAC, token).status_code for _ in range(11)]
        assert codes == [202] * 10 + [429]
    finally:
        srv.stop()


# -- part 2: revocation ------------------------------------------------------------

def test_revoking_a_device_kills_its_secret_at_once_and_keeps_its_history(live_server):
    srv = live_server
    dev_id, secret = enrolled(srv, MAC)
    _, bob = enrolled(srv, BOB)
    for status in ("pass", "fail"):
        checks = [dict(c, status=status) for c in rep()["checks"]]
        assert report_as(srv, secret, MAC, checks=checks, status=status).status_code == 202
    assert report_as(srv, bob, BOB).status_code == 202
    waiting = enroll(srv, MAC).json()["request_secret"]            # someone asks to be it
    code, out, _ = cli(srv, "device", "revoke", dev_id)
    assert code == 0 and "Revoked" in out
    assert report_as(srv, secret, MAC).status_code == 401
    assert policy(srv, secret).status_code == 401
    for bearer in (None, secret, waiting):
        r = enroll(srv, MAC, bearer=bearer)
        assert r.status_code == 403, r.text
        assert r.json()["reason"] == "device_revoked" and "removed" in r.json()["detail"]
    assert report_as(srv, bob, BOB).status_code == 202             # others keep working
    assert cli(srv, "device", "revoke", dev_id)[1].startswith(f"{dev_id} was already revoked")
    code, _, err = cli(srv, "device", "revoke", "nosuchdevice")
    assert code == 3 and "no device" in err

    it = it_session(srv)
    page = it.get(f"{srv.url}/devices/{dev_id}").text
    assert 'id="revoked-badge"' in page and "Revoked" in page
    assert 'id="history"' in page and "first report" in page       # history kept
    assert 'id="revoke-form"' not in page
    ov = it.get(srv.url + "/").text
    assert "1 device enrolled." in ov and "1 revoked" in ov
    listed = it.get(srv.url + "/devices").text
    assert "bob-mbp" in listed and "alice-mbp" not in listed
    revoked = it.get(srv.url + "/devices?status=revoked").text
    assert "alice-mbp" in revoked and "bob-mbp" not in revoked and "s-revoked" in revoked
    assert counted(srv) == 1
    listed = cli(srv, "device", "list", "--revoked")[1].splitlines()
    assert len(listed) == 1 and listed[0].startswith(f"{dev_id}  revoked")
    # IT brings it back: restore, then the laptop's next enrollment waits for approval
    code, out, _ = cli(srv, "device", "restore", dev_id)
    assert code == 0
    assert report_as(srv, secret, MAC).status_code == 401           # the old secret stays dead
    r = enroll(srv, MAC)
    assert r.status_code == 202
    assert cli(srv, "device", "approve", r.json()["request_id"])[0] == 0
    r = enroll(srv, MAC, bearer=r.json()["request_secret"])
    assert r.status_code == 201 and r.json()["device_id"] == dev_id
    assert counted(srv) == 2 and "2 devices enrolled." in it.get(srv.url + "/").text


def counted(srv) -> int:
    """The devices /metrics counts (checkup_devices, all statuses)."""
    metrics = requests.get(srv.url + "/metrics").text
    return sum(int(float(m)) for m in re.findall(r'^checkup_devices\{status="\w+"\} (\S+)$',
                                                 metrics, re.M))


def test_the_revoke_button_needs_an_admin_and_the_csrf_token(live_server):
    srv = live_server
    dev_id, secret = enrolled(srv, MAC)
    it = it_session(srv)
    page = it.get(f"{srv.url}/devices/{dev_id}").text
    assert 'id="revoke-form"' in page
    url = f"{srv.url}/devices/{dev_id}/revoke"
    r = requests.post(url, data={"csrf": csrf_of(page)}, allow_redirects=False)
    assert r.status_code == 303 and "/login" in r.headers["location"]   # not signed in
    assert it.post(url, data={"csrf": "wrong"}).status_code == 400
    assert report_as(srv, secret, MAC).status_code == 202
    r = it.post(url, data={"csrf": csrf_of(page), "confirm": "yes"}, allow_redirects=False)
    assert r.status_code == 303
    assert "Revoked." in it.get(srv.url + r.headers["location"]).text
    assert report_as(srv, secret, MAC).status_code == 401
    row = device_row(srv, dev_id)
    assert row.revoked_at is not None and row.revoked_by == "web:it-admin"
    assert it.post(url, data={"csrf": csrf_of(page)}).status_code == 409   # already revoked
    assert it.post(f"{srv.url}/devices/nosuch/revoke", data={"csrf": csrf_of(page)}).status_code == 404


def test_revoking_a_leaked_token_with_its_devices(live_server):
    from server.security import split_secret
    srv = live_server
    leaked, other = srv.token(), srv.token()
    a, a_secret = enrolled(srv, MAC, leaked)
    b, b_secret = enrolled(srv, BOB, leaked)
    carol = dict(BOB, hostname="carol", serial="C02CAROL0001", hardware_uuid=None)
    c, c_secret = enrolled(srv, carol, other)
    code, out, _ = cli(srv, "token", "revoke", split_secret(leaked), "--devices")
    assert code == 0 and "Revoked 2 devices" in out, out
    assert report_as(srv, a_secret, MAC).status_code == 401
    assert report_as(srv, b_secret, BOB).status_code == 401
    assert report_as(srv, c_secret, carol).status_code == 202
    assert enroll(srv, dict(BOB, serial="NEW0001", hardware_uuid=None), leaked).status_code == 401
    assert device_row(srv, c).revoked_at is None
    # without --devices (as before) only the token goes
    code, out, _ = cli(srv, "token", "revoke", split_secret(other))
    assert code == 0 and "keep reporting" in out
    assert report_as(srv, c_secret, carol).status_code == 202


def test_the_agent_of_a_revoked_device_says_so_and_asks_rarely(live_server, tmp_path):
    from agent.reporting import Sender, load_credentials, report_now
    srv = live_server
    settings = srvkit.agent_settings(srv.url, srv.token())
    sd = str(tmp_path / "agent")
    assert report_now(settings, sd, report=srvkit.with_id(rep(), device=MAC))[0] == 0
    cli(srv, "device", "revoke", load_credentials(sd, srv.url).device_id)
    code, msg = report_now(settings, sd, report=srvkit.with_id(rep(), device=MAC))
    assert code == 2 and "removed from Checkup by IT" in msg and "1 still queued" in msg, msg
    sender = Sender(settings, sd)
    try:
        assert sender.next_attempt_at() - time.time() > 20 * 3600
        assert sender.queue.count() == 1
    finally:
        sender.close()


# -- part 12d: a reused report_id ----------------------------------------------------

def test_a_reused_report_id_with_another_body_is_a_conflict(live_server):
    srv = live_server
    _, secret = enrolled(srv, MAC)
    first = srvkit.with_id(rep(), device=MAC)
    assert post(srv, secret, first).json()["stored"] is True
    r = post(srv, secret, first)                                      # the agent's resend
    assert r.status_code == 202 and r.json()["stored"] is False
    same_json = requests.post(srv.url + "/api/v1/reports", data=json.dumps(first, indent=2),
                              headers={"Authorization": f"Bearer {secret}"})
    assert same_json.status_code == 202 and same_json.json()["stored"] is False
    changed = dict(first, checks=[dict(c, status="pass") for c in first["checks"]])
    r = post(srv, secret, changed)
    assert r.status_code == 409 and r.json()["reason"] == "report_id_reused"
    with srv.engine.connect() as conn:
        body = conn.execute(text("SELECT body FROM reports WHERE report_id = :r"),
                            {"r": first["report_id"]}).scalar_one()
    assert json.loads(body) == first


def test_a_reused_report_id_inside_one_batch(live_server):
    """Two bodies with one report_id in the same group commit: the first is stored, the
    same body again is a duplicate, another body is a conflict."""
    import datetime as dt

    from server.ingest import DUPLICATE, REUSED, STORED, Item, write_batch
    from server.security import sha256_hex
    srv = live_server
    dev_id, secret = enrolled(srv, MAC)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)

    def item(body):
        return Item(device_id=dev_id, secret_hash=sha256_hex(secret), report_id="r-1",
                    checked_at=now, status="pass", device=MAC, agent_version="1",
                    checks={"firewall": "pass"}, body=body)
    batch = [item('{"a":1}'), item('{"a":1}'), item('{"a":2}')]
    out = write_batch(srv.engine, batch)
    assert [out[id(i)] for i in batch] == [STORED, DUPLICATE, REUSED]


# -- migration 0004 --------------------------------------------------------------------

def test_migration_0004_keys_devices_enrolled_before_it(database_url):
    from server.db import make_engine, migrate
    engine = make_engine(database_url)
    migrate(engine, "0003")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO devices (id, secret_hash, enrolled_at, status, failing, "
                          "serial, hardware_uuid) VALUES ('olddevice', 'x', '2026-01-01 00:00:00', "
                          "'unknown', '', ' c02xk1jhjg5h ', '3a8e4d56-2c1b-5e4d-8f90-a1b2c3d4e5f6')"))
    migrate(engine)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT serial_key, uuid_key, revoked_at FROM devices")).one()
    engine.dispose()
    assert row.serial_key == "C02XK1JHJG5H" and row.revoked_at is None
    assert row.uuid_key == "3A8E4D56-2C1B-5E4D-8F90-A1B2C3D4E5F6"
    srv = srvkit.LiveServer(database_url).start()
    try:
        r = enroll(srv, MAC)                               # the same machine, held since before
        assert r.status_code == 202 and r.json()["status"] == "pending"
    finally:
        srv.stop()


def test_the_agent_keeps_its_secret_when_re_enrolling_fails(live_server, tmp_path):
    """401 (a proxy's glitch), then the enrollment that follows is lost (502): the agent
    still holds its secret, so the next try is no reinstall waiting for IT."""
    from agent.reporting import load_credentials, report_now
    srv = live_server
    proxy = srvkit.FaultProxy(srv.url)
    try:
        settings = srvkit.agent_settings(proxy.url, srv.token())
        sd = str(tmp_path / "agent")
        assert report_now(settings, sd, report=srvkit.with_id(rep(), device=MAC))[0] == 0
        before = load_credentials(sd, proxy.url)
        proxy.script = [(401, {}, False), (502, {}, False)]
        code, msg = report_now(settings, sd, report=srvkit.with_id(rep(), device=MAC))
        assert code == 1 and "502" in msg, msg
        assert load_credentials(sd, proxy.url) == before
        code, msg = report_now(settings, sd)
        assert code == 0 and "Sent 1 of 1" in msg, msg
        assert srv.count("enroll_requests") == 0 and srv.count("devices") == 1
    finally:
        proxy.close()
