"""The check registry: every check is declared once, in ``agent/checks/<id>/check.toml``.

Everything else reads the declarations from here: policy validation and the built-in
policy (agent/policy.py), the probe lookup and judging (agent/pipeline.py,
agent/verdicts.py), fix pages (agent/fixes.py), the tray and pages, and the server's
check list (server/policy_check.py). tests/test_check_registry.py fails when a probe,
a judge or a fix exists for an undeclared check, or a declared check lacks one.

Adding a check
--------------
One folder ``agent/checks/<id>/`` (``<id>``: lower case, ``[a-z][a-z0-9_]*``) holding

- ``__init__.py``  -- empty docstring; makes the folder a package (judge.py, packaging);
- ``check.toml``   -- the declaration below;
- ``fix.toml``     -- what an employee does to fix it (the fix content; see agent/fixes.py);
- ``judge.py``     -- optional: ``judge(fact, policy, platform) -> verdicts.Judgement``, the
                      same signature as the judges in agent/verdicts.py (``JUDGES``). A check
                      has exactly one judge: here or in ``verdicts.JUDGES``, never both;

and one probe per declared platform: ``probes/<platform>/<id>.py`` with
``probe(host) -> Fact``, listed in that platform's ``probes/<platform>/__init__.py``
``CHECKS`` (or, for a probe that is the same everywhere, ``probes.COMMON``).

check.toml schema
-----------------
::

    id = "screen_lock"                       # required; the folder's name
    title = "Screen lock"                    # required; shown to employees (pages, tray, server)
    platforms = ["darwin", "windows", "linux"]  # required; where the check applies (non-empty,
                                             # from darwin / windows / linux). Elsewhere its
                                             # status is skip: "only on macOS".
    level = "required"                       # required; default level: required|suggested|off
    order = 30                               # required; unique whole number: its place in
                                             # reports, pages and lists (lower first)

    [params.max_seconds]                     # optional; one table per policy setting
    type = "seconds"                         # required; one of PARAM_TYPES (below)
    default = 900                            # required; the built-in policy's value
    unit = "seconds"                         # optional; for people reading the file
    help = "idle time + lock delay"          # optional; one line for people reading the file

Parameter types (PARAM_TYPES; agent/policy.py validates values and words the errors):

- ``seconds``            a whole number >= 0
- ``bool``               true or false
- ``names``              a list of text, e.g. ["1Password"]
- ``names_by_platform``  a list of text, or a table of darwin / windows / linux lists
- ``version_table``      a table of lower-case OS id = "version number"

No other keys are allowed (a typo is an error, not a silent default). The files are read
once, when this module is first imported; a broken declaration raises RegistryError
naming the file (a developer's mistake: the contract test catches it first).

Probes do not import agent/ (DESIGN's one-way flow): the agent passes the ids it wants
to ``probes.probe_all(host, ids)`` (or takes ``probes.probe_functions(platform)``);
probes/ itself only knows which probe modules it has.
"""
from __future__ import annotations

import importlib
import importlib.util
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Callable

from ..tomlcompat import TOMLDecodeError, tomllib

PLATFORMS = ("darwin", "windows", "linux")
PLATFORM_NAMES = {"darwin": "macOS", "windows": "Windows", "linux": "Linux"}
LEVELS = ("required", "suggested", "off")
PARAM_TYPES = ("seconds", "bool", "names", "names_by_platform", "version_table")

_ID = re.compile(r"[a-z][a-z0-9_]*")
_CHECK_KEYS = {"id", "title", "platforms", "level", "order", "params"}
_PARAM_KEYS = {"type", "default", "unit", "help"}


class RegistryError(ValueError):
    """A check.toml that cannot be used; the message names the file and key."""


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: Any
    unit: str = ""
    help: str = ""


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    platforms: tuple[str, ...]
    level: str
    order: int
    params: dict[str, Param] = field(default_factory=dict)

    def applies_to(self, platform: str) -> bool:
        return platform in self.platforms

    def not_applicable_reason(self) -> str:
        """"only on macOS", "only on macOS and Windows"."""
        names = [PLATFORM_NAMES[p] for p in self.platforms]
        return "only on " + " and ".join(names)

    def defaults(self) -> dict[str, Any]:
        """The built-in policy table of this check: level, then each parameter's default."""
        return {"level": self.level, **{p.name: p.default for p in self.params.values()}}


def _fail(source: str, message: str) -> RegistryError:
    return RegistryError(f"{source}: {message}")


