"""automatic_updates on Linux: unattended-upgrades (Debian family) or dnf-automatic (Fedora family)."""
from __future__ import annotations

import re

from ..fact import Fact
from ..host import Host
from ._util import any_unit, distro_words, read_os_release, run, unit_enabled

APT_CONFIG = ["/usr/bin/apt-config", "dump", "APT::Periodic::Unattended-Upgrade"]
DNF_TIMERS = ("dnf-automatic.timer", "dnf-automatic-install.timer", "dnf5-automatic.timer")
DEBIAN_FAMILY = {"debian", "ubuntu"}
FEDORA_FAMILY = {"fedora", "rhel", "centos"}
UNSUPPORTED = "not supported on this distribution yet"

_LINE_RE = re.compile(r'^APT::Periodic::Unattended-Upgrade\s+"([^"]*)";$')
_VALUE_RE = re.compile(r"^(\d{1,9})\s*([smhd]?)$", re.IGNORECASE)


def parse_apt_config(text: str | None) -> bool | None:
    """`apt-config dump APT::Periodic::Unattended-Upgrade` -> on/off.

    "1" (any positive interval, "always") on; "0" or no line at all off; anything else None.
    """
    value = None
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line:
            continue
        match = _LINE_RE.match(line)
        if match:
            value = match.group(1).strip()
        elif not line.startswith("APT::"):
            return None  # not apt-config output
    if value is None:
        return False
    if value.lower() == "always":
        return True
    number = _VALUE_RE.match(value)
    if number is None:
        return None
    return int(number.group(1)) > 0


def probe(host: Host) -> Fact:
    fact = Fact()
    release, path = read_os_release(host)
    words = distro_words(release)
    if words & DEBIAN_FAMILY:
        fact.extra["family"] = "debian"
        result = run(host, APT_CONFIG)
        if result.error or result.returncode != 0:
            return fact.miss("enabled", result.describe_failure("apt-config"))
        return fact.set("enabled", parse_apt_config(result.stdout),
                        "apt-config gave an answer Checkup does not understand")
    if words & FEDORA_FAMILY:
        fact.extra["family"] = "fedora"
        states = [unit_enabled(host, unit) for unit in DNF_TIMERS]
        enabled, reason = any_unit(states)
        return fact.set("enabled", enabled, reason)
    if path is None:
        return fact.miss("enabled", "/etc/os-release could not be read")
    return fact.miss("enabled", UNSUPPORTED)
