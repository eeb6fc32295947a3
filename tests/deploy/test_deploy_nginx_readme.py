"""The README's "minimal nginx site" and the shipped deploy/nginx/checkup.conf agree on what
matters (no /metrics at the edge, the same limits, X-Forwarded-For set rather than
appended), and both work for real: Debian's nginx with a throwaway CA in front of the real
`checkup-server run`, with oversized headers sent at them."""
from __future__ import annotations

import re
import socket
import ssl
import time

import pytest
import requests

from deploykit import (NGINX_CONF, REPO, NginxProc, ServerProc, free_port, make_ca, need,
                      render_nginx_conf, server_env)

# where a site is naturally different: addresses, names, certificate paths, the upstream
LOCAL = {"listen", "server_name", "ssl_certificate", "ssl_certificate_key", "proxy_pass"}
# what both must set, to the same value
SHARED = ("client_max_body_size", "client_header_timeout", "client_body_timeout",
          "large_client_header_buffers")


def readme_site() -> str:
    text = (REPO / "README.md").read_text()
    m = re.search(r"A minimal nginx site.*?```nginx\n(.*?)```", text, re.S)
    assert m, "README.md: the minimal nginx site is gone"
    return m.group(1)


def directives(conf: str) -> dict[str, set[str]]:
    """{directive: {its arguments, ...}} over the whole text (comments dropped)."""
    out: dict[str, set[str]] = {}
    for line in conf.splitlines():
        line = line.split("#", 1)[0].strip()
        m = re.match(r"([a-z_0-9]+)\s+([^;{]*?)\s*;$", line)
        if m:
            out.setdefault(m.group(1), set()).add(" ".join(m.group(2).split()))
    return out


def location(conf: str, where: str) -> str:
    m = re.search(r"location\s+" + re.escape(where) + r"\s*\{(.*?)\}", conf, re.S)
    assert m, f"no location {where}"
    return m.group(1)


def test_the_readme_site_agrees_with_the_shipped_config():
    site, shipped = readme_site(), NGINX_CONF.read_text()
    mine, theirs = directives(site), directives(shipped)
    for name, values in mine.items():
        if name in LOCAL:
            continue
        assert name in theirs, f"README sets {name}, deploy/nginx/checkup.conf does not"
        assert values <= theirs[name], (name, values, theirs[name])
    for name in SHARED:
        assert mine.get(name) == theirs.get(name), (name, mine.get(name), theirs.get(name))
    for conf in (site, shipped):
        assert "return 404;" in location(conf, "= /metrics")
        assert "$proxy_add_x_forwarded_for" not in conf     # a client could smuggle its own
        assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf
    from server.config import DEFAULTS
    assert mine["client_max_body_size"] == {f"{DEFAULTS['server']['max_report_bytes'] // 1024}k"}


def _big_head(port: int, host: str = "localhost", ca: str | None = None, size: int = 1 << 20) -> bytes:
    raw = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock = ssl.create_default_context(cafile=ca).wrap_socket(raw, server_hostname=host) if ca else raw
    head = b"GET /healthz HTTP/1.1\r\nHost: " + host.encode() + b"\r\nX-Pad: " + b"a" * size + b"\r\n\r\n"
    try:
        for i in range(0, len(head), 16384):
            try:
                sock.sendall(head[i:i + 16384])
            except OSError:
                break
        data = b""
        sock.settimeout(10)
        while True:
            try:
                chunk = sock.recv(65536)
            except (OSError, socket.timeout):
                break
            if not chunk:
                break
            data += chunk
        return data
    finally:
        sock.close()


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    need("nginx")
    tmp = tmp_path_factory.mktemp("readme-site")
    tls = make_ca(tmp / "ca")
    env = server_env(tmp, DATABASE_URL=f"sqlite:///{tmp}/s.sqlite3")
    server = ServerProc(tmp, free_port(), env)
    yield tmp, tls, server
    server.stop()


def test_the_readme_site_for_real(backend):
    tmp, tls, server = backend
    port = free_port()
    site = readme_site()
    for old, new in (("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;"),
                     ("/etc/ssl/checkup.crt", str(tls["cert"])),
                     ("/etc/ssl/checkup.key", str(tls["key"])),
                     ("http://127.0.0.1:8465", f"http://127.0.0.1:{server.port}")):
        assert old in site, old
        site = site.replace(old, new)
    nginx = NginxProc(tmp / "nginx-readme", site, (port,))
    ca = str(tls["ca"])
    try:
        base = f"https://localhost:{port}"
        assert requests.get(base + "/healthz", verify=ca, timeout=10).json()["ok"] is True
        assert requests.get(base + "/metrics", verify=ca, timeout=10).status_code == 404
        assert requests.get(server.url + "/metrics", timeout=10).status_code == 200   # direct
        r = requests.post(base + "/api/v1/reports", data=b"x" * (256 * 1024 + 1), verify=ca,
                          timeout=10, headers={"Authorization": "Bearer a.b"})
        assert r.status_code == 413
        answer = _big_head(port, ca=ca)
        assert re.match(rb"HTTP/1\.1 (400|431|494) ", answer), answer[:200]
    finally:
        nginx.stop()


def test_the_shipped_config_refuses_big_headers_with_json(backend):
    tmp, tls, server = backend
    http_port, https_port = free_port(), free_port()
    nginx = NginxProc(tmp / "nginx-shipped", render_nginx_conf(
        upstream=f"127.0.0.1:{server.port}", http_port=http_port, https_port=https_port, tls=tls),
        (http_port, https_port))
    try:
        answer = _big_head(https_port, ca=str(tls["ca"]))
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:300]
        assert b'"detail": "request headers too large"' in answer
        # 8 KiB per header line at most: a 6 KiB cookie passes
        r = requests.get(f"https://localhost:{https_port}/healthz", verify=str(tls["ca"]), timeout=10,
                         headers={"Cookie": "c=" + "x" * 6000})
        assert r.status_code == 200
    finally:
        nginx.stop()


def test_a_stalled_body_is_cut_at_the_edge(backend):
    """client_body_timeout 10s: nginx drops a body that stops arriving (408, no answer sent)."""
    tmp, tls, server = backend
    http_port, https_port = free_port(), free_port()
    nginx = NginxProc(tmp / "nginx-slow", render_nginx_conf(
        upstream=f"127.0.0.1:{server.port}", http_port=http_port, https_port=https_port, tls=tls),
        (http_port, https_port))
    try:
        raw = socket.create_connection(("127.0.0.1", https_port), timeout=30)
        sock = ssl.create_default_context(cafile=str(tls["ca"])).wrap_socket(
            raw, server_hostname="localhost")
        sock.sendall(b"POST /api/v1/reports HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n"
                     b"Authorization: Bearer a.b\r\n\r\n{")
        t0 = time.monotonic()
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        took = time.monotonic() - t0
        sock.close()
        assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:200]
        assert b"did not arrive in time" not in data     # nginx, not the server behind it
        assert 8 <= took < 20, took
    finally:
        nginx.stop()
