"""`checkup-server` as the README runs it: a real process, default SQLite in the
user data directory (or DATABASE_URL), tokens, an admin, a restart."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import requests

import srvkit
from agent.reporting import report_now

ROOT = srvkit.ROOT


def cli(env, *args, stdin=None):
    return subprocess.run([sys.executable, "-m", "server", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


def start(env, port):
    proc = subprocess.Popen([sys.executable, "-m", "server", "run", "--port", str(port)], env=env,
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start: " + proc.stderr.read())


def test_cli_run_token_admin_restart(database_url, tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT, XDG_DATA_HOME=str(tmp_path / "data"))
    env.pop("DATABASE_URL", None)
    if database_url.startswith("postgresql"):
        env["DATABASE_URL"] = database_url
    port = srvkit.free_port()
    proc = start(env, port)
    try:
        if not database_url.startswith("postgresql"):
            assert os.path.exists(tmp_path / "data" / "CheckupServer" / "checkup-server.sqlite3")
        r = cli(env, "token", "create", "--uses", "5", "--label", "test")
        assert r.returncode == 0 and "shown only now" in r.stderr
        token = r.stdout.strip()
        r = cli(env, "admin", "create", "alice", "--password-stdin", stdin="a long password\n")
        assert r.returncode == 0 and "Created IT login alice" in r.stdout
        url = f"http://127.0.0.1:{port}"
        settings = srvkit.agent_settings(url, token)
        code, msg = report_now(settings, str(tmp_path / "agent"),
                               report=srvkit.report_for(srvkit.fixture_files()[2]))
        assert code == 0, msg
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        proc = start(env, port)  # restarted: the device is still known
        code, msg = report_now(settings, str(tmp_path / "agent"),
                               report=srvkit.report_for(srvkit.fixture_files()[2]))
        assert code == 0 and "Sent 1 of 1" in msg
        assert "uses 1/5" in cli(env, "token", "list").stdout
        assert "revision" in cli(env, "migrate").stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


def test_cli_config_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[server]\nport = 'eighty'\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = cli(env, "--config", str(bad), "migrate")
    assert r.returncode == 3 and "server.port must be int" in r.stderr


def _one_line_error(r, *words):
    assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "usage:" not in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1, r.stderr
    for w in words:
        assert w in r.stderr, r.stderr


def test_cli_errors_are_one_line_and_exit_3(tmp_path):
    """Like the agent's `checkup`: a usage error or failure is one line on stderr, exit 3."""
    env = dict(os.environ, PYTHONPATH=ROOT, XDG_DATA_HOME=str(tmp_path / "data"),
               DATABASE_URL="sqlite:///" + str(tmp_path / "s.sqlite3"))
    _one_line_error(cli(env, "--bogus"), "--bogus")
    _one_line_error(cli(env, "sync", "bogus"), "bogus", "jamf")
    _one_line_error(cli(env, "token", "create", "--expires", "abc"), "abc", "days")
    _one_line_error(cli(env, "token", "create", "--uses", "0"), "--uses")
    _one_line_error(cli(env, "token", "revoke", "999"), "no token '999'")
    _one_line_error(cli(env, "token"), "create, list or revoke")
    _one_line_error(cli(env, "run", "--log-level", "loud"), "loud")
    bare = cli(env)     # a command is needed: the help, as a usage error
    assert bare.returncode == 3 and "COMMAND" in bare.stderr and "Traceback" not in bare.stderr
    assert cli(env, "--help").returncode == 0


def test_cli_refuses_tokens_that_are_already_expired(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT, XDG_DATA_HOME=str(tmp_path / "data"),
               DATABASE_URL="sqlite:///" + str(tmp_path / "s.sqlite3"))
    for days in ("-1", "0", "nan", "inf"):
        _one_line_error(cli(env, "token", "create", "--expires", days), "--expires")
    assert cli(env, "token", "list").stdout == ""       # nothing was made
    ok = cli(env, "token", "create", "--expires", "0.5")
    assert ok.returncode == 0 and "expires" in ok.stderr


def test_cli_run_refuses_a_port_it_cannot_listen_on(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT, XDG_DATA_HOME=str(tmp_path / "data"),
               DATABASE_URL="sqlite:///" + str(tmp_path / "s.sqlite3"))
    for port in ("99999", "0", "-5", "http"):
        _one_line_error(cli(env, "run", "--port", port), "--port", "1-65535")
    cfg = tmp_path / "c.toml"
    cfg.write_text("[server]\nport = 70000\n")
    _one_line_error(cli(env, "--config", str(cfg), "run"), "server.port", "1-65535")
