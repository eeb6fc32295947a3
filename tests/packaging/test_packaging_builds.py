"""Build the installers for real with packaging/build and inspect them as an admin would.

* binary: the PyInstaller build runs `--version` and `check --json` (built once per session,
  ~40 s, reused by the .deb tests);
* .deb: contents and control data, installed into a throwaway dpkg root (maintainer scripts
  run with $DPKG_ROOT), the installed `checkup --version` runs, reinstall is idempotent,
  remove keeps IT's config, purge leaves nothing behind;
* .msi: built with wixl from a stand-in Windows build (the real one comes from a Windows
  machine), read back with msiinfo: files, registry, properties, upgrade table, conditions.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from agent import __version__
from agent import config
from pkgbuild import build, need

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def built_deb(built_binary, tmp_path_factory):
    need("dpkg-deb", "dpkg")
    dist = tmp_path_factory.mktemp("deb")
    # gzip instead of the release default xz: same contents, a third of the time.
    proc = build("deb", dist, tmp_path_factory.mktemp("work"),
                 CHECKUP_BINARY_DIR=str(built_binary / "checkup"), CHECKUP_DEB_COMPRESSION="gzip")
    assert proc.returncode == 0, proc.stderr
    (deb,) = dist.glob("checkup_*.deb")
    return deb


# -- binary -------------------------------------------------------------------

def test_binary_runs_version_and_check_json(built_binary):
    exe = built_binary / "checkup" / "checkup"
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == f"checkup {__version__}"
    proc = subprocess.run([str(exe), "check", "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1, 2, 3), proc.stderr
    report = json.loads(proc.stdout)
    assert report["schema"] == 1 and report["agent_version"] == __version__
    assert report["device"]["platform"] == "linux"


def test_binary_replays_a_windows_capture_with_its_managed_config(built_binary, tmp_path):
    """The frozen agent carries every platform's probes and the default policy."""
    exe = built_binary / "checkup" / "checkup"
    capture = ROOT / "tests" / "fixtures" / "windows" / "win10-22h2-bitlocker-off-firewall-partly-off.json"
    proc = subprocess.run([str(exe), "check", "--json", "--replay", str(capture)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert json.loads(proc.stdout)["device"]["platform"] == "windows"
    from agent.checks import ids
    assert [c["id"] for c in json.loads(proc.stdout)["checks"]] == list(ids())   # the registry ships
    pol = subprocess.run([str(exe), "policy", "show"], capture_output=True, text=True, timeout=60)
    assert pol.returncode == 0 and "[disk_encryption]" in pol.stdout


def test_binary_leaves_out_what_it_does_not_need(built_binary):
    internal = built_binary / "checkup" / "_internal"
    names = {p.name for p in internal.rglob("*")}
    assert "server" not in names and "pytest" not in names and "_pytest" not in names
    assert not any(n.startswith(("libicudata", "librsvg", "libxml2")) for n in names)
    assert not (internal / "share" / "icons").exists()       # no GTK icon themes
    assert not list(internal.rglob("tests/fixtures"))
    assert (internal / "agent" / "default_policy.toml").is_file()
    assert (internal / "agent" / "fixes.toml").is_file()                 # fix texts are data files
    assert (internal / "agent" / "checks" / "disk_encryption" / "fix.toml").is_file()


def test_binary_trusts_a_company_ca_from_the_system_store(built_binary, tmp_path):
    """Issue 15.1: the frozen agent checks the server's certificate against this machine's
    trust store (truststore), not only the bundle it ships; and against [server] ca_file."""
    pytest.importorskip("cryptography", reason="cryptography not installed (the server extra)")
    import tlskit
    exe = built_binary / "checkup" / "checkup"
    internal = built_binary / "checkup" / "_internal"
    ca = tlskit.make_ca(tmp_path, "frozen")
    server = tlskit.StandInServer(*tlskit.make_server_cert(tmp_path, ca, "frozen"))
    env = {k: v for k, v in os.environ.items() if k not in tlskit.CA_ENV}
    env.update(XDG_STATE_HOME=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "c"))
    capture = ROOT / "tests" / "fixtures" / "windows" / "win10-22h2-bitlocker-off-firewall-partly-off.json"

    def report(*settings):
        cfg = tmp_path / "checkup.toml"
        cfg.write_text("\n".join(["[server]", f'url = "{server.url}"', 'enroll_token = "t"',
                                  *settings]) + "\n")
        return subprocess.run([str(exe), "report", "--now", "--replay", str(capture),
                               "--config", str(cfg)], capture_output=True, text=True,
                              timeout=120, env=env)
    try:
        shipped = list(internal.rglob("certifi/cacert.pem"))
        assert shipped and not tlskit.in_bundle(ca["pem"], str(shipped[0]))
        r = report()
        assert r.returncode == 1 and "does not trust the server's certificate" in r.stdout, \
            r.stdout + r.stderr
        r = report(f'ca_file = "{ca["pem"]}"')
        assert r.returncode == 0 and "Sent 2 of 2 reports" in r.stdout, r.stdout + r.stderr
        why = tlskit.system_store_unavailable()
        if why:
            pytest.skip(f"the system-store half: {why}")
        with tlskit.installed_in_system_store(ca["pem"]):
            r = report()
        assert r.returncode == 0 and "Sent 1 of 1 report" in r.stdout, r.stdout + r.stderr
        assert "Traceback" not in r.stderr and "certifi" not in r.stderr
        assert server.seen.count("/api/v1/reports") == 3
    finally:
        server.close()
    assert (internal / "agent" / "checks" / "screen_lock" / "check.toml").is_file()


# -- .deb ---------------------------------------------------------------------

def dpkg_deb(*args):
    return subprocess.run(["dpkg-deb", *args], capture_output=True, text=True, check=True).stdout


def test_deb_control_and_contents(built_deb):
    control = dpkg_deb("-f", str(built_deb))
    assert "Package: checkup" in control and f"Version: {__version__}" in control
    assert "Depends: libc6 (>= " in control
    listing = dpkg_deb("-c", str(built_deb))
    paths = {line.split()[5].lstrip(".") for line in listing.splitlines()}
    for path in ("/usr/lib/checkup/checkup", "/usr/bin/checkup", "/etc/xdg/autostart/checkup.desktop",
                 "/etc/checkup/config.toml", "/etc/checkup/config.d/", "/usr/share/man/man1/checkup.1.gz",
                 "/usr/share/doc/checkup/copyright"):
        assert path in paths, path
    assert "./usr/bin/checkup -> ../lib/checkup/checkup" in listing
    assert all(" root/root " in line for line in listing.splitlines())
    info = subprocess.run(["dpkg-deb", "--ctrl-tarfile", str(built_deb)], capture_output=True, check=True)
    import io
    import tarfile
    with tarfile.open(fileobj=io.BytesIO(info.stdout)) as tar:
        conffiles = tar.extractfile("./conffiles").read().decode().split()
        modes = {m.name: m.mode for m in tar.getmembers()}
    assert conffiles == ["/etc/checkup/config.toml", "/etc/xdg/autostart/checkup.desktop"]
    for script in ("./postinst", "./prerm", "./postrm"):
        assert modes[script] & 0o755 == 0o755


@pytest.fixture
def dpkg_root(tmp_path):
    root = tmp_path / "root"
    for sub in ("info", "updates", "triggers"):
        (root / "var" / "lib" / "dpkg" / sub).mkdir(parents=True)
    (root / "var" / "lib" / "dpkg" / "status").touch()

    def dpkg(*args):
        return subprocess.run(["dpkg", f"--root={root}", "--force-depends", "--force-script-chrootless",
                               "--force-not-root", *args], capture_output=True, text=True, timeout=120)
    return root, dpkg


def leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if not str(p.relative_to(root)).startswith("var"))


