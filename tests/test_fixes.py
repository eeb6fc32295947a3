"""Fix instructions: per check x OS release, links chosen by release, text rules."""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from agent import fixes
from agent.fixes import CHECK_TITLES, LINK_SCHEMES, PLATFORM_CHECKS, fix_for
from agent.tomlcompat import tomllib

X = "x-apple.systempreferences:"

MAC_VERSIONS = ["12.7", "13.6", "14.4.1", "15.1", "26.1"]
WIN_VERSIONS = ["10.0.19045.4291", "10.0.22631.3447"]
LINUX_CASES = [(v, d) for v in ("22.04", "24.04") for d in ("gnome", "kde", None)]
ALL_CHECKS = sorted(CHECK_TITLES)

CASES = ([("darwin", v, None) for v in MAC_VERSIONS]
         + [("windows", v, None) for v in WIN_VERSIONS]
         + [("linux", v, d) for v, d in LINUX_CASES])

@pytest.fixture(autouse=True)
def no_fix_error_logged(caplog):
    """fix_for answers "Contact IT" when its code raises, and logs it: every test here fails on
    such a line, so a broken builder cannot hide behind the fallback."""
    caplog.set_level(logging.ERROR, logger="checkup.fixes")
    yield
    errors = [r for r in caplog.get_records("call") if r.name == "checkup.fixes" and r.levelno >= logging.ERROR]
    assert not errors, f"fix_for logged {len(errors)} error(s); first: {errors[0].getMessage()}"


KEYS = {"title", "why", "steps", "link", "menu_path", "open", "command", "hint", "needs_it"}

# Commands (not links) that the researched table names for Windows.
WINDOWS_COMMANDS = {
    ("control.exe", "/name", "Microsoft.BitLockerDriveEncryption"),
    ("control.exe", "/name", "Microsoft.WindowsFirewall"),
    ("control.exe", "desk.cpl,,@screensaver"),
    ("wf.msc",),
    ("firewall.cpl",),
}


def check_shape(fix: dict) -> None:
    assert set(fix) == KEYS
    assert isinstance(fix["title"], str) and fix["title"]
    assert isinstance(fix["why"], str) and fix["why"]
    assert isinstance(fix["steps"], list) and all(isinstance(s, str) and s for s in fix["steps"])
    assert isinstance(fix["hint"], str) and fix["hint"]
    assert isinstance(fix["needs_it"], bool)
    assert fix["link"] is None or isinstance(fix["link"], str)
    assert fix["menu_path"] is None or isinstance(fix["menu_path"], str)
    assert fix["open"] is None or (isinstance(fix["open"], list) and all(isinstance(a, str) for a in fix["open"]))
    assert fix["command"] is None or isinstance(fix["command"], str)


def check_text(fix: dict) -> None:
    hint = fix["hint"]
    assert "\n" not in hint and len(hint) <= 100, hint
    assert fix["why"].count(". ") == 0 and len(fix["why"]) <= 200, fix["why"]
    for step in fix["steps"]:
        assert "\n" not in step
        assert len(step) <= 200, step
        assert step[0].isupper(), step
        assert "**" not in step and "`" not in step and "<" not in step
    for text in [hint, fix["why"], *fix["steps"]]:
        assert "endpoint" not in text.lower()
        assert "{" not in text and "}" not in text, text  # every placeholder was filled


# ---------------------------------------------------------------------------- every case


@pytest.mark.parametrize("platform,version,desktop", CASES)
@pytest.mark.parametrize("check_id", ALL_CHECKS)
def test_every_check_on_every_release(check_id, platform, version, desktop):
    fix = fix_for(check_id, platform, version, desktop=desktop, observed={})
    check_shape(fix)
    check_text(fix)
    assert fix["title"] == CHECK_TITLES[check_id]
    if check_id in PLATFORM_CHECKS[platform]:
        assert fix["steps"], (check_id, platform, version, desktop)
    else:
        assert fix["steps"] == [] and fix["link"] is None and fix["open"] is None
    if fix["link"] is not None:
        assert fix["link"].startswith(LINK_SCHEMES)
    if fix["menu_path"] is not None or fix["link"] is not None:
        assert fix["menu_path"], "a link always comes with its written menu path"
    if platform == "darwin":
        if fix["link"]:
            assert fix["link"].startswith((X, "macappstore:"))
            assert fix["open"] == ["/usr/bin/open", fix["link"]]
        assert fix["command"] is None
    if platform == "windows":
        if fix["link"]:
            assert fix["link"].startswith(("ms-settings:", "windowsdefender:"))
        if fix["open"]:
            assert (fix["open"][0] == "explorer.exe" and fix["open"][1].startswith(("ms-settings:", "windowsdefender:"))) \
                or tuple(fix["open"]) in WINDOWS_COMMANDS, fix["open"]
        assert fix["command"] is None
    if platform == "linux":
        assert fix["link"] is None
        if fix["open"]:
            assert fix["open"][0] in ("gnome-control-center", "systemsettings", "kcmshell5", "kcmshell6",
                                      "gnome-software", "software-properties-gtk")


