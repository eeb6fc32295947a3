"""Reporting to IT's Checkup server (protocol v1), off until ``[server] url`` is set.

- Every report gets a ``report_id`` (UUID) when it is made and goes into a
  durable queue (SQLite in the user state directory) before anything is sent:
  at-least-once delivery; the server stores each report_id once.
- The queue holds at most 500 reports and 30 days; the oldest go first, logged.
- Sending: oldest first. 202 -> done; 401 -> enroll again, presenting the old
  secret (the server rotates it when it is still this device's); 409 with reason
  ``identity_changed`` or ``identity_taken`` (the secret is enrolled as another
  machine) -> enroll again once, as this computer, and resend; 429/503 -> wait
  ``Retry-After``; other 4xx -> set that report aside and log why; 5xx or no
  network -> keep it and back off exponentially with jitter.
- A report is *set aside* (kept, but no longer sent first) when the server
  refuses it (4xx), or when it got a 5xx ``SET_ASIDE_AFTER`` times and the
  report behind it then went through (so one bad report cannot block the
  queue, while an outage sets nothing aside). Set-aside reports are tried again
  after the others, at most once a day (every ``checkup report --now``), until
  the queue's 30 days drop them.
- Enrolling a computer the server already knows, without its secret (a
  reinstall), waits for IT: the server answers 202 with a request secret, kept
  owner-only; the agent asks again with it when the server says (Retry-After)
  until IT approves (201: the device's new secret) or refuses (403). Reports
  stay queued meanwhile.
- The device secret is stored owner-only. Certificates are verified against this
  computer's trust store plus IT's ``[server] ca_file`` (``agent/tls.py``; certifi
  when the store can't be used); plain ``http://`` is refused except to loopback.
- ``Reporter.submit`` never blocks: a background thread does the disk and the
  network. ``report_now`` is ``checkup report --now``.
- The server's policy is pulled with its ETag and cached for offline use;
  ``cached_server_policy`` hands it to the policy loader.
"""
from __future__ import annotations

import email.utils
import ipaddress
import json
import logging
import os
import random
import re
import sqlite3
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

log = logging.getLogger("checkup.reporting")

QUEUE_MAX_REPORTS = 500
QUEUE_MAX_AGE = 30 * 86400
BACKOFF_BASE = 30.0          # seconds after the first failure
BACKOFF_MAX = 3600.0         # never wait longer than an hour between tries
RETRY_AFTER_MAX = 24 * 3600
SET_ASIDE_AFTER = 3          # 5xx answers to one report before it may be set aside
SET_ASIDE_RETRY = 24 * 3600  # a set-aside report is tried again once a day
POLICY_PULL_EVERY = 3600.0
TIMEOUT = (10.0, 30.0)       # connect, read
QUEUE_FILE = "report-queue.sqlite3"
CREDS_FILE = "server-device.json"
REQUEST_FILE = "server-enroll-request.json"   # an enrollment waiting for IT
POLICY_FILE = "server-policy.toml"
POLICY_META = "server-policy.json"


class ReportingError(Exception):
    """A setting that makes reporting impossible; the message is for the person."""


# -- settings ----------------------------------------------------------------

def server_url(settings) -> str:  # noqa: ANN001
    return str(settings.get("server", "url") or "").strip().rstrip("/")


def enabled(settings) -> bool:  # noqa: ANN001
    return bool(server_url(settings))


def check_url(url: str) -> str:
    """The base URL if it may be used: https, or http only to a loopback address."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise ReportingError(f"[server] url {url!r} is not an https:// address")
    if parts.username or parts.password:
        raise ReportingError("[server] url must not carry a user name or password")
    if parts.scheme == "http" and not _is_loopback(host):
        raise ReportingError(f"[server] url {url!r} uses plain http; only https is allowed "
                             "(http only to this machine, for tests)")
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and the name ``localhost`` itself. Not ``*.localhost``: whether such
    a name stays on this machine is up to the resolver (DNS may answer anything for it)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _state_dir(state_dir: str | None) -> str:
    if state_dir:
        path = state_dir
    else:
        from .config import user_state_dir
        path = user_state_dir()
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


# -- files ------------------------------------------------------------------

def _write_private(path: str, data: bytes) -> None:
    """Atomically write ``data`` readable by the owner only."""
    from .state import atomic_write_bytes
    atomic_write_bytes(path, data, mode=0o600)


@dataclass
class Credentials:
    url: str
    device_id: str
    device_secret: str


def load_credentials(state_dir: str, url: str) -> Credentials | None:
    path = os.path.join(state_dir, CREDS_FILE)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    if os.name == "posix":
        try:
            if os.stat(path).st_mode & 0o077:
                os.chmod(path, 0o600)  # someone widened it: narrow it again
        except OSError:
            pass
    if not isinstance(data, dict) or data.get("url") != url:
        return None  # enrolled with another server: enroll here
    if not data.get("device_id") or not data.get("device_secret"):
        return None
    return Credentials(url, str(data["device_id"]), str(data["device_secret"]))


def save_credentials(state_dir: str, creds: Credentials) -> None:
    _write_private(os.path.join(state_dir, CREDS_FILE), json.dumps(
        {"url": creds.url, "device_id": creds.device_id, "device_secret": creds.device_secret},
        indent=1).encode("utf-8"))


def forget_credentials(state_dir: str) -> None:
    try:
        os.unlink(os.path.join(state_dir, CREDS_FILE))
    except FileNotFoundError:
        pass


def load_request_secret(state_dir: str, url: str) -> str | None:
    """The secret of this computer's enrollment waiting for IT at ``url``, or None."""
    data = _read_json(os.path.join(state_dir, REQUEST_FILE))
    if not data or data.get("url") != url or not isinstance(data.get("request_secret"), str):
        return None
    return data["request_secret"]


