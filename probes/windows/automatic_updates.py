"""Automatic updates: Windows Update policy (NoAutoUpdate, AUOptions) and the wuauserv service."""
from __future__ import annotations

from ..fact import Fact
from ..host import Host
from ._util import ABSENT, read_int

AU_POLICY = r"HKLM\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate\AU"
WUAUSERV = r"HKLM\SYSTEM\CurrentControlSet\Services\wuauserv"
SERVICE_DISABLED = 4
WAITS_FOR_PERSON = (2, 3, 7)   # notify, download only, notify to install/schedule restart
INSTALLS_ITSELF = (4, 5)       # scheduled install, local admin chooses (installs)


def decide(no_auto_update, au_options, service_start) -> tuple[bool | None, str | None]:
    """(enabled, reason when unknown) from read_int results (ABSENT, int, or None = garbage)."""
    if no_auto_update == 1 or service_start == SERVICE_DISABLED:
        return False, None
    if au_options in WAITS_FOR_PERSON:
        return False, None
    if no_auto_update is None or (no_auto_update is not ABSENT and no_auto_update != 0):
        return None, "the NoAutoUpdate policy has a value Checkup does not understand"
    if service_start is None:
        return None, "the Windows Update service start type is not understood"
    if au_options is ABSENT or au_options in INSTALLS_ITSELF:
        return True, None
    return None, "the AUOptions policy has a value Checkup does not understand"


def probe(host: Host) -> Fact:
    fact = Fact()
    enabled, reason = decide(read_int(host, AU_POLICY, "NoAutoUpdate"),
                             read_int(host, AU_POLICY, "AUOptions"),
                             read_int(host, WUAUSERV, "Start"))
    fact.set("enabled", enabled, reason)
    return fact