# ---------------------------------------------------------------------------- macOS links

MAC_LINKS = {
    "disk_encryption": {
        "12.7": X + "com.apple.preference.security?FDE",
        "13.6": X + "com.apple.settings.PrivacySecurity.extension?Security",
        "14.4.1": X + "com.apple.settings.PrivacySecurity.extension?FileVault",
        "15.1": X + "com.apple.settings.PrivacySecurity.extension?FileVault",
        "26.1": X + "com.apple.settings.PrivacySecurity.extension?FileVault",
    },
    "firewall": {
        "12.7": X + "com.apple.preference.security?Firewall",
        "13.6": X + "com.apple.Network-Settings.extension",
        "14.4.1": X + "com.apple.Network-Settings.extension",
        "15.1": X + "com.apple.Network-Settings.extension",
        "26.1": X + "com.apple.Network-Settings.extension",
    },
    "screen_lock": {
        "12.7": X + "com.apple.preference.security?General",
        "13.6": X + "com.apple.Lock-Screen-Settings.extension",
        "14.4.1": X + "com.apple.Lock-Screen-Settings.extension",
        "15.1": X + "com.apple.Lock-Screen-Settings.extension",
        "26.1": X + "com.apple.Lock-Screen-Settings.extension",
    },
    "automatic_updates": {
        "12.7": X + "com.apple.preferences.softwareupdate",
        "13.6": X + "com.apple.Software-Update-Settings.extension",
        "14.4.1": X + "com.apple.Software-Update-Settings.extension",
        "15.1": X + "com.apple.Software-Update-Settings.extension?action=showAdvancedOptions",
        "26.1": X + "com.apple.Software-Update-Settings.extension?action=showAdvancedOptions",
    },
    "os_version": {
        "12.7": X + "com.apple.preferences.softwareupdate",
        "13.6": X + "com.apple.Software-Update-Settings.extension",
        "14.4.1": X + "com.apple.Software-Update-Settings.extension",
        "15.1": X + "com.apple.Software-Update-Settings.extension",
        "26.1": X + "com.apple.Software-Update-Settings.extension",
    },
    "remote_login": {
        "12.7": X + "com.apple.preferences.sharing?Services_RemoteLogin",
        "13.6": X + "com.apple.Sharing-Settings.extension?Services_RemoteLogin",
        "14.4.1": X + "com.apple.Sharing-Settings.extension?Services_RemoteLogin",
        "15.1": X + "com.apple.Sharing-Settings.extension?Services_RemoteLogin",
        "26.1": X + "com.apple.Sharing-Settings.extension?Services_RemoteLogin",
    },
    "gatekeeper": {
        "12.7": X + "com.apple.preference.security?General",
        "13.6": X + "com.apple.settings.PrivacySecurity.extension?Security",
        "14.4.1": X + "com.apple.settings.PrivacySecurity.extension?Security",
        "15.1": X + "com.apple.settings.PrivacySecurity.extension?Security",
        "26.1": X + "com.apple.settings.PrivacySecurity.extension?Security",
    },
}


@pytest.mark.parametrize("check_id,version,url",
                         [(c, v, u) for c, by in MAC_LINKS.items() for v, u in by.items()])
def test_macos_link_is_chosen_by_release(check_id, version, url):
    fix = fix_for(check_id, "darwin", version)
    assert fix["link"] == url
    assert fix["open"] == ["/usr/bin/open", url]


def test_macos_menu_paths_follow_the_release():
    assert fix_for("disk_encryption", "darwin", "12.7")["menu_path"].startswith("Apple menu > System Preferences")
    assert "System Settings > Privacy & Security > FileVault" in fix_for("disk_encryption", "darwin", "14.4.1")["menu_path"]
    assert fix_for("firewall", "darwin", "13.6")["menu_path"] == "System Settings > Network > Firewall"
    # The Firewall anchor does not work on 13+: the steps say to click Firewall.
    assert any('"Firewall"' in s for s in fix_for("firewall", "darwin", "15.1")["steps"])
    assert "Advanced" in fix_for("remote_login", "darwin", "26.1")["menu_path"]
    assert "Advanced" not in fix_for("remote_login", "darwin", "15.1")["menu_path"]
    assert fix_for("gatekeeper", "darwin", "14.4.1")["steps"][2].startswith('Choose "App Store and identified developers"')
    assert "Known Developers" in " ".join(fix_for("gatekeeper", "darwin", "15.1")["steps"])


