"""Parsers of the Linux probes against real outputs in test-data/<check>/.

Where each file comes from:
- *-fixture.txt, os_version/{debian-12,fedora-44,kubuntu-22.04,ubuntu-22.04,ubuntu-24.04}.txt:
  the shared capture fixtures (tests/fixtures/linux/*.json), whose outputs are real public ones.
- live-*, nft-*-debian-12*, iptables-*-debian-12*, iptables-docker-like-*, iptables-input-reject-*,
  nft-docker-like-*, *-nonroot-stderr, firewall-cmd-*, gsettings-*, nftables-conf-debian-12-default,
  ufw-conf-disabled-debian-12, systemctl-*, apt-debian-12-container-unset: captured by running the
  real tools (LC_ALL=C) on the Debian 12 test machine (Firecracker VM running a Docker image, root
  on /dev/vda): nftables 1.0.6, iptables 1.8.9 (nf_tables), ufw 0.36.2, firewalld 1.3.3 (started in
  a throw-away network namespace, so rulesets are the real ones those tools write), mokutil 0.6.0,
  util-linux 2.38.1 lsblk, GLib 2.74 gsettings with gsettings-desktop-schemas 43, systemd 252
  (not PID 1, hence "System has not been booted with systemd").
- system_integrity/shim-validation-disabled.txt: mokutil's two-line answer when shim validation
  is off (lcp/mokutil PR #17, askubuntu 831574); setup-mode-system76.txt: system76/firmware-open
  PR #388; no-secure-boot-support.txt: pentoo/pentoo-installer PR #36 (mokutil's message).
- os_version/arch-docker-image.txt: archlinux:latest docker image (public image dump);
  arch-rolling.txt: the same file as the Arch `filesystem` package ships it (no VERSION_ID);
  manjaro.txt, pop-22.04.txt, opensuse-tumbleweed.txt, rhel-like-quoted-id.txt: os-release test
  data of public projects (found with the code search; trimmed as there).
- disk_encryption/mountpoints-only-easy-db-lab.txt: `lsblk -o NAME,MOUNTPOINTS -J` of an AWS VM
  (rustyrazorblade/easy-db-lab issue #75, shown there through yq, re-indented);
  lvm-on-luks-osquery-3551.txt: the Xubuntu LVM-on-LUKS tree of osquery PR #3551 written as
  lsblk 2.3x JSON (RECONSTRUCTED from the text tree); btrfs-mountpoints-fedora-unencrypted.txt:
  lsblk >= 2.37 "mountpoints" layout of a Fedora btrfs root (RECONSTRUCTED, same layout as the
  live capture); no-sysfs-error.txt: lsblk's message when /sys is not mounted.
"""
from __future__ import annotations

import pytest

from linux_probe_helpers import data
import importlib

from probes.linux import (automatic_updates, disk_encryption, firewall, os_version, screen_lock,
                          system_integrity)

# probes.linux exports the identity() function under the module's name
identity = importlib.import_module("probes.linux.identity")


# -- os_version ---------------------------------------------------------------------------
@pytest.mark.parametrize("name, expected", [
    ("debian-12.txt", {"name": "Debian GNU/Linux", "version": "12", "id": "debian"}),
    ("live-debian-12-container.txt", {"name": "Debian GNU/Linux", "version": "12", "id": "debian"}),
    ("ubuntu-22.04.txt", {"name": "Ubuntu", "version": "22.04", "id": "ubuntu"}),
    ("ubuntu-24.04.txt", {"name": "Ubuntu", "version": "24.04", "id": "ubuntu"}),
    ("kubuntu-22.04.txt", {"name": "Ubuntu", "version": "22.04", "id": "ubuntu"}),
    ("fedora-44.txt", {"name": "Fedora Linux", "version": "44", "id": "fedora"}),  # unquoted
    ("arch-docker-image.txt", {"name": "Arch Linux", "version": "20240101.0.204074", "id": "arch"}),
    ("arch-rolling.txt", {"name": "Arch Linux", "version": None, "id": "arch"}),
    ("manjaro.txt", {"name": "Manjaro Linux", "version": None, "id": "manjaro"}),
    ("pop-22.04.txt", {"name": "Pop!_OS", "version": "22.04", "id": "pop"}),
    ("opensuse-tumbleweed.txt", {"name": "openSUSE Tumbleweed", "version": "20260901",
                                 "id": "opensuse-tumbleweed"}),  # has a comment line
    ("rhel-like-quoted-id.txt", {"name": "Linux", "version": "9.3", "id": "rhel"}),  # NAME default
])
def test_os_release_files(name, expected):
    assert os_version.parse(data("os_version", name)) == expected


