"""The one shape every MDM connector produces, and the identifier rules.

Connectors map each vendor record to :class:`MdmRecord`; reconciliation only
ever sees this shape. Identifiers are normalised here, once:

- serials: trimmed, upper case; placeholders (``To Be Filled By O.E.M.``,
  ``Default string``, ``0`` ...: the agent's list, probes/serials.py) become ``None``
  and never match anything;
- hardware UUIDs: upper case with dashes; :func:`uuid_key` gives one key for
  both byte orders (SMBIOS tools and Windows show the first three groups
  byte-swapped), so a hash join matches either order;
- MAC addresses: ``AA:BB:CC:DD:EE:FF``; zero, broadcast, multicast and locally
  administered (randomised, virtual, USB-tethering) addresses are dropped.

What a person's page needs (DESIGN "Each person's devices") is filled here too:

- :func:`map_user`: an MDM's user -> an email (lower case) or a plain reason why not;
  one rule for every connector;
- :func:`device_kind_of`: laptop, phone, tablet, chromebook or "" (other);
- :func:`complete`: each person-page fact the MDM did not give (``passcode``,
  ``encrypted``, ``os_version``, ``compromised``) gets a reason in ``unknown`` (keyed by
  the field name), never a guessed value.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from probes.serials import is_placeholder_serial, is_placeholder_uuid

SOURCES = ("jamf", "intune", "google", "ivanti")
SOURCE_NAMES = {"jamf": "Jamf", "intune": "Intune", "google": "Google Workspace",
                "ivanti": "Ivanti", "agent": "the laptop"}

# Platforms the agent runs on: only these can be "silent".
COMPUTER_PLATFORMS = ("macos", "windows", "linux")

_UUID_HEX = re.compile(r"^[0-9A-F]{32}$")
_MAC_HEX = re.compile(r"^[0-9A-F]{12}$")


def normalise_serial(value: Any) -> str | None:
    """Trimmed upper-case serial, or None for empty values and placeholders."""
    if value is None:
        return None
    text = str(value).strip().upper()
    if is_placeholder_serial(text):
        return None
    return text


def normalise_uuid(value: Any) -> str | None:
    """``8-4-4-4-12`` upper case, or None when not a usable UUID."""
    if value is None:
        return None
    text = re.sub(r"[\s{}\-]", "", str(value)).upper()
    if not _UUID_HEX.match(text):
        return None
    dashed = f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
    return None if is_placeholder_uuid(dashed) else dashed


def swap_uuid(uuid: str) -> str:
    """The same UUID with the first three groups byte-swapped (mixed-endian form)."""
    u = uuid
    return (u[6:8] + u[4:6] + u[2:4] + u[0:2] + "-" + u[11:13] + u[9:11] + "-" +
            u[16:18] + u[14:16] + u[18:])


def uuid_key(uuid: str | None) -> str | None:
    """One key for a UUID in either byte order (the smaller of the two forms)."""
    if not uuid:
        return None
    other = swap_uuid(uuid)
    return uuid if uuid <= other else other


def normalise_mac(value: Any) -> str | None:
    """``AA:BB:CC:DD:EE:FF`` for a globally unique unicast MAC, else None."""
    if value is None:
        return None
    text = re.sub(r"[\s:\-.]", "", str(value)).upper()
    if not _MAC_HEX.match(text):
        return None
    first = int(text[:2], 16)
    if first & 0x01 or first & 0x02:  # multicast/broadcast, or locally administered
        return None
    if text == "000000000000":
        return None
    return ":".join(text[i:i + 2] for i in range(0, 12, 2))


def normalise_macs(values: Iterable[Any]) -> tuple[str, ...]:
    out: list[str] = []
    for v in values:
        m = normalise_mac(v)
        if m and m not in out:
            out.append(m)
    return tuple(sorted(out))


def parse_time(value: Any) -> dt.datetime | None:
    """RFC 3339 / ISO 8601 (``Z``, offsets, fractions of any length) or epoch ms -> aware UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _from_epoch_ms(value)
    text = str(value).strip()
    if text.isdigit():
        return _from_epoch_ms(int(text))
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)\.(\d+)(.*)$", text)
    if m:  # Python < 3.11 only takes 3 or 6 fractional digits
        text = f"{m.group(1)}.{(m.group(2) + '000000')[:6]}{m.group(3)}"
    text = text.replace(" ", "T", 1) if "T" not in text and " " in text else text
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    if parsed.year < 1990:  # Graph's "0001-01-01T00:00:00Z" and friends mean "never"
        return None
    return parsed.astimezone(dt.timezone.utc)


