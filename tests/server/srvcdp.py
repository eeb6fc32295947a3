"""A very small Chrome DevTools Protocol client over --remote-debugging-pipe
(no websocket library, no Playwright): headless Chromium, a real browser
with its own cookie jar, driven by evaluating JavaScript in the page."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--disable-quic", "--window-size=1200,1400",
         "--remote-debugging-pipe"]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


class Browser:
    def __init__(self):
        exe = chromium_path()
        if exe is None:
            raise RuntimeError("chromium not installed")
        self.profile = tempfile.mkdtemp(prefix="checkup-chromium-")
        # Chromium reads commands on fd 3 and writes answers on fd 4.
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        # Move both ends above 4 first: in a process with few files open, os.pipe() may hand
        # out 3 and 4 themselves, and dup2 would then overwrite one end with the other.
        import fcntl
        hi_r, hi_w = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_chrome_r, from_chrome_w))
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        to_chrome_r, from_chrome_w = hi_r, hi_w

        def fds():
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.proc = subprocess.Popen([exe, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                     preexec_fn=fds, pass_fds=(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     close_fds=False)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._id = 0
        self._lock = threading.Lock()
        self._answers: dict[int, dict] = {}
        self._events: list[dict] = []
        self._cv = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable", session=True)
        self.call("Runtime.enable", session=True)

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_chrome, 65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                with self._cv:
                    if "id" in msg:
                        self._answers[msg["id"]] = msg
                    else:
                        self._events.append(msg)
                    self._cv.notify_all()

    def call(self, method: str, params: dict | None = None, session: bool = False,
             timeout: float = 30) -> dict:
        with self._lock:
            self._id += 1
            mid = self._id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        with self._cv:
            while mid not in self._answers:
                left = deadline - time.time()
                if left <= 0:
                    raise TimeoutError(method)
                self._cv.wait(left)
            ans = self._answers.pop(mid)
        if "error" in ans:
            raise RuntimeError(f"{method}: {ans['error']}")
        return ans.get("result", {})

    def _wait_load(self, since: int, timeout: float = 30) -> None:
        deadline = time.time() + timeout
        with self._cv:
            while True:
                if any(e.get("method") == "Page.loadEventFired" for e in self._events[since:]):
                    return
                left = deadline - time.time()
                if left <= 0:
                    raise TimeoutError("page load")
                self._cv.wait(left)

    def goto(self, url: str) -> None:
        n = len(self._events)
        self.call("Page.navigate", {"url": url}, session=True)
        self._wait_load(n)

    def js(self, expression: str):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                           "awaitPromise": True}, session=True)
        if "exceptionDetails" in r:
            raise RuntimeError(r["exceptionDetails"])
        return r.get("result", {}).get("value")

    def submit_by_click(self, selector: str) -> None:
        """Click a button that navigates, and wait for the new page."""
        n = len(self._events)
        self.js(f"document.querySelector({json.dumps(selector)}).click()")
        self._wait_load(n)

    def fill(self, selector: str, value: str) -> None:
        self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
                f"e.value = {json.dumps(value)}; e.dispatchEvent(new Event('input')); }})()")

    @property
    def url(self) -> str:
        return self.js("location.href")

    def text(self) -> str:
        return self.js("document.body.innerText")

    def screenshot(self, path: str) -> None:
        import base64
        data = self.call("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        with open(path, "wb") as fh:
            fh.write(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=5)
        except Exception:  # noqa: BLE001
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        for fd in (self._to_chrome, self._from_chrome):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)
