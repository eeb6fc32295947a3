"""The fix pages and the report built from every real capture in tests/fixtures: what an
unknown says, words for every observed field, the Linux settings command, and — in headless
Chromium with axe-core — no serious or critical accessibility violation and no horizontal
overflow at 1280 and 390 px."""
from __future__ import annotations

import html as htmllib
import io
import json
import re
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import axekit  # noqa: E402

from agent import observed as obsmod, pages  # noqa: E402
from agent.cli import main  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CASES = sorted(c for d in ("macos", "windows", "linux") for c in (FIXTURES / d).glob("*.json"))
CHECK_DAY = "2026-12-02"


def replay(capture: Path, tmp: Path) -> dict:
    data = json.loads(capture.read_text())
    policy = tmp / f"{capture.stem}.toml"
    policy.write_text(data["policy"])
    out = io.StringIO()
    with redirect_stdout(out):
        main(["check", "--replay", str(capture), "--policy", str(policy), "--json", "--date", CHECK_DAY])
    return json.loads(out.getvalue())


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("policies")
    return {f"{c.parent.name}/{c.stem}": replay(c, tmp) for c in CASES}


def text_of(page: str) -> str:
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", page))


def test_unknown_pages_claim_nothing_is_off(reports):
    seen = 0
    for name, report in reports.items():
        for check in report["checks"]:
            if check["status"] != "unknown":
                continue
            seen += 1
            page = pages.render_fix_page(check, report)
            words = text_of(page)
            assert '<ol class="steps">' not in page, (name, check["id"])
            assert "could not read this setting" in words and "IT will look into it" in words
            for step in (check.get("fix") or {}).get("steps") or []:
                assert step not in words, (name, check["id"], step)
    assert seen >= 3
    # the case from the issue: mokutil missing on Ubuntu, Secure Boot unknown
    report = reports["linux/ubuntu-22-04-gnome-lock-disabled-mokutil-missing"]
    si = next(c for c in report["checks"] if c["id"] == "system_integrity")
    assert si["status"] == "unknown"
    words = text_of(pages.render_fix_page(si, report))
    assert "Secure Boot is off" not in words and "Contact IT" not in words


def test_every_observed_field_of_every_fixture_has_words(reports):
    walked = 0
    for name, report in reports.items():
        for check in report["checks"]:
            observed = check.get("observed") or {}
            hidden = obsmod.not_shown(check["id"], observed)
            for key, value in observed.items():
                if key in hidden:
                    continue
                walked += 1
                assert obsmod.observed_label(check["id"], key), f"{name}: {check['id']}.{key} has no words"
                shown = obsmod.shown(key, value)
                assert shown and not re.search(r"\b(True|False|None|true|false|null)\b", shown), \
                    (name, check["id"], key, shown)
                if key == "settings_off":
                    for item in value:
                        assert pages.t(f"setting.{item}") != f"setting.{item}", item
            saw = pages._observed(observed, check["id"])
            for raw in ("encryptable", "installation_type", "settings_off", "_seconds"):
                assert raw not in text_of(saw), (name, check["id"], raw)
    assert walked > 100


def test_a_screen_lock_that_is_off_shows_no_lock_delay():
    saw = pages._observed({"enabled": False, "idle_seconds": 0, "lock_delay_seconds": 0}, "screen_lock")
    assert "Locks by itself" in saw and "No" in saw
    assert "immediately" not in saw and "never" not in saw
    saw = pages._observed({"enabled": False, "stealth": True}, "firewall")
    assert "Firewall on" in saw and "Stealth" not in saw


def test_linux_pages_show_the_settings_command_as_text(reports):
    shown = set()
    for name, report in reports.items():
        if report["device"]["platform"] != "linux":
            continue
        for check in report["checks"]:
            fix = check.get("fix") or {}
            if check["status"] not in ("fail", "nudge") or not fix.get("open"):
                continue
            page = pages.render_fix_page(check, report)
            cmd = " ".join(fix["open"])
            assert f'<pre class="cmd"><code>{htmllib.escape(cmd)}</code></pre>' in page, (name, check["id"])
            assert fix["menu_path"] and htmllib.escape(fix["menu_path"]) in page
            shown.add(fix["open"][0])
    assert {"gnome-control-center", "systemsettings"} <= shown or {"gnome-control-center"} <= shown, shown
    assert any(c in shown for c in ("systemsettings", "kcmshell5", "kcmshell6")), shown


