"""probe(host) through RecordedHost: every command timing out, missing, denied or failing."""
from __future__ import annotations

import pytest

from linux_probe_helpers import FEDORA, UBUNTU, cmd, data, host
from probes.linux import (automatic_updates, disk_encryption, firewall, os_version, remote_login,
                          screen_lock, system_integrity)
from probes.linux.identity import identity

ERRORS = ["timeout", "not_found", "denied"]
LSBLK = ["lsblk", "--json", "--output", "NAME,TYPE,FSTYPE,MOUNTPOINT"]


# -- os_version / identity ----------------------------------------------------------------
def test_os_version_falls_back_to_usr_lib():
    fact = os_version.probe(host(files={"/usr/lib/os-release": UBUNTU,
                                        "/proc/sys/kernel/osrelease": "6.8.0-49-generic\n"}))
    assert fact.observed == {"name": "Ubuntu", "version": "24.04", "id": "ubuntu",
                             "build": "6.8.0-49-generic"}
    assert fact.extra["os_id"] == "ubuntu" and not fact.unread


def test_os_version_etc_wins():
    fact = os_version.probe(host(files={"/etc/os-release": FEDORA, "/usr/lib/os-release": UBUNTU}))
    assert fact.observed["id"] == "fedora"
    assert "build" in fact.unread


def test_os_version_rolling():
    fact = os_version.probe(host(files={"/etc/os-release": data("os_version", "arch-rolling.txt")}))
    assert fact.observed["name"] == "Arch Linux" and fact.observed["id"] == "arch"
    assert "version" not in fact.observed
    assert fact.unread["version"] == "this distribution has no version number (rolling release)"
    assert fact.extra == {"os_id": "arch", "rolling": True}


def test_os_version_id_lower_cased_for_policy():
    fact = os_version.probe(host(files={"/etc/os-release": 'NAME=X\nID="Ubuntu"\nVERSION_ID=1\n'}))
    assert fact.observed["id"] == "Ubuntu" and fact.extra["os_id"] == "ubuntu"


@pytest.mark.parametrize("files", [{}, {"/etc/os-release": "garbage\n"}])
def test_os_version_unreadable(files):
    fact = os_version.probe(host(files=files))
    assert fact.observed == {} and set(fact.unread) == {"name", "version", "id", "build"}


def test_identity_root_only_files_missing():
    got = identity(host(files={"/sys/class/dmi/id/product_name": "XPS 13 9340\n"}))
    assert got == {"serial": None, "hardware_uuid": None, "model": "XPS 13 9340"}


def test_identity_as_root():
    got = identity(host(files={"/sys/class/dmi/id/product_serial": "7H2KQ93\n",
                               "/sys/class/dmi/id/product_uuid": "4c4c4544-0048-3510-8052-b7c04f4b3332\n",
                               "/sys/class/dmi/id/product_name": "Latitude 7440\n"}))
    assert got == {"serial": "7H2KQ93", "hardware_uuid": "4c4c4544-0048-3510-8052-b7c04f4b3332",
                   "model": "Latitude 7440"}


# -- disk_encryption ----------------------------------------------------------------------
@pytest.mark.parametrize("error", ERRORS)
def test_lsblk_errors(error):
    fact = disk_encryption.probe(host([cmd(LSBLK, error=error)]))
    assert fact.observed == {} and "lsblk" in fact.unread["state"]


def test_lsblk_nonzero_exit():
    fact = disk_encryption.probe(host([cmd(LSBLK, "", data("disk_encryption", "no-sysfs-error.txt"), 32)]))
    assert fact.unread["state"] == "lsblk gave no answer (exit 32)"


def test_lsblk_garbage_and_missing_root():
    fact = disk_encryption.probe(host([cmd(LSBLK, "not json")]))
    assert fact.unread["state"] == "lsblk gave an answer Checkup does not understand"
    fact = disk_encryption.probe(host([cmd(LSBLK, data("disk_encryption", "ubuntu-24.04-fixture.txt"))]))
    assert "could not be found" in fact.unread["state"] and fact.observed == {}


