"""Property-based: any output, exit code, error or registry value gives a Fact, never an exception."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from probes.fact import Fact
from probes.host import RecordedHost
from probes.windows import CHECKS, identity
from probes.windows import antivirus, automatic_updates, disk_encryption, firewall, os_version
from probes.windows import password_manager, remote_login, screen_lock, system_integrity
from probes.windows._util import ANTIVIRUS_SCRIPT, BITLOCKER_SCRIPT, ESU_SCRIPT, SERIAL_SCRIPT, UUID_SCRIPT

PS = ["powershell.exe", "-NoProfile", "-NonInteractive", "-Command"]
ARGVS = [PS + [BITLOCKER_SCRIPT], PS + [ANTIVIRUS_SCRIPT], PS + [SERIAL_SCRIPT], PS + [UUID_SCRIPT], PS + [ESU_SCRIPT],
         ["manage-bde", "-status", "C:"], ["netsh", "advfirewall", "show", "allprofiles", "state"]]

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)
outputs = st.one_of(text, st.sampled_from(["", "1\r\n", "0", "5", "[]", "{}", "null", "[1]",
                                           '{"displayName": 1, "productState": "x"}',
                                           "Conversion Status: Fully Encrypted",
                                           "Domain Profile Settings:\nState ON",
                                           '{"ID": "f520e45e-7413-4a34-a497-d2765967d094", "LicenseStatus": 1}']))
command = st.one_of(
    st.fixed_dictionaries({"stdout": outputs, "stderr": outputs,
                           "returncode": st.one_of(st.integers(-2**32, 2**32), st.none())}),
    st.fixed_dictionaries({"error": st.sampled_from(["timeout", "not_found", "denied", "weird"])}),
)
reg_value = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), text,
                      st.sampled_from(["0", "1", "600", "0x1", " 4 ", "", "19045", "Server"]), st.floats(), st.lists(st.integers()))

KEYS = [
    (os_version.KEY, ["ProductName", "CurrentBuild", "CurrentBuildNumber", "UBR", "DisplayVersion", "ReleaseId",
                      "EditionID", "InstallationType"]),
    *[(k, ["EnableFirewall"]) for k in list(firewall.LOCAL_KEYS.values()) + list(firewall.POLICY_KEYS.values())],
    *[(k, ["ScreenSaveActive", "ScreenSaverIsSecure", "ScreenSaveTimeOut", "SCRNSAVE.EXE"])
      for k in (screen_lock.DESKTOP, screen_lock.DESKTOP_POLICY)],
    (screen_lock.SYSTEM_POLICY, ["InactivityTimeoutSecs", "EnableLUA"]),
    (automatic_updates.AU_POLICY, ["NoAutoUpdate", "AUOptions"]),
    (automatic_updates.WUAUSERV, ["Start"]),
    (system_integrity.SECURE_BOOT, ["UEFISecureBootEnabled"]),
    (remote_login.TERMINAL_SERVER, ["fDenyTSConnections"]),
    (remote_login.TERMINAL_SERVICES_POLICY, ["fDenyTSConnections"]),
    (password_manager.UNINSTALL_KEYS[0] + "\\KeePassXC", ["DisplayName"]),
    (password_manager.UNINSTALL_KEYS[2] + "\\1Password", ["DisplayName"]),
]


@st.composite
def captures(draw):
    commands = []
    for argv in ARGVS:
        if draw(st.booleans()):
            commands.append({"argv": argv, **draw(command)})
    registry = {}
    for key, names in KEYS:
        values = {n: draw(reg_value) for n in names if draw(st.booleans())}
        if values:
            registry[key] = values
    return {"platform": "windows", "is_admin": draw(st.booleans()),
            "env": draw(st.one_of(st.just({}), st.fixed_dictionaries({"SystemRoot": text}))),
            "commands": commands, "registry": registry}


@settings(max_examples=100, deadline=None)
@given(captures())
def test_every_probe_returns_a_fact(data):
    host = RecordedHost(data)
    for check, probe in CHECKS.items():
        fact = probe(host)
        assert isinstance(fact, Fact), check
        assert not (set(fact.observed) & set(fact.unread)), check
    ident = identity(host)
    assert set(ident) == {"serial", "hardware_uuid", "model"}


@settings(max_examples=100, deadline=None)
@given(outputs, st.one_of(st.integers(-2**32, 2**32), st.none()))
def test_parsers_never_raise(output, code):
    disk_encryption.parse_shell_value(output)
    assert disk_encryption.parse_manage_bde(output, code) in (
        None, "on", "off", "encrypting", "decrypting", "suspended", "denied")
    firewall.parse_netsh(output)
    products = antivirus.parse_products(output)
    assert products is None or all(set(p) == {"name", "enabled", "up_to_date"} for p in products)


class Exploding(RecordedHost):
    """A host whose every reader raises: probes must still answer."""

    def run(self, argv, timeout=10.0):
        raise RuntimeError("boom")

    def registry(self, key, value):
        raise RuntimeError("boom")

    def env(self, name):
        raise RuntimeError("boom")

    def is_admin(self):
        raise RuntimeError("boom")


def test_exploding_host_is_not_hidden(caplog):
    # The Host seam never raises; a host that does is a bug: every probe lets it through,
    # and the pipeline (the one layer that catches) gives unknowns and logs each check id.
    import pytest

    from agent.pipeline import probe
    host = Exploding({"platform": "windows"})
    for name, fn in CHECKS.items():
        with pytest.raises(RuntimeError, match="boom"):
            fn(host)
    with pytest.raises(RuntimeError, match="boom"):
        identity(host)
    with caplog.at_level("ERROR", logger="checkup.pipeline"):
        facts, ident = probe(host)
    assert ident == {}
    for name in CHECKS:
        assert facts[name].unread == {"_": "the check failed unexpectedly (RuntimeError)"}, name
        assert any(f"check {name}: the probe raised RuntimeError" in r.getMessage() for r in caplog.records)
    assert any("check device: the identity probe raised" in r.getMessage() for r in caplog.records)
