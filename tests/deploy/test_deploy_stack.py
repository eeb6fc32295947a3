"""The production path for real: Debian's nginx with deploy/nginx/checkup.conf terminating TLS
(certificate from a throwaway CA) in front of the real `checkup-server run`, and the real
agent client reporting through it with certificate verification."""
from __future__ import annotations

import http.client
import json
import socket
import ssl
import uuid

import pytest
import requests

from deploykit import (NginxProc, ServerProc, free_port, make_ca, make_report, metric_values,
                      need, render_nginx_conf, server_cli, server_env)

PROXY_ADDR = "127.0.0.2"   # nginx talks to the server from here; the server trusts only it


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    need("nginx")
    need("openssl")
    tmp = tmp_path_factory.mktemp("stack")
    tls = make_ca(tmp / "ca")
    env = server_env(tmp, DATABASE_URL=f"sqlite:///{tmp}/checkup.sqlite3",
                     CHECKUP_SERVER_LOG_FORMAT="json")
    made = server_cli("token", "create", "--label", "deploy test", env=env)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    app_port, http_port, https_port = free_port(), free_port(), free_port()
    server = ServerProc(tmp, app_port, env, ("--forwarded-allow-ips", PROXY_ADDR))
    site = render_nginx_conf(upstream=f"127.0.0.1:{app_port}", http_port=http_port,
                             https_port=https_port, tls=tls, rate="2r/s", proxy_bind=PROXY_ADDR)
    try:
        nginx = NginxProc(tmp / "nginx", site, (http_port, https_port))
    except Exception:
        server.stop()
        raise
    yield {"server": server, "nginx": nginx, "tls": tls, "token": token, "tmp": tmp,
           "https": f"https://localhost:{https_port}", "http": f"http://127.0.0.1:{http_port}",
           "https_port": https_port}
    nginx.stop()
    server.stop()


def _agent_settings(tmp, url: str, token: str):
    from agent.config import load_settings
    cfg = tmp / f"agent-{uuid.uuid4().hex[:6]}.toml"
    cfg.write_text(f'[server]\nurl = "{url}"\nenroll_token = "{token}"\n')
    settings = load_settings(config_file=str(cfg), managed_files=[])
    assert settings.get("server", "url") == url, settings.problems
    return settings


def test_the_agent_reports_through_nginx_over_verified_tls(stack, monkeypatch, tmp_path):
    from agent.reporting import report_now
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(stack["tls"]["ca"]))
    settings = _agent_settings(tmp_path, stack["https"], stack["token"])
    report = make_report()
    report["report_id"] = str(uuid.uuid4())
    code, message = report_now(settings, str(tmp_path / "agent-state"), report=report)
    assert code == 0, message
    assert "Sent 1 of 1" in message
    # the server stored it: a scrape (direct, as Prometheus does) counts it and the device
    m = metric_values(requests.get(stack["server"].url + "/metrics", timeout=10).text)
    assert m[("checkup_reports_received_total", (("result", "stored"),))] >= 1
    assert m[("checkup_devices", (("status", report["status"]),))] >= 1
    # the same report again (a resend) is accepted and stored once
    code, message = report_now(settings, str(tmp_path / "agent-state"), report=report)
    assert code == 0, message
    m = metric_values(requests.get(stack["server"].url + "/metrics", timeout=10).text)
    assert m[("checkup_reports_received_total", (("result", "duplicate"),))] >= 1


def test_an_agent_that_does_not_trust_the_ca_refuses_the_server(stack, monkeypatch, tmp_path):
    from agent.reporting import report_now
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(stack["tls"]["other_ca"]))
    settings = _agent_settings(tmp_path, stack["https"], stack["token"])
    report = make_report()
    report["report_id"] = str(uuid.uuid4())
    code, message = report_now(settings, str(tmp_path / "agent-state"), report=report)
    assert code == 1, message
    assert "certificate" in message and "1 still queued" in message


def test_plain_http_is_redirected_and_never_delivers(stack, monkeypatch, tmp_path):
    r = requests.get(stack["http"] + "/api/v1/policy", allow_redirects=False, timeout=10)
    assert r.status_code == 301
    assert r.headers["Location"].startswith("https://") and r.headers["Location"].endswith(
        "/api/v1/policy")
    # an agent pointed at the plain-http port (allowed on loopback only) keeps its report queued
    from agent.reporting import report_now
    settings = _agent_settings(tmp_path, stack["http"], stack["token"])
    report = make_report()
    report["report_id"] = str(uuid.uuid4())
    code, message = report_now(settings, str(tmp_path / "agent-state"), report=report)
    assert code != 0 and "1 still queued" in message, message


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls_versions_and_certificate(stack):
    ca = str(stack["tls"]["ca"])
    port = stack["https_port"]

    def handshake(ctx: ssl.SSLContext) -> tuple[str, str]:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                return s.version(), s.cipher()[0]

    assert handshake(ssl.create_default_context(cafile=ca))[0] == "TLSv1.3"
    ctx12 = ssl.create_default_context(cafile=ca)
    ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
    version, cipher = handshake(ctx12)
    assert version == "TLSv1.2"
    assert cipher.startswith("ECDHE-") and ("GCM" in cipher or "CHACHA20" in cipher), cipher
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname, old.verify_mode = False, ssl.CERT_NONE
    try:
        old.set_ciphers("DEFAULT:@SECLEVEL=0")
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ValueError, ssl.SSLError):
        pytest.skip("this OpenSSL cannot even offer TLS 1.1")
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        handshake(old)


