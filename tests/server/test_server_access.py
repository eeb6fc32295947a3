"""One access layer (server/access.py): every route of the real app declares exactly one
decision, and answers every kind of caller as that decision says.

The expected answers come from each route's declared decision, so a route added later
(sign-in with the IdP, the audit log, the API, /me) is walked and called too:

- nobody: an API path (``/api/...``, ``*.json``) answers 401 JSON, a page 303 to /login;
- a caller whose role lacks the permission: 403;
- a caller whose role has it: never 401 or 403;
- ``public``: never 401 or 403; ``device`` (agents): a 4xx without a device secret;
- nobody ever gets a 5xx.
"""
from __future__ import annotations

import re

import pytest
import requests
from fastapi import APIRouter, FastAPI

from server import access
from server.access import IT_CHANGE, IT_READ, ME

MAC = {"platform": "darwin", "hostname": "walk-mbp", "serial": "C02WALK00001",
       "hardware_uuid": "11111111-2222-3333-4444-555555555555", "os_name": "macOS",
       "os_version": "14.5"}
SESSION_ROLES = {"employee": ("alice@example.com", "oidc"), "viewer": ("vera@example.com", "oidc"),
                 "admin": ("it-admin", "local")}
CALLERS = ("nobody", "employee", "viewer", "admin", "viewer-token", "admin-token")
ROLE_OF = {"nobody": None, "employee": "employee", "viewer": "viewer", "admin": "admin",
           "viewer-token": "viewer", "admin-token": "admin"}
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def api_routes(app: FastAPI) -> list:
    return access.all_routes(app)


def undeclared(app: FastAPI) -> list[str]:
    return [f"{','.join(sorted(r.methods))} {r.path}" for r in api_routes(app)
            if access.decision(r) is None]


def build_app(tmp_path):
    from server.app import create_app
    from server.config import load_config
    cfg = load_config(None, environ={})
    cfg.set("server", "database_url", "sqlite:///" + str(tmp_path / "walk.sqlite3"))
    return create_app(cfg)


def test_every_route_declares_exactly_one_decision(tmp_path):
    app = build_app(tmp_path)
    app.state.checkup.engine.dispose()   # the walk reads the routes only
    routes = api_routes(app)
    missing = undeclared(app)
    assert not missing, "routes without exactly one access decision (server/access.py): " + \
        "; ".join(missing)
    declared = {(m, r.path): access.decision(r) for r in routes for m in r.methods}
    # the decisions of the routes this app had before the people work, as the brief says
    expected = {
        ("GET", "/"): ("require", ME),
        ("GET", "/devices"): ("require", IT_READ),
        ("GET", "/devices/{device_id}"): ("require", IT_READ),
        ("GET", "/devices.{fmt}"): ("require", IT_READ),
        ("POST", "/devices/{device_id}/revoke"): ("require", IT_CHANGE),
        ("POST", "/devices/{device_id}/requests/{request_id}/{action}"): ("require", IT_CHANGE),
        ("POST", "/devices/{device_id}/exemptions"): ("require", IT_CHANGE),
        ("POST", "/devices/{device_id}/exemptions/{exemption_id}/delete"): ("require", IT_CHANGE),
        ("GET", "/reconcile"): ("require", IT_READ),
        ("GET", "/reconcile.{fmt}"): ("require", IT_READ),
        ("GET", "/policy"): ("require", IT_READ),
        ("POST", "/policy"): ("require", IT_CHANGE),
        ("POST", "/policy/preview"): ("require", IT_CHANGE),
        ("POST", "/policy/revert/{version_id}"): ("require", IT_CHANGE),
    }
    for key, decision in expected.items():
        assert declared.get(key) == decision, (key, declared.get(key))
    for key in [("GET", "/login"), ("POST", "/login"), ("GET", "/logout"), ("POST", "/logout"),
                ("GET", "/static/app.css"), ("GET", "/healthz"), ("GET", "/readyz"),
                ("GET", "/metrics")]:
        assert declared.get(key, ("?",))[0] == "public", (key, declared.get(key))
    for key in [("POST", "/api/v1/enroll"), ("POST", "/api/v1/reports"),
                ("GET", "/api/v1/policy"), ("GET", "/api/v1/exemptions")]:
        assert declared.get(key, ("?",))[0] == "device", (key, declared.get(key))


