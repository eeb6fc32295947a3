"""The judges: facts + policy -> status, for the rules of DESIGN.md and SOURCES.md."""
from datetime import date

import pytest

from agent.policy import load_policy
from agent.verdicts import device_status, judge
from probes.fact import Fact

POLICY = load_policy()


def status(check, fact, platform="linux", policy=POLICY):
    return judge(check, fact, policy, platform)[0]


def policy_with(tmp_path, text):
    f = tmp_path / "p.toml"
    f.write_text(text)
    return load_policy(str(f))


@pytest.mark.parametrize("idle,delay,want", [
    (900, 0, "pass"),        # exactly max_seconds passes
    (895, 5, "pass"),
    (900, 1, "fail"),
    (0, 0, "fail"),          # never locks on idle
    (60, 0, "pass"),
])
def test_screen_lock_limit(idle, delay, want):
    fact = Fact(observed={"enabled": True, "idle_seconds": idle, "lock_delay_seconds": delay})
    assert status("screen_lock", fact) == want


def test_screen_lock_decides_from_what_it_could_read():
    off = Fact(observed={"enabled": False}, unread={"idle_seconds": "gsettings timed out"})
    assert status("screen_lock", off) == "fail"
    on = Fact(observed={"enabled": True, "lock_delay_seconds": 0}, unread={"idle_seconds": "gsettings timed out"})
    st, j = judge("screen_lock", on, POLICY, "linux")
    assert st == "unknown" and "gsettings timed out" in j.summary


def test_windows_firewall_one_profile_off_fails_even_if_another_is_unread():
    fact = Fact(observed={"profiles": {"domain": True, "public": False}, "enabled": False},
                unread={"private": "netsh timed out"})
    st, j = judge("firewall", fact, POLICY, "windows")
    assert st == "fail" and "Public" in j.summary
    unread = Fact(observed={"profiles": {"domain": True, "public": True}}, unread={"enabled": "netsh timed out"})
    assert status("firewall", unread, "windows") == "unknown"


@pytest.mark.parametrize("state,want", [("on", "pass"), ("encrypting", "nudge"), ("off", "fail"),
                                        ("suspended", "fail"), ("decrypting", "fail")])
def test_disk_encryption_states(state, want):
    assert status("disk_encryption", Fact(observed={"state": state}), "darwin") == want


def test_levels(tmp_path):
    suggested = policy_with(tmp_path, '[disk_encryption]\nlevel = "suggested"\n[firewall]\nlevel = "off"\n')
    assert status("disk_encryption", Fact(observed={"state": "off"}), policy=suggested) == "nudge"
    assert status("disk_encryption", Fact(observed={"state": "encrypting"}), policy=suggested) == "nudge"
    assert status("firewall", Fact(observed={"enabled": False}), policy=suggested) == "skip"
    assert status("remote_login", Fact(observed={"enabled": True})) == "nudge"  # suggested by default
    assert status("remote_login", Fact(observed={"enabled": False})) == "pass"


def test_os_version_rules(tmp_path):
    def fact(version, os_id="ubuntu", **extra):
        # Judged on a fixed day: end-of-support dates (agent/end_of_life.toml) count too.
        f = Fact(observed={"name": "Ubuntu", "version": version},
                 extra={"os_id": os_id, "today": date(2026, 12, 2), **extra})
        if version is None:
            f.observed.pop("version")
            f.miss("version", "no VERSION_ID")
        return f
    assert status("os_version", fact("20.04")) == "fail"
    assert status("os_version", fact("22.04")) == "nudge"
    assert status("os_version", fact("24.04")) == "pass"
    assert status("os_version", fact("24.10")) == "fail"     # interim release, ended 2025-07-10
    no_eol = policy_with(tmp_path, "[os_version]\nend_of_life = false\n")
    assert status("os_version", fact("24.10"), policy=no_eol) == "pass"  # 24.10 > 24.04
    assert status("os_version", fact("1.0", os_id="haiku")) == "skip"             # no minimum for it
    assert status("os_version", fact(None, os_id="arch", rolling=True)) == "skip"  # rolling release
    assert status("os_version", fact(None)) == "unknown"
    mac = Fact(observed={"name": "macOS", "version": "13.3.1 (a)"}, extra={"os_id": "macos", "today": date(2026, 12, 2)})
    assert status("os_version", mac, "darwin") == "fail"
    win = Fact(observed={"name": "Windows 11 Pro", "version": "10.0.26100.2033"},
               extra={"os_id": "windows", "today": date(2026, 12, 2)})  # no EditionID: latest 24H2 date
    assert status("os_version", win, "windows") == "pass"


