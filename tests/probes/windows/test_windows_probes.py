"""Windows probes through RecordedHost: registry logic, command failures, fallbacks."""
from __future__ import annotations

import pytest

from probes.host import RecordedHost
from probes.windows import (CHECKS, antivirus, automatic_updates, disk_encryption, firewall,
                            identity, os_version, remote_login, screen_lock, system_integrity)
from probes.windows._util import (ANTIVIRUS_SCRIPT, BITLOCKER_SCRIPT, SERIAL_SCRIPT, UUID_SCRIPT,
                                  powershell_path, to_int)

PS = ["powershell.exe", "-NoProfile", "-NonInteractive", "-Command"]
BDE = ["manage-bde", "-status", "C:"]
NETSH = ["netsh", "advfirewall", "show", "allprofiles", "state"]


def host(commands=(), registry=None, is_admin=False, env=None):
    return RecordedHost({"platform": "windows", "is_admin": is_admin, "env": env or {},
                         "commands": list(commands), "registry": registry or {}})


def ok(argv, stdout="", stderr="", code=0):
    return {"argv": argv, "stdout": stdout, "stderr": stderr, "returncode": code}


def err(argv, kind):
    return {"argv": argv, "error": kind}


def test_checks_cover_windows_only():
    assert set(CHECKS) == {"disk_encryption", "firewall", "screen_lock", "os_version",
                           "automatic_updates", "system_integrity", "remote_login", "antivirus",
                           "password_manager"}


def test_powershell_path_uses_system_root():
    assert powershell_path(host(env={"SystemRoot": "D:\\WINDOWS"})) == \
        "D:\\WINDOWS\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
    assert powershell_path(host()) == "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"


class ArgvSpy(RecordedHost):
    def __init__(self, data):
        super().__init__(data)
        self.calls = []

    def run(self, argv, timeout=10.0):
        self.calls.append((list(argv), timeout))
        return super().run(argv, timeout)


def test_exact_argv_and_timeouts():
    spy = ArgvSpy({"platform": "windows", "is_admin": True,
                   "commands": [ok(PS + [BITLOCKER_SCRIPT], "\r\n")]})
    disk_encryption.probe(spy)
    firewall.probe(spy)
    antivirus.probe(spy)
    identity(spy)
    argvs = [c[0] for c in spy.calls]
    ps = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
    assert argvs == [
        [ps, "-NoProfile", "-NonInteractive", "-Command", BITLOCKER_SCRIPT],
        ["C:\\Windows\\System32\\manage-bde.exe", "-status", "C:"],
        ["C:\\Windows\\System32\\netsh.exe", "advfirewall", "show", "allprofiles", "state"],
        [ps, "-NoProfile", "-NonInteractive", "-Command", ANTIVIRUS_SCRIPT],
        [ps, "-NoProfile", "-NonInteractive", "-Command", SERIAL_SCRIPT],
        [ps, "-NoProfile", "-NonInteractive", "-Command", UUID_SCRIPT],
    ]
    assert all(timeout == 10.0 for _, timeout in spy.calls)


# -- os_version -------------------------------------------------------------------------
CV = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion"


@pytest.mark.parametrize("values,expected", [
    # Windows 11 23H2 still saying "Windows 10 Pro" (reg query output quoted in SOURCES.md notes).
    ({"ProductName": "Windows 10 Pro", "CurrentBuild": "22631", "UBR": 3447, "DisplayVersion": "23H2"},
     {"name": "Windows 11 Pro", "version": "10.0.22631.3447", "build": "22631.3447",
      "display_version": "23H2"}),
    # Windows 10 1909: no DisplayVersion, ReleaseId instead.
    ({"ProductName": "Windows 10 Enterprise", "CurrentBuild": "18363", "UBR": 1556, "ReleaseId": "1909"},
     {"name": "Windows 10 Enterprise", "version": "10.0.18363.1556", "build": "18363.1556",
      "display_version": "1909"}),
    # No UBR (very old builds).
    ({"ProductName": "Windows 10 Pro", "CurrentBuild": "10240", "ReleaseId": "1507"},
     {"name": "Windows 10 Pro", "version": "10.0.10240", "build": "10240", "display_version": "1507"}),
    # Lenient types: DWORD as string, build as DWORD.
    ({"ProductName": "Windows 10 Home", "CurrentBuild": 19045, "UBR": "5131", "DisplayVersion": "22H2"},
     {"name": "Windows 10 Home", "version": "10.0.19045.5131", "build": "19045.5131",
      "display_version": "22H2"}),
    # Build 22000 exactly is Windows 11.
    ({"ProductName": "Windows 10 Education", "CurrentBuild": "22000", "UBR": 2538, "DisplayVersion": "21H2"},
     {"name": "Windows 11 Education", "version": "10.0.22000.2538", "build": "22000.2538",
      "display_version": "21H2"}),
    # CurrentBuildNumber when CurrentBuild is missing.
    ({"ProductName": "Windows 10 Pro", "CurrentBuildNumber": "19045", "UBR": 1, "DisplayVersion": "22H2"},
     {"name": "Windows 10 Pro", "version": "10.0.19045.1", "build": "19045.1", "display_version": "22H2"}),
])
def test_os_version(values, expected):
    fact = os_version.probe(host(registry={CV: values}))
    assert fact.observed == expected
    assert fact.extra["os_id"] == "windows"
    assert not fact.unread


