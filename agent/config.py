"""Agent configuration: built-in defaults < user config < IT's managed config.

A key that IT manages cannot be overridden by the user. A broken file is
reported in ``Settings.problems`` and skipped; the other layers still apply.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from typing import Any

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
    "server": {"url": "", "enroll_token": ""},
}

APP_NAME = "Checkup"


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

    def get(self, section: str, key: str, default: Any = None) -> Any:
        return self.values.get(section, {}).get(key, default)

    def section(self, name: str) -> dict[str, Any]:
        return dict(self.values.get(name, {}))


def _check_type(section: str, key: str, value: Any) -> bool:
    default = DEFAULTS.get(section, {}).get(key)
    if default is None:
        return True  # unknown keys are kept for forward compatibility
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, type(default))


def apply_layer(settings: Settings, data: dict, origin: str, managed: bool = False) -> None:
    """Apply one layer's sections over ``settings``; IT-managed keys stay put."""
    for section, table in data.items():
        if not isinstance(table, dict):
            settings.problems.append(f"{origin}: [{section}] must be a table; ignored")
            continue
        for key, value in table.items():
            if (section, key) in settings.managed and not managed:
                continue
            if not _check_type(section, key, value):
                settings.problems.append(
                    f"{origin}: {section}.{key} has the wrong type ({type(value).__name__}); ignored")
                continue
            settings.values.setdefault(section, {})[key] = value
            settings.origin[(section, key)] = origin
            if managed:
                settings.managed.add((section, key))


def read_toml_file(path: str) -> tuple[dict | None, str | None]:
    """(data, problem). A missing file is (None, None)."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh), None
    except FileNotFoundError:
        return None, None
    except TOMLDecodeError as exc:
        return None, f"{path}: not valid TOML ({exc}); ignored"
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"{path}: cannot be read ({exc}); ignored"


def load_settings(config_file: str | None = None, managed_files: list[str] | None = None) -> Settings:
    """Defaults < user config (or ``config_file``) < managed files."""
    settings = Settings()
    layers: list[tuple[str, bool]] = [(config_file or user_config_path(), False)]
    if managed_files is None:
        managed_files = managed_config_paths()
    # Managed layers first so their keys are locked, then re-applied in order.
    for path, managed in layers + [(p, True) for p in managed_files]:
        data, problem = read_toml_file(path)
        if problem:
            settings.problems.append(problem)
        if data:
            apply_layer(settings, data, path, managed=managed)
    return settings


def managed_config_paths() -> list[str]:
    import sys
    if sys.platform.startswith("linux"):
        return ["/etc/checkup/config.toml"]
    if sys.platform == "darwin":
        return ["/Library/Application Support/Checkup/config.toml"]
    return []
