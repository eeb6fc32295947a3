"""Windows (HKLM\\SOFTWARE\\Policies\\Checkup) and macOS (managed preferences) layers,
replayed from captures through the Host seam."""
from __future__ import annotations

import json
import plistlib
from pathlib import Path

import pytest

from agent import config
from agent.config import format_settings, load_settings
from probes.host import LiveHost, RecordedHost

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "config"
POLICIES = "HKLM\\SOFTWARE\\Policies\\Checkup"


def capture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def windows(registry: dict) -> RecordedHost:
    return RecordedHost({"platform": "windows", "registry": registry})


@pytest.fixture
def user(tmp_path):
    return tmp_path / "user.toml"


# -- Windows ------------------------------------------------------------------

def test_windows_policies_from_a_capture(user):
    user.write_text("[agent]\ninterval_minutes = 5\n[notifications]\nremind_suggested_hours = 48\n"
                    "[server]\nurl = 'https://elsewhere.example'\n")
    host = RecordedHost.load(str(FIXTURES / "windows-managed-policies.json"))
    s = load_settings(config_file=str(user), host=host)
    assert s.problems == []
    assert s.get("agent", "interval_minutes") == 30                   # REG_DWORD
    assert s.get("agent", "policy_file") == "C:\\ProgramData\\Checkup\\policy.toml"
    assert s.get("notifications", "enabled") is True                  # DWORD 1 -> bool
    assert s.get("notifications", "quiet_hours") == "18:00-08:30"
    assert s.get("notifications", "quiet_days") == ["sat", "sun"]     # REG_MULTI_SZ
    assert s.get("notifications", "remind_required_hours") == 12
    assert s.get("notifications", "remind_suggested_hours") == 48     # not managed: user's
    assert s.get("server", "url") == "https://checkup.example.com"
    assert s.get("server", "enroll_token") == "tok-123"
    assert s.origin[("server", "url")] == POLICIES
    assert s.overridden[("server", "url")] == str(user)
    assert not s.is_managed("notifications", "remind_suggested_hours")
    assert (f"managed by IT {POLICIES}", "read") in s.sources


@pytest.mark.parametrize("raw, expected", [
    ("sat,sun", ["sat", "sun"]),
    ("Fri, Sat", ["fri", "sat"]),
    ("", []),
    ("sat\nsun", ["sat", "sun"]),
])
def test_windows_quiet_days_as_text(raw, expected, user):
    s = load_settings(config_file=str(user),
                      host=windows({POLICIES + "\\notifications": {"quiet_days": raw}}))
    assert s.get("notifications", "quiet_days") == expected and s.problems == []


@pytest.mark.parametrize("raw, expected", [(0, False), (1, True), ("true", True), ("0", False)])
def test_windows_booleans_as_dword_or_text(raw, expected, user):
    s = load_settings(config_file=str(user),
                      host=windows({POLICIES + "\\Notifications": {"Enabled": raw}}))  # case-insensitive
    assert s.get("notifications", "enabled") is expected


def test_windows_numbers_as_text_are_accepted(user):
    s = load_settings(config_file=str(user),
                      host=windows({POLICIES + "\\agent": {"interval_minutes": "45"}}))
    assert s.get("agent", "interval_minutes") == 45


def test_windows_bad_policy_value_is_reported_and_the_rest_applies(user):
    user.write_text("[agent]\ninterval_minutes = 10\n")
    s = load_settings(config_file=str(user), host=windows({
        POLICIES + "\\agent": {"interval_minutes": "hourly"},
        POLICIES + "\\server": {"url": "https://c.example"}}))
    assert s.get("server", "url") == "https://c.example"
    assert s.get("agent", "interval_minutes") == 60   # IT's value was invalid: default, still locked
    assert s.is_managed("agent", "interval_minutes")
    assert len(s.problems) == 1 and "agent.interval_minutes must be a whole number" in s.problems[0]
    assert s.problems[0].startswith(POLICIES)


def test_windows_without_policies_is_just_user_and_defaults(user):
    user.write_text("[server]\nurl = 'https://mine.example'\n")
    s = load_settings(config_file=str(user), host=windows({}))
    assert s.get("server", "url") == "https://mine.example"
    assert not s.managed and s.problems == []
    assert (f"managed by IT {POLICIES}", "not present") in s.sources


