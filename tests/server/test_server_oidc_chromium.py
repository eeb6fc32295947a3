"""The whole OpenID Connect sign-in in headless Chromium: Checkup's login page, the real
test IdP's login page (tests/oidc/provider.mjs), back to the page asked for, signed in."""
from __future__ import annotations

import os
import sys

import pytest

import srvcdp
import srvkit

sys.path.insert(0, os.path.join(srvkit.ROOT, "tests", "oidc"))
import idp as testidp  # noqa: E402

pytestmark = [
    pytest.mark.skipif(srvcdp.chromium_path() is None,
                       reason="chromium not installed (apt-get install chromium)"),
    pytest.mark.skipif(testidp.missing() is not None,
                       reason=f"test IdP cannot run: {testidp.missing()}"),
]


def test_sign_in_with_the_idp_in_chromium(tmp_path, monkeypatch):
    monkeypatch.setenv("CHECKUP_OIDC_CLIENT_SECRET", testidp.CLIENT_SECRET)
    port = srvkit.free_port()
    provider = testidp.Idp([f"http://127.0.0.1:{port}/auth/oidc/callback"]).start()
    srv = srvkit.LiveServer("sqlite:///" + str(tmp_path / "s.sqlite3"), port=port)
    for key, value in {"issuer": provider.issuer, "client_id": testidp.CLIENT_ID,
                       "display_name": "Example SSO", "admin_groups": ["checkup-admins"]}.items():
        srv.cfg.set("auth.oidc", key, value)
    srv.start()
    b = srvcdp.Browser()
    try:
        b.goto(srv.url + "/devices?status=fail")
        assert "/login" in b.url and "Sign in with Example SSO" in b.text()
        b.submit_by_click("#sso")
        assert b.url.startswith(provider.issuer + "/interaction/"), b.url
        b.fill("#idp-login", "alice")
        b.fill("#idp-password", testidp.PASSWORD)
        b.submit_by_click("#idp-submit")
        assert b.url == srv.url + "/devices?status=fail", b.url
        assert "alice.admin@example.com" in b.text()       # the header shows who is signed in
        cookies = b.call("Network.getCookies", {"urls": [srv.url + "/"]}, session=True)["cookies"]
        session = [c for c in cookies if c["name"] == "checkup_session"]
        assert session and session[0]["httpOnly"] and session[0]["sameSite"] == "Lax"
        b.screenshot(str(tmp_path / "signed-in.png"))
    finally:
        b.close()
        srv.stop()
        provider.stop()