@pytest.mark.parametrize("text, expected", [
    ("", None),
    ("garbage without equals\n", None),
    ("# only a comment\n\n", None),
    ("NAME='Single Quoted'\nID=x\nVERSION_ID='1.0'\n", {"name": "Single Quoted", "version": "1.0", "id": "x"}),
    ('NAME="Esc \\"q\\" \\$x"\nID=y\n', {"name": 'Esc "q" $x', "version": None, "id": "y"}),
    ('NAME="unterminated\nID=z\n', {"name": "Linux", "version": None, "id": "z"}),
    ("\ufeffNAME=Bom\nID=b\nVERSION_ID=\n", {"name": "Bom", "version": None, "id": "b"}),
])
def test_os_release_edge_cases(text, expected):
    # synthetic edge cases of the os-release(5) syntax (not captures)
    text = text.lstrip("\ufeff")
    assert os_version.parse(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("6.8.0-49-generic\n", "6.8.0-49-generic"),
    ("7.1.10-200.fc44.x86_64\n", "7.1.10-200.fc44.x86_64"),
    ("6.18.44-fc-v669\n", "6.18.44-fc-v669"),  # this test machine
    ("", None), (None, None), ("two words\n", None),
])
def test_kernel_release(text, expected):
    assert os_version.parse_kernel_release(text) == expected


# -- identity -----------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("7H2KQ93\n", "7H2KQ93"), ("PF3ABCDE\n", "PF3ABCDE"),
    ("To Be Filled By O.E.M.\n", None), ("Default string\n", None),
    ("System Serial Number\n", None), ("Not Specified\n", None), ("None\n", None),
    ("0\n", None), ("123456789\n", None), ("\n", None), ("", None), (None, None),
    ("0000000000\n", None), ("to be filled by o.e.m.\n", None),
])
def test_serial(text, expected):
    assert identity.parse_serial(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("4c4c4544-0048-3510-8052-b7c04f4b3332\n", "4c4c4544-0048-3510-8052-b7c04f4b3332"),
    ("03000200-0400-0500-0006-000700080009\n", None),  # the well-known OEM dummy
    ("00000000-0000-0000-0000-000000000000\n", None), ("Not Settable\n", None), (None, None),
])
def test_uuid(text, expected):
    assert identity.parse_uuid(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("Latitude 7440\n", "Latitude 7440"), ("21CBCTO1WW\n", "21CBCTO1WW"),
    ("System Product Name\n", None), ("To Be Filled By O.E.M.\n", None), ("", None), (None, None),
])
def test_model(text, expected):
    assert identity.parse_model(text) == expected


# -- disk_encryption ----------------------------------------------------------------------
@pytest.mark.parametrize("name, expected", [
    ("debian-12-fixture.txt", "on"),                  # partition -> crypt at /
    ("fedora-44-fixture.txt", "on"),                  # luks-<UUID> mapping at /
    ("kubuntu-22.04-fixture.txt", "on"),
    ("ubuntu-22.04-fixture.txt", "on"),
    ("ubuntu-24.04-fixture.txt", None),               # ZFS root: / is not in the tree
    ("lvm-on-luks-osquery-3551.txt", "on"),           # crypt is the parent of the lvm node
    ("live-firecracker-vda-root-mountpoint.txt", "off"),
    ("live-firecracker-vda-root-mountpoints.txt", "off"),  # newer "mountpoints" list
    ("mountpoints-only-easy-db-lab.txt", "off"),
    ("btrfs-mountpoints-fedora-unencrypted.txt", "off"),   # "/" second in the list
    ("no-sysfs-error.txt", None),
])
def test_lsblk(name, expected):
    assert disk_encryption.parse(data("disk_encryption", name)) == expected


@pytest.mark.parametrize("text", ["", "null", "[]", '{"blockdevices": 3}', "{", "\x00\xff"])
def test_lsblk_garbage(text):
    assert disk_encryption.parse(text) is None


def test_lsblk_no_blockdevices_is_no_root():
    assert disk_encryption.parse('{"blockdevices": []}') is None


