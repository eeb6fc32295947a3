"""os_version: `sw_vers`, parsed from real outputs."""
import pytest

from darwin_testlib import ERRORS, data, err, host, ok
from probes.darwin import os_version

ARGV = ["sw_vers"]

# file -> (name, version, build, rsr); where each output comes from.
CASES = {
    # tests/fixtures/macos/sonoma-14-6-compliant.json (two tabs after the colon)
    "sonoma-14-6-1-two-tabs.txt": ("macOS", "14.6.1", "23G93", None),
    # tests/fixtures/macos/ventura-13-6-filevault-off-remote-login-admin.json
    "ventura-13-6-7.txt": ("macOS", "13.6.7", "22G720", None),
    # a GitHub README pasting `sw_vers` on Catalina (one tab, "Mac OS X")
    "catalina-10-15-7-one-tab.txt": ("macOS", "10.15.7", "19H1417", None),
    # a public listing of `sw_vers` per macOS installer: 10.13 has no patch number
    "high-sierra-10-13-no-patch.txt": ("macOS", "10.13", "17A365", None),
    # a developer's notes pasting `sw_vers` on 13.3.1 (a), the first Rapid Security Response
    "ventura-13-3-1-rsr-a.txt": ("macOS", "13.3.1", "22E772610a", "(a)"),
    # a public compatibility report pasting `sw_vers` on macOS 26.3.1 (a)
    "tahoe-26-3-1-rsr-a.txt": ("macOS", "26.3.1", "25D771280a", "(a)"),
    "empty.txt": (None, None, None, None),
    "garbage.txt": (None, None, None, None),  # made up
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_parse_real_outputs(name):
    fields = os_version.parse_sw_vers(data("os_version", name))
    got = (os_version.product_name(fields.get("ProductName")),
           os_version.product_version(fields.get("ProductVersion")),
           os_version.build_version(fields.get("BuildVersion")),
           os_version.rsr(fields.get("ProductVersionExtra")))
    assert got == CASES[name]


def test_tabs_are_kept_in_the_data_files():
    assert "\t\t" in data("os_version", "sonoma-14-6-1-two-tabs.txt")
    assert ":\tMac OS X" in data("os_version", "catalina-10-15-7-one-tab.txt")
    assert "ProductVersionExtra:\t(a)" in data("os_version", "ventura-13-3-1-rsr-a.txt")


def test_probe_rsr_and_os_id():
    fact = os_version.probe(host(ok(ARGV, data("os_version", "ventura-13-3-1-rsr-a.txt"))))
    assert fact.observed == {"name": "macOS", "version": "13.3.1", "build": "22E772610a", "rsr": "(a)"}
    assert fact.extra["os_id"] == "macos"
    assert not fact.unread


def test_probe_without_rsr_has_no_rsr_field():
    fact = os_version.probe(host(ok(ARGV, data("os_version", "high-sierra-10-13-no-patch.txt"))))
    assert fact.observed == {"name": "macOS", "version": "10.13", "build": "17A365"}


@pytest.mark.parametrize("kind", ERRORS)
def test_probe_errors(kind):
    fact = os_version.probe(host(err(ARGV, kind)))
    assert fact.observed == {}
    assert set(fact.unread) == {"name", "version", "build"}
    assert fact.extra["os_id"] == "macos"
    assert "sw_vers" in fact.unread["version"]


def test_probe_missing_program_and_nonzero_exit():
    assert set(os_version.probe(host()).unread) == {"name", "version", "build"}
    fact = os_version.probe(host(ok(ARGV, data("os_version", "ventura-13-6-7.txt"), returncode=1)))
    assert fact.unread["version"] == "sw_vers gave no answer (exit 1)"


def test_probe_garbage_is_not_understood():
    fact = os_version.probe(host(ok(ARGV, data("os_version", "garbage.txt"))))
    assert fact.observed == {}
    assert fact.unread["version"] == "sw_vers gave an answer Checkup does not understand"
