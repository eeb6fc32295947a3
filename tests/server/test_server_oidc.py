"""OpenID Connect sign-in against a real OpenID provider (oidc-provider on Node, started
here on loopback: tests/oidc/provider.mjs), driven through its real login page with
``requests``; the real server under uvicorn, on SQLite and PostgreSQL."""
from __future__ import annotations

import http.server
import logging
import os
import subprocess
import sys
import threading
import time
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import requests
from sqlalchemy import select

import srvkit

sys.path.insert(0, os.path.join(srvkit.ROOT, "tests", "oidc"))
import idp as testidp  # noqa: E402

from server.models import AuditEvent, OidcLogin, WebSession  # noqa: E402

pytestmark = pytest.mark.skipif(testidp.missing() is not None,
                                reason=f"test IdP cannot run: {testidp.missing()}")

PORT = srvkit.free_port()        # every server of this module listens here (the IdP knows it)
SERVER = f"http://127.0.0.1:{PORT}"
REDIRECTS = [SERVER + "/auth/oidc/callback", f"http://localhost:{PORT}/auth/oidc/callback"]


@pytest.fixture(scope="module")
def idp():
    provider = testidp.Idp(REDIRECTS).start()
    yield provider
    provider.stop()


@pytest.fixture(autouse=True)
def client_secret(monkeypatch):
    monkeypatch.setenv("CHECKUP_OIDC_CLIENT_SECRET", testidp.CLIENT_SECRET)


@pytest.fixture
def sqlite_url(tmp_path):
    return "sqlite:///" + str(tmp_path / "server.sqlite3")


class Servers:
    def __init__(self):
        self.running = []

    def __call__(self, url: str, issuer: str, local_login: bool = True, **oidc) -> srvkit.LiveServer:
        srv = srvkit.LiveServer(url, port=PORT)
        srv.cfg.set("auth", "local_login", local_login)
        settings = {"issuer": issuer, "client_id": testidp.CLIENT_ID,
                    "admin_groups": ["checkup-admins"], "viewer_groups": ["checkup-viewers"],
                    **oidc}
        for key, value in settings.items():
            srv.cfg.set("auth.oidc", key, value)
        srv.start()
        self.running.append(srv)
        return srv


@pytest.fixture
def servers():
    made = Servers()
    yield made
    for srv in made.running:
        srv.stop()


def audit_rows(srv) -> list:
    with srv.engine.connect() as conn:
        return conn.execute(select(AuditEvent).order_by(AuditEvent.id)).all()


def sessions(srv) -> list:
    with srv.engine.connect() as conn:
        return conn.execute(select(WebSession.subject, WebSession.auth, WebSession.role)).all()


def refused(srv, resp, status: int, kind: str, reason: str, caplog, who: str = "?") -> None:
    """A refusal: the status, the page for the person, a warning with the reason, one audit
    row, and no session."""
    assert resp.status_code == status, (resp.status_code, resp.text[-800:])
    assert f'data-kind="{kind}"' in resp.text and 'id="retry"' in resp.text
    assert any(reason in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records), [r.getMessage() for r in caplog.records]
    rows = [r for r in audit_rows(srv) if r.action == "sign_in"]
    assert rows and rows[-1].ok is False and reason in rows[-1].detail, rows
    assert rows[-1].actor == who
    assert sessions(srv) == []


# -- roles and landing pages ------------------------------------------------------