def test_macos_26_screen_saver_is_no_longer_on_lock_screen():
    steps = " ".join(fix_for("screen_lock", "darwin", "26.1", observed={"enabled": True, "idle_seconds": 0})["steps"])
    assert "Start Screen Saver when inactive" not in steps
    assert "Turn display off" in steps
    steps14 = " ".join(fix_for("screen_lock", "darwin", "14.4.1", observed={"enabled": True, "idle_seconds": 0})["steps"])
    assert "Start Screen Saver when inactive" in steps14


def test_macos_12_screen_saver_only_opens_the_pref_pane():
    fix = fix_for("screen_lock", "darwin", "12.7", observed={"enabled": True, "idle_seconds": 3600,
                                                             "lock_delay_seconds": 0})
    assert fix["link"] is None  # the scheme is not supported for that pane on 12
    assert fix["open"] == ["/usr/bin/open", "/System/Library/PreferencePanes/DesktopScreenEffectsPref.prefPane"]
    assert "Desktop & Screen Saver" in fix["menu_path"]


def test_macos_screen_lock_tailoring():
    pw_only = fix_for("screen_lock", "darwin", "14.4.1", observed={"enabled": False, "idle_seconds": 300})
    text = " ".join(pw_only["steps"])
    assert "Require password" in text and "Start Screen Saver" not in text
    idle_only = fix_for("screen_lock", "darwin", "14.4.1", observed={"enabled": True, "idle_seconds": 0,
                                                                     "lock_delay_seconds": 0})
    text = " ".join(idle_only["steps"])
    assert "Require password" not in text and "Start Screen Saver" in text


def test_macos_automatic_updates_names_the_switches_that_are_off():
    fix = fix_for("automatic_updates", "darwin", "14.4.1",
                  observed={"enabled": True, "settings_off": ["AutomaticallyInstallMacOSUpdates", "CriticalUpdateInstall"]})
    text = " ".join(fix["steps"])
    assert '"Install macOS updates" and "Install Security Responses and system files"' in text
    assert "Check for updates" not in text
    old = fix_for("automatic_updates", "darwin", "12.7", observed={"settings_off": ["CriticalUpdateInstall"]})
    assert "Install system data files and security updates" in " ".join(old["steps"])
    every = " ".join(fix_for("automatic_updates", "darwin", "15.1", observed={"enabled": False})["steps"])
    for label in ("Check for updates", "Download new updates when available", "Install macOS updates"):
        assert label in every


def test_macos_firewall_stealth_is_not_mentioned():
    fix = fix_for("firewall", "darwin", "14.4.1", observed={"enabled": True, "stealth": False})
    assert "stealth" not in " ".join(fix["steps"]).lower()


def test_macos_filevault_states():
    enc = fix_for("disk_encryption", "darwin", "14.4.1", observed={"state": "encrypting"})
    assert "already encrypting" in enc["steps"][0] and "Turn On" not in " ".join(enc["steps"])
    dec = fix_for("disk_encryption", "darwin", "14.4.1", observed={"state": "decrypting"})
    assert "Turn On" in " ".join(dec["steps"])


def test_macos_sip_needs_it_and_has_no_link():
    fix = fix_for("system_integrity", "darwin", "14.5", observed={"sip": False})
    assert fix["needs_it"] is True
    assert fix["link"] is None and fix["open"] is None
    assert "Recovery" in fix["steps"][0]


def test_macos_10_13_uses_the_app_store_for_updates():
    assert fix_for("os_version", "darwin", "10.13.6")["link"] == "macappstore://showUpdatesPage"
    assert fix_for("os_version", "darwin", "10.15.7")["link"] == X + "com.apple.preferences.softwareupdate"
    assert fix_for("disk_encryption", "darwin", "10.15.7")["link"] == X + "com.apple.preference.security?FDE"


# ---------------------------------------------------------------------------- Windows


def test_windows_links():
    for v in WIN_VERSIONS:
        assert fix_for("disk_encryption", "windows", v)["link"] == "ms-settings:deviceencryption"
        assert fix_for("remote_login", "windows", v)["link"] == "ms-settings:remotedesktop"
        assert fix_for("automatic_updates", "windows", v)["link"] == "ms-settings:windowsupdate"
        assert fix_for("firewall", "windows", v)["link"] == "windowsdefender://network/"
        assert fix_for("antivirus", "windows", v)["link"] == "ms-settings:windowsdefender"
        sl = fix_for("screen_lock", "windows", v)
        assert sl["link"] == "ms-settings:lockscreen"
        assert sl["open"] == ["control.exe", "desk.cpl,,@screensaver"]


