"""The real agent client against the real server: several replayed machines, the
server going away and coming back, injected 500/429/401, lost answers, TLS.
Nothing is lost and nothing is stored twice."""
from __future__ import annotations

import os
import socket
import stat
import subprocess
import time

import pytest
from sqlalchemy import text

import srvkit
from agent import reporting
from agent.reporting import Reporter, Sender, cached_server_policy, report_now


def make_agents(url, token, tmp_path, n):
    files = srvkit.fixture_files()
    agents = []
    for i in range(n):
        sd = str(tmp_path / f"agent{i}")
        os.makedirs(sd)
        agents.append((srvkit.agent_settings(url, token), sd, files[i % len(files)]))
    return agents


def stored_ids(srv) -> list[str]:
    with srv.engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT report_id FROM reports"))]


def test_agents_report_through_outage_and_restart(live_server, tmp_path):
    srv = live_server
    agents = make_agents(srv.url, srv.token(), tmp_path, 4)
    made = []
    for settings, sd, fx in agents:
        rep = srvkit.with_id(srvkit.report_for(fx))
        made.append(rep["report_id"])
        assert report_now(settings, sd, report=rep)[0] == 0
    assert sorted(stored_ids(srv)) == sorted(made)

    srv.stop()  # the network is pulled / the server is down; the agents keep checking
    for _round in range(3):
        for settings, sd, fx in agents:
            rep = srvkit.with_id(srvkit.report_for(fx))
            made.append(rep["report_id"])
            code, msg = report_now(settings, sd, report=rep)
            assert code == 1 and "still queued" in msg and "cannot reach" in msg
    for settings, sd, _ in agents:
        assert reporting.queue_status(settings, sd)["queued"] == 3

    srv.start()  # back, same database, same port
    for settings, sd, _ in agents:
        code, msg = report_now(settings, sd)
        assert code == 0, msg
        assert "Sent 3 of 3" in msg
    ids = stored_ids(srv)
    assert sorted(ids) == sorted(made) and len(set(ids)) == len(ids)
    assert srv.count("devices") == 4  # each machine enrolled once


def test_server_errors_500_429_401_and_lost_answers(live_server, tmp_path):
    srv = live_server
    proxy = srvkit.FaultProxy(srv.url)
    try:
        (settings, sd, _), = make_agents(proxy.url, srv.token(), tmp_path, 1)
        fx = next(f for f in srvkit.fixture_files() if "sonoma-14-6-compliant" in f)  # has serial + UUID
        first = srvkit.with_id(srvkit.report_for(fx))
        assert report_now(settings, sd, report=first)[0] == 0

        # 500: kept, backed off
        proxy.script = [(500, {}, False)]
        second = srvkit.with_id(srvkit.report_for(fx))
        code, msg = report_now(settings, sd, report=second)
        assert code == 1 and "500" in msg
        sender = Sender(settings, sd)
        try:
            assert sender.next_attempt_at() > time.time() + 10   # backoff with jitter: >= 15 s
            assert sender.flush().skipped                          # not due yet
        finally:
            sender.close()

        # 429 with Retry-After: the agent waits exactly that long
        proxy.script = [(429, {"Retry-After": "120"}, False)]
        code, msg = report_now(settings, sd)
        assert code == 1
        sender = Sender(settings, sd)
        try:
            assert 110 < sender.next_attempt_at() - time.time() <= 121
        finally:
            sender.close()

        # 401: the agent enrolls again presenting its secret (rotated: same device record) and resends
        proxy.script = [(401, {}, False)]
        code, msg = report_now(settings, sd)
        assert code == 0, msg
        assert ("POST", "/api/v1/enroll", 201) in proxy.seen[-4:]

        # the server stores it but the answer is lost: the resend is recognised
        proxy.script = [(502, {}, True)]
        third = srvkit.with_id(srvkit.report_for(fx))
        assert report_now(settings, sd, report=third)[0] == 1
        assert report_now(settings, sd)[0] == 0

        ids = stored_ids(srv)
        assert sorted(ids) == sorted([first["report_id"], second["report_id"], third["report_id"]])
        assert srv.count("devices") == 1
    finally:
        proxy.close()


