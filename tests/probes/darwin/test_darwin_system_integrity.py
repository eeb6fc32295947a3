"""system_integrity: `csrutil status`."""
import pytest

from darwin_testlib import ERRORS, data, err, host, ok
from probes.darwin import system_integrity
from probes.darwin.system_integrity import disabled_protections, parse_csrutil

ARGV = ["csrutil", "status"]

CASES = {
    # tests/fixtures/macos/sonoma-14-6-compliant.json
    "enabled.txt": True,
    # tests/fixtures/macos/sonoma-14-5-sip-and-gatekeeper-disabled.json
    "disabled.txt": False,
    # lionheart/openradar-mirror issue #5820 (rdar 22361698, OS X 10.11): SIP fully disabled
    # prints "enabled (Custom Configuration)" - so it must not read as enabled
    "el-capitan-enabled-custom.txt": False,
    # a public hackintosh log on macOS 11 (tabbed list, as csrutil prints it)
    "big-sur-unknown-custom-tabs.txt": False,
    # a public yabai setup guide (partially disabled SIP on Apple silicon; tabs shown as spaces)
    "yabai-unknown-custom.txt": False,
    "empty.txt": None,
    "garbage.txt": None,  # made up
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_parse_real_outputs(name):
    assert parse_csrutil(data("system_integrity", name)) is CASES[name]


def test_disabled_protections_listed():
    got = disabled_protections(data("system_integrity", "yabai-unknown-custom.txt"))
    assert got == ["Apple Internal", "Filesystem Protections", "Debugging Restrictions",
                   "NVRAM Protections", "Boot-arg Restrictions"]


def test_plain_unknown_is_not_guessed():
    assert parse_csrutil("System Integrity Protection status: unknown.") is None


def test_probe_custom_configuration_extra():
    fact = system_integrity.probe(host(ok(ARGV, data("system_integrity", "big-sur-unknown-custom-tabs.txt"))))
    assert fact.observed == {"sip": False}
    assert fact.extra["custom_configuration"] is True
    assert "Kext Signing" in fact.extra["disabled_protections"]
    assert "BaseSystem Verification" not in fact.extra["disabled_protections"]


def test_probe_enabled():
    fact = system_integrity.probe(host(ok(ARGV, data("system_integrity", "enabled.txt"))))
    assert fact.observed == {"sip": True} and not fact.unread


@pytest.mark.parametrize("kind", ERRORS)
def test_probe_errors(kind):
    fact = system_integrity.probe(host(err(ARGV, kind)))
    assert fact.observed == {} and "csrutil" in fact.unread["sip"]


def test_probe_nonzero_exit_and_garbage():
    assert system_integrity.probe(host(ok(ARGV, "", returncode=1))).unread == {
        "sip": "csrutil gave no answer (exit 1)"}
    assert system_integrity.probe(host(ok(ARGV, data("system_integrity", "garbage.txt")))).unread == {
        "sip": "csrutil gave an answer Checkup does not understand"}