def test_deb_installs_runs_reinstalls_removes_and_purges(built_deb, dpkg_root):
    root, dpkg = dpkg_root
    first = dpkg("-i", str(built_deb))
    assert first.returncode == 0, first.stderr
    assert "Setting up checkup" in first.stdout
    exe = root / "usr" / "bin" / "checkup"
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == f"checkup {__version__}", out.stderr
    assert (root / "etc/xdg/autostart/checkup.desktop").read_text().count("Exec=/usr/bin/checkup tray") == 1
    assert (root / "etc/checkup/config.d").is_dir()

    again = dpkg("-i", str(built_deb))                      # idempotent maintainer scripts
    assert again.returncode == 0, again.stderr
    status = dpkg("-s", "checkup")
    assert "Status: install ok installed" in status.stdout

    with open(root / "etc/checkup/config.toml", "a") as fh:   # IT edits the managed config
        fh.write('\n[server]\nurl = "https://checkup.corp.example"\n')
    removed = dpkg("-r", "checkup")
    assert removed.returncode == 0, removed.stderr
    left = leftovers(root)
    assert "etc/checkup/config.toml" in left                  # conffiles stay until purge
    assert not any(p.startswith("usr/lib/checkup") or p == "usr/bin/checkup" for p in left)

    purged = dpkg("-P", "checkup")
    assert purged.returncode == 0, purged.stderr
    assert leftovers(root) == []