def test_admin_viewer_employee_sign_in(idp, servers, database_url):
    srv = servers(database_url, idp.issuer)
    s, r, _ = testidp.sign_in(SERVER, "alice", "/devices?status=fail")
    assert r.status_code == 303 and r.headers["location"] == "/devices?status=fail"
    assert "checkup_session" in s.cookies.get_dict()
    page = s.get(SERVER + "/devices", timeout=30)
    assert page.status_code == 200 and "alice.admin@example.com" in page.text   # lower-cased

    _, r, _ = testidp.sign_in(SERVER, "victor", "/reconcile")
    assert r.status_code == 303 and r.headers["location"] == "/reconcile"
    _, r, _ = testidp.sign_in(SERVER, "erin", "/devices")     # an employee lands on /me
    assert r.status_code == 303 and r.headers["location"] == "/me"
    _, r, _ = testidp.sign_in(SERVER, "erin", "/claim/abc123")   # ... or claims a laptop
    assert r.headers["location"] == "/claim/abc123"

    assert sorted(sessions(srv)) == sorted([
        ("alice.admin@example.com", "oidc", "admin"), ("victor@example.com", "oidc", "viewer"),
        ("erin@example.com", "oidc", "employee"), ("erin@example.com", "oidc", "employee")])
    rows = [(r.actor, r.role, r.ok) for r in audit_rows(srv) if r.action == "sign_in"]
    assert rows == [("alice.admin@example.com", "admin", True), ("victor@example.com", "viewer", True),
                    ("erin@example.com", "employee", True), ("erin@example.com", "employee", True)]
    with srv.engine.connect() as conn:   # the attempts are spent; only hashes of the state
        used = conn.execute(select(OidcLogin.used_at, OidcLogin.state_hash)).all()
    assert len(used) == 4 and all(u.used_at is not None and len(u.state_hash) == 64 for u in used)


def test_replayed_callback_is_refused(idp, servers, database_url, caplog):
    srv = servers(database_url, idp.issuer)
    s, r, url = testidp.sign_in(SERVER, "alice")
    assert r.status_code == 303
    with caplog.at_level(logging.WARNING, logger="checkup.server"):
        again = s.get(url, allow_redirects=False, timeout=30)
    assert again.status_code == 400 and 'data-kind="attempt"' in again.text
    assert any("replayed callback" in r.getMessage() for r in caplog.records)
    last = audit_rows(srv)[-1]
    assert (last.action, last.ok) == ("sign_in", False) and "replayed" in last.detail
    assert len(sessions(srv)) == 1


def test_next_is_only_a_local_path(idp, servers, sqlite_url):
    servers(sqlite_url, idp.issuer)
    for bad in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        _, r, _ = testidp.sign_in(SERVER, "alice", bad)
        assert r.status_code == 303 and r.headers["location"] == "/", bad


# -- refusals: the attempt ------------------------------------------------------------

def _with_query(url: str, **changes) -> str:
    parts = urlsplit(url)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    q.update(changes)
    return urlunsplit(parts._replace(query=urlencode(q)))


def test_tampered_state_is_refused(idp, servers, sqlite_url, caplog):
    srv = servers(sqlite_url, idp.issuer)
    s, url = testidp.start_sign_in(SERVER, "alice")
    with caplog.at_level(logging.WARNING, logger="checkup.server"):
        r = s.get(_with_query(url, state="forged-" + "x" * 30), allow_redirects=False, timeout=30)
    refused(srv, r, 400, "attempt", "unknown state", caplog)


def test_callback_in_another_browser_is_refused(idp, servers, sqlite_url, caplog):
    """Login CSRF: a callback URL opened in a browser that did not start the sign-in."""
    srv = servers(sqlite_url, idp.issuer)
    _, url = testidp.start_sign_in(SERVER, "alice")
    with caplog.at_level(logging.WARNING, logger="checkup.server"):
        r = requests.get(url, allow_redirects=False, timeout=30)
    refused(srv, r, 400, "attempt", "another browser", caplog)


def test_attempt_older_than_ten_minutes_is_refused(idp, servers, sqlite_url, caplog):
    import datetime as dt

    from sqlalchemy import update
    srv = servers(sqlite_url, idp.issuer)
    s, url = testidp.start_sign_in(SERVER, "alice")
    with srv.engine.begin() as conn:
        made = conn.execute(select(OidcLogin.created_at)).scalar_one()
        conn.execute(update(OidcLogin).values(created_at=made - dt.timedelta(minutes=11)))
    with caplog.at_level(logging.WARNING, logger="checkup.server"):
        r = s.get(url, allow_redirects=False, timeout=30)
    refused(srv, r, 400, "attempt", "older than 10 minutes", caplog)


