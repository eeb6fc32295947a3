"""Helpers shared by the Windows probes: program paths, PowerShell, lenient registry values."""
from __future__ import annotations

import ntpath
import re
import unicodedata

from ..host import DEFAULT_TIMEOUT, Host, Result

# The four PowerShell scripts of SOURCES.md, verbatim (captures match them exactly).
SERIAL_SCRIPT = "(Get-CimInstance -ClassName Win32_BIOS).SerialNumber"
UUID_SCRIPT = "(Get-CimInstance -ClassName Win32_ComputerSystemProduct).UUID"
BITLOCKER_SCRIPT = ("(New-Object -ComObject Shell.Application).NameSpace('C:').Self"
                    ".ExtendedProperty('System.Volume.BitLockerProtection')")
ANTIVIRUS_SCRIPT = ("Get-CimInstance -Namespace root/SecurityCenter2 -ClassName AntiVirusProduct"
                    " | Select-Object displayName,productState | ConvertTo-Json")
# Windows 10 ESU: the activation ids of ESU year 1, 2 and 3 (Microsoft, "Enable Extended
# Security Updates"); LicenseStatus 1 = licensed.
ESU_IDS = ("f520e45e-7413-4a34-a497-d2765967d094", "1043add5-23b1-4afb-9a0f-64343c8f3f8d",
           "83d49986-add3-41d7-ba33-87c7bfb5c0fb")
ESU_SCRIPT = ("Get-CimInstance -ClassName SoftwareLicensingProduct -Filter \""
              + " OR ".join(f"ID='{i}'" for i in ESU_IDS)
              + "\" | Select-Object ID,LicenseStatus | ConvertTo-Json")

def system_root(host: Host) -> str:
    root = host.env("SystemRoot")
    return root.strip() if isinstance(root, str) and root.strip() else "C:\\Windows"


def system32(host: Host, *parts: str) -> str:
    """An absolute path under %SystemRoot%\\System32 (Windows separators on every OS)."""
    return ntpath.join(system_root(host), "System32", *parts)


def powershell_path(host: Host) -> str:
    return system32(host, "WindowsPowerShell", "v1.0", "powershell.exe")


def run(host: Host, argv: list[str]) -> Result:
    """host.run with the standard timeout (the Host seam never raises; a bug that does is
    the pipeline's to catch and log)."""
    return host.run(argv, timeout=DEFAULT_TIMEOUT)


def powershell(host: Host, script: str) -> Result:
    return run(host, [powershell_path(host), "-NoProfile", "-NonInteractive", "-Command", script])


def registry(host: Host, key: str, value: str):
    """host.registry; only str / int come back, anything else is None."""
    got = host.registry(key, value)
    if isinstance(got, bool):
        return int(got)
    return got if isinstance(got, (str, int)) else None


_INT = re.compile(r"[+-]?\d+")
_HEX = re.compile(r"0x[0-9a-f]+", re.IGNORECASE)


def to_int(value) -> int | None:
    """A registry number, lenient: DWORD ints, or numeric REG_SZ strings ("600", " 1 ", "0x258")."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip().rstrip("\x00").strip()
    if _INT.fullmatch(text):
        try:
            return int(text)
        except ValueError:  # pragma: no cover - fullmatch guarantees digits
            return None
    if _HEX.fullmatch(text):
        return int(text, 16)
    return None


class Absent:
    """Marker for a registry value that is not there (as opposed to one that is unreadable)."""


ABSENT = Absent()


def read_int(host: Host, key: str, value: str):
    """ABSENT when the value is not set, an int when it reads as a number, None when it is garbage."""
    raw = registry(host, key, value)
    if raw is None:
        return ABSENT
    return to_int(raw)


def first_override(host: Host, keys: tuple[str, ...], value: str):
    """read_int of the first key in ``keys`` where ``value`` is set (policy keys first)."""
    for key in keys:
        got = read_int(host, key, value)
        if got is not ABSENT:
            return got
    return ABSENT


def clean_output(text: str | None) -> str:
    """Command output without BOM, NULs and surrounding blanks."""
    if not isinstance(text, str):
        return ""
    return text.replace("\ufeff", "").replace("\x00", "").strip()


def fold(text: str) -> str:
    """Lower case, single spaces, every non-ASCII character as "?".

    manage-bde and netsh write in the OEM code page when their output is piped, so on a
    German or French machine "Vollständig" may arrive as "Vollst\ufffdndig" (or in another
    code page's letters). Comparing folded text matches every such spelling.
    """
    text = unicodedata.normalize("NFC", text)
    text = "".join(c if ord(c) < 128 else "?" for c in text)
    return " ".join(text.split()).lower()