def test_deb_purge_keeps_files_an_admin_added(built_deb, dpkg_root):
    root, dpkg = dpkg_root
    assert dpkg("-i", str(built_deb)).returncode == 0
    (root / "etc/checkup/config.d/50-site.toml").write_text("[agent]\ninterval_minutes = 30\n")
    purged = dpkg("-P", "checkup")
    assert purged.returncode == 0, purged.stderr
    assert leftovers(root) == ["etc", "etc/checkup", "etc/checkup/config.d", "etc/checkup/config.d/50-site.toml"]
    assert "kept /etc/checkup" in purged.stderr


# -- .msi ---------------------------------------------------------------------

@pytest.fixture(scope="session")
def built_msi(tmp_path_factory):
    need("wixl", "wixl-heat", "msiinfo", "msibuild")
    win = tmp_path_factory.mktemp("windows") / "checkup"
    (win / "_internal" / "agent").mkdir(parents=True)
    (win / "checkup.exe").write_bytes(b"MZ stand-in console exe")
    (win / "checkupw.exe").write_bytes(b"MZ stand-in windowed exe")
    (win / "_internal" / "python311.dll").write_bytes(b"MZ dll")
    (win / "_internal" / "agent" / "default_policy.toml").write_text("[firewall]\nlevel = 'required'\n")
    dist = tmp_path_factory.mktemp("msi")
    proc = build("msi", dist, tmp_path_factory.mktemp("work"), CHECKUP_WINDOWS_DIR=str(win))
    assert proc.returncode == 0, proc.stderr
    (msi,) = dist.glob("checkup-*-x64.msi")
    return msi


def table(msi: Path, name: str) -> list[dict]:
    text = subprocess.run(["msiinfo", "export", str(msi), name], capture_output=True, text=True,
                          check=True).stdout
    lines = [line.rstrip("\r") for line in text.split("\n")]
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[3:] if line]


def test_msi_installs_the_files_per_machine_under_program_files(built_msi):
    info = subprocess.run(["msiinfo", "suminfo", str(built_msi)], capture_output=True, text=True).stdout
    assert "Template: x64;1033" in info
    files = {r["FileName"] for r in table(built_msi, "File")}
    assert {"checkup.exe", "checkupw.exe", "python311.dll", "default_policy.toml"} <= files
    dirs = {r["Directory"]: r for r in table(built_msi, "Directory")}
    assert dirs["INSTALLDIR"]["Directory_Parent"] == "ProgramFiles64Folder"
    assert dirs["INSTALLDIR"]["DefaultDir"] == "Checkup"
    props = {r["Property"]: r["Value"] for r in table(built_msi, "Property")}
    assert props["ALLUSERS"] == "1"
    assert all(int(c["Attributes"]) & 256 for c in table(built_msi, "Component"))  # 64-bit


def test_msi_starts_the_tray_for_every_user_at_login(built_msi):
    run = [r for r in table(built_msi, "Registry")
           if r["Key"] == "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run"]
    assert len(run) == 1
    assert run[0]["Root"] == "2"                             # HKLM
    assert run[0]["Value"] == '"[INSTALLDIR]checkupw.exe" tray'


def test_msi_puts_checkup_in_every_users_start_menu(built_msi):
    """Issue 15.6: after Quit a person starts the tray again from the Start menu; with a
    tray running, the same shortcut opens its report (--show) instead of a second icon."""
    (shortcut,) = table(built_msi, "Shortcut")
    assert shortcut["Directory_"] == "ProgramMenuFolder"     # all users' Start menu (ALLUSERS=1)
    assert shortcut["Name"] == "Checkup"
    assert shortcut["Target"] == "[INSTALLDIR]checkupw.exe"  # no console window
    assert shortcut["Arguments"] == "tray --show"
    assert shortcut["WkDir"] == "INSTALLDIR" and shortcut["Description"]
    comps = {c["Component"]: c for c in table(built_msi, "Component")}
    comp = comps[shortcut["Component_"]]
    assert int(comp["Attributes"]) & 4                       # kept by a registry value...
    (key,) = [r for r in table(built_msi, "Registry") if r["Registry"] == comp["KeyPath"]]
    assert key["Root"] == "2" and key["Key"] == "SOFTWARE\\Checkup"   # ...in HKLM, per machine
    features = {r["Component_"]: r["Feature_"] for r in table(built_msi, "FeatureComponents")}
    assert features[shortcut["Component_"]] == "Checkup"     # installed (and removed) with the rest
    seq = {r["Action"] for r in table(built_msi, "InstallExecuteSequence")}
    assert {"CreateShortcuts", "RemoveShortcuts"} <= seq


