"""Accessibility checks with axe-core in headless Chromium (a real browser, the same CDP
client the server's browser tests use: tests/server/srvcdp.py).

    from axekit import axe_browser, serious
    with axe_browser() as b:
        b.goto(url)
        assert serious(b) == []           # no serious or critical violation on the page
        b.width(390); assert serious(b) == []

axe-core comes from tests/axe (``npm ci --prefix tests/axe``, run by .ci/setup). Without it,
or without Chromium, ``skip_reason()`` says why; under CI (``CI`` set) a missing piece is an
error instead, so the accessibility tests cannot silently stop running there.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "server"))
import srvcdp  # noqa: E402

AXE_JS = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
BAD = ("serious", "critical")


def skip_reason() -> str | None:
    """Why the axe tests cannot run here, or None. Under CI a missing piece raises."""
    why = None
    if srvcdp.chromium_path() is None:
        why = "chromium not installed (bash .ci/setup)"
    elif not AXE_JS.is_file():
        why = "axe-core not installed (npm ci --prefix tests/axe)"
    if why and os.environ.get("CI"):
        raise RuntimeError(f"accessibility tests cannot run under CI: {why}")
    return why


class AxeBrowser(srvcdp.Browser):
    def width(self, px: int, height: int = 900) -> None:
        """Lay the page out at ``px`` CSS pixels wide (390 = a phone) and reload it."""
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": px, "height": height, "deviceScaleFactor": 1, "mobile": px < 600},
                  session=True)
        self.goto(self.url)

    def axe(self, tags: tuple[str, ...] = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                           "best-practice")) -> list[dict]:
        """Every axe-core violation on the current page: {id, impact, help, targets}."""
        if not self.js("typeof window.axe === 'object'"):
            self.js(AXE_JS.read_text(encoding="utf-8") + "\n;true")
        raw = self.js("axe.run(document, {runOnly: {type: 'tag', values: %s}})"
                      ".then(r => JSON.stringify(r.violations))" % json.dumps(list(tags)))
        return [{"id": v["id"], "impact": v.get("impact"), "help": v.get("help"),
                 "targets": [n.get("target") for n in v.get("nodes", [])][:5]}
                for v in json.loads(raw)]


def serious(browser: AxeBrowser) -> list[dict]:
    """The current page's serious and critical violations (the bar every page must clear)."""
    return [v for v in browser.axe() if v["impact"] in BAD]


@contextlib.contextmanager
def axe_browser():
    b = AxeBrowser()
    try:
        yield b
    finally:
        b.close()
