"""password_manager (Windows): Uninstall keys' DisplayName, Chromium profiles, Firefox."""
import json
import os

import pytest

from probes.host import RecordedHost
from probes.windows import password_manager as pm

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "test-data", "password_manager")
LOCAL = "C:\\Users\\alice\\AppData\\Local"
ROAMING = "C:\\Users\\alice\\AppData\\Roaming"
ENV = {"LOCALAPPDATA": LOCAL, "APPDATA": ROAMING}


def uninstall():
    with open(os.path.join(DATA, "uninstall.json"), encoding="utf-8") as fh:
        return json.load(fh)


def win(registry=None, dirs=None, files=None, env=ENV):
    return RecordedHost({"platform": "windows", "env": env, "registry": registry or {},
                         "dirs": dirs or {}, "files": files or {}})


def test_installed_programs_by_display_name():
    fact = pm.probe(win(uninstall()))
    # KeePass (not XC), a French LastPass DisplayName and keys without a name do not count
    assert fact.observed["found"] == ["1Password", "Bitwarden", "Keeper", "KeePassXC"]
    assert fact.unread == {}


@pytest.mark.parametrize("name, expected", [
    ("1Password", "1Password"), ("Bitwarden 2024.8.1", "Bitwarden"), ("KeePassXC", "KeePassXC"),
    ("Keeper Password Manager", "Keeper"), ("Keeper® Desktop", "Keeper"), ("Proton Pass", "Proton Pass"),
    ("Enpass", "Enpass"), ("LastPass", "LastPass"), ("Dashlane", "Dashlane"),
    ("KeePass Password Safe 2.57", None), ("Keeper", None), ("Zoom Workplace", None), ("", None),
    ("1PasswordX-helper", None),
])
def test_display_names(name, expected):
    from probes.password_managers import manager_named
    assert manager_named(name) == expected


def test_chromium_edge_brave_and_firefox():
    edge = f"{LOCAL}\\Microsoft\\Edge\\User Data"
    brave = f"{LOCAL}\\BraveSoftware\\Brave-Browser\\User Data"
    dirs = {edge: ["Default"], f"{edge}\\Default\\Extensions": ["dppgmdbiimibapkepcbdbmkaabgiofem"],
            brave: ["Default"], f"{brave}\\Default\\Extensions": ["ghmbeldphafepmbegfdlkpapadhbakde"]}
    files = {f"{ROAMING}\\Mozilla\\Firefox\\profiles.ini":
             "[Profile0]\r\nName=default\r\nIsRelative=1\r\nPath=Profiles/ab12cd34.default\r\n",
             f"{ROAMING}\\Mozilla\\Firefox\\Profiles\\ab12cd34.default\\extensions.json":
             json.dumps({"addons": [{"id": "78272B6FA58F4A1ABAAC99321D503A20@proton.me", "active": True},
                                    {"id": "jetpack-extension@dashlane.com", "active": True}]})}
    reg = {pm.UNINSTALL_KEYS[0]: {}}
    fact = pm.probe(win(reg, dirs, files))
    assert fact.observed["found"] == ["1Password", "Dashlane", "Proton Pass"]
    assert fact.observed["builtin"] == ["Microsoft Password Manager"]


def test_no_uninstall_key_readable_is_unread():
    fact = pm.probe(win())
    assert "found" in fact.unread or "programs" in fact.unread
    assert fact.observed.get("found") in (None, [])


def test_no_appdata_is_a_reason():
    fact = pm.probe(win(uninstall(), env={}))
    assert fact.observed["found"] and "home" in fact.unread


def test_relative_garbage_appdata_is_ignored():
    fact = pm.probe(win(uninstall(), env={"LOCALAPPDATA": "..\\x", "APPDATA": ""}))
    assert "home" in fact.unread


def test_icloud_passwords_extension_is_builtin_not_a_manager():
    chrome = f"{LOCAL}\\Google\\Chrome\\User Data"
    dirs = {chrome: ["Default", "Profile 3"], f"{chrome}\\Profile 3\\Extensions": ["pejdijmoenmkgeppbflobdenhhabjlaj"]}
    files = {f"{chrome}\\Default\\Preferences": '{"credentials_enable_service": false}',
             f"{chrome}\\Profile 3\\Preferences": '{"credentials_enable_service": false}'}
    fact = pm.probe(win({pm.UNINSTALL_KEYS[0]: {}}, dirs, files))
    assert fact.observed == {"found": [], "builtin": ["iCloud Keychain"]}