def test_msi_writes_it_settings_where_the_agent_reads_them(built_msi):
    regs = {(r["Key"], r["Name"]): r for r in table(built_msi, "Registry")}
    comps = {c["Component"]: c for c in table(built_msi, "Component")}
    expected = {("server", "url"): "SERVER_URL", ("server", "enroll_token"): "ENROLL_TOKEN",
                ("agent", "policy_file"): "POLICY_FILE"}
    for (section, key), prop in expected.items():
        reg = regs[(f"{config.WINDOWS_POLICY_KEY.split(chr(92), 1)[1]}\\{section}", key)]
        assert reg["Root"] == "2" and reg["Value"] == f"[{prop}]"
        assert comps[reg["Component_"]]["Condition"] == prop   # written only when given
        assert int(comps[reg["Component_"]]["Attributes"]) & 4  # registry key path
    props = {r["Property"]: r["Value"] for r in table(built_msi, "Property")}
    secure = props["SecureCustomProperties"].split(";")
    assert {"SERVER_URL", "ENROLL_TOKEN", "POLICY_FILE"} <= set(secure)
    assert "ENROLL_TOKEN" in props["MsiHiddenProperties"].split(";")
    # An upgrade without the properties keeps the values already set.
    searches = {r["Property"]: r["Signature_"] for r in table(built_msi, "AppSearch")}
    locators = {r["Signature_"]: r for r in table(built_msi, "RegLocator")}
    assert locators[searches["OLD_SERVER_URL"]]["Key"] == "SOFTWARE\\Policies\\Checkup\\server"
    actions = {r["Action"]: r for r in table(built_msi, "CustomAction")}
    assert actions["KeepServerUrl"]["Source"] == "SERVER_URL"
    seq = {r["Action"]: r for r in table(built_msi, "InstallExecuteSequence")}
    assert seq["KeepServerUrl"]["Condition"] == "OLD_SERVER_URL AND NOT SERVER_URL"
    assert int(seq["AppSearch"]["Sequence"]) < int(seq["KeepServerUrl"]["Sequence"]) \
        < int(seq["CostFinalize"]["Sequence"])


def test_msi_upgrades_replace_older_versions(built_msi):
    props = {r["Property"]: r["Value"] for r in table(built_msi, "Property")}
    assert props["UpgradeCode"] == "{2F7260C1-905D-4428-94AE-7AD58CE30415}"
    assert props["ProductVersion"] == __version__
    upgrade = table(built_msi, "Upgrade")
    older = next(r for r in upgrade if r["ActionProperty"] == "WIX_UPGRADE_DETECTED")
    assert older["UpgradeCode"] == props["UpgradeCode"] and older["VersionMax"] == __version__
    assert not int(older["Attributes"]) & 2                  # not detect-only: removes it
    newer = next(r for r in upgrade if r["ActionProperty"] == "WIX_DOWNGRADE_DETECTED")
    assert int(newer["Attributes"]) & 2
    seq = {r["Action"] for r in table(built_msi, "InstallExecuteSequence")}
    assert {"FindRelatedProducts", "RemoveExistingProducts"} <= seq
    assert any("WIX_DOWNGRADE_DETECTED" in r["Condition"] for r in table(built_msi, "LaunchCondition"))


# -- Linux: ELF files, dependencies, lintian, rpm, launcher ---------------------------------

