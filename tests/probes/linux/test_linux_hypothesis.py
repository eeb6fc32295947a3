"""Property-based: whatever the host answers, every Linux probe returns a Fact and never raises."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probes.fact import Fact
from probes.host import RecordedHost
from probes.linux import CHECKS, firewall, identity
from probes.linux import disk_encryption, os_version, screen_lock, system_integrity, automatic_updates

ARGVS = [
    ["lsblk", "--json", "--output", "NAME,TYPE,FSTYPE,MOUNTPOINT"],
    ["firewall-cmd", "--state"], ["nft", "list", "ruleset"], ["iptables", "-S"],
    ["systemctl", "is-active", "nftables"], ["systemctl", "is-active", "netfilter-persistent"],
    ["gsettings", "get", "org.gnome.desktop.screensaver", "lock-enabled"],
    ["gsettings", "get", "org.gnome.desktop.session", "idle-delay"],
    ["gsettings", "get", "org.gnome.desktop.screensaver", "lock-delay"],
    *[[tool, "--file", "kscreenlockerrc", "--group", "Daemon", "--key", key]
      for tool in ("kreadconfig5", "kreadconfig6") for key in ("Autolock", "Timeout", "LockGrace")],
    ["apt-config", "dump", "APT::Periodic::Unattended-Upgrade"],
    ["systemctl", "is-enabled", "dnf-automatic.timer"],
    ["systemctl", "is-enabled", "dnf-automatic-install.timer"],
    ["systemctl", "is-enabled", "dnf5-automatic.timer"],
    ["apt-config", "dump", "APT::Periodic::Enable"], ["systemctl", "is-enabled", "yum-cron"],
    ["systemctl", "is-enabled", "transactional-update.timer"],
    ["systemctl", "is-enabled", "os-update.timer"],
    ["systemctl", "is-enabled", "apt-daily-upgrade.timer"],
    ["systemctl", "is-enabled", "mintupdate-automation-upgrade.timer"],
    ["mokutil", "--sb-state"],
    ["systemctl", "is-active", "ssh"], ["systemctl", "is-active", "sshd"],
    ["systemctl", "is-active", "ssh.socket"],
]
FILES = ["/etc/os-release", "/usr/lib/os-release", "/proc/sys/kernel/osrelease",
         "/etc/ufw/ufw.conf", "/etc/nftables.conf", "/sys/class/dmi/id/product_serial",
         "/sys/class/dmi/id/product_uuid", "/sys/class/dmi/id/product_name",
         "/etc/dnf/automatic.conf", "/usr/share/dnf5/dnf5-plugins/automatic.conf",
         "/etc/yum/yum-cron.conf", "/etc/sysconfig/automatic_online_update",
         "/etc/cron.daily/opensuse.org-online_update"]
# text that looks a bit like the real thing, so parsers get past their first checks
HINTS = ["", "true", "false", "uint32 300", "active", "inactive", "enabled", "running",
         "not running", "SecureBoot enabled", "ENABLED=yes", "ID=debian", "ID_LIKE=fedora",
         "ID=opensuse-leap", "ID=arch", "alias", "[commands]", "apply_updates = yes",
         'AOU_ENABLE_CRONJOB="true"', 'APT::Periodic::Enable "0";',
         '{"blockdevices": [{"mountpoint": "/", "type": "crypt", "children": []}]}',
         "table inet f { chain input { type filter hook input priority 0; policy drop; } }",
         "-P INPUT DROP", "-A INPUT -j X", 'APT::Periodic::Unattended-Upgrade "1";', "{", "}", "\"", ";"]
text = st.one_of(st.text(max_size=200), st.sampled_from(HINTS),
                 st.lists(st.sampled_from(HINTS), max_size=6).map("\n".join))
entry = st.one_of(
    st.fixed_dictionaries({"stdout": text, "stderr": text,
                           "returncode": st.one_of(st.none(), st.integers(-300, 300))}),
    st.fixed_dictionaries({"error": st.sampled_from(["timeout", "not_found", "denied", "bogus"])}),
)
capture = st.fixed_dictionaries({
    "commands": st.lists(st.tuples(st.sampled_from(range(len(ARGVS))), entry), max_size=12),
    "files": st.dictionaries(st.sampled_from(FILES), text, max_size=6),
    "env": st.dictionaries(st.sampled_from(["XDG_CURRENT_DESKTOP", "DISPLAY", "WAYLAND_DISPLAY",
                                            "KDE_SESSION_VERSION"]),
                           st.one_of(st.sampled_from(["GNOME", "KDE", "6", "5", ":0", "XFCE"]),
                                     st.text(max_size=10)), max_size=4),
    "is_admin": st.booleans(),
})


def build(data: dict) -> RecordedHost:
    commands = [dict(e, argv=ARGVS[i]) for i, e in data["commands"]]
    return RecordedHost({"platform": "linux", "commands": commands, "files": data["files"],
                         "env": data["env"], "is_admin": data["is_admin"]})


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(capture)
def test_every_probe_returns_a_fact(data):
    h = build(data)
    for check, probe in CHECKS.items():
        fact = probe(h)
        assert isinstance(fact, Fact), check
        for name in fact.observed:
            assert name not in fact.unread, (check, name)
        if check == "firewall" and "enabled" in fact.observed:
            assert fact.observed["backend"] in (None, "ufw", "firewalld", "nftables", "iptables")
        if check == "automatic_updates" and fact.observed:
            assert fact.observed["enabled"] in (True, False)
            assert fact.observed["family"] in ("debian", "fedora", "suse", "arch")
        if check == "disk_encryption" and fact.observed:
            assert fact.observed["state"] in ("on", "off")
    got = identity(h)
    assert set(got) == {"serial", "hardware_uuid", "model"}


@settings(max_examples=100, deadline=None)
@given(text)
def test_parsers_never_raise(value):
    firewall.nft_blocks(value)
    firewall.parse_iptables(value)
    firewall.parse_ufw_conf(value)
    firewall.parse_firewalld_state(0, value, value)
    disk_encryption.parse(value)
    os_version.parse(value)
    screen_lock.parse_gsettings_uint(value)
    screen_lock.parse_kde_int(value, 5)
    system_integrity.parse(value, value)
    automatic_updates.parse_apt_config(value)
    automatic_updates.parse_apt_enable(value)
    assert automatic_updates.dnf_applies([value, None, value]) in (True, False, None)
    assert automatic_updates.yum_cron_applies(value) in (True, False, None)


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5),
                              st.just("/"), st.just("crypt")),
                    lambda inner: st.one_of(
                        st.lists(inner, max_size=4),
                        st.dictionaries(st.sampled_from(["blockdevices", "children", "mountpoint",
                                                         "mountpoints", "type", "fstype", "name"]),
                                        inner, max_size=5)),
                    max_leaves=30))
def test_lsblk_any_json_shape(tree):
    import json
    assert disk_encryption.parse(json.dumps(tree)) in (None, "on", "off")