# -- firewall -----------------------------------------------------------------------------
FWCMD = ["firewall-cmd", "--state"]
NFT = ["nft", "list", "ruleset"]
IPT = ["iptables", "-S"]
IS_ACTIVE = ["systemctl", "is-active"]
NOT_RUNNING = cmd(FWCMD, "", "not running\n", 252)
INACTIVE = "inactive\n"


def test_firewall_ufw_first_and_trap_ignored():
    # systemctl says ufw is active, but ufw.conf says disabled: ufw is off
    h = host([cmd(IS_ACTIVE + ["ufw"], "active\n"), NOT_RUNNING,
              cmd(IS_ACTIVE + ["nftables"], INACTIVE, "", 3),
              cmd(IS_ACTIVE + ["netfilter-persistent"], INACTIVE, "", 3)],
             files={"/etc/ufw/ufw.conf": data("firewall", "ufw-conf-disabled-debian-12.txt")})
    fact = firewall.probe(h)
    assert fact.observed == {"enabled": False, "backend": None} and not fact.unread


def test_firewall_ufw_enabled():
    h = host(files={"/etc/ufw/ufw.conf": data("firewall", "ufw-conf-enabled-fixture.txt")})
    assert firewall.probe(h).observed == {"enabled": True, "backend": "ufw"}


@pytest.mark.parametrize("error", ["timeout", "denied"])
def test_firewall_cmd_errors_make_it_unknown(error):
    h = host([cmd(FWCMD, error=error), cmd(IS_ACTIVE + ["nftables"], INACTIVE, "", 3),
              cmd(IS_ACTIVE + ["netfilter-persistent"], INACTIVE, "", 3)])
    fact = firewall.probe(h)
    assert "enabled" not in fact.observed and "firewall-cmd" in fact.unread["enabled"]


def test_firewall_cmd_error_but_later_backend_on():
    h = host([cmd(FWCMD, error="timeout"), cmd(NFT, data("firewall", "nft-ufw-enabled-debian-12.txt"))],
             admin=True)
    assert firewall.probe(h).observed == {"enabled": True, "backend": "nftables"}


def test_firewall_cmd_nonzero_unknown_answer():
    h = host([cmd(FWCMD, "", "Error: ACCESS_DENIED\n", 1), cmd(NFT, ""), cmd(IPT, data(
        "firewall", "iptables-empty-debian-12.txt"))], admin=True)
    fact = firewall.probe(h)
    assert fact.unread["enabled"] == "firewall-cmd gave an answer Checkup does not understand"


def test_firewall_all_off_as_admin():
    h = host([NOT_RUNNING, cmd(NFT, data("firewall", "nft-debian-12-default-conf-loaded.txt")),
              cmd(IPT, data("firewall", "iptables-empty-debian-12.txt"))], admin=True)
    assert firewall.probe(h).observed == {"enabled": False, "backend": None}


def test_firewall_iptables_as_admin():
    h = host([NOT_RUNNING, cmd(NFT, error="not_found"),
              cmd(IPT, data("firewall", "iptables-ufw-enabled-debian-12.txt"))], admin=True)
    assert firewall.probe(h).observed == {"enabled": True, "backend": "iptables"}


@pytest.mark.parametrize("error", ERRORS)
def test_firewall_nft_errors_as_admin(error):
    h = host([NOT_RUNNING, cmd(NFT, error=error), cmd(IPT, data("firewall", "iptables-empty-debian-12.txt"))],
             admin=True)
    fact = firewall.probe(h)
    if error == "not_found":
        assert fact.observed == {"enabled": False, "backend": None}
    else:
        assert "nft" in fact.unread["enabled"]


def test_firewall_nft_denied_output_and_iptables_errors():
    h = host([NOT_RUNNING, cmd(NFT, "", data("firewall", "nft-nonroot-stderr.txt"), 1),
              cmd(IPT, "", data("firewall", "iptables-nonroot-stderr.txt"), 4)], admin=True)
    fact = firewall.probe(h)
    assert fact.unread["enabled"] == "nft gave no answer (exit 1)"