def test_lsblk_raid_every_chain_must_be_encrypted():
    # md RAID appears under both members; only one member chain is encrypted (synthetic)
    text = ('{"blockdevices": [{"name": "a", "type": "disk", "children": [{"name": "c", '
            '"type": "crypt", "children": [{"name": "md0", "type": "raid1", "mountpoint": "/"}]}]},'
            '{"name": "b", "type": "disk", "children": [{"name": "md0", "type": "raid1", '
            '"mountpoint": "/"}]}]}')
    assert disk_encryption.parse(text) == "off"


# -- firewall -----------------------------------------------------------------------------
@pytest.mark.parametrize("name, expected", [
    ("ufw-conf-enabled-fixture.txt", True),
    ("ufw-conf-disabled-debian-12.txt", False),
])
def test_ufw_conf(name, expected):
    assert firewall.parse_ufw_conf(data("firewall", name)) is expected


@pytest.mark.parametrize("text, expected", [
    ("ENABLED=yes\n", True), ('ENABLED="yes"\n', True), ("ENABLED=no\n", False),
    ("# ENABLED=yes\n", False), ("", False), (None, None),
])
def test_ufw_conf_variants(text, expected):
    assert firewall.parse_ufw_conf(text) is expected


@pytest.mark.parametrize("name, stream, code, expected", [
    ("firewall-cmd-running-stdout.txt", "out", 0, True),
    ("firewall-cmd-not-running-stderr.txt", "err", 252, False),
    ("firewall-cmd-no-system-bus-stderr.txt", "err", 36, False),   # no system bus: cannot run
    ("firewall-cmd-bus-refused-stderr.txt", "err", 36, False),
])
def test_firewall_cmd(name, stream, code, expected):
    text = data("firewall", name)
    out, err = (text, "") if stream == "out" else ("", text)
    assert firewall.parse_firewalld_state(code, out, err) is expected


@pytest.mark.parametrize("code, out, err", [
    (1, "", "Error: ACCESS_DENIED\n"), (0, "garbage\n", ""), (None, "", ""),
])
def test_firewall_cmd_not_understood(code, out, err):
    assert firewall.parse_firewalld_state(code, out, err) is None


@pytest.mark.parametrize("name, expected", [
    ("nft-debian-12-policy-drop-fixture.txt", True),
    ("nft-ufw-enabled-debian-12.txt", True),          # iptables-nft tables, jump chains
    ("nft-firewalld-running-debian-12.txt", True),    # policy accept + final reject
    ("nft-debian-12-default-conf-loaded.txt", False),  # Debian default: accept everything
    ("nftables-conf-debian-12-default.txt", False),    # the file form (flush ruleset, shebang)
    ("nft-docker-like-forward-drop-only.txt", False),  # a FORWARD drop is no host firewall
])
def test_nft(name, expected):
    assert firewall.nft_blocks(data("firewall", name)) is expected


@pytest.mark.parametrize("text, expected", [
    ("", False),  # `nft list ruleset` with nothing loaded prints nothing
    ("add table inet f\nadd chain inet f input { type filter hook input priority 0 ; }\n"
     "add rule inet f input tcp dport 22 drop\n", True),
    ("table inet f { chain input { type filter hook input priority 0; policy drop; } }", True),
    ('table inet f {\n chain input {\n  type filter hook input priority 0;\n'
     '  log prefix "drop " accept\n }\n}\n', False),  # "drop" inside a string is no verdict
    ("table ip nat {\n chain pre {\n  type nat hook prerouting priority dstnat;\n }\n}\n", False),
    ("hello world\n", None),
])
def test_nft_variants(text, expected):
    assert firewall.nft_blocks(text) is expected


def test_nft_conf_with_include_is_flagged():
    text = '#!/usr/sbin/nft -f\nflush ruleset\ninclude "/etc/nftables.d/*.nft"\n'
    assert firewall.nft_blocks(text) is False and firewall.nft_has_includes(text)


@pytest.mark.parametrize("name, expected", [
    ("iptables-ufw-enabled-debian-12.txt", True),
    ("iptables-empty-debian-12.txt", False),
    ("iptables-docker-like-forward-drop-only.txt", False),
    ("iptables-input-reject-rule.txt", True),
    ("iptables-nonroot-stderr.txt", None),
])
def test_iptables(name, expected):
    assert firewall.parse_iptables(data("firewall", name)) is expected


