"""Agent configuration: built-in defaults < user config < IT's managed config.

Layers, later wins (DESIGN.md, "Configuration"):

1. built-in defaults (``DEFAULTS``);
2. the user's ``config.toml`` (``user_config_path()``, or ``--config FILE``);
3. IT's managed layers, in this order:

   * Linux: ``/etc/checkup/config.toml``, then ``/etc/checkup/config.d/*.toml``
     in name order (drop-ins for configuration management tools);
   * macOS: ``/Library/Application Support/Checkup/config.toml``, then the
     managed preferences that an MDM profile (payload type ``com.checkup.agent``)
     installs as ``/Library/Managed Preferences/com.checkup.agent.plist``;
   * Windows: ``HKLM\\SOFTWARE\\Policies\\Checkup\\<section>``, one registry
     value per key (the MSI and the ADMX template write there).

A key that any managed layer sets is locked: the user's value for it is ignored
(and ``checkup config show`` says so). A managed value that is invalid is
reported and the key falls back to the built-in default; it stays locked.
A managed file that cannot be read or parsed is reported in
``Settings.problems`` and skipped; the other layers still apply.

Managed layers are read through the Host seam (``host.read_file``, ``host.list_dir``,
``host.registry``), so a capture can replay a managed Windows or macOS machine.
"""
from __future__ import annotations

import copy
import json
import os
import plistlib
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from .tomlcompat import TOMLDecodeError, tomllib

DEFAULTS: dict[str, dict[str, Any]] = {
    "agent": {"interval_minutes": 60, "policy_file": ""},
    "notifications": {
        "enabled": True,
        "quiet_hours": "19:00-09:00",
        "quiet_days": ["sat", "sun"],
        "remind_required_hours": 24,
        "remind_suggested_hours": 168,
        "max_snoozes": 3,
    },
    # ca_file: a PEM file of certificate authorities added to this computer's trusted
    # roots for the server's certificate (agent/tls.py)
    "server": {"url": "", "enroll_token": "", "ca_file": ""},
}

APP_NAME = "Checkup"

# Managed locations (module constants so tests and packagers see one truth).
LINUX_MANAGED_FILE = "/etc/checkup/config.toml"
LINUX_MANAGED_DIR = "/etc/checkup/config.d"
MACOS_PREFERENCE_DOMAIN = "com.checkup.agent"
MACOS_MANAGED_FILE = "/Library/Application Support/Checkup/config.toml"
MACOS_MANAGED_PLIST = f"/Library/Managed Preferences/{MACOS_PREFERENCE_DOMAIN}.plist"
WINDOWS_POLICY_KEY = "HKLM\\SOFTWARE\\Policies\\Checkup"

DEFAULT_ORIGIN = "default"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def user_config_path() -> str:
    from platformdirs import user_config_dir
    return os.path.join(user_config_dir(APP_NAME, appauthor=False), "config.toml")


def user_state_dir() -> str:
    from platformdirs import user_state_dir as _state
    return _state(APP_NAME, appauthor=False)


def user_data_dir() -> str:
    from platformdirs import user_data_dir as _data
    return _data(APP_NAME, appauthor=False)


@dataclass
class Settings:
    values: dict[str, dict[str, Any]] = field(default_factory=lambda: copy.deepcopy(DEFAULTS))
    origin: dict[tuple[str, str], str] = field(default_factory=dict)
    managed: set[tuple[str, str]] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    # (section, key) -> where the user's value came from, for keys IT overrode.
    overridden: dict[tuple[str, str], str] = field(default_factory=dict)
    # Every layer looked at, in order: (description, status) where status is
    # "read", "not present" or "ignored: <why>".
    sources: list[tuple[str, str]] = field(default_factory=list)

    def get(self, section: str, key: str, default: Any = None) -> Any:
        return self.values.get(section, {}).get(key, default)

    def section(self, name: str) -> dict[str, Any]:
        return dict(self.values.get(name, {}))

    def is_managed(self, section: str, key: str) -> bool:
        return (section, key) in self.managed


