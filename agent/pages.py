"""Fix pages and the overview report: self-contained HTML, no network, no JavaScript.

Everything that comes from the machine, the report or the policy is escaped (and loses
bidi and control characters);
links are only made from schemes on an allow-list (a ``javascript:`` link in a
policy stays text). Strings come from agent.strings.
"""
from __future__ import annotations

import html
import os
import re
from urllib.parse import quote
from datetime import datetime, timezone
from typing import Any, Iterable
from pathlib import Path

from . import __version__
from .state import atomic_write_text
from .observed import observed_label, rows as observed_rows  # noqa: F401 - observed_label is part of this API
from .strings import device_words, t  # noqa: F401 - device_words is part of this API

SETTINGS_SCHEMES = ("x-apple.systempreferences", "ms-settings", "windowsdefender", "macappstore",
                    "https", "http")
HELP_SCHEMES = ("https", "http", "mailto", "tel")
STATUS_SYMBOL = {"pass": "✓", "skip": "–", "exempt": "○", "unknown": "?", "nudge": "!", "fail": "✕",
                 "checking": "…"}
ORDER = {"fail": 0, "nudge": 1, "unknown": 2, "exempt": 3, "pass": 4, "skip": 5}
_ID = re.compile(r"[^a-z0-9_]+")
# bidi controls (U+202A-202E, U+2066-2069, U+200E/200F, U+061C) and C0/C1 controls but tab
# and line breaks: a hostname or a policy text must not reorder or hide what the page says
_UNSHOWABLE = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c"
                         "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def esc(value: Any) -> str:
    return html.escape(_UNSHOWABLE.sub("", "" if value is None else str(value)), quote=True)


def safe_url(url: Any, schemes: Iterable[str]) -> str | None:
    """``url`` if its scheme is allowed (and it has no control characters), else None."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    if not url or any(ord(c) < 32 or c in '"<>`' for c in url):
        return None
    m = re.match(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):", url)
    if not m or m.group(1).lower() not in schemes:
        return None
    return url


def page_name(check_id: str) -> str:
    return (_ID.sub("_", str(check_id).lower()) or "check") + ".html"


def file_uri(path: str) -> str:
    """file:///home/alice/.local/share/Checkup/pages/firewall.html (percent-encoded)."""
    return Path(os.path.abspath(path)).as_uri()


def format_when(checked_at: Any) -> str:
    """'2026-11-26T15:09:26Z' -> '26 Nov 2026, 15:09' in local time (as given if unparsable)."""
    if not isinstance(checked_at, str) or not checked_at:
        return t("when.never")
    try:
        when = datetime.fromisoformat(checked_at.replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return when.astimezone().strftime("%-d %b %Y, %H:%M") if os.name != "nt" else \
            when.astimezone().strftime("%d %b %Y, %H:%M")
    except ValueError:
        return checked_at


CSS = """
:root{color-scheme:light dark;--bg:#f6f7f9;--fg:#1d2125;--card:#fff;--muted:#5d6670;--line:#d9dde2;
--pass:#1a7f37;--nudge:#9a6700;--fail:#c62828;--unknown:#5f6b76;--skip:#5f6b76;--btn:#0b57d0;--btnfg:#fff}
@media (prefers-color-scheme:dark){:root{--bg:#16191c;--fg:#e8eaed;--card:#202428;--muted:#a4acb5;
--line:#3a4046;--pass:#5bd17a;--nudge:#f2c14e;--fail:#ff6b6b;--unknown:#a4acb5;--skip:#a4acb5;
--btn:#8ab4f8;--btnfg:#0b1a33}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,"Segoe UI",
Roboto,Ubuntu,"DejaVu Sans",sans-serif}
main{max-width:760px;margin:0 auto;padding:24px 20px 40px}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:20px 24px;margin:16px 0}
h1{font-size:1.6em;margin:.2em 0}
h2{font-size:1.15em;margin:0 0 .5em}
.badge{display:inline-flex;align-items:center;gap:.45em;font-weight:600;padding:.2em .75em .2em .3em;
border-radius:999px;border:2px solid currentColor;white-space:nowrap}
.badge .sym{display:inline-block;width:1.5em;height:1.5em;line-height:1.5em;text-align:center;border-radius:50%;
color:var(--card);font-weight:700}
.pass{color:var(--pass)}.pass .sym{background:var(--pass)}
.nudge{color:var(--nudge)}.nudge .sym{background:var(--nudge)}
.fail{color:var(--fail)}.fail .sym{background:var(--fail)}
.unknown,.skip,.exempt,.checking{color:var(--unknown)}
.unknown .sym,.skip .sym,.exempt .sym,.checking .sym{background:var(--unknown)}
.summary{font-size:1.1em;margin:.6em 0 0}
ol.steps{padding-left:1.4em;margin:.3em 0}ol.steps li{margin:.45em 0}
a.button{display:inline-block;background:var(--btn);color:var(--btnfg);text-decoration:none;font-weight:600;
padding:.6em 1.2em;border-radius:8px;margin:.4em 0}
.path{color:var(--muted);margin:.3em 0}
code,pre{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:.92em}
pre{background:var(--bg);border:1px solid var(--line);border-radius:8px;padding:.6em .8em;overflow-x:auto;
white-space:pre-wrap;word-break:break-all}
.muted{color:var(--muted)}
table{width:100%;border-collapse:collapse}
td,th{text-align:left;padding:.55em .4em;border-top:1px solid var(--line);vertical-align:top}
th{font-size:.85em;color:var(--muted);font-weight:600;border-top:0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em;margin:0}dt{color:var(--muted)}dd{margin:0;
word-break:break-word}
.help{white-space:pre-line}
td{overflow-wrap:break-word;hyphens:none}
pre.cmd{user-select:all;-webkit-user-select:all}
details.na{margin-top:1em}details.na summary{cursor:pointer;color:var(--muted);font-weight:600}
@media (max-width:600px){main{padding:12px 10px 32px}.card{padding:16px}
table.checks,table.checks tbody,table.checks tr,table.checks td{display:block;width:100%}
table.checks tr.head{display:none}table.checks tr{border-top:1px solid var(--line);padding:.5em 0}
table.checks td{border-top:0;padding:.15em 0}}
nav a{color:var(--btn)}
footer{color:var(--muted);font-size:.85em;margin-top:24px}
"""


def _doc(title: str, body: str, refresh_s: int | None = None) -> str:
    refresh = f"<meta http-equiv=\"refresh\" content=\"{int(refresh_s)}\">" if refresh_s else ""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">" + refresh +
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'; img-src data:\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head>"
            f"<body><main>{body}<footer>{esc(t('page.footer', version=__version__))}</footer>"
            "</main></body></html>\n")


