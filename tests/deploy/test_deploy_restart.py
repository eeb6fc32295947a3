"""The server restarted under load behind nginx: agents sending through TLS see the edge's
`503 + Retry-After` while it is away, resend, and every report is stored exactly once."""
from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid

import requests

from deploykit import (NginxProc, ServerProc, free_port, make_ca, make_report, need,
                      render_nginx_conf, server_cli, server_env)

DEVICES = 4
REPORTS_EACH = 40


def test_restart_mid_load_loses_nothing_and_stores_nothing_twice(tmp_path):
    need("nginx")
    tls = make_ca(tmp_path / "ca")
    db = tmp_path / "restart.sqlite3"
    env = server_env(tmp_path, DATABASE_URL=f"sqlite:///{db}", CHECKUP_SERVER_LOG_FORMAT="json")
    token = server_cli("token", "create", env=env).stdout.strip().splitlines()[-1]
    app_port, http_port, https_port = free_port(), free_port(), free_port()
    server = ServerProc(tmp_path, app_port, env)
    nginx = NginxProc(tmp_path / "nginx", render_nginx_conf(
        upstream=f"127.0.0.1:{app_port}", http_port=http_port, https_port=https_port, tls=tls),
        (http_port, https_port))
    base = f"https://localhost:{https_port}"
    ca = str(tls["ca"])
    template = make_report()
    answers: dict[int, int] = {}
    lock = threading.Lock()
    errors: list[str] = []
    last_error = [""]

    def agent(n: int, secret: str, device: dict) -> None:
        s = requests.Session()
        try:
            for _ in range(REPORTS_EACH):
                report = dict(template, report_id=str(uuid.uuid4()), device=device)
                body = json.dumps(report).encode()
                for _attempt in range(400):
                    try:
                        r = s.post(base + "/api/v1/reports", data=body, timeout=15, verify=ca, headers={
                            "Authorization": f"Bearer {secret}", "Content-Type": "application/json"})
                        code = r.status_code
                    except requests.ConnectionError as exc:
                        code = 0
                        last_error[0] = repr(exc)[:300]
                    with lock:
                        answers[code] = answers.get(code, 0) + 1
                    if code == 202:
                        break
                    assert code in (0, 429, 502, 503), (code, r.text)
                    if code == 503:
                        assert int(r.headers["Retry-After"]) > 0
                    time.sleep(0.05)     # a real agent waits Retry-After; the test hurries
                else:
                    raise AssertionError("a report never got through")
                time.sleep(0.05)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"agent {n}: {exc!r} {last_error[0]}")

    try:
        secrets, devices = [], []
        for i in range(DEVICES):
            device = dict(template["device"], hostname=f"load-{i}", serial=f"LOAD{i:04d}")
            r = requests.post(base + "/api/v1/enroll", verify=ca, timeout=10,
                              json={"enroll_token": token, "device": device})
            assert r.status_code == 201, r.text
            secrets.append(r.json()["device_secret"])
            devices.append(device)   # its reports come from the machine it enrolled as
        threads = [threading.Thread(target=agent, args=(i, s, d))
                   for i, (s, d) in enumerate(zip(secrets, devices))]
        for t in threads:
            t.start()
        time.sleep(0.8)
        t0 = time.monotonic()
        rc = server.stop()
        stopped = time.monotonic() - t0
        server = ServerProc(tmp_path, app_port, env)
        down = time.monotonic() - t0
        for t in threads:
            t.join(120)
        assert not errors, errors
    finally:
        nginx.stop()
        server.stop()
    assert rc in (0, -15)
    assert answers.get(503, 0) + answers.get(502, 0) >= 1, answers   # it really was away
    assert answers[202] == DEVICES * REPORTS_EACH
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT count(*), count(DISTINCT report_id) FROM reports").fetchone()
    assert stored == (DEVICES * REPORTS_EACH, DEVICES * REPORTS_EACH)
    print(f"restart: stop {stopped:.2f}s, away {down:.2f}s, answers {sorted(answers.items())}")
