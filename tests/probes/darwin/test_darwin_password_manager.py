"""password_manager (macOS): app bundles' Info.plist, Chrome/Edge/Brave profiles, Firefox."""
import pytest

from darwin_testlib import data
from probes.darwin import password_manager as pm
from probes.host import RecordedHost

HOME = "/Users/alice"
SUPPORT = f"{HOME}/Library/Application Support"
CHROME = f"{SUPPORT}/Google/Chrome"
FIREFOX = f"{SUPPORT}/Firefox"


def d(name):
    return data("password_manager", name)


def mac(dirs=None, files=None, commands=(), home=HOME):
    return RecordedHost({"platform": "darwin", "env": {"HOME": home} if home else {},
                         "dirs": dirs or {}, "files": files or {}, "commands": list(commands)})


def apps(**bundles):
    """/Applications holding name.app -> Info.plist text."""
    dirs = {"/Applications": sorted(bundles)}
    files = {f"/Applications/{n}/Contents/Info.plist": t for n, t in bundles.items() if t is not None}
    return dirs, files


@pytest.mark.parametrize("plist, expected", [
    ("1password8-Info.plist", "com.1password.1password"),
    ("bitwarden-Info.plist", "com.bitwarden.desktop"),
    ("safari-Info.plist", "com.apple.Safari"),
    ("keeper-binary-Info.plist", None),
    ("truncated-Info.plist", None),
])
def test_bundle_id_of_real_plists(plist, expected):
    assert pm.bundle_id(d(plist)) == expected


@pytest.mark.parametrize("text", ["", "garbage \x00\xff", "<plist><array/></plist>", "{}"])
def test_bundle_id_of_garbage(text):
    assert pm.bundle_id(text) is None


def test_apps_found_by_bundle_id_not_by_name():
    dirs, files = apps(**{"1Password.app": d("1password8-Info.plist"), "Safari.app": d("safari-Info.plist"),
                          # renamed by the person: the bundle id still says Bitwarden
                          "My Vault.app": d("bitwarden-Info.plist")})
    fact = pm.probe(mac(dirs, files))
    assert fact.observed["found"] == ["1Password", "Bitwarden"]
    assert fact.unread == {}


def test_binary_plist_read_with_defaults_only_for_a_hinted_name():
    dirs, files = apps(**{"Keeper Password Manager.app": d("keeper-binary-Info.plist"),
                          "Other.app": d("keeper-binary-Info.plist")})
    argv = ["/usr/bin/defaults", "read", "/Applications/Keeper Password Manager.app/Contents/Info",
            "CFBundleIdentifier"]
    fact = pm.probe(mac(dirs, files, [{"argv": argv, "stdout": "com.keepersecurity.passwordmanager\n",
                                       "stderr": "", "returncode": 0}]))
    assert fact.observed["found"] == ["Keeper"]


def test_unreadable_identity_falls_back_to_the_folder_name():
    dirs, files = apps(**{"KeePassXC.app": None})
    assert pm.probe(mac(dirs, files)).observed["found"] == ["KeePassXC"]


def test_a_name_alike_app_with_another_bundle_id_does_not_count():
    dirs, files = apps(**{"1Password.app": d("safari-Info.plist")})
    assert pm.probe(mac(dirs, files)).observed["found"] == []


def test_chrome_extension_folders_and_preferences():
    dirs = {"/Applications": [], CHROME: ["Default", "Local State", "Profile 2", "System Profile"],
            f"{CHROME}/Default/Extensions": ["nmmhkkegccagdldgiimedpiccmgmieda"],
            f"{CHROME}/Profile 2/Extensions": ["hdokiejnpimakedhajhdlcegeplioahd", "cjpalhdlnbpafiamejdnhcphjbkeiagm"]}
    files = {f"{CHROME}/Default/Preferences": d("chrome-Preferences.json"),
             f"{CHROME}/Profile 2/Preferences": d("chrome-Preferences-saving-off.json")}
    fact = pm.probe(mac(dirs, files))
    assert fact.observed["found"] == ["1Password", "LastPass"]
    assert "Google Password Manager" in fact.observed["builtin"]