def test_windows_10_and_11_paths_differ():
    assert fix_for("disk_encryption", "windows", "10.0.19045.4291")["menu_path"] == \
        "Settings > Update & Security > Device encryption"
    assert fix_for("disk_encryption", "windows", "10.0.22631.3447")["menu_path"] == \
        "Settings > Privacy & security > Device encryption"
    assert "Update & Security" in fix_for("os_version", "windows", "10.0.19045.4291")["menu_path"]
    assert fix_for("os_version", "windows", "10.0.22631.3447")["menu_path"] == "Settings > Windows Update"
    assert "Windows Defender Firewall" in " ".join(fix_for("firewall", "windows", "10.0.19045.4291")["steps"])
    assert "Microsoft Defender Firewall" in " ".join(fix_for("firewall", "windows", "10.0.22631.3447")["steps"])


def test_windows_firewall_names_the_profiles_that_are_off():
    fix = fix_for("firewall", "windows", "10.0.22631.3447",
                  observed={"enabled": False, "profiles": {"domain": True, "private": False, "public": False}})
    text = " ".join(fix["steps"])
    assert '"Private network" and "Public network"' in text
    assert "Domain" not in text


def test_windows_bitlocker_and_suspended():
    pro = fix_for("disk_encryption", "windows", "10.0.22631.3447", observed={"state": "off", "edition": "Professional"})
    assert pro["open"] == ["control.exe", "/name", "Microsoft.BitLockerDriveEncryption"]
    assert pro["link"] is None and pro["menu_path"]
    sus = fix_for("disk_encryption", "windows", "10.0.19045.4291", observed={"state": "suspended"})
    assert "Resume protection" in " ".join(sus["steps"])
    home = fix_for("disk_encryption", "windows", "10.0.22631.3447", observed={"state": "off", "edition": "Core"})
    assert "Manage BitLocker" not in " ".join(home["steps"])


def test_windows_system_integrity_says_which_is_off():
    uac = fix_for("system_integrity", "windows", "10.0.22631.3447", observed={"uac": False, "secure_boot": True})
    assert uac["needs_it"] and "User Account Control" in uac["steps"][0] and "Secure Boot" not in uac["hint"]
    sb = fix_for("system_integrity", "windows", "10.0.22631.3447", observed={"uac": True, "secure_boot": False})
    assert sb["needs_it"] and "Secure Boot" in sb["hint"] and "User Account Control" not in " ".join(sb["steps"])


def test_windows_antivirus_tailoring():
    off = fix_for("antivirus", "windows", "10.0.22631.3447",
                  observed={"products": [{"name": "Windows Defender", "enabled": False, "up_to_date": True}]})
    assert "Real-time protection" in " ".join(off["steps"])
    assert "Check for updates" not in " ".join(off["steps"])
    none = fix_for("antivirus", "windows", "10.0.22631.3447", observed={"products": []})
    assert none["needs_it"] is True
    other = fix_for("antivirus", "windows", "10.0.19045.4291",
                    observed={"products": [{"name": "ESET Security", "enabled": True, "up_to_date": False}]})
    assert "ESET Security" in other["steps"][0]


# ---------------------------------------------------------------------------- Linux


def test_linux_gnome_panel_ids_by_release():
    assert fix_for("screen_lock", "linux", "22.04", desktop="gnome")["open"] == ["gnome-control-center", "lock"]
    assert fix_for("screen_lock", "linux", "24.04", desktop="gnome")["open"] == \
        ["gnome-control-center", "privacy", "screenlock"]
    assert fix_for("screen_lock", "linux", "23.10", desktop="gnome")["open"] == ["gnome-control-center", "privacy"]
    assert fix_for("screen_lock", "linux", "12", desktop="gnome")["open"] == ["gnome-control-center", "screen"]
    assert fix_for("remote_login", "linux", "22.04", desktop="gnome")["open"] == ["gnome-control-center", "sharing"]
    assert fix_for("remote_login", "linux", "24.04", desktop="gnome")["open"] == ["gnome-control-center", "system"]


def test_linux_kde_modules_by_release():
    assert fix_for("screen_lock", "linux", "22.04", desktop="kde")["open"] == ["kcmshell5", "screenlocker"]
    assert fix_for("screen_lock", "linux", "24.04", desktop="kde")["open"] == ["kcmshell5", "kcm_screenlocker"]
    assert fix_for("screen_lock", "linux", "41", desktop="kde")["open"] == ["systemsettings", "kcm_screenlocker"]
    assert "Security & Privacy" in fix_for("screen_lock", "linux", "41", desktop="kde")["menu_path"]


