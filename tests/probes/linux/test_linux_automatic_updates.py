"""automatic_updates on Linux: the family table, the settings parsers and the probe per family,
on real outputs and files in test-data/automatic_updates/.

Where each file comes from (everything else there is listed in test_linux_parsers.py):
- apt-uu-{always,7,2d,0d,yes}.txt, apt-enable-0.txt, apt-uu-later-file-0.txt (20auto-upgrades
  saying "1" overridden by a later 99disable saying "0"), apt-syntax-error-stderr.txt: run with
  the real apt-config (apt 2.6.1, Debian 12 test machine, LC_ALL=C) on config files holding those
  values; "always" is what public setups write (e.g. the unattended-upgrades tweaks found with the
  code search), Enable "0" what Vagrant/Packer images write to stop apt's daily job.
- dnf4-etc-automatic.conf-4.x.txt: /etc/dnf/automatic.conf as dnf 4 ships it
  (rpm-software-management/dnf etc/dnf/automatic.conf, 4.24.0+); dnf4-...-sed-security-apply.txt:
  that file after the `sed -i 's/^apply_updates.*/apply_updates = yes/'` and
  `'s/^upgrade_type.*/upgrade_type = security/'` edits public setup scripts make.
- dnf5-usr-share-automatic.conf-5.4.4.txt: dnf5's defaults file (rpm-software-management/dnf5
  dnf5-plugins/automatic_plugin/config/usr/share/dnf5/dnf5-plugins/automatic.conf, 5.4.4.0);
  dnf5-etc-automatic.conf-5.1.12.txt: the /etc/dnf/automatic.conf dnf5 shipped before 5.1.13;
  dnf5-etc-automatic.conf-security-apply.txt: the override a public Fedora 44 server guide writes
  (code search id 71233440201).
- yum-cron-conf-cloud-config-apply.txt: a yum-cron.conf from a public cloud-init setup (code search).
- sysconfig-automatic_online_update-default.txt, yast2-online_update-cron-script.txt: as
  yast2-online-update-configuration ships them (yast/yast-online-update-configuration, last
  version before the module was dropped, src/fillup and src/bin/online_update).
- systemctl-is-enabled-apt-daily-upgrade-{debian-12,disabled,masked}.txt: systemd 252 on the
  Debian 12 test machine, and with `--root=DIR` on a copy of its apt-daily-upgrade units after
  `disable` / `mask`.
- systemctl-is-enabled-alias.txt: systemd 252's answer for dnf5's dnf-automatic.timer link
  (`systemctl --root=DIR is-enabled dnf-automatic.timer` on a tree holding dnf5's unit files).
- os-release-*: elementary 5.1.7 and Zorin 15.2 (test data of a public .NET project), elementary
  Luna (a blog's `cat /etc/os-release`, ID="elementary OS" with a space), Mint 21.3 / 22 / LMDE 6
  ("real /etc/os-release contents" of a public installer's tests), Zorin 17.1, Rocky 9.4,
  CentOS 7, openSUSE Leap 15.6, openSUSE MicroOS, Alpine 3.21 (`cat /etc/os-release` in public
  write-ups), AlmaLinux 9.3 (docker image metadata dump), EndeavourOS (a public project's tests).
  openSUSE Aeon: no real file was found; its ID "opensuse-aeon" is tested alone.
"""
from __future__ import annotations

import pytest

from linux_probe_helpers import FEDORA, UBUNTU, cmd, data, host

from probes.linux import automatic_updates as au
from probes.linux._util import linux_family, parse_os_release

APT = ["apt-config", "dump", "APT::Periodic::Unattended-Upgrade"]
APT_ENABLE = ["apt-config", "dump", "APT::Periodic::Enable"]
ENABLED = ["systemctl", "is-enabled"]
UU_1 = 'APT::Periodic::Unattended-Upgrade "1";\n'
ALIAS = data("automatic_updates", "systemctl-is-enabled-alias.txt")
DNF5_DEFAULTS = data("automatic_updates", "dnf5-usr-share-automatic.conf-5.4.4.txt")
DNF4_DEFAULT = data("automatic_updates", "dnf4-etc-automatic.conf-4.x.txt")
NOT_FOUND_ERR = data("automatic_updates", "systemctl-is-enabled-old-not-found-stderr.txt")