def badge(status: str) -> str:
    status = status if status in STATUS_SYMBOL else "unknown"
    return (f"<span class=\"badge {status}\"><span class=\"sym\" aria-hidden=\"true\">"
            f"{STATUS_SYMBOL[status]}</span>{esc(t('status.' + status))}</span>")


def _help_card(org: dict | None) -> str:
    org = org or {}
    name, url, text = org.get("name"), safe_url(org.get("help_url"), HELP_SCHEMES), org.get("help_text")
    parts = [f"<h2>{esc(t('page.help_heading'))}</h2>"]
    if text:
        parts.append(f"<p class=\"help\">{esc(text)}</p>")
    if url:
        label = t("page.help_contact", name=name) if name else url
        parts.append(f"<p><a href=\"{esc(url)}\">{esc(label)}</a></p>")
    elif org.get("help_url"):
        parts.append(f"<p class=\"muted\">{esc(org.get('help_url'))}</p>")
    if not text and not url:
        parts.append(f"<p>{esc(t('page.help_default'))}</p>" if not name
                     else f"<p>{esc(t('page.help_contact', name=name))}</p>")
    return "<section class=\"card\">" + "".join(parts) + "</section>"


def _observed(observed: Any, check_id: str | None = None) -> str:
    found = observed_rows(observed, check_id)
    if not found:
        return ""
    items = "".join(f"<dt>{esc(label)}</dt><dd>{esc(words)}</dd>" for label, words in found)
    return f"<section class=\"card\"><h2>{esc(t('page.observed'))}</h2><dl>{items}</dl></section>"


def _open_command(fix: dict, link: str | None) -> str:
    """The desktop's settings command (Linux: ``gnome-control-center privacy``) as text to copy.

    Only where there is no button: the page never runs anything (it has no JavaScript)."""
    argv = fix.get("open")
    if link or not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        return ""
    if argv[0] in ("/usr/bin/open", "explorer.exe"):      # the agent's way of opening a link
        return ""
    return (f"<p>{esc(t('page.open_command'))}</p>"
            f"<pre class=\"cmd\"><code>{esc(' '.join(argv))}</code></pre>")


def _unknown_card(check: dict, fix: dict) -> str:
    """A check that could not be checked: what could not be read and what to do (usually
    nothing). Never the failure's steps: nothing is known to be off."""
    parts = [f"<section class=\"card\"><h2>{esc(t('page.unknown_heading'))}</h2>",
             f"<p>{esc(t('page.unknown'))}</p>",
             f"<h2>{esc(t('page.unknown_todo_heading'))}</h2><p>{esc(t('page.unknown_todo'))}</p>"]
    menu = fix.get("menu_path") if isinstance(fix, dict) else None
    if isinstance(menu, str) and menu:
        parts.append(f"<p class=\"path\">{esc(t('page.unknown_look', path=menu))}</p>")
    parts.append("</section>")
    return "".join(parts)


