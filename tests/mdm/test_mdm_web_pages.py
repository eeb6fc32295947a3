"""The IT pages: the reconciliation view and MDM findings on a device page
(the real app under uvicorn on loopback)."""
import io
import re
import socket
import threading
import time

import requests
import uvicorn

from server.app import create_app
from server.cli import main
from test_mdm_sync_cli import setup  # noqa: F401 - the fixture


def serve(app):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.02)
    return server, f"http://127.0.0.1:{port}"


def test_reconcile_page_exports_and_device_findings(setup, monkeypatch):  # noqa: F811
    stub, cfg_path, cfg, engine = setup
    assert main(["--config", str(cfg_path), "sync", "jamf"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    assert main(["--config", str(cfg_path), "admin", "create", "itadmin", "--password-stdin"]) == 0
    server, url = serve(create_app(cfg, engine, run_migrations=False))
    try:
        s = requests.Session()
        assert s.get(url + "/reconcile", allow_redirects=False).status_code == 303   # login first
        csrf = re.search(r'name="csrf" value="([^"]+)"', s.get(url + "/login").text).group(1)
        r = s.post(url + "/login", data={"username": "itadmin", "password": "correct horse battery",
                                         "csrf": csrf}, allow_redirects=False)
        assert r.status_code == 303
        page = s.get(url + "/reconcile")
        assert page.status_code == 200
        assert "MDM and laptop disagree (1)" in page.text and "In an MDM, not reporting (4)" in page.text
        assert "Jamf says FileVault is on; the laptop reported it off 2 hours later." in page.text
        assert 'href="/devices/dev1"' in page.text
        only = s.get(url + "/reconcile?kind=unmanaged")
        assert "C02ZZ99999" in only.text and "C02XK00002" not in only.text
        csv = s.get(url + "/reconcile.csv")
        assert csv.headers["content-type"].startswith("text/csv") and csv.text.startswith("kind,serial")
        assert s.get(url + "/reconcile.json").json()["findings"]
        dev = s.get(url + "/devices/dev1")
        assert dev.status_code == 200 and 'id="mdm"' in dev.text
        assert "Jamf says FileVault is on" in dev.text
        assert "in no MDM" in s.get(url + "/devices/dev9").text
    finally:
        server.should_exit = True
