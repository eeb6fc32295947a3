"""Sign-in sessions and lockouts against the real server (SQLite and PostgreSQL):
sessions live in the database, so logout, `admin passwd`, `admin logout`, deleting an admin
and expiry end them at once (the old cookie replayed is a login page); logout is a POST that
needs the form's token; failed logins back off per account in the database, across server
processes, and an unknown user name is answered exactly like a real one."""
from __future__ import annotations

import concurrent.futures
import datetime as dt
import os
import re
import subprocess
import sys
import time

import pytest
import requests
from sqlalchemy import select, text, update

import srvkit
from server.db import utcnow
from server.models import Admin, LoginFailure, WebSession
from server.security import sha256_hex

ROOT = srvkit.ROOT
WRONG = "Wrong user name or password."
_addr = iter(range(1, 1_000_000))


def fresh_address() -> str:
    """A client address of its own (the server trusts X-Forwarded-For from loopback, as
    behind its reverse proxy): an attacker spreading over many addresses, so the
    per-address limit never hides the per-account one."""
    n = next(_addr)
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


def login(url: str, user: str, password: str, address: str | None = None,
          session: requests.Session | None = None) -> tuple[requests.Session, requests.Response]:
    s = session or requests.Session()
    hdrs = {"X-Forwarded-For": address or fresh_address()}
    page = s.get(url + "/login", headers=hdrs, timeout=30)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = s.post(url + "/login", data={"username": user, "password": password, "csrf": csrf},
               headers=hdrs, allow_redirects=False, timeout=30)
    return s, r


def error_of(r: requests.Response) -> str:
    m = re.search(r'<p class="error" role="alert">([^<]*)</p>', r.text)
    return m.group(1) if m else ""


def signed_in(url: str, cookie: str, name: str = "checkup_session") -> bool:
    """Replay a session cookie from a fresh client: is it still a session?"""
    r = requests.get(url + "/", headers={"Cookie": f"{name}={cookie}"}, allow_redirects=False,
                     timeout=30)
    if r.status_code == 200:
        return True
    assert r.status_code == 303 and r.headers["location"].startswith("/login"), r.status_code
    return False