def check_again_card(key: str, status: str, again: dict | None) -> str:
    """The "I fixed it — check again" loop (the tray's ``again``: ``url`` of its loopback
    re-check link, ``refresh_s`` while a re-check is due, ``at`` "10:47" of the last one)."""
    if not again:
        return ""
    out = []
    if again.get("at"):
        if key == "report":
            words = t("again.report_pass") if status == "pass" else t("again.report_still")
        else:
            words = t("again.fixed") if status in ("pass", "skip") else \
                t("again.unknown") if status == "unknown" else t("again.still")
        said = t("again.checked_at", when=again["at"], words=words)
        out.append(f"<p class=\"summary\" style=\"margin:.2em 0\"><strong>{esc(said)}</strong></p>")
    url = safe_url(again.get("url"), ("http",))
    if url and status in ("fail", "nudge", "unknown"):
        href = f"{url}?page={quote(key, safe='')}"
        out.append(f"<p style=\"margin:.2em 0\"><a class=\"button\" id=\"check-again\" href=\"{esc(href)}\">"
                   f"{esc(t('again.button'))}</a></p>")
    if again.get("refresh_s"):
        out.append(f"<p class=\"muted\" style=\"margin:.2em 0\">{esc(t('again.pending'))}</p>")
    return "<section class=\"card\">" + "".join(out) + "</section>" if out else ""


def render_fix_page(check: dict, report: dict, org: dict | None = None, again: dict | None = None) -> str:
    status = check.get("status") or "unknown"
    fix = check.get("fix") if isinstance(check.get("fix"), dict) else {}
    title = check.get("title") or check.get("id") or ""
    device = report.get("device") or {}
    out = [f"<nav><a href=\"report.html\">{esc(t('page.back'))}</a></nav>",
           "<section class=\"card\">", f"<h1>{esc(title)}</h1>", badge(status)]
    if check.get("summary"):
        out.append(f"<p class=\"summary\">{esc(check['summary'])}</p>")
    last = t("page.last_checked", when=format_when(report.get("checked_at")),
             hostname=device.get("hostname") or "?")
    out.append(f"<p class=\"muted\">{esc(last)}</p>")
    out.append("</section>")
    out.append(check_again_card(str(check.get("id") or ""), status, again))
    if status == "unknown":
        out.append(_unknown_card(check, fix))
    elif status in ("fail", "nudge"):
        if fix.get("why"):
            out.append(f"<section class=\"card\"><h2>{esc(t('page.why'))}</h2><p>{esc(fix['why'])}</p></section>")
        steps = [s for s in (fix.get("steps") or []) if isinstance(s, str) and s.strip()]
        link = safe_url(fix.get("link"), SETTINGS_SCHEMES)
        menu = fix.get("menu_path")
        if steps or link or menu or fix.get("command"):
            out.append(f"<section class=\"card\"><h2>{esc(t('page.steps'))}</h2>")
            if fix.get("needs_it"):
                out.append(f"<p><strong>{esc(t('page.needs_it'))}</strong></p>")
            if link:
                out.append(f"<p><a class=\"button\" href=\"{esc(link)}\">{esc(t('page.open_settings'))}</a></p>")
            if menu:
                out.append(f"<p class=\"path\">{esc(t('page.menu_path', path=menu))}</p>")
            out.append(_open_command(fix, link))
            if steps:
                out.append("<ol class=\"steps\">" + "".join(f"<li>{esc(s)}</li>" for s in steps) + "</ol>")
            if fix.get("command"):
                cmd = fix["command"]
                cmd = " ".join(cmd) if isinstance(cmd, list) else str(cmd)
                out.append(f"<p>{esc(t('page.run_command'))}</p><pre><code>{esc(cmd)}</code></pre>")
            if not steps and fix.get("hint"):      # the hint is the CLI's one-liner; steps say more
                out.append(f"<p>{esc(fix['hint'])}</p>")
            out.append("</section>")
        else:
            out.append(f"<section class=\"card\"><p>{esc(t('page.no_fix'))}</p></section>")
    elif status == "skip":
        out.append(f"<section class=\"card\"><p>{esc(t('page.skip'))}</p></section>")
    elif status == "exempt":
        out.append(f"<section class=\"card\"><p>{esc(t('page.exempt'))}</p></section>")
    else:
        out.append(f"<section class=\"card\"><p>{esc(t('page.passing'))}</p></section>")
    out.append(_observed(check.get("observed"), check.get("id")))
    out.append(_help_card(org))
    return _doc(t("page.title", title=title), "".join(out), (again or {}).get("refresh_s"))


