"""The audit log against the real server (SQLite and PostgreSQL): every sign-in (success,
wrong password, lockout), sign-out, policy change and device button on the IT pages, and
every `checkup-server` command that changes something (a real process), writes exactly one
row with who, role, action, target and address; `/audit` and its exports filter them;
viewers read it, employees and nobody do not, and no route changes a row."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import subprocess
import sys

import pytest
import requests
from sqlalchemy import select, update

import srvkit
from server.models import AuditEvent

ROOT = srvkit.ROOT
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "mdm"))

MAC = {"platform": "darwin", "hostname": "alice-mbp", "serial": "C02XK1JHJG5H",
       "hardware_uuid": "564D8E3A-1B2C-4D5E-8F90-A1B2C3D4E5F6", "os_name": "macOS",
       "os_version": "14.5"}
BOB = dict(MAC, hostname="bob-mbp", serial="C02BOB000001",
           hardware_uuid="AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE")
CAROL = dict(MAC, hostname="carol-mbp", serial="C02CAROL0001",
             hardware_uuid="CCCCCCCC-BBBB-CCCC-DDDD-EEEEEEEEEEEE")


def rows(srv_or_engine, **where) -> list[dict]:
    engine = getattr(srv_or_engine, "engine", srv_or_engine)
    q = select(AuditEvent.__table__).order_by(AuditEvent.id)
    for k, v in where.items():
        q = q.where(getattr(AuditEvent, k) == v)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def one(srv, **where) -> dict:
    found = rows(srv, **where)
    assert len(found) == 1, (where, found)
    return found[0]


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def login(srv, user: str, password: str, address: str) -> tuple[requests.Session, requests.Response]:
    s = requests.Session()
    s.headers["X-Forwarded-For"] = address   # the server trusts it from loopback (its proxy)
    page = s.get(srv.url + "/login", timeout=30)
    r = s.post(srv.url + "/login", data={"username": user, "password": password,
                                        "csrf": csrf_of(page.text)},
               allow_redirects=False, timeout=30)
    return s, r


def enroll(srv, device, token=None, bearer=None):
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return requests.post(srv.url + "/api/v1/enroll", headers=headers, timeout=30,
                         json={"enroll_token": token or srv.token(), "device": device})


def enrolled(srv, device, token=None) -> str:
    r = enroll(srv, device, token)
    assert r.status_code == 201, r.text
    return r.json()["device_id"]


# -- the IT pages ---------------------------------------------------------------

def test_sign_ins_sign_out_policy_and_device_buttons_each_write_one_row(live_server):
    srv = live_server
    user, password = srv.admin("it-alice", "correct horse battery")

    # a wrong password, and a name that is no account: refused rows, the typed name as who
    assert login(srv, user, "wrong password!", "10.0.0.1")[1].status_code == 401
    r = one(srv, action="sign_in", actor=user)
    assert (r["ok"], r["role"], r["target"], r["address"]) == (False, "", "local", "10.0.0.1")
    assert "wrong user name or password" in r["detail"]
    assert login(srv, "<b>nobody</b>\u202e", "x" * 12, "10.0.0.2")[1].status_code == 401
    r = one(srv, action="sign_in", address="10.0.0.2")
    assert r["actor"] == "<b>nobody</b>" and r["ok"] is False   # bidi control gone

    # lockout: the 5th failure in a row locks ("locked" in its row); the next is refused
    # without a password check, and says so
    for i in range(5):
        login(srv, "mallory", "guess number %d" % i, f"10.0.1.{i}")
    assert login(srv, "mallory", "guess again!", "10.0.1.9")[1].status_code == 429
    mallory = rows(srv, action="sign_in", actor="mallory")
    assert len(mallory) == 6 and not any(r["ok"] for r in mallory)
    assert "locked for 1 min" in mallory[4]["detail"] and "locked" not in mallory[3]["detail"]
    assert mallory[5]["detail"].startswith("locked out") and mallory[5]["address"] == "10.0.1.9"

    # success
    it, r = login(srv, user, password, "10.0.0.3")
    assert r.status_code == 303
    ok = rows(srv, action="sign_in", ok=True)
    assert [(r["actor"], r["role"], r["target"], r["address"]) for r in ok] == \
        [(user, "admin", "local", "10.0.0.3")]

    # the policy: changed, then cleared
    page = it.get(srv.url + "/policy", timeout=30).text
    text = '[organization]\nname = "Example Ltd"\n\n[screen_lock]\nmax_seconds = 600\n'
    assert it.post(srv.url + "/policy", data={"csrf": csrf_of(page), "policy": text},
                   allow_redirects=False).status_code == 303
    r = one(srv, action="policy.change")
    assert (r["actor"], r["role"], r["address"], r["ok"]) == (user, "admin", "10.0.0.3", True)
    assert r["target"] == "organisation policy" and f"{len(text)} bytes" in r["detail"]
    # a refused (invalid) policy changes nothing and writes nothing
    assert it.post(srv.url + "/policy", data={"csrf": csrf_of(page), "policy": "[x"}).status_code == 422
    assert it.post(srv.url + "/policy", data={"csrf": csrf_of(page), "policy": " "},
                   allow_redirects=False).status_code == 303
    r = one(srv, action="policy.clear")
    assert (r["actor"], r["role"], r["address"]) == (user, "admin", "10.0.0.3")
    assert len(rows(srv, action="policy.change")) == 1

    # the device page's buttons: reject, approve, revoke
    dev = enrolled(srv, MAC)
    req1 = enroll(srv, dict(MAC, hostname="evil-box")).json()["request_id"]
    req2 = enroll(srv, MAC).json()["request_id"]
    page = it.get(f"{srv.url}/devices/{dev}", timeout=30).text
    base = f"{srv.url}/devices/{dev}"
    assert it.post(f"{base}/requests/{req1}/reject", data={"csrf": csrf_of(page)},
                   allow_redirects=False).status_code == 303
    # deciding twice is refused (409) and is no change: no row
    assert it.post(f"{base}/requests/{req1}/approve", data={"csrf": csrf_of(page)}).status_code == 409
    assert it.post(f"{base}/requests/{req2}/approve", data={"csrf": csrf_of(page)},
                   allow_redirects=False).status_code == 303
    assert it.post(f"{base}/revoke", data={"csrf": csrf_of(page)},
                   allow_redirects=False).status_code == 303
    assert it.post(f"{base}/revoke", data={"csrf": csrf_of(page)}).status_code == 409
    for action, detail in (("device.reject", f"enrollment request {req1}"),
                           ("device.approve", f"enrollment request {req2}"),
                           ("device.revoke", "")):
        r = one(srv, action=action)
        assert (r["actor"], r["role"], r["target"], r["address"], r["ok"], r["detail"]) == \
            (user, "admin", dev, "10.0.0.3", True, detail), action

    # sign out
    page = it.get(srv.url + "/logout", timeout=30).text
    assert it.post(srv.url + "/logout", data={"csrf": "forged"}).status_code == 403
    assert it.post(srv.url + "/logout", data={"csrf": csrf_of(page)},
                   allow_redirects=False).status_code == 303
    r = one(srv, action="sign_out")
    assert (r["actor"], r["role"], r["target"], r["address"]) == (user, "admin", "local", "10.0.0.3")

    counts = {}
    for r in rows(srv):
        counts[r["action"]] = counts.get(r["action"], 0) + 1
    assert counts == {"enroll_token.create": 3, "sign_in": 9, "policy.change": 1, "policy.clear": 1, "device.reject": 1,
                      "device.approve": 1, "device.revoke": 1, "sign_out": 1}


# -- the commands -------------------------------------------------------------------

def cli(env, *args, stdin=None):
    return subprocess.run([sys.executable, "-m", "server", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def in_process(*args, stdin=None) -> subprocess.CompletedProcess:
    """`checkup-server ARGS` through its entry point in this process (the environment set
    by the test), as the other CLI tests run most commands: a real process costs seconds."""
    import contextlib

    from server.cli import main
    out, err, old_stdin = io.StringIO(), io.StringIO(), sys.stdin
    sys.stdin = io.StringIO(stdin or "")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        sys.stdin = old_stdin
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def test_every_changing_command_writes_one_row_and_audit_json_reads_them(live_server, monkeypatch):
    srv = live_server
    env = dict(os.environ, PYTHONPATH=ROOT, DATABASE_URL=srv.cfg.get("server", "database_url"),
               USER="it-bob", LOGNAME="it-bob")
    for k in ("DATABASE_URL", "USER", "LOGNAME"):
        monkeypatch.setenv(k, env[k])
    me = "cli:it-bob"

    def ok(*args, stdin=None, process=False):
        r = cli(env, *args, stdin=stdin) if process else in_process(*args, stdin=stdin)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r

    # a real process: the OS user name from its environment
    secret = ok("token", "create", "--label", "=Berlin", "--uses", "5", process=True).stdout.splitlines()[0]
    token_id = secret.split(".")[0]
    r = one(srv, action="enroll_token.create")
    assert (r["actor"], r["target"], r["role"], r["address"]) == (me, token_id, "", "")
    assert "label '=Berlin'" in r["detail"] and "at most 5 uses" in r["detail"]
    other = ok("token", "create").stdout.splitlines()[0]
    r = one(srv, action="enroll_token.create", target=other.split(".")[0])
    assert r["actor"] == me and r["detail"] == "no expiry, unlimited uses"
    dump = json.dumps(rows(srv), default=str)
    assert secret.split(".")[1] not in dump and other.split(".")[1] not in dump   # never logged

    # a device enrolled with the first; another with the second (approve/reject/restore)
    dev_a = enrolled(srv, MAC, secret)
    dev_b = enrolled(srv, BOB, other)
    req1 = enroll(srv, dict(BOB, hostname="impostor"), other).json()["request_id"]
    req2 = enroll(srv, BOB, other).json()["request_id"]
    ok("device", "reject", req1)
    ok("device", "approve", req2)
    ok("device", "revoke", dev_b)
    ok("device", "revoke", dev_b)          # already revoked: no change, no row
    ok("device", "restore", dev_b)
    assert in_process("device", "restore", dev_b).returncode == 3    # not revoked: refused, no row
    for action, detail in (("device.reject", f"enrollment request {req1}"),
                           ("device.approve", f"enrollment request {req2}"),
                           ("device.revoke", ""), ("device.restore", "")):
        r = one(srv, action=action)
        assert (r["actor"], r["target"], r["detail"], r["address"]) == (me, dev_b, detail, ""), action

    # revoking the token with its devices: one row for the token, one per device
    ok("token", "revoke", token_id, "--devices")
    ok("token", "revoke", token_id)        # already revoked: no row
    r = one(srv, action="enroll_token.revoke")
    assert (r["actor"], r["target"], r["detail"]) == (me, token_id, "and its devices")
    r = one(srv, action="device.revoke", target=dev_a)
    assert r["actor"] == me and r["detail"] == f"enrolled with revoked token {token_id}"

    # IT logins
    ok("admin", "create", "carol", "--password-stdin", stdin="a long password\n")
    ok("admin", "passwd", "carol", "--password-stdin", stdin="another long password\n")
    assert in_process("admin", "create", "dave", "--password-stdin", stdin="short\n").returncode == 3
    ok("admin", "unlock", "carol")
    ok("admin", "logout", "carol")
    ok("admin", "delete", "carol")
    assert in_process("admin", "delete", "carol").returncode == 3
    for action, detail in (("admin.create", ""), ("admin.password", "0 sessions ended"),
                           ("admin.unlock", "0 failed sign-ins forgotten"),
                           ("admin.logout", "0 sessions ended"), ("admin.delete", "0 sessions ended")):
        r = one(srv, action=action)
        assert (r["actor"], r["target"], r["detail"], r["ok"]) == (me, "carol", detail, True), action
    assert not rows(srv, target="dave")

    every = rows(srv)
    assert len(every) == 13

    # checkup-server audit --json: an array, newest first, every field
    got = json.loads(ok("audit", "--json", process=True).stdout)
    assert isinstance(got, list) and len(got) == 13
    assert [g["id"] for g in got] == [r["id"] for r in reversed(every)]
    assert set(got[0]) == {"id", "at", "actor", "role", "action", "target", "address", "ok", "detail"}
    assert got[0]["action"] == "admin.delete" and got[0]["ok"] is True
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", got[0]["at"])
    # filters
    assert [g["action"] for g in json.loads(ok("audit", "--json", "--action", "device.").stdout)] == \
        ["device.revoke", "device.restore", "device.revoke", "device.approve", "device.reject"]
    assert len(json.loads(ok("audit", "--json", "--action", "admin.create").stdout)) == 1
    assert len(json.loads(ok("audit", "--json", "--limit", "3").stdout)) == 3
    assert json.loads(ok("audit", "--json", "--actor", "nobody-else").stdout) == []
    assert json.loads(ok("audit", "--json", "--result", "refused").stdout) == []
    with srv.engine.begin() as conn:   # one row from long ago
        conn.execute(update(AuditEvent).where(AuditEvent.action == "enroll_token.create")
                     .values(at=dt.datetime(2020, 1, 1)))
    recent = json.loads(ok("audit", "--json", "--since", "30").stdout)
    assert len(recent) == 11 and "enroll_token.create" not in {g["action"] for g in recent}
    # the table
    table = ok("audit", "--actor", "IT-BOB").stdout.splitlines()
    assert len(table) == 13 and "admin.delete" in table[0] and "cli:it-bob" in table[0]
    assert "-> carol" in table[0]
    # bad input: one line, exit 3
    bad = in_process("audit", "--action", "drop_table")
    assert bad.returncode == 3 and "unknown action 'drop_table'" in bad.stderr
    assert bad.stderr.count("\n") == 1
    assert in_process("audit", "--limit", "0").returncode == 3


def test_manual_mdm_syncs_write_one_row_each(database_url, tmp_path, monkeypatch, capsys):
    from mdmstubs import JamfStub

    from server.cli import main
    from server.db import make_engine
    stub = JamfStub([], [])
    try:
        cfg = tmp_path / "server.toml"
        cfg.write_text(f'[server]\ndatabase_url = "{database_url}"\n\n[mdm.jamf]\nurl = "{stub.url}"\n'
                       'client_id = "cid"\nclient_secret_env = "JAMF_AUDIT_SECRET"\n')
        monkeypatch.setenv("JAMF_AUDIT_SECRET", "s3cret")
        monkeypatch.setenv("USER", "it-erin")
        monkeypatch.setenv("LOGNAME", "it-erin")
        assert main(["--config", str(cfg), "sync", "all"]) == 0          # jamf, and 3 skipped
        assert main(["--config", str(cfg), "sync", "intune"]) == 3       # not configured: no sync
        monkeypatch.delenv("JAMF_AUDIT_SECRET")
        assert main(["--config", str(cfg), "sync", "jamf"]) == 3         # fails: a refused row
        capsys.readouterr()
        engine = make_engine(database_url)
        got = rows(engine)
        assert [(r["actor"], r["action"], r["target"], r["ok"]) for r in got] == \
            [("cli:it-erin", "mdm.sync", "jamf", True), ("cli:it-erin", "mdm.sync", "jamf", False)]
        assert got[0]["detail"].startswith("jamf: synced") and "FAILED" in got[1]["detail"]
        engine.dispose()
    finally:
        stub.close()


# -- the page and its exports ---------------------------------------------------------

def _session(srv, subject: str, role: str, auth: str = "oidc") -> requests.Session:
    from server.sessions import create_session
    token, _ = create_session(srv.engine, subject, auth, role, "127.0.0.1", 1)
    s = requests.Session()
    s.cookies.set("checkup_session", token)
    return s


def _seed(srv) -> None:
    from server import audit
    with srv.engine.begin() as conn:
        for i in range(130):
            audit.record(conn, actor=f"admin{i % 3}@example.com", action="device.revoke", role="admin",
                         target=f"dev{i:03d}", address="10.1.0.1")
        audit.record(conn, actor="<script>alert(1)</script>", action="sign_in", ok=False,
                     target="oidc", address="10.9.9.9",
                     detail="=HYPERLINK(\"http://evil\") email not verified\u202egpj.exe")
        audit.record(conn, actor="viewer@example.com", action="sign_in", role="viewer", target="oidc")
    with srv.engine.begin() as conn:   # the first 10 revocations were 40 days ago
        ids = [r["id"] for r in rows(srv)][:10]
        conn.execute(update(AuditEvent).where(AuditEvent.id.in_(ids))
                     .values(at=dt.datetime.utcnow() - dt.timedelta(days=40)))


def test_the_audit_page_filters_pages_and_escapes(live_server):
    srv = live_server
    _seed(srv)
    viewer = _session(srv, "viewer@example.com", "viewer")
    page = viewer.get(srv.url + "/audit", timeout=30)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "132 rows, showing 1–100." in page.text and page.text.count('<tr class="event">') == 100
    # newest first: the viewer's sign-in, then the refused one, escaped, no bidi control
    events = page.text.split('<tr class="event">')[1:]
    assert "viewer@example.com" in events[0] and "&lt;script&gt;alert(1)&lt;/script&gt;" in events[1]
    assert "<script>" not in page.text and "\u202e" not in page.text and "refused" in events[1]
    assert 'href="/audit"' in page.text and 'aria-current="page">Audit' in page.text
    older = viewer.get(srv.url + "/audit?page=2", timeout=30).text
    assert older.count('<tr class="event">') == 32 and "showing 101–132" in older
    assert "dev000" in older and "dev000" not in page.text

    def shown(query: str) -> int:
        r = viewer.get(srv.url + "/audit?" + query, timeout=30)
        assert r.status_code == 200, (query, r.status_code)
        return r.text.count('<tr class="event">')

    assert shown("action=sign_in") == 2
    assert shown("result=refused") == 1
    assert shown("result=ok&action=sign_in") == 1
    assert shown("who=ADMIN1%40") == 43
    assert shown("who=%25") == 0 and shown("who=_") == 0     # LIKE wildcards are plain text
    assert shown("days=30&page=2") == 22                     # 122 in the last 30 days
    assert shown("action=device.revoke&days=30&who=admin0") == 40
    # nonsense filters are ignored, never an error
    for q in ("action=drop&result=maybe&days=-4&page=-1", "days=99999999999", "page=abc",
              "who=%00%ff", "action=" + "x" * 5000, "page=99999999999999"):
        r = viewer.get(srv.url + "/audit?" + q, timeout=30)
        assert r.status_code == 200, q
    # the filters' links keep the filters
    r = viewer.get(srv.url + "/audit?action=device.revoke&who=admin", timeout=30).text
    assert 'href="/audit.csv?action=device.revoke&amp;who=admin"' in r
    assert "action=device.revoke&amp;who=admin&amp;page=2" in r


def test_exports_have_the_filters_and_are_safe(live_server):
    srv = live_server
    _seed(srv)
    viewer = _session(srv, "viewer@example.com", "viewer")
    r = viewer.get(srv.url + "/audit.json", timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert "attachment" in r.headers["content-disposition"]
    body = r.json()
    assert body["total"] == 132 and body["truncated"] is False and len(body["rows"]) == 132
    assert body["rows"][0]["actor"] == "viewer@example.com"
    assert body["rows"][1] == {"id": body["rows"][1]["id"], "at": body["rows"][1]["at"],
                               "actor": "<script>alert(1)</script>", "role": "", "action": "sign_in",
                               "target": "oidc", "address": "10.9.9.9", "ok": False,
                               "detail": "=HYPERLINK(\"http://evil\") email not verifiedgpj.exe"}
    assert len(viewer.get(srv.url + "/audit.json?days=30&who=admin", timeout=30).json()["rows"]) == 120
    assert viewer.get(srv.url + "/audit.json?result=refused", timeout=30).json()["total"] == 1

    r = viewer.get(srv.url + "/audit.csv?action=sign_in", timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(r.text)))
    assert table[0] == ["id", "at", "actor", "role", "action", "target", "address", "ok", "detail"]
    assert len(table) == 3 and table[1][2] == "viewer@example.com" and table[1][7] == "true"
    assert table[2][8].startswith("'=HYPERLINK") and table[2][7] == "false"   # formula-safe
    assert len(list(csv.reader(io.StringIO(viewer.get(srv.url + "/audit.csv?days=30",
                                                      timeout=30).text)))) == 123


def test_who_may_read_it_and_nobody_can_change_it(live_server):
    srv = live_server
    _seed(srv)
    before = rows(srv)
    viewer = _session(srv, "viewer@example.com", "viewer")
    employee = _session(srv, "eve@example.com", "employee")
    user, _ = srv.admin()
    admin = _session(srv, user, "admin", auth="local")
    for path in ("/audit", "/audit.json", "/audit.csv"):
        assert viewer.get(srv.url + path, timeout=30).status_code == 200
        assert admin.get(srv.url + path, timeout=30).status_code == 200
        assert employee.get(srv.url + path, timeout=30).status_code == 403, path
        r = requests.get(srv.url + path + "?action=sign_in", allow_redirects=False, timeout=30)
        if path.endswith(".json"):
            assert r.status_code == 401 and "rows" not in r.text
        else:
            assert r.status_code == 303
            assert r.headers["location"] == "/login?next=%2Faudit" + (
                ".csv" if path.endswith(".csv") else "") + "%3Faction%3Dsign_in"
    # no method but GET changes or reads it, even for an admin
    csrf = csrf_of(admin.get(srv.url + "/policy", timeout=30).text)
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for path in ("/audit", "/audit.json", "/audit.csv", f"/audit/{before[0]['id']}"):
            r = admin.request(method, srv.url + path, data={"csrf": csrf, "id": before[0]["id"]},
                              timeout=30)
            assert r.status_code in (404, 405), (method, path, r.status_code)
    # and no route of the app edits or deletes a row: call every changing route as an admin
    from starlette.routing import Route
    for route in srv.app.routes:
        if not isinstance(route, Route):
            continue
        for method in sorted((route.methods or set()) - {"GET", "HEAD"}):
            path = re.sub(r"\{[^}]+\}", str(before[0]["id"]), route.path)
            r = admin.request(method, srv.url + path, data={"csrf": csrf, "id": before[0]["id"],
                                                           "policy": ""},
                              allow_redirects=False, timeout=30)
            assert r.status_code < 500, (method, path, r.status_code)
    after = rows(srv)
    assert after[:len(before)] == before          # appended to, never changed


def test_only_audit_py_writes_the_table():
    """No module but server/audit.py names the table in a write (the rule of the store)."""
    server_dir = os.path.join(ROOT, "server")
    offenders = []
    pattern = re.compile(r"(update|delete)\s*\(\s*AuditEvent|AuditEvent\.__table__\.(update|delete)"
                         r"|(UPDATE|DELETE FROM)\s+audit_log", re.I)
    for dirpath, _, files in os.walk(server_dir):
        for name in files:
            if name.endswith(".py") and "migrations" not in dirpath:
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8") as fh:
                    if pattern.search(fh.read()):
                        offenders.append(os.path.relpath(path, ROOT))
    assert offenders == []
    from server import audit
    with pytest.raises(ValueError):
        audit.record(None, actor="x", action="audit.delete")


# -- in a real browser -------------------------------------------------------------

def test_an_admin_reads_the_audit_log_in_chromium(live_server, tmp_path):
    import srvcdp
    if srvcdp.chromium_path() is None:
        pytest.skip("chromium not installed (apt-get install chromium)")
    srv = live_server
    user, password = srv.admin()
    b = srvcdp.Browser()
    try:
        b.goto(srv.url + "/audit?result=refused")
        assert "/login" in b.url                       # nobody: the login page first
        b.fill("#username", user)
        b.fill("#password", "wrong password!")
        b.submit_by_click("#login")
        b.fill("#username", user)
        b.fill("#password", password)
        b.submit_by_click("#login")
        assert b.url.endswith("/audit?result=refused")  # back where it was going
        assert "1 row." in b.text() and "wrong user name or password (1 in a row)" in b.text()
        b.goto(srv.url + "/audit")
        assert "2 rows." in b.text()
        b.fill("#f-result", "ok")
        b.fill("#f-action", "sign_in")
        b.submit_by_click("#apply")
        assert b.url.endswith("/audit?action=sign_in&who=&result=ok&days=")
        assert "1 row." in b.text()
        cells = b.js("[...document.querySelectorAll('#audit tbody tr.event td')].map(td => td.innerText)")
        assert cells[1:6] == [user, "admin", "sign_in", "local", "done"]
        b.screenshot(str(tmp_path / "audit.png"))
    finally:
        b.close()