@pytest.mark.parametrize("error", ERRORS)
def test_firewall_iptables_errors_as_admin(error):
    h = host([NOT_RUNNING, cmd(NFT, ""), cmd(IPT, error=error)], admin=True)
    fact = firewall.probe(h)
    if error == "not_found":
        assert fact.observed == {"enabled": False, "backend": None}
    else:
        assert "iptables" in fact.unread["enabled"]


def test_firewall_nonadmin_nftables_active_reads_conf():
    drop = data("firewall", "nft-debian-12-policy-drop-fixture.txt")
    h = host([NOT_RUNNING, cmd(IS_ACTIVE + ["nftables"], "active\n")], files={"/etc/nftables.conf": drop})
    assert firewall.probe(h).observed == {"enabled": True, "backend": "nftables"}


def test_firewall_nonadmin_nftables_active_conf_unreadable():
    h = host([NOT_RUNNING, cmd(IS_ACTIVE + ["nftables"], "active\n"),
              cmd(IS_ACTIVE + ["netfilter-persistent"], INACTIVE, "", 3)])
    fact = firewall.probe(h)
    assert fact.unread["enabled"] == "needs administrator rights"


def test_firewall_nonadmin_nftables_active_default_conf_is_off():
    h = host([NOT_RUNNING, cmd(IS_ACTIVE + ["nftables"], "active\n"),
              cmd(IS_ACTIVE + ["netfilter-persistent"], INACTIVE, "", 3)],
             files={"/etc/nftables.conf": data("firewall", "nftables-conf-debian-12-default.txt")})
    assert firewall.probe(h).observed == {"enabled": False, "backend": None}


def test_firewall_nonadmin_netfilter_persistent_needs_admin():
    h = host([NOT_RUNNING, cmd(IS_ACTIVE + ["nftables"], INACTIVE, "", 3),
              cmd(IS_ACTIVE + ["netfilter-persistent"], "active\n")])
    fact = firewall.probe(h)
    assert fact.observed == {} and fact.unread["enabled"] == "needs administrator rights"


def test_firewall_nonadmin_no_systemd_is_unknown():
    stderr = data("remote_login", "systemctl-is-active-no-systemd-stderr.txt")
    h = host([NOT_RUNNING, cmd(IS_ACTIVE + ["nftables"], "", stderr, 1),
              cmd(IS_ACTIVE + ["netfilter-persistent"], "", stderr, 1)])
    assert firewall.probe(h).unread["enabled"] == "systemd is not running on this machine"


def test_firewall_nothing_readable_nonadmin_is_unknown_not_off():
    # no ufw.conf, no firewall-cmd, and no systemctl to ask whether nftables or
    # netfilter-persistent loaded rules at boot: without root that cannot be seen.
    fact = firewall.probe(host())
    assert fact.observed == {}
    assert fact.unread["enabled"] == "systemctl is not available"


def test_firewall_nothing_on_nonadmin_is_off():
    # ufw and firewalld absent, both rule-loading services clearly inactive: off.
    h = host([NOT_RUNNING, cmd(IS_ACTIVE + ["nftables"], INACTIVE, "", 3),
              cmd(IS_ACTIVE + ["netfilter-persistent"], INACTIVE, "", 3)])
    assert firewall.probe(h).observed == {"enabled": False, "backend": None}


# -- screen_lock --------------------------------------------------------------------------
GS = "gsettings"
GNOME = {"XDG_CURRENT_DESKTOP": "ubuntu:GNOME"}


def gnome_cmds(lock="true\n", idle="uint32 300\n", delay="uint32 0\n"):
    return [cmd([GS, "get", "org.gnome.desktop.screensaver", "lock-enabled"], lock),
            cmd([GS, "get", "org.gnome.desktop.session", "idle-delay"], idle),
            cmd([GS, "get", "org.gnome.desktop.screensaver", "lock-delay"], delay)]