def test_error_from_the_idp_is_refused(idp, servers, sqlite_url, caplog):
    srv = servers(sqlite_url, idp.issuer)
    s, url = testidp.start_sign_in(SERVER, "alice")
    state = parse_qs(urlsplit(url).query)["state"][0]
    with caplog.at_level(logging.WARNING, logger="checkup.server"):
        r = s.get(SERVER + "/auth/oidc/callback", params={"state": state, "error": "access_denied",
                                                          "error_description": "<b>no</b>"},
                  allow_redirects=False, timeout=30)
    refused(srv, r, 400, "idp", "access_denied", caplog)
    assert "<b>" not in r.text


def test_expired_code_is_refused(servers, sqlite_url, caplog):
    """The IdP's codes live 1 second here: one used later is refused by its token endpoint."""
    provider = testidp.Idp(REDIRECTS, code_ttl=1).start()
    try:
        srv = servers(sqlite_url, provider.issuer)
        s, url = testidp.start_sign_in(SERVER, "alice")
        time.sleep(2.5)
        with caplog.at_level(logging.WARNING, logger="checkup.server"):
            r = s.get(url, allow_redirects=False, timeout=30)
        refused(srv, r, 400, "idp", "refused the code: invalid_grant", caplog)
    finally:
        provider.stop()


def test_wrong_client_secret_is_refused(idp, servers, sqlite_url, caplog, monkeypatch):
    monkeypatch.setenv("CHECKUP_OIDC_CLIENT_SECRET", "not-the-secret")
    srv = servers(sqlite_url, idp.issuer)
    s, url = testidp.start_sign_in(SERVER, "alice")
    with caplog.at_level(logging.WARNING, logger="checkup.server"):
        r = s.get(url, allow_redirects=False, timeout=30)
    refused(srv, r, 400, "idp", "refused the code: invalid_client", caplog)


# -- refusals: the ID token -------------------------------------------------------------

