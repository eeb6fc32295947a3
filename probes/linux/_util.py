"""Helpers shared by the Linux probes (standard library only, never raise)."""
from __future__ import annotations

import re

from ..host import DEFAULT_TIMEOUT, NOT_FOUND, Host, Result

SYSTEMCTL = "/usr/bin/systemctl"
OS_RELEASE_PATHS = ("/etc/os-release", "/usr/lib/os-release")

_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def run(host: Host, argv: list[str]) -> Result:
    """Every command of the Linux probes goes through here (always with a timeout)."""
    return host.run(list(argv), timeout=DEFAULT_TIMEOUT)


def first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        line = line.strip()
        if line:
            return line
    return ""


def _unquote(value: str) -> str | None:
    """An os-release value: shell-like quoting, see os-release(5)."""
    value = value.strip()
    if not value:
        return ""
    if value[0] in "\"'":
        quote = value[0]
        out = []
        i = 1
        while i < len(value):
            ch = value[i]
            if ch == quote:
                return "".join(out)
            if quote == '"' and ch == "\\" and i + 1 < len(value) and value[i + 1] in '$"\\`':
                out.append(value[i + 1])
                i += 2
                continue
            out.append(ch)
            i += 1
        return None  # unterminated quote
    # unquoted: stop at an inline comment; no whitespace allowed per the spec
    return value.split(" #", 1)[0].strip()


def parse_os_release(text: str | None) -> dict[str, str] | None:
    """KEY=value lines of an os-release file; None when no valid line at all."""
    if not text:
        return None
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        if key.startswith("export "):
            key = key[len("export "):].strip()
        if not _KEY_RE.match(key):
            continue
        got = _unquote(value)
        if got is None:
            continue
        values[key] = got
    return values or None


def read_os_release(host: Host) -> tuple[dict[str, str] | None, str | None]:
    """(parsed values, path) of the first os-release file that could be read."""
    for path in OS_RELEASE_PATHS:
        text = host.read_text(path)
        if text is None:
            continue
        return parse_os_release(text), path
    return None, None


# Which distribution family a machine belongs to, from os-release: ID is looked up first, then
# each ID_LIKE word in order (elementary: ID_LIKE=ubuntu; Rocky: ID_LIKE="rhel centos fedora";
# Manjaro/EndeavourOS: ID_LIKE=arch). Every openSUSE ID starts with "opensuse" (opensuse-leap,
# opensuse-tumbleweed, opensuse-microos, opensuse-aeon, ...). See docs/SOURCES.md.
FAMILIES = {
    "debian": "debian", "ubuntu": "debian",
    "fedora": "fedora", "rhel": "fedora", "centos": "fedora",
    "suse": "suse", "opensuse": "suse", "sles": "suse", "sled": "suse",
    "arch": "arch",
}


def _family_of(word: str) -> str | None:
    if word in FAMILIES:
        return FAMILIES[word]
    if word.startswith("opensuse"):
        return "suse"
    return None


def linux_family(release: dict[str, str] | None) -> str | None:
    """"debian", "fedora", "suse", "arch" or None (unknown family) for parsed os-release values."""
    if not release:
        return None
    words = [(release.get("ID") or "").strip().lower()]
    words += (release.get("ID_LIKE") or "").lower().split()
    for word in words:
        family = _family_of(word)
        if family:
            return family
    return None


def distro_words(release: dict[str, str] | None) -> set[str]:
    """ID and ID_LIKE words, lower case."""
    if not release:
        return set()
    words = set()
    for key in ("ID", "ID_LIKE"):
        for word in (release.get(key) or "").lower().split():
            words.add(word)
    return words


# -- systemctl -------------------------------------------------------------

ON, OFF, ABSENT, UNSURE = "on", "off", "absent", "unsure"

_ACTIVE_ON = {"active", "reloading", "refreshing"}
_ACTIVE_OFF = {"inactive", "failed", "unknown", "dead", "deactivating", "maintenance"}
_ENABLED_ON = {"enabled", "enabled-runtime"}
_ENABLED_OFF = {"disabled", "not-found", "masked", "masked-runtime", "static", "indirect",
                "linked", "linked-runtime", "bad"}
NO_SYSTEMD = "systemd is not running on this machine"


def _classify(result: Result, on: set[str], off: set[str], what: str) -> tuple[str, str | None]:
    if result.error == NOT_FOUND:
        return ABSENT, result.describe_failure("systemctl")
    if result.error:
        return UNSURE, result.describe_failure("systemctl")
    word = first_line(result.stdout).lower()
    if word in on:
        return ON, None
    if word in off:
        return OFF, None
    err = (result.stderr or "").lower()
    if "no such file or directory" in err and "unit file" in err:
        # older systemd: "Failed to get unit file state for x.timer: No such file or directory"
        return OFF, None
    if "not been booted with systemd" in err or "failed to connect to bus" in err:
        return UNSURE, NO_SYSTEMD
    return UNSURE, f"systemctl {what} gave an answer Checkup does not understand"


def unit_active(host: Host, unit: str) -> tuple[str, str | None]:
    """(ON/OFF/ABSENT/UNSURE, reason) of ``systemctl is-active unit``."""
    return _classify(run(host, [SYSTEMCTL, "is-active", unit]), _ACTIVE_ON, _ACTIVE_OFF,
                     "is-active")


def unit_enabled(host: Host, unit: str) -> tuple[str, str | None]:
    """(ON/OFF/ABSENT/UNSURE, reason) of ``systemctl is-enabled unit``."""
    return _classify(run(host, [SYSTEMCTL, "is-enabled", unit]), _ENABLED_ON, _ENABLED_OFF,
                     "is-enabled")


MISSING, ALIAS = "missing", "alias"


def unit_file_state(host: Host, unit: str) -> tuple[str, str | None]:
    """Like unit_enabled, but a unit file that does not exist is MISSING (not OFF) and a name
    that is only an alias of another unit file (dnf5's dnf-automatic.timer) is ALIAS."""
    result = run(host, [SYSTEMCTL, "is-enabled", unit])
    if not result.error:
        word = first_line(result.stdout).lower()
        err = (result.stderr or "").lower()
        if word == "not-found" or (not word and "no such file or directory" in err and "unit file" in err):
            return MISSING, None
        if word == "alias":
            return ALIAS, None
    return _classify(result, _ENABLED_ON, _ENABLED_OFF, "is-enabled")


def any_unit(states: list[tuple[str, str | None]]) -> tuple[bool | None, str | None]:
    """Combine unit states: True if any is on; False when every answer is a clear off
    (a missing systemctl entry next to clear answers is ignored); else (None, reason)."""
    if any(s == ON for s, _ in states):
        return True, None
    unsure = [r for s, r in states if s == UNSURE]
    if unsure:
        return None, unsure[0]
    if any(s == OFF for s, _ in states):
        return False, None
    return None, "systemctl is not available"
