"""Remote Desktop: the Group Policy value wins over the local one.

Where each file comes from (test-data/remote_login/):
- policy-key-cis-win10-21h2-get-itemproperty.txt: `Get-ItemProperty` of
  HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows NT\\Terminal Services on a CIS-hardened Windows 10
  Enterprise 21H2 test machine (wazuh/wazuh-qa issue #3044, SCA manual tests), CRLF as PowerShell
  prints it. The Group Policy "Allow users to connect remotely by using Remote Desktop Services"
  writes fDenyTSConnections there: Enabled = 0, Disabled = 1, Not configured = no value
  (TerminalServer.admx, as listed on windows-security.org); Microsoft's KB "clients may be
  suddenly disconnected" says Group Policy overrides the local
  HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server value, and MicrosoftDocs PRs
  (windowsserverdocs #5439, azure-docs #57797) tell admins to check the policy key first.
"""
from __future__ import annotations

import os

import pytest

from probes.host import RecordedHost
from probes.windows import remote_login

TS = remote_login.TERMINAL_SERVER
TSP = remote_login.TERMINAL_SERVICES_POLICY
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "test-data", "remote_login")


def policy_values(name: str) -> dict:
    """`Get-ItemProperty` lines "Name : value" as the registry holds them (DWORDs as ints);
    PowerShell's own PS* properties and wrapped continuation lines are not registry values."""
    with open(os.path.join(DATA, name), encoding="utf-8", newline="") as fh:
        text = fh.read()
    values = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith(" ") or ":" not in line:
            continue
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key.startswith("PS"):
            continue
        values[key] = int(value) if value.isdigit() else value
    return values


def host(registry):
    return RecordedHost({"platform": "windows", "registry": registry})


CIS = policy_values("policy-key-cis-win10-21h2-get-itemproperty.txt")


def test_policy_file_reads_as_expected():
    assert CIS["fDenyTSConnections"] == 1 and CIS["fDisableCdm"] == 1 and "PSPath" not in CIS


@pytest.mark.parametrize("local, expected", [(0, False), (1, False), (None, False)])
def test_policy_disabled_wins_over_local(local, expected):
    registry = {TSP: CIS}
    if local is not None:
        registry[TS] = {"fDenyTSConnections": local}
    fact = remote_login.probe(host(registry))
    assert fact.observed == {"enabled": expected} and not fact.unread


def test_policy_enabled_wins_over_local_off():
    policy = dict(CIS, fDenyTSConnections=0)  # the same key with the policy set to Enabled
    fact = remote_login.probe(host({TSP: policy, TS: {"fDenyTSConnections": 1}}))
    assert fact.observed == {"enabled": True}


@pytest.mark.parametrize("local, expected", [(0, True), (1, False)])
def test_policy_key_without_the_value_leaves_it_to_the_local_setting(local, expected):
    policy = {k: v for k, v in CIS.items() if k != "fDenyTSConnections"}  # other RDP policies only
    fact = remote_login.probe(host({TSP: policy, TS: {"fDenyTSConnections": local}}))
    assert fact.observed == {"enabled": expected}


@pytest.mark.parametrize("garbage", ["Enabled", "", "0x", 7])
def test_unreadable_policy_value_is_unknown_not_the_local_value(garbage):
    # a policy value that cannot be read may be the one that decides: never fall back past it
    fact = remote_login.probe(host({TSP: dict(CIS, fDenyTSConnections=garbage),
                                    TS: {"fDenyTSConnections": 1}}))
    assert fact.observed == {} and "does not understand" in fact.unread["enabled"]


def test_key_names_match_case_insensitively():
    fact = remote_login.probe(host({TSP.upper(): {"FDENYTSCONNECTIONS": 1}, TS: {"fDenyTSConnections": 0}}))
    assert fact.observed == {"enabled": False}