BAD_TOKENS = {
    "audience": ({"sign": "provider", "claims": {"aud": "someone-else"}}, "for another client"),
    "issuer": ({"sign": "provider", "claims": {"iss": "http://127.0.0.1:1/evil"}}, "issuer (iss"),
    "expired": ({"sign": "provider", "claims": {"exp": int(time.time()) - 3600,
                                                 "iat": int(time.time()) - 7200}}, "has expired"),
    "nonce": ({"sign": "provider", "claims": {"nonce": "not-the-nonce"}}, "nonce is not the one"),
    "no_nonce": ({"sign": "provider", "claims": {"nonce": None}}, "no nonce claim"),
    "alg_none": ({"sign": "none"}, "algorithm is refused"),
    "wrong_signature": ({"sign": "other"}, "signature does not match"),
    "unknown_key": ({"sign": "other-kid"}, "key the IdP does not publish"),
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_bad_id_token_is_refused(idp, servers, sqlite_url, caplog, case):
    spec, reason = BAD_TOKENS[case]
    srv = servers(sqlite_url, idp.issuer)
    idp.tamper(**spec)
    try:
        with caplog.at_level(logging.WARNING, logger="checkup.server"):
            _, r, _ = testidp.sign_in(SERVER, "alice")
    finally:
        idp.tamper()
    refused(srv, r, 400, "token", reason, caplog)


def test_hmac_id_token_signed_with_the_client_secret_is_refused(idp, servers, sqlite_url):
    """Key confusion: an HS256 token whose key is the (shared) client secret."""
    from joserfc import jwt
    from joserfc.jwk import OctKey

    from server.oidc import SignInError, service
    srv = servers(sqlite_url, idp.issuer)
    svc = service(srv.app.state.checkup)
    now = int(time.time())
    token = jwt.encode({"alg": "HS256", "kid": "key-1"},
                       {"iss": idp.issuer, "aud": testidp.CLIENT_ID, "sub": "alice", "exp": now + 60,
                        "iat": now, "nonce": "n", "email": "alice.admin@example.com"},
                       OctKey.import_key(testidp.CLIENT_SECRET), algorithms=["HS256"])
    with pytest.raises(SignInError, match="algorithm is refused"):
        svc.validate(token, "n")


# -- refusals and rules: the person --------------------------------------------------------

def test_unverified_email_is_refused(idp, servers, sqlite_url, caplog):
    srv = servers(sqlite_url, idp.issuer)
    with caplog.at_level(logging.WARNING, logger="checkup.server"):
        _, r, _ = testidp.sign_in(SERVER, "uma")      # in the admin group, email not verified
    refused(srv, r, 403, "person", "has not verified this email", caplog, who="uma@example.com")
    assert "confirm" in r.text
    # "Try again" asks the IdP for a fresh sign-in, so another account can be chosen
    assert 'href="/auth/oidc/start?next=%2F&amp;again=1"' in r.text
    again = requests.get(SERVER + "/auth/oidc/start?next=%2F&again=1", allow_redirects=False,
                         timeout=30)
    assert parse_qs(urlsplit(again.headers["location"]).query)["prompt"] == ["login"]


def test_domain_not_allowed_is_refused(idp, servers, sqlite_url, caplog):
    srv = servers(sqlite_url, idp.issuer, allowed_domains=["Example.com"])
    _, r, _ = testidp.sign_in(SERVER, "erin")
    assert r.status_code == 303
    with caplog.at_level(logging.WARNING, logger="checkup.server"):
        _, r, _ = testidp.sign_in(SERVER, "olga")
    assert r.status_code == 403 and "other.test is not in allowed_domains" in audit_rows(srv)[-1].detail
    assert audit_rows(srv)[-1].actor == "olga@other.test" and 'data-kind="person"' in r.text


def test_missing_email_is_refused(idp, servers, sqlite_url, caplog):
    srv = servers(sqlite_url, idp.issuer)
    with caplog.at_level(logging.WARNING, logger="checkup.server"):
        _, r, _ = testidp.sign_in(SERVER, "nora")     # preferred_username only, not Entra
    refused(srv, r, 403, "person", "no email claim", caplog, who="nora")


def test_entra_shape_preferred_username_and_group_ids(idp, servers, sqlite_url, caplog):
    """Entra ID without the email claim: preferred_username, only with allowed_domains;
    groups are object ids; admin_emails never makes such a person an admin."""
    srv = servers(sqlite_url, idp.issuer, admin_groups=[testidp.ENTRA_ADMIN_GROUP],
                  allowed_domains=["example.com"])
    _, r, _ = testidp.sign_in(SERVER, "ezra", "/devices")
    assert r.status_code == 303 and r.headers["location"] == "/devices"
    assert sessions(srv) == [("ezra@example.com", "oidc", "admin")]
    srv.stop()

    srv = servers(sqlite_url.replace(".sqlite3", "-2.sqlite3"), idp.issuer, admin_groups=[],
                  admin_emails=["ezra@example.com"],
                  allowed_domains=["example.com"])
    with caplog.at_level(logging.WARNING, logger="checkup.server"):
        _, r, _ = testidp.sign_in(SERVER, "ezra", "/devices")
    assert r.headers["location"] == "/me"
    assert sessions(srv)[-1] == ("ezra@example.com", "oidc", "employee")
    assert any("admin_emails" in m.getMessage() for m in caplog.records)
    srv.stop()

    srv = servers(sqlite_url.replace(".sqlite3", "-3.sqlite3"), idp.issuer,
                  admin_groups=[testidp.ENTRA_ADMIN_GROUP])
    with caplog.at_level(logging.WARNING, logger="checkup.server"):
        _, r, _ = testidp.sign_in(SERVER, "ezra")     # no allowed_domains: refused
    refused(srv, r, 403, "person", "only when allowed_domains is set", caplog, who="ezra@example.com")


def test_keycloak_group_paths(idp, servers, sqlite_url):
    srv = servers(sqlite_url, idp.issuer, viewer_groups=["/it/checkup-viewers"])
    _, r, _ = testidp.sign_in(SERVER, "kim", "/devices")
    assert r.headers["location"] == "/devices"
    assert sessions(srv) == [("kim@example.com", "oidc", "viewer")]


def test_admin_emails_need_a_verified_email(idp, servers, sqlite_url):
    srv = servers(sqlite_url, idp.issuer, admin_emails=["ERIN@example.com", "ivy@example.com"])
    testidp.sign_in(SERVER, "erin")          # email_verified: true
    testidp.sign_in(SERVER, "ivy")           # no email_verified claim: may sign in, not as admin
    assert sorted(sessions(srv)) == [("erin@example.com", "oidc", "admin"),
                                     ("ivy@example.com", "oidc", "employee")]


# -- the IdP: unreachable, broken, rotated keys ----------------------------------------------

def test_idp_unreachable_and_local_login_still_works(servers, sqlite_url, caplog):
    srv = servers(sqlite_url, f"http://127.0.0.1:{srvkit.free_port()}")
    with caplog.at_level(logging.WARNING, logger="checkup.server"):
        r = requests.get(SERVER + "/auth/oidc/start", params={"next": "/devices"}, timeout=30)
    assert r.status_code == 200 and 'data-kind="unavailable"' in r.text
    assert "can't reach your company account" in r.text and "/login?next=%2Fdevices" in r.text
    assert any("unreachable" in m.getMessage() for m in caplog.records)
    assert not audit_rows(srv)[-1].ok and "unreachable" in audit_rows(srv)[-1].detail
    user, password = srv.admin()
    s = requests.Session()
    page = s.get(SERVER + "/login", timeout=30)
    assert 'id="sso"' in page.text and 'id="username"' in page.text
    r = s.post(SERVER + "/login", data={"username": user, "password": password, "next": "/devices",
                                        "csrf": s.cookies["checkup_login"]},
               allow_redirects=False, timeout=30)
    assert r.status_code == 303 and r.headers["location"] == "/devices"


class _Broken(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"<html>this is not a discovery document</html>")

    def log_message(self, *a):  # noqa: ANN002
        pass


def test_broken_discovery_is_a_plain_page(servers, sqlite_url, caplog):
    broken = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Broken)
    threading.Thread(target=broken.serve_forever, daemon=True).start()
    try:
        srv = servers(sqlite_url, f"http://127.0.0.1:{broken.server_address[1]}")
        with caplog.at_level(logging.WARNING, logger="checkup.server"):
            r = requests.get(SERVER + "/auth/oidc/start", timeout=30)
        assert r.status_code == 200 and 'data-kind="unavailable"' in r.text
        assert "is not JSON" in audit_rows(srv)[-1].detail
    finally:
        broken.shutdown()
        broken.server_close()