LIBC_SONAMES = {"libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1",
                "libutil.so.1", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"}


def elf_files(tree: Path) -> list[Path]:
    out = []
    for p in tree.rglob("*"):
        if p.is_file() and not p.is_symlink():
            with open(p, "rb") as fh:
                if fh.read(4) == b"\x7fELF":
                    out.append(p)
    return out


def readelf(*args) -> str:
    return subprocess.run(["readelf", "-W", *args], capture_output=True, text=True, check=True).stdout


def glibc_floor(tree: Path) -> tuple[int, int]:
    """The newest GLIBC_2.N version any ELF file of the tree needs from the C library
    (readelf's "Version needs" section), independent of dpkg-shlibdeps and elfdeps."""
    best = (2, 0)
    for f in elf_files(tree):
        current = None
        for line in readelf("-V", str(f)).splitlines():
            if "File: " in line:
                current = line.split("File: ", 1)[1].split()[0]
            elif current in LIBC_SONAMES and "Name: GLIBC_" in line:
                ver = line.split("Name: GLIBC_", 1)[1].split()[0]
                if ver[0].isdigit():
                    best = max(best, tuple(int(x) for x in ver.split(".")[:2]))
    return best


def unbundled_needs(tree: Path) -> set[str]:
    """Sonames the tree's ELF files need that the tree does not bundle."""
    elves = elf_files(tree)
    have = {p.name for p in tree.rglob("*")}
    needed = set()
    for f in elves:
        for line in readelf("-d", str(f)).splitlines():
            if "(NEEDED)" in line:
                needed.add(line.split("[", 1)[1].rstrip("]"))
            elif "(SONAME)" in line:
                have.add(line.split("[", 1)[1].rstrip("]"))
    return needed - have


def test_binary_has_no_build_machine_runpath_and_no_executable_libraries(built_binary):
    tree = built_binary / "checkup"
    elves = elf_files(tree)
    assert len(elves) > 50
    for f in elves:
        for line in readelf("-d", str(f)).splitlines():
            if "(RUNPATH)" in line or "(RPATH)" in line:
                for entry in line.split("[", 1)[1].rstrip("]").split(":"):
                    assert entry.startswith("$ORIGIN"), f"{f}: {line.strip()}"
        if ".so" in f.name:
            assert not f.stat().st_mode & 0o111, f"{f} is executable"
    assert (tree / "checkup").stat().st_mode & 0o755 == 0o755


def deb_depends(deb: Path) -> dict[str, str | None]:
    """{package: minimum version or None} from the .deb's Depends."""
    out = {}
    for part in dpkg_deb("-f", str(deb), "Depends").strip().split(","):
        part = part.strip()
        name, _, rest = part.partition(" ")
        out[name] = rest.strip("()").split()[-1] if rest else None
    return out


def test_deb_depends_are_what_the_elf_files_need_from_the_system(built_binary, built_deb):
    deps = deb_depends(built_deb)
    floor = glibc_floor(built_binary / "checkup")
    assert deps["libc6"] == f"{floor[0]}.{floor[1]}"        # the binary's floor, not `ldd --version`
    # One package per library the build does not bundle, and nothing for bundled ones
    # (no libssl3, libgtk-3-0, libffi8...: their copies ship inside /usr/lib/checkup).
    owners = set()
    for soname in unbundled_needs(built_binary / "checkup"):
        found = subprocess.run(["dpkg-query", "-S", f"*/{soname}"], capture_output=True, text=True)
        assert found.returncode == 0, f"no Debian package has {soname}"
        owners.add(found.stdout.split(":", 1)[0])
    assert set(deps) == owners, (deps, owners)


def status_entry(name: str, version: str, arch: str) -> str:
    return (f"Package: {name}\nStatus: install ok installed\nPriority: optional\nSection: libs\n"
            f"Maintainer: Test <test@example.org>\nArchitecture: {arch}\nVersion: {version}\n"
            f"Description: stand-in for {name}\n")


def install_on_old_system(deb: Path, root: Path, libc: str) -> subprocess.CompletedProcess:
    """dpkg -i, dependencies checked (no --force-depends), into a root whose package
    database says libc6 LIBC and every other dependency at its minimum is installed."""
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()
    for sub in ("info", "updates", "triggers"):
        (root / "var/lib/dpkg" / sub).mkdir(parents=True, exist_ok=True)
    entries = [status_entry("libc6", libc, arch)]
    for name, version in deb_depends(deb).items():
        if name != "libc6":
            entries.append(status_entry(name, version or "1.0", arch))
    (root / "var/lib/dpkg/status").write_text("\n".join(entries))
    return subprocess.run(["dpkg", f"--root={root}", "--force-script-chrootless", "--force-not-root",
                           "-i", str(deb)], capture_output=True, text=True, timeout=180)


def test_deb_installs_on_a_system_with_exactly_its_libc_floor_and_not_below(built_deb, tmp_path):
    floor = deb_depends(built_deb)["libc6"]
    major, minor = (int(x) for x in floor.split("."))
    ok = install_on_old_system(built_deb, tmp_path / "at-floor", f"{floor}-1")
    assert ok.returncode == 0, ok.stderr
    below = install_on_old_system(built_deb, tmp_path / "below", f"{major}.{minor - 1}-0ubuntu1")
    assert below.returncode != 0
    assert f"depends on libc6 (>= {floor})" in below.stderr
    # Ubuntu 22.04 has glibc 2.35: this build installs there exactly when its floor allows.
    jammy = install_on_old_system(built_deb, tmp_path / "jammy", "2.35-0ubuntu3.8")
    assert (jammy.returncode == 0) == ((major, minor) <= (2, 35)), jammy.stderr


def test_lintian_finds_no_errors_and_every_override_has_a_reason(built_deb):
    need("lintian")
    proc = subprocess.run(["lintian", "--show-overrides", "--tag-display-limit", "0", str(built_deb)],
                          capture_output=True, text=True, timeout=600)
    lines = proc.stdout.splitlines()
    errors = [line for line in lines if line.startswith("E:")]
    assert errors == [], "\n".join(errors)
    # 1 = lintian itself failed. With --show-overrides, lintian 2.116 also counts the errors it
    # shows as overridden ("O:") towards its exit status 2, so 2 is fine when no "E:" is left.
    assert proc.returncode in (0, 2), proc.stdout[-2000:] + proc.stderr[-2000:]
    assert any(line.startswith("W:") or line.startswith("O:") for line in lines)  # it really ran
    assert not [line for line in lines if "unused-override" in line or "mismatched-override" in line]
    overridden = {line.split()[2] for line in lines if line.startswith("O:")}
    overrides = (ROOT / "packaging/linux/lintian-overrides").read_text().splitlines()
    tags = [line.split(":", 1)[1].split()[0] for line in overrides if line.startswith("checkup:")]
    assert overridden == set(tags)                           # each override is still needed
    for i, line in enumerate(overrides):
        if line.startswith("checkup:"):
            tag = line.split(":", 1)[1].split()[0]
            j = i
            while j > 0 and overrides[j - 1].startswith("# "):
                j -= 1
            reason = " ".join(line.lstrip("# ") for line in overrides[j:i])
            assert reason.startswith(f"{tag}: ") and len(reason) > len(tag) + 40, f"override {tag} has no reason"
    # the control data an admin sees: a real changelog, a configurable maintainer
    listing = dpkg_deb("-c", str(built_deb))
    assert "./usr/share/doc/checkup/changelog.gz" in listing


def test_deb_maintainer_and_homepage_are_configurable(tmp_path):
    need("dpkg-deb", "dpkg-shlibdeps", "patchelf")
    small = tmp_path / "checkup"                             # a stand-in build: one ELF file
    small.mkdir()
    shutil.copy2(shutil.which("true"), small / "checkup")
    dist = tmp_path / "dist"
    proc = build("deb", dist, tmp_path / "work", CHECKUP_BINARY_DIR=str(small),
                 CHECKUP_DEB_COMPRESSION="gzip", CHECKUP_MAINTAINER="Example IT <it@corp.example>",
                 CHECKUP_HOMEPAGE="https://it.corp.example/checkup")
    assert proc.returncode == 0, proc.stderr
    (deb,) = dist.glob("*.deb")
    assert dpkg_deb("-f", str(deb), "Maintainer").strip() == "Example IT <it@corp.example>"
    assert dpkg_deb("-f", str(deb), "Homepage").strip() == "https://it.corp.example/checkup"
    changelog = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True)
    import io
    import tarfile
    import gzip
    with tarfile.open(fileobj=io.BytesIO(changelog.stdout)) as tar:
        text = gzip.decompress(tar.extractfile("./usr/share/doc/checkup/changelog.gz").read()).decode()
    assert text.startswith(f"checkup ({__version__}) ") and "-- Example IT <it@corp.example>  " in text