def test_screen_lock_no_desktop_skips():
    fact = screen_lock.probe(host(gnome_cmds(), env={"LANG": "C.UTF-8", "HOME": "/root"}))
    assert fact.skip == "no desktop session" and fact.observed == {}


def test_screen_lock_gnome():
    fact = screen_lock.probe(host(gnome_cmds(idle="uint32 0\n"), env=GNOME))
    assert fact.observed == {"enabled": True, "idle_seconds": 0, "lock_delay_seconds": 0}


@pytest.mark.parametrize("error", ERRORS)
def test_screen_lock_gsettings_errors(error):
    commands = gnome_cmds()
    commands[1] = cmd(commands[1]["argv"], error=error)
    fact = screen_lock.probe(host(commands, env=GNOME))
    assert fact.observed == {"enabled": True, "lock_delay_seconds": 0}
    assert "gsettings" in fact.unread["idle_seconds"]


@pytest.mark.parametrize("error", ERRORS)
def test_screen_lock_idle_never_fails_with_the_lock_setting_unread(error):
    # idle-delay 0 ("uint32 0", as in tests/fixtures/linux/ubuntu-22-04-…): never locks on idle,
    # so lock-enabled cannot change the answer.
    from agent.policy import load_policy
    from agent.verdicts import judge
    commands = gnome_cmds(idle="uint32 0\n")
    commands[0] = cmd(commands[0]["argv"], error=error)
    fact = screen_lock.probe(host(commands, env=GNOME))
    assert "enabled" in fact.unread and fact.observed["idle_seconds"] == 0
    status, judgement = judge("screen_lock", fact, load_policy(), "linux")
    assert status == "fail" and "never locks" in judgement.summary


def test_screen_lock_no_such_schema():
    err = data("screen_lock", "gsettings-no-such-schema-stderr.txt")
    commands = [dict(c, stdout="", stderr=err, returncode=1) for c in gnome_cmds()]
    fact = screen_lock.probe(host(commands, env=GNOME))
    assert fact.observed == {} and set(fact.unread) == {"enabled", "idle_seconds", "lock_delay_seconds"}
    assert "No such schema" in fact.unread["enabled"]


def test_screen_lock_gsettings_garbage():
    fact = screen_lock.probe(host(gnome_cmds(lock="yes\n", idle="soon\n"), env=GNOME))
    assert set(fact.unread) == {"enabled", "idle_seconds"}


def test_screen_lock_other_desktop():
    fact = screen_lock.probe(host(gnome_cmds(), env={"XDG_CURRENT_DESKTOP": "XFCE"}))
    assert fact.observed == {} and fact.unread["enabled"] == "not supported on this desktop yet"
    assert fact.skip is None


def kde_cmds(tool, autolock="", timeout="", grace="", error=None):
    base = [tool, "--file", "kscreenlockerrc", "--group", "Daemon", "--key"]
    return [cmd(base + ["Autolock"], autolock, error=error), cmd(base + ["Timeout"], timeout, error=error),
            cmd(base + ["LockGrace"], grace, error=error)]


def test_kde_defaults_when_empty():
    fact = screen_lock.probe(host(kde_cmds("kreadconfig5"), env={"XDG_CURRENT_DESKTOP": "KDE"}))
    assert fact.observed == {"enabled": True, "idle_seconds": 300, "lock_delay_seconds": 5}


def test_kde6_first_on_plasma6():
    commands = kde_cmds("kreadconfig6", "false\n", "", "") + kde_cmds("kreadconfig5", "true\n", "1\n", "0\n")
    fact = screen_lock.probe(host(commands, env={"XDG_CURRENT_DESKTOP": "KDE", "KDE_SESSION_VERSION": "6"}))
    assert fact.observed["enabled"] is False