def unit(name, word, code=None):
    codes = {"enabled": 0, "alias": 0, "disabled": 1, "not-found": 4, "masked": 1, "static": 0}
    return cmd(ENABLED + [name], word + "\n", "", codes.get(word, 1) if code is None else code)


def old_missing(name):
    """systemd before 243 or so: nothing on stdout, "No such file or directory" on stderr."""
    return cmd(ENABLED + [name], "", NOT_FOUND_ERR.replace("dnf-automatic.timer", name), 1)


def os_release(name):
    return data("automatic_updates", f"os-release-{name}.txt")


# -- the family table ---------------------------------------------------------------------
@pytest.mark.parametrize("name, family", [
    ("automatic_updates/os-release-elementary-5.1.7.txt", "debian"),   # ID_LIKE is just ubuntu
    ("automatic_updates/os-release-elementary-0.2-luna.txt", "debian"),  # ID="elementary OS"
    ("automatic_updates/os-release-mint-21.3.txt", "debian"),
    ("automatic_updates/os-release-mint-22.txt", "debian"),
    ("automatic_updates/os-release-lmde-6.txt", "debian"),
    ("automatic_updates/os-release-zorin-17.1.txt", "debian"),
    ("automatic_updates/os-release-zorin-15.2.txt", "debian"),
    ("os_version/pop-22.04.txt", "debian"),
    ("os_version/ubuntu-24.04.txt", "debian"),
    ("os_version/kubuntu-22.04.txt", "debian"),
    ("os_version/debian-12.txt", "debian"),
    ("os_version/fedora-44.txt", "fedora"),
    ("os_version/rhel-like-quoted-id.txt", "fedora"),
    ("automatic_updates/os-release-rocky-9.4.txt", "fedora"),
    ("automatic_updates/os-release-almalinux-9.3.txt", "fedora"),
    ("automatic_updates/os-release-centos-7.txt", "fedora"),
    ("automatic_updates/os-release-opensuse-leap-15.6.txt", "suse"),
    ("os_version/opensuse-tumbleweed.txt", "suse"),
    ("automatic_updates/os-release-opensuse-microos.txt", "suse"),
    ("os_version/arch-rolling.txt", "arch"),
    ("os_version/arch-docker-image.txt", "arch"),
    ("os_version/manjaro.txt", "arch"),
    ("automatic_updates/os-release-endeavouros.txt", "arch"),
    ("automatic_updates/os-release-alpine-3.21.txt", None),
])
def test_family_of_real_os_release_files(name, family):
    check, _, file = name.partition("/")
    assert linux_family(parse_os_release(data(check, file))) == family


@pytest.mark.parametrize("text, family", [
    ('ID="opensuse-aeon"\n', "suse"),       # Aeon's ID as public code matches it
    ("ID=sles\nID_LIKE=suse\n", "suse"),
    ("ID=gentoo\n", None),
    ("ID_LIKE=\n", None),
    ("", None),
])
def test_family_rule_edges(text, family):
    assert linux_family(parse_os_release(text)) == family


# -- APT -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, expected", [
    ("apt-uu-always.txt", True),
    ("apt-uu-7.txt", True),          # every 7 days
    ("apt-uu-2d.txt", True),
    ("apt-uu-0d.txt", True),         # apt.systemd.daily's `-eq 0` test fails on "0d": it runs
    ("apt-uu-later-file-0.txt", False),  # a later file's "0" wins in apt-config's answer
    ("apt-uu-yes.txt", None),        # not a number of days
    ("apt-enable-0.txt", False),     # no Unattended-Upgrade line: apt's default 0
    ("apt-syntax-error-stderr.txt", None),
])
def test_apt_values(name, expected):
    assert au.parse_apt_config(data("automatic_updates", name)) is expected


@pytest.mark.parametrize("name, expected", [
    ("apt-enable-0.txt", False),
    ("apt-debian-12-container-unset.txt", True),   # not set: default "1"
    ("apt-uu-always.txt", True),                   # another key only
    ("apt-syntax-error-stderr.txt", None),
])
def test_apt_enable(name, expected):
    assert au.parse_apt_enable(data("automatic_updates", name)) is expected


