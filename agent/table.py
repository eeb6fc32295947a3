"""The readable table `checkup` prints: worst first, a fix hint under each problem."""
from __future__ import annotations

from .pipeline import worst_first
from .strings import device_words

LABEL = {"fail": "FAIL", "nudge": "FIX SOON", "unknown": "UNKNOWN", "skip": "SKIP", "pass": "OK",
         "exempt": "EXEMPT"}
COLOR = {"fail": "31", "nudge": "33", "unknown": "90", "skip": "90", "pass": "32", "exempt": "36"}


def _paint(text: str, code: str, color: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


def render_table(report: dict, color: bool = False) -> str:
    dev = report.get("device", {})
    name = " ".join(x for x in (dev.get("os_name"), dev.get("os_version")) if x)
    lines = [f"Checkup {report.get('agent_version', '')} on {dev.get('hostname') or 'this computer'}"
             + (f" ({name})" if name else "")]
    status = report.get("status", "unknown")
    lines.append(_paint(device_words(report), COLOR.get(status, "0"), color))
    lines.append("")
    checks = worst_first(report.get("checks", []))
    width_label = max(len(v) for v in LABEL.values())
    width_title = max([len(c.get("title", "")) for c in checks] + [5])
    for check in checks:
        st = check["status"]
        label = _paint(LABEL.get(st, st.upper()).ljust(width_label), COLOR.get(st, "0"), color)
        lines.append(f"  {label}  {check.get('title', check['id']).ljust(width_title)}  {check.get('summary', '')}")
        fix = check.get("fix") or {}
        pad = f"  {' ' * width_label}  {' ' * width_title}  "
        if st in ("fail", "nudge") and fix.get("hint"):
            lines.append(f"{pad}-> {fix['hint']}")
            if fix.get("command") and fix["command"] not in fix["hint"]:
                lines.append(f"{pad}   $ {fix['command']}")
    lines.append("")
    lines.append(f"Checked at {report.get('checked_at', '')}.")
    return "\n".join(lines) + "\n"
