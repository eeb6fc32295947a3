"""The policy editor (/policy): the effective policy as a form and as TOML, validation in
plain words, the preview from the devices' newest reports, the history and its revert.
A real server (SQLite and PostgreSQL) over HTTP; Chromium + axe in the _chromium file."""
from __future__ import annotations

import copy
import os
import re

import requests

import srvkit
from agent.reporting import report_now
from server.sessions import create_session


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def session(srv, role: str = "admin", who: str = "it-admin") -> requests.Session:
    token, _ = create_session(srv.engine, who, "local" if role == "admin" else "oidc", role,
                              "127.0.0.1", 1)
    s = requests.Session()
    s.headers["Cookie"] = f"checkup_session={token}"
    return s


def all_pass(base: dict, hostname: str, **checks) -> dict:
    """A report whose checks all pass, but for ``checks`` (id -> (status, observed))."""
    rep = copy.deepcopy(base)
    rep["device"] = dict(rep["device"], hostname=hostname, serial=hostname.upper() + "0001",
                         hardware_uuid=None)
    for c in rep["checks"]:
        c.pop("fix", None)
        c["status"] = "pass"
        c["level"] = {"remote_login": "suggested", "automatic_updates": "suggested",
                      "password_manager": "suggested"}.get(c["id"], "required")
        if c["id"] == "screen_lock":
            c["observed"] = {"enabled": True, "idle_seconds": 120, "lock_delay_seconds": 0}
        if c["id"] in checks:
            c["status"], obs = checks[c["id"]]
            if obs is not None:
                c["observed"] = obs
    rep["status"] = ("fail" if any(c["status"] == "fail" for c in rep["checks"]) else
                     "nudge" if any(c["status"] == "nudge" for c in rep["checks"]) else "pass")
    return srvkit.with_id(rep)


def fleet(srv, tmp_path) -> None:
    """Four devices: screen lock at 10 min (passes 15 min), one failing only its firewall, one
    whose screen lock report lacks the idle time (unknown under any limit), one nudged for
    automatic updates (a suggested check: from the status alone, "bad" or "partly on")."""
    base = srvkit.report_for(next(f for f in srvkit.fixture_files() if "/macos/" in f))
    token = srv.token()
    ten = {"enabled": True, "idle_seconds": 600, "lock_delay_seconds": 0}
    reports = [all_pass(base, "lock-ten", screen_lock=("pass", ten)),
               all_pass(base, "no-firewall", firewall=("fail", None)),
               all_pass(base, "lock-unread", screen_lock=("unknown", {"enabled": True})),
               all_pass(base, "updates-nudged", automatic_updates=("nudge", None))]
    for i, rep in enumerate(reports):
        sd = str(tmp_path / f"a{i}")
        os.makedirs(sd)
        code, msg = report_now(srvkit.agent_settings(srv.url, token), sd, report=rep)
        assert code == 0, msg


BAD_TOML = [
    ("[screen_lock]\nmax_seconds = -5\n", "screen_lock: max_seconds must be 0 or more (you wrote -5)"),
    ('[screen_lock]\nmax_seconds = "600"\n',
     'screen_lock: max_seconds must be a whole number of seconds (you wrote "600")'),
    ("[screen_lock]\nmax_seconds = 1.5\n", "screen_lock: max_seconds must be a whole number of seconds (you wrote 1.5)"),
    ("[screen_lok]\nmax_seconds = 600\n", "[screen_lok] is not a check (the checks are disk_encryption"),
    ("[screen_lock]\nmax_secs = 600\n",
     "screen_lock: max_secs is not a setting of this check (its settings are level, max_seconds)"),
    ('[firewall]\nlevel = "hard"\n', 'firewall: level must be required, suggested or off (you wrote "hard")'),
    ("[os_version]\nminimum = { macos = \"fourteen\" }\n", "os_version: minimum must be a table of lower-case OS id"),
    ("[organization]\nname = 5\n", "organization: name must be text in quotes (you wrote 5)"),
    ("[screen_lock\nmax_seconds = 600\n", "this is not valid TOML: "),
    ("[screen_lock]\nmax_seconds = " + "9" * 500 + "\n", "max_seconds must be at most 31536000 (a year; you wrote 99999"),
    ("# " + "x" * 70000 + "\n", "the policy is larger than 64 KB"),
]