def test_apt_enable_other_values():
    assert au.parse_apt_enable('APT::Periodic::Enable "1";\n') is True
    assert au.parse_apt_enable('APT::Periodic::Enable "false";\n') is None


def debian(uu, enable=None, release=UBUNTU):
    commands = [cmd(APT, uu)]
    if enable is not None:
        commands.append(cmd(APT_ENABLE, enable))
    return au.probe(host(commands, files={"/etc/os-release": release}))


def test_debian_on():
    fact = debian(UU_1, "")
    assert fact.observed == {"enabled": True, "family": "debian", "updater": "unattended-upgrades"}


def test_debian_always_on_elementary():
    fact = debian(data("automatic_updates", "apt-uu-always.txt"), "",
                  release=os_release("elementary-5.1.7"))
    assert fact.observed["enabled"] is True


def test_debian_periodic_disabled_wins():
    fact = debian(UU_1, data("automatic_updates", "apt-enable-0.txt"))
    assert fact.observed == {"enabled": False, "family": "debian", "updater": None}


def test_debian_off_needs_no_second_answer():
    fact = debian('APT::Periodic::Unattended-Upgrade "0";\n')
    assert fact.observed["enabled"] is False


@pytest.mark.parametrize("name, code, expected", [
    ("systemctl-is-enabled-apt-daily-upgrade-debian-12.txt", 0, True),
    ("systemctl-is-enabled-apt-daily-upgrade-disabled.txt", 1, False),
    ("systemctl-is-enabled-apt-daily-upgrade-masked.txt", 1, False),
])
def test_debian_install_timer(name, code, expected):
    """apt's install step runs from apt-daily-upgrade.timer: switched off, nothing installs."""
    timer = cmd(ENABLED + ["apt-daily-upgrade.timer"], data("automatic_updates", name), "", code)
    fact = au.probe(host([cmd(APT, UU_1), cmd(APT_ENABLE, ""), timer], files={"/etc/os-release": UBUNTU}))
    assert fact.observed["enabled"] is expected


def test_debian_without_systemd_uses_cron():
    """No systemctl, or systemd not running: /etc/cron.daily/apt-compat runs apt's daily job."""
    assert debian(UU_1, "").observed["enabled"] is True   # systemctl missing (not recorded)
    # the message systemd 252 prints on the test machine (systemd not PID 1) for is-active
    no_systemd = cmd(ENABLED + ["apt-daily-upgrade.timer"], "", "System has not been booted with systemd "
                     "as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down\n", 1)
    fact = au.probe(host([cmd(APT, UU_1), cmd(APT_ENABLE, ""), no_systemd], files={"/etc/os-release": UBUNTU}))
    assert fact.observed["enabled"] is True
    timeout = cmd(ENABLED + ["apt-daily-upgrade.timer"], error="timeout")
    fact = au.probe(host([cmd(APT, UU_1), cmd(APT_ENABLE, ""), timeout], files={"/etc/os-release": UBUNTU}))
    assert fact.unread["enabled"] == "systemctl timed out"


def test_debian_on_but_enable_unreadable_is_unknown():
    fact = au.probe(host([cmd(APT, UU_1), cmd(APT_ENABLE, error="timeout")],
                         files={"/etc/os-release": UBUNTU}))
    assert fact.observed == {} and fact.unread["enabled"] == "apt-config timed out"


def test_debian_garbage_is_unknown():
    fact = debian(data("automatic_updates", "apt-uu-yes.txt"), "")
    assert fact.unread["enabled"] == "apt-config gave an answer Checkup does not understand"


MINT = ["systemctl", "is-enabled", "mintupdate-automation-upgrade.timer"]