def test_os_version_nothing_readable():
    fact = os_version.probe(host())
    assert fact.observed == {}
    assert set(fact.unread) == {"name", "version", "build", "display_version"}


def test_os_version_garbage_build():
    fact = os_version.probe(host(registry={CV: {"ProductName": "Windows 10 Pro", "CurrentBuild": "abc"}}))
    assert fact.observed == {"name": "Windows 10 Pro"}
    assert "not a number" in fact.unread["version"]


# -- disk_encryption ----------------------------------------------------------------------
BITLOCKER = PS + [BITLOCKER_SCRIPT]
EN_ON = ("    Conversion Status:    Fully Encrypted\r\n"
         "    Protection Status:    Protection On\r\n")
DENIED_TEXT = ("ERROR: An attempt to access a required resource was denied.\r\n\r\n"
               "Check that you have administrative rights on the computer.\r\n")


@pytest.mark.parametrize("commands,admin,state,reason", [
    ([ok(BITLOCKER, "1\r\n")], False, "on", None),
    ([ok(BITLOCKER, "5\r\n")], False, "suspended", None),
    ([ok(BITLOCKER, "\r\n")], False, None, "needs administrator rights"),
    ([err(BITLOCKER, "timeout")], False, None, "PowerShell timed out"),
    ([err(BITLOCKER, "not_found")], False, None, "PowerShell is not available"),
    ([ok(BITLOCKER, "9\r\n")], False, None, "does not understand"),
    ([ok(BITLOCKER, "", "boom", 1)], False, None, "exit 1"),
    ([ok(BITLOCKER, "\r\n"), ok(BDE, EN_ON)], True, "on", None),
    ([err(BITLOCKER, "timeout"), ok(BDE, EN_ON)], True, "on", None),
    ([ok(BITLOCKER, "\r\n"), ok(BDE, DENIED_TEXT, code=-2147217405)], True, None,
     "needs administrator rights"),
    ([ok(BITLOCKER, "\r\n"), err(BDE, "denied")], True, None, "needs administrator rights"),
    ([ok(BITLOCKER, "\r\n"), err(BDE, "timeout")], True, None, "manage-bde timed out"),
    ([ok(BITLOCKER, "\r\n"), err(BDE, "not_found")], True, None, "manage-bde is not available"),
    ([ok(BITLOCKER, "\r\n"), ok(BDE, "", code=1)], True, None, "does not understand"),
])
def test_disk_encryption_probe(commands, admin, state, reason):
    fact = disk_encryption.probe(host(commands, is_admin=admin))
    assert fact.observed.get("state") == state
    if reason:
        assert reason in fact.unread["state"]
    else:
        assert not fact.unread


def test_shell_answer_wins_even_when_admin():
    spy = ArgvSpy({"platform": "windows", "is_admin": True,
                   "commands": [ok(BITLOCKER, "2\r\n"), ok(BDE, EN_ON)]})
    assert disk_encryption.probe(spy).observed == {"state": "off"}
    assert len(spy.calls) == 1


# -- firewall --------------------------------------------------------------------------
LOCAL = firewall.LOCAL_KEYS
POLICY = firewall.POLICY_KEYS
NETSH_ALL_ON = ("\r\nDomain Profile Settings: \r\n-----\r\nState                                 ON\r\n"
                "\r\nPrivate Profile Settings: \r\n-----\r\nState                                 ON\r\n"
                "\r\nPublic Profile Settings: \r\n-----\r\nState                                 ON\r\nOk.\r\n")


def local(d, p, u):
    return {LOCAL["domain"]: {"EnableFirewall": d}, LOCAL["private"]: {"EnableFirewall": p},
            LOCAL["public"]: {"EnableFirewall": u}}