def csrf_of(s: requests.Session, url: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', s.get(url + "/policy", timeout=30).text).group(1)


def admin_cli(srv, *args: str, stdin: str = "") -> tuple[int, str, str]:
    """`checkup-server admin ...` in this process, on the server's database."""
    return srvkit.server_cli(srv.cfg.get("server", "database_url"), "admin", *args, stdin=stdin)


def failure_row(srv, name: str):
    with srv.engine.connect() as conn:
        return conn.execute(select(LoginFailure).where(LoginFailure.subject == name)).first()


# -- sessions ------------------------------------------------------------------

def test_logout_is_a_post_with_its_token_and_ends_the_session_for_good(live_server):
    srv = live_server
    user, password = srv.admin()
    s, r = login(srv.url, user, password)
    assert r.status_code == 303
    cookie = s.cookies["checkup_session"]
    assert signed_in(srv.url, cookie)
    # only the token's hash is in the database, nowhere the token itself
    with srv.engine.connect() as conn:
        rows = [dict(m) for m in conn.execute(select(WebSession)).mappings()]
    assert len(rows) == 1 and rows[0]["token_hash"] == sha256_hex(cookie)
    assert rows[0]["subject"] == user and rows[0]["auth"] == "local" and rows[0]["role"] == "admin"
    assert rows[0]["address"].startswith("10.") and rows[0]["revoked_at"] is None
    assert not any(cookie in str(v) for v in rows[0].values())

    # a cross-site form post (the cookie, no token) is refused and logs nobody out
    r = s.post(srv.url + "/logout", data={}, headers={"Origin": "https://evil.example"},
               allow_redirects=False)
    assert r.status_code == 403 and "set-cookie" not in r.headers
    assert "still logged in" in error_of(r) and 'action="/logout"' in r.text
    r = s.post(srv.url + "/logout", data={"csrf": "guessed"}, allow_redirects=False)
    assert r.status_code == 403
    assert signed_in(srv.url, cookie)
    # a link to /logout (GET) only offers the button
    r = s.get(srv.url + "/logout", allow_redirects=False)
    assert r.status_code == 200 and 'action="/logout"' in r.text and "set-cookie" not in r.headers
    assert signed_in(srv.url, cookie)

    r = s.post(srv.url + "/logout", data={"csrf": csrf_of(s, srv.url)}, allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert 'checkup_session=""' in r.headers["set-cookie"] and "Max-Age=0" in r.headers["set-cookie"]
    assert not signed_in(srv.url, cookie)        # the old cookie replayed: a login page
    with srv.engine.connect() as conn:
        assert conn.execute(select(WebSession.revoked_at)).scalar() is not None
    # logging out again (no session) just shows the login page
    r = requests.post(srv.url + "/logout", data={}, allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login" and "set-cookie" not in r.headers
    r = requests.get(srv.url + "/logout", allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_passwd_logout_and_delete_end_the_admins_sessions(live_server):
    srv = live_server
    user, password = srv.admin("alice")
    other, other_pw = srv.admin("bob")
    a1 = login(srv.url, user, password)[0].cookies["checkup_session"]
    a2 = login(srv.url, user, password)[0].cookies["checkup_session"]
    b1 = login(srv.url, other, other_pw)[0].cookies["checkup_session"]

    code, out, err = admin_cli(srv, "sessions", user)
    assert code == 0 and len(out.splitlines()) == 2 and "2 open sessions" in err
    assert all(re.search(r"from 10\.\d+\.\d+\.\d+$", line) for line in out.splitlines())
    assert a1 not in out and sha256_hex(a1) not in out      # never a token, never a whole hash
    code, out, _ = admin_cli(srv, "list")
    assert code == 0 and re.search(r"^alice .* 2 open sessions$", out, re.M)

    code, out, _ = admin_cli(srv, "passwd", user, "--password-stdin", stdin="a new long password\n")
    assert code == 0 and "Password changed for alice. Ended 2 open sessions." in out
    assert not signed_in(srv.url, a1) and not signed_in(srv.url, a2)
    assert signed_in(srv.url, b1)                                   # bob is not affected
    assert login(srv.url, user, password)[1].status_code == 401      # the old password is gone
    s, r = login(srv.url, user, "a new long password")
    assert r.status_code == 303
    a3 = s.cookies["checkup_session"]
    assert signed_in(srv.url, a3)

    # `admin create` on an existing name is a password reset too
    code, out, _ = admin_cli(srv, "create", user, "--password-stdin", stdin="yet another password\n")
    assert code == 0 and "Ended 1 open session." in out and not signed_in(srv.url, a3)

    a4 = login(srv.url, user, "yet another password")[0].cookies["checkup_session"]
    code, out, _ = admin_cli(srv, "logout", user)
    assert code == 0 and "Ended 1 session of alice." in out
    assert not signed_in(srv.url, a4) and signed_in(srv.url, b1)

    code, out, _ = admin_cli(srv, "delete", other)
    assert code == 0 and "Deleted IT login bob and ended 1 session." in out
    assert not signed_in(srv.url, b1)
    assert login(srv.url, other, other_pw)[1].status_code == 401

    for args in (("passwd", "nobody", "--generate"), ("sessions", "nobody"), ("logout", "nobody"),
                 ("delete", "nobody"), ("unlock", "nobody")):
        code, _, err = admin_cli(srv, *args)
        assert code == 3 and "no IT login 'nobody'" in err, (args, err)
    code, _, err = admin_cli(srv)
    assert code == 3 and "give an action: create, passwd" in err


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_garbage_cookies_are_no_session_and_no_error(live_server):
    srv = live_server
    for junk in ("", "x" * 5000, "%00%ff", "a.b.c", "\u00e9t\u00e9", "\"quoted\""):
        raw = f"checkup_session={junk}".encode("utf-8")
        r = requests.get(srv.url + "/devices", headers={"Cookie": raw}, allow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), (junk, r.status_code)
        r = requests.post(srv.url + "/logout", headers={"Cookie": raw}, data={"csrf": junk[:100]},
                          allow_redirects=False)
        assert r.status_code == 303, (junk, r.status_code)


def test_a_deleted_admin_has_no_session_even_without_the_cli(live_server):
    srv = live_server
    user, password = srv.admin()
    cookie = login(srv.url, user, password)[0].cookies["checkup_session"]
    assert signed_in(srv.url, cookie)
    with srv.engine.begin() as conn:
        conn.execute(Admin.__table__.delete())
    assert not signed_in(srv.url, cookie)


def test_sessions_expire_after_session_hours_and_are_pruned(database_url):
    srv = srvkit.LiveServer(database_url)
    srv.cfg.set("auth", "session_hours", 1)
    srv.start()
    try:
        user, password = srv.admin()
        s, r = login(srv.url, user, password)
        assert "Max-Age=3600" in r.headers["set-cookie"]
        cookie = s.cookies["checkup_session"]
        with srv.engine.connect() as conn:
            row = conn.execute(select(WebSession)).one()
        assert row.expires_at - row.created_at == dt.timedelta(hours=1)
        assert signed_in(srv.url, cookie)
        # an hour later (moved in the database: the clock the server reads)
        with srv.engine.begin() as conn:
            conn.execute(update(WebSession).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
        assert not signed_in(srv.url, cookie)

        # the prune loop drops ended sessions (expired, logged out) and keeps live ones
        live = login(srv.url, user, password)[0]
        out = login(srv.url, user, password)[0]
        out.post(srv.url + "/logout", data={"csrf": csrf_of(out, srv.url)})
        from server.sessions import prune_sessions
        assert prune_sessions(srv.engine)["sessions"] == 2
        assert srv.count("web_sessions") == 1
        assert signed_in(srv.url, live.cookies["checkup_session"])
    finally:
        srv.stop()


def test_last_seen_is_kept_without_a_write_per_page(live_server):
    srv = live_server
    user, password = srv.admin()
    s = login(srv.url, user, password)[0]
    long_ago = utcnow() - dt.timedelta(minutes=10)
    with srv.engine.begin() as conn:
        conn.execute(update(WebSession).values(last_seen_at=long_ago))
    assert s.get(srv.url + "/").status_code == 200
    with srv.engine.connect() as conn:
        seen = conn.execute(select(WebSession.last_seen_at)).scalar()
    assert seen > long_ago + dt.timedelta(minutes=9)
    code, out, _ = admin_cli(srv, "sessions", user)
    assert f"last seen {seen} UTC" in out


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_over_https_the_cookie_is_secure_with_the_host_prefix(database_url):
    # secure_cookies = true is what a TLS proxy that does not send X-Forwarded-Proto needs;
    # the cookies below are sent by hand because requests keeps Secure cookies off plain http.
    srv = srvkit.LiveServer(database_url, secure_cookies=True).start()
    try:
        user, password = srv.admin()
        page = requests.get(srv.url + "/login")
        assert "Secure" in page.headers["set-cookie"]
        pre = re.search(r"checkup_login=([^;]+)", page.headers["set-cookie"]).group(1)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        r = requests.post(srv.url + "/login", data={"username": user, "password": password,
                                                    "csrf": csrf},
                          headers={"Cookie": f"checkup_login={pre}"}, allow_redirects=False)
        assert r.status_code == 303
        set_cookie = next(h for h in r.raw.headers.getlist("set-cookie")
                          if h.startswith("__Host-checkup_session="))
        cookie = set_cookie.split(";")[0].split("=", 1)[1]
        attrs = [a.strip().lower() for a in set_cookie.split(";")[1:]]
        assert "secure" in attrs and "httponly" in attrs and "path=/" in attrs
        assert "samesite=lax" in attrs and not any(a.startswith("domain") for a in attrs)
        assert signed_in(srv.url, cookie, "__Host-checkup_session")
        # the same token under a name without the prefix (set by a sibling host or over http)
        assert not signed_in(srv.url, cookie, "checkup_session")
    finally:
        srv.stop()


# -- lockout -------------------------------------------------------------------

def test_lock_seconds_backs_off_exponentially_to_an_hour():
    from server.sessions import lock_seconds
    assert [lock_seconds(n) for n in range(0, 12)] == \
        [0, 0, 0, 0, 0, 60, 120, 240, 480, 960, 1920, 3600]
    assert lock_seconds(10_000) == 3600


def test_failed_logins_lock_the_account_and_unknown_names_alike(live_server, caplog):
    srv = live_server
    user, password = srv.admin()
    caplog.set_level("WARNING", logger="checkup.server")

    def attempts(name: str) -> list[tuple[int, str]]:
        seen = []
        for _ in range(4):
            r = login(srv.url, name, "not the password")[1]
            seen.append((r.status_code, error_of(r)))
        r = login(srv.url, name, "not the password")[1]     # the 5th: locked for a minute
        seen.append((r.status_code, error_of(r), r.headers.get("retry-after")))
        r = login(srv.url, name, password)[1]               # even the right password waits
        seen.append((r.status_code, error_of(r)))
        return seen

    real, unknown = attempts(user), attempts("no-such-admin")
    locked = "Wrong user name or password, or too many attempts: wait 1 minute and try again."
    assert real == [(401, WRONG)] * 4 + [(429, locked, "60"), (429, locked)]
    assert [x[:2] for x in unknown] == [x[:2] for x in real]      # nothing tells them apart
    assert unknown[4][2] in ("59", "60")
    assert failure_row(srv, user).failures == 5 and failure_row(srv, "no-such-admin").failures == 5
    assert srv.count("web_sessions") == 0

    logged = [r.getMessage() for r in caplog.records]
    assert sum(1 for m in logged if m.startswith("login failed for account 'it-admin' from 10.")) == 5
    assert any(m.startswith("account 'it-admin' locked for 1 min after 5 failed logins (last from 10.")
               for m in logged)
    assert any(m.startswith("login refused for account 'it-admin' from 10.") for m in logged)

    # after the minute, one more failure locks it for two (the lock moved back in the database)
    with srv.engine.begin() as conn:
        conn.execute(update(LoginFailure).values(locked_until=utcnow() - dt.timedelta(seconds=1)))
    r = login(srv.url, user, "still not it")[1]
    assert r.status_code == 429 and "wait 2 minutes" in error_of(r)
    wait = (failure_row(srv, user).locked_until - utcnow()).total_seconds()
    assert 110 <= wait <= 120

    # IT unlocks it: the right password works at once, and a success forgets the failures
    code, out, _ = admin_cli(srv, "unlock", user)
    assert code == 0 and "Unlocked it-admin: 6 failed logins forgotten" in out
    code, out, _ = admin_cli(srv, "unlock", user)
    assert code == 0 and "it-admin was not locked out." in out
    assert login(srv.url, user, "wrong again")[1].status_code == 401
    s, r = login(srv.url, user, password)
    assert r.status_code == 303 and failure_row(srv, user) is None
    assert signed_in(srv.url, s.cookies["checkup_session"])
    # a name that is no account can be unlocked too (someone tried it), else it is a typo
    code, out, _ = admin_cli(srv, "unlock", "no-such-admin")
    assert code == 0 and "5 failed logins forgotten" in out
    code, _, err = admin_cli(srv, "unlock", "no-such-admin")
    assert code == 3 and "no IT login" in err


def test_a_burst_of_attempts_checks_at_most_five_passwords(live_server):
    srv = live_server
    user, password = srv.admin()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: login(srv.url, user, "guess guess")[1].status_code,
                              range(12)))
    assert sorted(codes) == [401] * 4 + [429] * 8
    assert failure_row(srv, user).failures == 5


def test_failures_are_forgotten_after_a_quiet_day(live_server):
    srv = live_server
    user, password = srv.admin()
    for _ in range(4):
        assert login(srv.url, user, "nope nope")[1].status_code == 401
    with srv.engine.begin() as conn:
        conn.execute(update(LoginFailure).values(last_failure_at=utcnow() - dt.timedelta(days=2)))
    r = login(srv.url, user, "nope nope")[1]
    assert r.status_code == 401 and failure_row(srv, user).failures == 1   # counted afresh
    # and the prune loop drops counts a day old that lock nothing
    with srv.engine.begin() as conn:
        conn.execute(update(LoginFailure).values(last_failure_at=utcnow() - dt.timedelta(days=2)))
        conn.execute(LoginFailure.__table__.insert().values(
            auth="local", subject="still-locked", failures=9,
            last_failure_at=utcnow() - dt.timedelta(days=2),
            locked_until=utcnow() + dt.timedelta(minutes=30)))
    from server.sessions import prune_sessions
    assert prune_sessions(srv.engine)["login_failures"] == 1
    assert failure_row(srv, user) is None and failure_row(srv, "still-locked") is not None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_per_address_limit_still_applies(live_server):
    srv = live_server
    user, password = srv.admin()
    seen = [login(srv.url, f"user{i}", "x" * 12, address="192.0.2.7")[1].status_code
            for i in range(11)]
    assert seen == [401] * 10 + [429]
    r = login(srv.url, user, password, address="192.0.2.7")[1]
    assert r.status_code == 429 and "Too many attempts. Wait a minute" in error_of(r)
    assert login(srv.url, user, password, address="192.0.2.8")[1].status_code == 303


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_local_login_off_refuses_passwords(database_url):
    srv = srvkit.LiveServer(database_url)
    srv.cfg.set("auth", "local_login", False)
    srv.start()
    try:
        user, password = srv.admin()
        r = login(srv.url, user, password)[1]
        assert r.status_code == 403 and "turned off" in error_of(r) and srv.count("web_sessions") == 0
    finally:
        srv.stop()


def test_the_migration_goes_down_and_up(database_url):
    from server.db import current_revision, make_engine, migrate
    engine = make_engine(database_url)
    try:
        migrate(engine)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM web_sessions"))
        from alembic import command
        from alembic.config import Config

        from server.db import MIGRATIONS
        cfg = Config()
        cfg.set_main_option("script_location", MIGRATIONS)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0003")
        assert current_revision(engine) == "0003"
        migrate(engine)
        assert srv_tables(engine) >= {"web_sessions", "login_failures"}
    finally:
        engine.dispose()


def srv_tables(engine) -> set[str]:
    from sqlalchemy import inspect
    return set(inspect(engine).get_table_names())


# -- two server processes on one PostgreSQL database ----------------------------

def _start(env: dict, port: int, log_path: str) -> subprocess.Popen:
    log = open(log_path, "w")   # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([sys.executable, "-m", "server", "run", "--port", str(port)],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
    proc.log = log
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start: " + open(log_path).read())


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    proc.log.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_lockout_and_sessions_across_two_server_processes(database_url, tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT, DATABASE_URL=database_url)
    cli = lambda *a, stdin=None: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "server", *a], env=env, input=stdin, capture_output=True,
        text=True, timeout=60, cwd=ROOT)
    r = cli("admin", "create", "alice", "--password-stdin", stdin="a long password\n")
    assert r.returncode == 0, r.stderr
    ports = [srvkit.free_port(), srvkit.free_port()]
    logs = [str(tmp_path / "a.log"), str(tmp_path / "b.log")]
    procs = [_start(env, ports[0], logs[0])]
    try:
        procs.append(_start(env, ports[1], logs[1]))
        a, b = (f"http://127.0.0.1:{p}" for p in ports)

        # ten wrong passwords at the same moment, five on each process: exactly five are
        # checked (the fifth locks alice), the other five are refused unchecked
        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            answers = list(pool.map(lambda url: login(url, "alice", "wrong password")[1],
                                    [a, b] * 5))
        assert sorted(r.status_code for r in answers) == [401] * 4 + [429] * 6
        assert all("too many attempts" in error_of(r) for r in answers if r.status_code == 429)
        import psycopg
        conninfo = database_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(conninfo) as conn:
            assert conn.execute("SELECT failures FROM login_failures WHERE subject = 'alice'"
                                ).fetchone() == (5,)
        # locked on both processes, even with the right password
        for url in (a, b):
            r = login(url, "alice", "a long password")[1]
            assert r.status_code == 429 and "wait 1 minute" in error_of(r)

        r = cli("admin", "unlock", "alice")
        assert r.returncode == 0 and "Unlocked alice: 5 failed logins forgotten" in r.stdout, r
        assert "login refused for account 'alice'" in open(logs[0]).read() + open(logs[1]).read()
        s, r = login(a, "alice", "a long password")
        assert r.status_code == 303
        cookie = s.cookies["checkup_session"]
        assert signed_in(b, cookie)                   # a session is known to every process
        s.post(b + "/logout", data={"csrf": csrf_of(s, b)})
        assert not signed_in(a, cookie) and not signed_in(b, cookie)
    finally:
        for p in procs:
            _stop(p)
    # each process logged its failures with the account and address; the counts across
    # both are 1..5 once each (no lost update, none past the lock)
    text_ = open(logs[0]).read() + open(logs[1]).read()
    counts = sorted(int(n) for n in re.findall(r"login failed for account 'alice' from 10\.[\d.]+ "
                                                r"\((\d+) in a row\)", text_))
    assert counts == [1, 2, 3, 4, 5], text_
    assert "account 'alice' locked for 1 min after 5 failed logins" in text_


def test_auth_settings_from_the_file_and_the_environment(tmp_path):
    from server.config import ConfigError, load_config
    assert load_config(None, environ={}).get("auth", "session_hours") == 12
    assert load_config(None, environ={}).get("auth", "local_login") is True
    f = tmp_path / "server.toml"
    f.write_text("[auth]\nsession_hours = 2\nlocal_login = false\n")
    cfg = load_config(str(f), environ={"CHECKUP_SERVER_AUTH_SESSION_HOURS": "3"})
    assert cfg.get("auth", "session_hours") == 3 and cfg.get("auth", "local_login") is False
    f.write_text("[auth]\nsession_hours = 'long'\n")
    with pytest.raises(ConfigError, match="auth.session_hours must be int"):
        load_config(str(f), environ={})
