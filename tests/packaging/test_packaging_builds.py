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

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "packaging" / "build"


def build(target, dist, work, **env):
    full = dict(os.environ, CHECKUP_DIST=str(dist), CHECKUP_WORK=str(work), **env)
    return subprocess.run(["bash", str(BUILD), target], capture_output=True, text=True,
                          timeout=600, env=full, cwd=ROOT)


def need(*tools):
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")


@pytest.fixture(scope="session")
def built_binary(tmp_path_factory):
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        pytest.skip("PyInstaller is not installed (pip install pyinstaller)")
    dist = tmp_path_factory.mktemp("dist")
    proc = build("binary", dist, tmp_path_factory.mktemp("work"))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return dist


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