def test_kde_falls_back_to_the_other_tool():
    commands = kde_cmds("kreadconfig5", error="not_found") + kde_cmds("kreadconfig6", "true\n", "15\n", "0\n")
    fact = screen_lock.probe(host(commands, env={"XDG_CURRENT_DESKTOP": "KDE", "KDE_SESSION_VERSION": "5"}))
    assert fact.observed == {"enabled": True, "idle_seconds": 900, "lock_delay_seconds": 0}


def test_kde_no_tool():
    fact = screen_lock.probe(host([], env={"XDG_CURRENT_DESKTOP": "KDE"}))
    assert fact.unread["enabled"] == "kreadconfig is not available"


@pytest.mark.parametrize("error", ["timeout", "denied"])
def test_kde_errors(error):
    fact = screen_lock.probe(host(kde_cmds("kreadconfig5", error=error), env={"XDG_CURRENT_DESKTOP": "KDE"}))
    assert fact.observed == {} and "kreadconfig5" in fact.unread["enabled"]


def test_kde_nonzero_exit():
    commands = kde_cmds("kreadconfig5", "true\n", "10\n", "30\n")
    commands[1]["returncode"] = 1
    fact = screen_lock.probe(host(commands, env={"XDG_CURRENT_DESKTOP": "KDE"}))
    assert fact.observed == {"enabled": True, "lock_delay_seconds": 30}
    assert fact.unread["idle_seconds"] == "kreadconfig5 gave no answer (exit 1)"


# -- automatic_updates --------------------------------------------------------------------
APT = ["apt-config", "dump", "APT::Periodic::Unattended-Upgrade"]
APT_ENABLE = ["apt-config", "dump", "APT::Periodic::Enable"]
ENABLED = ["systemctl", "is-enabled"]
TIMERS = ("dnf-automatic.timer", "dnf-automatic-install.timer", "dnf5-automatic.timer")


@pytest.mark.parametrize("error", ERRORS)
def test_apt_config_errors(error):
    fact = automatic_updates.probe(host([cmd(APT, error=error)], files={"/etc/os-release": UBUNTU}))
    assert fact.observed == {} and "apt-config" in fact.unread["enabled"]


def test_apt_config_nonzero():
    fact = automatic_updates.probe(host([cmd(APT, "", "E: oops\n", 100)], files={"/etc/os-release": UBUNTU}))
    assert fact.unread["enabled"] == "apt-config gave no answer (exit 100)"


def test_mint_is_debian_family():
    release = data("os_version", "pop-22.04.txt")
    fact = automatic_updates.probe(host([cmd(APT, 'APT::Periodic::Unattended-Upgrade "1";\n'),
                                         cmd(APT_ENABLE, "")],
                                        files={"/etc/os-release": release}))
    assert fact.observed == {"enabled": True, "family": "debian", "updater": "unattended-upgrades"}


def test_dnf_all_off_old_systemd_message():
    err = data("automatic_updates", "systemctl-is-enabled-old-not-found-stderr.txt")
    commands = [cmd(ENABLED + [t], "", err.replace("dnf-automatic.timer", t), 1) for t in TIMERS]
    fact = automatic_updates.probe(host(commands, files={"/etc/os-release": 'ID="rhel"\nID_LIKE="fedora"\n'}))
    assert fact.observed == {"enabled": False, "family": "fedora", "updater": None}


def test_dnf_disabled_and_missing_entry():
    commands = [cmd(ENABLED + ["dnf-automatic.timer"], "disabled\n", "", 1),
                cmd(ENABLED + ["dnf-automatic-install.timer"], "not-found\n", "", 4)]
    fact = automatic_updates.probe(host(commands, files={"/etc/os-release": FEDORA}))
    assert fact.observed == {"enabled": False, "family": "fedora", "updater": None}


@pytest.mark.parametrize("error", ["timeout", "denied"])
def test_dnf_errors(error):
    commands = [cmd(ENABLED + [t], error=error) for t in TIMERS]
    fact = automatic_updates.probe(host(commands, files={"/etc/os-release": FEDORA}))
    assert "systemctl" in fact.unread["enabled"]


