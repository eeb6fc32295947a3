"""os_version: `sw_vers` (ProductName, ProductVersion, ProductVersionExtra, BuildVersion).

Old releases print one tab after the colon, newer ones two (ProductVersionExtra
has one); "Mac OS X" reads as "macOS"; 10.13 has no patch number.
"""
from __future__ import annotations

import re

from ..fact import Fact
from ..host import Host
from ._util import SW_VERS, failure, not_understood, run

OS_ID = "macos"
_VERSION = re.compile(r"^\d+(?:\.\d+){0,3}$")
_BUILD = re.compile(r"^[0-9]+[A-Za-z][0-9A-Za-z]*$")
_RSR = re.compile(r"^\([a-z]\)$")


def parse_sw_vers(text: str | None) -> dict[str, str]:
    """The `Key: value` lines of sw_vers, whatever the spacing."""
    fields: dict[str, str] = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if sep and key and value and " " not in key:
            fields.setdefault(key, value)
    return fields


def product_name(value: str | None) -> str | None:
    if not value:
        return None
    if value.startswith("Mac OS X"):
        return "macOS" + value[len("Mac OS X"):]
    return value


def product_version(value: str | None) -> str | None:
    return value if value and _VERSION.match(value) else None


def build_version(value: str | None) -> str | None:
    return value if value and _BUILD.match(value) else None


def rsr(value: str | None) -> str | None:
    """The Rapid Security Response letter, e.g. "(a)"."""
    return value if value and _RSR.match(value) else None


def probe(host: Host) -> Fact:
    fact = Fact(extra={"os_id": OS_ID})
    result = run(host, [SW_VERS])
    if not result.ok:
        reason = failure(result, "sw_vers")
        for name in ("name", "version", "build"):
            fact.miss(name, reason)
        return fact
    fields = parse_sw_vers(result.stdout)
    reason = not_understood("sw_vers")
    fact.set("name", product_name(fields.get("ProductName")), reason)
    fact.set("version", product_version(fields.get("ProductVersion")), reason)
    fact.set("build", build_version(fields.get("BuildVersion")), reason)
    extra = rsr(fields.get("ProductVersionExtra"))
    if extra is not None:
        fact.observed["rsr"] = extra
    return fact
