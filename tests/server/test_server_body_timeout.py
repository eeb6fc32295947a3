"""A request body that stalls does not hold its connection: the real server (uvicorn on
loopback) answers 408 and closes once the body has been idle too long or taken too long in
all. Short limits here (1 s idle, 3 s in all; defaults 10 s and 30 s). Independent of the
database, so SQLite only."""
from __future__ import annotations

import json
import socket
import time

import pytest
import requests

import srvkit

IDLE, TOTAL = 1, 3


@pytest.fixture
def srv(tmp_path):
    s = srvkit.LiveServer("sqlite:///" + str(tmp_path / "t.sqlite3"),
                          body_idle_seconds=IDLE, body_timeout_seconds=TOTAL).start()
    yield s
    s.stop()


def _head(path: str, length: int, content_type: str = "application/json", extra: str = "") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {length}\r\n{extra}\r\n").encode()


def _answer(sock: socket.socket, limit: float = 15) -> tuple[bytes, float, bool]:
    """(everything the server sent, when it started answering, whether it then closed)."""
    sock.settimeout(limit)
    start, data, first = time.monotonic(), b"", None
    while True:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return data, (first or time.monotonic()) - start, False
        if first is None:
            first = time.monotonic()
        if not chunk:
            return data, first - start, True
        data += chunk


@pytest.mark.parametrize("path", ["/api/v1/reports", "/api/v1/enroll"])
def test_a_stalled_json_body_gets_408_and_the_connection_closed(srv, path):
    with socket.create_connection(("127.0.0.1", srv.port)) as sock:
        sock.sendall(_head(path, 5000, extra="Authorization: Bearer x.y\r\n") + b'{"schema": 1, ')
        t0 = time.monotonic()
        data, _, closed = _answer(sock)
        took = time.monotonic() - t0
    assert data.startswith(b"HTTP/1.1 408 "), data[:200]
    assert closed
    assert IDLE * 0.8 <= took < IDLE + 3, took
    body = json.loads(data.split(b"\r\n\r\n", 1)[1])
    assert "did not arrive in time" in body["detail"]
    assert b"x-content-type-options: nosniff" in data.lower()


def test_a_trickled_body_is_cut_at_the_total_limit(srv):
    # a byte every 0.4 s is never idle for 1 s, but never finishes either
    with socket.create_connection(("127.0.0.1", srv.port)) as sock:
        sock.sendall(_head("/api/v1/reports", 5000, extra="Authorization: Bearer x.y\r\n"))
        t0 = time.monotonic()
        sock.settimeout(0.4)
        data = b""
        while time.monotonic() - t0 < TOTAL + 5:
            try:
                sock.sendall(b" ")
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            except socket.timeout:
                continue
            except OSError:   # reset after the server closed
                break
        took = time.monotonic() - t0
    assert data.startswith(b"HTTP/1.1 408 "), data[:200]
    assert TOTAL * 0.8 <= took < TOTAL + 3, took


def test_a_stalled_login_form_gets_408(srv):
    # the IT login form: python-multipart parsing through the framework
    with socket.create_connection(("127.0.0.1", srv.port)) as sock:
        sock.sendall(_head("/login", 500, "application/x-www-form-urlencoded") + b"username=it")
        data, took, closed = _answer(sock)
    assert data.startswith(b"HTTP/1.1 408 "), data[:300]
    assert closed and took < IDLE + 3


def test_a_slow_but_steady_report_is_stored(srv):
    # a body that arrives in pieces, each within the idle limit, is read as usual
    token = srv.token()
    rep = srvkit.report_for(srvkit.fixture_files()[0])
    r = requests.post(srv.url + "/api/v1/enroll", json={"enroll_token": token, "device": rep["device"]},
                      timeout=10)
    secret = r.json()["device_secret"]
    body = json.dumps(srvkit.with_id(rep)).encode()
    with socket.create_connection(("127.0.0.1", srv.port)) as sock:
        sock.sendall(_head("/api/v1/reports", len(body), extra=f"Authorization: Bearer {secret}\r\n"))
        third = len(body) // 3
        for part in (body[:third], body[third:2 * third], body[2 * third:]):
            time.sleep(IDLE * 0.5)
            sock.sendall(part)
        sock.settimeout(10)
        data = sock.recv(65536)
    assert data.startswith(b"HTTP/1.1 202 "), data[:300]
    assert srv.count("reports") == 1