def test_report_collapses_what_does_not_apply(reports):
    report = reports["macos/sonoma-14-6-compliant"]
    page = pages.render_report(report)
    table, details = page.split('<details class="na">')
    assert "Antivirus" not in text_of(table) and "Antivirus" in text_of(details)
    assert "Not on this computer" in details


# --------------------------------------------------------------------------------------
# In a real browser
# --------------------------------------------------------------------------------------

why = axekit.skip_reason()
browser_only = pytest.mark.skipif(why is not None, reason=why or "")
# One report per OS with several problems, two all-good ones, and the about page.
REPORTS = ("macos/ventura-13-6-filevault-off-remote-login-admin",
           "windows/win10-22h2-bitlocker-off-firewall-partly-off",
           "linux/ubuntu-22-04-gnome-lock-disabled-mokutil-missing",
           "linux/kubuntu-22-04-kde-explicit-lock-settings",
           "macos/sonoma-14-6-compliant", "windows/win11-24h2-enterprise-compliant")


def page_set(reports, out: Path) -> list[Path]:
    """Every page kind: the reports above, and each check's fix page for every status it has in
    any capture (first capture per OS that shows it), plus about."""
    chosen: list[Path] = []
    done: set[tuple] = set()
    for i, name in enumerate(list(REPORTS) + [n for n in reports if n not in REPORTS]):
        report = reports[name]
        d = out / f"r{i}"
        paths = pages.write_pages(report, {"name": "ACME IT", "help_url": "https://help.example.com"},
                                  str(d), server_url=None, state_dir="/home/alice/.local/state/checkup")
        if name in REPORTS:
            chosen.append(Path(paths["report"]))
        for check in report["checks"]:
            key = (report["device"]["platform"], check["id"], check["status"])
            if key not in done:
                done.add(key)
                chosen.append(Path(paths[check["id"]]))
        if i == 0:
            chosen.append(Path(paths["about"]))
    return chosen


@browser_only
def test_every_page_kind_is_accessible_and_fits_a_phone(reports, tmp_path):
    chosen = page_set(reports, tmp_path)
    statuses = {s for p in chosen for s in ("pass", "fail", "nudge", "unknown", "skip")
                if f'class="badge {s}"' in p.read_text()}
    assert statuses == {"pass", "fail", "nudge", "unknown", "skip"}
    problems = []
    with axekit.axe_browser() as b:
        for width in (1280, 390):
            b.goto(chosen[0].as_uri())
            b.width(width)
            for path in chosen:
                b.goto(path.as_uri())
                for v in axekit.serious(b):
                    problems.append(f"{width}px {path.parent.name}/{path.name}: {v}")
                if width == 390:
                    fit = b.js("[document.scrollingElement.scrollWidth, window.innerWidth]")
                    if fit[0] > fit[1]:
                        problems.append(f"390px {path.parent.name}/{path.name}: {fit[0]} px wide")
                    tall = b.js("JSON.stringify([...document.querySelectorAll('.badge')]"
                                ".filter(e => e.getBoundingClientRect().height > 2.2 * "
                                "parseFloat(getComputedStyle(e).fontSize)).map(e => e.textContent))")
                    if json.loads(tall):
                        problems.append(f"390px {path.parent.name}/{path.name}: badge wraps {tall}")
    assert not problems, "\n".join(problems)


@browser_only
def test_the_phone_check_catches_overflow(tmp_path):
    """The 390 px measure sees a page that is too wide (so a pass above means something)."""
    wide = tmp_path / "wide.html"
    wide.write_text('<!doctype html><html lang="en"><head><title>t</title>'
                    '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
                    '<body><main><table><tr><td style="white-space:nowrap">' + "word " * 80 +
                    '</td></tr></table></main></body></html>')
    with axekit.axe_browser() as b:
        b.goto(wide.as_uri())
        b.width(390)
        assert b.js("document.scrollingElement.scrollWidth") > b.js("window.innerWidth")
