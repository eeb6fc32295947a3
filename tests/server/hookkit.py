"""A real webhook receiver on loopback for the tests: checks every request's
Checkup-Signature and can be told to answer slowly, not at all, 500 or a redirect."""
from __future__ import annotations

import http.server
import json
import threading
import time

from server.webhooks import SIGNATURE_HEADER, verify


class Receiver:
    def __init__(self, secret: str = ""):
        self.secret = secret
        self.got: list[dict] = []        # {"body", "json", "signed_ok", "path", "at"}
        self.script: list[tuple] = []    # (status, delay seconds) per request; then (200, 0)
        self.lock = threading.Lock()
        recv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *_a) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode()
                with recv.lock:
                    status, delay = recv.script.pop(0) if recv.script else (200, 0)
                    recv.got.append({"body": body, "json": json.loads(body), "path": self.path,
                                     "signed_ok": verify(recv.secret, self.headers.get(
                                         SIGNATURE_HEADER, ""), body), "at": time.time()})
                time.sleep(delay)
                try:
                    self.send_response(status)
                    if status in (301, 302, 307, 308):
                        self.send_header("Location", "/elsewhere")
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass   # the sender gave up (a timeout): nothing to answer

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, n: int, timeout: float = 20) -> list[dict]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if len(self.got) >= n:
                    return list(self.got)
            time.sleep(0.05)
        raise AssertionError(f"receiver got {len(self.got)} of {n} posts: {self.got}")

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
