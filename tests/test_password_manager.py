"""password_manager: the judge (require, builtin_counts, unknown) and the Host seam it reads through."""
import os

import pytest

from agent.checks.password_manager.judge import judge
from agent.policy import Policy
from agent.verdicts import status_of
from probes.darwin import password_manager as darwin_pm
from probes.fact import Fact
from probes.host import Listing, RecordedHost, RecordingHost, capture_problem
from probes.linux import password_manager as linux_pm


def policy(**params):
    return Policy(checks={"password_manager": {"level": "suggested", **params}})


def fact(found, builtin=(), unread=None):
    return Fact(observed={"found": list(found), "builtin": list(builtin)}, unread=dict(unread or {}))


def test_pass_when_one_is_found():
    j = judge(fact(["Bitwarden"]), policy(), "linux")
    assert (j.outcome, j.summary) == ("pass", "Bitwarden is installed.")
    assert j.observed == {"found": ["Bitwarden"]}


def test_two_found_are_installed():
    j = judge(fact(["1Password", "KeePassXC"]), policy(), "windows")
    assert j.summary == "1Password and KeePassXC are installed."


def test_none_found_is_bad_and_a_nudge_at_the_default_level():
    j = judge(fact([]), policy(), "darwin")
    assert j.outcome == "bad" and status_of(j.outcome, "suggested") == "nudge"
    assert status_of(j.outcome, "required") == "fail"


def test_builtin_counts_only_when_the_policy_says_so():
    f = fact([], ["Apple Passwords"])
    j = judge(f, policy(), "darwin")
    assert j.outcome == "bad" and "don't count" in j.summary
    j = judge(f, policy(builtin_counts=True), "darwin")
    assert (j.outcome, j.summary) == ("pass", "Apple Passwords is installed.")


def test_require_names_the_company_choice():
    j = judge(fact(["Bitwarden", "LastPass"]), policy(require=["1password"]), "windows")
    assert j.outcome == "warn" and status_of(j.outcome, "required") == "nudge"
    assert j.summary == "You use Bitwarden and LastPass; your company asks you to use 1Password instead."
    assert j.observed["required"] == ["1Password"]
    j = judge(fact(["Bitwarden", "1Password"]), policy(require=["1Password"]), "windows")
    assert (j.outcome, j.summary) == ("pass", "1Password is installed.")
    j = judge(fact([]), policy(require=["1Password"]), "windows")
    assert j.outcome == "bad" and j.summary.startswith("1Password is not installed")


def test_builtin_never_satisfies_require_unless_counted_and_named():
    j = judge(fact([], ["Google Password Manager"]), policy(require=["1Password"], builtin_counts=True), "linux")
    assert j.outcome == "warn"


def test_unknown_when_nothing_could_be_read():
    f = Fact(unread={"found": "no folder of apps could be read (permission was denied)"})
    j = judge(f, policy(), "darwin")
    assert j.outcome == "unknown" and "permission was denied" in j.summary


def test_unknown_when_nothing_found_but_a_place_was_unreadable():
    j = judge(fact([], unread={"home": "the home folder is not known"}), policy(), "linux")
    assert j.outcome == "unknown"
    # ... but a manager found elsewhere is enough
    assert judge(fact(["KeePassXC"], unread={"home": "x"}), policy(), "linux").outcome == "pass"


@pytest.mark.parametrize("found", [None, "1Password", [1, None, ""], {"a": 1}])
def test_garbage_observed_never_raises(found):
    j = judge(Fact(observed={"found": found, "builtin": "x"}), policy(require="nope"), "linux")
    assert j.outcome in ("bad", "unknown", "pass", "warn")


# -- the Host seam: list_dir and registry_subkeys replay and record --------------------------
def test_recorded_list_dir_and_errors():
    h = RecordedHost({"platform": "linux", "dirs": {"/a": ["b", "a"], "/d": "denied"}})
    assert h.list_dir("/a") == ["a", "b"] and h.list_dir("/a").error is None
    assert h.list_dir("/d").error == "denied" and h.list_dir("/x").error == "not_found"
    assert isinstance(h.list_dir("/x"), Listing) and list(h.list_dir("/x")) == []


