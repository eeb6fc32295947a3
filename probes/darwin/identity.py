"""Device identity: `ioreg -rd1 -c IOPlatformExpertDevice`.

Lines like `"IOPlatformSerialNumber" = "C02XXXX"`, `"IOPlatformUUID" = "…"` and
`"model" = <"MacBookPro18,3">`.
"""
from __future__ import annotations

import re

from ..host import Host
from ..serials import is_placeholder_serial
from ._util import IOREG, run


_SERIAL = re.compile(r'^\s*"IOPlatformSerialNumber"\s*=\s*"([^"\n]*)"', re.MULTILINE)
_UUID = re.compile(r'^\s*"IOPlatformUUID"\s*=\s*"([^"\n]*)"', re.MULTILINE)
_MODEL = re.compile(r'^\s*"model"\s*=\s*<"([^"\n]*)">', re.MULTILINE)
_UUID_SHAPE = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
_MODEL_SHAPE = re.compile(r"^[A-Za-z][A-Za-z ]*\d+,\d+$")


def clean_serial(value: str | None) -> str | None:
    """A serial number, or None for placeholders and anything that is not one."""
    if value is None:
        return None
    value = value.strip()
    if is_placeholder_serial(value) or not value.isprintable():
        return None
    return value


def parse_ioreg(text: str | None) -> dict[str, str | None]:
    text = text or ""
    serial = _SERIAL.search(text)
    uuid = _UUID.search(text)
    model = _MODEL.search(text)
    uuid_value = uuid.group(1).strip() if uuid else None
    model_value = model.group(1).strip() if model else None
    return {
        "serial": clean_serial(serial.group(1)) if serial else None,
        "hardware_uuid": uuid_value if uuid_value and _UUID_SHAPE.match(uuid_value) else None,
        "model": model_value if model_value and _MODEL_SHAPE.match(model_value) else None,
    }


def identity(host: Host) -> dict[str, str | None]:
    result = run(host, [IOREG, "-rd1", "-c", "IOPlatformExpertDevice"])
    if not result.ok:
        return {"serial": None, "hardware_uuid": None, "model": None}
    return parse_ioreg(result.stdout)
