"""The readable table `checkup` prints: worst first, a fix hint under each problem.

Lines are wrapped to the terminal's width with a hanging indent, only between words and
never inside a command (a `backticked` part, the fix's command, or a path or URL, which have
no spaces): a command longer than the line stays whole and runs past the edge."""
from __future__ import annotations

import os
import re
import shutil
import sys

from .pipeline import worst_first
from .strings import device_words, t

LABEL = {"fail": "FAIL", "nudge": "FIX SOON", "unknown": "UNKNOWN", "skip": "SKIP", "pass": "OK",
         "exempt": "EXEMPT"}
COLOR = {"fail": "31", "nudge": "33", "unknown": "90", "skip": "90", "pass": "32", "exempt": "36"}
NARROW = 30      # below this many columns for the summary, it goes under the title


def _paint(text: str, code: str, color: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


def terminal_width() -> int | None:
    """Columns to wrap to: $COLUMNS, else the terminal's width; None (no wrapping) when the
    output is not a terminal, so a pipe or a file gets one line per item."""
    try:
        cols = int(os.environ.get("COLUMNS", ""))
        if cols > 0:
            return cols
    except ValueError:
        pass
    try:
        if not sys.stdout.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    return shutil.get_terminal_size((80, 24)).columns


def words(text: str, commands: list[str] = ()) -> list[str]:
    """``text`` cut into the pieces a line may break between: words, with every command
    (given, or in backticks) kept whole along with the punctuation touching it."""
    whole = [re.escape(c) for c in sorted({c for c in commands if c and " " in c}, key=len, reverse=True)]
    unit = "|".join(whole + [r"`[^`]*`", r"\S"])
    return re.findall(f"(?:{unit})+", text)


def wrap(text: str, first: str, indent: int, width: int | None, commands: list[str] = ()) -> list[str]:
    """``first`` + ``text``, wrapped to ``width`` with later lines indented ``indent`` spaces.
    ``first`` may hold colour codes: its visible length is measured without them."""
    if width is None:
        return [first + text]
    start = len(re.sub(r"\033\[[0-9;]*m", "", first))
    lines, line, used = [], first, start
    for w in words(text, commands):
        if used > indent and used + 1 + len(w) > width:
            lines.append(line.rstrip())
            at = _indent_for(w, indent, width)
            line, used = " " * at + w, max(indent, at + len(w))
        else:
            sep = "" if used == start and line == first else " "
            line, used = line + sep + w, used + len(sep) + len(w)
    lines.append(line.rstrip())
    return lines


def _indent_for(piece: str, indent: int, width: int | None) -> int:
    """The hanging indent, less (down to 4) for a command that would run past the edge there."""
    if width is None or indent + len(piece) <= width:
        return indent
    return max(min(4, indent), width - len(piece))


def _commands(fix: dict) -> list[str]:
    cmd = fix.get("command")
    out = [" ".join(cmd) if isinstance(cmd, list) else cmd] if cmd else []
    if isinstance(fix.get("open"), list):
        out.append(" ".join(fix["open"]))
    return [c for c in out if isinstance(c, str)]


def render_table(report: dict, color: bool = False, width: int | None = None,
                 page: str | None = None) -> str:
    dev = report.get("device", {})
    name = " ".join(x for x in (dev.get("os_name"), dev.get("os_version")) if x)
    lines = wrap(f"Checkup {report.get('agent_version', '')} on {dev.get('hostname') or 'this computer'}"
                 + (f" ({name})" if name else ""), "", 2, width)
    status = report.get("status", "unknown")
    lines += [_paint(x, COLOR.get(status, "0"), color) for x in wrap(device_words(report), "", 0, width)]
    lines.append("")
    checks = worst_first(report.get("checks", []))
    width_label = max(len(v) for v in LABEL.values())
    width_title = max([len(c.get("title", "")) for c in checks] + [5])
    column = 2 + width_label + 2 + width_title + 2
    narrow = width is not None and width - column < NARROW
    for check in checks:
        st = check["status"]
        fix = check.get("fix") or {}
        commands = _commands(fix)
        label = _paint(LABEL.get(st, st.upper()).ljust(width_label), COLOR.get(st, "0"), color)
        title = check.get("title", check["id"])
        if narrow:
            lines.append(f"  {label}  {title}")
            lines += wrap(check.get("summary", ""), "    ", 4, width, commands)
            pad = "    "
        else:
            lines += wrap(check.get("summary", ""), f"  {label}  {title.ljust(width_title)}  ", column,
                          width, commands)
            pad = " " * column
        if st in ("fail", "nudge") and fix.get("hint"):
            lines += wrap(fix["hint"], f"{pad}-> ", len(pad) + 3, width, commands)
            if fix.get("command") and fix["command"] not in fix["hint"]:
                at = _indent_for(f"$ {fix['command']}", len(pad) + 3, width)
                lines.append(f"{' ' * at}$ {fix['command']}")     # one line, whatever its length
    lines.append("")
    lines.append(f"Checked at {report.get('checked_at', '')}.")
    if page:
        lines += wrap(page, t("cli.report_page") + " ", 2, width)
    return "\n".join(lines) + "\n"


def render_explain(check: dict, width: int | None = None, page: str | None = None) -> str:
    """`checkup explain CHECK`: the fix page as text — summary, why, the steps, where to click,
    the command and the link."""
    st = check.get("status") or "unknown"
    fix = check.get("fix") if isinstance(check.get("fix"), dict) else {}
    commands = _commands(fix)
    lines = [f"{check.get('title') or check.get('id')}: {t('status.' + st)}"]
    lines += wrap(check.get("summary") or "", "", 0, width, commands)
    lines.append("")
    if st == "unknown":
        lines += wrap(t("page.unknown"), "", 0, width)
        lines += wrap(t("page.unknown_todo"), "", 0, width)
    elif st in ("fail", "nudge"):
        if fix.get("why"):
            lines += wrap(fix["why"], t("page.why") + ": ", 2, width)
        steps = [s for s in fix.get("steps") or [] if isinstance(s, str) and s.strip()]
        if steps:
            lines += ["", t("page.steps") + ":"]
            for n, step in enumerate(steps, 1):
                lines += wrap(step, f"  {n}. ", 5 + (n >= 10), width, commands)
        if fix.get("needs_it"):
            lines += wrap(t("page.needs_it"), "", 0, width)
        if fix.get("menu_path"):
            lines += wrap(fix["menu_path"], t("page.menu_path", path="").rstrip() + " ", 2, width)
        if fix.get("link"):
            lines.append(t("cli.link", link=fix["link"]))
        elif isinstance(fix.get("open"), list) and fix["open"] and \
                fix["open"][0] not in ("/usr/bin/open", "explorer.exe"):
            lines += [t("page.open_command"), f"  $ {' '.join(fix['open'])}"]
        if fix.get("command"):
            lines += [t("page.run_command"), f"  $ {fix['command']}"]
        if not steps and fix.get("hint"):
            lines += wrap(fix["hint"], "", 0, width, commands)
    elif st == "skip":
        lines += wrap(t("page.skip"), "", 0, width)
    else:
        lines += wrap(t("page.passing"), "", 0, width)
    if page:
        lines += ["", *wrap(page, t("cli.fix_page") + " ", 2, width)]
    return "\n".join(lines) + "\n"