def test_macos_updates_partly_on_is_a_nudge_naming_what_is_off():
    fact = Fact(observed={"enabled": True, "complete": False, "settings_off": ["CriticalUpdateInstall"]})
    st, j = judge("automatic_updates", fact, POLICY, "darwin")
    assert st == "nudge" and "security responses" in j.summary


@pytest.mark.parametrize("products,want", [
    ([{"name": "Defender", "enabled": True, "up_to_date": True}], "pass"),
    ([{"name": "Old AV", "enabled": False, "up_to_date": True},
      {"name": "Defender", "enabled": True, "up_to_date": True}], "pass"),
    ([{"name": "Defender", "enabled": True, "up_to_date": False}], "fail"),
    ([{"name": "Defender", "enabled": False, "up_to_date": True}], "fail"),
    ([], "fail"),
])
def test_antivirus(products, want):
    assert status("antivirus", Fact(observed={"products": products}), "windows") == want


def test_antivirus_unread_is_unknown():
    fact = Fact(unread={"products": "Security Center did not answer"})
    assert status("antivirus", fact, "windows") == "unknown"


def test_security_software_names(tmp_path):
    policy = policy_with(tmp_path, '[security_software]\nrequire = { windows = ["CSFalconService", "osqueryd"] }\n')
    fact = Fact(extra={"processes": ["System", "csfalconservice.EXE", "explorer.exe"]})
    st, j = judge("security_software", fact, policy, "windows")
    assert st == "fail"
    assert j.observed == {"required": ["CSFalconService", "osqueryd"], "running": ["CSFalconService"],
                          "missing": ["osqueryd"]}
    assert "processes" not in j.observed  # the process list is never reported
    assert status("security_software", fact, "linux", policy) == "skip"  # nothing required there


def test_device_status():
    assert device_status(["pass", "unknown", "fail"]) == "fail"
    assert device_status(["pass", "nudge", "unknown"]) == "nudge"
    assert device_status(["pass", "unknown", "skip"]) == "pass"   # unknown never turns it yellow
    assert device_status(["unknown", "skip"]) == "unknown"


def test_unknown_reason_is_short_and_never_repeats():
    fact = Fact(unread={"enabled": "A could not be read", "complete": "A could not be read; B could not be read; C"})
    assert fact.reason == "A could not be read; B could not be read"


# -- deciding from what was read (issue 10): one case per judge change ----------------------
def test_screen_lock_never_fails_whatever_the_lock_says():
    never = Fact(observed={"idle_seconds": 0}, unread={"enabled": "sysadminctl timed out",
                                                       "lock_delay_seconds": "sysadminctl timed out"})
    assert status("screen_lock", never, "darwin") == "fail"


@pytest.mark.parametrize("delay,want", [(28800, "fail"), (900, "fail"), (899, "unknown")])
def test_screen_lock_delay_alone_over_the_limit_fails_whatever_the_idle(delay, want):
    # idle is at least 1 s, or 0 = never: a delay of max_seconds already makes it too slow
    fact = Fact(observed={"enabled": True, "lock_delay_seconds": delay}, unread={"idle_seconds": "pmset timed out"})
    assert status("screen_lock", fact, "darwin") == want


def test_screen_lock_idle_over_the_limit_fails_with_the_delay_unread():
    fact = Fact(observed={"enabled": True, "idle_seconds": 1200}, unread={"lock_delay_seconds": "x timed out"})
    st, j = judge("screen_lock", fact, POLICY, "linux")
    assert st == "fail" and "20 minutes or more" in j.summary
    short = Fact(observed={"enabled": True, "idle_seconds": 300}, unread={"lock_delay_seconds": "x timed out"})
    assert status("screen_lock", short) == "unknown"