def test_mint_update_manager_automation():
    """Mint's Update Manager upgrades by itself with unattended-upgrades off. systemctl answers
    as systemd 252 does for mintupdate's own timer file (linuxmint/mintupdate)."""
    off_apt = 'APT::Periodic::Unattended-Upgrade "0";\n'
    files = {"/etc/os-release": os_release("mint-22")}
    on = au.probe(host([cmd(APT, off_apt), cmd(MINT, "enabled\n", "", 0)],
                       files={**files, au.MINT_FLAG: ""}))
    assert on.observed == {"enabled": True, "family": "debian", "updater": "mintupdate"}
    # the timer alone does nothing: the script exits when the flag file is missing
    assert au.probe(host([cmd(APT, off_apt), cmd(MINT, "enabled\n", "", 0)], files=files)).observed["enabled"] is False
    assert au.probe(host([cmd(APT, off_apt), cmd(MINT, "disabled\n", "", 1)], files=files)).observed["enabled"] is False
    unsure = au.probe(host([cmd(APT, off_apt), cmd(MINT, error="timeout")], files=files))
    assert unsure.unread["enabled"] == "systemctl timed out"
    # not asked on other Debian-family systems
    other = au.probe(host([cmd(APT, off_apt)], files={"/etc/os-release": os_release("zorin-17.1")}))
    assert other.observed["enabled"] is False


# -- dnf / yum settings ----------------------------------------------------------------------
def test_dnf_shipped_defaults_only_download():
    assert au.dnf_applies([DNF5_DEFAULTS, None, None]) is False
    assert au.dnf_applies([DNF4_DEFAULT]) is False
    assert au.dnf_applies([data("automatic_updates", "dnf5-etc-automatic.conf-5.1.12.txt")]) is False


def test_dnf_overrides_in_order():
    override = data("automatic_updates", "dnf5-etc-automatic.conf-security-apply.txt")
    assert au.dnf_applies([DNF5_DEFAULTS, None, override]) is True
    # the deprecated /etc/dnf/dnf5-plugins file is read before /etc/dnf/automatic.conf
    assert au.dnf_applies([DNF5_DEFAULTS, override, "[commands]\napply_updates = no\n"]) is False
    assert au.dnf_applies([data("automatic_updates", "dnf4-etc-automatic.conf-sed-security-apply.txt")]) is True
    assert au.dnf_applies([None, None, None]) is False   # dnf5's built-in default


@pytest.mark.parametrize("text, expected", [
    ("[commands]\napply_updates = True\n", True),
    ("[commands]\napply_updates=1\n", True),
    ('[commands]\napply_updates = "yes"\n', True),          # libdnf drops matching quotes
    ("[commands]\napply_updates = yes # on\n", False),      # no inline comments: invalid, ignored
    ("[commands]\napply_updates = maybe\n", False),
    ("[commands]\napply_updates = yes\napply_updates = no\n", False),  # the last one wins
    ("[emitters]\napply_updates = yes\n", False),            # wrong section
    ("[commands]\n#apply_updates = yes\n", False),
    ("[commands]\n  apply_updates = yes\n", None),           # continuation with no key before
    ("apply_updates = yes\n", None),                         # no section header
    ("[commands\napply_updates = yes\n", None),
    ("[commands]\napply_updates yes\n", None),               # no "="
    ("\ufeff[commands]\napply_updates = yes\n", True),
    ("[commands]\napply_updates =\n  yes\n", False),         # continued: "\nyes" is no boolean
    ("[commands]\napply_updates = no\n\n  yes\n", None),     # an empty line ends the value
    ("[commands]\nreboot = never\n# note\n  apply_updates = yes\n", None),
])
def test_dnf_ini_edges(text, expected):
    assert au.dnf_applies([text]) is expected


def test_yum_cron_settings():
    assert au.yum_cron_applies(data("automatic_updates", "yum-cron-conf-cloud-config-apply.txt")) is True
    assert au.yum_cron_applies("[commands]\nupdate_cmd = default\napply_updates = no\n") is False
    assert au.yum_cron_applies("[commands]\napply_updates = sometimes\n") is None


# -- Fedora family probe --------------------------------------------------------------------
def fedora(commands, files=None, release=FEDORA):
    return au.probe(host(commands, files={"/etc/os-release": release, **(files or {})}))


def test_fedora_41_dnf5_timer_with_shipped_settings_is_off():
    """The issue: dnf5-automatic.timer on, but dnf5 only downloads by default."""
    commands = [unit("dnf5-automatic.timer", "enabled"), cmd(ENABLED + ["dnf-automatic.timer"], ALIAS, "", 0),
                unit("dnf-automatic-install.timer", "not-found"), unit("yum-cron", "not-found")]
    fact = fedora(commands, {au.DNF5_CONFS[0]: DNF5_DEFAULTS})
    assert fact.observed == {"enabled": False, "family": "fedora", "updater": None}
    assert fact.extra["downloads_only"] is True