# -- .rpm ---------------------------------------------------------------------

@pytest.fixture(scope="session")
def built_rpms(built_binary, tmp_path_factory):
    """Release 1 and release 2 of the same build (for the upgrade)."""
    need("rpmbuild", "rpm", "patchelf")
    dist = tmp_path_factory.mktemp("rpm")
    for release in ("1", "2"):
        proc = build("rpm", dist, tmp_path_factory.mktemp("work"), CHECKUP_BINARY_DIR=str(built_binary / "checkup"),
                     CHECKUP_RPM_PAYLOAD="w1.gzdio", CHECKUP_RPM_RELEASE=release)
        assert proc.returncode == 0, proc.stderr
    return sorted(dist.glob("checkup-*.rpm"))


def rpmq(rpm: Path, *args) -> str:
    return subprocess.run(["rpm", "-qp", *args, str(rpm)], capture_output=True, text=True, check=True).stdout


def test_rpm_ships_the_debs_files_with_the_same_modes(built_rpms, built_deb):
    rpm = built_rpms[0]
    assert rpm.name == f"checkup-{__version__}-1.{os.uname().machine}.rpm"
    rpm_files = {}
    for line in rpmq(rpm, "--qf", "[%{FILEMODES:perms} %{FILENAMES}\n]").splitlines():
        perms, path = line.split(" ", 1)
        if not perms.startswith("d"):
            rpm_files[path] = perms
    deb_files = {}
    for line in dpkg_deb("-c", str(built_deb)).splitlines():
        fields = line.split()
        path = fields[5].lstrip(".")
        if not fields[0].startswith("d") and not path.startswith("/usr/share/lintian/"):
            deb_files[path] = fields[0]
    assert rpm_files == deb_files
    assert {"/usr/share/applications/checkup.desktop", "/etc/xdg/autostart/checkup.desktop"} <= set(rpm_files)
    owned_dirs = {line.split(" ", 1)[1] for line in
                  rpmq(rpm, "--qf", "[%{FILEMODES:perms} %{FILENAMES}\n]").splitlines() if line.startswith("d")}
    assert {"/etc/checkup", "/etc/checkup/config.d", "/usr/lib/checkup"} <= owned_dirs
    assert "/usr" not in owned_dirs and "/etc" not in owned_dirs   # the system's, not ours


