"""The "I fixed it — check again" link: a loopback-only HTTP handler in the tray.

It listens on 127.0.0.1 on a port the OS picks, and answers one path only,
``/<token>/check-again`` (the token is random for each run of the tray and is
written only into the person's own fix pages). The one thing it can do is ask for
a check; its reply is a small page that reloads itself until that check is done
and then says the result ("Checked again at 10:47: fixed, thank you!"). It needs
no admin rights, and a request with the wrong token, another Host (DNS
rebinding) or any other method or path gets an error and does nothing.
"""
from __future__ import annotations

import hmac
import logging
import re
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from .. import pages
from ..strings import t

log = logging.getLogger(__name__)

_KEY = re.compile(r"^[a-z0-9_]{1,64}$")
POLL_S = 2


class RecheckServer:
    """``ask(page_key) -> seq``: start a check, return the number of checks done so far.
    ``result(page_key, seq) -> (done, html_body)``: once a check after ``seq`` is done,
    the words to show."""

    def __init__(self, ask: Callable[[str], int], result: Callable[[str, int], tuple[bool, str]]):
        self.ask, self.result = ask, result
        self.token = secrets.token_urlsafe(24)
        server = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "Checkup"
            sys_version = ""

            def log_message(self, fmt, *args):   # not to stderr: to our log, without the token
                log.debug("check-again: %s", (fmt % args).replace(server.token, "…"))

            def do_GET(self):  # noqa: N802 - http.server's name
                server._get(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="checkup-recheck", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.token}/check-again"

    def start(self) -> "RecheckServer":
        self.thread.start()
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- one request ---------------------------------------------------------------------
    def _get(self, req: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(req.path)
        if req.headers.get("Host") != f"127.0.0.1:{self.port}":
            return self._send(req, 403, t("again.expired"))
        if not hmac.compare_digest(parts.path.encode(), f"/{self.token}/check-again".encode()):
            return self._send(req, 404, t("again.expired"))
        query = parse_qs(parts.query)
        key = (query.get("page") or ["report"])[0]
        key = key if _KEY.match(key) else "report"
        wait = (query.get("wait") or [""])[0]
        try:
            if wait.isdigit():
                done, words = self.result(key, int(wait))
                seq = int(wait)
            else:
                seq, done, words = self.ask(key), False, ""
        except Exception:  # noqa: BLE001 - the page says it could not, the log says why
            log.exception("check again failed")
            return self._send(req, 500, t("again.unknown"))
        if done:
            return self._send(req, 200, words, extra=t("again.back"))
        # A new address for the reload, so it only waits: it never starts another check.
        again = f"/{self.token}/check-again?page={key}&wait={seq}"
        return self._send(req, 200, t("again.checking"), extra=t("again.checking_body"), refresh=again)

    def _send(self, req, code: int, words: str, extra: str = "", refresh: str | None = None) -> None:
        head = f"<meta http-equiv=\"refresh\" content=\"{POLL_S};url={pages.esc(refresh)}\">" if refresh else ""
        body = (f"<section class=\"card\"><h1 id=\"result\" role=\"status\">{pages.esc(words)}</h1>"
                + (f"<p class=\"muted\">{pages.esc(extra)}</p>" if extra else "") + "</section>")
        html = pages._doc(t("app_name"), body).replace("<head>", "<head>" + head, 1)
        data = html.encode("utf-8")
        req.send_response(code)
        req.send_header("Content-Type", "text/html; charset=utf-8")
        req.send_header("Content-Length", str(len(data)))
        req.send_header("Cache-Control", "no-store")
        req.send_header("Referrer-Policy", "no-referrer")
        req.end_headers()
        req.wfile.write(data)
