""""I fixed it — check again": the tray's loopback link, the re-check after a fix page
was opened, and pages that show the result by themselves, in headless Chromium."""
import http.client
import os
import sys
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "server"))
import srvcdp  # noqa: E402

from agent.pages import file_uri  # noqa: E402
from agent.tray.app import TrayApp  # noqa: E402

NOW = datetime(2026, 3, 2, 10, 47, tzinfo=timezone(timedelta(hours=1)))


def report(fw):
    return {"status": fw, "checked_at": "2026-03-02T09:47:00Z", "device": {"hostname": "alice-mbp"},
            "checks": [{"id": "firewall", "status": fw, "title": "Firewall", "summary": "The firewall is off."
                        if fw == "fail" else "The firewall is on.",
                        "fix": {"steps": ["Open Settings.", "Turn the firewall on."]}}]}


@pytest.fixture
def app(tmp_path):
    holder = {"status": "fail", "runs": 0}

    def run_check():
        holder["runs"] += 1
        return report(holder["status"])

    opened = []
    a = TrayApp(run_check, settings=None, replay=True, pages_dir=str(tmp_path / "pages"),
                state_file=str(tmp_path / "state.json"), open_url=opened.append, notifier=None, now=lambda: NOW)
    a.holder, a.opened = holder, opened
    a.start_recheck_server()
    a.scheduler.start()
    assert wait(lambda: a.checks_done == 1)
    yield a
    a.quit()


def wait(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return pred()


def text(b):
    """The page's words, or "" while it is reloading (no body for a moment)."""
    try:
        return b.js("document.body ? document.body.innerText : ''") or ""
    except RuntimeError:
        return ""


def get(port, path, host=None, method="GET"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.putrequest(method, path, skip_host=True)
    conn.putheader("Host", host or f"127.0.0.1:{port}")
    conn.endheaders()
    r = conn.getresponse()
    body = r.read().decode()
    conn.close()
    return r.status, body


def test_the_link_only_rechecks_with_its_token_from_loopback(app):
    srv = app.recheck_server
    assert srv.httpd.server_address[0] == "127.0.0.1" and len(srv.token) >= 32
    page = open(app.page_paths["firewall"]).read()
    assert f'href="{srv.url}?page=firewall"' in page and "I fixed it — check again" in page
    assert f'href="{srv.url}?page=report"' in open(app.page_paths["report"]).read()
    port, path = srv.port, urllib.parse.urlsplit(srv.url).path
    wrong = path.replace(srv.token, srv.token[:-1] + ("a" if srv.token[-1] != "a" else "b"))
    assert get(port, wrong + "?page=firewall")[0] == 404
    assert get(port, "/")[0] == 404
    assert get(port, path + "?page=firewall", host="evil.example:80")[0] == 403     # DNS rebinding
    assert get(port, path + "?page=firewall", method="POST")[0] == 501
    assert get(port, path + "?page=firewall", method="DELETE")[0] == 501
    time.sleep(0.3)
    assert app.holder["runs"] == 1                        # none of those started a check
    status, body = get(port, path + "?page=firewall&wait=x")   # junk "wait": a normal re-check
    assert status == 200 and "Checking again" in body
    assert wait(lambda: app.holder["runs"] == 2)
    status, body = get(port, path + "?page=../../etc&wait=0")   # junk page: the report's words
    assert status == 200 and "some things still need fixing" in body and srv.token not in body.split("url=")[0]


def test_check_again_in_chromium_says_fixed_thank_you(app):
    with_browser = srvcdp.Browser()
    try:
        b = with_browser
        b.goto(file_uri(app.page_paths["firewall"]))
        assert "I fixed it — check again" in b.text()
        app.holder["status"] = "pass"                     # the person turned the firewall on
        b.submit_by_click("#check-again")
        assert b.url.startswith("http://127.0.0.1:")
        shown = wait(lambda: "Firewall is fixed, thank you!" in text(b) and text(b), 15)
        assert shown and "Checked again at 10:47: Firewall is fixed, thank you!" in shown, b.text()
        assert app.holder["runs"] == 2                    # the waiting page's reloads start no check
        # the fix page itself (Back, or opened again) says so too, without the button
        b.goto(file_uri(app.page_paths["firewall"]))
        words = b.text()
        assert "Checked again at 10:47: fixed, thank you!" in words and "check again" not in words.lower()
        b.screenshot(os.path.join(os.path.dirname(app.pages_dir), "check-again.png"))
    finally:
        with_browser.close()


def test_a_fix_page_opened_from_the_tray_rechecks_and_updates_itself(app):
    app.recheck_after_s, app.page_refresh_s = 3.0, 1
    b = srvcdp.Browser()
    try:
        app.open_fix("firewall")                           # the menu item / the notification click
        assert wait(lambda: app.opened) and app.opened[-1] == file_uri(app.page_paths["firewall"])
        page = open(app.page_paths["firewall"]).read()
        assert '<meta http-equiv="refresh" content="1">' in page and "updates by itself" in page
        b.goto(app.opened[-1])
        assert "Needs fixing" in b.text() and "Checked again" not in b.text()
        app.holder["status"] = "pass"
        # nobody touches the browser: the tray checks again by itself and the page reloads
        shown = wait(lambda: "Checked again at 10:47: fixed, thank you!" in text(b) and text(b), 20)
        assert shown, text(b)
        assert app.holder["runs"] == 2 and "updates by itself" not in shown
        time.sleep(1.5)
        assert '<meta http-equiv="refresh"' not in open(app.page_paths["firewall"]).read()   # no more reloads
    finally:
        b.close()


def test_without_the_loopback_link_the_pages_show_no_button(tmp_path):
    a = TrayApp(lambda: report("fail"), settings=None, replay=True, pages_dir=str(tmp_path / "p"),
                state_file=str(tmp_path / "s.json"), open_url=lambda u: None, notifier=None, now=lambda: NOW)
    a._on_result(report("fail"), None)
    assert "check again" not in open(a.page_paths["firewall"]).read().lower()
    assert a.recheck_server is None


def test_the_button_and_the_waiting_page_pass_axe(app):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import axekit
    if axekit.skip_reason():
        pytest.skip(axekit.skip_reason())
    with axekit.axe_browser() as b:
        b.goto(file_uri(app.page_paths["firewall"]))
        assert axekit.serious(b) == []
        b.goto(app.recheck_server.url + "?page=firewall&wait=0")     # the result page
        assert "Firewall is not fixed yet" in b.text() and axekit.serious(b) == []
