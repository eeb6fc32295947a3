"""The OS integration files as an admin would inspect them, without building anything:
plists and the mobileconfig (plistlib), shell scripts (bash -n, shellcheck), the
autostart entry, the example config, the ADMX/ADML pair and the WiX source."""
from __future__ import annotations

import configparser
import re
import plistlib
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from agent import config
from agent.tomlcompat import tomllib

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "packaging"
SCRIPTS = [PKG / "build", PKG / "linux" / "build-deb.sh", PKG / "linux" / "build-rpm.sh",
           PKG / "linux" / "stage.sh", PKG / "linux" / "fix-elf.sh", PKG / "linux" / "postinst",
           PKG / "linux" / "prerm", PKG / "linux" / "postrm", PKG / "windows" / "build-msi.sh", PKG / "windows" / "sign.sh",
           PKG / "macos" / "build-pkg.sh", PKG / "macos" / "sign-order.sh", PKG / "macos" / "uninstall.sh",
           PKG / "macos" / "scripts" / "preinstall", PKG / "macos" / "scripts" / "postinstall"]


def test_packaging_is_not_a_python_package():
    assert not list(PKG.rglob("__init__.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(PKG)))
def test_scripts_parse_and_are_executable(script):
    assert script.stat().st_mode & 0o111, f"{script} is not executable"
    first = script.read_text().splitlines()[0]
    assert first in ("#!/bin/sh", "#!/bin/bash", "#!/usr/bin/env bash")
    shell = "sh" if first == "#!/bin/sh" else "bash"
    proc = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_shellcheck_is_clean():
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not installed (Debian package shellcheck)")
    proc = subprocess.run(["shellcheck", "-x", *map(str, SCRIPTS)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- macOS --------------------------------------------------------------------

def test_launch_agent_runs_the_tray_at_login_and_restarts_on_crash():
    data = plistlib.loads((PKG / "macos" / "com.checkup.agent.plist").read_bytes())
    assert data["Label"] == config.MACOS_PREFERENCE_DOMAIN
    assert data["ProgramArguments"] == ["/Applications/Checkup.app/Contents/MacOS/checkup", "tray"]
    assert data["RunAtLoad"] is True
    assert data["KeepAlive"] == {"SuccessfulExit": False}  # crash -> restart; Quit -> stays quit
    assert data["LimitLoadToSessionType"] == ["Aqua"]
    assert data["ThrottleInterval"] >= 10


def test_mobileconfig_is_a_valid_profile_for_the_agent_domain():
    profile = plistlib.loads((PKG / "macos" / "com.checkup.agent.mobileconfig").read_bytes())
    assert profile["PayloadType"] == "Configuration"
    assert profile["PayloadScope"] == "System"
    assert profile["PayloadVersion"] == 1
    (payload,) = profile["PayloadContent"]
    assert payload["PayloadType"] == config.MACOS_PREFERENCE_DOMAIN
    assert payload["PayloadIdentifier"].startswith(config.MACOS_PREFERENCE_DOMAIN)
    assert payload["PayloadUUID"] != profile["PayloadUUID"]
    for uuid in (payload["PayloadUUID"], profile["PayloadUUID"]):
        assert len(uuid) == 36 and uuid.count("-") == 4
    settings = {k: v for k, v in payload.items() if not k.startswith("Payload")}
    assert set(settings) <= set(config.DEFAULTS)
    for section, table in settings.items():
        assert set(table) <= set(config.DEFAULTS[section])
    assert settings["server"]["url"].startswith("https://")


def test_mobileconfig_commented_examples_are_valid_settings():
    """The commented-out sections, uncommented, form a valid managed layer."""
    text = (PKG / "macos" / "com.checkup.agent.mobileconfig").read_text()
    inner = text.split("<!--")[2].split("-->")[0]  # [0] preamble, [1] header comment
    example = plistlib.loads(f"<plist version='1.0'><dict>{inner}</dict></plist>".encode())
    assert set(example) == {"agent", "notifications"}
    s = config.Settings()
    config.apply_layer(s, example, "example", managed=True)
    assert s.problems == []
    assert {k for (sec, k) in s.managed if sec == "notifications"} == set(config.DEFAULTS["notifications"])


def test_pkg_distribution_and_entitlements():
    root = ET.fromstring((PKG / "macos" / "distribution.xml").read_text())
    assert root.find("domains").get("enable_localSystem") == "true"
    assert root.find("pkg-ref[@version]").text == "checkup-component.pkg"
    ent = plistlib.loads((PKG / "macos" / "entitlements.plist").read_bytes())
    assert ent == {"com.apple.security.cs.allow-unsigned-executable-memory": True}


def test_postinstall_bootstraps_the_agent_for_the_console_user():
    text = (PKG / "macos" / "scripts" / "postinstall").read_text()
    assert 'launchctl bootstrap "gui/$console_uid" "$PLIST"' in text
    assert "State:/Users/ConsoleUser" in text
    assert 'ln -sfn "$APP_BIN" "$ROOT/usr/local/bin/checkup"' in text


# -- Linux --------------------------------------------------------------------

def test_autostart_entry_runs_the_tray():
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str
    cp.read_string((PKG / "linux" / "checkup.desktop").read_text())
    entry = cp["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Exec"] == "/usr/bin/checkup tray"
    assert entry["TryExec"] == "/usr/bin/checkup"   # removed package (conffile kept): no error
    assert entry["Terminal"] == "false"
    if shutil.which("desktop-file-validate"):
        proc = subprocess.run(["desktop-file-validate", str(PKG / "linux" / "checkup.desktop")],
                              capture_output=True, text=True)
        assert "error" not in proc.stdout.lower(), proc.stdout


def desktop_entry(name: str):
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str
    cp.read_string((PKG / "linux" / name).read_text())
    return cp["Desktop Entry"]


@pytest.mark.parametrize("name", ["checkup.desktop", "checkup-launcher.desktop"])
def test_desktop_entries_validate(name):
    if not shutil.which("desktop-file-validate"):
        pytest.skip("needs desktop-file-validate (Debian package desktop-file-utils)")
    proc = subprocess.run(["desktop-file-validate", str(PKG / "linux" / name)], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr


def test_menu_launcher_is_visible_and_starts_or_shows_the_tray():
    launcher = desktop_entry("checkup-launcher.desktop")
    assert launcher["Name"] == "Checkup" and launcher["Type"] == "Application"
    assert "NoDisplay" not in launcher and "Hidden" not in launcher      # in the applications menu
    assert launcher["Exec"] == "/usr/bin/checkup tray --show"
    assert launcher["TryExec"] == "/usr/bin/checkup" and launcher["Terminal"] == "false"
    assert "System" in launcher["Categories"].split(";")
    autostart = desktop_entry("checkup.desktop")
    assert autostart["NoDisplay"] == "true"                              # the login one stays hidden
    from agent.cli import build_parser
    args = build_parser().parse_args(launcher["Exec"].split()[1:])        # the agent accepts it
    assert args.command == "tray" and args.show is True


def test_example_config_is_all_comments_and_names_every_key():
    text = (PKG / "linux" / "config.toml").read_text()
    data = tomllib.loads(text)
    assert data == {"agent": {}, "notifications": {}, "server": {}}  # installs as a no-op
    uncommented = "\n".join(line[2:] if re.match(r"# [a-z_]+ = ", line) else line
                            for line in text.splitlines())
    example = tomllib.loads(uncommented)
    for section, table in config.DEFAULTS.items():
        assert set(example[section]) == set(table), section
    s = config.Settings()
    config.apply_layer(s, example, "example", managed=True)
    assert s.problems == []


def test_man_page_formats_without_warnings():
    if not shutil.which("groff"):
        pytest.skip("groff is not installed")
    proc = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(PKG / "linux" / "checkup.1")],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_maintainer_scripts_use_dpkg_root():
    for name in ("postinst", "postrm"):
        text = (PKG / "linux" / name).read_text()
        for line in text.splitlines():
            if "/etc/checkup" in line and not line.lstrip().startswith(("#", "echo")):
                assert "${DPKG_ROOT:-}/etc/checkup" in line, line


# -- Windows ------------------------------------------------------------------

NS = {"p": "http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions"}


def test_admx_and_adml_are_consistent_and_cover_every_setting():
    admx = ET.parse(PKG / "windows" / "admx" / "Checkup.admx").getroot()
    adml = ET.parse(PKG / "windows" / "admx" / "en-US" / "Checkup.adml").getroot()
    strings = {s.get("id") for s in adml.iterfind(".//p:stringTable/p:string", NS)}
    presentations = {p.get("id") for p in adml.iterfind(".//p:presentationTable/p:presentation", NS)}
    written = set()
    for policy in admx.iterfind(".//p:policy", NS):
        assert policy.get("class") == "Machine"
        key = policy.get("key")
        assert key.startswith("Software\\Policies\\Checkup\\")
        section = key.rsplit("\\", 1)[1]
        for attr in ("displayName", "explainText"):
            assert policy.get(attr)[len("$(string."):-1] in strings
        if policy.get("presentation"):
            assert policy.get("presentation")[len("$(presentation."):-1] in presentations
        names = [policy.get("valueName")] if policy.get("valueName") else []
        names += [e.get("valueName") for e in policy.find("p:elements", NS) or []]
        for name in names:
            assert name in config.DEFAULTS[section], (section, name)
            written.add((section, name))
    assert written == {(s, k) for s, t in config.DEFAULTS.items() for k in t}
    for cat in admx.iterfind(".//p:category", NS):
        assert cat.get("displayName")[len("$(string."):-1] in strings


def test_wix_source_is_well_formed_with_fixed_upgrade_code():
    root = ET.parse(PKG / "windows" / "checkup.wxs").getroot()
    ns = {"w": "http://schemas.microsoft.com/wix/2006/wi"}
    product = root.find("w:Product", ns)
    assert product.get("UpgradeCode") == "2F7260C1-905D-4428-94AE-7AD58CE30415"
    assert product.get("Id") == "*"
    assert product.find("w:Package", ns).get("InstallScope") == "perMachine"
    assert product.find("w:MajorUpgrade", ns) is not None


# -- the build entry point ----------------------------------------------------

def run_build(*args, env=None):
    import os
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run(["bash", str(PKG / "build"), *args], capture_output=True, text=True,
                          timeout=60, env=full)


def test_build_without_target_prints_usage():
    proc = run_build()
    assert proc.returncode == 2 and "usage: packaging/build TARGET" in proc.stderr


def test_build_unknown_target():
    proc = run_build("snap")                  # rpm was the example until it became a target
    assert proc.returncode == 2 and "unknown target 'snap'" in proc.stderr


def test_build_pkg_on_linux_is_one_clear_line():
    proc = run_build("pkg")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "packaging/build pkg: a .pkg is built on macOS with pkgbuild and productbuild (this is linux)"]


def test_build_msi_without_a_windows_build_says_what_it_needs(tmp_path):
    if not shutil.which("wixl"):
        pytest.skip("wixl is not installed (Debian package wixl)")
    proc = run_build("msi", env={"CHECKUP_WINDOWS_DIR": str(tmp_path / "nothing")})
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs the Windows build in" in lines[0]


def test_build_binary_without_pyinstaller_says_so(tmp_path):
    proc = run_build("binary", env={"PYTHON": "/usr/bin/python3"} if Path("/usr/bin/python3").exists()
                     else {"PYTHON": "python-that-does-not-exist"})
    if proc.returncode == 0:
        pytest.skip("the system Python has PyInstaller and the agent's dependencies")
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith("packaging/build binary: needs")
