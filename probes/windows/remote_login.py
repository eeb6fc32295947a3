"""Remote Desktop: fDenyTSConnections (Group Policy value first, then the local one)."""
from __future__ import annotations

from ..fact import Fact
from ..host import Host
from ._util import ABSENT, first_override

TERMINAL_SERVER = r"HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server"
# Group Policy "Allow users to connect remotely by using Remote Desktop Services"; read only
# when set, where it decides over the local value (a fallback beside the SOURCES.md value).
TERMINAL_SERVICES_POLICY = r"HKLM\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services"


def remote_desktop(deny) -> bool | None:
    """fDenyTSConnections: 0 -> Remote Desktop on, 1 -> off, anything else unknown."""
    if deny == 0:
        return True
    if deny == 1:
        return False
    return None


def probe(host: Host) -> Fact:
    fact = Fact()
    deny = first_override(host, (TERMINAL_SERVICES_POLICY, TERMINAL_SERVER), "fDenyTSConnections")
    reason = ("the Remote Desktop setting (fDenyTSConnections) is not in the registry"
              if deny is ABSENT else
              "the Remote Desktop setting (fDenyTSConnections) has a value Checkup does not understand")
    fact.set("enabled", remote_desktop(deny), reason)
    return fact