def test_fedora_dnf5_with_override_is_on():
    override = data("automatic_updates", "dnf5-etc-automatic.conf-security-apply.txt")
    commands = [unit("dnf5-automatic.timer", "enabled"), cmd(ENABLED + ["dnf-automatic.timer"], ALIAS, "", 0)]
    fact = fedora(commands, {au.DNF5_CONFS[0]: DNF5_DEFAULTS, "/etc/dnf/automatic.conf": override})
    assert fact.observed == {"enabled": True, "family": "fedora", "updater": "dnf5-automatic"}


def test_fedora_dnf5_broken_settings_is_unknown():
    commands = [unit("dnf5-automatic.timer", "enabled")]
    fact = fedora(commands, {au.DNF5_CONFS[0]: DNF5_DEFAULTS, "/etc/dnf/automatic.conf": "apply_updates = yes\n"})
    assert fact.observed == {} and "dnf5-automatic settings" in fact.unread["enabled"]


def test_fedora_dnf5_alias_and_disabled_is_off():
    """Before: "alias" was an answer Checkup did not understand, so this was unknown."""
    commands = [unit("dnf5-automatic.timer", "disabled"), cmd(ENABLED + ["dnf-automatic.timer"], ALIAS, "", 0),
                unit("dnf-automatic-install.timer", "not-found"), unit("yum-cron", "not-found")]
    fact = fedora(commands)
    assert fact.observed["enabled"] is False and "downloads_only" not in fact.extra


def test_rhel_dnf4_install_timer_ignores_the_file():
    commands = [unit("dnf-automatic-install.timer", "enabled"), unit("dnf-automatic.timer", "disabled"),
                unit("dnf5-automatic.timer", "not-found")]
    fact = fedora(commands, {"/etc/dnf/automatic.conf": DNF4_DEFAULT}, release=os_release("rocky-9.4"))
    assert fact.observed == {"enabled": True, "family": "fedora", "updater": "dnf-automatic"}


def test_rhel_dnf4_timer_follows_the_file():
    commands = [unit("dnf-automatic.timer", "enabled"), unit("dnf-automatic-install.timer", "disabled"),
                unit("dnf5-automatic.timer", "not-found"), unit("yum-cron", "not-found")]
    off = fedora(commands, {"/etc/dnf/automatic.conf": DNF4_DEFAULT}, release=os_release("almalinux-9.3"))
    assert off.observed["enabled"] is False
    edited = data("automatic_updates", "dnf4-etc-automatic.conf-sed-security-apply.txt")
    on = fedora(commands, {"/etc/dnf/automatic.conf": edited}, release=os_release("almalinux-9.3"))
    assert on.observed == {"enabled": True, "family": "fedora", "updater": "dnf-automatic"}
    unread = fedora(commands, release=os_release("almalinux-9.3"))
    assert unread.unread["enabled"] == "/etc/dnf/automatic.conf could not be read"
    broken = fedora(commands, {"/etc/dnf/automatic.conf": "apply_updates = yes\n"}, release=os_release("almalinux-9.3"))
    assert broken.unread["enabled"] == "/etc/dnf/automatic.conf could not be understood"


def test_centos_7_yum_cron():
    commands = [old_missing(t) for t in au.DNF_TIMERS] + [unit("yum-cron", "enabled")]
    conf = data("automatic_updates", "yum-cron-conf-cloud-config-apply.txt")
    on = fedora(commands, {"/etc/yum/yum-cron.conf": conf}, release=os_release("centos-7"))
    assert on.observed == {"enabled": True, "family": "fedora", "updater": "yum-cron"}
    shipped = "[commands]\nupdate_cmd = default\ndownload_updates = yes\napply_updates = no\n"
    off = fedora(commands, {"/etc/yum/yum-cron.conf": shipped}, release=os_release("centos-7"))
    assert off.observed["enabled"] is False
    hourly = fedora(commands, {"/etc/yum/yum-cron.conf": shipped, "/etc/yum/yum-cron-hourly.conf": conf},
                    release=os_release("centos-7"))
    assert hourly.observed["enabled"] is True
    unread = fedora(commands, release=os_release("centos-7"))
    assert unread.unread["enabled"] == "the yum-cron settings could not be read"