def test_discovery_naming_another_issuer_is_refused(idp, servers, sqlite_url, caplog):
    """Configured as http://localhost:PORT, the IdP says it is http://127.0.0.1:PORT."""
    srv = servers(sqlite_url, idp.issuer.replace("127.0.0.1", "localhost"))
    with caplog.at_level(logging.WARNING, logger="checkup.server"):
        r = requests.get(SERVER + "/auth/oidc/start", timeout=30)
    assert r.status_code == 200 and 'data-kind="unavailable"' in r.text
    assert "names issuer" in audit_rows(srv)[-1].detail


def test_key_rotation(servers, sqlite_url, caplog):
    """The IdP restarts with a new key: the cached JWKS lacks its kid, so it is fetched again
    once; then with two keys published."""
    first = testidp.new_key("rot-1")
    provider = testidp.Idp(REDIRECTS, keys=[first]).start()
    try:
        srv = servers(sqlite_url, provider.issuer)
        assert testidp.sign_in(SERVER, "alice")[1].status_code == 303
        second = testidp.new_key("rot-2")
        provider.restart([second])
        with caplog.at_level(logging.INFO, logger="checkup.server"):
            assert testidp.sign_in(SERVER, "alice")[1].status_code == 303
        assert any("rotated its keys" in m.getMessage() for m in caplog.records)
        provider.restart([testidp.new_key("rot-3"), second])   # two published, the new one signs
        assert testidp.sign_in(SERVER, "alice")[1].status_code == 303
        assert [r.ok for r in audit_rows(srv)] == [True, True, True]
    finally:
        provider.stop()