def test_dnf_no_systemctl():
    fact = automatic_updates.probe(host([], files={"/etc/os-release": FEDORA}))
    assert fact.unread["enabled"] == "systemctl is not available"


def test_dnf_one_enabled_wins_over_errors():
    commands = [cmd(ENABLED + ["dnf-automatic.timer"], error="timeout"),
                cmd(ENABLED + ["dnf-automatic-install.timer"], "enabled\n")]
    fact = automatic_updates.probe(host(commands, files={"/etc/os-release": FEDORA}))
    assert fact.observed == {"enabled": True, "family": "fedora", "updater": "dnf-automatic"}


def test_other_distribution():
    # Arch used to be "not supported"; it is now a family of its own (off), see
    # test_linux_automatic_updates.py. Alpine has no family.
    fact = automatic_updates.probe(host(files={"/etc/os-release": data("automatic_updates",
                                                                        "os-release-alpine-3.21.txt")}))
    assert fact.unread["enabled"] == "not supported on this distribution yet"
    fact = automatic_updates.probe(host())
    assert fact.unread["enabled"] == "/etc/os-release could not be read"


# -- system_integrity ---------------------------------------------------------------------
MOK = ["mokutil", "--sb-state"]


@pytest.mark.parametrize("error, reason", [("timeout", "mokutil timed out"),
                                           ("not_found", "mokutil is not installed"),
                                           ("denied", "mokutil needs administrator rights")])
def test_mokutil_errors(error, reason):
    assert system_integrity.probe(host([cmd(MOK, error=error)])).unread == {"secure_boot": reason}


@pytest.mark.parametrize("stdout, stderr, code, expected", [
    ("", "EFI variables are not supported on this system\n", 1, False),
    ("", "This system doesn't support Secure Boot\n", 255, False),
    ("SecureBoot enabled\nSecureBoot validation is disabled in shim\n", "", 0, False),
    ("SecureBoot enabled\n", "", 0, True),
    ("", "Failed to read SecureBoot\n", 255, None),
])
def test_mokutil_probe(stdout, stderr, code, expected):
    fact = system_integrity.probe(host([cmd(MOK, stdout, stderr, code)]))
    assert fact.observed.get("secure_boot") is expected
    assert ("secure_boot" in fact.unread) is (expected is None)


# -- remote_login -------------------------------------------------------------------------
def units(ssh=None, sshd=None, socket=None):
    out = []
    for unit, value in (("ssh", ssh), ("sshd", sshd), ("ssh.socket", socket)):
        if value is None:
            continue
        if value in ERRORS:
            out.append(cmd(IS_ACTIVE + [unit], error=value))
        else:
            out.append(cmd(IS_ACTIVE + [unit], value + "\n", "", 0 if value == "active" else 3))
    return out


@pytest.mark.parametrize("states, expected", [
    (dict(ssh="inactive", sshd="inactive"), False),           # ssh.socket entry absent
    (dict(ssh="inactive", sshd="inactive", socket="active"), True),  # Ubuntu 24.04 socket
    (dict(ssh="active", sshd="timeout"), True),
    (dict(ssh="inactive", sshd="timeout", socket="inactive"), None),
    (dict(ssh="inactive", sshd="denied"), None),
    (dict(ssh="failed", sshd="unknown", socket="inactive"), False),
    ({}, None),
    (dict(ssh="activating", sshd="inactive"), None),
])
def test_remote_login(states, expected):
    fact = remote_login.probe(host(units(**states)))
    assert fact.observed.get("enabled") is expected
    assert ("enabled" in fact.unread) is (expected is None)


def test_remote_login_without_systemd():
    err = data("remote_login", "systemctl-is-active-no-systemd-stderr.txt")
    commands = [cmd(IS_ACTIVE + [u], "", err, 1) for u in ("ssh", "sshd", "ssh.socket")]
    fact = remote_login.probe(host(commands))
    assert fact.unread == {"enabled": "systemd is not running on this machine"}
