"""Device identity on Linux: DMI files under /sys/class/dmi/id (serial and uuid are root only)."""
from __future__ import annotations

import re

from ..host import Host
from ..serials import PLACEHOLDER_SERIALS, is_placeholder_serial, is_placeholder_uuid

DMI = "/sys/class/dmi/id/"
SERIAL, UUID, MODEL, VENDOR = (DMI + "product_serial", DMI + "product_uuid",
                               DMI + "product_name", DMI + "sys_vendor")

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


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
    if value is None or is_placeholder_serial(value):
        return None
    return value


def parse_uuid(text: str | None) -> str | None:
    """A DMI product uuid (as the kernel prints it), or None for placeholders."""
    value = _clean(text)
    if value is None or not _UUID_RE.match(value) or is_placeholder_uuid(value):
        return None
    return value


def parse_model(text: str | None) -> str | None:
    value = _clean(text)
    if value is None or value.casefold() in PLACEHOLDER_SERIALS:
        return None
    return value


def identity(host: Host) -> dict:
    return {
        "serial": parse_serial(host.read_text(SERIAL)),
        "hardware_uuid": parse_uuid(host.read_text(UUID)),
        "model": parse_model(host.read_text(MODEL)),
    }
