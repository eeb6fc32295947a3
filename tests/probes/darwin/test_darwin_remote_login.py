"""remote_login: launchctl first, then (admin only) systemsetup."""
import pytest

from darwin_testlib import ERRORS, data, err, host, ok
from probes.darwin import remote_login
from probes.darwin.remote_login import parse_launchctl, parse_systemsetup

LAUNCHCTL = ["launchctl", "print", "system/com.openssh.sshd"]
SETUP = ["systemsetup", "-getremotelogin"]

LAUNCHCTL_CASES = {
    # tests/fixtures/macos/sonoma-14-6-…: stderr, exit 113
    "launchctl-off-113.txt": (113, False),
    # tests/fixtures/macos/ventura-13-6-…: the service dump, exit 0
    "launchctl-on-ventura.txt": (0, True),
    # a public project's notes recorded on macOS 26.5.1 (service "Submitted" by smd), exit 0
    "launchctl-on-tahoe-submitted.txt": (0, True),
    # DISA macOS STIG check text / an older check script docstring (no "Bad request." line)
    "launchctl-off-old.txt": (113, False),
}

SYSTEMSETUP_CASES = {
    # tests/fixtures/macos/ventura-13-6-… (admin)
    "systemsetup-on.txt": True,
    # the Off form of the same reply
    "systemsetup-off.txt": False,
    # tests/fixtures/macos/*: printed on stdout with exit 0 when not admin - not an answer
    "systemsetup-not-admin.txt": None,
    "systemsetup-empty.txt": None,
}


@pytest.mark.parametrize("name", sorted(LAUNCHCTL_CASES))
def test_parse_launchctl(name):
    code, expected = LAUNCHCTL_CASES[name]
    text = data("remote_login", name)
    stdout, stderr = (text, "") if code == 0 else ("", text)
    assert parse_launchctl(code, stdout, stderr) is expected


@pytest.mark.parametrize("name", sorted(SYSTEMSETUP_CASES))
def test_parse_systemsetup(name):
    assert parse_systemsetup(data("remote_login", name)) is SYSTEMSETUP_CASES[name]


def test_launchctl_other_exit_is_no_answer():
    assert parse_launchctl(1, "", "Operation not permitted") is None
    assert parse_launchctl(0, "", "") is None


def test_probe_on_from_launchctl():
    fact = remote_login.probe(host(ok(LAUNCHCTL, data("remote_login", "launchctl-on-ventura.txt")),
                                   ok(SETUP, data("remote_login", "systemsetup-off.txt")), is_admin=True))
    assert fact.observed == {"enabled": True}  # launchctl answered: systemsetup is not asked


def test_probe_off_from_launchctl_113():
    fact = remote_login.probe(host(ok(LAUNCHCTL, stderr=data("remote_login", "launchctl-off-113.txt"),
                                      returncode=113)))
    assert fact.observed == {"enabled": False}


@pytest.mark.parametrize("failure", ["timeout", "not_found", "denied", 5])
def test_probe_admin_falls_back_to_systemsetup(failure):
    first = err(LAUNCHCTL, failure) if isinstance(failure, str) else ok(LAUNCHCTL, "", "x", failure)
    fact = remote_login.probe(host(first, ok(SETUP, data("remote_login", "systemsetup-on.txt")), is_admin=True))
    assert fact.observed == {"enabled": True}


@pytest.mark.parametrize("kind", ERRORS)
def test_probe_not_admin_does_not_trust_systemsetup(kind):
    fact = remote_login.probe(host(err(LAUNCHCTL, kind), ok(SETUP, data("remote_login", "systemsetup-on.txt"))))
    assert fact.observed == {}
    assert "launchctl" in fact.unread["enabled"]


def test_probe_admin_message_is_not_an_answer():
    # is_admin() may say yes while systemsetup still refuses (e.g. not elevated)
    fact = remote_login.probe(host(ok(LAUNCHCTL, "", "Bad request.\n", 5),
                                   ok(SETUP, data("remote_login", "systemsetup-not-admin.txt")), is_admin=True))
    assert fact.observed == {}
    assert fact.unread == {"enabled": "needs administrator rights"}


@pytest.mark.parametrize("kind", ERRORS)
def test_probe_admin_both_fail(kind):
    fact = remote_login.probe(host(err(LAUNCHCTL, "timeout"), err(SETUP, kind), is_admin=True))
    assert fact.unread["enabled"].startswith("launchctl timed out; systemsetup")


def test_probe_admin_systemsetup_garbage():
    fact = remote_login.probe(host(err(LAUNCHCTL, "timeout"), ok(SETUP, "Remote Login: maybe\n"), is_admin=True))
    assert "systemsetup gave an answer Checkup does not understand" in fact.unread["enabled"]