# -- validation ---------------------------------------------------------------

def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _validate(section: str, key: str, value: Any) -> tuple[Any, str | None]:
    """(normalised value, None) or (None, why it is unusable)."""
    default = DEFAULTS.get(section, {}).get(key)
    if default is None:
        return value, None  # unknown keys are kept for forward compatibility
    if isinstance(default, bool):
        if not isinstance(value, bool):
            return None, f"must be true or false, not {_show(value)}"
        return value, None
    if isinstance(default, int):
        if not _is_int(value):
            return None, f"must be a whole number, not {_show(value)}"
        low = 0 if key == "max_snoozes" else 1
        if value < low:
            return None, f"must be at least {low}, not {value}"
        return value, None
    if isinstance(default, list):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return None, f"must be a list of day names like [\"sat\", \"sun\"], not {_show(value)}"
        days = []
        for v in value:
            day = v.strip().lower()[:3]
            if day not in DAYS:
                return None, f"has an unknown day {v!r} (use mon, tue, wed, thu, fri, sat, sun)"
            if day not in days:
                days.append(day)
        return days, None
    if not isinstance(value, str):
        return None, f"must be a string, not {_show(value)}"
    if key == "quiet_hours" and value.strip():
        m = _HHMM.match(value)
        if not m or int(m.group(1)) > 24 or int(m.group(3)) > 24 or int(m.group(2)) > 59 \
                or int(m.group(4)) > 59:
            return None, f"{value!r} is not like \"19:00-09:00\" (or \"\" for none)"
    if key == "url" and value.strip():
        if not re.match(r"^https?://[^/\s]+", value.strip()):
            return None, f"{value!r} is not an https:// address"
        value = value.strip()
    return value, None


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return f"{json.dumps(value, default=str)} ({type(value).__name__})"


def apply_layer(settings: Settings, data: dict, origin: str, managed: bool = False) -> None:
    """Apply one layer's sections over ``settings``; IT-managed keys stay put."""
    for section, table in data.items():
        if not isinstance(table, dict):
            settings.problems.append(f"{origin}: [{section}] must be a table; ignored")
            continue
        for key, value in table.items():
            where = (section, key)
            if where in settings.managed and not managed:
                settings.overridden[where] = origin
                continue
            value, why = _validate(section, key, value)
            if why is not None:
                if managed:
                    settings.problems.append(
                        f"{origin}: {section}.{key} {why}; using the built-in default")
                    default = DEFAULTS[section][key]
                    if settings.origin.get(where, DEFAULT_ORIGIN) != DEFAULT_ORIGIN \
                            and where not in settings.managed:
                        settings.overridden[where] = settings.origin[where]
                    settings.values.setdefault(section, {})[key] = copy.deepcopy(default)
                    settings.origin[where] = f"{DEFAULT_ORIGIN} (IT's value in {origin} is invalid)"
                    settings.managed.add(where)
                else:
                    settings.problems.append(f"{origin}: {section}.{key} {why}; ignored")
                continue
            if managed and where not in settings.managed \
                    and settings.origin.get(where, DEFAULT_ORIGIN) != DEFAULT_ORIGIN:
                settings.overridden[where] = settings.origin[where]
            settings.values.setdefault(section, {})[key] = value
            settings.origin[where] = origin
            if managed:
                settings.managed.add(where)


# -- readers ------------------------------------------------------------------

def read_toml_file(path: str) -> tuple[dict | None, str | None]:
    """(data, problem) from a file on this machine. A missing file is (None, None)."""
    from probes.host import read_local_file
    return toml_from_file(read_local_file(path), path)


def toml_from_file(got, path: str) -> tuple[dict | None, str | None]:
    """(data, problem) from a ``probes.host.FileRead`` of ``path``."""
    if got.problem == "is a directory":
        return None, f"{path}: is a directory, not a TOML file; ignored"
    if got.problem:
        return None, f"{path}: {got.problem}; ignored"
    if got.data is None:
        return None, None
    try:
        text = got.data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, f"{path}: is not UTF-8 text; ignored"
    return parse_toml_text(text, path)