def _forget_request(state_dir: str) -> None:
    try:
        os.unlink(os.path.join(state_dir, REQUEST_FILE))
    except FileNotFoundError:
        pass


# -- the queue --------------------------------------------------------------

def _while_locked(step: Callable[[], object], seconds: float = 10.0) -> object:
    """Run ``step``, again while SQLite says the database is locked, for up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return step()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class ReportQueue:
    """Durable FIFO of reports waiting to be sent (SQLite, WAL)."""

    def __init__(self, path: str, max_reports: int = QUEUE_MAX_REPORTS,
                 max_age: float = QUEUE_MAX_AGE, clock: Callable[[], float] = time.time):
        self.path = path
        self.max_reports = max_reports
        self.max_age = max_age
        self.clock = clock
        self._lock = threading.Lock()
        new = not os.path.exists(path)
        self._db = sqlite3.connect(path, timeout=15, check_same_thread=False,
                                   isolation_level=None)
        if new and os.name == "posix":
            os.chmod(path, 0o600)
        # Switching to WAL takes an exclusive lock, and SQLite answers "database is locked"
        # at once, without waiting, when another process (the tray, `checkup report --now`)
        # opens the new file at the same moment: ask first, and retry that for a while.
        _while_locked(lambda: self._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
                      or self._db.execute("PRAGMA journal_mode=WAL").fetchone())
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS reports (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                         " report_id TEXT UNIQUE NOT NULL, created_at REAL NOT NULL,"
                         " body TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
                         " last_error TEXT)")
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        self._migrate()

    def _migrate(self) -> None:
        """Queue files of older agents: add the set-aside columns (set_aside_at NULL = in
        line; server_errors counts the 5xx answers to the report)."""
        have = {row[1] for row in self._db.execute("PRAGMA table_info(reports)")}
        for column in ("set_aside_at REAL", "retry_at REAL",
                       "server_errors INTEGER NOT NULL DEFAULT 0"):
            if column.split()[0] not in have:
                try:
                    self._db.execute(f"ALTER TABLE reports ADD COLUMN {column}")
                except sqlite3.OperationalError as exc:   # the tray and the CLI opened it at once
                    if "duplicate column" not in str(exc):
                        raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, report: dict) -> str:
        """Queue a report (a report_id is added if it has none). Returns the report_id."""
        report = dict(report)
        report.setdefault("report_id", str(uuid.uuid4()))
        body = json.dumps(report, separators=(",", ":"), ensure_ascii=False)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("INSERT OR IGNORE INTO reports (report_id, created_at, body)"
                                 " VALUES (?, ?, ?)", (report["report_id"], self.clock(), body))
                self._enforce_bounds()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return report["report_id"]

    def _enforce_bounds(self) -> None:
        cutoff = self.clock() - self.max_age
        old = self._db.execute("DELETE FROM reports WHERE created_at < ?", (cutoff,)).rowcount
        if old:
            log.warning("dropped %d queued report(s) older than %d days (never delivered)",
                        old, self.max_age // 86400)
        n = self._db.execute("SELECT COUNT(*) FROM reports").fetchone()[0]
        if n > self.max_reports:
            extra = n - self.max_reports
            self._db.execute("DELETE FROM reports WHERE seq IN"
                             " (SELECT seq FROM reports ORDER BY seq LIMIT ?)", (extra,))
            log.warning("report queue full (%d): dropped the %d oldest report(s)",
                        self.max_reports, extra)

    def prune(self) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._enforce_bounds()
            self._db.execute("COMMIT")

    def pending(self, limit: int = QUEUE_MAX_REPORTS) -> list[tuple[str, str]]:
        """The reports in line (not set aside), oldest first."""
        with self._lock:
            return self._db.execute("SELECT report_id, body FROM reports WHERE set_aside_at IS NULL"
                                    " ORDER BY seq LIMIT ?", (limit,)).fetchall()

    def aside(self, due_only: bool = False) -> list[tuple[str, str, str]]:
        """(report_id, body, last error) of the reports set aside (only those due for
        another try with ``due_only``), oldest first."""
        q = "SELECT report_id, body, COALESCE(last_error, '') FROM reports WHERE set_aside_at IS NOT NULL"
        args: tuple = ()
        if due_only:
            q += " AND (retry_at IS NULL OR retry_at <= ?)"
            args = (self.clock(),)
        with self._lock:
            return self._db.execute(q + " ORDER BY seq", args).fetchall()

    def set_aside(self, report_id: str, why: str) -> None:
        """Stop sending this report first; try it again in ``SET_ASIDE_RETRY``."""
        now = self.clock()
        with self._lock:
            self._db.execute("UPDATE reports SET set_aside_at = COALESCE(set_aside_at, ?),"
                             " retry_at = ?, last_error = ? WHERE report_id = ?",
                             (now, now + SET_ASIDE_RETRY, why[:500], report_id))

    def next_aside_retry(self) -> float | None:
        with self._lock:
            return self._db.execute("SELECT MIN(retry_at) FROM reports"
                                    " WHERE set_aside_at IS NOT NULL").fetchone()[0]

    def oldest(self) -> dict | None:
        rows = self.pending(1)
        return json.loads(rows[0][1]) if rows else None

    def remove(self, report_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM reports WHERE report_id = ?", (report_id,))

    def note_failure(self, report_id: str, error: str, server_error: bool = False) -> int:
        """Count a failed try (``server_error``: a 5xx). Returns the report's 5xx count."""
        with self._lock:
            self._db.execute("UPDATE reports SET attempts = attempts + 1, last_error = ?,"
                             " server_errors = server_errors + ? WHERE report_id = ?",
                             (error[:500], int(server_error), report_id))
            row = self._db.execute("SELECT server_errors FROM reports WHERE report_id = ?",
                                   (report_id,)).fetchone()
        return row[0] if row else 0

    def count(self) -> int:
        """Every report in the queue, in line or set aside."""
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM reports").fetchone()[0]

    def count_in_line(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM reports WHERE set_aside_at IS NULL"
                                    ).fetchone()[0]

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str | None) -> None:
        with self._lock:
            if value is None:
                self._db.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


