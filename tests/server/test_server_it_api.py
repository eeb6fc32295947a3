"""IT's API (DESIGN "API for IT") against the real server on SQLite and PostgreSQL: devices
enrolled by real agents' reports, API tokens made with the real CLI, pagination that walks
every device once while devices enroll between pages, filters, one device, findings from a
real (loopback Jamf) sync, token expiry and revocation, viewer vs admin on the one change
route, and the audit rows of token create/revoke and of a revocation through the API."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid

import pytest
import requests
from sqlalchemy import select, update

import srvkit

ROOT = srvkit.ROOT
API = "/api/v1"
DEVICE_KEYS = {"id", "hostname", "platform", "os_name", "os_version", "serial", "status",
               "last_seen", "owner", "owner_source", "checks", "revoked_at"}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def srv(database_url):
    s = srvkit.LiveServer(database_url, enrolls_per_minute=100000, reports_per_minute=100000,
                          report_burst=100000).start()
    s.enroll_token = s.token()
    yield s
    s.stop()


# -- helpers: the CLI in this process, agents, the API -------------------------------

def cli(srv, *args: str) -> tuple[int, str, str]:
    return srvkit.server_cli(srv.cfg.get("server", "database_url"), *args)


def new_token(srv, role: str = "viewer", label: str = "test", expires: str | None = None) -> str:
    args = ["api-token", "create", "--role", role, "--label", label]
    if expires:
        args += ["--expires", expires]
    code, out, err = cli(srv, *args)
    assert code == 0, err
    return out.strip()


def token_id(token: str) -> str:
    return token.split(".", 1)[0]


def add_device(srv, n: int, fixture: int | None = None, report: bool = True, **device) -> dict:
    """Enroll a device as the agent does and send one real report; returns what was sent."""
    files = srvkit.fixture_files()
    rep = srvkit.report_for(files[(n if fixture is None else fixture) % len(files)])
    dev = dict(rep["device"], serial=f"APITEST{n:05d}", hardware_uuid=str(uuid.uuid4()).upper(),
               hostname=f"host-{n}", **device)
    r = requests.post(srv.url + API + "/enroll", timeout=30,
                      json={"enroll_token": srv.enroll_token, "device": dev})
    assert r.status_code == 201, r.text
    device_id, secret = r.json()["device_id"], r.json()["device_secret"]
    sent = None
    if report:
        sent = srvkit.with_id(rep, device=dev)
        r = send(srv, secret, sent)
        assert r.status_code == 202, r.text
    return {"id": device_id, "secret": secret, "report": sent, "device": dev}


def send(srv, secret: str, report: dict) -> requests.Response:
    return requests.post(srv.url + API + "/reports", data=json.dumps(report), timeout=30,
                         headers={"Authorization": f"Bearer {secret}",
                                  "Content-Type": "application/json"})


def get(srv, path: str, token: str | None = None, **params) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(srv.url + API + path, params=params, headers=headers, timeout=60)


def walk(srv, token: str, between=None, **params) -> tuple[list[dict], int]:  # noqa: ANN001
    """Every page of /devices; ``between(page_number)`` runs after each page."""
    seen, cursor, pages = [], None, 0
    while True:
        r = get(srv, "/devices", token, **params, **({"cursor": cursor} if cursor else {}))
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"devices", "next_cursor"}
        seen += body["devices"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return seen, pages
        if between:
            between(pages)
        assert pages < 100


def audit_rows(srv, action: str) -> list:
    from server.models import AuditEvent
    with srv.engine.connect() as conn:
        return conn.execute(select(AuditEvent).where(AuditEvent.action == action)
                            .order_by(AuditEvent.id)).all()


# -- devices, pages, filters -------------------------------------------------------------

def test_pages_walk_every_device_exactly_once_while_devices_enroll(srv):
    token = new_token(srv)
    before = {d["id"]: d for d in (add_device(srv, n) for n in range(12))}
    added: list[str] = []

    def enroll_two(page: int) -> None:   # new devices land before and after the cursor
        for k in range(2):
            added.append(add_device(srv, 100 + page * 10 + k)["id"])

    seen, pages = walk(srv, token, between=enroll_two, limit=5)
    ids = [d["id"] for d in seen]
    assert len(ids) == len(set(ids)), "a device came twice"
    assert set(before) <= set(ids), "a device was skipped"
    assert set(ids) <= set(before) | set(added)
    assert ids == sorted(ids) and pages >= 3
    for d in seen:
        assert set(d) == DEVICE_KEYS
        if d["id"] not in before:
            continue
        sent = before[d["id"]]["report"]
        assert d["checks"] == {c["id"]: c["status"] for c in sent["checks"]}
        assert d["status"] == sent["status"]
        assert (d["hostname"], d["serial"], d["platform"]) == (
            sent["device"]["hostname"], sent["device"]["serial"], sent["device"]["platform"])
        assert d["os_version"] == sent["device"].get("os_version")
        assert RFC3339.match(d["last_seen"]) and d["owner"] is None and d["owner_source"] is None
        assert d["revoked_at"] is None
    # a full page at the end is not followed by an empty one: next_cursor is null at once
    everyone, _ = walk(srv, token, limit=500)
    exact, pages = walk(srv, token, limit=len(everyone))
    assert pages == 1 and len(exact) == len(everyone)


def test_filters_status_owner_revoked(srv):
    from server.models import Device
    token = new_token(srv)
    devs = [add_device(srv, n, fixture=f) for n, f in enumerate((0, 4, 7, 9, 11, 22, 16))]
    by_status: dict[str, set] = {}
    for d in devs:
        by_status.setdefault(d["report"]["status"], set()).add(d["id"])
    assert {"fail", "nudge", "pass"} <= set(by_status)
    for status, ids in by_status.items():
        got, _ = walk(srv, token, status=status, limit=2)
        assert {d["id"] for d in got} == ids and all(d["status"] == status for d in got)
    assert walk(srv, token, status="skip")[0] == []

    alice = [devs[0]["id"], devs[3]["id"]]
    with srv.engine.begin() as conn:
        conn.execute(update(Device).where(Device.id.in_(alice))
                     .values(owner="alice@example.com", owner_source="it"))
        conn.execute(update(Device).where(Device.id == devs[1]["id"])
                     .values(owner="bob@example.com", owner_source="claim"))
    got, _ = walk(srv, token, owner=" Alice@Example.COM ")
    assert sorted(d["id"] for d in got) == sorted(alice)
    assert all((d["owner"], d["owner_source"]) == ("alice@example.com", "it") for d in got)
    assert walk(srv, token, owner="carol@example.com")[0] == []
    got, _ = walk(srv, token, owner="alice@example.com", status=devs[0]["report"]["status"])
    assert devs[0]["id"] in {d["id"] for d in got}

    gone = devs[2]["id"]
    code, out, err = cli(srv, "device", "revoke", gone)
    assert code == 0, err
    live, _ = walk(srv, token)
    assert gone not in {d["id"] for d in live} and len(live) == len(devs) - 1
    everything, _ = walk(srv, token, revoked="true")
    revoked = [d for d in everything if d["id"] == gone]
    assert len(everything) == len(devs) and RFC3339.match(revoked[0]["revoked_at"])
    assert all(d["revoked_at"] is None for d in everything if d["id"] != gone)


def test_bad_parameters_get_a_reason_and_nothing_gives_a_5xx(srv):
    token = new_token(srv)
    add_device(srv, 1)
    for params, words in (({"cursor": "not-a-cursor"}, "cursor"),
                          ({"cursor": "ZDE6Li4vZXRj"}, "cursor"),   # base64 of "d1:../etc"
                          ({"cursor": "eyJhZnRlciI6MX0"}, "cursor"),  # {"after":1}
                          ({"owner": "not an email"}, "owner"),
                          ({"owner": "a@b\x00c"}, "owner"),
                          ({"owner": "@example.com"}, "owner")):
        r = get(srv, "/devices", token, **params)
        assert r.status_code == 422 and words in r.json()["detail"], (params, r.text)
    for params in ({"limit": 0}, {"limit": 501}, {"limit": -1}, {"limit": "ten"},
                   {"limit": "9" * 5000}, {"status": "broken"}, {"status": "fail\x00"},
                   {"revoked": "perhaps"}, {"cursor": "A" * 5000}, {"owner": "a" * 400 + "@x.org"}):
        r = get(srv, "/devices", token, **params)
        assert r.status_code == 422, (params, r.status_code, r.text[:200])
    for params in ({"owner": "ünï@exämple.com"}, {"owner": "\u202ealice@example.com"},
                   {"owner": "😀@example.com"}, {"cursor": ""}, {"status": ""}):
        r = get(srv, "/devices", token, **params)
        assert r.status_code in (200, 422), (params, r.status_code, r.text[:200])
    assert get(srv, "/devices", token, owner="ünï@exämple.com").json()["devices"] == []
    for raw in ("%00", "%C3%BC", "a" * 300, "..%2F..%2Fetc", "%F0%9F%98%80", "%ff%fe", "1%20OR%201"):
        r = requests.get(f"{srv.url}{API}/devices/{raw}", timeout=30,
                         headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 404, (raw, r.status_code, r.text[:200])
        r = requests.get(f"{srv.url}{API}/devices?owner={raw}@x.org&cursor={raw}", timeout=30,
                         headers={"Authorization": f"Bearer {token}"})
        assert r.status_code < 500, (raw, r.status_code, r.text[:200])


# -- one device --------------------------------------------------------------------------

def test_one_device_with_its_newest_report_exactly_as_sent(srv):
    token = new_token(srv)
    d = add_device(srv, 7, fixture=9)
    newer = srvkit.with_id(d["report"], device=dict(d["device"], hostname="evil\u202egpj.exe"))
    assert send(srv, d["secret"], newer).status_code == 202
    r = get(srv, f"/devices/{d['id']}", token)
    assert r.status_code == 200, r.text
    assert "\\u202e" in r.text and "\u202e" not in r.text   # bidi control escaped, not shown
    one = r.json()
    assert DEVICE_KEYS <= set(one)
    assert one["report"] == newer and one["report_id"] == newer["report_id"]
    assert one["hostname"] == "evil\u202egpj.exe"
    assert one["checks"] == {c["id"]: c["status"] for c in newer["checks"]}
    assert RFC3339.match(one["report_received_at"]) and RFC3339.match(one["enrolled_at"])
    assert one["agent_version"] == newer.get("agent_version")

    quiet = add_device(srv, 8, report=False)
    one = get(srv, f"/devices/{quiet['id']}", token).json()
    assert one["report"] is None and one["report_id"] is None and one["last_seen"] is None
    assert one["status"] == "unknown" and one["checks"] == {}
    r = get(srv, "/devices/" + "0" * 32, token)
    assert r.status_code == 404 and r.json() == {"detail": "no such device"}


# -- findings ------------------------------------------------------------------------------

def test_findings_are_what_reconcile_json_prints(srv):
    sys.path.insert(0, os.path.join(ROOT, "tests", "mdm"))
    from mdmstubs import JamfStub
    from test_mdm_jamf import computer

    from server.mdm.store import sync_source
    token = new_token(srv)
    mine = add_device(srv, 1, fixture=9)
    add_device(srv, 2, fixture=16)
    jamf = computer(1)
    jamf["hardware"]["serialNumber"] = mine["device"]["serial"]
    jamf["diskEncryption"]["fileVault2Enabled"] = False
    jamf["diskEncryption"]["bootPartitionEncryptionDetails"]["partitionFileVault2State"] = "NOT_ENCRYPTED"
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    comps = [jamf, computer(2), computer(3)]
    for c in comps:
        c["general"]["reportDate"] = now
    comps[1]["general"]["reportDate"] = "2020-01-01T00:00:00Z"   # silent for years
    stub = JamfStub(comps, [])
    try:
        result = sync_source(srv.engine, "jamf", {"url": stub.url, "client_id": "cid",
                                                  "client_secret_env": "JAMF_API_TEST"},
                             environ={"JAMF_API_TEST": "s3cret"})
        assert result.status == "ok", result.line()
    finally:
        stub.close()
    r = get(srv, "/findings", token)
    assert r.status_code == 200, r.text
    api = r.json()
    code, out, err = cli(srv, "reconcile", "--json")
    assert code == 0, err
    printed = json.loads(out)
    assert RFC3339.match(api["generated_at"])
    assert api["findings"] == printed["findings"]
    kinds = {f["kind"] for f in api["findings"]}
    assert {"unmanaged", "silent"} <= kinds, kinds
    assert any(f["kind"] == "silent" and f["serial"] == "C02XK00002" for f in api["findings"])
    assert get(srv, "/findings").status_code == 401


# -- tokens: expiry, revocation, roles, audit ------------------------------------------------

def test_tokens_expire_are_revoked_and_garbage_is_401(srv):
    short = new_token(srv, expires="0.00005")   # 4.3 seconds
    assert get(srv, "/devices", short).status_code == 200
    keep = new_token(srv, label="kept")
    time.sleep(6)   # the server's clock has whole seconds
    r = get(srv, "/devices", short)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
    assert "expired" in r.json()["detail"]
    assert get(srv, "/devices", keep).status_code == 200

    code, out, _ = cli(srv, "api-token", "list", "--json")
    listed = {t["id"]: t for t in json.loads(out)}
    assert listed[token_id(short)]["state"] == "expired"
    assert listed[token_id(keep)]["state"] == "active" and listed[token_id(keep)]["last_used_at"]

    code, out, _ = cli(srv, "api-token", "revoke", token_id(keep))
    assert code == 0 and "Revoked" in out
    for path in ("/devices", "/findings", "/devices/" + "0" * 32):
        assert get(srv, path, keep).status_code == 401
    device = add_device(srv, 3)
    for bad in (keep + "x", "nodot", token_id(keep) + ".", "a" * 300, device["secret"],
                srv.enroll_token, "é.é", keep.replace(".", "\t.")):
        r = get(srv, "/devices", bad)
        assert r.status_code == 401, (bad, r.status_code)
    assert get(srv, "/devices").status_code == 401


def test_revoke_route_admin_token_yes_viewer_no_and_the_audit_row(srv):
    viewer, admin = new_token(srv, "viewer", "read only"), new_token(srv, "admin", "ops bot")
    d = add_device(srv, 5)
    r = requests.post(f"{srv.url}{API}/devices/{d['id']}/revoke", timeout=30,
                      headers={"Authorization": f"Bearer {viewer}"})
    assert r.status_code == 403 and "viewer" in r.json()["detail"]
    assert send(srv, d["secret"], srvkit.with_id(d["report"])).status_code == 202   # still in
    assert audit_rows(srv, "device.revoke") == []

    r = requests.post(f"{srv.url}{API}/devices/{d['id']}/revoke", timeout=30,
                      headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 200, r.text
    assert r.json()["revoked"] is True and RFC3339.match(r.json()["revoked_at"])
    assert send(srv, d["secret"], srvkit.with_id(d["report"])).status_code == 401   # out at once
    rows = audit_rows(srv, "device.revoke")
    assert len(rows) == 1
    row = rows[0]
    assert (row.actor, row.role, row.target, row.ok) == (
        f"api-token:{token_id(admin)}", "admin", d["id"], True)
    assert row.address == "127.0.0.1"

    again = requests.post(f"{srv.url}{API}/devices/{d['id']}/revoke", timeout=30,
                          headers={"Authorization": f"Bearer {admin}"})
    assert again.status_code == 200 and again.json()["revoked"] is False
    missing = requests.post(f"{srv.url}{API}/devices/{'f' * 32}/revoke", timeout=30,
                            headers={"Authorization": f"Bearer {admin}"})
    assert missing.status_code == 404
    assert requests.post(f"{srv.url}{API}/devices/{d['id']}/revoke", timeout=30).status_code == 401
    assert len(audit_rows(srv, "device.revoke")) == 1   # nothing changed: no second row


def test_revoke_route_with_an_admin_session_needs_its_form_token(srv):
    from server.sessions import LOCAL, create_session
    name, _ = srv.admin("it-alice")
    cookie, sess = create_session(srv.engine, name, LOCAL, "admin", "127.0.0.1", 1)
    d = add_device(srv, 6)
    jar = {"checkup_session": cookie}
    url = f"{srv.url}{API}/devices/{d['id']}/revoke"
    r = requests.post(url, cookies=jar, timeout=30)
    assert r.status_code == 400 and "X-CSRF-Token" in r.json()["detail"]   # as the pages' forms
    r = requests.post(url, cookies=jar, headers={"X-CSRF-Token": "wrong"}, timeout=30)
    assert r.status_code == 400
    assert send(srv, d["secret"], srvkit.with_id(d["report"])).status_code == 202   # still in
    assert audit_rows(srv, "device.revoke") == []
    r = requests.post(url, cookies=jar, headers={"X-CSRF-Token": sess.csrf}, timeout=30)
    assert r.status_code == 200 and r.json()["revoked"] is True
    row = audit_rows(srv, "device.revoke")[0]
    assert (row.actor, row.role, row.target) == ("it-alice", "admin", d["id"])
    # a viewer's session reads but may not change
    vcookie, vs = create_session(srv.engine, "vera@example.com", "oidc", "viewer", "127.0.0.1", 1)
    assert requests.get(f"{srv.url}{API}/devices", cookies={"checkup_session": vcookie},
                        timeout=30).status_code == 200
    r = requests.post(url, cookies={"checkup_session": vcookie},
                      headers={"X-CSRF-Token": vs.csrf}, timeout=30)
    assert r.status_code == 403


# -- the CLI end to end ----------------------------------------------------------------------

def run_cli(env, *args):
    return subprocess.run([sys.executable, "-m", "server", *args], env=env, capture_output=True,
                          text=True, timeout=120, cwd=ROOT)


def test_api_token_cli_end_to_end(srv):
    env = dict(os.environ, PYTHONPATH=ROOT, DATABASE_URL=srv.cfg.get("server", "database_url"))
    r = run_cli(env, "api-token", "create", "--role", "admin", "--label", "inventory sync",
                "--expires", "2")
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    assert len(r.stdout.strip().splitlines()) == 1 and re.fullmatch(r"[0-9a-f]{16}\.\S{40,}", token)
    ident = token_id(token)
    assert f"API token {ident}, role admin, expires " in r.stderr and "shown only now" in r.stderr
    add_device(srv, 1)
    assert get(srv, "/devices", token).status_code == 200

    r = run_cli(env, "api-token", "list")
    assert r.returncode == 0 and ident in r.stdout and "inventory sync" in r.stdout
    assert token not in r.stdout and token.split(".")[1] not in r.stdout
    r = run_cli(env, "api-token", "list", "--json")
    (item,) = [t for t in json.loads(r.stdout) if t["id"] == ident]
    assert set(item) == {"id", "role", "label", "created_at", "created_by", "expires_at",
                         "last_used_at", "revoked_at", "state"}
    assert (item["role"], item["label"], item["state"]) == ("admin", "inventory sync", "active")
    assert item["created_by"].startswith("cli:") and RFC3339.match(item["expires_at"])
    assert RFC3339.match(item["last_used_at"])
    from server.models import ApiToken
    with srv.engine.connect() as conn:   # stored hashed: the token itself is nowhere
        stored = conn.execute(select(ApiToken.secret_hash).where(ApiToken.id == ident)).scalar()
    assert stored == __import__("hashlib").sha256(token.encode()).hexdigest()

    r = run_cli(env, "api-token", "revoke", ident)
    assert r.returncode == 0 and f"Revoked API token {ident}" in r.stdout
    assert get(srv, "/devices", token).status_code == 401
    r = run_cli(env, "api-token", "revoke", ident)
    assert r.returncode == 0 and "already revoked" in r.stdout
    assert json.loads(run_cli(env, "api-token", "list", "--json").stdout)[0]["state"] == "revoked"

    for args, words in ((("api-token", "create", "--role", "root", "--label", "x"), "--role"),
                        (("api-token", "create", "--role", "viewer"), "--label"),
                        (("api-token", "create", "--role", "viewer", "--label", "x",
                          "--expires", "0"), "days"),
                        (("api-token", "revoke", "nosuchtoken"), "no API token"),
                        (("api-token", "create", "--role", "viewer", "--label", "a\x1b[2Jb"),
                         "plain text"),
                        (("api-token", "create", "--role", "viewer", "--label", "  "), "--label"),
                        (("api-token",), "give an action")):
        r = run_cli(env, *args)
        assert r.returncode == 3 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, \
            (args, r.stderr)
    created, revoked = audit_rows(srv, "api_token.create"), audit_rows(srv, "api_token.revoke")
    assert [(a.target, a.actor.startswith("cli:")) for a in created] == [(ident, True)]
    assert [a.target for a in revoked] == [ident]   # the second revoke changed nothing
    assert "inventory sync" in created[0].detail and "admin" in created[0].detail


def test_the_readme_shows_the_routes_and_the_shape_that_exist():
    from server.routes.it_api import router
    doc = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = doc.split("### API for IT", 1)[1].split("\n## ", 1)[0]
    served = {(m, r.path.replace("{device_id}", "{id}")) for r in router.routes for m in r.methods}
    listed = set(re.findall(r"^\| `(GET|POST) (/api/v1/[^`]+)`", section, re.M))
    assert listed == served
    example = json.loads(section.split("```json", 1)[1].split("```", 1)[0].replace("…", ""))
    assert set(example) == {"devices", "next_cursor"} and set(example["devices"][0]) == DEVICE_KEYS
    for cmd in ("api-token create --role viewer", "api-token list", "api-token revoke", "curl"):
        assert cmd in section, cmd
