"""Windows Defender Firewall per profile: registry (Group Policy over local), then netsh."""
from __future__ import annotations

from ..fact import Fact
from ..host import Host
from ._util import ABSENT, fold, read_int, run, system32

PROFILES = ("domain", "private", "public")
LOCAL = r"HKLM\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy"
POLICY = r"HKLM\SOFTWARE\Policies\Microsoft\WindowsFirewall"
LOCAL_KEYS = {"domain": LOCAL + r"\DomainProfile", "private": LOCAL + r"\StandardProfile",
              "public": LOCAL + r"\PublicProfile"}
POLICY_KEYS = {"domain": POLICY + r"\DomainProfile", "private": POLICY + r"\PrivateProfile",
               "public": POLICY + r"\PublicProfile"}

# netsh advfirewall show allprofiles state, localized. Section headings name the profile
# ("Domain Profile Settings:", "Domänenprofil-Einstellungen:", "Paramètres Profil de domaine :");
# the state line is "State ON" / "Status EIN" / "État Actif".
HEADING_WORDS = (
    ("domain", ("domain", "domäne", "domaine")),
    ("private", ("private", "privat", "privé")),
    ("public", ("public", "öffentlich")),
)
STATE_LABELS = ("state", "status", "état", "etat")
STATE_VALUES = {"on": True, "off": False, "ein": True, "aus": False, "actif": True}
_HEADING_WORDS = tuple((p, tuple(fold(w) for w in words)) for p, words in HEADING_WORDS)
_STATE_LABELS = tuple(fold(label) for label in STATE_LABELS)


def registry_value(value) -> bool | None:
    """EnableFirewall: 1 on, 0 off, anything else unknown."""
    if value == 1:
        return True
    if value == 0:
        return False
    return None


def _heading_profile(line: str) -> str | None:
    text = line.strip()
    if not text.endswith(":"):
        return None
    folded = fold(text)
    for profile, words in _HEADING_WORDS:
        if any(word in folded for word in words):
            return profile
    return None


def parse_netsh(text: str | None) -> dict[str, bool]:
    """The profiles whose state netsh printed, e.g. {"domain": True, "private": False}."""
    states: dict[str, bool] = {}
    current = None
    for line in (text or "").splitlines():
        profile = _heading_profile(line)
        if profile is not None:
            current = profile
            continue
        parts = line.split()
        if current is None or current in states or len(parts) != 2:
            continue
        label, value = fold(parts[0]), fold(parts[1])
        if label in _STATE_LABELS and value in STATE_VALUES:
            states[current] = STATE_VALUES[value]
    return states


def probe(host: Host) -> Fact:
    profiles: dict[str, bool] = {}
    for profile in PROFILES:
        policy = read_int(host, POLICY_KEYS[profile], "EnableFirewall")
        value = policy if policy is not ABSENT else read_int(host, LOCAL_KEYS[profile], "EnableFirewall")
        state = None if value is ABSENT else registry_value(value)
        if state is not None:
            profiles[profile] = state

    netsh_reason = None
    if len(profiles) < len(PROFILES):
        result = run(host, [system32(host, "netsh.exe"), "advfirewall", "show", "allprofiles", "state"])
        if result.error is not None:
            netsh_reason = result.describe_failure("netsh")
        else:
            found = parse_netsh(result.stdout)
            for profile, state in found.items():
                profiles.setdefault(profile, state)
            if not found:
                netsh_reason = "netsh gave an answer Checkup does not understand"

    return to_fact(profiles, netsh_reason)


def to_fact(profiles: dict[str, bool], netsh_reason: str | None = None) -> Fact:
    """The Fact from the profiles whose state was read; ``enabled`` only when it is decided."""
    fact = Fact()
    missing = [p for p in PROFILES if p not in profiles]
    reason = ("the firewall state of the " + ", ".join(missing) + " profile"
              + ("s" if len(missing) > 1 else "") + " could not be read"
              + (f" ({netsh_reason})" if netsh_reason else ""))
    if profiles:
        fact.observed["profiles"] = {p: profiles[p] for p in PROFILES if p in profiles}
    else:
        fact.miss("profiles", reason)
    if any(state is False for state in profiles.values()):
        fact.observed["enabled"] = False
    elif not missing:
        fact.observed["enabled"] = True
    else:
        fact.miss("enabled", reason)
    return fact
