"""UAC (EnableLUA) and Secure Boot (UEFISecureBootEnabled) from the registry."""
from __future__ import annotations

from ..fact import Fact
from ..host import Host
from ._util import ABSENT, read_int

SYSTEM_POLICY = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System"
SECURE_BOOT = r"HKLM\SYSTEM\CurrentControlSet\Control\SecureBoot\State"


def uac(value) -> bool | None:
    """EnableLUA: absent = 1 (the Windows default, on); 0 off; 1 on; else unknown."""
    if value is ABSENT or value == 1:
        return True
    if value == 0:
        return False
    return None


def secure_boot(value) -> bool | None:
    """UEFISecureBootEnabled: absent = legacy BIOS (off); 0 off; 1 on; else unknown."""
    if value is ABSENT or value == 0:
        return False
    if value == 1:
        return True
    return None


def probe(host: Host) -> Fact:
    fact = Fact()
    fact.set("uac", uac(read_int(host, SYSTEM_POLICY, "EnableLUA")),
             "the UAC setting (EnableLUA) has a value Checkup does not understand")
    fact.set("secure_boot", secure_boot(read_int(host, SECURE_BOOT, "UEFISecureBootEnabled")),
             "the Secure Boot state has a value Checkup does not understand")
    return fact