def test_fedora_yum_cron_disabled_is_off():
    commands = [old_missing(t) for t in au.DNF_TIMERS] + [unit("yum-cron", "disabled")]
    assert fedora(commands, release=os_release("centos-7")).observed["enabled"] is False


def test_fedora_atomic_is_unknown():
    fact = fedora([unit("dnf5-automatic.timer", "enabled")], {"/run/ostree-booted": ""})
    assert fact.observed == {} and "image-based" in fact.unread["enabled"]


def test_fedora_timer_timeout_is_unknown_unless_another_installs():
    commands = [cmd(ENABLED + ["dnf5-automatic.timer"], error="timeout"), unit("dnf-automatic.timer", "disabled")]
    assert fedora(commands).unread["enabled"] == "systemctl timed out"
    commands.append(unit("dnf-automatic-install.timer", "enabled"))
    assert fedora(commands).observed["enabled"] is True


# -- SUSE family ----------------------------------------------------------------------------
def suse(commands, files=None, release="microos"):
    return au.probe(host(commands, files={"/etc/os-release": os_release(f"opensuse-{release}"), **(files or {})}))


def test_microos_transactional_update_timer():
    fact = suse([unit("transactional-update.timer", "enabled"), unit("os-update.timer", "not-found")])
    assert fact.observed == {"enabled": True, "family": "suse", "updater": "transactional-update"}


def test_tumbleweed_os_update_timer():
    commands = [unit("transactional-update.timer", "not-found"), unit("os-update.timer", "enabled")]
    fact = au.probe(host(commands, files={"/etc/os-release": data("os_version", "opensuse-tumbleweed.txt")}))
    assert fact.observed["updater"] == "os-update"


def test_leap_default_is_off_even_though_the_switch_says_true():
    """AOU_ENABLE_CRONJOB="true" ships by default; without the cron job nothing runs."""
    sysconfig = data("automatic_updates", "sysconfig-automatic_online_update-default.txt")
    commands = [unit("transactional-update.timer", "not-found"), unit("os-update.timer", "not-found")]
    fact = suse(commands, {au.AOU_SYSCONFIG: sysconfig}, release="leap-15.6")
    assert fact.observed == {"enabled": False, "family": "suse", "updater": None}


def test_leap_yast_online_update_job():
    sysconfig = data("automatic_updates", "sysconfig-automatic_online_update-default.txt")
    job = data("automatic_updates", "yast2-online_update-cron-script.txt")
    commands = [unit("transactional-update.timer", "not-found"), unit("os-update.timer", "not-found")]
    on = suse(commands, {au.AOU_SYSCONFIG: sysconfig, "/etc/cron.weekly/opensuse.org-online_update": job},
              release="leap-15.6")
    assert on.observed == {"enabled": True, "family": "suse", "updater": "yast2-online-update"}
    paused = sysconfig.replace('AOU_ENABLE_CRONJOB="true"', 'AOU_ENABLE_CRONJOB="false"')
    off = suse(commands, {au.AOU_SYSCONFIG: paused, "/etc/cron.daily/opensuse.org-online_update": job},
               release="leap-15.6")
    assert off.observed["enabled"] is False
    unread = suse(commands, {"/etc/cron.daily/opensuse.org-online_update": job}, release="leap-15.6")
    assert unread.unread["enabled"] == "/etc/sysconfig/automatic_online_update could not be read"


def test_suse_systemctl_trouble_is_unknown():
    fact = suse([cmd(ENABLED + ["transactional-update.timer"], error="denied"), unit("os-update.timer", "not-found")])
    assert fact.unread["enabled"] == "systemctl needs administrator rights"


# -- Arch and the rest ----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["os_version/arch-rolling.txt", "os_version/manjaro.txt",
                                  "automatic_updates/os-release-endeavouros.txt"])
def test_arch_family_is_off(name):
    check, _, file = name.partition("/")
    fact = au.probe(host(files={"/etc/os-release": data(check, file)}))
    assert fact.observed == {"enabled": False, "family": "arch", "updater": None}


def test_unknown_family():
    fact = au.probe(host(files={"/etc/os-release": os_release("alpine-3.21")}))
    assert fact.observed == {} and fact.unread["enabled"] == "not supported on this distribution yet"