def test_linux_commands():
    assert fix_for("firewall", "linux", "24.04")["command"] == "sudo ufw enable"
    assert fix_for("firewall", "linux", "40", desktop="gnome")["command"] == "sudo systemctl enable --now firewalld"
    assert fix_for("firewall", "linux", "24.04", observed={"backend": "firewalld"})["command"] == \
        "sudo systemctl enable --now firewalld"
    assert fix_for("firewall", "linux", "24.04", observed={"backend": "nftables"})["needs_it"] is True
    assert "ssh" in fix_for("remote_login", "linux", "24.04")["command"]
    assert "unattended-upgrades" in fix_for("automatic_updates", "linux", "22.04", desktop="kde")["command"]
    assert "dnf5-automatic.timer" in fix_for("automatic_updates", "linux", "44")["command"]
    assert "dnf-automatic-install.timer" in fix_for("automatic_updates", "linux", "39")["command"]
    generic = fix_for("screen_lock", "linux", "24.04", desktop=None)
    assert generic["open"] is None and generic["steps"]


def test_linux_automatic_updates_follow_the_family():
    arch = fix_for("automatic_updates", "linux", None, desktop="kde",
                   observed={"enabled": False, "family": "arch", "updater": None})
    assert arch["command"] == "sudo pacman -Syu" and "Konsole" in arch["steps"][0]
    assert "once a week" in arch["hint"] and len(arch["hint"]) <= 100
    rocky = fix_for("automatic_updates", "linux", "9.4", observed={"enabled": False, "family": "fedora"})
    assert "dnf-automatic-install.timer" in rocky["command"]
    rhel9 = fix_for("automatic_updates", "linux", "9", observed={"enabled": False, "family": "fedora"})
    assert "dnf-automatic-install.timer" in rhel9["command"]      # not apt, though "9" looks like Debian
    centos7 = fix_for("automatic_updates", "linux", "7", observed={"enabled": False, "family": "fedora"})
    assert "yum-cron" in centos7["command"] and "apt" not in centos7["command"]
    fedora = fix_for("automatic_updates", "linux", "44", observed={"enabled": False, "family": "fedora"})
    assert "dnf5-automatic.timer" in fedora["command"]
    mint = fix_for("automatic_updates", "linux", "22", observed={"enabled": False, "family": "debian"})
    assert "unattended-upgrades" in mint["command"]
    suse = fix_for("automatic_updates", "linux", "15.6", observed={"enabled": False, "family": "suse"})
    assert suse["command"] is None and suse["steps"]


def test_linux_disk_encryption_and_secure_boot_need_it():
    assert fix_for("disk_encryption", "linux", "24.04", desktop="gnome")["needs_it"] is True
    sb = fix_for("system_integrity", "linux", "24.04", desktop="gnome", observed={"secure_boot": False})
    assert sb["needs_it"] is True
    assert sb["open"] == ["gnome-control-center", "privacy", "device-security"]


# ---------------------------------------------------------------------------- robustness


def test_security_software_names_the_missing_agents():
    fix = fix_for("security_software", "darwin", "14.6.1", observed={"missing": ["falcond", "Santa"]})
    assert fix["needs_it"] is True
    assert "restart" in fix["steps"][0].lower()
    assert "falcond and Santa" in " ".join(fix["steps"])
    long = fix_for("security_software", "windows", "10.0.22631.3447",
                   observed={"missing": ["A very long agent name number one", "Another very long agent name"]})
    assert len(long["hint"]) <= 100


def test_not_on_this_platform_is_generic():
    for check_id, platform in [("gatekeeper", "linux"), ("gatekeeper", "windows"),
                               ("antivirus", "darwin"), ("antivirus", "linux")]:
        fix = fix_for(check_id, platform, None)
        assert fix["steps"] == [] and fix["link"] is None and fix["open"] is None
        assert fix["title"] == CHECK_TITLES[check_id]


@pytest.mark.parametrize("version", ["", "abc", "10.0", None, "99", "1.2.3.4.5", " 14.4 ", "14.4.1 (a)",
                                     "10", "0", "-1", "14..2", "25.0", "10.0.99999999999999999999.1", 42])
@pytest.mark.parametrize("platform", ["darwin", "windows", "linux", "freebsd", ""])
@pytest.mark.parametrize("check_id", ALL_CHECKS + ["no_such_check"])
def test_garbage_versions_never_raise(check_id, platform, version):
    fix = fix_for(check_id, platform, version, desktop="gnome", observed={"weird": object()})
    check_shape(fix)
    check_text(fix)


def test_unknown_version_uses_current_release_with_a_generic_menu_path():
    mac = fix_for("remote_login", "darwin", "abc")
    assert mac["link"] == X + "com.apple.Sharing-Settings.extension?Services_RemoteLogin"
    assert mac["menu_path"] == "System Settings > General > Sharing > Remote Login"
    assert fix_for("automatic_updates", "darwin", None)["link"].endswith("?action=showAdvancedOptions")
    win = fix_for("disk_encryption", "windows", "10.0")
    assert win["link"] == "ms-settings:deviceencryption" and win["menu_path"] == "Settings > Device encryption"