def render_report(report: dict, org: dict | None = None, again: dict | None = None) -> str:
    device = report.get("device") or {}
    status = report.get("status") or "unknown"
    hostname = device.get("hostname") or "?"
    os_words = " ".join(str(x) for x in (device.get("os_name"), device.get("os_version")) if x) or "?"
    checks = sorted(report.get("checks") or [], key=lambda c: ORDER.get(c.get("status"), 9))
    rows, not_here = [], []
    for c in checks:
        if c.get("status") == "skip":       # collapsed under "Not on this computer"
            not_here.append(f"<li><a href=\"{esc(page_name(c.get('id', '')))}\">"
                            f"{esc(c.get('title') or c.get('id'))}</a>: {esc(c.get('summary') or '')}</li>")
            continue
        name = page_name(c.get("id", ""))
        link = (f" <a href=\"{esc(name)}\">{esc(t('page.open_fix'))}</a>" if c.get("status") in ("fail", "nudge")
                else f" <a href=\"{esc(name)}\">{esc(t('page.details'))}</a>")
        rows.append(f"<tr><td><a href=\"{esc(name)}\">{esc(c.get('title') or c.get('id'))}</a></td>"
                    f"<td>{badge(c.get('status') or 'unknown')}</td>"
                    f"<td>{esc(c.get('summary') or '')}{link}</td></tr>")
    body = ["<section class=\"card\">", f"<h1>{esc(t('page.report_heading'))}</h1>", badge(status),
            f"<p class=\"summary\">{esc(device_words(report))}</p>",
            f"<p class=\"muted\">{esc(t('page.device', os=os_words, hostname=hostname))}<br>"
            f"{esc(t('page.last_checked', when=format_when(report.get('checked_at')), hostname=hostname))}</p>",
            "</section>", check_again_card("report", status, again),
            f"<section class=\"card\"><h2>{esc(t('page.checks_heading'))}</h2><table class=\"checks\">"
            f"<tr class=\"head\"><th>{esc(t('page.col_check'))}</th><th>{esc(t('page.col_status'))}</th>"
            f"<th>{esc(t('page.col_detail'))}</th></tr>{''.join(rows)}</table>"
            + (f"<details class=\"na\"><summary>{esc(t('page.not_here', n=len(not_here)))}</summary>"
               f"<ul>{''.join(not_here)}</ul></details>" if not_here else "")
            + "</section>",
            _help_card(org)]
    return _doc(t("page.report_title", hostname=hostname), "".join(body), (again or {}).get("refresh_s"))


def render_about(org: dict | None, server_url: str | None, state_dir: str | None) -> str:
    org = org or {}
    who = org.get("name") or t("about.org_default")
    sends = t("about.sends_server", org=who, server=server_url) if server_url else t("about.sends_nothing")
    body = [f"<nav><a href=\"report.html\">{esc(t('page.back'))}</a></nav>",
            f"<section class=\"card\"><h1>{esc(t('about.title'))}</h1><p>{esc(t('about.intro'))}</p></section>",
            f"<section class=\"card\"><h2>{esc(t('about.reads_heading'))}</h2><p>{esc(t('about.reads'))}</p></section>",
            f"<section class=\"card\"><h2>{esc(t('about.sends_heading'))}</h2><p>{esc(sends)}</p></section>",
            f"<section class=\"card\"><h2>{esc(t('about.stored_heading'))}</h2>"
            f"<p>{esc(t('about.stored', path=state_dir or '?'))}</p></section>",
            _help_card(org),
            f"<p class=\"muted\">{esc(t('about.version', version=__version__))}</p>"]
    return _doc(t("about.title"), "".join(body))


def pages_dir(data_dir: str | None = None) -> str:
    if data_dir is None:
        from .config import user_data_dir
        data_dir = user_data_dir()
    return os.path.join(data_dir, "pages")


def write_pages(report: dict, org: dict | None = None, out_dir: str | None = None,
                server_url: str | None = None, state_dir: str | None = None,
                again: dict | None = None) -> dict[str, str]:
    """Write report.html, about.html and one page per check. Returns {check id or
    'report'/'about': absolute path}."""
    out_dir = out_dir or pages_dir()
    os.makedirs(out_dir, exist_ok=True)
    paths: dict[str, str] = {}
    for check in report.get("checks") or []:
        cid = check.get("id")
        if not isinstance(cid, str):
            continue
        path = os.path.join(out_dir, page_name(cid))
        atomic_write_text(path, render_fix_page(check, report, org, again))
        paths[cid] = path
    paths["report"] = os.path.join(out_dir, "report.html")
    atomic_write_text(paths["report"], render_report(report, org, again))
    paths["about"] = os.path.join(out_dir, "about.html")
    atomic_write_text(paths["about"], render_about(org, server_url, state_dir))
    return paths
