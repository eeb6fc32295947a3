"""The device page's exemption form in headless Chromium, with axe-core on the page that
lists an exemption: IT exempts a check, a past end date is refused with a clear line, the
exemption is listed, audited and ended with its button."""
from __future__ import annotations

import datetime as dt
import os
import sys

import pytest
from sqlalchemy import text

import srvkit
from agent.reporting import report_now
from server.exemptions import today

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import axekit  # noqa: E402

why = axekit.skip_reason()
pytestmark = pytest.mark.skipif(why is not None, reason=why or "")


def mine(b) -> list:
    """Serious axe findings inside the exemptions section."""
    import json
    b.axe()   # loads axe-core into the page
    raw = b.js("axe.run('#exemptions', {runOnly: {type: 'tag', values: "
               "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
               ".then(r => JSON.stringify(r.violations))")
    return [v["id"] for v in json.loads(raw) if v.get("impact") in axekit.BAD]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_device_page_exemption_form(live_server, tmp_path):
    srv = live_server
    fx = next(f for f in srvkit.fixture_files() if "fedora-44-gnome-lock-too-slow" in f)
    sd = str(tmp_path / "a")
    os.makedirs(sd)
    assert report_now(srvkit.agent_settings(srv.url, srv.token()), sd,
                      report=srvkit.with_id(srvkit.report_for(fx)))[0] == 0
    with srv.engine.connect() as conn:
        dev = conn.execute(text("SELECT id FROM devices")).scalar_one()
    user, password = srv.admin()
    until = today() + dt.timedelta(days=30)
    with axekit.axe_browser() as b:
        b.goto(f"{srv.url}/devices/{dev}")
        b.fill("#username", user)
        b.fill("#password", password)
        b.submit_by_click("#login")
        assert "None: every check counts." in b.text()
        # the browser keeps an earlier day out (min); a form that gets past it is refused
        b.js("document.querySelector('#exempt-until').removeAttribute('min'); true")
        b.js("document.querySelector('#exempt-check').value = 'screen_lock'; true")
        b.fill("#exempt-until", (today() - dt.timedelta(days=2)).isoformat())
        b.fill("#exempt-reason", "kiosk")
        b.submit_by_click("#exempt-add")
        assert "Not done: the end date" in b.text() and "is in the past" in b.text()
        assert srv.count("exemptions") == 0

        b.js("document.querySelector('#exempt-check').value = 'screen_lock'; true")
        b.fill("#exempt-until", until.isoformat())
        b.fill("#exempt-reason", "kiosk <b>lock</b> set by the building")
        b.submit_by_click("#exempt-add")
        page = b.text()
        assert "Exempted." in page
        assert f"Screen lock exempt until {until.isoformat()}" in page
        assert "(IT: kiosk <b>lock</b> set by the building)" in page   # escaped, shown as typed
        assert srv.count("audit_log", "WHERE action = 'exemption.create'") == 1
        b.screenshot(str(tmp_path / "exempt.png"))
        # this section, and the whole page's other findings are only the ones already on main
        # (the skip badges' contrast belongs to the IT pages' stylesheet)
        assert mine(b) == []
        assert {v["id"] for v in axekit.serious(b)} <= {"color-contrast"}
        b.width(390)
        assert mine(b) == []
        b.submit_by_click("#exemption-list button")
        assert "Exemption ended." in b.text() and "None: every check counts." in b.text()
        assert srv.count("exemptions") == 0
        assert srv.count("audit_log", "WHERE action = 'exemption.delete'") == 1