@pytest.mark.parametrize("observed", [
    {"state": 3}, {"profiles": "off"}, {"profiles": {"public": None}}, {"settings_off": "AutomaticDownload"},
    {"settings_off": [None, 5]}, {"products": [None, "x", {"name": None}]}, {"products": "x"},
    {"missing": "falcond"}, {"missing": [None]}, {"idle_seconds": "600", "enabled": "no"},
    {"uac": "off"}, {"backend": 7}, {"max_seconds": 120}, {"max_seconds": True},
])
@pytest.mark.parametrize("platform,version,desktop", CASES)
@pytest.mark.parametrize("check_id", ALL_CHECKS)
def test_odd_observed_values_never_raise(check_id, platform, version, desktop, observed):
    fix = fix_for(check_id, platform, version, desktop=desktop, observed=observed)
    check_shape(fix)
    check_text(fix)


def test_max_seconds_lowers_the_suggested_minutes():
    fix = fix_for("screen_lock", "windows", "10.0.22631.3447", observed={"max_seconds": 120})
    assert "2 minutes or less" in " ".join(fix["steps"])


def test_windows_defender_out_of_date_hint_says_update_not_turn_on():
    fix = fix_for("antivirus", "windows", "10.0.19045.4046",
                  observed={"products": [{"name": "Windows Defender", "enabled": True, "up_to_date": False}]})
    assert fix["hint"].startswith("Update")
    assert any("Check for updates" in s for s in fix["steps"])
    assert not any("Real-time protection" in s for s in fix["steps"])


@pytest.mark.parametrize("platform,version", [("darwin", "13.6"), ("windows", "10.0.22631.3447"),
                                              ("linux", "44")])
def test_screen_lock_too_slow_says_sooner_not_turn_on(platform, version):
    slow = fix_for("screen_lock", platform, version, desktop="gnome",
                   observed={"enabled": True, "idle_seconds": 900, "lock_delay_seconds": 30})
    assert slow["hint"].startswith("Make the screen lock sooner") and len(slow["hint"]) <= 100
    off = fix_for("screen_lock", platform, version, desktop="gnome", observed={"enabled": False})
    assert not off["hint"].startswith("Make the screen lock sooner")


# ---------------------------------------------------------------------------- golden pages

GOLDEN = json.loads((Path(__file__).parent / "fixes" / "golden.json").read_text())
_GROUPS: dict[tuple[str, str], list] = {}
for _row in GOLDEN["cases"]:
    _GROUPS.setdefault((_row[0], _row[1]), []).append(_row)


@pytest.mark.parametrize("check_id,platform", sorted(_GROUPS))
def test_every_page_is_what_it_was(check_id, platform):
    """Every check x OS x release x desktop x observed case the tests and fixtures use gives
    exactly the answer recorded in tests/fixes/golden.json (titles, steps, links, commands)."""
    wrong = []
    for check, plat, version, desktop, observed, want in _GROUPS[(check_id, platform)]:
        got = fix_for(check, plat, version, desktop=desktop, observed=observed)
        if got != GOLDEN["answers"][want]:
            wrong.append(((version, desktop, observed), got, GOLDEN["answers"][want]))
    assert not wrong, f"{len(wrong)} of {len(_GROUPS[(check_id, platform)])} cases differ; first: {wrong[0]}"


# ---------------------------------------------------------------------------- the data files


@pytest.mark.parametrize("check_id", fixes.check_ids())
def test_every_fix_toml_follows_the_schema(check_id):
    with fixes.fix_file(check_id).open("rb") as f:
        data = tomllib.load(f)
    assert fixes.validate(check_id, data) == []


def test_the_schema_refuses_what_would_break_a_page():
    good = {"title": "T", "why": "Why.", "darwin": {"13": {"link": "ms-settings:x", "menu_path": "A > B",
                                                            "steps": ["Do it."], "hint": "Do it."}}}
    assert fixes.validate("x", good) == []
    bad = {"title": "", "why": "One. Two.", "darwin": {"16": {}, "13": {"link": "https://evil", "steps": ["{oops}"]}},
           "windows": {"variants": {"v": {"10": {"link": "ms-settings:x", "hint": "h\nh"}}}}, "extra": {}}
    errors = "\n".join(fixes.validate("x", bad))
    for want in ("title:", "why: one sentence", "darwin.16: unknown band", "darwin.13.link", "darwin.13: no hint",
                 "unknown placeholder {oops}", "windows.variants.v.10: a link needs its menu_path",
                 "windows.variants.v.10: no steps", "one line only", "extra: unknown table"):
        assert want in errors, (want, errors)
    assert "no OS table" in "\n".join(fixes.validate("x", {"title": "T", "why": "W"}))


