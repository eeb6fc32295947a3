"""OpenID Connect sign-in (DESIGN "Sign-in and roles"): the rules.

Authorization code flow with PKCE S256, ``state`` and ``nonce``; the ID token's signature
is checked against the issuer's JWKS with joserfc (Authlib's JOSE library; the code
exchange is Authlib's OAuth2Session), then ``iss``, ``aud``, ``exp``, ``iat``, ``nonce``,
``azp`` and ``at_hash`` with Authlib's ``CodeIDToken``. Only asymmetric algorithms the
issuer announces are accepted: never ``none``, never an HMAC signed with the client secret.

Discovery (``<issuer>/.well-known/openid-configuration``) and the JWKS are cached for
``DISCOVERY_TTL`` seconds; an ID token whose ``kid`` is not in the cached JWKS makes one
fresh fetch (the IdP rotated its keys) before it is refused.

Who the person is (``person``):

- the ``email`` claim, lower-cased, unless ``email_verified`` is false;
- no ``email`` but an Entra ID token (it carries ``tid``, the tenant id): the
  ``preferred_username``, only when it is an email address in ``allowed_domains`` (which
  must then be set: Entra's user names are in the tenant's verified domains);
- otherwise refused.

Roles: ``admin`` when one of the groups (claim ``groups_claim``; Entra and Keycloak can send
ids or paths: list exactly what the token carries) is in ``admin_groups``, or the email is in
``admin_emails`` *and* the token says ``email_verified: true`` (an email the IdP does not
vouch for, or one taken from ``preferred_username``, never makes an admin); ``viewer`` when
a group is in ``viewer_groups``; else ``employee``. ``allowed_domains`` (empty = any) is
checked on the email's domain.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import re
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import requests

from .config import DEFAULTS, ConfigError, ServerConfig
from .untrusted import shown

log = logging.getLogger("checkup.server")

DISCOVERY_TTL = 3600          # seconds discovery and JWKS are kept
TIMEOUT = (5, 10)             # connect, read (seconds) for every call to the IdP
MAX_DOCUMENT = 1024 * 1024    # discovery, JWKS and token responses are small
LEEWAY = 60                   # seconds of clock difference allowed on exp / iat
# Asymmetric signatures only (an HS256 token could be signed with the client secret, and
# "none" is no signature at all).
SIGNING_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                "ES256", "ES384", "ES512", "EdDSA", "Ed25519")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$")
OIDC_KEYS = frozenset(DEFAULTS["auth.oidc"])
AUTH_KEYS = frozenset(DEFAULTS["auth"])
LIST_KEYS = ("scopes", "admin_groups", "viewer_groups", "admin_emails", "allowed_domains")


class SignInError(Exception):
    """A refused sign-in. ``reason`` goes to the log and the audit log; ``kind`` picks the
    words the person sees (server/templates/signin_error.html)."""

    def __init__(self, kind: str, reason: str, who: str = "?", code: str = ""):
        super().__init__(reason)
        self.kind = kind        # unavailable | attempt | token | idp | person | setup
        self.reason = reason
        self.who = who
        self.code = code        # person: no_email | unverified | domain


# -- settings -------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Settings:
    issuer: str
    client_id: str
    client_secret: str | None
    scopes: tuple[str, ...]
    display_name: str
    groups_claim: str
    admin_groups: frozenset[str]
    viewer_groups: frozenset[str]
    admin_emails: frozenset[str]
    allowed_domains: frozenset[str]
    public_url: str


def is_loopback_host(host: str | None) -> bool:
    """The agent's rule for a loopback host (127.0.0.0/8, ::1, ``localhost``)."""
    from agent.reporting import _is_loopback
    return bool(host) and _is_loopback(host)


def _url_ok(url: str) -> bool:
    """https, or http to loopback (tests and a local IdP)."""
    parts = urlsplit(url)
    if not parts.netloc:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname))