# -- HTTP ---------------------------------------------------------------------

def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), clamped."""
    if not value:
        return None
    value = value.strip()
    try:
        secs = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        secs = when.timestamp() - now
    return max(1.0, min(float(RETRY_AFTER_MAX), secs))


def backoff_delay(failures: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: a random wait in [d/2, d], d = 30 s * 2^(n-1) <= 1 h."""
    d = min(BACKOFF_MAX, BACKOFF_BASE * (2 ** max(0, failures - 1)))
    return (rng or random).uniform(d / 2, d)


@dataclass
class FlushResult:
    sent: int = 0
    remaining: int = 0              # reports still in line
    set_aside: list = field(default_factory=list)  # (report_id, why) set aside by this flush
    aside: int = 0                  # reports set aside in the queue after this flush
    error: str | None = None        # why sending stopped early
    refused: bool = False           # the server refused us (enrollment); not a network problem
    waiting: bool = False           # this computer waits for IT to approve it
    retry_at: float | None = None   # when the next try is due
    skipped: bool = False           # not due yet (backoff) and not forced
    policy: str | None = None       # what happened to the server policy
    exemptions: str | None = None   # what happened to this device's exemptions
    setup: bool = False             # a setting stops sending (an unusable [server] ca_file)


def _agent_version() -> str:
    try:
        from . import __version__
        return str(__version__)
    except Exception:  # noqa: BLE001
        return "0"