def test_rpm_config_files_requires_and_scripts(built_rpms, built_binary):
    rpm = built_rpms[0]
    assert rpmq(rpm, "--configfiles").split() == ["/etc/checkup/config.toml", "/etc/xdg/autostart/checkup.desktop"]
    requires = rpmq(rpm, "--requires").splitlines()
    major, minor = glibc_floor(built_binary / "checkup")
    glibc = sorted({tuple(int(x) for x in r.split("GLIBC_", 1)[1].split(")")[0].split(".")[:2])
                    for r in requires if r.startswith("libc.so.6(GLIBC_2")})
    assert glibc[-1] == (major, minor)                       # rpm checks the same glibc floor
    sonames = {r.split("(", 1)[0] for r in requires if ".so" in r}
    assert sonames == unbundled_needs(built_binary / "checkup")   # nothing the build bundles
    assert "libpython3.11.so.1.0" not in "\n".join(requires)
    provides = rpmq(rpm, "--provides").split("\n")
    assert not [p for p in provides if ".so" in p]           # bundled libraries are private
    scripts = rpmq(rpm, "--scripts")
    for name in ("postinst", "prerm", "postrm"):
        body = (ROOT / "packaging/linux" / name).read_text().split("\n", 1)[1]
        assert body in scripts, name


def scriptlet(rpm: Path, tag: str, arg: str, root: Path) -> subprocess.CompletedProcess:
    text = rpmq(rpm, "--qf", f"%{{{tag}}}")
    return subprocess.run(["sh", "-c", text, tag, arg], capture_output=True, text=True,
                          env=dict(os.environ, DPKG_ROOT=str(root)), timeout=60)


def test_rpm_installs_upgrades_and_erases_in_an_empty_root(built_rpms, tmp_path):
    need("rpm")
    first, second = built_rpms
    root = tmp_path / "root"
    root.mkdir()

    def rpm(*args):
        return subprocess.run(["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "--nodeps",
                               "--noscripts", *args], capture_output=True, text=True, timeout=180)

    def query(name):
        return subprocess.run(["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "-q", name],
                              capture_output=True, text=True, timeout=60).stdout.strip()
    installed = rpm("-i", str(first))
    assert installed.returncode == 0, installed.stderr
    post = scriptlet(first, "POSTIN", "1", root)                # %post of a first install
    assert post.returncode == 0 and "the tray starts at each user's next desktop login" in post.stdout
    exe = root / "usr/bin/checkup"
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == f"checkup {__version__}", out.stderr
    assert query("checkup") == f"checkup-{__version__}-1.{os.uname().machine}"
    assert (root / "etc/checkup/config.d").is_dir()

    config_file = root / "etc/checkup/config.toml"
    config_file.write_text(config_file.read_text() + '\n[server]\nurl = "https://checkup.corp.example"\n')
    upgraded = rpm("-U", str(second))
    assert upgraded.returncode == 0, upgraded.stderr
    assert query("checkup") == f"checkup-{__version__}-2.{os.uname().machine}"
    assert "https://checkup.corp.example" in config_file.read_text()   # IT's edit survives
    assert not list(root.rglob("*.rpmnew"))                  # unchanged upstream: no .rpmnew
    post = scriptlet(second, "POSTIN", "2", root)               # %post of an upgrade: quiet
    assert post.returncode == 0 and post.stdout == ""
    for tag, arg in (("PREUN", "1"), ("POSTUN", "1")):          # old package's steps in an upgrade
        step = scriptlet(first, tag, arg, root)
        assert step.returncode == 0, step.stderr

    (root / "etc/checkup/config.d/50-site.toml").write_text("[agent]\ninterval_minutes = 30\n")
    erased = rpm("-e", "checkup")
    assert erased.returncode == 0, erased.stderr
    postun = scriptlet(second, "POSTUN", "0", root)
    assert postun.returncode == 0 and "kept /etc/checkup" in postun.stderr
    left = leftovers(root)
    assert not any(p.startswith("usr/lib/checkup") or p == "usr/bin/checkup" for p in left)
    assert "etc/checkup/config.toml.rpmsave" in left          # IT's edited file is kept aside
    assert "etc/checkup/config.d/50-site.toml" in left
    assert "etc/xdg/autostart/checkup.desktop" not in left    # no autostart after erase
    (root / "etc/checkup/config.d/50-site.toml").unlink()
    (root / "etc/checkup/config.toml.rpmsave").unlink()
    assert scriptlet(second, "POSTUN", "0", root).returncode == 0
    # Nothing of ours is left; only the system's own folders (the `filesystem` package's on a
    # real system), which rpm created for our files and does not own.
    assert [p for p in leftovers(root) if not (root / p).is_dir()] == []
    assert not (root / "etc/checkup").exists()


# -- the applications-menu launcher ---------------------------------------------------------

def desktop_exec(path: Path) -> list[str]:
    import configparser
    import shlex
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(path)
    return shlex.split(entry["Desktop Entry"]["Exec"])


@pytest.fixture
def launcher_env(built_deb, dpkg_root, tmp_path):
    """The .deb installed in a throwaway root, a home folder, and a BROWSER that records."""
    root, dpkg = dpkg_root
    assert dpkg("-i", str(built_deb)).returncode == 0
    home = tmp_path / "home"
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    browser.chmod(0o755)
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "XDG_STATE_HOME": str(home / "state"),
           "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config"),
           "BROWSER": f"{browser} %s"}
    installed = root / "usr/share/applications/checkup.desktop"
    if shutil.which("desktop-file-validate"):                # as installed, in the menu's folder
        valid = subprocess.run(["desktop-file-validate", str(installed)], capture_output=True, text=True)
        assert valid.returncode == 0 and valid.stdout == "", valid.stdout + valid.stderr
    argv = desktop_exec(installed)
    assert argv[0] == "/usr/bin/checkup" and argv[1:] == ["tray", "--show"]
    return [str(root) + argv[0], *argv[1:]], env, home, opened


