"""Protocol v1 against the real server (uvicorn on loopback), SQLite and PostgreSQL:
enrollment, reports stored once, hostile requests refused, policy with ETag."""
from __future__ import annotations

import datetime as dt
import json
import threading

import requests

import srvkit


def enroll(srv, token, fixture=0):
    rep = srvkit.report_for(srvkit.fixture_files()[fixture])
    r = requests.post(srv.url + "/api/v1/enroll", json={"enroll_token": token, "device": rep["device"]})
    assert r.status_code == 201, r.text
    body = r.json()
    return body["device_id"], body["device_secret"], rep


def post(srv, secret, report, **kw):
    return requests.post(srv.url + "/api/v1/reports", data=json.dumps(report),
                         headers={"Authorization": f"Bearer {secret}",
                                  "Content-Type": "application/json", **kw.pop("headers", {})}, **kw)


def test_enroll_report_and_resend_stored_once(live_server):
    srv = live_server
    dev_id, secret, rep = enroll(srv, srv.token())
    report = srvkit.with_id(rep)
    r = post(srv, secret, report)
    assert r.status_code == 202 and r.json()["stored"] is True
    r = post(srv, secret, report)  # the agent did not see the 202 and sends it again
    assert r.status_code == 202 and r.json()["stored"] is False
    assert srv.count("reports") == 1
    assert srv.count("device_checks") == len(rep["checks"])
    with srv.engine.connect() as conn:
        from sqlalchemy import text
        row = conn.execute(text("SELECT hostname, status, last_report_id, secret_hash FROM devices")).one()
    assert row.hostname == rep["device"]["hostname"] and row.status == rep["status"]
    assert row.last_report_id == report["report_id"]
    assert secret not in row.secret_hash and len(row.secret_hash) == 64  # stored hashed


def test_concurrent_resends_stored_once(live_server):
    srv = live_server
    _, secret, rep = enroll(srv, srv.token())
    report = srvkit.with_id(rep)
    codes = []

    def send():
        codes.append(post(srv, secret, report).status_code)

    threads = [threading.Thread(target=send) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert codes == [202] * 8
    assert srv.count("reports") == 1


def test_tokens_hashed_expire_and_use_counts(live_server):
    srv = live_server
    token = srv.token(uses=1)
    assert srv.count("enroll_tokens", f"WHERE secret_hash = '{token}'") == 0  # never in clear
    enroll(srv, token)
    rep = srvkit.report_for(srvkit.fixture_files()[1])
    r = requests.post(srv.url + "/api/v1/enroll", json={"enroll_token": token, "device": rep["device"]})
    assert r.status_code == 401  # used up
    expired = srv.token(expires_days=-1)
    r = requests.post(srv.url + "/api/v1/enroll", json={"enroll_token": expired, "device": rep["device"]})
    assert r.status_code == 401
    good = srv.token()
    forged = good.split(".")[0] + ".AAAA" + good.split(".")[1][4:]
    r = requests.post(srv.url + "/api/v1/enroll", json={"enroll_token": forged, "device": rep["device"]})
    assert r.status_code == 401
    assert srv.count("devices") == 1


def test_hostile_reports_refused(live_server):
    srv = live_server
    token = srv.token()
    a_id, a_secret, rep_a = enroll(srv, token, 0)
    b_id, b_secret, rep_b = enroll(srv, token, 1)
    ra = srvkit.with_id(rep_a)
    assert post(srv, a_secret, ra).status_code == 202

    # no secret, wrong secret, another device's id with a made-up secret
    assert post(srv, "", srvkit.with_id(rep_a)).status_code == 401
    assert post(srv, a_secret[:-3] + "xyz", srvkit.with_id(rep_a)).status_code == 401
    assert post(srv, f"{a_id}.{b_secret.split('.', 1)[1]}", srvkit.with_id(rep_a)).status_code == 401
    assert post(srv, "not-a-secret", srvkit.with_id(rep_a)).status_code == 401
    # device B claims to be A in the body
    assert post(srv, b_secret, srvkit.with_id(rep_b, device_id=a_id)).status_code == 403
    # device B reuses A's report_id: refused, A's report untouched
    stolen = dict(rep_b, report_id=ra["report_id"])
    assert post(srv, b_secret, stolen).status_code == 409
    # malformed and oversized bodies
    r = requests.post(srv.url + "/api/v1/reports", data=b"{not json",
                      headers={"Authorization": f"Bearer {a_secret}"})
    assert r.status_code == 422
    bad = srvkit.with_id(rep_a, status="green")
    assert post(srv, a_secret, bad).status_code == 422
    no_id = dict(rep_a)
    assert post(srv, a_secret, no_id).status_code == 422
    naive = srvkit.with_id(rep_a, checked_at="2024-01-01T00:00:00")
    assert post(srv, a_secret, naive).status_code == 422
    old = srvkit.with_id(rep_a, checked_at=(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=40))
                         .strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert post(srv, a_secret, old).status_code == 422
    huge = srvkit.with_id(rep_a)
    huge["checks"][0]["observed"] = {"blob": "x" * 400_000}
    assert post(srv, a_secret, huge).status_code == 413
    r = requests.post(srv.url + "/api/v1/reports", data=(b"x" * 10 for _ in range(40_000)),
                      headers={"Authorization": f"Bearer {a_secret}"})  # chunked, no length
    assert r.status_code == 413
    with srv.engine.connect() as conn:
        from sqlalchemy import text
        rows = conn.execute(text("SELECT report_id, device_id FROM reports")).all()
    assert [(r.report_id, r.device_id) for r in rows] == [(ra["report_id"], a_id)]


def test_rate_limit_per_device(database_url):
    srv = srvkit.LiveServer(database_url, reports_per_minute=60, report_burst=3).start()
    try:
        token = srv.token()
        _, a_secret, rep_a = enroll(srv, token, 0)
        _, b_secret, rep_b = enroll(srv, token, 1)
        codes = [post(srv, a_secret, srvkit.with_id(rep_a)).status_code for _ in range(5)]
        assert codes[:3] == [202] * 3 and codes[3] == 429
        r = post(srv, a_secret, srvkit.with_id(rep_a))
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert post(srv, b_secret, srvkit.with_id(rep_b)).status_code == 202  # others unaffected
    finally:
        srv.stop()


def test_policy_etag(live_server):
    srv = live_server
    _, secret, _ = enroll(srv, srv.token())
    auth = {"Authorization": f"Bearer {secret}"}
    assert requests.get(srv.url + "/api/v1/policy").status_code == 401
    assert requests.get(srv.url + "/api/v1/policy", headers=auth).status_code == 204
    from server.web import _save_policy
    _save_policy(srv.engine, '[screen_lock]\nmax_seconds = 600\n', "test")
    r = requests.get(srv.url + "/api/v1/policy", headers=auth)
    assert r.status_code == 200 and "max_seconds = 600" in r.text
    etag = r.headers["ETag"]
    r = requests.get(srv.url + "/api/v1/policy", headers={**auth, "If-None-Match": etag})
    assert r.status_code == 304


def test_openapi_document(live_server):
    doc = requests.get(live_server.url + "/api/v1/openapi.json").json()
    assert {"/api/v1/enroll", "/api/v1/reports", "/api/v1/policy"} <= set(doc["paths"])
    body = doc["paths"]["/api/v1/reports"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    body = doc["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]   # the Report component
    assert "report_id" in body["properties"]
