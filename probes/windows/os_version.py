"""Windows name, version and build from HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion."""
from __future__ import annotations

import re

from ..fact import Fact
from ..host import Host
from ._util import registry, to_int

KEY = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion"
WINDOWS_11_FIRST_BUILD = 22000


def parse_build(value) -> int | None:
    """CurrentBuild (REG_SZ "22631", sometimes a DWORD) as a non-negative int."""
    number = to_int(value)
    return number if number is not None and number >= 0 else None


def product_name(name, build: int | None) -> str | None:
    """ProductName, with "Windows 10" read as "Windows 11" from build 22000 on."""
    if not isinstance(name, str) or not name.strip():
        return None
    name = " ".join(name.split())
    if build is not None and build >= WINDOWS_11_FIRST_BUILD:
        name = re.sub(r"\bWindows 10\b", "Windows 11", name, count=1)
    return name


def version_and_build(build: int | None, ubr) -> tuple[str, str] | None:
    """("10.0.22631.3447", "22631.3447"); without UBR ("10.0.22631", "22631")."""
    if build is None:
        return None
    revision = to_int(ubr)
    if revision is None or revision < 0:
        return f"10.0.{build}", f"{build}"
    return f"10.0.{build}.{revision}", f"{build}.{revision}"


def display_version(display, release_id) -> str | None:
    for value in (display, release_id):
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def probe(host: Host) -> Fact:
    fact = Fact(extra={"os_id": "windows"})
    raw_build = registry(host, KEY, "CurrentBuild")
    if raw_build is None:  # same number, older name; a fallback after the SOURCES value
        raw_build = registry(host, KEY, "CurrentBuildNumber")
    build = parse_build(raw_build)
    fact.set("name", product_name(registry(host, KEY, "ProductName"), build),
             "the Windows product name could not be read from the registry")
    got = version_and_build(build, registry(host, KEY, "UBR"))
    if got is None:
        reason = ("the Windows build number could not be read from the registry"
                  if raw_build is None else
                  "the Windows build number in the registry is not a number")
        fact.miss("version", reason)
        fact.miss("build", reason)
    else:
        fact.observed["version"], fact.observed["build"] = got
    fact.set("display_version",
             display_version(registry(host, KEY, "DisplayVersion"), registry(host, KEY, "ReleaseId")),
             "this Windows release has no version name in the registry")
    return fact