def test_windows_registry_names_match_the_msi_and_admx():
    """The packaging writes exactly the keys the reader reads (sections as subkeys)."""
    root = Path(__file__).resolve().parents[2] / "packaging" / "windows"
    wxs = (root / "checkup.wxs").read_text()
    admx = (root / "admx" / "Checkup.admx").read_text()
    for section, key in [("server", "url"), ("server", "enroll_token"), ("agent", "policy_file")]:
        assert f'Key="SOFTWARE\\Policies\\Checkup\\{section}"' in wxs
        assert f'Name="{key}"' in wxs
    for section, table in config.DEFAULTS.items():
        assert f'key="Software\\Policies\\Checkup\\{section}"' in admx
        for key in table:
            assert f'valueName="{key}"' in admx, key


# -- macOS --------------------------------------------------------------------

def test_macos_managed_preferences_win_over_app_support_and_user(user):
    user.write_text("[notifications]\nquiet_days = []\nmax_snoozes = 9\n")
    host = RecordedHost.load(str(FIXTURES / "macos-managed-jamf.json"))
    s = load_settings(config_file=str(user), host=host)
    assert s.problems == []
    assert s.get("agent", "interval_minutes") == 120                           # App Support toml
    assert s.get("server", "url") == "https://checkup.example.com"             # profile beats toml
    assert s.origin[("server", "url")] == config.MACOS_MANAGED_PLIST
    assert s.get("server", "enroll_token") == "jamf-token"
    assert s.get("notifications", "quiet_days") == ["fri", "sat", "sun"]       # IT beats user
    assert s.get("notifications", "max_snoozes") == 9                          # user's own
    assert "PayloadUUID" not in s.values
    text = format_settings(s)
    assert "jamf-token" not in text
    assert f"managed by IT: {config.MACOS_MANAGED_PLIST}" in text


class DarwinLive(LiveHost):
    def __init__(self):
        super().__init__()
        self.platform = "darwin"


@pytest.mark.parametrize("fmt", [plistlib.FMT_BINARY, plistlib.FMT_XML])
def test_macos_binary_and_xml_plists_from_disk(tmp_path, monkeypatch, user, fmt):
    plist = tmp_path / "com.checkup.agent.plist"
    plist.write_bytes(plistlib.dumps({"server": {"url": "https://bin.example"},
                                      "agent": {"interval_minutes": 15}}, fmt=fmt))
    monkeypatch.setattr(config, "MACOS_MANAGED_PLIST", str(plist))
    monkeypatch.setattr(config, "MACOS_MANAGED_FILE", str(tmp_path / "absent.toml"))
    s = load_settings(config_file=str(user), host=DarwinLive())
    assert s.get("server", "url") == "https://bin.example"
    assert s.get("agent", "interval_minutes") == 15
    assert s.problems == []


def test_macos_broken_plist_is_reported_and_app_support_still_applies(user):
    data = capture("macos-managed-jamf.json")
    data["files"][config.MACOS_MANAGED_PLIST] = "<?xml version='1.0'?><plist><dict><key>x"
    s = load_settings(config_file=str(user), host=RecordedHost(data))
    assert s.get("agent", "interval_minutes") == 120
    assert s.get("server", "url") == "https://old.example.com"
    assert len(s.problems) == 1
    assert s.problems[0].startswith(config.MACOS_MANAGED_PLIST + ": not a valid property list")


def test_macos_plist_with_wrong_types_names_the_key(user):
    data = {"platform": "darwin", "files": {config.MACOS_MANAGED_PLIST: plistlib.dumps(
        {"notifications": {"enabled": "yes"}}).decode()}}
    s = load_settings(config_file=str(user), host=RecordedHost(data))
    assert "notifications.enabled must be true or false" in s.problems[0]
    assert s.get("notifications", "enabled") is True


def test_mobileconfig_payload_is_read_as_the_managed_layer(user):
    """The Jamf template's payload content, as macOS would install it, is a valid layer."""
    root = Path(__file__).resolve().parents[2] / "packaging" / "macos"
    profile = plistlib.loads((root / "com.checkup.agent.mobileconfig").read_bytes())
    payload = next(p for p in profile["PayloadContent"]
                   if p["PayloadType"] == config.MACOS_PREFERENCE_DOMAIN)
    managed = {k: v for k, v in payload.items() if not k.startswith("Payload")}
    host = RecordedHost({"platform": "darwin", "files": {
        config.MACOS_MANAGED_PLIST: plistlib.dumps(managed).decode()}})
    s = load_settings(config_file=str(user), host=host)
    assert s.problems == []
    assert s.is_managed("server", "url") and s.is_managed("server", "enroll_token")
