"""The test identity provider (tests/oidc/provider.mjs, oidc-provider on Node) from Python:
start it on a loopback port, restart it with other keys, tamper with its next ID token,
and drive its login page with ``requests`` as a person would."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from urllib.parse import urljoin, urlsplit

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "provider.mjs")
PASSWORD = "test-password"
CLIENT_ID = "checkup"
CLIENT_SECRET = "s3cret-for-the-test-idp"
ENTRA_ADMIN_GROUP = "5f6a1d2e-8b3c-4d7e-9f01-23456789abcd"


def missing() -> str | None:
    """Why the test IdP cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed (apt-get install nodejs)"
    if not os.path.isdir(os.path.join(HERE, "node_modules", "oidc-provider")):
        return "tests/oidc has no node_modules: run `npm ci --prefix tests/oidc` (.ci/setup does)"
    return None


def new_key(kid: str) -> dict:
    from joserfc.jwk import RSAKey
    key = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})
    return key.as_dict(private=True)


def free_port() -> int:
    from srvkit import free_port as port   # tests/server/srvkit.py: the one free-port picker
    return port()


class Idp:
    def __init__(self, redirect_uris: list[str], keys: list[dict] | None = None,
                 code_ttl: int | None = None, port: int | None = None, host: str = "127.0.0.1"):
        self.port = port or free_port()
        self.issuer = f"http://{host}:{self.port}"
        self.redirect_uris = redirect_uris
        self.keys = keys or [new_key("key-1")]
        self.code_ttl = code_ttl
        self.dir = tempfile.mkdtemp(prefix="checkup-idp-")
        self.proc = None
        self.log = os.path.join(self.dir, "idp.log")

    def start(self) -> "Idp":
        conf = os.path.join(self.dir, "config.json")
        with open(conf, "w") as fh:
            json.dump({"port": self.port, "issuer": self.issuer, "keys": self.keys,
                       "code_ttl": self.code_ttl,
                       "clients": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                    "redirect_uris": self.redirect_uris,
                                    "grant_types": ["authorization_code"],
                                    "response_types": ["code"]}]}, fh)
        self._err = open(self.log, "ab")
        self.proc = subprocess.Popen(["node", SCRIPT, conf], stdout=subprocess.PIPE,
                                     stderr=self._err, cwd=HERE)
        line = b""
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith(b"READY") or self.proc.poll() is not None:
                break
        if not line.startswith(b"READY"):
            self.stop()
            raise RuntimeError(f"test IdP did not start: {open(self.log).read()[-2000:]}")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc.stdout.close()
            self._err.close()
            self.proc = None

    def restart(self, keys: list[dict]) -> None:
        self.stop()
        self.keys = keys
        self.start()

    def tamper(self, **spec) -> None:
        requests.post(self.issuer + "/__test/tamper", json=spec or None, timeout=10).raise_for_status()


def start_sign_in(server: str, who: str, nxt: str = "/", session: requests.Session | None = None,
                  password: str = PASSWORD) -> tuple[requests.Session, str]:
    """Open the server's /auth/oidc/start, sign in at the IdP's page: (the browser session,
    the callback URL the IdP sends the browser to, not yet opened)."""
    s = session or requests.Session()
    r = s.get(server + "/auth/oidc/start", params={"next": nxt}, timeout=30)
    assert r.status_code == 200 and "idp-login" in r.text, (r.status_code, r.url, r.text[:500])
    action = re.search(r'<form method="post" action="([^"]+)"', r.text).group(1)
    r = s.post(urljoin(r.url, action), data={"login": who, "password": password},
               allow_redirects=False, timeout=30)
    for _ in range(10):     # the IdP's own redirects (login -> consent -> back)
        assert r.status_code in (302, 303), (r.status_code, r.text[:500])
        url = urljoin(r.url, r.headers["location"])
        if urlsplit(url).path == "/auth/oidc/callback" and url.startswith(server):
            return s, url
        r = s.get(url, allow_redirects=False, timeout=30)
    raise AssertionError("the IdP never sent the browser back")


def sign_in(server: str, who: str, nxt: str = "/", session: requests.Session | None = None
            ) -> tuple[requests.Session, requests.Response, str]:
    """The whole sign-in: (session, the callback's response (not followed), callback URL)."""
    s, url = start_sign_in(server, who, nxt, session)
    return s, s.get(url, allow_redirects=False, timeout=30), url
