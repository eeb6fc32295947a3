"""HTTP plumbing shared by the connectors.

- :class:`Http` wraps a ``requests.Session``: every call has a timeout;
  ``429``/``503`` wait ``Retry-After`` (seconds or an HTTP date, capped);
  other ``5xx`` and connection errors back off exponentially; a ``401`` renews
  the bearer token once and retries. Secrets never reach a log line or an
  exception message (URLs are logged without their query string).
- :class:`BearerToken` caches an access token and renews it *before* it
  expires (a minute early, or a tenth of its lifetime for short tokens).
- :func:`check_url` refuses plain ``http://`` except to loopback.

Connectors stream: each page is fetched, mapped and yielded before the next is
requested, so a sync holds one page in memory, never the whole inventory.
"""
from __future__ import annotations

import email.utils
import ipaddress
import logging
import random
import time
from typing import Any, Callable
from urllib.parse import urlsplit

import requests

log = logging.getLogger("checkup.server.mdm")

DEFAULT_TIMEOUT = (10, 120)   # connect, read seconds
MAX_RETRY_AFTER = 300         # never sleep longer than this for one Retry-After


class MdmError(Exception):
    """A connector could not finish; the message is safe to show and to log."""


class MdmConfigError(MdmError):
    """The source is not configured well enough to try."""


def check_url(url: str, what: str = "url") -> str:
    """A base URL without a trailing slash; https, or http only to loopback."""
    url = (url or "").strip().rstrip("/")
    if not url:
        raise MdmConfigError(f"{what} is empty")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise MdmConfigError(f"{what} must be an https:// URL (got {url!r})")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise MdmConfigError(f"{what} must use https:// (plain http is only allowed to this machine)")
    return url


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def safe_url(url: str) -> str:
    """The URL as it may be logged: no query string (page tokens, filters), no credentials."""
    p = urlsplit(url)
    host = p.hostname or ""
    if p.port:
        host += f":{p.port}"
    return f"{p.scheme}://{host}{p.path}"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class BearerToken:
    """An OAuth access token renewed before it expires.

    ``fetch()`` returns ``(access_token, expires_in_seconds)``.
    """

    def __init__(self, fetch: Callable[[], tuple[str, float]], clock: Callable[[], float] = time.monotonic,
                 early: float = 60.0):
        self._fetch = fetch
        self._clock = clock
        self._early = early
        self._token: str | None = None
        self._renew_at = 0.0
        self.fetches = 0

    def get(self) -> str:
        if self._token is None or self._clock() >= self._renew_at:
            token, expires_in = self._fetch()
            self.fetches += 1
            expires_in = max(1.0, float(expires_in or 300))
            margin = min(self._early, expires_in / 10.0)
            self._token = token
            self._renew_at = self._clock() + expires_in - margin
        return self._token

    def invalidate(self) -> None:
        self._token = None


class Http:
    def __init__(self, session: requests.Session | None = None, *, timeout=DEFAULT_TIMEOUT,
                 retries: int = 5, backoff: float = 1.0, max_retry_after: float = MAX_RETRY_AFTER,
                 sleep: Callable[[float], None] = time.sleep, source: str = "mdm",
                 user_agent: str = "Checkup-Server (MDM sync)"):
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", user_agent)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.sleep = sleep
        self.source = source
        self.waited = 0.0          # seconds slept on Retry-After / backoff (for the sync summary)
        self.requests = 0

    def request(self, method: str, url: str, *, token: BearerToken | None = None,
                expect_json: bool = True, **kwargs: Any) -> requests.Response:
        """One logical call: retried on 429/503 (Retry-After), 5xx and network errors."""
        kwargs.setdefault("timeout", self.timeout)
        renewed = False
        attempt = 0
        while True:
            headers = dict(kwargs.pop("headers", None) or {})
            if token is not None:
                headers["Authorization"] = f"Bearer {token.get()}"
            if expect_json:
                headers.setdefault("Accept", "application/json")
            kwargs["headers"] = headers
            self.requests += 1
            try:
                resp = self.session.request(method, url, **kwargs)
            except requests.RequestException as exc:
                attempt += 1
                if attempt > self.retries:
                    raise MdmError(f"{self.source}: cannot reach {safe_url(url)} ({type(exc).__name__})") from None
                self._wait(self._backoff(attempt), f"network error ({type(exc).__name__})", url)
                continue
            status = resp.status_code
            if status == 401 and token is not None and not renewed:
                token.invalidate()
                renewed = True
                log.info("%s: %s answered 401; renewing the access token", self.source, safe_url(url))
                continue
            if status in (429, 503):
                attempt += 1
                if attempt > self.retries:
                    raise MdmError(f"{self.source}: {safe_url(url)} kept answering {status} "
                                   f"(throttled) after {self.retries} retries")
                delay = parse_retry_after(resp.headers.get("Retry-After"))
                if delay is None:
                    delay = self._backoff(attempt)
                self._wait(min(delay, self.max_retry_after), f"HTTP {status}", url)
                continue
            if status >= 500:
                attempt += 1
                if attempt > self.retries:
                    raise MdmError(f"{self.source}: {safe_url(url)} answered HTTP {status} "
                                   f"{self.retries + 1} times")
                self._wait(self._backoff(attempt), f"HTTP {status}", url)
                continue
            if status in (401, 403):
                raise MdmError(f"{self.source}: {safe_url(url)} refused the credentials (HTTP {status}); "
                               "check the client id, the secret and the permissions granted")
            if status >= 400:
                raise MdmError(f"{self.source}: {safe_url(url)} answered HTTP {status}{_error_hint(resp)}")
            return resp

    def get_json(self, url: str, **kwargs: Any) -> Any:
        resp = self.request("GET", url, **kwargs)
        return self._json(resp, url)

    def post_json(self, url: str, **kwargs: Any) -> Any:
        resp = self.request("POST", url, **kwargs)
        return self._json(resp, url)

    def _json(self, resp: requests.Response, url: str) -> Any:
        try:
            return resp.json()
        except ValueError:
            raise MdmError(f"{self.source}: {safe_url(url)} did not answer JSON") from None

    def _backoff(self, attempt: int) -> float:
        return self.backoff * (2 ** (attempt - 1)) * (0.75 + random.random() / 2)

    def _wait(self, seconds: float, why: str, url: str) -> None:
        log.warning("%s: %s from %s; waiting %.1f s", self.source, why, safe_url(url), seconds)
        self.waited += seconds
        if seconds > 0:
            self.sleep(seconds)


def _error_hint(resp: requests.Response) -> str:
    """A short, secret-free hint from a vendor error body (its error code/message only)."""
    try:
        body = resp.json()
    except ValueError:
        return ""
    msg = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            msg = err.get("message") or err.get("code")
        elif isinstance(err, str):
            msg = body.get("error_description") or err
        elif isinstance(body.get("errors"), list) and body["errors"]:
            first = body["errors"][0]
            msg = first.get("description") or first.get("code") if isinstance(first, dict) else None
    if not msg:
        return ""
    return f" ({str(msg)[:200]})"