def test_firewall_policy_overrides_local_per_profile():
    reg = local(0, 0, 1)
    reg[POLICY["domain"]] = {"EnableFirewall": 1}
    reg[POLICY["public"]] = {"EnableFirewall": 0}
    fact = firewall.probe(host(registry=reg))
    assert fact.observed == {"profiles": {"domain": True, "private": False, "public": False},
                             "enabled": False}


def test_firewall_lenient_string_values():
    fact = firewall.probe(host(registry=local("1", " 1 ", "0x1")))
    assert fact.observed == {"profiles": {"domain": True, "private": True, "public": True},
                             "enabled": True}


def test_firewall_netsh_fills_missing_profiles_only():
    reg = {LOCAL["domain"]: {"EnableFirewall": 0}}
    fact = firewall.probe(host([ok(NETSH, NETSH_ALL_ON)], registry=reg))
    assert fact.observed == {"profiles": {"domain": False, "private": True, "public": True},
                             "enabled": False}


def test_firewall_registry_complete_skips_netsh():
    spy = ArgvSpy({"platform": "windows", "registry": local(1, 1, 1)})
    firewall.probe(spy)
    assert spy.calls == []


@pytest.mark.parametrize("netsh,reason", [
    (err(NETSH, "timeout"), "netsh timed out"),
    (err(NETSH, "not_found"), "netsh is not available"),
    (err(NETSH, "denied"), "netsh needs administrator rights"),
    (ok(NETSH, "garbage", code=1), "does not understand"),
])
def test_firewall_unreadable_profile_none_off(netsh, reason):
    reg = {LOCAL["domain"]: {"EnableFirewall": 1}, LOCAL["private"]: {"EnableFirewall": 1}}
    fact = firewall.probe(host([netsh], registry=reg))
    assert fact.observed == {"profiles": {"domain": True, "private": True}}
    assert "public profile" in fact.unread["enabled"] and reason in fact.unread["enabled"]


def test_firewall_unreadable_profile_but_one_off():
    reg = {LOCAL["domain"]: {"EnableFirewall": 0}, LOCAL["private"]: {"EnableFirewall": "junk"}}
    fact = firewall.probe(host([err(NETSH, "timeout")], registry=reg))
    assert fact.observed == {"profiles": {"domain": False}, "enabled": False}


def test_firewall_nothing_readable():
    fact = firewall.probe(host([err(NETSH, "timeout")]))
    assert fact.observed == {}
    assert set(fact.unread) == {"profiles", "enabled"}


# -- screen_lock ------------------------------------------------------------------------
DESK = screen_lock.DESKTOP
DESK_POLICY = screen_lock.DESKTOP_POLICY
SYS = screen_lock.SYSTEM_POLICY
SAVER = {"SCRNSAVE.EXE": "C:\\Windows\\system32\\scrnsave.scr"}  # a screen saver is selected


@pytest.mark.parametrize("reg,expected", [
    # secure saver 300 s, inactivity 900 s -> the smaller applies
    ({DESK: {**SAVER, "ScreenSaveActive": "1", "ScreenSaverIsSecure": "1", "ScreenSaveTimeOut": "300"},
      SYS: {"InactivityTimeoutSecs": 900}}, {"enabled": True, "idle_seconds": 300}),
    # inactivity limit alone (saver inactive)
    ({DESK: {**SAVER, "ScreenSaveActive": "0", "ScreenSaverIsSecure": "0", "ScreenSaveTimeOut": "900"},
      SYS: {"InactivityTimeoutSecs": 600}}, {"enabled": True, "idle_seconds": 600}),
    # non-secure saver: nothing locks
    ({DESK: {**SAVER, "ScreenSaveActive": "1", "ScreenSaverIsSecure": "0", "ScreenSaveTimeOut": "600"}},
     {"enabled": False}),
    # secure but no timeout (ScreenSaveTimeOut absent, or "0")
    ({DESK: {**SAVER, "ScreenSaveActive": "1", "ScreenSaverIsSecure": "1"}}, {"enabled": False}),
    ({DESK: {**SAVER, "ScreenSaveActive": "1", "ScreenSaverIsSecure": "1", "ScreenSaveTimeOut": "0"}},
     {"enabled": False}),
    # Group Policy overrides value by value (policy secure + timeout, local active)
    ({DESK: {**SAVER, "ScreenSaveActive": "1", "ScreenSaverIsSecure": "0", "ScreenSaveTimeOut": "1800"},
      DESK_POLICY: {"ScreenSaverIsSecure": "1", "ScreenSaveTimeOut": "600"}},
     {"enabled": True, "idle_seconds": 600}),
    # policy switches the saver off: only the inactivity limit is left
    ({DESK: {**SAVER, "ScreenSaveActive": "1", "ScreenSaverIsSecure": "1", "ScreenSaveTimeOut": "300"},
      DESK_POLICY: {"ScreenSaveActive": "0"}, SYS: {"InactivityTimeoutSecs": 105}},
     {"enabled": True, "idle_seconds": 105}),
    # DWORD where REG_SZ is usual, and the reverse
    ({DESK: {**SAVER, "ScreenSaveActive": 1, "ScreenSaverIsSecure": 1, "ScreenSaveTimeOut": 420},
      SYS: {"InactivityTimeoutSecs": "0x258"}}, {"enabled": True, "idle_seconds": 420}),
    # nothing set
    ({}, {"enabled": False}),
])
def test_screen_lock(reg, expected):
    fact = screen_lock.probe(host(registry=reg))
    assert fact.observed == {**expected, "lock_delay_seconds": 0}
    assert not fact.unread


