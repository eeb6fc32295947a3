"""firewall: `socketfilterfw --getglobalstate` / `--getstealthmode`."""
import pytest

from darwin_testlib import ERRORS, data, err, host, ok
from probes.darwin import firewall
from probes.darwin.firewall import parse_global_state, parse_stealth

FW = "/usr/libexec/ApplicationFirewall/socketfilterfw"
GLOBAL = [FW, "--getglobalstate"]
STEALTH = [FW, "--getstealthmode"]

GLOBAL_CASES = {
    # tests/fixtures/macos/sonoma-14-6-compliant.json; also Kolide's mac-firewall check page transcript
    "globalstate-enabled-1.txt": True,
    # tests/fixtures/macos/ventura-13-6-filevault-off-remote-login-admin.json
    "globalstate-disabled-0.txt": False,
    # rgcr/m-cli issue #160 (2021): block-all shown with the old "enabled" wording
    "globalstate-enabled-2-old.txt": True,
    # dan-snelson/Mac-Health-Check PR #8 (2025) and momenbasel/PureMac PR #176 (Sequoia)
    "globalstate-blocking-2.txt": True,
    "globalstate-empty.txt": None,
    # socketfilterfw's managed-Mac refusal (quoted in fleetdm/fleet issue #53594): no state in it
    "globalstate-no-state.txt": None,
}

STEALTH_CASES = {
    # tests/fixtures/macos/sonoma-14-6-compliant.json (old wording)
    "stealth-enabled-old.txt": True,
    # tests/fixtures/macos/ventura-13-6-filevault-off-remote-login-admin.json
    "stealth-disabled-old.txt": False,
    # SOURCES.md (15+ wording); also quoted in public macOS audit scripts' notes
    "stealth-on-15.txt": True,
    "stealth-off-15.txt": False,
    # ParetoSecurity/pareto-mac issue #139 (macOS 13, with Little Snitch): an error, not an answer
    "stealth-alf-error.txt": None,
    "stealth-empty.txt": None,
}


@pytest.mark.parametrize("name", sorted(GLOBAL_CASES))
def test_parse_global_state(name):
    assert parse_global_state(data("firewall", name)) is GLOBAL_CASES[name]


@pytest.mark.parametrize("name", sorted(STEALTH_CASES))
def test_parse_stealth(name):
    assert parse_stealth(data("firewall", name)) is STEALTH_CASES[name]


def test_unknown_state_numbers_are_not_guessed():
    assert parse_global_state("Firewall is enabled. (State = 3)") is None
    assert parse_global_state("Firewall is enabled.") is None
    assert parse_global_state("(State = 0)\n(State = 1)") is None


def test_probe_both():
    fact = firewall.probe(host(ok(GLOBAL, data("firewall", "globalstate-blocking-2.txt")),
                               ok(STEALTH, data("firewall", "stealth-on-15.txt"))))
    assert fact.observed == {"enabled": True, "stealth": True}
    assert not fact.unread


def test_probe_reads_stderr_too():
    fact = firewall.probe(host(ok(GLOBAL, stderr="Firewall is disabled. (State = 0)\n"),
                               ok(STEALTH, stderr="Stealth mode disabled\n")))
    assert fact.observed == {"enabled": False, "stealth": False}


@pytest.mark.parametrize("kind", ERRORS)
def test_probe_global_error_keeps_stealth(kind):
    fact = firewall.probe(host(err(GLOBAL, kind), ok(STEALTH, "Stealth mode enabled\n")))
    assert fact.observed == {"stealth": True}
    assert "socketfilterfw" in fact.unread["enabled"]


@pytest.mark.parametrize("kind", ERRORS)
def test_probe_stealth_error_keeps_enabled(kind):
    fact = firewall.probe(host(ok(GLOBAL, "Firewall is enabled. (State = 1)\n"), err(STEALTH, kind)))
    assert fact.observed == {"enabled": True}
    assert "socketfilterfw" in fact.unread["stealth"]


def test_probe_nonzero_exit_without_answer():
    fact = firewall.probe(host(ok(GLOBAL, "", "boom", returncode=1), ok(STEALTH, "", returncode=1)))
    assert fact.unread == {"enabled": "socketfilterfw gave no answer (exit 1)",
                           "stealth": "socketfilterfw gave no answer (exit 1)"}


def test_probe_alf_error_is_not_understood():
    fact = firewall.probe(host(ok(GLOBAL, data("firewall", "globalstate-enabled-1.txt")),
                               ok(STEALTH, data("firewall", "stealth-alf-error.txt"))))
    assert fact.observed == {"enabled": True}
    assert fact.unread == {"stealth": "socketfilterfw gave an answer Checkup does not understand"}