def parse_toml_text(text: str, path: str) -> tuple[dict | None, str | None]:
    try:
        return tomllib.loads(text.lstrip("\ufeff")), None
    except TOMLDecodeError as exc:
        return None, f"{path}: not valid TOML ({exc}); ignored"


def parse_plist_bytes(raw: bytes, path: str) -> tuple[dict | None, str | None]:
    """A managed-preferences plist (XML or binary) -> TOML-shaped dict.

    Sections are dictionaries named like the TOML tables (``server`` ->
    ``{url, enroll_token}``). MDM bookkeeping keys (``Payload*``,
    ``PayloadUUID``...) are skipped.
    """
    try:
        data = plistlib.loads(raw)
    except Exception as exc:  # noqa: BLE001 - plistlib raises several kinds
        return None, f"{path}: not a valid property list ({type(exc).__name__}: {exc}); ignored"
    if not isinstance(data, dict):
        return None, f"{path}: the property list must be a dictionary; ignored"
    out: dict[str, Any] = {}
    for name, value in data.items():
        if not isinstance(name, str) or name.startswith("Payload") or name.startswith("_"):
            continue
        out[name] = value
    return out, None


def _list_toml(host, folder: str) -> list[str]:
    return sorted(n for n in host.list_dir(folder) if n.endswith(".toml") and not n.startswith("."))


# Windows registry: one value per key, typed like the TOML default.
def _from_registry(section: str, key: str, raw: Any) -> Any:
    """A registry value (REG_DWORD int or REG_SZ / REG_MULTI_SZ text) -> config value.

    Returns the converted value, or the raw value unchanged when it cannot be
    converted (validation then reports it).
    """
    default = DEFAULTS[section][key]
    if isinstance(default, bool):
        if _is_int(raw):
            return raw != 0
        if isinstance(raw, str) and raw.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(raw, str) and raw.strip().lower() in ("0", "false", "no", "off"):
            return False
        return raw
    if isinstance(default, int):
        if isinstance(raw, str) and re.fullmatch(r"\s*\d+\s*", raw):
            return int(raw)
        return raw
    if isinstance(default, list):
        if isinstance(raw, str):  # "sat,sun", "sat sun" or REG_MULTI_SZ lines
            return [p for p in re.split(r"[\s,;]+", raw) if p]
        return raw
    if _is_int(raw):
        return str(raw)
    return raw


def read_windows_policy(host) -> tuple[dict, list[str]]:
    """Values under HKLM\\SOFTWARE\\Policies\\Checkup\\<section> (known keys only)."""
    data: dict[str, dict[str, Any]] = {}
    for section, table in DEFAULTS.items():
        key_path = f"{WINDOWS_POLICY_KEY}\\{section}"
        for key in table:
            raw = host.registry(key_path, key)
            if raw is None:
                continue
            data.setdefault(section, {})[key] = _from_registry(section, key, raw)
    return data, []


def managed_layers(host=None) -> Iterable[tuple[str, dict | None, str | None]]:
    """Yield (origin, data or None, problem or None) for each managed layer in order."""
    if host is None:
        from probes.host import LiveHost
        host = LiveHost()
    platform = host.platform
    if platform == "linux":
        yield (LINUX_MANAGED_FILE, *toml_from_file(host.read_file(LINUX_MANAGED_FILE), LINUX_MANAGED_FILE))
        for name in _list_toml(host, LINUX_MANAGED_DIR):
            path = f"{LINUX_MANAGED_DIR}/{name}"
            yield (path, *toml_from_file(host.read_file(path), path))
    elif platform == "darwin":
        yield (MACOS_MANAGED_FILE, *toml_from_file(host.read_file(MACOS_MANAGED_FILE), MACOS_MANAGED_FILE))
        got = host.read_file(MACOS_MANAGED_PLIST)
        if got.problem:
            yield MACOS_MANAGED_PLIST, None, f"{MACOS_MANAGED_PLIST}: {got.problem}; ignored"
        elif got.data is None:
            yield MACOS_MANAGED_PLIST, None, None
        else:
            yield (MACOS_MANAGED_PLIST, *parse_plist_bytes(got.data, MACOS_MANAGED_PLIST))
    elif platform == "windows":
        data, problems = read_windows_policy(host)
        yield WINDOWS_POLICY_KEY, (data or None), (problems[0] if problems else None)


