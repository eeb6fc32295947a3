"""disk_encryption: `fdesetup status`."""
import pytest

from darwin_testlib import ERRORS, data, err, host, ok
from probes.darwin import disk_encryption
from probes.darwin.disk_encryption import parse_fdesetup, parse_progress

ARGV = ["fdesetup", "status"]

CASES = {
    # tests/fixtures/macos/sonoma-14-6-compliant.json
    "on.txt": "on",
    # tests/fixtures/macos/ventura-13-6-filevault-off-remote-login-admin.json
    "off.txt": "off",
    # tests/fixtures/macos/sonoma-14-4-filevault-encrypting-display-sleep-wins.json
    "encrypting-percent.txt": "encrypting",
    # a Jamf extension attribute script listing fdesetup's replies ("when the system is not plugged in")
    "encrypting-pending.txt": "encrypting",
    # a public macOS home-server guide quoting `fdesetup status` after `fdesetup disable`
    "decrypting-line.txt": "decrypting",
    # the same Jamf EA script and an InSpec control matching fdesetup's deferred-enablement reply
    "deferred.txt": "off",
    # a Jamf script's notes: the master keychain line comes first, on or off
    "master-keychain-on.txt": "on",
    # MikeMcQuaid/strap and many dotfiles scripts grep fdesetup for this exact reply (enabled at next boot)
    "off-pending-restart.txt": "off",
    "empty.txt": None,
    "garbage.txt": None,  # made up
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_parse_real_outputs(name):
    assert parse_fdesetup(data("disk_encryption", name)) == CASES[name]


def test_decryption_wins_whatever_the_first_line_says():
    # SOURCES.md trap; the lines are the real ones above, put together.
    line = data("disk_encryption", "decrypting-line.txt")
    assert parse_fdesetup("FileVault is On.\n" + line) == "decrypting"
    assert parse_fdesetup("FileVault is Off.\n" + line) == "decrypting"


def test_progress():
    assert parse_progress(data("disk_encryption", "encrypting-percent.txt")) == 31.2
    assert parse_progress(data("disk_encryption", "encrypting-pending.txt")) is None


@pytest.mark.parametrize("code", [0, 2])
def test_probe_accepts_exit_0_and_2(code):
    fact = disk_encryption.probe(host(ok(ARGV, data("disk_encryption", "encrypting-percent.txt"),
                                         returncode=code)))
    assert fact.observed == {"state": "encrypting"}
    assert fact.extra["progress_percent"] == 31.2


@pytest.mark.parametrize("kind", ERRORS)
def test_probe_errors(kind):
    fact = disk_encryption.probe(host(err(ARGV, kind)))
    assert fact.observed == {}
    assert "fdesetup" in fact.unread["state"]


def test_probe_timeout_reason():
    assert disk_encryption.probe(host(err(ARGV, "timeout"))).unread == {"state": "fdesetup timed out"}


def test_probe_other_exit_is_no_answer():
    fact = disk_encryption.probe(host(ok(ARGV, "FileVault is On.\n", returncode=1)))
    assert fact.unread == {"state": "fdesetup gave no answer (exit 1)"}


def test_probe_not_understood():
    fact = disk_encryption.probe(host(ok(ARGV, data("disk_encryption", "garbage.txt"))))
    assert fact.unread == {"state": "fdesetup gave an answer Checkup does not understand"}
