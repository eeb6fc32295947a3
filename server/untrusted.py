"""Text that came from agents or MDMs, on its way to a page, a CSV file, JSON or the database.

- Pages (Jinja ``finalize``) and CSV cells lose bidi controls (U+202A-202E, U+2066-2069,
  U+200E/200F, U+061C), C0 control characters other than tab and line breaks, DEL and C1
  controls, so a hostname like ``invoice\u202Egpj.exe`` cannot reorder what IT reads.
- CSV cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
  ``@``, tab or carriage return) get a leading ``'``, as OWASP advises. ``write_csv`` is
  the one CSV writer of the server.
- JSON keeps the data exact: ``json_text`` writes bidi and control characters as
  ``\\uXXXX`` escapes, so the values are unchanged but no viewer reorders them.
- ``storable`` makes MDM text fit the database: NUL (PostgreSQL refuses it in text) is
  removed and lone surrogates become U+FFFD.
"""
from __future__ import annotations

import csv
import json
import re
from typing import IO, Any, Iterable

BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
# bidi controls, and C0 controls (except tab, LF, CR), DEL and C1 controls
_UNSHOWABLE = re.compile(f"[{BIDI_CONTROLS}\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def shown(value: str) -> str:
    """``value`` as a page or a spreadsheet may show it: no bidi or control characters."""
    return _UNSHOWABLE.sub("", value)


def storable(value: str) -> str:
    """Text the database accepts: NUL removed, lone surrogates replaced by U+FFFD."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    return _LONE_SURROGATE.sub("\ufffd", value)


def csv_cell(value: Any) -> str:
    """One CSV cell: lists joined with spaces, None empty, no bidi or control characters,
    and a leading ``'`` where a spreadsheet would otherwise see a formula."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = " ".join("" if v is None else str(v) for v in value)
    if isinstance(value, bool):
        value = "true" if value else "false"
    text = shown(str(value))   # "\u202e=cmd" is a formula once the control is gone
    if text.startswith(FORMULA_START):
        text = "'" + text
    # line breaks as "\n", which the writer quotes (a bare CR would end the row for some readers)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def write_csv(fh: IO[str], header: Iterable[str], rows: Iterable[Iterable[Any]]) -> None:
    """Every CSV the server writes: a header, then one line per row, every cell through
    ``csv_cell``."""
    w = csv.writer(fh, lineterminator="\n")
    w.writerow([csv_cell(h) for h in header])
    for row in rows:
        w.writerow([csv_cell(v) for v in row])


def _escape_char(m: re.Match) -> str:
    return "\\u%04x" % ord(m.group(0))


_JSON_RAW = re.compile(f"[{BIDI_CONTROLS}\x7f]")


def json_text(obj: Any, **kw: Any) -> str:
    """``json.dumps(obj, ensure_ascii=False, **kw)`` with bidi controls and DEL escaped as
    ``\\uXXXX`` (json already escapes the C0 controls): the same data, shown in order."""
    text = json.dumps(obj, ensure_ascii=False, **kw)
    # these characters can only occur inside JSON strings, where the escape means the same
    return _JSON_RAW.sub(_escape_char, text)
