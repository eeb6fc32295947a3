"""automatic_updates: four `defaults read /Library/Preferences/com.apple.SoftwareUpdate <key>`."""
import pytest

from darwin_testlib import ERRORS, data, err, host, ok
from probes.darwin import automatic_updates
from probes.darwin.automatic_updates import KEYS, parse_bool

DOMAIN = "/Library/Preferences/com.apple.SoftwareUpdate"


def argv(key):
    return ["defaults", "read", DOMAIN, key]


ABSENT = data("automatic_updates", "defaults-missing-key-stderr.txt")

CASES = {
    # tests/fixtures/macos/* (`defaults read` of a boolean)
    "defaults-1.txt": True,
    "defaults-0.txt": False,
    # tests/fixtures/macos/sonoma-14-4-…: the stderr of a missing key is not a value
    "defaults-missing-key-stderr.txt": None,
    "defaults-empty.txt": None,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_parse_bool(name):
    assert parse_bool(data("automatic_updates", name)) is CASES[name]


def _host(values):
    """values: key -> "1"/"0"/"absent"/error kind/("rc", text)."""
    cmds = []
    for key in KEYS:
        v = values.get(key, "1")
        if v == "absent":
            cmds.append(ok(argv(key), stderr=ABSENT.replace("AutomaticCheckEnabled", key), returncode=1))
        elif v in ERRORS:
            cmds.append(err(argv(key), v))
        elif isinstance(v, tuple):
            cmds.append(ok(argv(key), v[1], returncode=v[0]))
        else:
            cmds.append(ok(argv(key), v + "\n"))
    return host(*cmds)


def test_all_on():
    fact = automatic_updates.probe(_host({}))
    assert fact.observed == {"enabled": True, "complete": True, "settings_off": []}


def test_missing_keys_are_default_on():
    fact = automatic_updates.probe(_host({"AutomaticCheckEnabled": "absent",
                                          "AutomaticallyInstallMacOSUpdates": "absent"}))
    assert fact.observed == {"enabled": True, "complete": True, "settings_off": []}


def test_whole_domain_missing_is_default_on():
    stderr = "2024-04-22 09:15:03.981 defaults[5124:61865]\nDomain /Library/Preferences/com.apple.SoftwareUpdate does not exist\n"
    fact = automatic_updates.probe(host(*[ok(argv(k), stderr=stderr, returncode=1) for k in KEYS]))
    assert fact.observed == {"enabled": True, "complete": True, "settings_off": []}


def test_critical_off_is_incomplete():
    fact = automatic_updates.probe(_host({"CriticalUpdateInstall": "0"}))
    assert fact.observed == {"enabled": True, "complete": False, "settings_off": ["CriticalUpdateInstall"]}


def test_checking_off():
    fact = automatic_updates.probe(_host({"AutomaticCheckEnabled": "0", "AutomaticDownload": "0"}))
    assert fact.observed == {"enabled": False, "complete": False,
                             "settings_off": ["AutomaticCheckEnabled", "AutomaticDownload"]}


@pytest.mark.parametrize("kind", ERRORS)
def test_first_key_error_misses_enabled(kind):
    fact = automatic_updates.probe(_host({"AutomaticCheckEnabled": kind}))
    assert "enabled" in fact.unread and "AutomaticCheckEnabled" in fact.unread["enabled"]
    assert "complete" in fact.unread and "settings_off" in fact.unread


@pytest.mark.parametrize("kind", ERRORS)
def test_other_key_error_keeps_enabled(kind):
    fact = automatic_updates.probe(_host({"AutomaticDownload": kind}))
    assert fact.observed == {"enabled": True}
    assert set(fact.unread) == {"complete", "settings_off"}


def test_unread_key_but_another_off_decides_incomplete():
    fact = automatic_updates.probe(_host({"AutomaticDownload": "timeout", "CriticalUpdateInstall": "0"}))
    assert fact.observed == {"enabled": True, "complete": False}
    assert fact.extra["settings_off_known"] == ["CriticalUpdateInstall"]
    assert "settings_off" in fact.unread


def test_garbage_and_other_exit_are_misses_not_defaults():
    fact = automatic_updates.probe(_host({"AutomaticCheckEnabled": (0, "{\n}\n"),
                                          "AutomaticDownload": (1, "")}))
    assert "enabled" in fact.unread
    assert "does not understand" in fact.unread["enabled"]
    assert "exit 1" in fact.unread["complete"]