class Sender:
    """One reporting session's logic: queue + credentials + HTTP. Thread-safe by a lock."""

    def __init__(self, settings, state_dir: str | None = None, session=None,  # noqa: ANN001
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None):
        self.settings = settings
        self.url = check_url(server_url(settings)) if enabled(settings) else ""
        self.enroll_token = str(settings.get("server", "enroll_token") or "").strip()
        self.state_dir = _state_dir(state_dir)
        self.clock = clock
        self.rng = rng or random.Random()
        self.queue = ReportQueue(os.path.join(self.state_dir, QUEUE_FILE), clock=clock)
        self._session = session
        self._lock = threading.Lock()

    @property
    def session(self):  # noqa: ANN201
        """The HTTP session, made on first use. Raises TrustError (``[server] ca_file``
        unusable); the next use tries again."""
        if self._session is None:
            from .tls import new_session
            s = new_session(self.settings, f"checkup-agent/{_agent_version()}")
            s.headers["Accept"] = "application/json"
            self._session = s
        return self._session

    def close(self) -> None:
        self.queue.close()
        if self._session is not None:
            self._session.close()

    # backoff state lives in the queue database, so a restart keeps it
    def next_attempt_at(self) -> float:
        return float(self.queue.get_meta("next_attempt_at", "0") or 0)

    def seconds_until_due(self) -> float:
        """How long the background reporter sleeps: until the backoff ends when reports are
        in line, else until a set-aside report's daily try; at most POLICY_PULL_EVERY."""
        now = self.clock()
        if self.queue.count_in_line():
            due = self.next_attempt_at()
        else:
            due = self.queue.next_aside_retry()
            if due is None:
                return POLICY_PULL_EVERY
        return min(POLICY_PULL_EVERY, max(1.0, due - now))

    def _fail(self, why: str, retry_after: float | None = None) -> float:
        failures = int(self.queue.get_meta("failures", "0") or 0) + 1
        wait = retry_after if retry_after is not None else backoff_delay(failures, self.rng)
        at = self.clock() + wait
        self.queue.set_meta("failures", str(failures))
        self.queue.set_meta("next_attempt_at", repr(at))
        self.queue.set_meta("last_error", why)
        log.info("reporting paused %.0f s: %s", wait, why)
        return at

    def _ok(self) -> None:
        if self.queue.get_meta("failures"):
            self.queue.set_meta("failures", None)
            self.queue.set_meta("next_attempt_at", None)
            self.queue.set_meta("last_error", None)

    def _post(self, path: str, body: bytes, secret: str | None = None):  # noqa: ANN202
        headers = {"Content-Type": "application/json"}
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        return self.session.post(self.url + path, data=body, headers=headers,
                                 timeout=TIMEOUT, allow_redirects=False)

    def enroll(self, device: dict, old_secret: str | None = None) -> Credentials:
        """Enroll with the token from config, presenting this computer's waiting request's
        secret, else ``old_secret`` (a device secret the server just refused: it rotates it
        when it is still this device's). Raises ReportingError (refused), _Waiting (IT has
        not approved this computer yet), _Temporary, or requests exceptions (network)."""
        if not self.enroll_token:
            raise ReportingError("no [server] enroll_token is configured; ask IT for one")
        body = json.dumps({"enroll_token": self.enroll_token, "device": device}).encode("utf-8")
        request_secret = load_request_secret(self.state_dir, self.url)
        resp = self._post("/api/v1/enroll", body, request_secret or old_secret)
        code = resp.status_code
        retry = parse_retry_after(resp.headers.get("Retry-After"), self.clock())
        if code == 201:
            data = resp.json()
            creds = Credentials(self.url, str(data["device_id"]), str(data["device_secret"]))
            save_credentials(self.state_dir, creds)
            _forget_request(self.state_dir)
            log.info("enrolled with %s as device %s", self.url, creds.device_id)
            return creds
        if code in (202, 403):
            forget_credentials(self.state_dir)   # the server did not take them: no use now
        if code == 202:
            data = resp.json()
            if isinstance(data.get("request_secret"), str):
                _write_private(os.path.join(self.state_dir, REQUEST_FILE), json.dumps(
                    {"url": self.url, "request_id": str(data.get("request_id", "")),
                     "request_secret": data["request_secret"]}).encode("utf-8"))
            elif not request_secret:
                raise _Temporary("enrollment: the server answered 202 without a request", retry)
            log.warning("this computer waits for IT to approve it on %s (request %s)", self.url,
                        data.get("request_id"))
            raise _Waiting("waiting for IT to approve this computer", retry)
        if code == 403 and _reason(resp) in ("device_revoked", "enrollment_rejected"):
            if _reason(resp) == "enrollment_rejected":
                _forget_request(self.state_dir)   # a later try asks IT again
            raise _Refused(_detail(resp), retry)
        if code in (429, 503) or code >= 500:
            raise _Temporary(f"enrollment: the server answered {code}", retry)
        raise ReportingError(f"the server refused enrollment ({code}: "
                             f"{_detail(resp)}); check [server] enroll_token")

    def flush(self, force: bool = False) -> FlushResult:
        with self._lock:
            return self._flush(force)

    def _flush(self, force: bool) -> FlushResult:  # noqa: C901
        res = FlushResult()
        self.queue.prune()
        now = self.clock()
        if not self.url:
            res.remaining = self.queue.count_in_line()
            res.aside = self.queue.count() - res.remaining
            res.error = "reporting is off (no [server] url)"
            return res
        if not force and now < self.next_attempt_at():
            res.skipped, res.retry_at = True, self.next_attempt_at()
            res.remaining = self.queue.count_in_line()
            res.aside = self.queue.count() - res.remaining
            return res
        from .tls import TrustError
        try:
            self.session   # noqa: B018 - made here so an unusable ca_file is said, not raised
        except TrustError as exc:
            log.warning("reports are not sent: %s", exc)
            res.error, res.setup = str(exc), True
            res.retry_at = self._fail(str(exc))
            res.remaining = self.queue.count_in_line()
            res.aside = self.queue.count() - res.remaining
            return res
        import requests
        creds = load_credentials(self.state_dir, self.url)
        re_enrolled = False

        def send(body: str):  # noqa: ANN202 - one report, enrolling (again) when needed
            nonlocal creds, re_enrolled
            while True:
                if creds is None:
                    creds = self.enroll(json.loads(body).get("device") or {})
                resp = self._post("/api/v1/reports", body.encode("utf-8"), creds.device_secret)
                if resp.status_code == 401 and not re_enrolled:
                    # kept until the server answers: the refused secret may still be
                    # this device's (then the server rotates it), and a network error
                    # here must not lose it
                    log.info("server no longer knows this device (401): enrolling again")
                    old, creds, re_enrolled = creds.device_secret, None, True
                    creds = self.enroll(json.loads(body).get("device") or {}, old)
                    continue
                if _identity_changed(resp) and not re_enrolled:
                    # These credentials belong to another machine (a copied state
                    # directory, a cloned disk image) or the hardware changed: this
                    # computer enrolls as itself, once, and sends the report again.
                    log.warning("the server has this device's secret enrolled as another "
                                "machine (409: %s): enrolling again", _detail(resp))
                    forget_credentials(self.state_dir)
                    creds, re_enrolled = None, True
                    continue
                return resp

        try:
            # a report that got 5xx SET_ASIDE_AFTER times: the next one is tried; if that one
            # goes through, this one is the problem and is set aside
            suspect: tuple[str, str] | None = None
            suspect_code = 0
            stopped = False
            for report_id, body in self.queue.pending():
                resp = send(body)
                code = resp.status_code
                if code in (200, 201, 202):
                    self.queue.remove(report_id)
                    res.sent += 1
                    self._ok()
                    if suspect is not None:
                        self._set_aside(res, *suspect)
                        suspect = None
                elif code in (429, 503):
                    wait = parse_retry_after(resp.headers.get("Retry-After"), self.clock())
                    res.retry_at = self._fail(f"the server is busy ({code})", wait)
                    res.error = f"the server asked to wait ({code})"
                    self.queue.note_failure(report_id, f"{code}")
                    stopped = True
                    break
                elif code == 401:
                    res.retry_at = self._fail("the server refused this device's secret (401)")
                    res.error = "the server refused this device even after enrolling again (401)"
                    res.refused = True
                    stopped = True
                    break
                elif 400 <= code < 500:
                    self.queue.note_failure(report_id, f"{code}")
                    self._set_aside(res, report_id, f"the server refused it ({code}: {_detail(resp)})")
                else:
                    tries = self.queue.note_failure(report_id, f"{code}", server_error=True)
                    if suspect is None and tries >= SET_ASIDE_AFTER:
                        suspect = (report_id, f"the server answered {code} to it {tries} times "
                                              "while it took the reports behind it")
                        suspect_code = code
                        continue
                    res.retry_at = self._fail(f"the server answered {code}")
                    res.error = f"the server answered {code}"
                    stopped = True
                    break
            if suspect is not None and not stopped:   # nothing behind it went through
                res.retry_at = self._fail(f"the server answered {suspect_code}")
                res.error = f"the server answered {suspect_code}"
                stopped = True
            if not stopped:
                # everything in line is sent: the set-aside reports get their (daily) try
                just = {rid for rid, _ in res.set_aside}
                for report_id, body, _why in self.queue.aside(due_only=not force):
                    if report_id in just:
                        continue
                    resp = send(body)
                    code = resp.status_code
                    if code in (200, 201, 202):
                        log.info("report %s, set aside before, was taken by the server", report_id)
                        self.queue.remove(report_id)
                        res.sent += 1
                    elif code in (401, 429, 503):
                        break          # the server, not this report: it stays aside, due
                    else:
                        self.queue.note_failure(report_id, f"{code}", server_error=code >= 500)
                        self.queue.set_aside(report_id, f"the server answered {code}: {_detail(resp)}")
        except _Waiting as exc:
            res.error, res.waiting = str(exc), True
            res.retry_at = self._fail(str(exc), exc.retry_after)
        except ReportingError as exc:
            res.error, res.refused = str(exc), True
            res.retry_at = self._fail(str(exc), getattr(exc, "retry_after", None))
        except _Temporary as exc:
            res.error = str(exc)
            res.retry_at = self._fail(str(exc), exc.retry_after)
        except requests.exceptions.SSLError as exc:
            res.error = _certificate_problem(exc)
            res.retry_at = self._fail(res.error)
        except (requests.exceptions.RequestException, ValueError, KeyError) as exc:
            res.error = f"cannot reach {self.url} ({_short(exc)})"
            res.retry_at = self._fail(res.error)
        if creds is not None and (force or now >= float(self.queue.get_meta("policy_next", "0") or 0)):
            res.policy = self.pull_policy(creds)
        if creds is not None and not res.error:
            res.exemptions = self.pull_exemptions(creds)
        res.remaining = self.queue.count_in_line()
        res.aside = self.queue.count() - res.remaining
        return res

    def _set_aside(self, res: FlushResult, report_id: str, why: str) -> None:
        self.queue.set_aside(report_id, why)
        res.set_aside.append((report_id, why))
        log.warning("report %s set aside: %s. The reports behind it are sent first; it is "
                    "tried again once a day until it is %d days old.", report_id, why,
                    QUEUE_MAX_AGE // 86400)

    def pull_policy(self, creds: Credentials) -> str:
        """GET the organisation policy with If-None-Match; cache it. Returns what happened."""
        import requests
        meta_path = os.path.join(self.state_dir, POLICY_META)
        text_path = os.path.join(self.state_dir, POLICY_FILE)
        meta = _read_json(meta_path) or {}
        headers = {"Authorization": f"Bearer {creds.device_secret}", "Accept": "application/toml"}
        if meta.get("url") == self.url and meta.get("etag") and os.path.exists(text_path):
            headers["If-None-Match"] = meta["etag"]
        self.queue.set_meta("policy_next", repr(self.clock() + POLICY_PULL_EVERY))
        try:
            resp = self.session.get(self.url + "/api/v1/policy", headers=headers, timeout=TIMEOUT,
                                    allow_redirects=False)
        except requests.exceptions.RequestException as exc:
            return f"policy not fetched ({_short(exc)}); the cached one stays in use"
        if resp.status_code == 304:
            return "policy unchanged"
        if resp.status_code == 204:
            for p in (text_path, meta_path):
                try:
                    os.unlink(p)
                except FileNotFoundError:
                    pass
            return "the server has no policy"
        if resp.status_code != 200:
            return f"policy not fetched ({resp.status_code})"
        text = resp.content.decode("utf-8", errors="replace")
        problem = _validate_policy(text)
        if problem:
            log.warning("server policy ignored: %s", problem)
            return f"server policy ignored: {problem}"
        _write_private(text_path, text.encode("utf-8"))
        _write_private(meta_path, json.dumps({"url": self.url, "etag": resp.headers.get("ETag"),
                                              "fetched_at": self.clock()}).encode("utf-8"))
        return "policy updated"


    def pull_exemptions(self, creds: Credentials) -> str:
        """GET this device's exemptions in force and cache them with their end days
        (agent/exemptions.py). A server without exemptions (404: older than this agent) means
        none; an unreachable one leaves the cache, whose end days still apply."""
        import requests

        from .exemptions import forget_cache, save_cache
        try:
            resp = self.session.get(self.url + "/api/v1/exemptions", timeout=TIMEOUT,
                                    headers={"Authorization": f"Bearer {creds.device_secret}",
                                             "Accept": "application/json"},
                                    allow_redirects=False)
        except requests.exceptions.RequestException as exc:
            return f"exemptions not fetched ({_short(exc)}); the cached ones stay until they end"
        if resp.status_code == 404:
            forget_cache(self.state_dir)
            return "the server has no exemptions"
        if resp.status_code != 200:
            return f"exemptions not fetched ({resp.status_code})"
        try:
            items = resp.json().get("exemptions")
        except (ValueError, AttributeError):
            return "exemptions not fetched (not JSON)"
        n = save_cache(self.state_dir, self.url, items)
        return f"{n} exemption{'' if n == 1 else 's'} in force"


class _Temporary(Exception):
    def __init__(self, msg: str, retry_after: float | None = None):
        super().__init__(msg)
        self.retry_after = retry_after


class _Waiting(_Temporary):
    """The server parked this computer's enrollment until IT approves it."""


class _Refused(ReportingError):
    """IT removed this computer, or turned down its enrollment: ask again only much later."""

    def __init__(self, msg: str, retry_after: float | None = None):
        super().__init__(msg)
        self.retry_after = retry_after


def _reason(resp) -> str:  # noqa: ANN001
    try:
        data = resp.json()
        return str(data.get("reason") or "") if isinstance(data, dict) else ""
    except Exception:  # noqa: BLE001
        return ""


def _identity_changed(resp) -> bool:  # noqa: ANN001
    """409 identity_changed / identity_taken: the secret is enrolled as another machine, or
    this machine's serial/UUID is another enrolled device's."""
    return resp.status_code == 409 and _reason(resp) in ("identity_changed", "identity_taken")


def _detail(resp) -> str:  # noqa: ANN001
    """The server's reason, readable: a 422's field errors as ``device.hostname: msg``."""
    try:
        d = resp.json().get("detail")
        if isinstance(d, list) and d and all(isinstance(e, dict) and "msg" in e for e in d):
            msgs = [(".".join(str(p) for p in e.get("loc") or ()),
                     str(e["msg"]).removeprefix("Value error, ")) for e in d]
            d = "; ".join(f"{loc}: {msg}" if loc else msg for loc, msg in msgs)
        return (d if isinstance(d, str) else json.dumps(d))[:300]
    except Exception:  # noqa: BLE001
        return (resp.text or "")[:200]


def _certificate_problem(exc: Exception) -> str:
    """One line on a certificate the agent does not trust, with what IT can do. The reason
    is the verifier's (OpenSSL's, or macOS's / Windows' through truststore), found in the
    exception chain requests and urllib3 wrap it in."""
    import ssl
    why, todo, seen = "", [exc], set()
    while todo and not why:
        e = todo.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, ssl.SSLCertVerificationError):
            why = str(getattr(e, "verify_message", "") or e.reason or e)
            break
        todo += [*e.args, getattr(e, "reason", None), e.__cause__, e.__context__]
    if why:
        why = "certificate verify failed: " + re.sub(r"\s+", " ", why).strip()[:200]
    else:
        why = _short(exc)
    return (f"this computer does not trust the server's certificate ({why}); "
            "if your company uses its own certificate authority, IT adds it to this "
            "computer's trusted certificates or sets [server] ca_file")