def test_forwarded_headers_are_trusted_only_from_the_proxy(stack):
    ca = str(stack["tls"]["ca"])
    # through nginx: the server sees https (it adds HSTS only for https requests)
    via_proxy = requests.get(stack["https"] + "/healthz", verify=ca, timeout=10)
    assert via_proxy.status_code == 200
    assert "max-age" in via_proxy.headers.get("Strict-Transport-Security", "")
    # straight to the server from another address, forging the proxy's headers: ignored
    forged = requests.get(stack["server"].url + "/healthz", timeout=10,
                          headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert forged.status_code == 200
    assert "Strict-Transport-Security" not in forged.headers


def test_body_limit_at_the_edge_matches_the_server(stack):
    from server.config import DEFAULTS
    limit = DEFAULTS["server"]["max_report_bytes"]
    ca = str(stack["tls"]["ca"])
    url = stack["https"] + "/api/v1/reports"
    headers = {"Authorization": "Bearer nope", "Content-Type": "application/json"}
    too_big = requests.post(url, data=b"x" * (limit + 1), headers=headers, verify=ca, timeout=10)
    assert too_big.status_code == 413
    assert "262144" in too_big.json()["detail"]
    just_fits = requests.post(url, data=b"x" * limit, headers=headers, verify=ca, timeout=10)
    assert just_fits.status_code == 401    # reached the server, which wants a device secret


def test_health_and_metrics_as_monitoring_reads_them(stack):
    ca = str(stack["tls"]["ca"])
    assert requests.get(stack["https"] + "/healthz", verify=ca, timeout=10).json()["ok"] is True
    ready = requests.get(stack["https"] + "/readyz", verify=ca, timeout=10)
    assert ready.status_code == 200 and ready.json()["ready"] is True
    # metrics are not served at the edge ...
    assert requests.get(stack["https"] + "/metrics", verify=ca, timeout=10).status_code == 404
    # ... but to the scraper on the private side, in Prometheus' text format
    r = requests.get(stack["server"].url + "/metrics", timeout=10, headers={
        "Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    m = metric_values(r.text)
    names = {name for name, _ in m}
    for name in ("checkup_reports_received_total", "checkup_reports_rejected_total",
                 "checkup_devices", "checkup_devices_stale", "checkup_database_up",
                 "checkup_http_request_duration_seconds_bucket", "checkup_server_info",
                 "process_resident_memory_bytes"):
        assert name in names, name
    assert m[("checkup_database_up", ())] == 1
    assert m[("checkup_reports_rejected_total", (("reason", "unauthorized"),))] >= 1
    report_latency = [v for (name, labels), v in m.items()
                      if name == "checkup_http_request_duration_seconds_count"
                      and ("route", "/api/v1/reports") in labels]
    assert sum(report_latency) >= 2


def test_edge_rate_limit_answers_429_with_retry_after(stack):
    """Run last: floods the reports zone (2 r/s, burst 5 in this test's copy) from one address."""
    ctx = ssl.create_default_context(cafile=str(stack["tls"]["ca"]))
    conn = http.client.HTTPSConnection("localhost", stack["https_port"], context=ctx, timeout=10,
                                       source_address=("127.0.0.3", 0))
    answers = []
    for _ in range(20):
        conn.request("POST", "/api/v1/reports", body=b"{}",
                     headers={"Authorization": "Bearer nope", "Content-Type": "application/json"})
        resp = conn.getresponse()
        answers.append((resp.status, resp.getheader("Retry-After"), resp.read()))
    conn.close()
    statuses = [s for s, _, _ in answers]
    assert 401 in statuses, statuses           # the first ones reach the server
    limited = [(s, ra, body) for s, ra, body in answers if s == 429]
    assert len(limited) >= 10, statuses
    status, retry_after, body = limited[0]
    assert int(retry_after) > 0
    assert "too many requests" in json.loads(body)["detail"]
    # the limit is per address: another client is still served
    ok = requests.get(f"https://localhost:{stack['https_port']}/healthz",
                      verify=str(stack["tls"]["ca"]), timeout=10)
    assert ok.status_code == 200