def test_every_check_with_a_fix_file_is_on_some_os_and_the_shared_phrases_load():
    assert sorted(CHECK_TITLES) == fixes.check_ids() and len(CHECK_TITLES) >= 10
    for check_id in CHECK_TITLES:
        assert any(check_id in PLATFORM_CHECKS[p] for p in fixes.PLATFORMS), check_id
    with fixes.SHARED_FILE.open("rb") as f:
        shared = tomllib.load(f)
    assert [e for _, e in fixes._strings(shared, "fixes.toml") if "\n" in e] == []


def test_a_new_check_needs_only_its_data_files(tmp_path, monkeypatch):
    """Adding a check's help text touches no Python: its check.toml (the registry's
    declaration) and a fix.toml in a new folder make a page."""
    import shutil

    from agent import checks as registry
    shutil.copytree(fixes.CHECKS_DIR, tmp_path, dirs_exist_ok=True)
    (tmp_path / "usb_storage").mkdir()
    (tmp_path / "usb_storage" / "__init__.py").write_text("")
    (tmp_path / "usb_storage" / "check.toml").write_text(
        'id = "usb_storage"\ntitle = "USB storage"\nplatforms = ["darwin"]\n'
        'level = "suggested"\norder = 990\n')
    (tmp_path / "usb_storage" / "fix.toml").write_text(
        'title = "USB storage"\nwhy = "Blocking USB sticks keeps company files on the laptop."\n'
        '[darwin.13]\nlink = "x-apple.systempreferences:com.apple.settings.PrivacySecurity.extension"\n'
        'menu_path = "System Settings > Privacy & Security"\nsteps = ["Open System Settings."]\n'
        'hint = "Block USB storage in System Settings."\n')
    monkeypatch.setattr(fixes, "CHECKS_DIR", tmp_path)
    monkeypatch.setattr(registry.resources, "files", lambda name: tmp_path)
    fixes._data.cache_clear()
    registry._load.cache_clear()
    try:
        assert fixes.PLATFORM_CHECKS["darwin"][-1] == "usb_storage"
        fix = fixes.fix_for("usb_storage", "darwin", "15.1")
        assert fix["title"] == "USB storage" and fix["steps"] == ["Open System Settings."]
        assert fix["open"] == ["/usr/bin/open", "x-apple.systempreferences:com.apple.settings.PrivacySecurity.extension"]
        assert fixes.fix_for("usb_storage", "windows", "10.0.22631.3447")["steps"] == []
    finally:
        monkeypatch.undo()
        fixes._data.cache_clear()
        registry._load.cache_clear()


# ---------------------------------------------------------------------------- the tests can fail


def test_a_raising_builder_fails_the_golden_pages_and_is_logged(monkeypatch, caplog):
    """With every per-OS builder replaced by raise, every case that uses one differs from the
    golden answer and each failure is logged with its check id (the autouse fixture turns that
    log line into a failure of every test in this file that reaches a builder)."""
    def boom(*_a, **_k):
        raise RuntimeError("builder replaced by raise")
    for name in ("_fix_darwin", "_fix_windows", "_fix_linux"):
        monkeypatch.setattr(fixes, name, boom)
    uses_builder = differ = 0
    for check, plat, version, desktop, observed, want in GOLDEN["cases"]:
        p = fixes._PLATFORM_ALIASES.get(str(plat).lower().strip())
        if p and check in PLATFORM_CHECKS[p] and check != "security_software":
            uses_builder += 1
            differ += fix_for(check, plat, version, desktop=desktop, observed=observed) != GOLDEN["answers"][want]
    assert uses_builder > 5000 and differ == uses_builder
    assert any("screen_lock" in r.getMessage() for r in caplog.records)
    caplog.clear()  # this test expects the errors it caused


def test_deeplinks_md_is_generated_from_the_fix_files():
    """docs/DEEPLINKS.md is what `python3 -m agent.fixes --deeplinks` writes: regenerate it after
    changing a fix.toml (the command is in the file's first lines)."""
    committed = (Path(__file__).parent.parent / "docs" / "DEEPLINKS.md").read_text(encoding="utf-8")
    assert committed == fixes.deeplinks_markdown(), \
        "docs/DEEPLINKS.md is stale: run python3 -m agent.fixes --deeplinks > docs/DEEPLINKS.md"


