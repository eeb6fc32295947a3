"""Server configuration: TOML file < environment.

Every value can come from the environment as ``CHECKUP_SERVER_<SECTION>_<KEY>``
(``CHECKUP_SERVER_SERVER_DATABASE_URL``); ``DATABASE_URL`` is honoured too.
Secrets are never written in the file: the file names the environment variable
that holds them (``*_env`` keys).
"""
from __future__ import annotations

import copy
import os
import sys
from dataclasses import dataclass, field
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

APP_NAME = "Checkup"

DEFAULTS: dict[str, dict[str, Any]] = {
    "server": {
        "database_url": "",            # empty = SQLite in the user data directory
        "silent_after_days": 7,
        "host": "127.0.0.1",
        "port": 8465,
        "max_report_bytes": 256 * 1024,
        "reports_per_minute": 30,      # per device, sustained
        "report_burst": 120,           # per device, a queue flushed after an outage
        "enrolls_per_minute": 600,     # per client address (an office behind one NAT enrolls at once)
        "keep_reports_days": 31,       # full report bodies (and resend detection)
        "keep_history_days": 400,      # one status row per device per day
        "stale_after_days": 7,         # device list: "not seen for"
        "secret_key_env": "CHECKUP_SERVER_SECRET_KEY",  # the server's signing key; else kept in the database
        "secure_cookies": "auto",      # auto = Secure when the request came over https
        "body_timeout_seconds": 30,    # a request body must arrive within this (else 408)
        "body_idle_seconds": 10,       # ... with no gap longer than this
        "batch_max": 256,              # reports written per transaction at most
        "mdm_sync_minutes": 360,       # pull the configured MDM inventories this often; 0 = only by hand
        "public_url": "",              # what browsers and the IdP reach (behind any proxy); empty = the request's URL
    },
    "webhooks": {                      # outgoing alerts (server/webhooks.py)
        "timeout_seconds": 10,         # one delivery attempt waits this long at most
        "max_attempts": 8,             # then the event is marked failed
        "backoff_seconds": 30,         # the wait after the first failure, doubling ...
        "backoff_cap_seconds": 3600,   # ... up to this
        "poll_seconds": 2,             # how often the worker looks for due events
        "keep_log_days": 30,           # the delivery log
    },
    "digest": {                        # one email per person per working day (server/digest.py)
        "enabled": False,              # opt-in by IT
        "smtp_host": "",
        "smtp_port": 587,
        "starttls": True,              # STARTTLS before logging in (port 587); false only on loopback
        "smtp_user": "",
        "password_file": "",           # a file holding the SMTP password (never in this file)
        "from": "",                    # e.g. "Checkup <it@example.com>"
        "working_days": [1, 2, 3, 4, 5],   # ISO weekdays (1 = Monday)
        "send_hour": 9,                # local hour (in timezone) from which the day's digest goes
        "timezone": "UTC",
        "subject": "Your devices: a few things to do",
    },
    "auth": {
        "local_login": True,           # IT's local accounts (checkup-server admin create); false = SSO only
        "session_hours": 12,           # server-side sessions: logout and revocation end them at once
    },
    "evidence": {
        "controls_file": "",           # IT's controls table (as server/controls.toml); empty = the shipped one
    },
    "people": {
        "ivanti_email_domain": "",     # Ivanti login names (CORP\alice, alice) -> alice@<this domain>
    },
    "auth.oidc": {                     # OpenID Connect sign-in (server/oidc.py); off while issuer is empty
        "issuer": "",                  # discovery at <issuer>/.well-known/openid-configuration
        "client_id": "",
        "client_secret_env": "CHECKUP_OIDC_CLIENT_SECRET",  # "" = a public client (PKCE only)
        "scopes": ["openid", "email", "profile"],
        "display_name": "your company account",  # "Sign in with your company account"
        "groups_claim": "groups",
        "admin_groups": [],            # members are IT admins
        "viewer_groups": [],           # members are read-only IT
        "admin_emails": [],            # or named one by one (needs email_verified = true)
        "allowed_domains": [],         # email domains that may sign in; empty = any the IdP vouches for
    },
    "mdm.jamf": {"url": "https://example.jamfcloud.com", "client_id": "",
                 "client_secret_env": "JAMF_CLIENT_SECRET"},
    "mdm.intune": {"tenant_id": "", "client_id": "", "client_secret_env": "INTUNE_CLIENT_SECRET",
                   "login_url": "https://login.microsoftonline.com",
                   "graph_url": "https://graph.microsoft.com"},
    "mdm.google": {"service_account_file": "", "admin_email": "", "customer_id": "my_customer",
                   "directory_url": "https://admin.googleapis.com"},
    "mdm.ivanti": {"url": "", "username": "", "password_env": "IVANTI_PASSWORD",
                   "query": "Checkup inventory"},
}


class ConfigError(ValueError):
    pass


def user_data_dir() -> str:
    from platformdirs import user_data_dir as _data
    return _data("CheckupServer", appauthor=False)


@dataclass
class ServerConfig:
    values: dict[str, dict[str, Any]] = field(default_factory=lambda: copy.deepcopy(DEFAULTS))
    path: str | None = None

    def get(self, section: str, key: str, default: Any = None) -> Any:
        return self.values.get(section, {}).get(key, default)

    def set(self, section: str, key: str, value: Any) -> None:
        self.values.setdefault(section, {})[key] = value

    @property
    def database_url(self) -> str:
        url = self.get("server", "database_url") or ""
        if not url:
            data = user_data_dir()
            os.makedirs(data, exist_ok=True)
            url = "sqlite:///" + os.path.join(data, "checkup-server.sqlite3")
        return normalise_db_url(url)


def normalise_db_url(url: str) -> str:
    """postgres:// and postgresql:// (as Heroku-style DATABASE_URLs are) -> psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _flatten(data: dict, prefix: str = "") -> dict[str, dict]:
    """{"mdm": {"jamf": {...}}, "server": {...}} -> {"mdm.jamf": {...}, "server": {...}}."""
    out: dict[str, dict] = {}
    for name, table in data.items():
        if not isinstance(table, dict):
            raise ConfigError(f"[{prefix}{name}] must be a table")
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
        subs = {k: v for k, v in table.items() if isinstance(v, dict)}
        if scalars or not subs:
            out[prefix + name] = scalars
        out.update(_flatten(subs, prefix + name + "."))
    return out


def _coerce(default: Any, text: str, where: str) -> Any:
    if isinstance(default, list):      # a list from the environment: "a, b c" -> ["a", "b", "c"]
        return [part for part in text.replace(",", " ").split() if part]
    if isinstance(default, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{where} must be true or false")
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{where} must be a whole number") from None
    return text


def load_config(path: str | None = None, environ: dict | None = None) -> ServerConfig:
    env = os.environ if environ is None else environ
    cfg = ServerConfig(path=path)
    if path:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such file") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
        for section, table in _flatten(data).items():
            for key, value in table.items():
                default = DEFAULTS.get(section, {}).get(key)
                if default is not None and type(default) is not type(value) and not (
                        isinstance(default, str) and default == "auto" and isinstance(value, bool)):
                    raise ConfigError(f"{path}: {section}.{key} must be {type(default).__name__}")
                cfg.set(section, key, value)
    if env.get("DATABASE_URL"):
        cfg.set("server", "database_url", env["DATABASE_URL"])
    for section, table in DEFAULTS.items():
        for key, default in table.items():
            name = "CHECKUP_SERVER_" + section.replace(".", "_").upper() + "_" + key.upper()
            if name in env:
                cfg.set(section, key, _coerce(default, env[name], name))
    return cfg