def test_screen_lock_idle_bounds_decide():
    def fact(**extra):
        return Fact(observed={"enabled": True, "lock_delay_seconds": 5},
                    unread={"idle_seconds": "the screen saver start time could not be read"}, extra=extra)
    assert status("screen_lock", fact(idle_seconds_at_most=600), "darwin") == "pass"
    assert status("screen_lock", fact(idle_seconds_at_most=1200), "darwin") == "unknown"
    assert status("screen_lock", fact(idle_seconds_at_least=1200), "windows") == "fail"
    assert status("screen_lock", fact(idle_seconds_at_least=300, idle_seconds_at_most=1200), "windows") == "unknown"
    # bounds that contradict each other are ignored, not trusted
    assert status("screen_lock", fact(idle_seconds_at_least=1200, idle_seconds_at_most=60), "windows") == "unknown"
    # the lock itself unread: still unknown, whatever the idle
    unread_lock = fact(idle_seconds_at_most=60)
    unread_lock.observed.pop("enabled")
    unread_lock.miss("enabled", "sysadminctl timed out")
    assert status("screen_lock", unread_lock, "darwin") == "unknown"


def test_screen_lock_says_why_it_is_off():
    fact = Fact(observed={"enabled": False, "lock_delay_seconds": 0},
                extra={"lock_off_reason": "no screen saver is selected"})
    st, j = judge("screen_lock", fact, POLICY, "windows")
    assert st == "fail" and j.summary.endswith("(no screen saver is selected).")


def test_windows_firewall_every_profile_on_passes_from_the_profiles():
    fact = Fact(observed={"profiles": {"domain": True, "private": True, "public": True}})
    assert status("firewall", fact, "windows") == "pass"


def test_macos_updates_a_setting_known_off_nudges_even_with_another_unread():
    fact = Fact(observed={"enabled": True, "complete": False},
                unread={"settings_off": "CriticalUpdateInstall could not be read (defaults timed out)"},
                extra={"settings_off_known": ["AutomaticDownload"]})
    st, j = judge("automatic_updates", fact, POLICY, "darwin")
    assert st == "nudge" and "download new updates" in j.summary
    # was a pass: "Automatic updates are on." although a setting was off


def test_os_version_unread_on_a_system_with_no_minimum_skips():
    fact = Fact(observed={"name": "Haiku"}, unread={"version": "uname timed out"}, extra={"os_id": "haiku"})
    assert status("os_version", fact) == "skip"
    unknown_os = Fact(unread={"name": "/etc/os-release could not be read",
                              "version": "/etc/os-release could not be read"})
    assert status("os_version", unknown_os) == "unknown"


def test_durations_read_naturally():
    from agent.verdicts import _duration
    assert [_duration(s) for s in (1, 59, 60, 300, 305, 3600, 5400, 28800)] == [
        "1 second", "59 seconds", "1 minute", "5 minutes", "5 min 5 s", "1 hour", "90 minutes", "8 hours"]


def test_linux_updates_downloaded_but_not_installed_say_so():
    # dnf(5)-automatic's timer on with the shipped apply_updates = no: off, in words
    # that match what the machine does (the real probe on the Fedora 44 capture below).
    fact = Fact(observed={"enabled": False, "family": "fedora", "updater": None},
                extra={"downloads_only": True})
    st, j = judge("automatic_updates", fact, POLICY, "linux")
    assert st == "nudge" and "downloaded by themselves but not installed" in j.summary
    st, j = judge("automatic_updates", Fact(observed={"enabled": False}), POLICY, "linux")
    assert "Automatic updates are off" in j.summary


def test_fedora_capture_with_download_only_timer_says_so():
    import json
    from pathlib import Path

    from agent.pipeline import run_check
    from probes.host import RecordedHost
    capture = Path(__file__).parent / "fixtures" / "linux" / "fedora-44-gnome-lock-too-slow-dnf5-automatic.json"
    report = run_check(RecordedHost(json.loads(capture.read_text())), POLICY)
    check = next(c for c in report["checks"] if c["id"] == "automatic_updates")
    assert check["status"] == "nudge"
    assert "downloaded by themselves but not installed" in check["summary"]