def test_public_url_builds_the_redirect_uri(idp, servers, sqlite_url):
    srv = srvkit.LiveServer(sqlite_url, port=PORT, public_url=f"http://localhost:{PORT}")
    srv.cfg.set("auth.oidc", "issuer", idp.issuer)
    srv.cfg.set("auth.oidc", "client_id", testidp.CLIENT_ID)
    srv.start()
    servers.running.append(srv)
    r = requests.get(SERVER + "/auth/oidc/start", allow_redirects=False, timeout=30)
    assert r.status_code == 303
    sent = parse_qs(urlsplit(r.headers["location"]).query)
    assert sent["redirect_uri"] == [f"http://localhost:{PORT}/auth/oidc/callback"]
    assert sent["code_challenge_method"] == ["S256"] and len(sent["code_challenge"][0]) == 43
    assert sent["scope"] == ["openid email profile"] and sent["nonce"] and sent["state"]
    assert "prompt" not in sent
    assert "HttpOnly" in r.headers["set-cookie"] and "Path=/auth/oidc" in r.headers["set-cookie"]


# -- the login page ------------------------------------------------------------------------

def test_login_page_offers_what_is_on(idp, servers, sqlite_url):
    srv = servers(sqlite_url, idp.issuer, local_login=False, display_name="Example SSO")
    page = requests.get(SERVER + "/login?next=/devices", timeout=30).text
    assert "Sign in with Example SSO" in page and 'href="/auth/oidc/start?next=%2Fdevices"' in page
    assert 'id="username"' not in page and "<form" not in page
    r = requests.post(SERVER + "/login", data={"username": "x", "password": "y"}, timeout=30)
    assert r.status_code in (400, 403)
    srv.stop()
    off = srvkit.LiveServer(sqlite_url.replace(".sqlite3", "-2.sqlite3"), port=PORT).start()
    servers.running.append(off)
    page = requests.get(SERVER + "/login", timeout=30).text
    assert 'id="username"' in page and 'id="sso"' not in page
    assert requests.get(SERVER + "/auth/oidc/start", timeout=30).status_code == 404


# -- config errors stop `checkup-server run` -------------------------------------------------

@pytest.mark.parametrize("toml, env, words", [
    ('[auth.oidc]\nissuer = "https://idp.example.com"\n', {"CHECKUP_OIDC_CLIENT_SECRET": "x"},
     "client_id is empty"),
    ('[auth.oidc]\nissuer = "https://idp.example.com"\nclient_id = "c"\n', {},
     "CHECKUP_OIDC_CLIENT_SECRET, which is not set"),
    ('[auth.oidc]\nissuer = "http://idp.example.com"\nclient_id = "c"\nclient_secret_env = ""\n', {},
     "must be an https:// URL"),
    ('[auth.oidc]\nissuer = "https://idp.example.com"\nclient_id = "c"\nclient_secret_env = ""\n'
     'admin_group = ["x"]\n', {}, "unknown key admin_group"),
    ('[auth]\nlocal_logins = false\n', {}, "unknown key local_logins"),
    ('[auth.oidc]\nissuer = "https://idp.example.com"\nclient_id = "c"\nclient_secret_env = ""\n'
     'scopes = ["email"]\n', {}, "scopes must include"),
])
def test_config_errors_stop_run(tmp_path, toml, env, words):
    cfg = tmp_path / "server.toml"
    cfg.write_text(f'[server]\ndatabase_url = "sqlite:///{tmp_path}/s.sqlite3"\n' + toml)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CHECKUP_")}
    environ.update(env, PYTHONPATH=srvkit.ROOT)
    r = subprocess.run([sys.executable, "-m", "server", "--config", str(cfg), "run", "--port",
                        str(srvkit.free_port())], capture_output=True, text=True, timeout=60,
                       env=environ, cwd=srvkit.ROOT)
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1 and words in r.stderr, r.stderr