def test_recorded_registry_subkeys_from_recorded_keys():
    h = RecordedHost({"platform": "windows", "registry": {
        "HKCU\\Software\\U\\1Password": {"DisplayName": "1Password"}, "HKCU\\Software\\U": {}}})
    assert h.registry_subkeys("hkcu\\software\\u") == ["1Password"]
    assert h.registry_subkeys("HKCU\\Software") == ["U"]
    assert h.registry_subkeys("HKCU\\Nope") is None


def test_recording_host_captures_what_replays_the_same(tmp_path):
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "KeePassXC.app").mkdir()
    from probes.host import LiveHost
    rec = RecordingHost(LiveHost())
    assert rec.list_dir(str(tmp_path / "apps")) == ["KeePassXC.app"]
    rec.list_dir(str(tmp_path / "missing"))
    cap = rec.capture()
    assert capture_problem(cap) is None
    assert cap["dirs"] == {str(tmp_path / "apps"): ["KeePassXC.app"]}
    replay = RecordedHost(cap)
    assert replay.list_dir(str(tmp_path / "apps")) == ["KeePassXC.app"]


def test_capture_problem_checks_dirs():
    assert capture_problem({"platform": "linux", "dirs": {"/a": [1]}}).startswith("dirs must be")
    assert capture_problem({"platform": "linux", "dirs": {"/a": "denied", "/b": ["x"]}}) is None


# -- fix texts (agent/checks/password_manager/fix.toml) ----------------------------------------
def _fix_data():
    import pathlib

    from agent.tomlcompat import tomllib
    path = pathlib.Path(__file__).parent.parent / "agent" / "checks" / "password_manager" / "fix.toml"
    with path.open("rb") as fh:
        return tomllib.load(fh)


@pytest.mark.parametrize("entry", ["darwin.old", "windows.10", "linux"])
def test_fix_texts_name_the_company_choice_or_a_default(entry):
    data = _fix_data()
    e = data
    for part in entry.split("."):
        e = e[part]
    for names in ("1Password", e["names_default"]):
        steps = [s.format(names=names) for s in e["steps"]]
        hint = e["hint"].format(names=names)
        assert any(names in s for s in steps) and names in hint
        assert not any("{" in s or "}" in s for s in steps + [hint])
    assert len(e["hint"].format(names="1Password")) <= 100
    assert data["title"] == "Password manager" and ". " not in data["why"]


# -- whole captures replayed: probe, then judge ------------------------------------------------
TESTS = os.path.dirname(os.path.abspath(__file__))


def _capture(os_dir, name):
    return RecordedHost.load(os.path.join(TESTS, "probes", os_dir, "test-data", "password_manager", name))


def test_sonoma_capture_replays():
    f = darwin_pm.probe(_capture("darwin", "capture-sonoma.json"))
    # Chrome's Profile 1 has no Preferences: its own saving is on by default
    assert f.observed == {"found": ["1Password", "Bitwarden"],
                          "builtin": ["Google Password Manager", "iCloud Keychain"]}
    assert "denied" in f.unread["the apps in /Users/alice/Applications"]
    assert judge(f, policy(), "darwin").outcome == "pass"
    assert judge(f, policy(require=["Keeper"]), "darwin").outcome == "unknown"  # ~/Applications unread


def test_fedora_capture_replays():
    f = linux_pm.probe(_capture("linux", "capture-fedora.json"))
    # 1Password: the extension in Chrome's Preferences; KeePassXC: flatpak export; Enpass: snap
    assert f.observed == {"found": ["1Password", "KeePassXC", "Enpass"], "builtin": ["Google Password Manager"]}
    assert judge(f, policy(require=["1Password"]), "linux").outcome == "pass"
    j = judge(f, policy(require=["Bitwarden"]), "linux")
    assert j.outcome == "warn" and j.summary == ("You use 1Password, KeePassXC and Enpass; your company "
                                                 "asks you to use Bitwarden instead.")


def test_denied_capture_is_unknown_with_the_reason():
    f = linux_pm.probe(_capture("linux", "capture-denied.json"))
    j = judge(f, policy(), "linux")
    assert j.outcome == "unknown" and "permission was denied" in j.summary
