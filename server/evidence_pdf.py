"""The evidence report as a PDF (fpdf2): dated, with the policy in force each day.

Agent-supplied text (hostnames, owners, OS) goes through server.untrusted.shown (no control
or bidi characters) and is written as plain text cells: PDF text cannot run.

Fonts: DejaVu (Debian's fonts-dejavu-core, in the server image) where it is installed, so
names in Greek, Cyrillic, accented Latin … print as written; without it the built-in
Helvetica, which covers Latin-1 only, and any other character prints as "?" rather than
being dropped silently.
"""
from __future__ import annotations

import logging
import os

from fpdf import FPDF

from .fleet import check_title
from .untrusted import shown

log = logging.getLogger("checkup.server")

FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu",
             "/usr/share/fonts/dejavu-sans-fonts", "/usr/share/fonts/TTF")
_FACES = {("body", ""): "DejaVuSans.ttf", ("body", "B"): "DejaVuSans-Bold.ttf",
          ("mono", ""): "DejaVuSansMono.ttf"}
_CORE = {"body": "Helvetica", "mono": "Courier"}


def font_files() -> dict | None:
    """{(family, style): path} of the DejaVu faces, or None where one is missing."""
    for folder in FONT_DIRS:
        found = {k: os.path.join(folder, name) for k, name in _FACES.items()}
        if all(os.path.isfile(p) for p in found.values()):
            return found
    return None


def _t(value, unicode: bool = False) -> str:  # noqa: ANN001
    text = shown("" if value is None else str(value))
    return text if unicode else text.encode("latin-1", "replace").decode("latin-1")


def _pct(share) -> str:  # noqa: ANN001
    return "-" if share is None else f"{share * 100:.1f}%"


class _Doc(FPDF):
    def __init__(self, generated: str):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.generated = generated
        self.set_auto_page_break(auto=True, margin=15)
        self.set_title("Checkup: device evidence")
        self.set_creator("Checkup server")
        files = font_files()
        self.unicode = files is not None
        if files:
            for (family, style), path in files.items():
                self.add_font(family, style, path)
        else:
            log.warning("evidence PDF: DejaVu fonts not found (%s): names outside Latin-1 print as '?'",
                        ", ".join(FONT_DIRS))

    def font(self, family: str, style: str = "", size: float = 10) -> None:
        self.set_font(family if self.unicode else _CORE[family], style, size)

    def words(self, value) -> str:  # noqa: ANN001
        return _t(value, self.unicode)

    def footer(self) -> None:
        self.set_y(-12)
        self.font("body", size=8)
        self.cell(0, 5, self.words(f"Checkup evidence report - generated {self.generated} UTC - "
                           f"page {self.page_no()}/{{nb}}"), align="C")


def render(report: dict) -> bytes:
    pdf = _Doc(report["generated_at"])
    for day in report["days"]:
        _day(pdf, day)
    return bytes(pdf.output())


def _table(pdf: _Doc, header: list[str], widths: list[float], rows: list[list]) -> None:
    pdf.font("body", "B", 8)
    for h, w in zip(header, widths):
        pdf.cell(w, 6, pdf.words(h), border=1)
    pdf.ln()
    pdf.font("body", size=8)
    for row in rows:
        if pdf.will_page_break(6):
            pdf.add_page()
        for v, w in zip(row, widths):
            text = pdf.words(v)
            while text and pdf.get_string_width(text) > w - 2:
                text = text[:-1]
            pdf.cell(w, 6, text, border=1)
        pdf.ln()


def _day(pdf: _Doc, day: dict) -> None:
    pdf.add_page()
    pdf.font("body", "B", 16)
    pdf.cell(0, 10, pdf.words(f"Device evidence for {day['date']} (UTC)"), new_x="LMARGIN", new_y="NEXT")
    pdf.font("body", size=10)
    pdf.multi_cell(0, 5, pdf.words(
        f"{day['devices_counted']} devices counted (enrolled and not revoked that day); "
        f"{day['devices_reported']} reported that day; "
        f"{day['devices_counted'] - day['devices_reported']} sent no report. "
        + (f"{day['devices_without_detail']} reported before per-check history was kept "
           "(per-check detail not recorded). " if day['devices_without_detail'] else "")),
        new_x="LMARGIN", new_y="NEXT")
    pol = day["policy"]
    pdf.ln(2)
    pdf.font("body", "B", 12)
    pdf.cell(0, 7, "Controls", new_x="LMARGIN", new_y="NEXT")
    _table(pdf, ["Framework", "Control", "Checks", "Meeting", "Share"], [32, 18, 90, 25, 25],
           [[c["framework"], c["control"], ", ".join(map(check_title, c["checks"])), f"{c['meeting']}/{c['devices']}",
             _pct(c["share_meeting"])] for c in day["controls"]])
    pdf.ln(3)
    pdf.font("body", "B", 12)
    pdf.cell(0, 7, "Checks: devices passing", new_x="LMARGIN", new_y="NEXT")
    _table(pdf, ["Check", "Passing", "Share", "Other statuses"], [40, 25, 25, 100],
           [[check_title(c["check_id"]), f"{c['passing']}/{c['devices']}", _pct(c["share_passing"]),
             ", ".join(f"{k} {v}" for k, v in sorted(c["statuses"].items()) if k != "pass")]
            for c in day["checks"]])
    pdf.ln(3)
    pdf.font("body", "B", 12)
    pdf.cell(0, 7, "Devices", new_x="LMARGIN", new_y="NEXT")
    _table(pdf, ["Device", "Owner", "OS", "Status that day", "Failing", "Last report"],
           [38, 40, 30, 26, 32, 24],
           [[d["hostname"] or d["device_id"], d["owner"] or "-", d["os"], d["status"],
             ", ".join(map(check_title, d["failing"])), d["last_report"] or "never"] for d in day["devices"]])
    pdf.ln(3)
    pdf.font("body", "B", 12)
    pdf.cell(0, 7, "Policy in force", new_x="LMARGIN", new_y="NEXT")
    pdf.font("body", size=9)
    pdf.multi_cell(0, 5, pdf.words(
        f"The organisation's policy saved {pol['saved_at']} by {pol['saved_by']}:"
        if pol["source"] == "organisation" else
        "No organisation policy was in force: the agents' default policy applied:"),
        new_x="LMARGIN", new_y="NEXT")
    pdf.font("mono", size=7)
    pdf.multi_cell(0, 3.5, pdf.words(pol["text"]), new_x="LMARGIN", new_y="NEXT")