def test_settings_from_the_environment():
    from server.config import load_config
    from server.oidc import load_settings
    env = {"CHECKUP_SERVER_AUTH_OIDC_ISSUER": "https://idp.example.com/",
           "CHECKUP_SERVER_AUTH_OIDC_CLIENT_ID": "checkup",
           "CHECKUP_SERVER_AUTH_OIDC_CLIENT_SECRET_ENV": "MY_SECRET", "MY_SECRET": "s",
           "CHECKUP_SERVER_AUTH_OIDC_ADMIN_GROUPS": "checkup-admins, it-leads",
           "CHECKUP_SERVER_AUTH_OIDC_ALLOWED_DOMAINS": "Example.com",
           "CHECKUP_SERVER_SERVER_PUBLIC_URL": "https://checkup.example.com/"}
    s = load_settings(load_config(None, environ=env), environ=env)
    assert (s.issuer, s.client_id, s.client_secret) == ("https://idp.example.com", "checkup", "s")
    assert s.admin_groups == {"checkup-admins", "it-leads"} and s.allowed_domains == {"example.com"}
    assert s.public_url == "https://checkup.example.com"
    assert load_settings(load_config(None, environ={}), environ={}) is None   # off by default


@pytest.mark.parametrize("claims, outcome", [
    ({"email": "A@Example.com", "email_verified": "true", "groups": "admins"}, ("a@example.com", "admin")),
    ({"email": "a@example.com", "email_verified": "false"}, "has not verified"),
    ({"email": "a@example.com", "email_verified": "maybe"}, "has not verified"),
    ({"email": "not an email"}, "is not an email address"),
    ({"email": "a@example.com", "groups": {"admins": True}}, ("a@example.com", "employee")),
    ({"email": "a@example.com", "_claim_names": {"groups": "src1"}}, ("a@example.com", "employee")),
    ({"preferred_username": "b@example.com", "tid": "t", "email_verified": True,
      "groups": ["viewers"]}, ("b@example.com", "viewer")),
    ({"preferred_username": "b@other.test", "tid": "t"}, "not in allowed_domains"),
    ({"preferred_username": "b", "tid": "t"}, "no email claim"),
])
def test_person_rules(claims, outcome):
    """Claim shapes the test IdP does not send (string booleans, a groups object, Entra's
    groups overage) against the same rules. b@example.com is in admin_emails, but a
    preferred_username never makes an admin."""
    from server.oidc import Oidc, Settings, SignInError
    svc = Oidc(Settings(issuer="https://idp.example.com", client_id="c", client_secret=None,
                        scopes=("openid",), display_name="x", groups_claim="groups",
                        admin_groups=frozenset({"admins"}), viewer_groups=frozenset({"viewers"}),
                        admin_emails=frozenset({"b@example.com"}),
                        allowed_domains=frozenset({"example.com"}), public_url=""))
    if isinstance(outcome, str):
        with pytest.raises(SignInError, match=outcome):
            svc.person(claims)
    else:
        p = svc.person(claims)
        assert (p.email, p.role) == outcome
