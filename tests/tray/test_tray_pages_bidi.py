"""The agent's own pages (report, fix, about) lose bidi and control characters from the
machine, the report and the policy, so a hostname like ``invoice<U+202E>fdp.exe`` cannot
reorder what the employee reads (issue 11, part 9)."""
import copy
import glob
import json
import os

from agent import pages

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
RLO = "\u202e"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def real_report() -> dict:
    """The pipeline's report for a real capture, with hostile text put into it."""
    from agent.pipeline import run_check
    from agent.policy import load_policy
    from probes.host import RecordedHost
    path = sorted(glob.glob(os.path.join(ROOT, "tests", "fixtures", "macos", "*.json")))[0]
    with open(path, encoding="utf-8") as fh:
        fx = json.load(fh)
    rep = copy.deepcopy(run_check(RecordedHost.load(path), load_policy(text=fx.get("policy"))))
    rep["device"]["hostname"] = f"invoice{RLO}fdp.exe"
    rep["device"]["os_name"] = "mac\u2066OS\u2069"
    c = rep["checks"][0]
    c["summary"] = f"Firewall {RLO}ffo si\u202c on\x1b[31m"
    c["title"] = "\u200fTitle\u061c"
    c["status"] = "fail"
    c.setdefault("fix", {})["steps"] = [f"Open {RLO}sgnitteS"]
    return rep


def test_agent_pages_strip_bidi_and_control_characters():
    rep = real_report()
    org = {"name": f"ACME{RLO} IT", "help_text": f"Call {RLO}0010-555\nWe are here."}
    html_pages = {"report": pages.render_report(rep, org),
                  "fix": pages.render_fix_page(rep["checks"][0], rep, org),
                  "about": pages.render_about(org, "https://checkup.example.com", None)}
    for name, html in html_pages.items():
        assert not set(BIDI) & set(html), (name, [c for c in html if c in BIDI])
        assert "\x1b" not in html, name
    assert "invoicefdp.exe" in html_pages["report"] and "macOS" in html_pages["report"]
    assert "Firewall ffo si on[31m" in html_pages["report"]
    assert "Open sgnitteS" in html_pages["fix"] and "Call 0010-555\nWe are here." in html_pages["fix"]
    assert pages.esc(f"a{RLO}<b>\u2067c\u2069") == "a&lt;b&gt;c"