def test_other_4xx_sets_the_report_aside_and_says_so(live_server, tmp_path):
    srv = live_server
    (settings, sd, fx), = make_agents(srv.url, srv.token(), tmp_path, 1)
    bad = srvkit.with_id(srvkit.report_for(fx), status="purple")  # the server says 422
    good = srvkit.with_id(srvkit.report_for(fx))
    s = Sender(settings, sd)
    s.queue.add(bad)
    s.queue.add(good)
    s.close()
    code, msg = report_now(settings, sd)
    assert code == 0 and f"Set aside report {bad['report_id']}: the server refused it (422" in msg
    assert stored_ids(srv) == [good["report_id"]]
    assert reporting.queue_status(settings, sd) | {"last_error": None} == {
        "queued": 0, "set_aside": 1, "last_error": None, "next_attempt_at": None}


def test_refused_enrollment_keeps_reports(live_server, tmp_path):
    srv = live_server
    (settings, sd, fx), = make_agents(srv.url, "nope.nope", tmp_path, 1)
    code, msg = report_now(settings, sd, report=srvkit.with_id(srvkit.report_for(fx)))
    assert code == 2 and "refused enrollment" in msg and "1 still queued" in msg


def test_secret_is_owner_only_and_policy_cached_offline(live_server, tmp_path):
    srv = live_server
    (settings, sd, fx), = make_agents(srv.url, srv.token(), tmp_path, 1)
    from server.web import _save_policy
    _save_policy(srv.engine, '[organization]\nname = "Example Ltd"\n\n[screen_lock]\nmax_seconds = 600\n', "t")
    code, msg = report_now(settings, sd, report=srvkit.with_id(srvkit.report_for(fx)))
    assert code == 0 and "Policy updated" in msg
    mode = stat.S_IMODE(os.stat(os.path.join(sd, reporting.CREDS_FILE)).st_mode)
    assert mode == 0o600
    assert "max_seconds = 600" in cached_server_policy(settings, sd)
    code, msg = report_now(settings, sd)
    assert "Policy unchanged" in msg
    srv.stop()
    assert "max_seconds = 600" in cached_server_policy(settings, sd)  # offline
    srv.start()
    # a policy for another server is not used
    other = srvkit.agent_settings("https://checkup.example.org", "x")
    assert cached_server_policy(other, sd) is None


def test_reporter_submit_never_blocks(tmp_path):
    # A server that accepts connections and never answers.
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(50)
    url = f"http://127.0.0.1:{hang.getsockname()[1]}"
    settings = srvkit.agent_settings(url, "t.t")
    rep = Reporter(settings, str(tmp_path))
    try:
        fx = srvkit.fixture_files()[0]
        t0 = time.perf_counter()
        for _ in range(20):
            rep.submit(srvkit.report_for(fx))
        assert time.perf_counter() - t0 < 0.2
        deadline = time.time() + 10
        while time.time() < deadline:
            if os.path.exists(os.path.join(str(tmp_path), reporting.QUEUE_FILE)) and \
                    reporting.queue_status(settings, str(tmp_path))["queued"] == 20:
                break
            time.sleep(0.05)
        assert reporting.queue_status(settings, str(tmp_path))["queued"] == 20
    finally:
        rep.stop(timeout=0.5)
        hang.close()


def test_reporter_background_delivery(live_server, tmp_path):
    srv = live_server
    agents = make_agents(srv.url, srv.token(), tmp_path, 3)
    reporters = [Reporter(s, sd) for s, sd, _ in agents]
    try:
        for r, (_, _, fx) in zip(reporters, agents):
            for _ in range(2):
                r.submit(srvkit.report_for(fx))
        deadline = time.time() + 20
        while srv.count("reports") < 6 and time.time() < deadline:
            time.sleep(0.1)
        assert srv.count("reports") == 6
    finally:
        for r in reporters:
            r.stop()


