"""Fix instructions: what an employee does to fix each check, per OS and release.

The words are data, not code: each check's texts, steps, links, menu paths and commands live in
``agent/checks/<check_id>/fix.toml``, the phrases all checks share in ``agent/fixes.toml``. This
module loads them once (lazily, on the first fix asked for), picks the entry for the OS release,
desktop and Windows edition, and fills in the placeholders. The link is chosen by the OS release,
never by trying one link after another, because macOS opens any unknown settings pane as
"General" without an error; the written menu path always goes with the link so a dead link still
leaves the person able to get there. ``docs/DEEPLINKS.md`` is generated from the same files
(``python3 -m agent.fixes --deeplinks > docs/DEEPLINKS.md``); the research behind the links, with
sources, is docs/DEEPLINKS-RESEARCH.md.

    fix_for(check_id, platform, os_version, desktop=..., observed=...) -> dict

never raises: an unknown check, platform or a garbage version gives a usable answer (an error
in the code is logged with the check id and answered with "Contact IT").

fix.toml schema (``validate()`` checks it; tests/test_fixes.py runs it on every file)::

    title = "Disk encryption"          # required: the check's name on every page
    why = "One sentence."              # required: why it matters, no ". " inside, <= 200 chars
    [why_platform]                     # optional: a different why per OS (darwin/windows/linux)
    darwin = "..."

    [darwin.<band>]                    # macOS: band = old | 12 | 13 | 14 | 15 | 26; an entry is
    [windows.<band>]                   # used from its band on until the next one given. Windows:
                                       # band = 10 | 11 (build >= 22000)
    link = "x-apple.systempreferences:..."   # optional: a scheme of LINK_SCHEMES
    open = ["control.exe", "..."]      # optional: the command the agent runs (else from link)
    menu_path = "System Settings > ..." # required with a link: where to click by hand
    menu_path_any = "..."              # optional: the menu path when the release is unknown
    steps = ["Sentence.", ...]         # steps; checks with tailored fixes use named step lists
    hint = "One line, <= 100 chars."   # (steps_*, hint_*: see the check's own fix.toml)
    needs_it = true                    # optional: only IT can fix it
    note = "..."                       # optional: research note, shown in DEEPLINKS.md only

    [windows.variants.<name>.<band>]   # Windows: entries picked by state or edition
    [windows.text] / [linux]           # per-OS phrases and commands (see the check's builder)
    [all]                              # one fix for every OS (security_software)

Every string is one line; ``{placeholders}`` are filled in by the builder (see PLACEHOLDERS).
A check exists on an OS when its fix.toml has a table for it (or ``[all]``).
"""
from __future__ import annotations

import functools
import logging
import re
import string
from pathlib import Path
from typing import Any

from .tomlcompat import tomllib

log = logging.getLogger("checkup.fixes")

HERE = Path(__file__).parent
CHECKS_DIR = HERE / "checks"
SHARED_FILE = HERE / "fixes.toml"

PLATFORMS = ("darwin", "windows", "linux")
# Schemes a fix page may put behind a button (DEEPLINKS-RESEARCH §4). Everything else is a command.
LINK_SCHEMES: tuple[str, ...] = (
    "x-apple.systempreferences:", "ms-settings:", "windowsdefender:", "macappstore:")
PLACEHOLDERS = frozenset({"minutes", "switches", "profiles", "name", "names", "device", "menu",
                          "command", "backend", "tool", "distro"})

_MAC_BANDS = ("old", "12", "13", "14", "15", "26")
_MAC_CURRENT = "26"
_WIN_BANDS = ("10", "11")
_WIN_CURRENT = "11"
_BANDS = {"darwin": _MAC_BANDS, "windows": _WIN_BANDS}
_COMMAND_INLINE_MAX = 110
_DEFAULT_MINUTES = 5

# --------------------------------------------------------------------------------------
# Loading (once, on first use) and validation
# --------------------------------------------------------------------------------------


def fix_file(check_id: str) -> Path:
    return CHECKS_DIR / check_id / "fix.toml"


def check_ids() -> list[str]:
    """Every check that has a fix.toml, sorted."""
    return sorted(p.parent.name for p in CHECKS_DIR.glob("*/fix.toml"))


@functools.cache
def _data() -> tuple[dict[str, dict], dict]:
    checks = {}
    for check_id in check_ids():
        with fix_file(check_id).open("rb") as f:
            checks[check_id] = tomllib.load(f)
    with SHARED_FILE.open("rb") as f:
        shared = tomllib.load(f)
    return checks, shared


def _check(check_id: str) -> dict:
    return _data()[0].get(check_id, {})


def _s() -> dict:
    return _data()[1]


def _titles() -> dict[str, str]:
    """Titles come from the registry (agent/checks/<id>/check.toml)."""
    from . import checks
    return checks.titles()


def _platform_checks() -> dict[str, tuple[str, ...]]:
    """Which checks exist on each OS: the registry's declaration."""
    from . import checks
    return {p: checks.on_platform(p) for p in checks.PLATFORMS}


def __getattr__(name: str) -> Any:
    # CHECK_TITLES and PLATFORM_CHECKS read the files on first use, not at import.
    if name == "CHECK_TITLES":
        return _titles()
    if name == "PLATFORM_CHECKS":
        return _platform_checks()
    raise AttributeError(name)


