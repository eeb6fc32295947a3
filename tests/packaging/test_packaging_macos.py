"""macOS signing order and the Managed Login Items profile, checked on Linux.

* packaging/macos/sign-order.sh on a fake app tree: Mach-O files found by magic bytes (with
  and without extensions, thin and universal), Java class files, text and zip files not
  taken, symlinks skipped, nested bundles after their contents, deepest first;
* build-pkg.sh run with stand-ins for the macOS-only tools (codesign, ditto, pkgbuild, ...)
  that record their arguments: every listed item is signed before the app, the app last with
  its entitlements and without --deep;
* the Managed Login Items profile parses and names Checkup's LaunchAgent.
"""
from __future__ import annotations

import os
import plistlib
import re
import subprocess
import uuid
from pathlib import Path

import pytest

from agent import config

ROOT = Path(__file__).resolve().parents[2]
MACOS = ROOT / "packaging" / "macos"
ORDER = MACOS / "sign-order.sh"

THIN64 = bytes.fromhex("cffaedfe07000001") + b"\0" * 56        # MH_MAGIC_64, little-endian (x86_64)
THIN32_BE = bytes.fromhex("feedface00000012") + b"\0" * 56     # MH_MAGIC, big-endian (ppc)
FAT = bytes.fromhex("cafebabe00000002") + b"\0" * 56           # universal: 2 architectures
JAVA_CLASS = bytes.fromhex("cafebabe00000034") + b"\0" * 56    # Java 8 class file: same magic


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def app(tmp_path) -> Path:
    """A Checkup.app laid out as PyInstaller 6 builds it, with traps."""
    app = tmp_path / "dist" / "Checkup.app"
    c = app / "Contents"
    write(c / "Info.plist", plistlib.dumps({"CFBundleExecutable": "checkup"}))
    write(c / "MacOS" / "checkup", THIN64)
    fw = c / "Frameworks" / "Python.framework"
    write(fw / "Versions" / "3.11" / "Python", FAT)                       # no extension (#8029)
    write(fw / "Versions" / "3.11" / "Resources" / "Info.plist", plistlib.dumps({}))
    (fw / "Versions" / "Current").symlink_to("3.11")
    (fw / "Python").symlink_to("Versions/Current/Python")                 # symlink: skipped
    (fw / "Resources").symlink_to("Versions/Current/Resources")
    write(c / "Frameworks" / "lib-dynload" / "_ssl.cpython-311-darwin.so", THIN64)
    write(c / "Frameworks" / "libcrypto.3.dylib", THIN64)
    write(c / "Frameworks" / "PIL" / ".dylibs" / "libjpeg.62.dylib", THIN32_BE)
    write(c / "Frameworks" / "helper tool", FAT)                          # a space, no extension
    (c / "Frameworks" / "libssl.dylib").symlink_to("libcrypto.3.dylib")   # symlink: skipped
    write(c / "Frameworks" / "fake.so", b"not a Mach-O, only named like one\n")
    write(c / "Frameworks" / "Main.class", JAVA_CLASS)
    write(c / "Frameworks" / "tiny", b"\xca\xfe")                         # shorter than a header
    write(c / "Frameworks" / "empty", b"")
    write(c / "Frameworks" / "base_library.zip", b"PK\x03\x04" + b"\0" * 30)
    write(c / "Resources" / "icon.icns", b"icns\0\0\0\x10")
    write(c / "Resources" / "Bare.bundle" / "Contents" / "MacOS" / "x", b"#!/bin/sh\n")  # no Info.plist
    return app


