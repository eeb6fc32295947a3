"""Windows os_version on real `reg query` outputs, and the ESU licensing answer.

Sources (search index of public GitHub material; `reg query "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion"`):
- os_version/server_2022_datacenter.txt, server_2025_standard_core.txt,
  client_win11_23h2_says_windows_10_pro.txt: outputs quoted in a Rust project's tests of its
  Windows label ("20348 must not be read as Windows 10", "26100 must not be read as Windows 11").
- os_version/server_2022_standard_no_build.txt: quoted in a Go port of Facter's tests
  (parseWindowsProductRelease: EditionID ServerStandard, InstallationType Server).
- os_version/server_2019_datacenter.txt, server_2022_standard.txt: outputs a pentest tool's test
  harness replays (wmiexec `reg query` answers from Server 2019 / 2022).
- esu/*.txt: NOT captured outputs. The layout is PowerShell 5.1 ConvertTo-Json (as in
  ../antivirus); the ids are Microsoft's documented ESU activation ids ("Enable Extended
  Security Updates"), LicenseStatus 1 = licensed (documentation example). none_licensed follows
  a public report from a consumer-enrolled Windows 10 Pro N 22H2 PC: "Every Client-ESU-Year*
  SKU reports LicenseStatus=0". empty = the query found no ESU product; garbage = an error text.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from probes.host import RecordedHost
from probes.windows import os_version
from probes.windows._util import ESU_SCRIPT

DATA = Path(__file__).parent / "test-data"
CV = os_version.KEY
ESU = ["powershell.exe", "-NoProfile", "-NonInteractive", "-Command", ESU_SCRIPT]


def reg_query(text: str) -> dict:
    """`reg query` value lines -> registry values as a capture stores them."""
    values = {}
    for line in text.splitlines():
        m = re.match(r"\s+(\S+)\s+(REG_SZ|REG_DWORD)\s+(.*?)\s*$", line)
        if m:
            name, kind, data = m.groups()
            values[name] = int(data, 16) if kind == "REG_DWORD" else data
    return values


def probe(values: dict, commands=()):
    return os_version.probe(RecordedHost({"platform": "windows", "commands": list(commands),
                                          "registry": {CV: values}}))


SERVERS = {
    "server_2022_datacenter": ("Windows Server 2022 Datacenter", "10.0.20348.2700", "Server"),
    "server_2025_standard_core": ("Windows Server 2025 Standard", "10.0.26100", "Server Core"),
    "server_2022_standard_no_build": ("Windows Server 2022 Standard", None, "Server"),
    "server_2019_datacenter": ("Windows Server 2019 Datacenter", "10.0.17763.9245", "Server"),
    "server_2022_standard": ("Windows Server 2022 Standard", "10.0.20348.3930", "Server"),
}


def test_every_os_version_file_is_covered():
    assert {p.stem for p in (DATA / "os_version").glob("*.txt")} == \
        set(SERVERS) | {"client_win11_23h2_says_windows_10_pro"}


@pytest.mark.parametrize("case", sorted(SERVERS))
def test_windows_server_keeps_its_name(case):
    name, version, installation = SERVERS[case]
    fact = probe(reg_query((DATA / "os_version" / f"{case}.txt").read_text()))
    assert fact.observed["name"] == name
    assert fact.observed.get("version") == version
    assert fact.observed["installation_type"] == installation
    assert fact.extra["os_id"] == "windows-server"


def test_client_with_build_22000_or_later_is_windows_11():
    fact = probe(reg_query((DATA / "os_version" / "client_win11_23h2_says_windows_10_pro.txt").read_text()))
    assert fact.observed["name"] == "Windows 11 Pro"
    assert fact.observed["version"] == "10.0.22631.4317"
    assert fact.extra["os_id"] == "windows"
    assert "esu_year" not in fact.observed  # the ESU query runs on Windows 10 22H2 only


def test_server_name_without_installation_type_still_a_server():
    fact = probe({"ProductName": "Windows Server 2025 Datacenter", "CurrentBuild": "26100"})
    assert fact.observed["name"] == "Windows Server 2025 Datacenter"
    assert fact.extra["os_id"] == "windows-server"


def test_installation_type_client_wins_over_nothing():
    fact = probe({"ProductName": "Windows 10 Enterprise", "CurrentBuild": "26100",
                  "InstallationType": "Client", "EditionID": "Enterprise"})
    assert fact.observed["name"] == "Windows 11 Enterprise"
    assert fact.observed["edition"] == "Enterprise"
    assert fact.extra["os_id"] == "windows"


ESU_CASES = {"year2_licensed": 2, "none_licensed": 0, "year1_only_product": 1, "empty": 0, "garbage": None}


def test_every_esu_file_is_covered():
    assert {p.stem for p in (DATA / "esu").glob("*.txt")} == set(ESU_CASES)


@pytest.mark.parametrize("case", sorted(ESU_CASES))
def test_parse_esu(case):
    assert os_version.parse_esu((DATA / "esu" / f"{case}.txt").read_text()) == ESU_CASES[case]


@pytest.mark.parametrize("text", ['{"ID": 5, "LicenseStatus": 1}', '[1, 2]', '{"ID": "x", "LicenseStatus": true}',
                                  '[]', 'null'])
def test_parse_esu_garbage_json(text):
    assert os_version.parse_esu(text) is None


WIN10 = {"ProductName": "Windows 10 Pro", "EditionID": "Professional", "CurrentBuild": "19045",
         "UBR": 6575, "DisplayVersion": "22H2", "InstallationType": "Client"}


def test_windows_10_22h2_reads_the_esu_year():
    text = (DATA / "esu" / "year2_licensed.txt").read_text()
    fact = probe(WIN10, [{"argv": ESU, "stdout": text, "stderr": "", "returncode": 0}])
    assert fact.observed["esu_year"] == 2
    assert "esu_reason" not in fact.extra


@pytest.mark.parametrize("command,reason", [
    (None, "not available"),
    ({"argv": ESU, "error": "timeout"}, "timed out"),
    ({"argv": ESU, "stdout": "", "stderr": "Access denied\r\n", "returncode": 1}, "exit 1"),
    ({"argv": ESU, "stdout": "Get-CimInstance : Invalid query\r\n", "stderr": "", "returncode": 0},
     "not understood"),
])
def test_windows_10_22h2_esu_unreadable(command, reason):
    fact = probe(WIN10, [command] if command else [])
    assert "esu_year" not in fact.observed
    assert reason in fact.extra["esu_reason"]
    assert fact.observed["version"] == "10.0.19045.6575"  # the rest is unaffected
