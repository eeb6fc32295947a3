"""Helpers for the deployment tests (imported as `deploykit`, a unique module name): a
throwaway certificate authority (openssl), the real server as a subprocess (`python -m server`, what `checkup-server` runs), and Debian's
real nginx in a temporary prefix on loopback high ports with deploy/nginx/checkup.conf."""
from __future__ import annotations

import functools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
NGINX_CONF = DEPLOY / "nginx" / "checkup.conf"
FIXTURE = REPO / "tests" / "fixtures" / "linux" / "debian-12-root-capture-nftables-no-desktop.json"


def need(binary: str) -> str:
    path = shutil.which(binary) or next(
        (p for p in (f"/usr/sbin/{binary}", f"/sbin/{binary}") if os.access(p, os.X_OK)), None)
    if not path:
        pytest.skip(f"`{binary}` is not installed (Debian packages: .ci/apt-deploy.txt)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, host: str = "127.0.0.1", timeout: float = 30.0, proc=None) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


# -- certificate authority ------------------------------------------------------

def make_ca(folder: Path) -> dict[str, Path]:
    """A test CA and a server certificate for localhost / 127.0.0.1 signed by it."""
    openssl = need("openssl")
    folder.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=folder, check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "3", "-subj", "/CN=Checkup Test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "privkey.pem", "-out", "server.csr", "-subj", "/CN=localhost")
    (folder / "server.ext").write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "fullchain.pem", "-days", "2", "-extfile", "server.ext")
    # a second, unrelated CA: a client trusting only this one must refuse the server
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "other.key", "-out", "other-ca.pem", "-days", "3", "-subj", "/CN=Other CA")
    return {"ca": folder / "ca.pem", "cert": folder / "fullchain.pem",
            "key": folder / "privkey.pem", "other_ca": folder / "other-ca.pem", "dir": folder}


# -- the server -------------------------------------------------------------------

def server_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(var, None)
    env.update({"XDG_DATA_HOME": str(tmp / "data"), "XDG_STATE_HOME": str(tmp / "state"),
                "XDG_CONFIG_HOME": str(tmp / "config"), "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": str(REPO) + os.pathsep + env.get("PYTHONPATH", "")})
    env.update(extra)
    return env


def server_cli(*args: str, env: dict[str, str], timeout: float = 120,
               stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout, input=stdin)


class ServerProc:
    """`checkup-server run` in a subprocess, stderr to a file."""

    def __init__(self, tmp: Path, port: int, env: dict[str, str], args: tuple[str, ...] = ()):
        self.port = port
        self.log_path = tmp / f"server-{port}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server", "run", "--host", "127.0.0.1", "--port", str(port),
             *args], cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            wait_port(port, timeout=60, proc=self.proc)
        except Exception:
            self.stop()
            raise RuntimeError("server did not start:\n" + self.log()) from None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        return self.proc.returncode


# -- nginx ----------------------------------------------------------------------------

def render_nginx_conf(*, upstream: str, http_port: int, https_port: int, tls: dict,
                      rate: str | None = None, proxy_bind: str | None = None) -> str:
    """deploy/nginx/checkup.conf with this machine's ports, certificate and upstream."""
    text = NGINX_CONF.read_text()
    swaps = [
        ("server server:8465;", f"server {upstream};"),
        ("listen 80 default_server;", f"listen 127.0.0.1:{http_port} default_server;"),
        ("listen [::]:80 default_server;", ""),
        ("listen 443 ssl default_server;", f"listen 127.0.0.1:{https_port} ssl default_server;"),
        ("listen [::]:443 ssl default_server;", ""),
        ("/etc/nginx/tls/fullchain.pem", str(tls["cert"])),
        ("/etc/nginx/tls/privkey.pem", str(tls["key"])),
        ("/etc/nginx/ffdhe2048.pem", str(DEPLOY / "nginx" / "ffdhe2048.pem")),
    ]
    if rate:
        swaps.append(("zone=checkup_reports:10m rate=50r/s;", f"zone=checkup_reports:10m rate={rate};"))
        swaps.append(("zone=checkup_reports burst=200 nodelay;", "zone=checkup_reports burst=5 nodelay;"))
    if proxy_bind:
        swaps.append(("proxy_http_version 1.1;", f"proxy_http_version 1.1;\n    proxy_bind {proxy_bind};"))
    for old, new in swaps:
        assert old in text, f"deploy/nginx/checkup.conf no longer contains {old!r}"
        text = text.replace(old, new)
    return text


def nginx_main_conf(prefix: Path, site: Path) -> str:
    nginx = need("nginx")
    built = subprocess.run([nginx, "-V"], capture_output=True, text=True).stderr
    temps = "".join(f"    {m.group(1).replace('-', '_')}_temp_path {prefix}/tmp/{m.group(1)};\n"
                    for m in re.finditer(r"--http-(client-body|proxy|fastcgi|uwsgi|scgi)-temp-path", built))
    user = "user root root;\n" if os.geteuid() == 0 else ""
    return (f"{user}worker_processes 1;\n"
            "events { worker_connections 512; }\n"
            "http {\n"
            f"    access_log {prefix}/access.log;\n"
            f"{temps}"
            f"    include {site};\n"
            "}\n")


class NginxProc:
    def __init__(self, prefix: Path, site_conf: str, ports: tuple[int, ...]):
        nginx = need("nginx")
        prefix.mkdir(parents=True, exist_ok=True)
        (prefix / "tmp").mkdir(exist_ok=True)
        site = prefix / "checkup.conf"
        site.write_text(site_conf)
        self.conf = prefix / "nginx.conf"
        self.conf.write_text(nginx_main_conf(prefix, site))
        self.prefix = prefix
        self.cmd = [nginx, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(self.conf)]
        test = subprocess.run([*self.cmd, "-t"], capture_output=True, text=True, timeout=30)
        if test.returncode != 0:
            raise RuntimeError("nginx -t failed:\n" + test.stderr)
        self.test_output = test.stderr
        self.proc = subprocess.Popen(
            [*self.cmd, "-g", f"daemon off; pid {prefix}/nginx.pid;"],
            stdout=subprocess.DEVNULL, stderr=open(prefix / "stderr.log", "wb"))
        for port in ports:
            wait_port(port, timeout=20, proc=self.proc)

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)   # graceful: finish open requests
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# -- reports --------------------------------------------------------------------------

def make_report() -> dict:
    """A real `checkup check --json` of a replayed Debian laptop (a fresh copy each call)."""
    return json.loads(_report_json())


@functools.lru_cache(maxsize=1)
def _report_json() -> str:
    out = subprocess.run([sys.executable, "-m", "agent.cli", "check", "--json", "--replay",
                          str(FIXTURE)], cwd=REPO, capture_output=True, text=True, timeout=60)
    json.loads(out.stdout)
    return out.stdout


def metric_values(text: str) -> dict[tuple[str, tuple], float]:
    """Parse Prometheus text the way a scraper does: {(sample name, sorted labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out