def sign_order(app: Path) -> list[str]:
    proc = subprocess.run(["bash", str(ORDER), str(app)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return [str(Path(p).relative_to(app)) for p in proc.stdout.splitlines()]


def test_sign_order_lists_every_mach_o_and_bundle_deepest_first(app):
    order = sign_order(app)
    assert order == [
        "Contents/Frameworks/Python.framework/Versions/3.11/Python",
        "Contents/Frameworks/PIL/.dylibs/libjpeg.62.dylib",
        "Contents/Frameworks/lib-dynload/_ssl.cpython-311-darwin.so",
        "Contents/Frameworks/Python.framework",
        "Contents/Frameworks/helper tool",
        "Contents/Frameworks/libcrypto.3.dylib",
        "Contents/MacOS/checkup",
    ]
    # Every nested item comes before anything that contains it.
    for i, item in enumerate(order):
        assert not any(item.startswith(earlier + "/") for earlier in order[:i])


def test_sign_order_of_an_app_without_any_mach_o_is_empty(tmp_path):
    write(tmp_path / "A.app" / "Contents" / "Info.plist", b"<plist/>")
    assert sign_order(tmp_path / "A.app") == []


def test_sign_order_refuses_what_is_not_an_app(tmp_path):
    proc = subprocess.run(["bash", str(ORDER), str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"sign-order.sh: {tmp_path} is not an app bundle (no Contents folder)"]
    proc = subprocess.run(["bash", str(ORDER)], capture_output=True, text=True)
    assert proc.returncode == 1 and "usage" in proc.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_sign_order_fails_on_an_unreadable_file(app):
    path = app / "Contents" / "Frameworks" / "libcrypto.3.dylib"
    path.chmod(0)
    proc = subprocess.run(["bash", str(ORDER), str(app)], capture_output=True, text=True)
    assert proc.returncode == 1 and f"cannot read {path}" in proc.stderr


STUBS = {
    # Each stand-in records "name args..." (one line) and does the least the script needs.
    "codesign": "",
    "plutil": "",
    "ditto": 'cp -R "$1" "$2"',
    "lipo": 'echo "x86_64 arm64"',
    "pkgbuild": 'for a; do last="$a"; done; : >"$last"',
    "productbuild": 'for a; do last="$a"; done; : >"$last"',
}


def test_build_pkg_signs_each_item_then_the_app_last_without_deep(app, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for name, body in STUBS.items():
        stub = bin_dir / name
        stub.write_text(f'#!/bin/bash\nprintf "%s\\n" "{name} $*" >>"{log}"\n{body}\n')
        stub.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", TMPDIR=str(tmp_path),
               CHECKUP_SIGN_APP="Developer ID Application: Example Corp (TEAMID)")
    proc = subprocess.run(["bash", str(MACOS / "build-pkg.sh"), str(app), str(tmp_path / "out"), "1.2.3"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "signed 7 Mach-O files and bundles inside Checkup.app" in proc.stdout
    calls = [line.split(" ", 1)[1] for line in log.read_text().splitlines() if line.startswith("codesign ")]
    signs = [c for c in calls if "--sign" in c]
    assert len(signs) == 8
    identity = "--sign Developer ID Application: Example Corp (TEAMID)"
    assert all("--force --timestamp --options runtime" in c and identity in c for c in signs)
    assert not any("--deep" in c for c in signs)
    inside = [c.rsplit("/Applications/Checkup.app/", 1)[1] for c in signs[:-1]]
    assert inside == sign_order(app)
    assert signs[-1].endswith("/Applications/Checkup.app")
    assert f"--entitlements {MACOS / 'entitlements.plist'}" in signs[-1]
    assert calls[-1].startswith("--verify --strict --deep ") and calls[-1].endswith("/Applications/Checkup.app")


# -- Managed Login Items (macOS 13+) ------------------------------------------

PROFILE = MACOS / "com.checkup.agent.loginitems.mobileconfig"


def test_login_items_profile_is_a_valid_service_management_profile():
    data = plistlib.loads(PROFILE.read_bytes())
    assert data["PayloadType"] == "Configuration"
    assert data["PayloadScope"] == "System"
    assert data["PayloadVersion"] == 1
    assert data["PayloadIdentifier"] and data["PayloadDisplayName"]
    (payload,) = data["PayloadContent"]
    assert payload["PayloadType"] == "com.apple.servicemanagement"
    assert payload["PayloadVersion"] == 1
    for key in ("PayloadIdentifier", "PayloadUUID", "PayloadDisplayName"):
        assert payload[key]
    assert payload["PayloadIdentifier"].startswith(data["PayloadIdentifier"] + ".")
    uuids = [data["PayloadUUID"], payload["PayloadUUID"]]
    assert len(set(uuids)) == 2
    for u in uuids:
        assert str(uuid.UUID(u)).upper() == u
    # Not the settings profile's UUIDs: both can be installed side by side.
    settings = plistlib.loads((MACOS / "com.checkup.agent.mobileconfig").read_bytes())
    assert not set(uuids) & {settings["PayloadUUID"], *(p["PayloadUUID"] for p in settings["PayloadContent"])}


def test_login_items_rules_name_checkups_launch_agent_and_app():
    launch_agent = plistlib.loads((MACOS / "com.checkup.agent.plist").read_bytes())
    (payload,) = plistlib.loads(PROFILE.read_bytes())["PayloadContent"]
    rules = payload["Rules"]
    # Apple's schema (apple/device-management, com.apple.servicemanagement.yaml, macOS 13).
    assert rules and all(set(r) <= {"RuleType", "RuleValue", "Comment"} for r in rules)
    assert all(r["RuleType"] in {"Label", "LabelPrefix", "BundleIdentifier", "BundleIdentifierPrefix",
                                 "TeamIdentifier"} and r["RuleValue"] and r["Comment"] for r in rules)
    by_type = {r["RuleType"]: r["RuleValue"] for r in rules}
    assert len(by_type) == len(rules) == 3
    assert by_type["Label"] == launch_agent["Label"] == config.MACOS_PREFERENCE_DOMAIN
    bundle_id = re.search(r'bundle_identifier="([^"]+)"', (ROOT / "packaging" / "checkup.spec").read_text())[1]
    assert bundle_id.startswith(by_type["BundleIdentifierPrefix"]) and by_type["BundleIdentifierPrefix"] == "com.checkup."
    assert by_type["TeamIdentifier"] == "REPLACEWITHTEAMID"  # a placeholder IT must replace
    assert "REPLACEWITHTEAMID" in PROFILE.read_text().split("<plist", 1)[0]   # ...and the comment says so


# -- opening Checkup.app: the tray, or the running one's report ------------------------------

def entry_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("checkup_entry", ROOT / "packaging" / "checkup-entry.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_opening_the_app_starts_the_tray_or_shows_the_running_one():
    entry = entry_module()
    opened_by_finder = {"__CFBundleIdentifier": entry.APP_ID}
    assert entry.launcher_argv([], opened_by_finder, "darwin") == ["tray", "--show"]
    assert entry.launcher_argv(["-psn_0_123456"], opened_by_finder, "darwin") == ["tray", "--show"]
    # Terminal (or a script) running the same executable: the CLI, `checkup check` by default.
    in_terminal = {"__CFBundleIdentifier": "com.apple.Terminal"}
    assert entry.launcher_argv([], in_terminal, "darwin") == []
    assert entry.launcher_argv([], {}, "darwin") == []
    # A command given (the LaunchAgent's `tray`, IT's `check --json`) is always kept.
    assert entry.launcher_argv(["tray"], opened_by_finder, "darwin") == ["tray"]
    assert entry.launcher_argv(["check", "--json"], opened_by_finder, "darwin") == ["check", "--json"]
    # Elsewhere the arguments are the command line, -psn_ and all.
    assert entry.launcher_argv([], opened_by_finder, "linux") == []
    assert entry.launcher_argv(["-psn_0_1"], {}, "win32") == ["-psn_0_1"]


def test_the_apps_identifier_is_the_one_the_launcher_knows():
    spec = (ROOT / "packaging" / "checkup.spec").read_text()
    assert f'bundle_identifier="{entry_module().APP_ID}"' in spec
    assert '"LSUIElement": True' in spec                      # opening it adds no Dock icon


def test_the_entry_point_runs_the_cli(tmp_path):
    """The file PyInstaller freezes, run as a script: no command is `checkup check` here."""
    import sys
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path / "c"), "XDG_STATE_HOME": str(tmp_path / "s"),
           "__CFBundleIdentifier": entry_module().APP_ID}
    capture = ROOT / "tests" / "fixtures" / "windows" / "win10-22h2-bitlocker-off-firewall-partly-off.json"
    proc = subprocess.run([sys.executable, str(ROOT / "packaging" / "checkup-entry.py"), "check", "--json",
                           "--replay", str(capture)], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2, proc.stderr
    assert '"platform": "windows"' in proc.stdout
    proc = subprocess.run([sys.executable, str(ROOT / "packaging" / "checkup-entry.py"), "--version"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0 and proc.stdout.startswith("checkup ")