def _short(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "timed out", "Name or service not known",
                   "certificate verify failed", "Failed to resolve"):
        if marker in text:
            return marker
    return text[:160]


def _read_json(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def _validate_policy(text: str) -> str | None:
    try:
        from .policy import PolicyError, parse_policy_text
    except ImportError:
        return None
    try:
        parse_policy_text(text, "server policy")
    except PolicyError as exc:
        return str(exc)
    return None


def cached_server_policy(settings, state_dir: str | None = None) -> str | None:  # noqa: ANN001
    """The organisation policy last fetched from the configured server, or None.

    Works offline. Apply it over the built-in default and the managed policy_file
    (``load_policy(path, text=cached_server_policy(settings))``)."""
    if not enabled(settings):
        return None
    try:
        url = check_url(server_url(settings))
    except ReportingError:
        return None
    path = state_dir or _state_dir_noexcept()
    if path is None:
        return None
    meta = _read_json(os.path.join(path, POLICY_META))
    if not meta or meta.get("url") != url:
        return None
    try:
        with open(os.path.join(path, POLICY_FILE), encoding="utf-8") as fh:
            return fh.read()
    except OSError:
        return None


def _state_dir_noexcept() -> str | None:
    try:
        from .config import user_state_dir
        return user_state_dir()
    except Exception:  # noqa: BLE001
        return None


# -- the background reporter (tray) -------------------------------------------

class Reporter:
    """Sends reports in the background. ``submit`` returns at once, always.

    The tray calls ``submit(report)`` after every check (its ``on_report`` hook).
    A thread queues the report durably, then sends whatever is due, honouring
    backoff; it also retries on its own when the backoff ends.
    """

    def __init__(self, settings, state_dir: str | None = None, session=None,  # noqa: ANN001
                 clock: Callable[[], float] = time.time):
        self.settings = settings
        self._state_dir = state_dir
        self._session = session
        self._clock = clock
        self._inbox: deque[dict] = deque(maxlen=QUEUE_MAX_REPORTS)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.sender: Sender | None = None
        self.last_result: FlushResult | None = None
        self.last_problem: str | None = None

    @property
    def enabled(self) -> bool:
        return enabled(self.settings)

    def submit(self, report: dict) -> None:
        """Hand a check result to the reporter. Never blocks, never raises."""
        if not self.enabled:
            return
        try:
            report = dict(report)
            report.setdefault("report_id", str(uuid.uuid4()))  # made now: a resend is recognised
            self._inbox.append(report)
            self.start()
            self._wake.set()
        except Exception:  # noqa: BLE001
            log.exception("could not hand a report to the reporter")

    def start(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="checkup-reporter",
                                                daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def flush_soon(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        try:
            self.sender = Sender(self.settings, self._state_dir, self._session, clock=self._clock)
        except Exception as exc:  # noqa: BLE001 - a bad URL: say so once, keep nothing running
            self.last_problem = str(exc)
            log.warning("reporting disabled: %s", exc)
            return
        try:
            while not self._stop.is_set():
                while self._inbox:
                    report = self._inbox.popleft()
                    try:
                        self.sender.queue.add(report)
                    except Exception:  # noqa: BLE001
                        log.exception("could not queue a report; will retry")
                        self._inbox.appendleft(report)
                        break
                try:
                    self.last_result = self.sender.flush()
                    self.last_problem = self.last_result.error
                except Exception as exc:  # noqa: BLE001
                    log.exception("reporting failed")
                    self.last_problem = str(exc)
                self._wake.wait(self.sender.seconds_until_due())
                self._wake.clear()
        finally:
            self.sender.close()


# -- checkup report --now -----------------------------------------------------

def report_now(settings, state_dir: str | None = None, report: dict | None = None,  # noqa: ANN001
               session=None) -> tuple[int, str]:
    """Send the queue now (ignoring backoff) and say what happened.

    Exit codes: 0 everything sent (or nothing to send; reports set aside are
    named but do not count); 1 reports still queued (the server is unreachable
    or busy; they will be retried); 2 the server refused this device or its
    enrollment token; 3 reporting is off or the URL is not allowed.
    """
    if not enabled(settings):
        return 3, ("Reporting is off: IT has not set [server] url in the config "
                   "(see `checkup config show`).")
    try:
        sender = Sender(settings, state_dir, session)
    except ReportingError as exc:
        return 3, f"Not reporting: {exc}."
    try:
        if report is not None:
            sender.queue.add(report)
        before = sender.queue.count()
        res = sender.flush(force=True)
    finally:
        sender.close()
    url = sender.url
    if res.setup:
        waiting = res.remaining + res.aside
        kept = (f"; {waiting} report{'s stay' if waiting != 1 else ' stays'} queued until then"
                if waiting else "")
        return 3, f"Not sent to {url}: {res.error}. Ask IT to fix this setting{kept}."
    parts = []
    if before == 0:
        parts.append(f"Nothing was waiting to be sent to {url}.")
    else:
        parts.append(f"Sent {res.sent} of {before} report{'s' if before != 1 else ''} to {url}.")
    for report_id, why in res.set_aside:
        parts.append(f"Set aside report {report_id}: {why}.")
    earlier = res.aside - len(res.set_aside)
    if earlier > 0:
        parts.append(f"{earlier} report{'s' if earlier != 1 else ''} set aside before "
                     f"still wait{'' if earlier != 1 else 's'}.")
    if res.aside:
        parts.append("Set-aside reports no longer hold up the others; they are tried again once "
                     f"a day and dropped after {QUEUE_MAX_AGE // 86400} days.")
    if res.policy:
        parts.append(res.policy[0].upper() + res.policy[1:] + ".")
    if res.remaining:
        when = ""
        if res.retry_at:
            when = " after " + time.strftime("%H:%M", time.localtime(res.retry_at))
        if res.refused:
            parts.append(f"{res.remaining} still queued: {res.error or 'not sent'}; "
                         f"Checkup asks the server again{when}.")
        elif res.waiting:
            parts.append(f"{res.remaining} still queued: {res.error}. Ask IT to approve it; "
                         f"Checkup asks again{when} and then sends them.")
        else:
            parts.append(f"{res.remaining} still queued: {res.error or 'not sent'}; "
                         f"they will be sent{when} automatically.")
        return (2 if res.refused else 1), " ".join(parts)
    if res.refused:
        return 2, " ".join(parts + [f"Problem: {res.error}."])
    return 0, " ".join(parts)


# -- checkup devices / the tray's "See all my devices" ---------------------------------

def claim_link(settings, state_dir: str | None = None,  # noqa: ANN001, C901
               session=None) -> tuple[int, str, str | None]:
    """Ask IT's server for a link that shows the person all their devices and makes this
    laptop theirs once they sign in (POST /api/v1/claim with the device secret; DESIGN
    "Claim"). No user name is sent: the server learns who from the sign-in.

    Returns (code, message for the person, the link or None). Codes as ``report_now``:
    0 a link; 1 the server is unreachable or busy (try again); 2 the server refused this
    computer; 3 reporting is off, the URL is not allowed, or this computer is not enrolled.
    """
    if not enabled(settings):
        return 3, ("Reporting to IT is off on this computer, so there is no page of your "
                   "devices to open (IT sets [server] url)."), None
    try:
        url = check_url(server_url(settings))
    except ReportingError as exc:
        return 3, f"Can't open your devices: {exc}.", None
    creds = load_credentials(_state_dir(state_dir), url)
    if creds is None:
        return 3, ("This computer is not connected to IT's server yet. Run `checkup report "
                   "--now` (or wait for the next check), then try again."), None
    import requests

    from .tls import TrustError, new_session
    own = session is None
    if own:
        try:
            session = new_session(settings, f"checkup-agent/{_agent_version()}")
        except TrustError as exc:
            log.warning("See all my devices: %s", exc)
            return 3, f"Can't open your devices: {exc}. Ask IT to fix this setting.", None
    try:
        resp = session.post(url + "/api/v1/claim", timeout=TIMEOUT, allow_redirects=False,
                            headers={"Authorization": f"Bearer {creds.device_secret}",
                                     "Accept": "application/json"})
    except requests.exceptions.SSLError as exc:
        log.warning("See all my devices: %s", _certificate_problem(exc))
        return 1, (f"Can't reach IT's server at {url}: {_certificate_problem(exc)}."), None
    except requests.exceptions.RequestException as exc:
        return 1, (f"Can't reach IT's server at {url} ({_short(exc)}). Check that you are "
                   "online, then try again."), None
    finally:
        if own:
            session.close()
    if resp.status_code == 201:
        try:
            link = str(resp.json()["url"])
            check_url(link)              # https (http only to this machine): never file: etc.
        except (ValueError, KeyError, TypeError, ReportingError) as exc:
            log.warning("claim link not usable: %s", exc)
            return 2, f"IT's server sent a link that can't be opened safely ({url}).", None
        return 0, ("Open this link to see all your devices. It makes this laptop yours when "
                   f"you sign in, works once, and expires in 15 minutes:\n{link}"), link
    if resp.status_code == 401:
        return 2, ("IT's server no longer knows this computer (it was removed, or must "
                   "connect again): run `checkup report --now`, or ask IT."), None
    if resp.status_code == 429:
        wait = parse_retry_after(resp.headers.get("Retry-After"), time.time()) or 60.0
        minutes = max(1, int(-(-wait // 60)))
        return 1, (f"You asked for several links in a short time. Try again in {minutes} "
                   f"minute{'s' if minutes != 1 else ''}."), None
    if resp.status_code == 404:
        return 2, (f"IT's server at {url} does not offer a page of your devices yet "
                   "(it may need an update)."), None
    return 1, f"IT's server could not make a link ({resp.status_code}: {_detail(resp)}).", None


def queue_status(settings, state_dir: str | None = None) -> dict[str, Any]:  # noqa: ANN001
    """For `checkup config show` / About: how many reports wait in line, how many are
    set aside, the last problem."""
    path = os.path.join(_state_dir(state_dir), QUEUE_FILE)
    if not os.path.exists(path):
        return {"queued": 0, "set_aside": 0, "last_error": None, "next_attempt_at": None}
    q = ReportQueue(path)
    try:
        nxt = float(q.get_meta("next_attempt_at", "0") or 0)
        in_line = q.count_in_line()
        return {"queued": in_line, "set_aside": q.count() - in_line,
                "last_error": q.get_meta("last_error"), "next_attempt_at": nxt or None}
    finally:
        q.close()
