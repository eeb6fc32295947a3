"""Placeholder serial numbers and UUIDs that firmware vendors leave behind,
and which MAC addresses identify hardware.

One list for every OS and for the server (server/mdm/records.py normalises MDM
serials with it): a placeholder is no identity (it would match thousands of other
machines), so probes report None instead and the server matches nothing on it.
"""
from __future__ import annotations

# Compared case-insensitively with whitespace collapsed. The first line is DESIGN.md's list.
PLACEHOLDER_SERIALS = frozenset(s.casefold() for s in (
    "To Be Filled By O.E.M.", "Default string", "System Serial Number", "Not Specified",
    "None", "0", "123456789", "",
    "To Be Filled By O.E.M", "Not Applicable", "Not Available", "N/A", "0123456789",
    "Chassis Serial Number", "Unknown", "Invalid", "OEM", "System Product Name",
    "System Version", "Not Settable", "Type1ProductConfigId",
    # seen in MDM inventories (Jamf, Intune, Google, Ivanti):
    "1234567890", "Serial Number", "SerialNumber", "NA", "O.E.M.", "Base Board Serial Number",
    "Null",
))

PLACEHOLDER_UUIDS = frozenset((
    "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "03000200-0400-0500-0006-000700080009",
))


def is_placeholder_serial(value: str) -> bool:
    folded = " ".join(value.split()).casefold()
    if folded in PLACEHOLDER_SERIALS:
        return True
    # "0000000", "00-00", "xxxxxxxx": no identity either.
    return set(folded) <= set("0 -.") or set(folded) <= set("x -")


def is_placeholder_uuid(value: str) -> bool:
    return value.strip().lower() in PLACEHOLDER_UUIDS


def hardware_mac(value: str) -> str | None:
    """``aa:bb:cc:dd:ee:ff`` for a MAC burned into hardware, else None.

    Zero, broadcast, multicast and locally administered addresses (virtual
    adapters, Docker bridges, randomised Wi-Fi addresses) identify nothing.
    """
    digits = "".join(ch for ch in str(value).lower() if ch in "0123456789abcdef")
    if len(digits) != 12 or len(str(value)) > 17 + 2:
        return None
    first = int(digits[:2], 16)
    if first & 0x01 or first & 0x02 or digits in ("000000000000", "ffffffffffff"):
        return None
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))
