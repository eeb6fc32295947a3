"""BitLocker on C: from the shell property, with `manage-bde -status C:` as the elevated fallback."""
from __future__ import annotations

import re

from ..fact import Fact
from ..host import DENIED, Host
from ._util import BITLOCKER_SCRIPT, clean_output, fold, powershell, run, system32

# System.Volume.BitLockerProtection (SOURCES.md).
SHELL_STATES = {0: "off", 1: "on", 2: "off", 3: "encrypting", 4: "decrypting", 5: "suspended"}

NEEDS_ADMIN = "needs administrator rights"
DENIED_TEXT = "denied"  # parse_manage_bde's answer for the non-elevated error

# Values of "Conversion Status" / "Konvertierungsstatus" / "État de la conversion", compared
# after normalising (lower case, single spaces, no final dot). Labels differ by language and
# release, so the values are what is matched.
CONVERSION = {
    # English
    "fully encrypted": "encrypted",
    "used space only encrypted": "encrypted",
    "encryption in progress": "encrypting",
    "encryption paused": "encrypting",
    "decryption in progress": "decrypting",
    "decryption paused": "decrypting",
    "fully decrypted": "off",
    # German
    "vollständig verschlüsselt": "encrypted",
    "nur verwendeter speicherplatz verschlüsselt": "encrypted",
    "verschlüsselung wird durchgeführt": "encrypting",
    "entschlüsselung wird durchgeführt": "decrypting",
    "vollständig entschlüsselt": "off",
    # French
    "complètement chiffré": "encrypted",
    "chiffrement en cours": "encrypting",
    "déchiffrement en cours": "decrypting",
    "complètement déchiffré": "off",
}

# Values of "Protection Status" / "Schutzstatus" / "État de la protection" (prefixes: English
# prints "Protection Off (1 reboots left)" while suspended). Off before on: "deaktiviert"
# contains "aktiviert".
PROTECTION = (
    ("protection off", False),
    ("der schutz ist deaktiviert", False),
    ("protection désactivée", False),
    ("protection on", True),
    ("der schutz ist aktiviert", True),
    ("protection activée", True),
)

ACCESS_DENIED = (
    "an attempt to access a required resource was denied",
    "zugriff auf eine erforderliche ressource wurde verweigert",
)
# WBEM_E_ACCESS_DENIED (0x80041003), signed as PowerShell shows it and unsigned as Windows returns it.
ACCESS_DENIED_CODES = (-2147217405, 0x80041003)


def parse_shell_value(text: str | None) -> str | None:
    """The bare number PowerShell prints for the shell property -> state, else None."""
    value = clean_output(text)
    if not re.fullmatch(r"\d{1,3}", value):
        return None
    return SHELL_STATES.get(int(value))


_CONVERSION = {fold(k): v for k, v in CONVERSION.items()}
_PROTECTION = tuple((fold(k), v) for k, v in PROTECTION)
_ACCESS_DENIED = tuple(fold(k) for k in ACCESS_DENIED)


def _normalise(value: str) -> str:
    return fold(value).rstrip(".").strip()


def parse_manage_bde(text: str | None, returncode: int | None = 0) -> str | None:
    """`manage-bde -status C:` -> on/off/encrypting/decrypting/suspended, "denied", or None."""
    output = text if isinstance(text, str) else ""
    folded = fold(output)
    if any(phrase in folded for phrase in _ACCESS_DENIED) or returncode in ACCESS_DENIED_CODES:
        return DENIED_TEXT
    conversion = protection = None
    for line in output.splitlines():
        label, sep, value = line.partition(":")
        if not sep:
            continue
        value = _normalise(value)
        if conversion is None and value in _CONVERSION:
            conversion = _CONVERSION[value]
        elif protection is None:
            for prefix, on in _PROTECTION:
                if value.startswith(prefix):
                    protection = on
                    break
    if conversion in ("encrypting", "decrypting", "off"):
        return conversion
    if conversion == "encrypted":
        if protection is True:
            return "on"
        if protection is False:
            return "suspended"
    return None


def probe(host: Host) -> Fact:
    fact = Fact()
    shell = powershell(host, BITLOCKER_SCRIPT)
    if shell.error is None and shell.returncode == 0:
        state = parse_shell_value(shell.stdout)
        if state is not None:
            fact.observed["state"] = state
            if clean_output(shell.stdout) == "0":
                # 0: the volume cannot be encrypted as the PC is set up (e.g. Windows Home
                # without device encryption): the person cannot simply turn it on.
                fact.observed["encryptable"] = False
            return fact
        if clean_output(shell.stdout):
            shell_reason = "PowerShell gave a BitLocker answer Checkup does not understand"
        else:
            shell_reason = NEEDS_ADMIN  # empty: only manage-bde (elevated) can tell
    else:
        shell_reason = shell.describe_failure("PowerShell")

    admin = host.is_admin() is True
    if not admin:
        fact.miss("state", shell_reason)
        return fact

    bde = run(host, [system32(host, "manage-bde.exe"), "-status", "C:"])
    if bde.error == DENIED:
        fact.miss("state", NEEDS_ADMIN)
        return fact
    if bde.error is not None:
        fact.miss("state", bde.describe_failure("manage-bde"))
        return fact
    state = parse_manage_bde(bde.output, bde.returncode)
    if state == DENIED_TEXT:
        fact.miss("state", NEEDS_ADMIN)
    elif state is None:
        fact.miss("state", "manage-bde gave an answer Checkup does not understand")
    else:
        fact.observed["state"] = state
    return fact
