"""Device identity: BIOS serial number and SMBIOS UUID through PowerShell (CIM)."""
from __future__ import annotations

import re

from ..host import Host
from ..serials import is_placeholder_serial, is_placeholder_uuid
from ._util import SERIAL_SCRIPT, UUID_SCRIPT, clean_output, powershell

UUID_RE = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


def _single_line(text: str | None) -> str | None:
    lines = [line.strip() for line in clean_output(text).splitlines() if line.strip()]
    return lines[0] if len(lines) == 1 else None


def parse_serial(text: str | None) -> str | None:
    """The serial number PowerShell printed; None for nothing, several lines or a placeholder."""
    if not clean_output(text):
        return None
    serial = _single_line(text)
    if serial is None or is_placeholder_serial(serial):
        return None
    return " ".join(serial.split())


def parse_uuid(text: str | None) -> str | None:
    value = _single_line(text)
    if value is None or not UUID_RE.fullmatch(value):
        return None
    value = value.upper()
    return None if is_placeholder_uuid(value) else value


def _read(host: Host, script: str, parse) -> str | None:
    result = powershell(host, script)
    if result.error is not None or result.returncode != 0:
        return None
    return parse(result.stdout)


def identity(host: Host) -> dict:
    return {
        "serial": _read(host, SERIAL_SCRIPT, parse_serial),
        "hardware_uuid": _read(host, UUID_SCRIPT, parse_uuid),
        "model": None,  # SOURCES.md reads no model on Windows
    }