def test_screen_lock_garbage_timeout_with_inactivity_limit():
    reg = {DESK: {**SAVER, "ScreenSaveActive": "1", "ScreenSaverIsSecure": "1", "ScreenSaveTimeOut": "soon"},
           SYS: {"InactivityTimeoutSecs": 900}}
    fact = screen_lock.probe(host(registry=reg))
    assert fact.observed == {"enabled": True, "lock_delay_seconds": 0}
    assert "idle_seconds" in fact.unread


def test_screen_lock_garbage_and_nothing_else():
    reg = {DESK: {**SAVER, "ScreenSaveActive": "1", "ScreenSaverIsSecure": "maybe", "ScreenSaveTimeOut": "600"}}
    fact = screen_lock.probe(host(registry=reg))
    assert "enabled" in fact.unread and "enabled" not in fact.observed


def test_screen_lock_garbage_irrelevant_when_saver_off():
    reg = {DESK: {**SAVER, "ScreenSaveActive": "0", "ScreenSaverIsSecure": "maybe", "ScreenSaveTimeOut": "x"}}
    assert screen_lock.probe(host(registry=reg)).observed == {"enabled": False, "lock_delay_seconds": 0}


# -- automatic_updates -----------------------------------------------------------------------
AU = automatic_updates.AU_POLICY
WU = automatic_updates.WUAUSERV


@pytest.mark.parametrize("reg,expected", [
    ({}, True),
    ({WU: {"Start": 3}}, True),
    ({WU: {"Start": 2}}, True),
    ({WU: {"Start": 4}}, False),
    ({AU: {"NoAutoUpdate": 1}, WU: {"Start": 3}}, False),
    ({AU: {"NoAutoUpdate": 0, "AUOptions": 2}}, False),
    ({AU: {"AUOptions": 3}}, False),
    ({AU: {"AUOptions": 7}}, False),
    ({AU: {"AUOptions": 4}}, True),
    ({AU: {"AUOptions": 5}}, True),
    ({AU: {"AUOptions": "4"}}, True),
    ({AU: {"AUOptions": 4}, WU: {"Start": 4}}, False),
    ({AU: {"AUOptions": 9}}, None),
    ({AU: {"NoAutoUpdate": "x"}}, None),
    ({AU: {"NoAutoUpdate": "x", "AUOptions": 2}}, False),
    ({WU: {"Start": "x"}}, None),
])
def test_automatic_updates(reg, expected):
    fact = automatic_updates.probe(host(registry=reg))
    assert fact.observed.get("enabled") == expected
    assert ("enabled" in fact.unread) == (expected is None)


# -- system_integrity -------------------------------------------------------------------------
SEC = system_integrity.SECURE_BOOT
SP = system_integrity.SYSTEM_POLICY


@pytest.mark.parametrize("reg,expected", [
    ({SP: {"EnableLUA": 1}, SEC: {"UEFISecureBootEnabled": 1}}, {"uac": True, "secure_boot": True}),
    ({SP: {"EnableLUA": 0}, SEC: {"UEFISecureBootEnabled": 0}}, {"uac": False, "secure_boot": False}),
    ({}, {"uac": True, "secure_boot": False}),  # defaults: UAC on, no key = legacy BIOS
    ({SP: {"EnableLUA": "1"}, SEC: {"UEFISecureBootEnabled": "1"}}, {"uac": True, "secure_boot": True}),
])
def test_system_integrity(reg, expected):
    fact = system_integrity.probe(host(registry=reg))
    assert fact.observed == expected and not fact.unread


def test_system_integrity_garbage():
    fact = system_integrity.probe(host(registry={SP: {"EnableLUA": 7}, SEC: {"UEFISecureBootEnabled": "?"}}))
    assert fact.observed == {} and set(fact.unread) == {"uac", "secure_boot"}


