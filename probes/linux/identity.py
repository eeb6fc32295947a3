"""Device identity on Linux: DMI files under /sys/class/dmi/id (serial and uuid are root only)."""
from __future__ import annotations

import re

from ..host import Host

DMI = "/sys/class/dmi/id/"
SERIAL, UUID, MODEL, VENDOR = (DMI + "product_serial", DMI + "product_uuid",
                               DMI + "product_name", DMI + "sys_vendor")

# Compared case-insensitively after trimming. The first line is DESIGN.md's list.
PLACEHOLDERS = {
    "to be filled by o.e.m.", "default string", "system serial number", "not specified",
    "none", "0", "123456789", "",
    "to be filled by o.e.m", "not applicable", "n/a", "0123456789", "chassis serial number",
    "not available", "unknown", "invalid", "oem", "system product name", "system version",
    "not settable", "type1productconfigid",
}
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_FAKE_UUIDS = {"00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
               "03000200-0400-0500-0006-000700080009"}


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    value = text.strip().strip("\x00").strip()
    if "\n" in value or len(value) > 200:
        return None
    return value


def parse_serial(text: str | None) -> str | None:
    """A DMI serial, or None for unreadable / placeholder values."""
    value = _clean(text)
    if value is None or value.casefold() in PLACEHOLDERS:
        return None
    if set(value) <= set("0 -.") or set(value.lower()) <= set("x -"):
        return None
    return value


def parse_uuid(text: str | None) -> str | None:
    """A DMI product uuid (as the kernel prints it), or None for placeholders."""
    value = _clean(text)
    if value is None or not _UUID_RE.match(value) or value.lower() in _FAKE_UUIDS:
        return None
    return value


def parse_model(text: str | None) -> str | None:
    value = _clean(text)
    if value is None or value.casefold() in PLACEHOLDERS:
        return None
    return value


def identity(host: Host) -> dict:
    return {
        "serial": parse_serial(host.read_text(SERIAL)),
        "hardware_uuid": parse_uuid(host.read_text(UUID)),
        "model": parse_model(host.read_text(MODEL)),
    }