def parse_check(data: dict, folder: str, source: str) -> Check:
    """One check.toml's table -> Check; raises RegistryError naming ``source``."""
    unknown = set(data) - _CHECK_KEYS
    if unknown:
        raise _fail(source, f"unknown key {sorted(unknown)[0]!r} (known: {', '.join(sorted(_CHECK_KEYS))})")
    for key in ("id", "title", "platforms", "level", "order"):
        if key not in data:
            raise _fail(source, f"{key} is missing")
    cid, title, platforms, level, order = (data[k] for k in ("id", "title", "platforms", "level", "order"))
    if not isinstance(cid, str) or not _ID.fullmatch(cid) or cid != folder:
        raise _fail(source, f"id must be the folder's name {folder!r} (got {cid!r})")
    if not isinstance(title, str) or not title.strip():
        raise _fail(source, "title must be non-empty text")
    if (not isinstance(platforms, list) or not platforms
            or any(p not in PLATFORMS for p in platforms) or len(set(platforms)) != len(platforms)):
        raise _fail(source, f"platforms must be a non-empty list from {', '.join(PLATFORMS)}")
    if level not in LEVELS:
        raise _fail(source, f"level must be one of {', '.join(LEVELS)} (got {level!r})")
    if not isinstance(order, int) or isinstance(order, bool):
        raise _fail(source, "order must be a whole number")
    params: dict[str, Param] = {}
    raw = data.get("params", {})
    if not isinstance(raw, dict):
        raise _fail(source, "params must be a table of tables")
    for name, spec in raw.items():
        where = f"params.{name}"
        if name == "level" or not _ID.fullmatch(name):
            raise _fail(source, f"{where}: not a usable setting name")
        if not isinstance(spec, dict):
            raise _fail(source, f"{where} must be a table")
        extra = set(spec) - _PARAM_KEYS
        if extra:
            raise _fail(source, f"{where}: unknown key {sorted(extra)[0]!r}")
        if spec.get("type") not in PARAM_TYPES:
            raise _fail(source, f"{where}.type must be one of {', '.join(PARAM_TYPES)}")
        if "default" not in spec:
            raise _fail(source, f"{where}.default is missing")
        for key in ("unit", "help"):
            if not isinstance(spec.get(key, ""), str):
                raise _fail(source, f"{where}.{key} must be text")
        params[name] = Param(name, spec["type"], spec["default"], spec.get("unit", ""), spec.get("help", ""))
    return Check(cid, title.strip(), tuple(platforms), level, order, params)


@lru_cache(maxsize=1)
def _load() -> tuple[Check, ...]:
    root = resources.files(__name__)
    found: list[Check] = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if not entry.is_dir() or entry.name.startswith(("_", ".")):
            continue
        path = entry.joinpath("check.toml")
        source = f"agent/checks/{entry.name}/check.toml"
        if not path.is_file():
            raise _fail(source, "missing (every folder under agent/checks is one check)")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (TOMLDecodeError, UnicodeDecodeError) as exc:
            raise _fail(source, f"not valid TOML: {exc}") from None
        found.append(parse_check(data, entry.name, source))
    orders: dict[int, str] = {}
    for check in found:
        if check.order in orders:
            raise _fail(f"agent/checks/{check.id}/check.toml",
                        f"order {check.order} is also {orders[check.order]}'s")
        orders[check.order] = check.id
    return tuple(sorted(found, key=lambda c: c.order))


def all_checks() -> tuple[Check, ...]:
    """Every declared check, in report order."""
    return _load()


def ids() -> tuple[str, ...]:
    return tuple(c.id for c in _load())


def get(check_id: str) -> Check | None:
    for check in _load():
        if check.id == check_id:
            return check
    return None


def titles() -> dict[str, str]:
    return {c.id: c.title for c in _load()}


def on_platform(platform: str) -> tuple[str, ...]:
    """The ids of the checks that apply on ``platform``, in report order."""
    return tuple(c.id for c in _load() if platform in c.platforms)


def has_own_judge(check_id: str) -> bool:
    """Whether ``agent/checks/<id>/judge.py`` exists. Asked of the import system, not the
    file system: in the frozen build (PyInstaller) the module lives in the archive, not in a
    file beside check.toml."""
    if not _ID.fullmatch(check_id):
        return False
    try:
        return importlib.util.find_spec(f"{__name__}.{check_id}.judge") is not None
    except ModuleNotFoundError:     # no agent/checks/<id>/ package at all
        return False


@lru_cache(maxsize=None)
def own_judge(check_id: str) -> Callable | None:
    """``agent.checks.<id>.judge.judge`` when the check has a judge.py, else None."""
    if not _ID.fullmatch(check_id) or not has_own_judge(check_id):
        return None
    return importlib.import_module(f"{__name__}.{check_id}.judge").judge