# -- remote_login -------------------------------------------------------------------------------
TS = remote_login.TERMINAL_SERVER
TSP = remote_login.TERMINAL_SERVICES_POLICY


@pytest.mark.parametrize("reg,expected", [
    ({TS: {"fDenyTSConnections": 0}}, True),
    ({TS: {"fDenyTSConnections": 1}}, False),
    ({TS: {"fDenyTSConnections": "0"}}, True),
    ({TS: {"fDenyTSConnections": 0}, TSP: {"fDenyTSConnections": 1}}, False),
    ({TS: {"fDenyTSConnections": 1}, TSP: {"fDenyTSConnections": 0}}, True),
    ({}, None),
    ({TS: {"fDenyTSConnections": 5}}, None),
])
def test_remote_login(reg, expected):
    fact = remote_login.probe(host(registry=reg))
    assert fact.observed.get("enabled") == expected
    assert ("enabled" in fact.unread) == (expected is None)


# -- antivirus -------------------------------------------------------------------------------------
AV = PS + [ANTIVIRUS_SCRIPT]
# Layout of a PowerShell 5.1 error record; the error id HRESULT 0x8004100e (invalid namespace)
# is the one PowerShell's own Get-CimClass tests expect for a missing namespace.
NO_NAMESPACE = (
    "Get-CimInstance : Invalid namespace \r\n"
    "At line:1 char:1\r\n"
    "+ Get-CimInstance -Namespace root/SecurityCenter2 -ClassName AntiVirusP ...\r\n"
    "    + CategoryInfo          : MetadataError: (root/SecurityCenter2:AntiVirusProduct:String)"
    " [Get-CimInstance], CimException\r\n"
    "    + FullyQualifiedErrorId : HRESULT 0x8004100e,Microsoft.Management.Infrastructure."
    "CimCmdlets.GetCimInstanceCommand\r\n")


@pytest.mark.parametrize("command,products,reason", [
    (ok(AV, '{\r\n    "displayName":  "Windows Defender",\r\n    "productState":  397568\r\n}\r\n'),
     [{"name": "Windows Defender", "enabled": True, "up_to_date": True}], None),
    (ok(AV, ""), [], None),
    (ok(AV, "", NO_NAMESPACE, 1), None, "not available on this system"),
    (ok(AV, "", NO_NAMESPACE, 0), None, "not available on this system"),
    (err(AV, "timeout"), None, "timed out"),
    (err(AV, "not_found"), None, "not available"),
    (err(AV, "denied"), None, "administrator"),
    (ok(AV, "", "Access denied", 1), None, "exit 1"),
    (ok(AV, "{not json", "", 0), None, "does not understand"),
])
def test_antivirus_probe(command, products, reason):
    fact = antivirus.probe(host([command]))
    assert fact.observed.get("products") == products
    if reason:
        assert reason in fact.unread["products"]


# -- identity -----------------------------------------------------------------------------------------
SERIAL = PS + [SERIAL_SCRIPT]
UUID = PS + [UUID_SCRIPT]


@pytest.mark.parametrize("commands,expected", [
    ([ok(SERIAL, "PF2MWX8Z\r\n"), ok(UUID, "4C4C4544-0038-4610-8052-B4C04F4D4233\r\n")],
     {"serial": "PF2MWX8Z", "hardware_uuid": "4C4C4544-0038-4610-8052-B4C04F4D4233", "model": None}),
    ([ok(SERIAL, "To Be Filled By O.E.M.\r\n"), err(UUID, "timeout")],
     {"serial": None, "hardware_uuid": None, "model": None}),
    ([err(SERIAL, "not_found"), ok(UUID, "x", code=1)],
     {"serial": None, "hardware_uuid": None, "model": None}),
    ([ok(SERIAL, "ABC\r\n", code=1)], {"serial": None, "hardware_uuid": None, "model": None}),
])
def test_identity(commands, expected):
    assert identity(host(commands)) == expected


def test_to_int():
    assert [to_int(v) for v in (1, "1", " 600 ", "0x258", "-3", True, "abc", "", None, 1.5, "1\x00")] == \
        [1, 1, 600, 600, -3, 1, None, None, None, None, 1]


@pytest.mark.parametrize("value,encryptable", [("0\r\n", False), ("2\r\n", None), ("1\r\n", None)])
def test_bitlocker_zero_means_not_encryptable(value, encryptable):
    # 0 = the volume cannot be encrypted as set up (Windows Home without device encryption)
    fact = disk_encryption.probe(host([ok(PS + [BITLOCKER_SCRIPT], value)]))
    assert fact.observed.get("encryptable") is encryptable
