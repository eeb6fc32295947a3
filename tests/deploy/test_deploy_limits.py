"""`checkup-server run` itself (a subprocess, as IT starts it): a quick stop over TLS with an
idle keep-alive client, and request heads bounded (431), with the attacks themselves."""
from __future__ import annotations

import http.client
import signal
import socket
import ssl
import time

import pytest

from deploykit import ServerProc, free_port, make_ca, need, server_env


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    need("openssl")
    return make_ca(tmp_path_factory.mktemp("limits-ca"))


def _stop_timed(server: ServerProc) -> tuple[float, int | None]:
    t0 = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    try:
        server.proc.wait(40)
    finally:
        took = time.monotonic() - t0
        server.stop()
    return took, server.proc.returncode


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_sigterm_with_an_idle_keep_alive_client_stops_within_2_s(tmp_path, tls, scheme):
    env = server_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/s.sqlite3")
    args = ("--ssl-certfile", str(tls["cert"]), "--ssl-keyfile", str(tls["key"])) \
        if scheme == "https" else ()
    port = free_port()
    server = ServerProc(tmp_path, port, env, args)
    if scheme == "https":
        conn = http.client.HTTPSConnection(
            "localhost", port, timeout=60, context=ssl.create_default_context(cafile=str(tls["ca"])))
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", "/healthz")
        r = conn.getresponse()
        assert r.status == 200 and r.getheader("connection", "keep-alive") != "close"
        r.read()
        # the client keeps the connection open and says nothing (as a pooled agent session does)
        took, rc = _stop_timed(server)
    finally:
        conn.close()
    assert took < 2.0, f"stopped after {took:.1f}s:\n{server.log()[-2000:]}"
    assert rc in (0, -signal.SIGTERM), server.log()[-2000:]   # uvicorn re-raises SIGTERM


def test_sigterm_lets_a_request_in_flight_over_tls_finish(tmp_path, tls):
    # the quick stop must not cut an answer short: a slow request still gets its reply
    env = server_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/s.sqlite3",
                     CHECKUP_SERVER_SERVER_BODY_IDLE_SECONDS="5")
    port = free_port()
    server = ServerProc(tmp_path, port, env, ("--ssl-certfile", str(tls["cert"]),
                                              "--ssl-keyfile", str(tls["key"])))
    ctx = ssl.create_default_context(cafile=str(tls["ca"]))
    try:
        raw = socket.create_connection(("127.0.0.1", port), timeout=20)
        sock = ctx.wrap_socket(raw, server_hostname="localhost")
        body = b'{"enroll_token": "x.y", "device": {"platform": "linux"}}'
        sock.sendall(b"POST /api/v1/enroll HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
                     b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:10])
        time.sleep(0.3)
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(1.5)     # longer than the grace for idle connections
        sock.sendall(body[10:])
        answer = sock.recv(65536)
        sock.close()
    finally:
        server.stop()
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]


def _send_head(port: int, head: bytes) -> bytes:
    """Send a request head in pieces, as an attacker would, stopping when the server hangs
    up; then read what it answered."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        for i in range(0, len(head), 16384):
            try:
                sock.sendall(head[i:i + 16384])
            except OSError:
                break
            time.sleep(0.002)
        sock.settimeout(10)
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            data += chunk
        return data
    finally:
        sock.close()


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("limits")
    env = server_env(tmp, DATABASE_URL=f"sqlite:///{tmp}/h.sqlite3")
    server = ServerProc(tmp, free_port(), env)
    yield server
    server.stop()


@pytest.mark.parametrize("size", [40 * 1024, 1024 * 1024])
def test_oversized_request_headers_get_431(plain_server, size):
    head = (b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * size + b"\r\n\r\n")
    data = _send_head(plain_server.port, head)
    assert data.startswith(b"HTTP/1.1 431 "), data[:200]
    assert b"request headers larger than 32768 bytes" in data
    # many headers, each small, add up the same way
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 1000) for i in range(size // 1000))
    data = _send_head(plain_server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert data.startswith(b"HTTP/1.1 431 "), data[:200]
    # the server is still fine
    assert _send_head(plain_server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                      ).startswith(b"HTTP/1.1 200 ")


def test_ordinary_large_headers_are_accepted(plain_server):
    # a browser with a few big cookies, and a long URL: well under the limit
    head = (b"GET /healthz?" + b"q" * 4000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Cookie: " + b"c" * 8000 + b"\r\nUser-Agent: " + b"u" * 2000 +
            b"\r\nConnection: close\r\n\r\n")
    assert _send_head(plain_server.port, head).startswith(b"HTTP/1.1 200 ")
    # keep-alive: several requests on one connection, the count starts again for each
    sock = socket.create_connection(("127.0.0.1", plain_server.port), timeout=10)
    try:
        f = sock.makefile("rb")
        for _ in range(5):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 20000 + b"\r\n\r\n")
            status = f.readline()
            assert status.startswith(b"HTTP/1.1 200 "), status
            length = 0
            while (line := f.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            f.read(length)
    finally:
        sock.close()
