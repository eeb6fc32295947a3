"""screen_lock on Linux: GNOME family through gsettings, KDE through kreadconfig5/6."""
from __future__ import annotations

import re

from ..fact import Fact
from ..host import NOT_FOUND, Host
from ._util import first_line, run

GSETTINGS = "/usr/bin/gsettings"
GNOME_KEYS = (
    ("enabled", "org.gnome.desktop.screensaver", "lock-enabled"),
    ("idle_seconds", "org.gnome.desktop.session", "idle-delay"),
    ("lock_delay_seconds", "org.gnome.desktop.screensaver", "lock-delay"),
)
KREADCONFIG = {"5": "/usr/bin/kreadconfig5", "6": "/usr/bin/kreadconfig6"}
KDE_DEFAULTS = {"Autolock": True, "Timeout": 5, "LockGrace": 5}  # minutes / seconds
GNOME_WORDS = ("gnome", "unity", "ubuntu", "budgie", "pantheon")
FIELDS = ("enabled", "idle_seconds", "lock_delay_seconds")
NO_DESKTOP = "no desktop session"
UNSUPPORTED = "not supported on this desktop yet"

_UINT_RE = re.compile(r"^(?:u?int(?:16|32|64)\s+)?(\d{1,10})$")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def desktop(env) -> str | None:
    """'gnome', 'kde', 'other' or None (no desktop session) from the environment."""
    current = (env("XDG_CURRENT_DESKTOP") or "").strip()
    lowered = current.lower()
    if any(word in lowered for word in GNOME_WORDS):
        return "gnome"
    if "kde" in lowered or (not current and (env("KDE_SESSION_VERSION") or "").strip()):
        return "kde"
    if current or (env("DISPLAY") or "").strip() or (env("WAYLAND_DISPLAY") or "").strip():
        return "other"
    return None


def parse_gsettings_bool(text: str | None) -> bool | None:
    value = first_line(text)
    return {"true": True, "false": False}.get(value)


def parse_gsettings_uint(text: str | None) -> int | None:
    """'uint32 300' (or a plain '300') -> 300."""
    match = _UINT_RE.match(first_line(text))
    return int(match.group(1)) if match else None


def parse_kde_bool(text: str | None) -> bool | None:
    value = first_line(text).lower()
    if value == "":
        return KDE_DEFAULTS["Autolock"]
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def parse_kde_int(text: str | None, default: int) -> int | None:
    value = first_line(text)
    if value == "":
        return default
    return int(value) if re.fullmatch(r"\d{1,9}", value) else None


def _gnome(host: Host, fact: Fact) -> Fact:
    for field, schema, key in GNOME_KEYS:
        result = run(host, [GSETTINGS, "get", schema, key])
        if result.error or result.returncode != 0:
            if result.error:
                reason = result.describe_failure("gsettings")
            else:
                detail = first_line(result.stderr)
                reason = (f"gsettings could not read {schema} {key}"
                          + (f" ({detail[:120]})" if detail else ""))
            fact.miss(field, reason)
            continue
        value = (parse_gsettings_bool(result.stdout) if field == "enabled"
                 else parse_gsettings_uint(result.stdout))
        fact.set(field, value, f"gsettings gave an answer Checkup does not understand for {key}")
    return fact


def _kde(host: Host, fact: Fact) -> Fact:
    version = (host.env("KDE_SESSION_VERSION") or "").strip()
    order = ["6", "5"] if version == "6" else ["5", "6"]
    tool = None
    first = None
    for candidate in order:
        result = run(host, [KREADCONFIG[candidate], "--file", "kscreenlockerrc",
                            "--group", "Daemon", "--key", "Autolock"])
        if result.error == NOT_FOUND:
            continue
        tool, first = KREADCONFIG[candidate], result
        break
    if tool is None or first is None:
        for field in FIELDS:
            fact.miss(field, "kreadconfig is not available")
        return fact
    name = tool.rsplit("/", 1)[-1]
    answers = {"Autolock": first}
    for key in ("Timeout", "LockGrace"):
        answers[key] = run(host, [tool, "--file", "kscreenlockerrc", "--group", "Daemon",
                                  "--key", key])
    for field, key in (("enabled", "Autolock"), ("idle_seconds", "Timeout"),
                       ("lock_delay_seconds", "LockGrace")):
        result = answers[key]
        if result.error or result.returncode != 0:
            fact.miss(field, result.describe_failure(name))
            continue
        if key == "Autolock":
            value = parse_kde_bool(result.stdout)
        else:
            value = parse_kde_int(result.stdout, KDE_DEFAULTS[key])
            if value is not None and key == "Timeout":
                value *= 60
        fact.set(field, value, f"{name} gave an answer Checkup does not understand for {key}")
    return fact


def probe(host: Host) -> Fact:
    fact = Fact()
    kind = desktop(host.env)
    if kind is None:
        fact.skip = NO_DESKTOP
        return fact
    fact.extra["desktop"] = (host.env("XDG_CURRENT_DESKTOP") or "").strip() or None
    if kind == "gnome":
        return _gnome(host, fact)
    if kind == "kde":
        return _kde(host, fact)
    for field in FIELDS:
        fact.miss(field, UNSUPPORTED)
    return fact