def test_chrome_saving_off_everywhere_is_not_builtin():
    dirs = {"/Applications": [], CHROME: ["Default"], f"{CHROME}/Default/Extensions": []}
    files = {f"{CHROME}/Default/Preferences": d("chrome-Preferences-saving-off.json")}
    assert pm.probe(mac(dirs, files)).observed["builtin"] == []


def test_firefox_profiles_and_disabled_addons():
    dirs = {"/Applications": []}
    files = {f"{FIREFOX}/profiles.ini": d("firefox-profiles.ini"),
             f"{FIREFOX}/Profiles/x8r3k2fa.default-release/extensions.json": d("firefox-extensions.json"),
             f"{FIREFOX}/Profiles/0qg2lqbp.default/extensions.json": "not json {"}
    fact = pm.probe(mac(dirs, files))
    assert fact.observed["found"] == ["Bitwarden"]  # LastPass is there but disabled


def test_apple_passwords_app_is_builtin_only():
    dirs = {"/Applications": [], "/System/Applications": ["Mail.app", "Passwords.app"]}
    files = {"/System/Applications/Passwords.app/Contents/Info.plist": d("passwords-Info.plist")}
    fact = pm.probe(mac(dirs, files))
    assert fact.observed == {"found": [], "builtin": ["Apple Passwords"]}
    older = pm.probe(mac({"/Applications": [], "/System/Applications": ["Mail.app"]}))
    assert older.observed["builtin"] == ["iCloud Keychain"]


def test_nothing_readable_is_unread_with_the_reasons():
    fact = pm.probe(mac({"/Applications": "denied"}))
    assert "found" not in fact.observed
    assert "no folder of apps could be read" in fact.unread["found"]
    assert "permission was denied" in fact.unread["found"]


def test_one_place_denied_is_kept_as_a_reason():
    fact = pm.probe(mac({"/Applications": ["Safari.app"], f"{HOME}/Applications": "denied"},
                        {"/Applications/Safari.app/Contents/Info.plist": d("safari-Info.plist")}))
    assert fact.observed["found"] == []
    assert any("denied" in r for r in fact.unread.values())


def test_no_home_means_extensions_unread():
    fact = pm.probe(mac({"/Applications": []}, home=None))
    assert fact.observed["found"] == [] and "home" in fact.unread


def test_only_names_leave_the_probe():
    dirs, files = apps(**{"1Password.app": d("1password8-Info.plist"), "Secret Project.app": d("safari-Info.plist")})
    fact = pm.probe(mac(dirs, files))
    text = repr(fact)
    assert "Secret Project" not in text and "Safari" not in text and "com." not in text


def test_a_broken_host_is_not_hidden():
    # The Host seam never raises; a host that does is a bug the probe lets through to the
    # one layer that catches and logs it.
    class Broken(RecordedHost):
        def list_dir(self, path):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        pm.probe(Broken({"platform": "darwin", "env": {"HOME": HOME}}))


@pytest.mark.parametrize("text", [
    "<plist><dict><key>a</key><integer>x</integer></dict></plist>",
    "<plist><dict><key>a</key><data>!!</data></dict></plist>",
    "<plist><key>a</key></plist>", "<plist></dict></plist>", "<plist><date>2024-13-01T00:00:00Z</date></plist>",
    "<plist>" + "<array>" * 5000 + "</array>" * 5000 + "</plist>",
])
def test_bundle_id_of_plists_plistlib_refuses(text):
    assert pm.bundle_id(text) is None


def test_secure_preferences_read_only_when_the_extensions_folder_cannot_be_listed():
    secure = '{"extensions":{"settings":{"nngceckbapebfimnlniiiahkandclblb":{"location":1}}}}'
    files = {f"{CHROME}/Default/Secure Preferences": secure}
    listed = pm.probe(mac({"/Applications": [], CHROME: ["Default"], f"{CHROME}/Default/Extensions": []}, files))
    assert listed.observed["found"] == []
    unlisted = pm.probe(mac({"/Applications": [], CHROME: ["Default"], f"{CHROME}/Default/Extensions": "denied"},
                            files))
    assert unlisted.observed["found"] == ["Bitwarden"]
