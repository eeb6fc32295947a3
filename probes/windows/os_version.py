"""Windows name, version and build from HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion.

Windows Server keeps its own ProductName and the OS id "windows-server" (InstallationType
"Server" / "Server Core" is the signal); only client editions from build 22000 read as
"Windows 11". On Windows 10 22H2 the licensed Extended Security Updates year is read too.
"""
from __future__ import annotations

import json
import re

from ..fact import Fact
from ..host import Host
from ._util import ESU_IDS, ESU_SCRIPT, powershell, registry, to_int

KEY = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion"
WINDOWS_11_FIRST_BUILD = 22000
ESU_BUILD = 19045  # Windows 10 22H2, the only release with Extended Security Updates


def parse_build(value) -> int | None:
    """CurrentBuild (REG_SZ "22631", sometimes a DWORD) as a non-negative int."""
    number = to_int(value)
    return number if number is not None and number >= 0 else None


def is_server(installation_type, name) -> bool:
    """InstallationType "Server" / "Server Core" (or, without it, a "Windows Server" name)."""
    if isinstance(installation_type, str) and installation_type.strip():
        return "server" in installation_type.lower()
    return isinstance(name, str) and name.strip().lower().startswith("windows server")


def product_name(name, build: int | None, server: bool = False) -> str | None:
    """ProductName, with "Windows 10" read as "Windows 11" from build 22000 on (clients only)."""
    if not isinstance(name, str) or not name.strip():
        return None
    name = " ".join(name.split())
    if not server and build is not None and build >= WINDOWS_11_FIRST_BUILD:
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


def text_value(value) -> str | None:
    return " ".join(value.split()) if isinstance(value, str) and value.strip() else None


def parse_esu(text: str | None) -> int | None:
    """The highest licensed ESU year (1-3) in the ESU script's JSON; 0 when none is licensed.

    No output at all means the query found no ESU product (0); anything unreadable is None.
    """
    body = (text or "").strip()
    if not body:
        return 0
    try:
        data = json.loads(body)
    except ValueError:
        return None
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    year = 0
    for item in items:
        ident, status = item.get("ID"), item.get("LicenseStatus")
        if not isinstance(ident, str) or isinstance(status, bool) or not isinstance(status, int):
            return None
        ident = ident.strip().lower()
        if status == 1 and ident in ESU_IDS:
            year = max(year, ESU_IDS.index(ident) + 1)
    return year


def probe(host: Host) -> Fact:
    fact = Fact(extra={"os_id": "windows"})
    raw_build = registry(host, KEY, "CurrentBuild")
    if raw_build is None:  # same number, older name; a fallback after the SOURCES value
        raw_build = registry(host, KEY, "CurrentBuildNumber")
    build = parse_build(raw_build)
    raw_name = registry(host, KEY, "ProductName")
    installation_type = text_value(registry(host, KEY, "InstallationType"))
    server = is_server(installation_type, raw_name)
    if server:
        fact.extra["os_id"] = "windows-server"
    fact.set("name", product_name(raw_name, build, server),
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
    edition = text_value(registry(host, KEY, "EditionID"))
    if edition:  # optional: the judge is careful without it
        fact.observed["edition"] = edition
    if installation_type:
        fact.observed["installation_type"] = installation_type
    if build == ESU_BUILD and not server:
        result = powershell(host, ESU_SCRIPT)
        year = parse_esu(result.stdout) if result.ok else None
        if year is None:
            fact.extra["esu_reason"] = ("the Extended Security Updates license could not be read ("
                                        + result.describe_failure("the licensing query") + ")"
                                        if not result.ok else
                                        "the Extended Security Updates license answer was not understood")
        else:
            fact.observed["esu_year"] = year
    return fact
