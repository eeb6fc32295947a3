"""Windows screen lock from real `reg query` outputs kept in test-data/screen_lock/.

The probe reads the registry directly; these outputs are turned into registry values
(REG_SZ -> str, REG_DWORD -> int) and replayed through the probe and the judge.

Sources:
- hkcu_desktop_defaults_no_scrnsave.txt: `HKEY_CURRENT_USER\\Control Panel\\Desktop` of a
  Windows 10/11 machine, listed in benfry/processing4 build/windows/fenster/README.md
  (section "Use a Registry Key", "keys from HKEY_CURRENT_USER\\Control Panel\\Desktop").
  `ScreenSaveActive` is 1 but there is no `SCRNSAVE.EXE` (nor a timeout or the password
  setting): the out-of-box state, where no screen saver ever starts. The author's paste
  starts at the first value (no key header line) and shortens `TranscodedImageCache`;
  `WallPaper    REG_SZ` with nothing after it is how reg.exe prints an empty string.
- hkcu_policy_desktop_gpo_scrnsave.txt: `reg query "HKCU\\Software\\Policies\\Microsoft\\
  Windows\\Control Panel\\Desktop"` after `gpupdate /force`, from a public homelab GPO
  write-up in the code index ("GPO 1 - PUBMIX-Workstations-ScreenLock": Enable screen saver,
  Force specific screen saver scrnsave.scr, Password protect, timeout 600 s). The author kept
  the value lines only.
- The rules (documentation): SCRNSAVE.EXE in HKCU\\Control Panel\\Desktop is deleted when
  "(None)" is chosen (learn.microsoft.com/en-us/previous-versions/windows/it-pro/
  windows-2000-server/cc978622, msdn ms815030); the Group Policy SCRNSAVE.EXE, when it
  appears, is used instead, and "if the specified screen saver is not installed on the
  computer, no screen saver runs" (learn.microsoft.com/en-us/previous-versions/cc959137);
  "Enable screen saver": a screen saver runs only if a valid one is specified through
  "Screen Saver executable name" or Control Panel, and the timeout is nonzero (ADMX text,
  CPL_Personalization_EnableScreenSaver).
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.policy import load_policy
from agent.verdicts import judge
from probes.host import RecordedHost
from probes.windows import screen_lock

DATA = Path(__file__).parent / "test-data" / "screen_lock"
POLICY = load_policy()
DESK, DESK_POLICY, SYSTEM = screen_lock.DESKTOP, screen_lock.DESKTOP_POLICY, screen_lock.SYSTEM_POLICY
_LINE = re.compile(r"^\s*(\S+)\s+(REG_[A-Z_]+)(?:\s+(.*))?$")


def reg_values(name: str) -> dict:
    """`reg query` value lines -> {value name: str | int}; binary and other types are left out."""
    values = {}
    for line in (DATA / f"{name}.txt").read_text(encoding="utf-8").splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        value, kind, data = match.group(1), match.group(2), (match.group(3) or "").strip()
        if kind in ("REG_SZ", "REG_EXPAND_SZ"):
            values[value] = data
        elif kind == "REG_DWORD":
            values[value] = int(data, 16)
    return values


def check(registry: dict):
    fact = screen_lock.probe(RecordedHost({"platform": "windows", "registry": registry}))
    status, judgement = judge("screen_lock", fact, POLICY, "windows")
    return fact, status, judgement


def test_every_file_is_used():
    assert {p.stem for p in DATA.glob("*.txt")} == {"hkcu_desktop_defaults_no_scrnsave",
                                                    "hkcu_policy_desktop_gpo_scrnsave"}


def test_reg_query_lines_are_read():
    desk = reg_values("hkcu_desktop_defaults_no_scrnsave")
    assert desk["ScreenSaveActive"] == "1" and desk["WallPaper"] == "" and desk["LogPixels"] == 0xC0
    assert "SCRNSAVE.EXE" not in desk and "UserPreferencesMask" not in desk


def test_active_but_no_screen_saver_selected_fails_and_says_why():
    fact, status, judgement = check({DESK: reg_values("hkcu_desktop_defaults_no_scrnsave")})
    assert fact.observed == {"enabled": False, "lock_delay_seconds": 0} and not fact.unread
    assert status == "fail"
    assert "no screen saver is selected" in judgement.summary


@pytest.mark.parametrize("secure,timeout", [("1", "600"), ("1", "300"), ("0", "600")])
def test_no_screen_saver_selected_even_with_password_and_timeout(secure, timeout):
    desk = {**reg_values("hkcu_desktop_defaults_no_scrnsave"),
            "ScreenSaverIsSecure": secure, "ScreenSaveTimeOut": timeout}
    fact, status, judgement = check({DESK: desk})
    assert fact.observed["enabled"] is False and status == "fail"
    assert "no screen saver is selected" in judgement.summary


def test_blank_scrnsave_is_no_screen_saver():
    # reg.exe prints an empty REG_SZ as `Name    REG_SZ` (WallPaper in the same output).
    desk = {**reg_values("hkcu_desktop_defaults_no_scrnsave"), "ScreenSaverIsSecure": "1",
            "ScreenSaveTimeOut": "600", "SCRNSAVE.EXE": "", }
    fact, status, _ = check({DESK: desk})
    assert fact.observed["enabled"] is False and status == "fail"


def test_machine_inactivity_limit_still_locks():
    fact, status, judgement = check({DESK: reg_values("hkcu_desktop_defaults_no_scrnsave"),
                                     SYSTEM: {"InactivityTimeoutSecs": 600}})
    assert fact.observed == {"enabled": True, "idle_seconds": 600, "lock_delay_seconds": 0}
    assert status == "pass" and "10 minutes" in judgement.summary


def test_group_policy_screen_saver_applies_over_none_selected():
    fact, status, _ = check({DESK: reg_values("hkcu_desktop_defaults_no_scrnsave"),
                             DESK_POLICY: reg_values("hkcu_policy_desktop_gpo_scrnsave")})
    assert fact.observed == {"enabled": True, "idle_seconds": 600, "lock_delay_seconds": 0}
    assert status == "pass"


def test_group_policy_forced_screen_saver_alone_supplies_the_file():
    # Only "Force specific screen saver" from the GPO; the user's own settings do the rest.
    desk = {**reg_values("hkcu_desktop_defaults_no_scrnsave"), "ScreenSaverIsSecure": "1",
            "ScreenSaveTimeOut": "300"}
    gpo = {"SCRNSAVE.EXE": reg_values("hkcu_policy_desktop_gpo_scrnsave")["SCRNSAVE.EXE"]}
    fact, status, _ = check({DESK: desk, DESK_POLICY: gpo})
    assert fact.observed["idle_seconds"] == 300 and status == "pass"


def test_group_policy_blank_file_wins_over_the_users_choice():
    # Documentation: a policy SCRNSAVE.EXE that appears is used; a blank one names no saver.
    desk = {**reg_values("hkcu_desktop_defaults_no_scrnsave"), "ScreenSaverIsSecure": "1",
            "ScreenSaveTimeOut": "300", "SCRNSAVE.EXE": r"C:\Windows\system32\scrnsave.scr"}
    fact, status, judgement = check({DESK: desk, DESK_POLICY: {"SCRNSAVE.EXE": ""}})
    assert fact.observed["enabled"] is False and "no screen saver is selected" in judgement.summary


def test_group_policy_screen_saver_with_the_inactivity_limit_the_smaller_wins():
    fact, status, _ = check({DESK: reg_values("hkcu_desktop_defaults_no_scrnsave"),
                             DESK_POLICY: reg_values("hkcu_policy_desktop_gpo_scrnsave"),
                             SYSTEM: {"InactivityTimeoutSecs": 300}})
    assert fact.observed["idle_seconds"] == 300 and status == "pass"


def test_other_reasons_the_screen_saver_does_not_lock_are_named():
    base = {**reg_values("hkcu_desktop_defaults_no_scrnsave"), "SCRNSAVE.EXE": "scrnsave.scr"}
    cases = {
        "the screen saver is turned off": {"ScreenSaveActive": "0", "ScreenSaverIsSecure": "1",
                                           "ScreenSaveTimeOut": "600"},
        "doesn't ask for the password": {"ScreenSaverIsSecure": "0", "ScreenSaveTimeOut": "600"},
        "has no wait time": {"ScreenSaverIsSecure": "1", "ScreenSaveTimeOut": "0"},
    }
    for words, values in cases.items():
        _, status, judgement = check({DESK: {**base, **values}})
        assert status == "fail" and words in judgement.summary, words


def test_unreadable_password_setting_with_a_long_timeout_fails_anyway():
    # Whether or not the garbled ScreenSaverIsSecure means "on", 20 minutes is over 15.
    desk = {**reg_values("hkcu_desktop_defaults_no_scrnsave"), "SCRNSAVE.EXE": "scrnsave.scr",
            "ScreenSaverIsSecure": "maybe", "ScreenSaveTimeOut": "1200"}
    fact, status, _ = check({DESK: desk})
    assert "enabled" in fact.unread and fact.observed["idle_seconds"] == 1200
    assert status == "fail"


def test_unreadable_timeout_under_a_short_inactivity_limit_passes():
    # The machine locks after 10 minutes at the latest, whatever the garbled timeout says.
    desk = {**reg_values("hkcu_desktop_defaults_no_scrnsave"), "SCRNSAVE.EXE": "scrnsave.scr",
            "ScreenSaverIsSecure": "1", "ScreenSaveTimeOut": "soon"}
    fact, status, judgement = check({DESK: desk, SYSTEM: {"InactivityTimeoutSecs": 600}})
    assert "idle_seconds" in fact.unread and fact.extra["idle_seconds_at_most"] == 600
    assert status == "pass" and "within 10 minutes" in judgement.summary