def hold_tray_lock(home: Path):
    """A running tray, as far as a second one can tell: its lock is held."""
    lock = home / "state" / "Checkup" / "tray.lock"
    lock.parent.mkdir(parents=True)
    holder = subprocess.Popen(["python3", "-c", "import fcntl,sys,time; f=open(sys.argv[1],'a+');"
                               "fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(120)",
                               str(lock)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_launcher_opens_the_running_trays_report(launcher_env):
    argv, env, home, opened = launcher_env
    holder = hold_tray_lock(home)
    try:
        report = home / "data" / "Checkup" / "pages" / "report.html"
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
        assert proc.returncode == 0, proc.stderr
        assert "already running" in proc.stdout and not opened.exists()   # no report yet: says so
        report.parent.mkdir(parents=True)
        report.write_text("<!doctype html><title>Checkup</title>")
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
        assert proc.returncode == 0, proc.stderr
        import time
        deadline = time.time() + 10
        while not opened.exists() and time.time() < deadline:
            time.sleep(0.1)
        assert opened.read_text().split() == [report.as_uri()]
    finally:
        holder.kill()
        holder.wait()


def test_launcher_starts_the_tray_when_none_runs(launcher_env):
    argv, env, home, opened = launcher_env
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)  # no DISPLAY here
    assert proc.returncode == 3
    assert "checkup tray needs a desktop session" in proc.stderr
    assert not opened.exists()


def test_linux_binary_build_refuses_to_ship_a_tray_without_its_menu(tmp_path):
    """Issue 15.5: a build machine without PyGObject / GTK / AppIndicator would make a tray
    with no menu (pystray's xorg backend); packaging/build says what to install instead."""
    pytest.importorskip("PyInstaller")
    blocker = tmp_path / "blocker" / "gi"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('no PyGObject on this build machine')\n")
    python = tmp_path / "python-without-gi"
    python.write_text(f'#!/bin/sh\nPYTHONPATH="{blocker.parent}:$PYTHONPATH" exec {shutil.which("python3")} "$@"\n')
    python.chmod(0o755)
    proc = build("binary", tmp_path / "dist", tmp_path / "work", PYTHON=str(python))
    assert proc.returncode == 1
    assert "needs PyGObject with GTK 3 and AyatanaAppIndicator3" in proc.stderr
    assert "gir1.2-ayatanaappindicator3-0.1" in proc.stderr and "CHECKUP_TRAY_MENU=no" in proc.stderr
    assert not (tmp_path / "dist" / "checkup").exists()      # refused before PyInstaller ran