def load_settings(cfg: ServerConfig, environ: dict | None = None) -> Settings | None:
    """``[auth.oidc]`` checked; None while ``issuer`` is empty. ``ConfigError`` (one line)
    for a setting that cannot work: ``checkup-server run`` stops on it."""
    env = os.environ if environ is None else environ
    for section, known in (("auth", AUTH_KEYS), ("auth.oidc", OIDC_KEYS)):
        unknown = sorted(set(cfg.values.get(section, {})) - known)
        if unknown:
            raise ConfigError(f"[{section}] has unknown key{'s' if len(unknown) > 1 else ''} "
                              f"{', '.join(unknown)} (known: {', '.join(sorted(known))})")
    table = cfg.values.get("auth.oidc", {})

    def text(key: str) -> str:
        value = table.get(key, DEFAULTS["auth.oidc"][key])
        if not isinstance(value, str):
            raise ConfigError(f"[auth.oidc] {key} must be a string")
        return value.strip()

    def strings(key: str) -> tuple[str, ...]:
        value = table.get(key, DEFAULTS["auth.oidc"][key])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"[auth.oidc] {key} must be a list of strings")
        return tuple(v.strip() for v in value if v.strip())

    issuer = text("issuer").rstrip("/")
    if not issuer:
        return None
    if not _url_ok(issuer):
        raise ConfigError(f"[auth.oidc] issuer {issuer!r} must be an https:// URL "
                          "(http only for 127.0.0.1 or localhost)")
    client_id = text("client_id")
    if not client_id:
        raise ConfigError("[auth.oidc] issuer is set but client_id is empty: give the client "
                          "id the identity provider shows for Checkup")
    secret_env = text("client_secret_env")
    secret = None
    if secret_env:
        secret = env.get(secret_env) or None
        if secret is None:
            raise ConfigError(f"[auth.oidc] client_secret_env names {secret_env}, which is not set "
                              "(set it, or client_secret_env = \"\" for a public client)")
    scopes = strings("scopes")
    if "openid" not in scopes:
        raise ConfigError("[auth.oidc] scopes must include \"openid\"")
    public_url = str(cfg.get("server", "public_url") or "").strip().rstrip("/")
    if public_url:
        parts = urlsplit(public_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ConfigError(f"[server] public_url {public_url!r} must be like https://checkup.example.com")
    return Settings(
        issuer=issuer, client_id=client_id, client_secret=secret, scopes=scopes,
        display_name=text("display_name") or DEFAULTS["auth.oidc"]["display_name"],
        groups_claim=text("groups_claim") or "groups",
        admin_groups=frozenset(strings("admin_groups")),
        viewer_groups=frozenset(strings("viewer_groups")),
        admin_emails=frozenset(e.lower() for e in strings("admin_emails")),
        allowed_domains=frozenset(d.lower().lstrip("@") for d in strings("allowed_domains")),
        public_url=public_url)


# -- talking to the IdP -------------------------------------------------------------

def _get_json(http: requests.Session, url: str, what: str) -> dict:
    """A JSON object from the IdP, or ``SignInError("unavailable")`` saying why not."""
    try:
        with http.get(url, timeout=TIMEOUT, stream=True, allow_redirects=False,
                      headers={"Accept": "application/json"}) as resp:
            body = resp.raw.read(MAX_DOCUMENT + 1, decode_content=True)
            status = resp.status_code
    except requests.RequestException as exc:
        raise SignInError("unavailable", f"{what} {url} unreachable: {type(exc).__name__}: "
                                         f"{str(exc)[:200]}") from None
    if status != 200:
        raise SignInError("unavailable", f"{what} {url} answered HTTP {status}")
    if len(body) > MAX_DOCUMENT:
        raise SignInError("unavailable", f"{what} {url} is larger than {MAX_DOCUMENT} bytes")
    import json
    try:
        doc = json.loads(body)
    except ValueError:
        raise SignInError("unavailable", f"{what} {url} is not JSON") from None
    if not isinstance(doc, dict):
        raise SignInError("unavailable", f"{what} {url} is not a JSON object")
    return doc


class Provider:
    """The IdP's discovery document and JWKS, cached (thread-safe)."""

    def __init__(self, settings: Settings, http: requests.Session | None = None,
                 ttl: float = DISCOVERY_TTL):
        self.settings = settings
        self.http = http or requests.Session()
        self.ttl = ttl
        self._lock = threading.Lock()
        self._meta: dict | None = None
        self._meta_at = 0.0
        self._keys = None
        self._keys_at = 0.0

    def metadata(self) -> dict:
        with self._lock:
            if self._meta is not None and time.monotonic() - self._meta_at < self.ttl:
                return self._meta
        url = self.settings.issuer + "/.well-known/openid-configuration"
        doc = _get_json(self.http, url, "discovery")
        said = str(doc.get("issuer", ""))
        if said.rstrip("/") != self.settings.issuer:
            raise SignInError("unavailable", f"discovery at {url} names issuer {said[:200]!r}, "
                                             f"not the configured {self.settings.issuer!r}")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = doc.get(key)
            if not isinstance(value, str) or not _url_ok(value):
                raise SignInError("unavailable", f"discovery at {url}: {key} is missing or not "
                                                 "an https URL")
        methods = doc.get("code_challenge_methods_supported")
        if isinstance(methods, list) and "S256" not in methods:
            raise SignInError("unavailable", f"discovery at {url}: the IdP does not offer PKCE S256")
        with self._lock:
            if self._meta != doc:
                self._keys = None        # a changed document may point at other keys
            self._meta, self._meta_at = doc, time.monotonic()
        return doc

    def signing_algs(self) -> list[str]:
        said = self.metadata().get("id_token_signing_alg_values_supported") or ["RS256"]
        algs = [a for a in said if a in SIGNING_ALGS] if isinstance(said, list) else []
        if not algs:
            raise SignInError("unavailable", f"the IdP signs ID tokens only with {said!r}; "
                                             f"Checkup accepts {', '.join(SIGNING_ALGS)}")
        return algs

    def keys(self, refresh: bool = False):  # -> joserfc KeySet
        from joserfc.errors import JoseError
        from joserfc.jwk import KeySet
        with self._lock:
            if (not refresh and self._keys is not None
                    and time.monotonic() - self._keys_at < self.ttl):
                return self._keys
        url = self.metadata()["jwks_uri"]
        doc = _get_json(self.http, url, "JWKS")
        try:
            keys = KeySet.import_key_set({"keys": [k for k in doc.get("keys", [])
                                                   if isinstance(k, dict) and "d" not in k]})
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise SignInError("unavailable", f"JWKS {url} holds no usable key ({exc})") from None
        with self._lock:
            self._keys, self._keys_at = keys, time.monotonic()
        return keys


# -- the flow -------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Attempt:
    """What /auth/oidc/start keeps until the callback (server/oidc_store.py)."""
    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    next: str


@dataclasses.dataclass(frozen=True)
class Person:
    email: str
    role: str
    why: str             # how the role was decided (the audit row's detail)


class Oidc:
    """One configured identity provider."""

    def __init__(self, settings: Settings, http: requests.Session | None = None):
        self.settings = settings
        self.provider = Provider(settings, http)

    def _client(self, redirect_uri: str):  # noqa: ANN202 - Authlib's OAuth2Session
        from authlib.integrations.requests_client import OAuth2Session
        meta = self.provider.metadata()
        secret = self.settings.client_secret
        if secret is None:
            method = "none"
        else:
            offered = meta.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
            method = next((m for m in ("client_secret_basic", "client_secret_post") if m in offered),
                          None)
            if method is None:
                raise SignInError("setup", "the IdP's token endpoint takes neither "
                                           f"client_secret_basic nor client_secret_post ({offered!r})")
        client = OAuth2Session(self.settings.client_id, secret, token_endpoint_auth_method=method,
                               scope=" ".join(self.settings.scopes), redirect_uri=redirect_uri,
                               code_challenge_method="S256")
        client.trust_env = self.provider.http.trust_env
        return client

    def begin(self, redirect_uri: str, next_path: str, again: bool = False) -> tuple[str, Attempt]:
        """(the IdP's authorization URL to send the browser to, the attempt to keep).
        ``again``: the person was refused; ask the IdP to sign them in afresh
        (``prompt=login``), so they can pick another account."""
        attempt = Attempt(state=secrets.token_urlsafe(32), nonce=secrets.token_urlsafe(32),
                          code_verifier=secrets.token_urlsafe(64)[:96],
                          redirect_uri=redirect_uri, next=next_path)
        meta = self.provider.metadata()
        with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                meta["authorization_endpoint"], state=attempt.state, nonce=attempt.nonce,
                code_verifier=attempt.code_verifier, **({"prompt": "login"} if again else {}))
        return url, attempt

    def exchange(self, code: str, attempt: Attempt) -> dict:
        """The token response for ``code`` (``SignInError`` when the IdP refuses it)."""
        from authlib.integrations.base_client.errors import OAuthError
        meta = self.provider.metadata()
        with self._client(attempt.redirect_uri) as client:
            try:
                token = client.fetch_token(meta["token_endpoint"], grant_type="authorization_code",
                                           code=code, code_verifier=attempt.code_verifier,
                                           timeout=TIMEOUT, allow_redirects=False)
            except OAuthError as exc:
                raise SignInError("idp", "the token endpoint refused the code: "
                                         f"{shown(str(exc.error))[:100]}"
                                         + (f" ({str(exc.description)[:200]!r})"
                                            if exc.description else "")) from None
            except requests.HTTPError as exc:
                raise SignInError("unavailable", f"the token endpoint answered {exc}"[:300]) from None
            except requests.RequestException as exc:
                raise SignInError("unavailable", f"the token endpoint is unreachable: "
                                                 f"{type(exc).__name__}: {str(exc)[:200]}") from None
            except ValueError as exc:
                raise SignInError("idp", f"the token endpoint's answer is not a token: {exc}"[:300]) from None
        if not isinstance(token.get("id_token"), str):
            raise SignInError("idp", "the token endpoint sent no ID token (is \"openid\" in scopes?)")
        return token

    def validate(self, id_token: str, nonce: str, access_token: str | None = None) -> dict:
        """The ID token's claims once its signature (against the JWKS), ``iss``, ``aud``,
        ``exp``, ``iat``, ``nonce``, ``azp`` and ``at_hash`` are right."""
        from authlib.oidc.core import CodeIDToken
        from joserfc import jwt
        from joserfc.errors import (BadSignatureError, ClaimError, ExpiredTokenError,
                                    InvalidKeyIdError, JoseError, MissingClaimError,
                                    UnsupportedAlgorithmError)
        if len(id_token) > 64 * 1024:
            raise SignInError("token", "the ID token is larger than 64 KiB")
        algs = self.provider.signing_algs()
        try:
            try:
                token = jwt.decode(id_token, self.provider.keys(), algorithms=algs)
            except InvalidKeyIdError:
                log.info("OIDC: the ID token names a key not in the cached JWKS: fetching it again "
                         "(the identity provider rotated its keys)")
                token = jwt.decode(id_token, self.provider.keys(refresh=True), algorithms=algs)
        except InvalidKeyIdError as exc:
            raise SignInError("token", f"the ID token is signed with a key the IdP does not "
                                       f"publish ({exc.description or exc})") from None
        except UnsupportedAlgorithmError as exc:
            raise SignInError("token", f"the ID token's algorithm is refused ({exc.description or exc}); "
                                       f"accepted: {', '.join(algs)}") from None
        except BadSignatureError:
            raise SignInError("token", "the ID token's signature does not match the IdP's key") from None
        except (JoseError, ValueError, TypeError) as exc:
            raise SignInError("token", f"the ID token cannot be read ({type(exc).__name__}: "
                                       f"{str(exc)[:200]})") from None
        claims = token.claims if isinstance(token.claims, dict) else {}
        issuer = str(self.provider.metadata().get("issuer"))
        checked = CodeIDToken(claims, token.header, options={
            "iss": {"essential": True, "value": issuer},
            "aud": {"essential": True, "value": self.settings.client_id},
        }, params={"nonce": nonce, "client_id": self.settings.client_id,
                   "access_token": access_token})
        try:
            checked.validate(leeway=LEEWAY)
        except ExpiredTokenError:
            raise SignInError("token", "the ID token has expired (exp)") from None
        except MissingClaimError as exc:
            raise SignInError("token", f"the ID token has no {exc.claim} claim") from None
        except ClaimError as exc:
            claim = getattr(exc, "claim", "") or ""
            words = {"iss": f"the ID token's issuer (iss {str(claims.get('iss'))[:200]!r}) is not "
                            f"{issuer!r}",
                     "aud": f"the ID token is for another client (aud "
                            f"{str(claims.get('aud'))[:200]!r}, not {self.settings.client_id!r})",
                     "nonce": "the ID token's nonce is not the one this sign-in sent",
                     "azp": "the ID token's authorized party (azp) is another client",
                     "at_hash": "the ID token's at_hash does not match the access token"}
            raise SignInError("token", words.get(claim, f"the ID token's claims are wrong: "
                                                        f"{exc.description or exc}")) from None
        except (JoseError, ValueError, TypeError) as exc:
            raise SignInError("token", f"the ID token's claims are wrong: {str(exc)[:200]}") from None
        return dict(claims)

    def person(self, claims: dict) -> Person:
        """Who signed in and their role, or ``SignInError("person")`` (rules: module doc)."""
        s = self.settings
        verified = claims.get("email_verified")
        if isinstance(verified, str):    # some IdPs send "true" / "false"
            verified = {"true": True, "false": False}.get(verified.strip().lower(), "?")
        if verified not in (True, False, None):
            verified = False             # neither true nor false: not verified
        email = claims.get("email")
        from_username = False
        if not isinstance(email, str) or not email.strip():
            entra = isinstance(claims.get("tid"), str) and claims.get("tid")
            name = claims.get("preferred_username")
            if not (entra and isinstance(name, str) and EMAIL_RE.match(name.strip())):
                raise SignInError("person", "the ID token has no email claim (add the \"email\" "
                                            "scope, or the email optional claim in Entra ID)",
                                  who=str(claims.get("sub", "?"))[:200], code="no_email")
            if not s.allowed_domains:
                raise SignInError("person", "the Entra ID token has no email claim, and its "
                                            "preferred_username is used only when "
                                            "allowed_domains is set",
                                  who=name.strip().lower(), code="no_email")
            email, from_username = name, True
        email = email.strip().lower()
        if not EMAIL_RE.match(email):
            raise SignInError("person", f"the ID token's email {email[:200]!r} is not an email address",
                              who=email[:200], code="no_email")
        if verified is False:
            raise SignInError("person", "the identity provider has not verified this email "
                                        "(email_verified is false)", who=email, code="unverified")
        if from_username:
            verified = None              # a user name is never a verified email
        domain = email.rsplit("@", 1)[1]
        if s.allowed_domains and domain not in s.allowed_domains:
            raise SignInError("person", f"email domain {domain} is not in allowed_domains", who=email,
                              code="domain")
        groups = self.groups(claims)
        if groups & s.admin_groups:
            return Person(email, "admin", f"admin: group {sorted(groups & s.admin_groups)[0]}")
        if email in s.admin_emails:
            if verified is True:
                return Person(email, "admin", "admin: in admin_emails")
            log.warning("OIDC: %s is in admin_emails, but the token does not say the email is "
                        "verified (%s): signed in without the admin role", email,
                        "it came from preferred_username" if from_username
                        else "no email_verified: true")
        if groups & s.viewer_groups:
            return Person(email, "viewer", f"viewer: group {sorted(groups & s.viewer_groups)[0]}")
        return Person(email, "employee", "employee: in no IT group")

    def groups(self, claims: dict) -> frozenset[str]:
        value = claims.get(self.settings.groups_claim)
        if value is None:
            names = claims.get("_claim_names")
            if isinstance(names, dict) and self.settings.groups_claim in names:
                log.warning("OIDC: the ID token of %s has too many groups to carry them (Entra "
                            "'groups overage'); roles from groups are unknown for them: emit only "
                            "the groups assigned to the application",
                            str(claims.get("email") or claims.get("preferred_username"))[:200])
            return frozenset()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            log.warning("OIDC: claim %r is a %s, not a list of groups: ignored",
                        self.settings.groups_claim, type(value).__name__)
            return frozenset()
        return frozenset(str(v) for v in value if isinstance(v, (str, int)))

    def sign_in(self, code: str, attempt: Attempt) -> Person:
        """Code -> tokens -> a checked ID token -> the person (every refusal a SignInError)."""
        token = self.exchange(code, attempt)
        claims = self.validate(token["id_token"], attempt.nonce, token.get("access_token"))
        return self.person(claims)


# -- one per process ---------------------------------------------------------------

_LOCK = threading.Lock()


def service(state: Any) -> Oidc | None:
    """The configured provider of this server (``state``: app.State), or None when OIDC is
    off. A setting that cannot work raises ``ConfigError`` (``run`` checks it at start)."""
    with _LOCK:
        cached = getattr(state, "_oidc", None)
        if cached is None:
            settings = load_settings(state.cfg)
            cached = (Oidc(settings) if settings else False,)
            state._oidc = cached
    return cached[0] or None


def enabled(state: Any) -> bool:
    try:
        return service(state) is not None
    except ConfigError:
        return True     # on, but broken: the button leads to a page that says so


def login_options(request) -> dict:  # noqa: ANN001 - the login page's choices
    state = request.app.state.checkup
    name = None
    try:
        svc = service(state)
        name = svc.settings.display_name if svc else None
    except ConfigError:
        name = str(state.cfg.get("auth.oidc", "display_name") or "your company account")
    return {"oidc_name": name,
            "local_login": state.cfg.get("auth", "local_login", True) is not False}