def test_plain_http_refused_except_loopback(tmp_path):
    s = srvkit.agent_settings("http://checkup.example.org", "t")
    code, msg = report_now(s, str(tmp_path))
    assert code == 3 and "plain http" in msg
    for ok in ("http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9", "https://x.example",
               "http://127.8.9.10:9", "HTTP://LOCALHOST:9", "https://x.localhost"):
        assert reporting.check_url(ok)
    # names that only look local: a resolver may send them anywhere
    for bad in ("http://evil.localhost:9", "http://localhost.evil.example", "http://a.b.localhost",
                "http://localhost.:9", "http://[::ffff:10.0.0.1]:9", "http://0.0.0.0:9",
                "http://10.0.0.1", "http://127.0.0.1.nip.io"):
        with pytest.raises(reporting.ReportingError, match="plain http"):
            reporting.check_url(bad)
    s = srvkit.agent_settings("http://checkup.localhost:9", "t")
    code, msg = report_now(s, str(tmp_path))
    assert code == 3 and "plain http" in msg


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_certificates_verified(database_url, tmp_path, monkeypatch):
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    srv = srvkit.LiveServer(database_url)
    srv.start_tls = True
    import uvicorn

    from server.app import create_app
    app = create_app(srv.cfg)
    port = srvkit.free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           ssl_certfile=cert, ssl_keyfile=key))
    import threading
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    while not server.started:
        time.sleep(0.02)
    try:
        srv.engine = app.state.checkup.engine
        settings = srvkit.agent_settings(f"https://127.0.0.1:{port}", srv.token())
        fx = srvkit.fixture_files()[0]
        monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
        code, msg = report_now(settings, str(tmp_path), report=srvkit.with_id(srvkit.report_for(fx)))
        assert code == 1 and "certificate" in msg
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)  # IT's own CA, the standard variable
        code, msg = report_now(settings, str(tmp_path))
        assert code == 0, msg
        assert srv.count("reports") == 1
    finally:
        server.should_exit = True
        th.join(10)


def test_checkup_uses_the_cached_server_policy(live_server, tmp_path, capsys):
    """After a report pulled the organisation's policy, `checkup check` and
    `checkup policy show` apply it over the built-in one — offline."""
    import io
    import json as _json
    from contextlib import redirect_stdout

    from agent.cli import main
    from agent.config import user_state_dir
    from server.web import _save_policy

    srv = live_server
    _save_policy(srv.engine, '[screen_lock]\nmax_seconds = 60\n', "t")
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[server]\nurl = "{srv.url}"\nenroll_token = "{srv.token()}"\n')
    settings = srvkit.agent_settings(srv.url, srv.token())
    fx = srvkit.fixture_files()[0]
    code, msg = report_now(settings, user_state_dir(), report=srvkit.with_id(srvkit.report_for(fx)))
    assert code == 0 and "Policy updated" in msg
    srv.stop()  # offline from here on

    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["policy", "show", "--config", str(cfg)]) == 0
    assert "max_seconds = 60" in out.getvalue() and "server policy" in out.getvalue()

    # This Mac locks after 300 + 5 s: a pass under the built-in 900 s, a fail under the server's 60 s.
    capture = os.path.join(srvkit.FIXTURES, "macos", "sonoma-14-6-compliant.json")
    out = io.StringIO()
    with redirect_stdout(out):
        main(["check", "--json", "--replay", capture, "--config", str(cfg)])
    lock = next(c for c in _json.loads(out.getvalue())["checks"] if c["id"] == "screen_lock")
    assert lock["status"] == "fail" and lock["observed"]["idle_seconds"] == 300
    out = io.StringIO()
    with redirect_stdout(out):
        main(["check", "--json", "--replay", capture])  # no server configured: built-in policy
    lock = next(c for c in _json.loads(out.getvalue())["checks"] if c["id"] == "screen_lock")
    assert lock["status"] == "pass"
    srv.start()


def test_checkup_report_now_checks_and_sends(live_server, tmp_path, capsys):
    """`checkup report --now` as IT runs it from a terminal or a timer."""
    from agent.cli import main

    srv = live_server
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[server]\nurl = "{srv.url}"\nenroll_token = "{srv.token()}"\n')
    capture = os.path.join(srvkit.FIXTURES, "linux", "fedora-44-gnome-lock-too-slow-dnf5-automatic.json")
    before = len(stored_ids(srv))
    assert main(["report", "--now", "--replay", capture, "--config", str(cfg)]) == 0
    assert "Sent 1 of 1 report" in capsys.readouterr().out
    assert len(stored_ids(srv)) == before + 1

    srv.stop()
    assert main(["report", "--now", "--replay", capture, "--config", str(cfg)]) == 1
    assert "1 still queued" in capsys.readouterr().out
    srv.start()
    assert main(["report", "--now", "--queued-only", "--config", str(cfg)]) == 0
    assert "Sent 1 of 1 report" in capsys.readouterr().out
    assert len(stored_ids(srv)) == before + 2

    off = tmp_path / "off.toml"
    off.write_text("")
    assert main(["report", "--now", "--config", str(off)]) == 3
    assert "Reporting is off" in capsys.readouterr().out
