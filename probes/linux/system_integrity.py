"""system_integrity on Linux: Secure Boot through `mokutil --sb-state`."""
from __future__ import annotations

from ..fact import Fact
from ..host import NOT_FOUND, Host
from ._util import run

MOKUTIL = ["/usr/bin/mokutil", "--sb-state"]


def parse(stdout: str | None, stderr: str | None = "") -> bool | None:
    """True / False from mokutil's answer (stdout and stderr), None when not understood."""
    text = f"{stdout or ''}\n{stderr or ''}".lower()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if any("validation is disabled in shim" in line for line in lines):
        return False
    if any(line in ("secureboot disabled",) for line in lines):
        return False
    if any("doesn't support secure boot" in line or "does not support secure boot" in line
           or "efi variables are not supported" in line for line in lines):
        return False  # legacy BIOS / CSM boot
    if any(line == "secureboot enabled" for line in lines):
        return True
    return None


def probe(host: Host) -> Fact:
    fact = Fact()
    result = run(host, MOKUTIL)
    if result.error == NOT_FOUND:
        return fact.miss("secure_boot", "mokutil is not installed")
    if result.error:
        return fact.miss("secure_boot", result.describe_failure("mokutil"))
    value = parse(result.stdout, result.stderr)
    return fact.set("secure_boot", value, "mokutil gave an answer Checkup does not understand")