def load_settings(config_file: str | None = None, managed_files: list[str] | None = None,
                  host=None) -> Settings:
    """Defaults < user config (or ``config_file``) < IT's managed layers.

    ``managed_files``: explicit managed TOML files instead of this platform's
    managed layers (tests, tools). ``host``: read the managed layers through
    this Host (a ``RecordedHost`` replays a managed machine); by default, this
    machine.
    """
    settings = Settings()
    user_path = config_file or user_config_path()
    data, problem = read_toml_file(user_path)
    _record(settings, f"user config {user_path}", data, problem)
    if data:
        apply_layer(settings, data, user_path, managed=False)

    if managed_files is not None:
        layers = [(path, *read_toml_file(path)) for path in managed_files]
    else:
        layers = list(managed_layers(host))
    for origin, data, problem in layers:
        _record(settings, f"managed by IT {origin}", data, problem)
        if data:
            apply_layer(settings, data, origin, managed=True)
    return settings


def _record(settings: Settings, what: str, data: dict | None, problem: str | None) -> None:
    if problem:
        settings.problems.append(problem)
        settings.sources.append((what, "ignored: " + problem.split(": ", 1)[-1]))
    elif data is None:
        settings.sources.append((what, "not present"))
    else:
        settings.sources.append((what, "read"))


def managed_config_paths() -> list[str]:
    """This platform's managed TOML files (the plist and registry are not files)."""
    from probes.host import current_platform
    platform = current_platform()
    if platform == "linux":
        from probes.host import LiveHost
        return [LINUX_MANAGED_FILE] + [f"{LINUX_MANAGED_DIR}/{n}" for n in _list_toml(LiveHost(), LINUX_MANAGED_DIR)]
    if platform == "darwin":
        return [MACOS_MANAGED_FILE]
    return []


# -- checkup config show ------------------------------------------------------

def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False, default=str)


def format_settings(settings: Settings) -> str:
    """The effective settings as TOML, each key with where it came from."""
    out = ["# Effective Checkup settings. Later layers win: built-in default < user < IT (managed).",
           "# Layers read:"]
    for what, status in settings.sources:
        out.append(f"#   {what}: {status}")
    if settings.problems:
        out.append("# Problems (these values were not used):")
        for problem in settings.problems:
            out.append(f"#   {problem}")
    rows: list[tuple[str, str] | None] = []
    for section, table in settings.values.items():
        if rows:
            rows.append(None)
        rows.append((f"[{section}]", ""))
        for key, value in table.items():
            where = (section, key)
            origin = settings.origin.get(where, DEFAULT_ORIGIN)
            note = origin
            if where in settings.managed:
                note = f"managed by IT: {origin}"
                if where in settings.overridden:
                    note += f" (your value in {settings.overridden[where]} is ignored)"
            elif origin != DEFAULT_ORIGIN:
                note = f"user: {origin}"
            if key not in DEFAULTS.get(section, {}):
                note += " (not a setting this version knows)"
            shown = _toml_value(value)
            if key == "enroll_token" and value:
                shown, note = '"********"', note + " (set; not shown)"  # never print a secret
            rows.append((f"{key} = {shown}", note))
    width = max((len(r[0]) for r in rows if r and r[1]), default=0)
    out.append("")
    for row in rows:
        if row is None:
            out.append("")
        elif not row[1]:
            out.append(row[0])
        else:
            out.append(f"{row[0].ljust(width)}  # {row[1]}")
    return "\n".join(out) + "\n"