def test_the_editor_validates_previews_saves_and_reverts(live_server, tmp_path):
    srv = live_server
    srv.admin("it-admin")
    it = session(srv)
    page = it.get(srv.url + "/policy", timeout=30)
    assert page.status_code == 200
    html = page.text
    csrf = csrf_of(html)
    # no organisation policy: the form shows the built-in default, every control labelled
    assert "No organisation policy is set" in html
    assert re.search(r'<label for="c-screen_lock-max_seconds">Max seconds \(seconds\)', html)
    assert 'id="c-screen_lock-max_seconds" name="c.screen_lock.max_seconds" value="900"' in html
    assert 'id="c-os_version-minimum-macos" name="c.os_version.minimum.macos" value="14.0"' in html
    assert '<label for="policy">' in html and "max_seconds = 900" in html   # the effective TOML
    assert 'id="no-history"' in html

    # bad TOML: refused with the field and the rule, nothing saved, never a 5xx
    for text, message in BAD_TOML:
        for route in ("/policy", "/policy/preview"):
            r = it.post(srv.url + route, data={"csrf": csrf, "source": "toml", "policy": text},
                        allow_redirects=False, timeout=30)
            assert r.status_code == 422, (route, text[:40], r.status_code)
            got = re.search(r'<p>Not saved: (.*?)</p>', r.text, re.S).group(1)
            assert message in got.replace("&#34;", '"').replace("&quot;", '"'), (text[:40], got[:200])
    assert srv.count("org_policy") == 0 and srv.count("policy_versions") == 0

    # the form: a negative number and a word are marked on their fields
    form = form_values(html)
    bad = dict(form, **{"c.screen_lock.max_seconds": "-5", "c.os_version.minimum.macos": "soon",
                        "csrf": csrf, "source": "form"})
    r = it.post(srv.url + "/policy", data=bad, timeout=30)
    assert r.status_code == 422
    assert ('<span class="pol-error" id="c-screen_lock-max_seconds-err">screen_lock: max_seconds must be '
            '0 or more (you wrote -5)</span>') in r.text
    assert 'aria-invalid="true"' in r.text and 'value="-5"' in r.text and 'value="soon"' in r.text
    assert "os_version: minimum for macOS must be a version number such as 14.4" in r.text
    r = it.post(srv.url + "/policy", data=dict(bad, **{"c.screen_lock.max_seconds": "ten"}), timeout=30)
    assert r.status_code == 422 and "max_seconds must be a whole number of seconds (you wrote &#34;ten&#34;)" in r.text
    assert srv.count("org_policy") == 0

    # preview: from the newest reports, before anything is saved
    fleet(srv, tmp_path)
    change = dict(form, csrf=csrf, source="form", **{"c.screen_lock.max_seconds": "300",
                                                     "c.firewall.level": "off",
                                                     "c.automatic_updates.level": "required"})
    r = it.post(srv.url + "/policy/preview", data=change, timeout=30)
    assert r.status_code == 200, r.text[:300]
    summary = re.sub(r"\s+", " ", re.search(r'id="preview-summary">(.*?)</p>', r.text, re.S).group(1))
    assert "Judged from the newest report of 4 devices" in summary
    assert "<strong>1 device red</strong> and <strong>1 device green</strong>" in summary
    assert "(1 worse, 1 better in all)" in summary
    assert "1 device can't be told from their last report" in summary
    assert "lock-ten</bdi></a>: Healthy → Failing" in r.text
    assert "no-firewall</bdi></a>: Failing → Healthy" in r.text
    # the server wrote the TOML of the form: only what differs from the default
    toml = re.search(r'<textarea name="policy" id="policy"[^>]*>(.*?)</textarea>', r.text, re.S).group(1)
    assert toml.replace("&#34;", '"') == '[firewall]\nlevel = "off"\n\n[screen_lock]\nmax_seconds = 300\n\n' \
                                         '[automatic_updates]\nlevel = "required"\n'
    assert srv.count("org_policy") == 0
    # the same change as TOML previews the same; the policy in force previews "no change"
    r = it.post(srv.url + "/policy/preview", timeout=30, data={
        "csrf": csrf, "policy": '[firewall]\nlevel = "off"\n\n[screen_lock]\nmax_seconds = 300\n'})
    assert "<strong>1 device red</strong>" in r.text
    r = it.post(srv.url + "/policy/preview", data={"csrf": csrf, "policy": ""}, timeout=30)
    assert "no device would change" in r.text

    # save the form; the TOML box then holds what the server wrote
    r = it.post(srv.url + "/policy", data=change, allow_redirects=False, timeout=30)
    assert r.status_code == 303 and r.headers["location"] == "/policy?saved=1"
    html = it.get(srv.url + "/policy?saved=1", timeout=30).text
    assert 'value="300"' in html and "changed</strong>" in html
    assert "max_seconds = 300" in html and "Saved." in html
    # a second change as TOML, then back to version 1 with one click
    r = it.post(srv.url + "/policy", data={"csrf": csrf, "policy": "[screen_lock]\nmax_seconds = 60\n"},
                allow_redirects=False, timeout=30)
    assert r.status_code == 303
    html = it.get(srv.url + "/policy", timeout=30).text
    first = min(int(v) for v in re.findall(r'id="revert-(\d+)"', html))
    r = it.post(srv.url + f"/policy/revert/{first}", data={"csrf": csrf}, allow_redirects=False, timeout=30)
    assert r.status_code == 303 and r.headers["location"] == f"/policy?saved=revert-{first}"
    html = it.get(srv.url + f"/policy?saved=revert-{first}", timeout=30).text
    assert f"Went back to version {first}" in html and f"revert to version {first}" in html
    assert 'value="300"' in html and "it-admin" in html
    from sqlalchemy import text as sql
    with srv.engine.connect() as conn:
        notes = conn.execute(sql("SELECT note FROM policy_versions ORDER BY id")).scalars().all()
        detail = conn.execute(sql("SELECT detail FROM audit_log WHERE action = 'policy.change' "
                                  "ORDER BY id DESC")).scalars().first()
        now = conn.execute(sql("SELECT text FROM org_policy")).scalar_one()
    assert notes == ["", "", f"revert to version {first}"]
    assert detail.endswith(f"; revert to version {first}")
    assert now.startswith('[firewall]\nlevel = "off"\n\n[screen_lock]\nmax_seconds = 300\n')
    # a version that does not exist, a bad id, no CSRF token: 4xx, nothing changes
    for path in ("/policy/revert/999999", "/policy/revert/x%00", "/policy/revert/" + "9" * 40):
        r = it.post(srv.url + path, data={"csrf": csrf}, timeout=30)
        assert r.status_code == 404, (path, r.status_code)
    for path in ("/policy", "/policy/preview", f"/policy/revert/{first}"):
        assert it.post(srv.url + path, data={"policy": ""}, timeout=30).status_code == 400
    assert srv.count("policy_versions") == 3

    # a viewer sees the policy and its history but no buttons, and may not preview or save
    viewer = session(srv, "viewer", "vera@example.com")
    html = viewer.get(srv.url + "/policy", timeout=30).text
    assert 'value="300"' in html and 'id="history"' in html
    assert 'id="save"' not in html and "revert-" not in html and 'id="preview-form"' not in html
    vcsrf = csrf_of(html)
    for path in ("/policy", "/policy/preview", f"/policy/revert/{first}"):
        assert viewer.post(srv.url + path, data={"csrf": vcsrf, "policy": ""}, timeout=30).status_code == 403


def form_values(html: str) -> dict[str, str]:
    """What a browser would send for the check form as it stands (inputs and selects)."""
    form = html[html.index('id="policy-form"'):html.index('id="toml-form"')]
    out = {m.group(1): m.group(2).replace("&#34;", '"')
           for m in re.finditer(r'<input type="(?:text|number)" id="[^"]+" name="([^"]+)" value="([^"]*)"', form)}
    for m in re.finditer(r'<select id="[^"]+" name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        out[m.group(1)] = re.search(r'<option value="([^"]+)" selected', m.group(2)).group(1)
    return out
