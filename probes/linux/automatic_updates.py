"""automatic_updates on Linux: does something install updates by itself? Per family:

- debian: unattended-upgrades, switched by APT::Periodic (apt.systemd.daily); on Linux Mint
  also Update Manager's own automatic upgrades (mintupdate-automation-upgrade.timer);
- fedora: dnf-automatic (dnf4), dnf5-automatic, or yum-cron (CentOS 7) - a timer that only
  downloads is not enough: the `apply_updates` setting decides;
- suse: transactional-update.timer (MicroOS, Aeon), os-update.timer, or YaST's online update
  cron job; Leap and Tumbleweed install nothing by themselves by default;
- arch: no supported automatic updater exists, so it is off.

Every source and trap is in docs/SOURCES.md (automatic_updates).
"""
from __future__ import annotations

import re

from ..fact import Fact
from ..host import Host
from ._util import (ABSENT, MISSING, NO_SYSTEMD, OFF, ON, UNSURE, linux_family, read_os_release,
                    run, unit_file_state)

APT_CONFIG = ["/usr/bin/apt-config", "dump", "APT::Periodic::Unattended-Upgrade"]
APT_ENABLE = ["/usr/bin/apt-config", "dump", "APT::Periodic::Enable"]
APT_TIMER = "apt-daily-upgrade.timer"
DNF_TIMERS = ("dnf-automatic.timer", "dnf-automatic-install.timer", "dnf5-automatic.timer")
MINT_TIMER = "mintupdate-automation-upgrade.timer"
MINT_FLAG = "/var/lib/linuxmint/mintupdate-automatic-upgrades-enabled"
YUM_CRON = "yum-cron"
SUSE_TIMERS = ("transactional-update.timer", "os-update.timer")

OSTREE_BOOTED = "/run/ostree-booted"
DNF4_CONF = "/etc/dnf/automatic.conf"
# dnf5 reads all three in this order, a later file overriding an earlier one (dnf5 >= 5.2.2).
DNF5_CONFS = ("/usr/share/dnf5/dnf5-plugins/automatic.conf", "/etc/dnf/dnf5-plugins/automatic.conf",
              "/etc/dnf/automatic.conf")
YUM_CRON_CONFS = ("/etc/yum/yum-cron.conf", "/etc/yum/yum-cron-hourly.conf")
AOU_SYSCONFIG = "/etc/sysconfig/automatic_online_update"
AOU_CRON_JOBS = tuple(f"/etc/cron.{p}/opensuse.org-online_update" for p in ("daily", "weekly", "monthly"))

UNSUPPORTED = "not supported on this distribution yet"
NOT_UNDERSTOOD = "apt-config gave an answer Checkup does not understand"

_LINE_RE = re.compile(r'^(APT::Periodic::[A-Za-z-]+)\s+"([^"]*)";$')
_SUFFIX_RE = re.compile(r"^(\d{1,9})([smhd])$", re.IGNORECASE)


# -- Debian family -----------------------------------------------------------------------
def _apt_value(text: str | None, key: str) -> tuple[bool, str | None]:
    """(understood, value) of one key in `apt-config dump KEY` output; value None = not set."""
    value = None
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line:
            continue
        match = _LINE_RE.match(line)
        if match:
            if match.group(1) == key:
                value = match.group(2).strip()
        elif not line.startswith("APT::"):
            return False, None  # not apt-config output
    return True, value


def parse_apt_config(text: str | None) -> bool | None:
    """`apt-config dump APT::Periodic::Unattended-Upgrade` -> does apt.systemd.daily run
    unattended-upgrade? Read as that script does: "always" on; "0" or nothing set off; a number
    of days (or with an s/m/h/d unit) on when above 0; anything else None."""
    understood, value = _apt_value(text, "APT::Periodic::Unattended-Upgrade")
    if not understood:
        return None
    if value is None:
        return False
    if value.lower() == "always":
        return True
    if value.isdigit() and len(value) <= 9:
        return int(value) > 0
    if _SUFFIX_RE.match(value):
        # "0d" is not "0" for the script's `-eq 0` test: it computes a zero interval and runs
        # every time, so any number with a unit is on.
        return True
    return None


def parse_apt_enable(text: str | None) -> bool | None:
    """`apt-config dump APT::Periodic::Enable` -> may apt.systemd.daily run at all?
    Not set = "1" (its default); "0" stops it; another whole number lets it run; anything
    else None (the script's `-eq 0` test errors on it)."""
    understood, value = _apt_value(text, "APT::Periodic::Enable")
    if not understood:
        return None
    if value is None:
        return True
    if value.isdigit() and len(value) <= 9:
        return int(value) != 0
    return None


