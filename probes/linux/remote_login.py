"""remote_login on Linux: is an SSH server unit active?"""
from __future__ import annotations

from ..fact import Fact
from ..host import Host
from ._util import any_unit, unit_active

UNITS = ("ssh", "sshd", "ssh.socket")


def probe(host: Host) -> Fact:
    fact = Fact()
    enabled, reason = any_unit([unit_active(host, unit) for unit in UNITS])
    return fact.set("enabled", enabled, reason)