def test_deeplinks_md_names_every_link_command_and_menu_path_of_the_fix_files():
    text = fixes.deeplinks_markdown()
    for check_id in fixes.check_ids():
        with fixes.fix_file(check_id).open("rb") as f:
            data = tomllib.load(f)
        for where, value in fixes._strings(data, check_id):
            key = where.rsplit(".", 1)[-1].split("[")[0]
            if key in ("link", "menu_path", "menu_path_any", "idle_menu_path") or ".commands." in where \
                    or where.endswith(("kde_menu_path", "ubuntu_gnome_menu_path")):
                assert value.replace("|", "\\|") in text, where
    assert "`/usr/bin/open x-apple.systempreferences:com.apple.Network-Settings.extension`" in text
    assert "| Disk encryption (bitlocker) | 10 and later | — | `control.exe /name Microsoft.BitLockerDriveEncryption` |" in text
    assert "| Remote login | 13–15 |" in text and "| System protection | every release |" in text


def test_deeplinks_command_line():
    import subprocess
    import sys
    root = Path(__file__).parent.parent
    run = subprocess.run([sys.executable, "-m", "agent.fixes", "--deeplinks"], cwd=root,
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0 and run.stdout == fixes.deeplinks_markdown(), run.stderr
    bad = subprocess.run([sys.executable, "-m", "agent.fixes"], cwd=root, capture_output=True, text=True, timeout=60,
                         check=False)
    assert bad.returncode == 2 and "usage" in bad.stderr and bad.stdout == ""


# ---------------------------------------------------------------------------- driven by the data

BAND_RELEASES = {"darwin": {"old": "10.13.6", "12": "12.7", "13": "13.6", "14": "14.4.1", "15": "15.1", "26": "26.1"},
                 "windows": {"10": "10.0.19045.4291", "11": "10.0.22631.3447"}}


def _fix_data(check_id: str) -> dict:
    with fixes.fix_file(check_id).open("rb") as f:
        return tomllib.load(f)


@pytest.mark.parametrize("check_id,platform,band",
                         [(c, p, b) for c in fixes.check_ids() for p, bands in BAND_RELEASES.items()
                          if p in _fix_data(c) for b in bands])
def test_each_release_gets_its_band_entry_from_the_fix_file(check_id, platform, band):
    """The page for a release shows the link, menu path and hint of the fix.toml entry that
    covers that release's band (the entry given at or before it)."""
    table = _fix_data(check_id)[platform]
    e = fixes._pick(table, fixes._BANDS[platform], band)
    fix = fix_for(check_id, platform, BAND_RELEASES[platform][band], observed={})
    assert fix["link"] == e.get("link")
    assert fix["menu_path"] == e.get("menu_path")
    assert fix["open"] == (e.get("open") or fixes._open_for(e.get("link"), platform))
    assert fix["needs_it"] is bool(e.get("needs_it", fix["needs_it"]))
    hints = [v for k, v in e.items() if k == "hint" or k.startswith("hint_")]
    # a hint with placeholders ({names}) matches with them filled
    assert any(re.fullmatch(".+".join(re.escape(p) for p in re.split(r"\{\w+\}", h)), fix["hint"],
                            re.DOTALL) for h in hints), (fix["hint"], hints)


def _templates(check_id: str) -> list[re.Pattern]:
    shared = tomllib.loads(fixes.SHARED_FILE.read_text(encoding="utf-8"))
    out = []
    for _, text in [*fixes._strings(_fix_data(check_id), check_id), *fixes._strings(shared, "shared")]:
        parts = re.split(r"\{\w+\}", text)
        out.append(re.compile(".+".join(re.escape(p) for p in parts), re.DOTALL))
    return out


@pytest.mark.parametrize("check_id", fixes.check_ids())
def test_every_step_and_hint_on_every_page_comes_from_the_data_files(check_id):
    """Every step and hint of every golden page is a text of this check's fix.toml or of
    agent/fixes.toml with its placeholders filled: no employee text is left in Python."""
    templates = _templates(check_id)
    seen = 0
    cases = [c[:5] for c in GOLDEN["cases"] if c[0] == check_id]
    if not cases:   # a check newer than the golden file: every band, with and without a choice
        cases = [(check_id, plat, version, desktop, observed)
                 for plat, versions in (*BAND_RELEASES.items(), ("linux", {"-": "24.04"}))
                 for version in versions.values() for desktop in (None, "gnome", "kde")
                 for observed in ({}, {"required": ["1Password"]})]
    for check, plat, version, desktop, observed in cases:
        fix = fix_for(check, plat, version, desktop=desktop, observed=observed)
        for text in [*fix["steps"], fix["hint"], fix["why"], fix["title"]]:
            seen += 1
            assert any(t.fullmatch(text) for t in templates), (plat, version, desktop, observed, text)
    assert seen > 100


def test_the_readme_example_fix_toml_is_valid_and_makes_a_page():
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    start = readme.index("# agent/checks/usb_storage/fix.toml")
    data = tomllib.loads(readme[start:readme.index("```", start)])
    assert fixes.validate("usb_storage", data) == []
    assert data["darwin"]["13"]["menu_path"] and data["windows"]["10"]["link"].startswith(LINK_SCHEMES)