def _apt(host: Host) -> tuple[bool | None, str | None]:
    """Does apt's daily job run unattended-upgrade? (answer, reason when None)"""
    result = run(host, APT_CONFIG)
    if result.error or result.returncode != 0:
        return None, result.describe_failure("apt-config")
    upgrade = parse_apt_config(result.stdout)
    if not upgrade:
        return upgrade, NOT_UNDERSTOOD
    result = run(host, APT_ENABLE)
    if result.error or result.returncode != 0:
        return None, result.describe_failure("apt-config")
    enable = parse_apt_enable(result.stdout)
    if not enable:
        return enable, NOT_UNDERSTOOD
    # The install step runs from apt-daily-upgrade.timer; without systemd (or on releases
    # without the timer) /etc/cron.daily/apt-compat runs it instead.
    state, reason = unit_file_state(host, APT_TIMER)
    if state == UNSURE and reason != NO_SYSTEMD:
        return None, reason
    return state != OFF, None


def _mint(host: Host) -> tuple[bool | None, str | None]:
    """Linux Mint's Update Manager automation: its timer runs `mintupdate-cli upgrade` only
    while the flag file it creates when switched on exists."""
    state, reason = unit_file_state(host, MINT_TIMER)
    if state == ON:
        return host.read_text(MINT_FLAG) is not None, None
    if state == UNSURE:
        return None, reason
    if state == ABSENT:
        return None, "systemctl is not available"
    return False, None


def _debian(host: Host, fact: Fact, release: dict[str, str]) -> Fact:
    apt, reason = _apt(host)
    if apt:
        return _decided(fact, True, "unattended-upgrades")
    if (release.get("ID") or "").strip().lower() == "linuxmint":
        mint, mint_reason = _mint(host)
        if mint:
            return _decided(fact, True, "mintupdate")
        if mint is None and apt is False:
            return fact.miss("enabled", mint_reason or "systemctl gave no answer")
    if apt is None:
        return fact.miss("enabled", reason or NOT_UNDERSTOOD)
    return _decided(fact, False)


# -- settings files (dnf, yum-cron) ------------------------------------------------------
_TRUE, _FALSE = {"1", "yes", "true", "on"}, {"0", "no", "false", "off"}


def ini_value(text: str, section: str, key: str) -> tuple[bool, str | None]:
    """(parsed, value) of ``key`` in ``[section]`` as libdnf's INI parser reads it: comments
    are lines starting with # or ;, an indented line continues the previous value, a value in
    matching quotes loses them, the last of repeated keys wins. parsed False = a syntax error
    (dnf then refuses the whole file)."""
    current, value, last_key = None, None, None
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        if line.startswith("\ufeff"):
            line = line[1:]
        if not line or line[0] in "#;":
            last_key = None  # an empty or comment line ends the value: nothing may continue it
            continue
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("["):
            end = stripped.find("]")
            if end <= 1 or stripped[end + 1:].strip()[:1] not in ("", "#", ";"):
                return False, None
            current, last_key = stripped[1:end], None
            continue
        if current is None:
            return False, None
        if line[0] in " \t":
            if last_key is None:
                return False, None
            if last_key == key and current == section and value is not None:
                value = value + "\n" + stripped
            continue
        name, eq, rest = line.partition("=")
        if not eq or not name.strip():
            return False, None
        last_key = name.strip()
        if current == section and last_key == key:
            value = rest.strip()
    if value is not None and len(value) > 1 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return True, value


def _bool(value: str | None) -> bool | None:
    word = (value or "").lower()  # libdnf compares the value as it is: "\nyes" is not "yes"
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    return None


def dnf_applies(texts: list[str | None]) -> bool | None:
    """[commands] apply_updates after reading these automatic.conf files in order (None = file
    missing). dnf ignores a value it cannot read, keeping the one before (default no); a file
    with a syntax error stops dnf automatic altogether, which we report as not understood."""
    applies = False
    for text in texts:
        if text is None:
            continue
        parsed, value = ini_value(text, "commands", "apply_updates")
        if not parsed:
            return None
        got = _bool(value)
        if got is not None:
            applies = got
    return applies


def yum_cron_applies(text: str) -> bool | None:
    parsed, value = ini_value(text, "commands", "apply_updates")
    if not parsed:
        return None
    return False if value is None else _bool(value)


