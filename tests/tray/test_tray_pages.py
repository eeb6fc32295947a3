"""Fix pages: self-contained, escaped, the right parts."""
import re

from agent import pages

REPORT = {
    "schema": 1, "checked_at": "2026-03-02T08:00:00Z", "status": "fail",
    "device": {"platform": "darwin", "hostname": "<script>alert(1)</script>", "os_name": "macOS",
               "os_version": "15.1"},
    "checks": [
        {"id": "firewall", "status": "fail", "title": "Firewall", "summary": "The firewall is off.",
         "observed": {"enabled": False, "note": "<img src=x onerror=alert(1)>"},
         "fix": {"title": "Turn on the firewall", "why": "It blocks <unwanted> connections.",
                 "steps": ["Open System Settings.", "Click \"Network\" & then Firewall."],
                 "link": "x-apple.systempreferences:com.apple.Network-Settings.extension",
                 "menu_path": "System Settings > Network > Firewall", "command": None, "needs_it": False}},
        {"id": "remote_login", "status": "nudge", "title": "Remote login", "summary": "SSH is on.",
         "fix": {"steps": ["x"], "link": "javascript:alert(1)", "command": "sudo systemsetup -setremotelogin off"}},
        {"id": "disk_encryption", "status": "pass", "title": "Disk encryption", "summary": "FileVault is on."},
        {"id": "antivirus", "status": "skip", "title": "Antivirus", "summary": "Only on Windows."},
        {"id": "screen_lock", "status": "unknown", "title": "Screen lock", "summary": "pmset timed out"},
    ],
}
ORG = {"name": "ACME IT <Helpdesk>", "help_url": "https://help.example.com/?a=1&b=2",
       "help_text": "Call 555-0100.\nWe're here 9-5."}


def test_fix_page_has_every_part_and_escapes():
    html = pages.render_fix_page(REPORT["checks"][0], REPORT, ORG)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img" not in html and "&lt;unwanted&gt;" in html
    assert 'href="x-apple.systempreferences:com.apple.Network-Settings.extension"' in html
    assert "Where to find it: System Settings &gt; Network &gt; Firewall" in html
    assert re.search(r"<ol class=\"steps\"><li>Open System Settings.</li><li>Click &quot;Network&quot; &amp; then", html)
    assert "Why it matters" in html and "Needs fixing" in html and "Last checked" in html
    assert "ACME IT &lt;Helpdesk&gt;" in html and 'href="https://help.example.com/?a=1&amp;b=2"' in html
    assert "Call 555-0100." in html
    assert not re.search(r"<(script|img|link|iframe|object)\b", html, re.I)   # self-contained, no JS


def test_dangerous_links_stay_text():
    html = pages.render_fix_page(REPORT["checks"][1], REPORT, {"help_url": "javascript:alert(2)"})
    assert "javascript:" not in html.replace("javascript:alert(2)</p>", "")
    assert 'href="javascript' not in html
    assert "sudo systemsetup -setremotelogin off" in html


def test_other_statuses_say_so_in_words():
    assert "Nothing to do here." in pages.render_fix_page(REPORT["checks"][2], REPORT)
    assert "does not apply" in pages.render_fix_page(REPORT["checks"][3], REPORT)
    unknown = pages.render_fix_page(REPORT["checks"][4], REPORT)
    assert "could not read this setting" in unknown and "IT will look into it" in unknown


def test_report_lists_worst_first_and_links_pages(tmp_path):
    paths = pages.write_pages(REPORT, ORG, str(tmp_path), server_url=None, state_dir="/x")
    assert set(paths) == {"firewall", "remote_login", "disk_encryption", "antivirus", "screen_lock",
                          "report", "about"}
    html = (tmp_path / "report.html").read_text()
    order = [html.index(f'href="{c}.html"') for c in ("firewall", "remote_login", "screen_lock", "disk_encryption")]
    assert order == sorted(order)
    assert "2 things need your attention." in html
    assert "&lt;script&gt;" in html and "<script>" not in html
    about = (tmp_path / "about.html").read_text()
    assert "Nothing. No server is configured" in about


def test_about_names_the_server_when_configured():
    html = pages.render_about({"name": "ACME"}, "https://checkup.acme.example", "/state")
    assert "sent to ACME at https://checkup.acme.example" in html


def test_page_names_are_safe():
    assert pages.page_name("../../etc/passwd") == "_etc_passwd.html"
    assert pages.safe_url("ms-settings:windowsupdate", pages.SETTINGS_SCHEMES)
    assert pages.safe_url("javascript:alert(1)", pages.SETTINGS_SCHEMES) is None
    assert pages.safe_url('https://x/"onmouseover=', pages.SETTINGS_SCHEMES) is None
    assert pages.safe_url("data:text/html,hi", pages.HELP_SCHEMES) is None


def test_strings_live_in_one_table():
    from agent import strings
    assert strings.t("menu.quit") == "Quit"
    assert strings.tn("tooltip.fail", 2) == "Checkup: 2 things need your attention"
    assert strings.tn("tooltip.fail", 1) == "Checkup: 1 thing needs your attention"


def test_what_checkup_saw_is_in_words():
    from agent.pages import _observed
    html = _observed({"enabled": False, "idle_seconds": 0, "lock_delay_seconds": 300,
                      "profiles": {"domain": True, "private": False, "public": False},
                      "products": [{"name": "Windows Defender", "enabled": True, "up_to_date": False}],
                      "missing": ["falcond", "<b>x</b>"]})
    assert "<dt>Turned on</dt><dd>No</dd>" in html   # no check id: the shared words
    assert "<dd>never</dd>" in html and "<dd>5 minutes</dd>" in html
    assert "Domain: on, Private: off, Public: off" in html
    assert "Windows Defender (on, out of date)" in html
    assert "falcond, &lt;b&gt;x&lt;/b&gt;" in html  # still escaped
    assert "true" not in html and "false" not in html