# -- screen_lock --------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    (data("screen_lock", "gsettings-debian-12-default-lock-enabled.txt"), True),
    ("false\n", False), ("", None), ("'true'\n", None), ("No such schema\n", None),
])
def test_gsettings_bool(text, expected):
    assert screen_lock.parse_gsettings_bool(text) is expected


@pytest.mark.parametrize("text, expected", [
    (data("screen_lock", "gsettings-debian-12-default-idle-delay.txt"), 300),
    (data("screen_lock", "gsettings-debian-12-default-lock-delay.txt"), 0),
    ("uint32 900\n", 900), ("300\n", 300), ("uint32 0\n", 0),
    ("", None), ("uint32\n", None), ("-5\n", None), ("uint32 abc\n", None),
])
def test_gsettings_uint(text, expected):
    assert screen_lock.parse_gsettings_uint(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("true\n", True), ("false\n", False), ("\n", True), ("", True), ("maybe\n", None),
])
def test_kde_bool(text, expected):
    assert screen_lock.parse_kde_bool(text) is expected


@pytest.mark.parametrize("text, default, expected", [
    ("10\n", 5, 10), ("30\n", 5, 30), ("\n", 5, 5), ("", 5, 5), ("ten\n", 5, None),
])
def test_kde_int(text, default, expected):
    assert screen_lock.parse_kde_int(text, default) == expected


@pytest.mark.parametrize("env, expected", [
    ({"XDG_CURRENT_DESKTOP": "ubuntu:GNOME"}, "gnome"), ({"XDG_CURRENT_DESKTOP": "GNOME"}, "gnome"),
    ({"XDG_CURRENT_DESKTOP": "Budgie:GNOME"}, "gnome"), ({"XDG_CURRENT_DESKTOP": "Pantheon"}, "gnome"),
    ({"XDG_CURRENT_DESKTOP": "Unity"}, "gnome"), ({"XDG_CURRENT_DESKTOP": "KDE"}, "kde"),
    ({"KDE_SESSION_VERSION": "6"}, "kde"), ({"XDG_CURRENT_DESKTOP": "XFCE"}, "other"),
    ({"XDG_CURRENT_DESKTOP": "X-Cinnamon"}, "other"), ({"DISPLAY": ":0"}, "other"),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "other"), ({}, None), ({"LANG": "C.UTF-8"}, None),
])
def test_desktop(env, expected):
    assert screen_lock.desktop(env.get) == expected


# -- automatic_updates --------------------------------------------------------------------
@pytest.mark.parametrize("name, expected", [
    ("apt-debian-12-fixture.txt", True),
    ("apt-ubuntu-24.04-fixture.txt", True),
    ("apt-kubuntu-22.04-fixture.txt", False),   # "0"
    ("apt-debian-12-container-unset.txt", False),  # nothing configured: empty output
])
def test_apt_config(name, expected):
    assert automatic_updates.parse_apt_config(data("automatic_updates", name)) is expected


@pytest.mark.parametrize("text, expected", [
    ('APT::Periodic::Unattended-Upgrade "7";\n', True),
    ('APT::Periodic::Unattended-Upgrade "always";\n', True),
    ('APT::Periodic::Unattended-Upgrade "1d";\n', True),
    ('APT::Periodic::Unattended-Upgrade "";\n', None),
    ('APT::Periodic::Unattended-Upgrade "yes please";\n', None),
    ("E: Syntax error\n", None),
])
def test_apt_config_variants(text, expected):
    assert automatic_updates.parse_apt_config(text) is expected


# -- system_integrity ---------------------------------------------------------------------
@pytest.mark.parametrize("name, expected", [
    ("fedora-44-fixture.txt", True),
    ("ubuntu-24.04-fixture.txt", True),
    ("kubuntu-22.04-fixture.txt", False),
    ("debian-12-fixture.txt", False),            # EFI variables are not supported
    ("live-container-no-efi.txt", False),
    ("shim-validation-disabled.txt", False),
    ("setup-mode-system76.txt", False),
    ("no-secure-boot-support.txt", False),
    ("garbage-failed-to-read.txt", None),
])
def test_mokutil(name, expected):
    assert system_integrity.parse(data("system_integrity", name)) is expected


def test_mokutil_message_on_stderr():
    assert system_integrity.parse("", data("system_integrity", "live-container-no-efi.txt")) is False
    assert system_integrity.parse("", "") is None