def _from_epoch_ms(ms: float) -> dt.datetime | None:
    if ms <= 0:
        return None
    try:
        return dt.datetime.fromtimestamp(ms / 1000.0, dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def platform_of(os_name: Any) -> str | None:
    """Vendor OS names -> macos, windows, linux, ios, ipados, android, chromeos, tvos, watchos."""
    if not os_name:
        return None
    t = str(os_name).strip().lower().replace(" ", "").replace("_", "")
    if t in ("macos", "osx", "macosx", "mac") or t.startswith("macos") or t.startswith("macosx"):
        return "macos"
    if t.startswith(("windowsmobile", "windowsphone")):
        return None   # a phone, not the Windows the agent runs on (never "silent")
    if t.startswith("windows") or t in ("win", "win10", "win11", "desktop"):
        return "windows"
    if t.startswith(("ipados", "ipad")):
        return "ipados"
    if t.startswith(("ios", "iphone")):
        return "ios"
    if t.startswith("android"):
        return "android"
    if t.startswith(("chrome", "cros")):
        return "chromeos"
    if t.startswith("tvos") or t == "appletv":
        return "tvos"
    if t.startswith("watchos"):
        return "watchos"
    if t.startswith(("linux", "ubuntu", "debian", "fedora", "rhel", "redhat", "centos", "suse")):
        return "linux"
    return None


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class MdmRecord:
    """One device as one MDM sees it, in one normalised shape."""
    source: str                               # jamf | intune | google | ivanti
    source_id: str                            # the vendor's own id for the record
    serial: str | None = None                 # normalised (see normalise_serial)
    hardware_uuid: str | None = None          # normalised (see normalise_uuid)
    macs: tuple[str, ...] = ()                # normalised, globally unique unicast only
    hostname: str | None = None
    user: str | None = None
    platform: str | None = None               # macos, windows, linux, ios, android, chromeos ...
    os_version: str | None = None             # numbers only: "14.5", "10.0.22631.3447", "17.5.1"
    os_build: str | None = None               # macOS / iOS build ("23F79") where the MDM gives one
    encrypted: bool | None = None             # boot/system disk fully encrypted
    encryption_state: str | None = None       # the vendor's own words, for the evidence
    firewall: bool | None = None
    sip: bool | None = None                   # macOS System Integrity Protection
    gatekeeper: bool | None = None
    compromised: bool | None = None           # jailbroken / rooted / compromised
    compromised_detail: str | None = None     # the vendor's own words
    last_seen: dt.datetime | None = None      # the vendor's inventory time, aware UTC
    model: str | None = None
    kind: str = field(default="")             # computer | mobile | chromebook | other (derived)
    # What a person's page needs (DESIGN "Each person's devices"); None = the MDM did not
    # say, with the reason in ``unknown`` (fact name -> plain reason).
    device_kind: str = ""                     # laptop | phone | tablet | chromebook | "" (other)
    name: str | None = None                   # the device's own name ("Alice's iPhone")
    passcode: bool | None = None              # a screen lock / passcode is set
    user_email: str | None = None             # the assigned user as an email, lower-case
    user_unmapped: str | None = None          # why ``user`` could not be made an email
    unknown: dict = field(default_factory=dict)   # field name (PERSON_FACTS) -> plain reason
    compliance: str | None = None             # the MDM's own verdict (Intune complianceState)

    def __post_init__(self) -> None:
        if not self.kind:
            self.kind = kind_of(self.platform)
        if not self.device_kind:
            self.device_kind = device_kind_of(self.platform, self.model)

    @property
    def is_computer(self) -> bool:
        return self.platform in COMPUTER_PLATFORMS

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["macs"] = list(self.macs)
        d["last_seen"] = _iso(self.last_seen)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "MdmRecord":
        d = dict(d)
        d["macs"] = tuple(d.get("macs") or ())
        d["last_seen"] = parse_time(d.get("last_seen"))
        if "os_build" not in d and d.get("os_version"):
            # stored before versions were split: Intune's "14.5 (23F79)" as it came
            d["os_version"], d["os_build"] = split_os_version(d["os_version"])
        known = set(cls.__dataclass_fields__)
        if not isinstance(d.get("unknown"), dict):
            d["unknown"] = {}
        # rows stored before the person-page fields still say why a fact is missing
        return complete(cls(**{k: v for k, v in d.items() if k in known}))


def kind_of(platform: str | None) -> str:
    if platform in COMPUTER_PLATFORMS:
        return "computer"
    if platform in ("ios", "ipados", "android"):
        return "mobile"
    if platform == "chromeos":
        return "chromebook"
    return "other"


_VERSION = re.compile(r"(?<![\w.])(\d+(?:\.\d+)*)(?![\w])")
_BUILD = re.compile(r"\(\s*([0-9]{1,3}[A-Za-z][0-9A-Za-z]{1,12})\s*\)")


def split_os_version(text: Any) -> tuple[str | None, str | None]:
    """An MDM's OS version text -> (numeric version, build or None).

    Each vendor writes it its own way: Intune macOS ``"14.5 (23F79)"`` (version
    and build), Intune Windows ``"10.0.22631.3447"``, Intune/Jamf iOS ``"17.5.1"``,
    Intune Android ``"14"``, Google mobile ``"iOS 17.5.1"`` / ``"Android 14"``,
    Google Cloud Identity ``"MacOS 14.4.1"``. The version is the first group of
    dotted numbers standing on its own; the build is an Apple-style build
    (``23F79``, ``21F90``, ``22G91``) in parentheses. Nothing readable -> (None, None).
    """
    t = str(text or "").strip()
    if not t:
        return None, None
    build_m = _BUILD.search(t)
    build = build_m.group(1).upper() if build_m else None
    rest = _BUILD.sub(" ", t)
    m = _VERSION.search(rest)
    return (m.group(1) if m else None), build


def text_or_none(value: Any, limit: int = 256) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        value = next((v for v in value if v), None)
        if value is None:
            return None
    t = str(value).strip()
    return t[:limit] if t else None


def bool_or_none(value: Any) -> bool | None:
    """Vendor booleans: true/false, "True"/"False", "Yes"/"No", 1/0; anything else -> None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        t = value.strip().lower()
        if t in ("true", "yes", "1", "on", "enabled"):
            return True
        if t in ("false", "no", "0", "off", "disabled"):
            return False
    return None


# -- people: users, device kinds, unknown facts ---------------------------------------

# The facts a person's page shows for an MDM device; each one the MDM does not give is
# None with the reason in MdmRecord.unknown[name].
PERSON_FACTS = ("passcode", "encrypted", "os_version", "compromised")

DEVICE_KINDS = ("laptop", "phone", "tablet", "chromebook")

_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f\"(),:;<>\[\]\\]{1,64}@"
                    r"(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_TABLET_WORDS = re.compile(r"\b(ipad|tablet|tab)\b", re.I)


def is_email(text: str) -> bool:
    return bool(_EMAIL.match(text))


def quoted(value: str, limit: int = 80) -> str:
    """An MDM's text inside a reason: one line, control characters dropped, shortened."""
    t = "".join(ch if ch.isprintable() else " " for ch in value)
    t = " ".join(t.split())
    return t if len(t) <= limit else t[:limit - 1] + "…"


def map_user(value: Any, source: str, *, email_domain: str = "") -> tuple[str | None, str | None]:
    """One MDM's user -> (email, None), or (None, reason) when it cannot be an email.

    An email stays (lower-cased). With ``email_domain`` (Ivanti's login names: ``[people]
    ivanti_email_domain``) a login name ``DOMAIN\\alice``, ``alice`` or ``alice@DOMAIN``
    (the Windows UPN-less forms) becomes ``alice@<email_domain>``. Anything else is not
    guessed: (None, "Jamf user 'alice' is not an email"). No user at all -> (None, None).
    Microsoft Entra guest accounts (``alice_gmail.com#EXT#@tenant.onmicrosoft.com``) are
    not the person's email and stay unmapped.
    """
    text = text_or_none(value, 320)
    if text is None:
        return None, None
    name = SOURCE_NAMES.get(source, source)
    low = text.lower()
    if "#ext#" in low:
        return None, (f"{name} user '{quoted(text)}' is a guest account name, not the "
                      "person's email")
    if is_email(low):
        return low, None
    domain = str(email_domain or "").strip().lower().lstrip("@")
    if domain and is_email(f"x@{domain}"):
        login = low.rsplit("\\", 1)[-1]          # DOMAIN\alice -> alice
        if "@" in login and "\\" not in low:      # alice@CORP (a NetBIOS domain) -> alice
            login = login.split("@", 1)[0]
        candidate = f"{login}@{domain}"
        if login and is_email(candidate):
            return candidate, None
    if source == "ivanti" and not domain:
        return None, (f"{name} user '{quoted(text)}' is not an email (set [people] "
                      "ivanti_email_domain to turn login names into emails)")
    return None, f"{name} user '{quoted(text)}' is not an email"


def note_version(rec: "MdmRecord", raw: Any) -> "MdmRecord":
    """An OS version the MDM gave in words without a number ("ChromeOS", "iOS") is
    unknown with what it said, not the generic "doesn't report"."""
    text = text_or_none(raw, 128)
    if rec.os_version is None and text:
        src = SOURCE_NAMES.get(rec.source, rec.source)
        rec.unknown["os_version"] = (f"{src} reports the system version as '{quoted(text, 40)}', "
                                     "without a version number.")
    return rec


def set_user(rec: "MdmRecord", *candidates: Any, email_domain: str = "") -> None:
    """Map the first candidate that is an email; else the reason for the first one given."""
    reason = None
    for c in candidates:
        email, why = map_user(c, rec.source, email_domain=email_domain)
        if email:
            rec.user_email, rec.user_unmapped = email, None
            return
        reason = reason or why
    rec.user_email, rec.user_unmapped = None, reason


def refine_platform(platform: str | None, *models: Any) -> str | None:
    """iPads that an MDM files under iOS (older Intune, Jamf's deviceType "iOS", Google's
    "iOS 17.5" for an iPad) are iPadOS: their model or model identifier says iPad."""
    if platform == "ios" and any(str(m or "").strip().lower().startswith("ipad") for m in models):
        return "ipados"
    return platform


def device_kind_of(platform: str | None, model: Any = None) -> str:
    """laptop (any computer), phone, tablet, chromebook, or "" (TVs, watches, unknown).

    No MDM here says whether an Android device is a phone or a tablet: it is a phone
    unless its model name says tablet ("Pixel Tablet", "Galaxy Tab S9").
    """
    if platform in COMPUTER_PLATFORMS:
        return "laptop"
    if platform == "ipados":
        return "tablet"
    if platform in ("ios", "android"):
        m = str(model or "")
        return "tablet" if _TABLET_WORDS.search(m) else "phone"
    if platform == "chromeos":
        return "chromebook"
    return ""


_GENERIC_REASONS = {
    "passcode": "{src} doesn't report whether a passcode or screen lock is set.",
    "encrypted": "{src} doesn't report whether this device is encrypted.",
    "os_version": "{src} doesn't report which system version this device runs.",
    "compromised": "{src} doesn't report whether this device is jailbroken or rooted.",
}


def complete(rec: "MdmRecord") -> "MdmRecord":
    """Every person-page fact that is None gets a reason (a specific one set by the
    connector is kept); a fact that is known carries none."""
    src = SOURCE_NAMES.get(rec.source, rec.source)
    unknown = {k: v for k, v in (rec.unknown or {}).items() if k in PERSON_FACTS}
    for fact in PERSON_FACTS:
        if getattr(rec, fact) is not None:
            unknown.pop(fact, None)
        elif not unknown.get(fact):
            unknown[fact] = _GENERIC_REASONS[fact].format(src=src)
    rec.unknown = unknown
    if not rec.device_kind:
        rec.device_kind = device_kind_of(rec.platform, rec.model)
    return rec