def _strings(value: Any, where: str):
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{where}[{i}]")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{where}.{k}")


def validate(check_id: str, data: dict) -> list[str]:
    """What is wrong with one fix.toml (empty when nothing is)."""
    errors = []
    for key in ("title", "why"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            errors.append(f"{key}: a non-empty string is required")
    why = [data.get("why")] + list((data.get("why_platform") or {}).values())
    for w in why:
        if isinstance(w, str) and (". " in w or len(w) > 200):
            errors.append(f"why: one sentence of at most 200 characters: {w!r}")
    for key in set(data.get("why_platform") or {}) - set(PLATFORMS):
        errors.append(f"why_platform.{key}: not an OS")
    known = {"title", "why", "why_platform", "all", "state_names", "states", *PLATFORMS}
    for key in set(data) - known:
        errors.append(f"{key}: unknown table (allowed: {', '.join(sorted(known))})")
    if not any(p in data for p in (*PLATFORMS, "all")):
        errors.append("no OS table: add [darwin.<band>], [windows.<band>], [linux] or [all]")
    for plat, bands in _BANDS.items():
        table = data.get(plat)
        if table is None:
            continue
        groups = {"": {k: v for k, v in table.items() if k not in ("variants", "text")}}
        groups.update({f"variants.{n}.": v for n, v in (table.get("variants") or {}).items()})
        for prefix, entries in groups.items():
            if not entries:
                errors.append(f"{plat}.{prefix}: no band entry")
            for band, e in entries.items():
                where = f"{plat}.{prefix}{band}"
                if band not in bands:
                    errors.append(f"{where}: unknown band (allowed: {', '.join(bands)})")
                    continue
                if not isinstance(e, dict):
                    errors.append(f"{where}: must be a table")
                    continue
                link = e.get("link")
                if link is not None and not (isinstance(link, str) and link.startswith(LINK_SCHEMES)):
                    errors.append(f"{where}.link: must start with one of {LINK_SCHEMES}")
                if link and not e.get("menu_path"):
                    errors.append(f"{where}: a link needs its menu_path")
                for k in ("open", "idle_open"):
                    v = e.get(k)
                    if v is not None and not (isinstance(v, list) and v and all(isinstance(a, str) for a in v)):
                        errors.append(f"{where}.{k}: a list of strings")
                if not any(k == "steps" or k.startswith("steps_") for k in e):
                    errors.append(f"{where}: no steps")
                if not any(k == "hint" or k.startswith("hint_") for k in e):
                    errors.append(f"{where}: no hint")
    for where, text in _strings({k: v for k, v in data.items()}, check_id):
        if "\n" in text:
            errors.append(f"{where}: one line only")
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
        except ValueError as exc:
            errors.append(f"{where}: bad placeholder ({exc})")
            continue
        for f in fields - PLACEHOLDERS:
            errors.append(f"{where}: unknown placeholder {{{f}}}")
    return errors

# --------------------------------------------------------------------------------------
# Facts the builders pick by (not employee text)
# --------------------------------------------------------------------------------------

# EditionID values: Home editions have device encryption only; these have BitLocker.
_WIN_HOME_EDITIONS = ("core", "corecountryspecific", "coresinglelanguage", "coren")
_WIN_BITLOCKER_EDITIONS = ("professional", "enterprise", "education", "professionaleducation",
                           "professionalworkstation", "enterprises", "professionaln", "enterprisen",
                           "educationn")

# Desktop version of each distribution release as shipped (for picking panel ids).
_UBUNTU_GNOME = {"20.04": 3.36, "20.10": 3.38, "21.04": 3.38, "21.10": 40, "22.04": 42, "22.10": 43,
                 "23.04": 44, "23.10": 45, "24.04": 46, "24.10": 47, "25.04": 48, "25.10": 49}
_UBUNTU_PLASMA = {"20.04": 5.18, "20.10": 5.19, "21.04": 5.21, "21.10": 5.22, "22.04": 5.24, "22.10": 5.25,
                  "23.04": 5.27, "23.10": 5.27, "24.04": 5.27, "24.10": 6.1, "25.04": 6.3, "25.10": 6.4}
_FEDORA_GNOME = {34: 40, 35: 41, 36: 42, 37: 43, 38: 44, 39: 45, 40: 46, 41: 47, 42: 48, 43: 49}
_DEBIAN_GNOME = {10: 3.30, 11: 3.38, 12: 43, 13: 48}
_DEBIAN_PLASMA = {10: 5.14, 11: 5.20, 12: 5.27, 13: 6.3}
_FEDORA_PLASMA = {**{n: 5.2 for n in range(36)}, **{n: 5.27 for n in range(36, 40)}, 40: 6.0}
# (desktop, distribution) -> (known releases, the version assumed for any newer release)
_DESKTOP_VERSIONS = {
    ("gnome", "ubuntu"): (_UBUNTU_GNOME, 49), ("kde", "ubuntu"): (_UBUNTU_PLASMA, 6.4),
    ("gnome", "fedora"): (_FEDORA_GNOME, 49), ("kde", "fedora"): (_FEDORA_PLASMA, 6.0),
    ("gnome", "debian"): (_DEBIAN_GNOME, 48), ("kde", "debian"): (_DEBIAN_PLASMA, 6.3),
}


# --------------------------------------------------------------------------------------
# Version parsing (never raises)
# --------------------------------------------------------------------------------------


def _numbers(version: Any) -> list[int]:
    if not isinstance(version, str):
        return []
    head = re.match(r"\s*(\d+(?:\.\d+)*)", version)
    if not head:
        return []
    try:
        return [int(p) for p in head.group(1).split(".")]
    except ValueError:
        return []


def _mac_band(version: Any) -> str | None:
    """The macOS band for a ProductVersion, or None when unknown."""
    nums = _numbers(version)
    if not nums:
        return None
    major = nums[0]
    if major == 10:
        minor = nums[1] if len(nums) > 1 else 0
        return "old" if minor < 14 else "12"
    if major in (11, 12):
        return "12"
    if major in (13, 14, 15):
        return str(major)
    if major >= 26 and major < 100:
        return "26"
    return None  # 1-9, 16-25, absurd numbers: not a real macOS version


def _win_band(version: Any) -> str | None:
    """"10" or "11" from 10.0.<build>[.<ubr>] (build >= 22000 is Windows 11), None when unknown."""
    nums = _numbers(version)
    if len(nums) >= 3 and nums[0] == 10 and nums[1] == 0:
        build = nums[2]
        if build >= 22000:
            return "11"
        if build >= 10240:
            return "10"
    return None


def _pick(table: dict[str, Any], bands: tuple[str, ...], band: str) -> dict[str, Any]:
    """The entry that applies to ``band``: the latest one given at or before it."""
    i = bands.index(band)
    for b in reversed(bands[: i + 1]):
        if b in table:
            return table[b]
    for b in bands[i + 1:]:
        if b in table:
            return table[b]
    raise KeyError(band)


def _linux_distro(version: Any, observed: dict) -> str | None:
    hint = str(observed.get("id") or observed.get("distro") or "").lower()
    if hint in ("ubuntu", "fedora", "debian"):
        return hint
    if hint in ("pop", "linuxmint", "elementary", "zorin", "neon"):
        return None
    if not isinstance(version, str):
        return None
    v = version.strip().strip('"')
    if re.fullmatch(r"\d{2}\.(04|10)", v):
        return "ubuntu"
    if re.fullmatch(r"\d{2}", v) and 30 <= int(v) <= 99:
        return "fedora"
    if re.fullmatch(r"\d{1,2}", v) and 7 <= int(v) <= 20:
        return "debian"
    return None


def _desktop_version(desktop: str, distro: str | None, version: Any) -> float | None:
    """GNOME or Plasma version shipped with this release (None when not known)."""
    known = _DESKTOP_VERSIONS.get((desktop, distro))
    if known is None or not isinstance(version, str):
        return None
    table, newer = known
    v = version.strip().strip('"')
    try:
        key: Any = v if distro == "ubuntu" else int(v)  # Ubuntu releases compare as "YY.MM" text
    except ValueError:
        return None
    if key in table:
        return table[key]
    return newer if key > max(table) else None


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def _quoted_list(items: list[str]) -> str:
    quoted = [f'"{i}"' for i in items]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + f" {_s()['and']} " + quoted[-1]


def _plain_list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {_s()['and']} " + items[-1]


def _minutes(observed: dict) -> int:
    """Minutes to suggest: 5, or less when the policy's limit is known to be lower."""
    limit = observed.get("max_seconds")
    if isinstance(limit, (int, float)) and not isinstance(limit, bool) and limit >= 60:
        return max(1, min(_DEFAULT_MINUTES, int(limit // 60)))
    return _DEFAULT_MINUTES


def _result(check_id: str, platform: str, *, steps: list[str], hint: str, link: str | None = None,
            menu_path: str | None = None, open_argv: list[str] | None = None,
            command: str | None = None, needs_it: bool = False) -> dict:
    c = _check(check_id)
    return {
        "title": _titles().get(check_id) or check_id.replace("_", " ").capitalize(),
        "why": (c.get("why_platform") or {}).get(platform) or c.get("why") or _s()["why_generic"],
        "steps": [s for s in steps if s],
        "link": link,
        "menu_path": menu_path,
        "open": list(open_argv) if open_argv else None,
        "command": command,
        "hint": " ".join(hint.split()),
        "needs_it": bool(needs_it),
    }


def _paste(command: str) -> str:
    if len(command) > _COMMAND_INLINE_MAX:
        return _s()["paste_long"]
    return _s()["paste"].format(command=command)


def _device(platform: str) -> str:
    names = _s()["your_device"]
    return names.get(platform, names["other"])


def _terminal(desktop: str | None) -> str:
    return _s()["terminal"][desktop or "other"]


def _open_for(link: str | None, platform: str) -> list[str] | None:
    if not link:
        return None
    if platform == "darwin":
        return ["/usr/bin/open", link]
    if platform == "windows":
        return ["explorer.exe", link]
    return None


def _state_text(platform: str) -> dict[str, dict[str, Any]]:
    d = _check("disk_encryption")
    name = d["state_names"].get(platform, d["state_names"]["other"])
    device = _device(platform)
    return {state: {"steps": [x.format(name=name, device=device, menu="{menu}") for x in t["steps"]],
                    "hint": t["hint"].format(name=name, device=device)}
            for state, t in d["states"].items()}


# --------------------------------------------------------------------------------------
# macOS
# --------------------------------------------------------------------------------------


def _fix_darwin(check_id: str, version: Any, observed: dict) -> dict:
    band = _mac_band(version)
    known = band is not None
    band = band or _MAC_CURRENT
    minutes = _minutes(observed)

    if check_id == "security_software":
        return _fix_security_software("darwin", observed)
    table = _check(check_id).get("darwin")
    if table is None:
        return _not_applicable(check_id, "darwin")
    e = _pick(table, _MAC_BANDS, band)
    link = e.get("link")
    menu = e.get("menu_path") if known else e.get("menu_path_any", e.get("menu_path"))
    open_argv = _open_for(link, "darwin")
    hint = e.get("hint", "")
    needs_it = e.get("needs_it", False)

    if check_id == "disk_encryption":
        steps = list(e["steps"])
        state = observed.get("state")
        if state in ("encrypting", "decrypting"):
            st = _state_text("darwin")[state]
            head = [s.format(menu=menu) for s in st["steps"]]
            steps = head if state == "encrypting" else head + steps
            hint = st["hint"]
        return _result(check_id, "darwin", steps=steps, hint=hint, link=link, menu_path=menu,
                       open_argv=open_argv)

    if check_id == "screen_lock":
        enabled = observed.get("enabled")
        idle = observed.get("idle_seconds")
        delay = observed.get("lock_delay_seconds")
        need_pw = enabled is False or (isinstance(delay, int) and delay > 5)
        need_idle = isinstance(idle, int) and (idle == 0 or idle > minutes * 60)
        if not need_pw and not need_idle:
            need_pw = need_idle = True
        steps: list[str] = []
        if need_pw:
            steps += e["steps_password"]
        if need_idle:
            idle_steps = [s.format(minutes=minutes) for s in e["steps_idle"]]
            if not need_pw:
                steps += e["steps_idle_intro"]
            steps += idle_steps
        if need_idle and not need_pw and "idle_open" in e:
            # 12 and earlier: the screen saver pane has no link; open its prefPane file.
            return _result(check_id, "darwin", steps=steps,
                           hint=e["hint_idle"].format(minutes=minutes), link=None,
                           menu_path=e["idle_menu_path"], open_argv=e["idle_open"])
        return _result(check_id, "darwin", steps=steps, hint=hint, link=link, menu_path=menu,
                       open_argv=open_argv)

    if check_id == "automatic_updates":
        switches_map: dict[str, str] = e["switches"]
        off = observed.get("settings_off")
        names = [switches_map[k] for k in switches_map if isinstance(off, (list, tuple)) and k in off]
        if not names:
            names = list(switches_map.values())
        steps = [s.format(switches=_quoted_list(names)) for s in e["steps"]]
        return _result(check_id, "darwin", steps=steps, hint=hint, link=link, menu_path=menu,
                       open_argv=open_argv)

    return _result(check_id, "darwin", steps=list(e["steps"]), hint=hint, link=link, menu_path=menu,
                   open_argv=open_argv, needs_it=needs_it)


# --------------------------------------------------------------------------------------
# Windows
# --------------------------------------------------------------------------------------


def _fix_windows(check_id: str, version: Any, observed: dict) -> dict:
    band = _win_band(version)
    known = band is not None
    band = band or _WIN_CURRENT
    minutes = _minutes(observed)

    if check_id == "security_software":
        return _fix_security_software("windows", observed)

    data = _check(check_id).get("windows", {})
    text = data.get("text", {})

    def entry(variant: str | None = None) -> tuple[dict, str | None]:
        e = _pick(data["variants"][variant] if variant else data, _WIN_BANDS, band)
        menu = e.get("menu_path") if known else e.get("menu_path_any", e.get("menu_path"))
        return e, menu

    def simple(e: dict, menu: str | None, steps: list[str], hint: str | None = None,
               needs_it: bool | None = None) -> dict:
        link = e.get("link")
        open_argv = e.get("open") or _open_for(link, "windows")
        return _result(check_id, "windows", steps=steps, hint=hint or e.get("hint", ""), link=link,
                       menu_path=menu, open_argv=open_argv,
                       needs_it=e.get("needs_it", False) if needs_it is None else needs_it)

    if check_id == "disk_encryption":
        state = observed.get("state")
        edition = str(observed.get("edition") or "").lower()
        if observed.get("encryptable") is False:
            e, menu = entry("not_encryptable")
            return simple(e, menu, list(e["steps"]))
        if state == "suspended":
            e, menu = entry("suspended")
            return simple(e, menu, list(e["steps"]))
        key = "bitlocker" if edition in _WIN_BITLOCKER_EDITIONS else None
        e, menu = entry(key)
        steps = list(e["steps"])
        if edition in _WIN_HOME_EDITIONS:
            steps = [s for s in steps if "Manage BitLocker" not in s]
        hint = e["hint"]
        if state in ("encrypting", "decrypting"):
            st = _state_text("windows")[state]
            head = [s.format(menu=menu) for s in st["steps"]]
            steps = head if state == "encrypting" else head + steps
            hint = st["hint"]
        else:
            steps.insert(len(steps) - 2, _s()["admin_denied"]["windows"])
        return simple(e, menu, steps, hint)

    if check_id == "firewall":
        e, menu = entry()
        profiles = observed.get("profiles")
        off = [p for p in ("domain", "private", "public")
               if isinstance(profiles, dict) and profiles.get(p) is False]
        which = _plain_list([text["profile_names"][p] for p in off]) if off else text["all_profiles"]
        if len(off) > 1:
            which = text["each_of"].format(profiles=which)
        steps = [s.format(profiles=which) for s in e["steps"]] + [_s()["admin_denied"]["windows"]]
        return simple(e, menu, steps)

    if check_id == "screen_lock":
        e, menu = entry()
        return simple(e, menu, [s.format(minutes=minutes) for s in e["steps"]])

    if check_id == "system_integrity":
        e, menu = entry()
        uac, sb = observed.get("uac"), observed.get("secure_boot")
        if uac is False and sb is not False:
            which = "uac"
        elif sb is False and uac is not False:
            which = "secure_boot"
        else:
            which = "both"
        steps = list(e[f"steps_{which}"]) + list(e["steps_end"])
        return simple(e, menu, steps, e[f"hint_{which}"])

    if check_id == "remote_login":
        e, menu = entry()
        steps = list(e["steps"])
        steps.insert(len(steps) - 1, _s()["admin_denied"]["windows"])
        return simple(e, menu, steps)

    if check_id == "antivirus":
        e, menu = entry()
        products = observed.get("products")
        if isinstance(products, list) and not products:
            return simple(e, menu, list(e["steps_none"]), e["hint_none"], needs_it=True)
        plist = [p for p in products if isinstance(p, dict)] if isinstance(products, list) else []
        if plist and any(p.get("enabled") and p.get("up_to_date") for p in plist):
            plist = []  # something already protects the PC: give the default steps
        defender = [p for p in plist if "defender" in str(p.get("name", "")).lower()]
        others = [p for p in plist if p not in defender]
        if others and not defender:
            name = str(others[0].get("name") or text["unnamed_product"])
            steps = [s.format(name=name) for s in e["steps_other"]]
            hint = e["hint_other"].format(name=name)
            if len(hint) > 95:
                hint = e["hint"]
            return _result(check_id, "windows", steps=steps, hint=hint, link=None, menu_path=None,
                           open_argv=None)
        steps = list(e["steps_open"])
        d = defender[0] if defender else {}
        if not d or d.get("enabled") is not True:
            steps += e["steps_enable"]
        if not d or d.get("up_to_date") is not True:
            steps += e["steps_update"]
        if d.get("enabled") is True and d.get("up_to_date") is False:
            return simple(e, menu, steps, e["hint_update"])
        return simple(e, menu, steps)

    if check_id in ("os_version", "automatic_updates"):
        e, menu = entry()
        if check_id == "os_version" and observed.get("end_of_life") is True and "steps_ended" in e:
            return simple(e, menu, list(e["steps_ended"]), e["hint_ended"])
        return simple(e, menu, list(e["steps"]))

    return _not_applicable(check_id, "windows")


# --------------------------------------------------------------------------------------
# Linux
# --------------------------------------------------------------------------------------


def _band_row(bands: list[dict], version: float | None) -> dict | None:
    """The band row for a GNOME/Plasma version (the last row whose "from" it reaches); the
    current one when the version is unknown, None when it is older than every row."""
    if version is None:
        return bands[-1]
    chosen = None
    for row in bands:
        if version >= row["from"]:
            chosen = row
    return chosen


def _fix_linux(check_id: str, version: Any, desktop: str | None, observed: dict) -> dict:
    desktop = desktop if desktop in ("gnome", "kde") else None
    distro = _linux_distro(version, observed)
    gnome = _desktop_version("gnome", distro, version) if desktop == "gnome" else None
    plasma = _desktop_version("kde", distro, version) if desktop == "kde" else None
    minutes = _minutes(observed)
    t = _check(check_id).get("linux")

    if check_id == "security_software":
        return _fix_security_software("linux", observed)
    if t is None:
        return _not_applicable(check_id, "linux")

    if check_id == "disk_encryption":
        return _result(check_id, "linux", steps=list(t["steps"]), hint=t["hint"], needs_it=bool(t.get("needs_it")))

    if check_id == "firewall":
        backend = observed.get("backend")
        if backend in ("nftables", "iptables"):
            return _result(check_id, "linux", steps=[s.format(backend=backend) for s in t["manual_steps"]],
                           hint=t["manual_hint"], needs_it=True)
        if backend == "firewalld" or (backend != "ufw" and distro == "fedora"):
            command = t["commands"]["firewalld"]
        elif distro == "debian":
            command = t["commands"]["ufw_install"]
        else:
            command = t["commands"]["ufw"]
        if desktop == "kde":
            kcm = t["kde_open_5"] if plasma is not None and plasma < 6 else t["kde_open"]
            steps = [s.format(command=command) for s in t["kde_steps"]]
            return _result(check_id, "linux", steps=steps, hint=t["hint_kde"],
                           menu_path=t["kde_menu_path"], open_argv=kcm, command=command)
        steps = [_terminal(desktop), _paste(command)]
        hint = t["hint"].format(command=command)
        return _result(check_id, "linux", steps=steps, hint=hint, command=command)

    if check_id == "screen_lock":
        if desktop == "gnome":
            g = t["gnome"]
            row = _band_row(g["bands"], gnome)
            if row is None:  # GNOME older than 40: no confirmed panel id
                menu, open_argv, extra = g["menu_path_any"], None, None
            else:
                open_argv, menu, extra = row.get("open"), row["menu_path"], row.get("step")
                if gnome is None:
                    menu = g["menu_path_any"]
            steps = [g["steps_open"].format(menu=menu), extra] + \
                [s.format(minutes=minutes) for s in g["steps"]]
            return _result(check_id, "linux", steps=steps, hint=g["hint"].format(menu=menu), menu_path=menu,
                           open_argv=open_argv)
        if desktop == "kde":
            k = t["kde"]
            if plasma is None:
                menu, open_argv = k["menu_path_any"], k["open_any"]
            else:
                row = _band_row(k["bands"], plasma) or k["bands"][0]
                menu, open_argv = row["menu_path"], row.get("open")
            steps = [k["steps_open"].format(menu=menu)] + [s.format(minutes=minutes) for s in k["steps"]]
            return _result(check_id, "linux", steps=steps, hint=k["hint"].format(menu=menu), menu_path=menu,
                           open_argv=open_argv)
        g = t["generic"]
        return _result(check_id, "linux", steps=[s.format(minutes=minutes) for s in g["steps"]],
                       hint=g["hint"].format(minutes=minutes))

    if check_id == "os_version":
        tool = t["tools"].get(distro or "other", {}).get(desktop or "other", t["tool_default"])
        names = _s()["distro_names"]
        name = names.get(distro or "other", names["other"])
        steps = [s.format(tool=tool, distro=name) for s in t["steps"]]
        if tool == t["tool_default"]:
            steps[1] = t["step_open_default_tool"].format(tool=tool)  # no quotes around it
        open_argv = t.get("open", {}).get(distro or "other", {}).get(desktop or "other")
        return _result(check_id, "linux", steps=steps, hint=t["hint"].format(distro=name),
                       open_argv=open_argv)

    if check_id == "automatic_updates":
        family = observed.get("family")
        if family == "arch":
            # Arch has no supported automatic updater: the fix is updating by hand, regularly.
            command = t["commands"]["arch"]
            steps = [_terminal(desktop), _paste(command), *t["arch_steps_end"]]
            return _result(check_id, "linux", steps=steps, hint=t["arch_hint"], command=command)
        if family == "fedora" and distro != "fedora":
            # RHEL, CentOS, Rocky, AlmaLinux: dnf4, or yum-cron up to version 7
            nums = _numbers(version)
            command = t["commands"]["yum_cron" if nums and nums[0] <= 7 else "fedora_dnf4"]
            steps = [_terminal(desktop), _paste(command)]
            return _result(check_id, "linux", steps=steps, hint=t["hint"], command=command)
        if family == "debian" and distro not in ("ubuntu", "debian"):
            distro = "debian"  # Mint, Pop!_OS, elementary, Zorin...: the unattended-upgrades command
        if distro == "ubuntu" and desktop == "gnome":
            return _result(check_id, "linux", steps=list(t["ubuntu_gnome_steps"]),
                           hint=t["ubuntu_gnome_hint"], menu_path=t["ubuntu_gnome_menu_path"],
                           open_argv=t["ubuntu_gnome_open"], command=t["commands"]["debian"])
        if distro in ("ubuntu", "debian"):
            command = t["commands"]["debian"]
            steps = [_terminal(desktop), _paste(command), t["debian_steps_end"]]
            return _result(check_id, "linux", steps=steps, hint=t["hint"], command=command)
        if distro == "fedora":
            nums = _numbers(version)
            command = t["commands"]["fedora_dnf5" if nums and nums[0] >= 41 else "fedora_dnf4"]
            steps = [_terminal(desktop), _paste(command)]
            return _result(check_id, "linux", steps=steps, hint=t["hint"], command=command)
        return _result(check_id, "linux", steps=list(t["generic_steps"]), hint=t["generic_hint"])

    if check_id == "system_integrity":
        steps = list(t["steps"])
        menu = open_argv = None
        if desktop == "gnome":
            row = _band_row(t["gnome_bands"], gnome)
            if row is not None:
                open_argv, menu = row.get("open"), row["menu_path"]
                steps.append(t["gnome_step"].format(menu=menu))
        return _result(check_id, "linux", steps=steps, hint=t["hint"], menu_path=menu,
                       open_argv=open_argv, needs_it=bool(t.get("needs_it")))

    if check_id == "remote_login":
        family = "debian" if distro in ("ubuntu", "debian") else distro
        command = t["commands"].get(family or "other", t["commands"]["other"])
        if desktop == "gnome":
            row = _band_row(t["gnome_bands"], gnome)
            if row is not None:
                open_argv, menu, toggle = row.get("open"), row["menu_path"], row.get("step")
                steps = [t["gnome_steps_open"].format(menu=menu), toggle,
                         t["or_command"].format(command=command), t["exception"]]
                hint = t["hint_gnome"].format(menu=menu)
                if len(hint) > 95:
                    hint = t["hint"].format(command=command)
                return _result(check_id, "linux", steps=steps, hint=hint, menu_path=menu,
                               open_argv=open_argv, command=command)
        steps = [_terminal(desktop), _paste(command), t["exception"]]
        return _result(check_id, "linux", steps=steps, hint=t["hint"].format(command=command),
                       command=command)

    return _not_applicable(check_id, "linux")


# --------------------------------------------------------------------------------------
# Shared
# --------------------------------------------------------------------------------------


def _fix_security_software(platform: str, observed: dict) -> dict:
    s = _check("security_software")["all"]
    missing = observed.get("missing")
    names = [str(n) for n in missing if n] if isinstance(missing, (list, tuple)) else []
    names_text = _plain_list(names) if names else s["names_default"]
    device = _device(platform)
    steps = [s["restart"].get(platform, s["restart"]["other"])] + \
        [x.format(names=names_text) for x in s["steps"]]
    hint = s["hint"].format(device=device, names=names_text)
    if len(hint) > 95:
        hint = s["hint_short"].format(device=device)
    return _result("security_software", platform, steps=steps, hint=hint, needs_it=True)


def _not_applicable(check_id: str, platform: str) -> dict:
    r = _result(check_id, platform, steps=[], hint=_s()["not_applicable_hint"])
    if check_id not in _platform_checks().get(platform, ()):
        r["why"] = _s()["not_applicable_why"]
    return r


_PLATFORM_ALIASES = {"darwin": "darwin", "macos": "darwin", "mac": "darwin", "osx": "darwin",
                     "windows": "windows", "win32": "windows", "win": "windows",
                     "linux": "linux"}


def _fix_password_manager(platform: str, version: Any, observed: dict) -> dict:
    """password_manager's page: its fix.toml per OS (release bands on macOS and Windows),
    ``{names}`` filled with the company's choice (policy ``require``) or the default words."""
    table = _check("password_manager").get(platform)
    if platform in _BANDS:
        band = (_mac_band(version) if platform == "darwin" else _win_band(version)) or _BANDS[platform][-1]
        table = _pick(table, _BANDS[platform], band)
    required = observed.get("required")
    names = [str(n) for n in required if n] if isinstance(required, (list, tuple)) else []
    text = _plain_list(names) if names else table["names_default"]
    return _result("password_manager", platform, steps=[x.format(names=text) for x in table["steps"]],
                   hint=table["hint"].format(names=text))


def fix_for(check_id: str, platform: str, os_version: str | None = None, *,
            desktop: str | None = None, observed: dict | None = None) -> dict:
    """The fix instructions for ``check_id`` on this OS release (see the module docstring).

    Never raises: unknown checks, platforms and versions give a generic answer.
    """
    obs = observed if isinstance(observed, dict) else {}
    plat = _PLATFORM_ALIASES.get(str(platform or "").lower().strip(), "")
    check = str(check_id or "")
    try:
        if plat and check in _platform_checks()[plat]:
            if check == "password_manager":
                return _fix_password_manager(plat, os_version, obs)
            if plat == "darwin":
                fix = _fix_darwin(check, os_version, obs)
            elif plat == "windows":
                fix = _fix_windows(check, os_version, obs)
            else:
                dk = str(desktop).lower() if desktop else None
                fix = _fix_linux(check, os_version, dk, obs)
            if check == "screen_lock" and obs.get("enabled") is True and obs.get("idle_seconds") != 0:
                # The lock is on, only too slow: say "sooner", not "turn on".
                s = _s()
                where = fix.get("menu_path") or s["lock_sooner_anywhere"]
                hint = s["lock_sooner"].format(menu=where)
                fix["hint"] = hint if len(hint) <= 100 else s["lock_sooner"].format(menu=s["lock_sooner_anywhere"])
            return fix
    except Exception:  # odd observed values must never break a fix page
        # Logged with the check id: the tests fail on any such line (tests/test_fixes.py).
        log.exception("fix text for %s on %s %s could not be built; showing 'Contact IT'",
                      check, plat, os_version)
        if check in _titles():
            r = _result(check, plat or "other", steps=[_s()["generic_step"]],
                        hint=_s()["generic_step"])
            return r
    return _not_applicable(check, plat or str(platform or ""))



# --------------------------------------------------------------------------------------
# docs/DEEPLINKS.md, generated from the fix files
# --------------------------------------------------------------------------------------

_OS_NAMES = {"darwin": "macOS", "windows": "Windows", "linux": "Linux"}
_BAND_START = {"old": "10.13 and earlier", "12": "10.14"}
_BAND_END = {"old": "10.13", "12": "12"}
_BAND_SPAN = {"old": "10.13 and earlier", "12": "10.14–12"}


def _band_label(plat: str, given: list[str], band: str) -> str:
    """The releases an entry covers: from its band to the band before the next one given."""
    bands = _BANDS[plat]
    i = bands.index(band)
    later = [b for b in given if bands.index(b) > i]
    if band == given[0] and i > 0:  # the first entry also serves every older release
        if not later:
            return "every release"
        last = bands[bands.index(later[0]) - 1]
        return f"{_BAND_END.get(last, last)} and earlier"
    if not later:
        return _BAND_SPAN["old"] if band == "old" else f"{_BAND_START.get(band, band)} and later"
    last = bands[bands.index(later[0]) - 1]
    if last == band:
        return _BAND_SPAN.get(band, band)
    return f"{_BAND_START.get(band, band)}–{_BAND_END.get(last, last)}"


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|")


def _code(value: Any) -> str:
    if value is None:
        return "—"
    text = " ".join(value) if isinstance(value, list) else str(value)
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def deeplinks_markdown() -> str:
    """docs/DEEPLINKS.md: every link, command and menu path the fix pages use, per check x OS
    release, as the fix files say (so the document cannot drift from the code)."""
    checks, _ = _data()
    out = ["# Deep links to the exact settings pane — per check × OS release", "",
           "<!-- Generated by `python3 -m agent.fixes --deeplinks > docs/DEEPLINKS.md` from",
           "     agent/checks/*/fix.toml; do not edit (tests/test_fixes.py fails when it is stale). -->", "",
           "What the fix pages and the tray open, and the menu path printed next to each button, as",
           "the fix files `agent/checks/<check_id>/fix.toml` say. A release band's entry is used from",
           "that release on until the next band given; when the release is unknown the newest band is",
           "used with its release-independent menu path. The research behind each link (sources,",
           "confidence, what could not be confirmed) is in [DEEPLINKS-RESEARCH.md](DEEPLINKS-RESEARCH.md).",
           ""]
    for n, plat in enumerate(("darwin", "windows"), start=1):
        out += [f"## {n}. {_OS_NAMES[plat]}", "",
                "| check | release | link | the agent runs | menu path | note |", "|---|---|---|---|---|---|"]
        for data in checks.values():
            table = data.get(plat)
            if not table:
                continue
            groups = [("", {k: v for k, v in table.items() if k in _BANDS[plat]})]
            groups += [(f" ({name.replace('_', ' ')})", v) for name, v in (table.get("variants") or {}).items()]
            for suffix, entries in groups:
                given = [b for b in _BANDS[plat] if b in entries]
                for band in given:
                    e = entries[band]
                    run = e.get("open") or _open_for(e.get("link"), plat)
                    menu = e.get("menu_path")
                    if e.get("menu_path_any"):
                        menu = f"{menu} (release unknown: {e['menu_path_any']})"
                    if e.get("idle_open"):
                        menu = f"{menu}; screen saver: {e['idle_menu_path']} via {_code(e['idle_open'])}"
                    out.append(f"| {_md(data['title'])}{_md(suffix)} | {_band_label(plat, given, band)} | "
                               f"{_code(e.get('link'))} | {_code(run)} | {_md(menu or '—')} | "
                               f"{_md(e.get('note', ''))} |")
        out.append("")
    out += ["## 3. Linux", "",
            "No URL scheme: the agent runs a settings command, and the page shows a command to paste.",
            "Desktop bands are by the GNOME or Plasma version the distribution release ships.", ""]
    for data in checks.values():
        t = data.get("linux")
        if not t:
            continue
        out += [f"### {data['title']}", ""]
        out += _linux_lines(t, "") or ["- No command or settings pane: the page gives the steps only"
                                       + (" (IT does it)." if t.get("needs_it") else ".")]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _linux_lines(t: dict, where: str) -> list[str]:
    lines = []
    for key, value in t.items():
        name = f"{where}{key}"
        if key == "commands" and isinstance(value, dict):
            lines += [f"- command ({k}): {_code(v)}" for k, v in value.items()]
        elif key.endswith("bands") and isinstance(value, list):
            label = "Plasma" if where.startswith("kde") else "GNOME"
            for i, row in enumerate(value):
                start = row["from"]
                if start == 0 and i + 1 < len(value):
                    span = f"before {value[i + 1]['from']:.2f}"
                else:
                    span = (f"{start:.2f}" if isinstance(start, float) else str(start)) + " and later"
                lines.append(f"- {label} {span}: runs {_code(row.get('open'))}, "
                             f"menu path {_md(row['menu_path'])}")
        elif key == "open" and isinstance(value, dict):
            for distro, by in value.items():
                lines += [f"- {distro} with {d}: runs {_code(v)}" for d, v in by.items()]
        elif isinstance(value, dict):
            lines += _linux_lines(value, f"{name}.")
        elif "open" in key and isinstance(value, list):
            lines.append(f"- {name.replace('_', ' ')}: runs {_code(value)}")
        elif "menu_path" in key:
            lines.append(f"- {name.replace('_', ' ')}: {_md(value)}")
    return lines


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--deeplinks"]:
        print("usage: python3 -m agent.fixes --deeplinks > docs/DEEPLINKS.md", file=sys.stderr)
        raise SystemExit(2)
    sys.stdout.write(deeplinks_markdown())