def test_the_walk_names_a_route_without_a_decision_or_with_two():
    app = FastAPI()
    router = APIRouter()

    @router.get("/forgot")
    def forgot():
        return {}

    @router.get("/twice", dependencies=[access.public("a"), access.require(IT_READ)])
    def twice():
        return {}

    @router.get("/fine", dependencies=[access.public("the walk's own check")])
    def fine():
        return {}

    app.include_router(router)
    assert undeclared(app) == ["GET /forgot", "GET /twice"]


# -- calling every route as every kind of caller -----------------------------------

def sample_path(path: str, samples: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: samples.get(m.group(1), "sample"), path)


def expected_problem(decision, path: str, who: str, status: int, headers, text: str) -> str | None:
    """None when the answer is what the decision promises, else what is wrong."""
    if status >= 500:
        return f"a {status}"
    kind, arg = decision
    if kind == "public":
        return f"{status} on a public route" if status in (401, 403) else None
    if kind == "device":
        # no caller here has a device secret: the route refuses on its own
        return None if 400 <= status < 500 else f"{status} without a device secret"
    role = ROLE_OF[who]
    if role is None:
        if path.startswith("/api/") or path.endswith(".json"):
            if status != 401 or "detail" not in text:
                return f"{status} (expected 401 JSON with a detail)"
            return None
        if status != 303 or not headers.get("location", "").startswith("/login?next="):
            return f"{status} to {headers.get('location')!r} (expected 303 to /login)"
        return None
    if arg not in access.permissions(role, "token" if who.endswith("-token") else "session"):
        return None if status == 403 else f"{status} (expected 403: {role} lacks {arg})"
    return f"{status} though {role} has {arg}" if status in (401, 403) else None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_route_answers_every_caller_as_declared(live_server):
    from server.api_tokens import create_token, revoke_token
    from server.sessions import create_session
    srv = live_server
    srv.admin("it-admin")
    # a device, and a second enrollment of it waiting for IT (the approve/reject buttons)
    r = requests.post(srv.url + "/api/v1/enroll", timeout=30,
                      json={"enroll_token": srv.token(), "device": MAC})
    assert r.status_code == 201, r.text
    device_id = r.json()["device_id"]
    r = requests.post(srv.url + "/api/v1/enroll", timeout=30,
                      json={"enroll_token": srv.token(), "device": MAC})
    assert r.status_code == 202, r.text
    samples = {"device_id": device_id, "request_id": r.json()["request_id"],
               "action": "approve", "fmt": "json", "email": "alice@example.com",
               "exemption_id": "1"}
    with srv.engine.begin() as conn:
        viewer_token = create_token(conn, "viewer", "walk viewer", "test")[1]
        admin_token = create_token(conn, "admin", "walk admin", "test")[1]

    def caller(who: str) -> tuple[dict, dict]:
        """(headers, form body): a fresh session per call, so a logout ends only its own."""
        if who in SESSION_ROLES:
            subject, auth = SESSION_ROLES[who]
            token, info = create_session(srv.engine, subject, auth, who, "127.0.0.1", 1)
            return {"Cookie": f"checkup_session={token}"}, {"csrf": info.csrf}
        if who.endswith("-token"):
            return {"Authorization": "Bearer " + (viewer_token if who == "viewer-token"
                                                  else admin_token)}, {}
        return {}, {}

    # what the matrix promises, seen concretely
    employee, _ = caller("employee")
    r = requests.get(srv.url + "/", headers=employee, allow_redirects=False, timeout=30)
    assert r.status_code == 303 and r.headers["location"] == "/me"
    r = requests.get(srv.url + "/devices", headers=employee, timeout=30)
    assert r.status_code == 403 and "You don't have access to this page" in r.text
    assert 'href="/me"' in r.text and "your devices" in r.text
    assert 'href="/devices"' not in r.text            # no IT navigation for an employee
    r = requests.get(srv.url + "/reconcile.json", headers=employee, timeout=30)
    assert r.status_code == 403 and r.json()["detail"].startswith("your role (employee)")
    viewer, form = caller("viewer")
    r = requests.post(srv.url + "/policy", headers=viewer, data=dict(form, policy=""), timeout=30)
    assert r.status_code == 403 and "You don't have access to this page" in r.text
    assert 'href="/me"' not in r.text and "Ask an IT admin" in r.text
    r = requests.get(f"{srv.url}/devices/{device_id}", headers=viewer, timeout=30)
    assert r.status_code == 200 and 'id="revoke-form"' not in r.text   # no buttons to press
    assert "/approve" not in r.text
    r = requests.get(f"{srv.url}/devices/{device_id}", headers=caller("admin")[0], timeout=30)
    assert r.status_code == 200 and 'id="revoke-form"' in r.text and "/approve" in r.text
    r = requests.get(srv.url + "/reconcile.json", timeout=30)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = requests.get(srv.url + "/devices?status=fail", allow_redirects=False, timeout=30)
    assert r.headers["location"] == "/login?next=%2Fdevices%3Fstatus%3Dfail"

    app = srv.app
    wrong, calls = [], 0
    routes = api_routes(app)
    assert len(routes) >= 20
    for route in routes:
        decision = access.decision(route)
        assert decision is not None, route.path
        for method in sorted(route.methods):
            path = sample_path(route.path, samples)
            for who in CALLERS:
                headers, form = caller(who)
                r = requests.request(method, srv.url + path, headers=headers, timeout=30,
                                     data=form if method in BODY_METHODS else None,
                                     allow_redirects=False)
                calls += 1
                problem = expected_problem(decision, path, who, r.status_code, r.headers, r.text)
                if problem:
                    wrong.append(f"{method} {path} as {who} ({decision[0]} {decision[1]}): {problem}")
    assert not wrong, "\n".join(wrong)
    assert calls == sum(len(r.methods) for r in routes) * len(CALLERS)

    # a token that is no longer good is refused, not treated as nobody in particular
    with srv.engine.begin() as conn:
        assert revoke_token(conn, viewer_token.split(".")[0])
    r = requests.get(srv.url + "/reconcile.json", timeout=30,
                     headers={"Authorization": "Bearer " + viewer_token})
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_employee_in_chromium_is_shown_their_way_not_it_pages(live_server):
    import srvcdp
    if srvcdp.chromium_path() is None:
        pytest.skip("chromium not installed (apt-get install chromium)")
    from server.sessions import create_session
    srv = live_server
    token, _ = create_session(srv.engine, "alice@example.com", "oidc", "employee", "127.0.0.1", 1)
    b = srvcdp.Browser()
    try:
        b.call("Network.setCookie", {"name": "checkup_session", "value": token, "url": srv.url,
                                     "httpOnly": True, "sameSite": "Lax"}, session=True)
        b.goto(srv.url + "/")
        assert b.url == srv.url + "/me"                     # their own devices
        b.goto(srv.url + "/devices")
        assert "You don't have access to this page" in b.text()
        assert b.js("document.querySelectorAll('nav a').length") == 0   # no IT navigation
        assert b.js("document.querySelector('#my-devices').href") == srv.url + "/me"
        assert "alice@example.com" in b.text()
        b.submit_by_click("form[action='/logout'] button")   # the page's own log-out form
        assert "/login" in b.url
        b.goto(srv.url + "/devices")
        assert "/login" in b.url                            # the session is over
    finally:
        b.close()
    assert srv.count("web_sessions", "WHERE revoked_at IS NOT NULL") == 1