# -- Fedora family -----------------------------------------------------------------------
def _fedora(host: Host, fact: Fact) -> Fact:
    if host.read_text(OSTREE_BOOTED) is not None:
        # Fedora Atomic (Silverblue, Kinoite), CentOS/RHEL image mode: rpm-ostree updates the
        # system, and the dnf-automatic units refuse to start there.
        return fact.miss("enabled", "automatic updates of image-based systems are not supported yet")
    states = {unit: unit_file_state(host, unit) for unit in (*DNF_TIMERS, YUM_CRON)}
    unsure: list[str] = []
    downloads_only = False

    def on(unit: str) -> bool:
        state, reason = states[unit]
        if state == UNSURE:
            unsure.append(reason or "systemctl gave no answer")
        return state == ON

    # dnf4's install timer runs `dnf-automatic --installupdates`: it installs whatever the file says.
    if on("dnf-automatic-install.timer"):
        return _decided(fact, True, "dnf-automatic")
    dnf5 = on("dnf5-automatic.timer")
    dnf4 = on("dnf-automatic.timer")
    if dnf5 or (dnf4 and states["dnf5-automatic.timer"][0] not in (MISSING, ABSENT)):
        # dnf5's dnf-automatic.timer is only a link to dnf5-automatic.timer
        applies = dnf_applies([host.read_text(p) for p in DNF5_CONFS])
        if applies:
            return _decided(fact, True, "dnf5-automatic")
        if applies is None:
            unsure.append("the dnf5-automatic settings could not be understood")
        downloads_only = True
    elif dnf4:
        text = host.read_text(DNF4_CONF)
        applies = None if text is None else dnf_applies([text])
        if applies:
            return _decided(fact, True, "dnf-automatic")
        if applies is None:
            unsure.append(f"{DNF4_CONF} could not be " + ("read" if text is None else "understood"))
        downloads_only = True
    if on(YUM_CRON):
        texts = [host.read_text(p) for p in YUM_CRON_CONFS]
        results = [yum_cron_applies(t) for t in texts if t is not None]
        if any(results):
            return _decided(fact, True, "yum-cron")
        if texts[0] is None or None in results:
            unsure.append("the yum-cron settings could not be read")
        downloads_only = True
    if unsure:
        return fact.miss("enabled", unsure[0])
    if all(s == ABSENT for s, _ in states.values()):
        return fact.miss("enabled", "systemctl is not available")
    if downloads_only:
        fact.extra["downloads_only"] = True
    return _decided(fact, False)


# -- SUSE family -------------------------------------------------------------------------
def _sysconfig_value(text: str, key: str) -> str | None:
    """KEY="value" from a sysconfig (shell variable) file; the last assignment wins."""
    value = None
    pattern = re.compile(r"^\s*" + re.escape(key) + r"""=(?:"([^"]*)"|'([^']*)'|(\S*))\s*(?:#.*)?$""")
    for line in text.splitlines():
        match = pattern.match(line)
        if match:
            value = next((g for g in match.groups() if g is not None), "")
    return value


def _suse(host: Host, fact: Fact) -> Fact:
    states = {unit: unit_file_state(host, unit) for unit in SUSE_TIMERS}
    for unit, updater in zip(SUSE_TIMERS, ("transactional-update", "os-update")):
        if states[unit][0] == ON:
            return _decided(fact, True, updater)
    # YaST's automatic online update: a cron job linked into cron.daily/weekly/monthly, which
    # runs `zypper patch` only while AOU_ENABLE_CRONJOB="true" (that switch alone does nothing:
    # the shipped file says "true" with no job).
    if any(host.read_text(p) is not None for p in AOU_CRON_JOBS):
        text = host.read_text(AOU_SYSCONFIG)
        if text is None:
            return fact.miss("enabled", f"{AOU_SYSCONFIG} could not be read")
        if _sysconfig_value(text, "AOU_ENABLE_CRONJOB") == "true":
            return _decided(fact, True, "yast2-online-update")
    unsure = [r for s, r in states.values() if s == UNSURE]
    if unsure:
        return fact.miss("enabled", unsure[0])
    return _decided(fact, False)


# -- the probe ---------------------------------------------------------------------------
def _decided(fact: Fact, enabled: bool, updater: str | None = None) -> Fact:
    fact.observed["enabled"] = enabled
    fact.observed["family"] = fact.extra["family"]
    fact.observed["updater"] = updater if enabled else None
    return fact


def probe(host: Host) -> Fact:
    fact = Fact()
    release, path = read_os_release(host)
    family = linux_family(release)
    if family is None:
        if path is None:
            return fact.miss("enabled", "/etc/os-release could not be read")
        return fact.miss("enabled", UNSUPPORTED)
    fact.extra["family"] = family
    if family == "debian":
        return _debian(host, fact, release or {})
    if family == "fedora":
        return _fedora(host, fact)
    if family == "suse":
        return _suse(host, fact)
    # Arch and its derivatives: pacman has no supported way to update by itself.
    return _decided(fact, False)
