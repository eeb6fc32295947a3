"""The policy editor's rules: the effective policy as a form (one fieldset per check), the
form back to TOML (only what differs from the built-in default), and the preview (the
newest report of every device judged under the current and the proposed policy).

The form is generated from the check declarations (agent/checks/<id>/check.toml: each
parameter's type, unit and help) plus COMMON_FIELDS, the settings every check has. A
new per-check setting is one entry in COMMON_FIELDS (e.g. ``Common("grace_days",
"days", "Days to fix before it counts")``); a new parameter of one check needs nothing here.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from agent import checks as registry
from agent.checks import PLATFORM_NAMES, PLATFORMS
from agent.policy import ORG_KEYS, Policy, _toml_key, _toml_value, load_policy
from agent.status import RANK, device_status

from .policy_check import PolicyInvalid, validate_policy, value_problem

log = logging.getLogger("checkup.server")

LEVEL_WORDS = {"required": "Required (failing turns the device red)",
               "suggested": "Suggested (a nudge only)", "off": "Off (not checked)"}
OS_WORDS = {"macos": "macOS", "windows": "Windows", "windows-server": "Windows Server",
            "ubuntu": "Ubuntu", "debian": "Debian", "fedora": "Fedora", "linuxmint": "Linux Mint",
            "rhel": "Red Hat Enterprise Linux", "pop": "Pop!_OS", "ios": "iOS", "ipados": "iPadOS",
            "android": "Android", "chromeos": "ChromeOS"}
ORG_WORDS = {"name": "Company name (shown on fix pages)",
             "help_url": "Help link (intranet page, ticket form)",
             "help_text": "Help sentence on every fix page"}


@dataclass(frozen=True)
class Common:
    """A setting every check has: its key, its kind (a form widget) and its label."""
    key: str
    kind: str
    label: str


COMMON_FIELDS: tuple[Common, ...] = (Common("level", "level", "Level"),)


@dataclass
class Field:
    """One form control: ``name`` is the form key (``c.<check>.<key>[.<sub>]``)."""
    name: str
    label: str
    kind: str            # level | seconds | bool | names | text
    value: str
    unit: str = ""
    help: str = ""
    changed: bool = False
    error: str = ""


@dataclass
class Group:
    """The fields of one setting (a version table has one per OS)."""
    key: str
    label: str
    help: str
    fields: list[Field]


@dataclass
class CheckForm:
    id: str
    title: str
    platforms: str
    groups: list[Group] = field(default_factory=list)


def _common_default(c: Common, check) -> Any:  # noqa: ANN001
    return check.level if c.key == "level" else None


def _names_text(v: Any) -> str:
    return ", ".join(v) if isinstance(v, list) else ""


def build_form(effective: Policy, default: Policy, values: dict[str, str] | None = None,
               errors: dict[str, str] | None = None) -> list[CheckForm]:
    """The form of the effective policy (``values``: what IT typed, shown back with ``errors``)."""
    values, errors = values or {}, errors or {}
    forms = []
    for check in registry.all_checks():
        cf = CheckForm(check.id, check.title, ", ".join(PLATFORM_NAMES[p] for p in check.platforms))
        eff, base = effective.checks.get(check.id, {}), default.checks.get(check.id, {})

        def add(key: str, label: str, help_: str, specs: list[tuple[str, str, str, Any, Any, str]]) -> None:
            fields = []
            for name, flabel, kind, now, was, unit in specs:
                shown = values[name] if name in values else _shown(kind, now)
                fields.append(Field(name, flabel, kind, shown, unit, changed=now != was,
                                    error=errors.get(name, "")))
            cf.groups.append(Group(key, label, help_, fields))

        for c in COMMON_FIELDS:
            name = f"c.{check.id}.{c.key}"
            add(c.key, c.label, "", [(name, c.label, c.kind, eff.get(c.key, _common_default(c, check)),
                                      base.get(c.key, _common_default(c, check)), "")])
        for p in check.params.values():
            name = f"c.{check.id}.{p.name}"
            label = p.name.replace("_", " ").capitalize()
            now, was = eff.get(p.name), base.get(p.name)
            if p.type == "version_table":
                now, was = now or {}, was or {}
                ids = list(dict.fromkeys([*was, *now]))
                add(p.name, label, p.help, [(f"{name}.{i}", OS_WORDS.get(i, i), "text", now.get(i),
                                             was.get(i), "version") for i in ids])
            elif p.type == "names_by_platform":
                specs = [(f"{name}.all", "Every platform", "names",
                          now if isinstance(now, list) else None, was if isinstance(was, list) else None, "")]
                for plat in PLATFORMS:
                    get = (lambda v, k=plat: v.get(k) if isinstance(v, dict) else None)
                    specs.append((f"{name}.{plat}", PLATFORM_NAMES[plat], "names", get(now), get(was), ""))
                add(p.name, label, p.help + " (a list for every platform, or one per platform)", specs)
            else:
                add(p.name, label, p.help, [(name, label, p.type, now, was, p.unit)])
        forms.append(cf)
    return forms


def _shown(kind: str, v: Any) -> str:
    if v is None:
        return ""
    if kind == "bool":
        return "true" if v else "false"
    if kind == "names":
        return _names_text(v)
    return str(v)


def org_fields(effective: Policy, values: dict[str, str] | None = None) -> list[Field]:
    values = values or {}
    return [Field(f"org.{k}", ORG_WORDS[k], "text", values.get(f"org.{k}", effective.organization.get(k, "")),
                  changed=bool(effective.organization.get(k))) for k in ORG_KEYS]


# -- form -> policy -------------------------------------------------------------
def _empty(v: Any) -> bool:
    return not v or (isinstance(v, dict) and not any(v.values()))


def _names(raw: str) -> list[str]:
    return [n.strip() for n in raw.replace("\n", ",").split(",") if n.strip()]


def _seconds(check_id: str, key: str, raw: str) -> tuple[Any, str]:
    try:
        value = int(raw.strip())
    except ValueError:
        return None, (f"{check_id}: {key} must be a whole number of seconds "
                      f"(you wrote {json.dumps(raw.strip()[:40])})")
    return value, value_problem(check_id, key, value) or ""


def form_policy(form, default: Policy) -> tuple[str, dict[str, str], dict[str, str]]:  # noqa: ANN001
    """The form -> (TOML of what differs from the built-in default, the values typed, the
    errors by field name). Every field is named ``c.<check>.<key>[.<sub>]`` or ``org.<key>``."""
    values = {k: str(v)[:2000] for k, v in form.items() if k.startswith(("c.", "org."))}
    errors: dict[str, str] = {}
    tables: dict[str, dict[str, Any]] = {}
    org = {k: values[f"org.{k}"].strip() for k in ORG_KEYS if values.get(f"org.{k}", "").strip()}
    for check in registry.all_checks():
        base = default.checks.get(check.id, {})
        out: dict[str, Any] = {}
        for c in COMMON_FIELDS:
            name = f"c.{check.id}.{c.key}"
            if name not in values:
                continue
            raw = values[name].strip()
            value: Any = raw
            if c.kind == "seconds" or c.kind == "days":
                value, err = _seconds(check.id, c.key, raw)
            else:
                err = value_problem(check.id, c.key, value) or ""
            if err:
                errors[name] = err
            elif value != base.get(c.key, _common_default(c, check)):
                out[c.key] = value
        for p in check.params.values():
            name = f"c.{check.id}.{p.name}"
            was = base.get(p.name)
            if p.type == "version_table":
                subs = {k[len(name) + 1:]: v.strip() for k, v in values.items() if k.startswith(name + ".")}
                if not subs:
                    continue
                value = {i: v for i, v in subs.items() if v}
                err = value_problem(check.id, p.name, value)
                if err:
                    bad = [i for i, v in value.items() if value_problem(check.id, p.name, {i: v})]
                    for i in bad or list(subs)[:1]:
                        typed = json.dumps(value.get(i, ""))
                        errors[f"{name}.{i}"] = (f"{check.id}: {p.name} for {OS_WORDS.get(i, i)} must be a "
                                                 f"version number such as 14.4 (you wrote {typed})")
                    continue
            elif p.type == "names_by_platform":
                subs = {k[len(name) + 1:]: _names(v) for k, v in values.items() if k.startswith(name + ".")}
                if not subs:
                    continue
                per = {plat: subs[plat] for plat in PLATFORMS if subs.get(plat)}
                if subs.get("all") and per:
                    errors[f"{name}.all"] = (f"{check.id}: {p.name} is either one list for every platform "
                                             "or one list per platform, not both")
                    continue
                value = per if per else subs.get("all", [])
                if _empty(value) and _empty(was):
                    continue   # nothing required: [] and {} say the same
            elif name not in values:
                continue
            else:
                raw = values[name].strip()
                if p.type == "seconds":
                    value, err = _seconds(check.id, p.name, raw)
                    if err:
                        errors[name] = err
                        continue
                elif p.type == "bool":
                    if raw not in ("true", "false"):
                        errors[name] = f"{check.id}: {p.name} must be yes or no"
                        continue
                    value = raw == "true"
                else:
                    value = _names(raw)
            if value != was:
                out[p.name] = value
        if out:
            tables[check.id] = out
    return to_toml(org, tables), values, errors


def to_toml(org: dict[str, str], tables: dict[str, dict[str, Any]]) -> str:
    """The organisation policy's TOML: [organization] and each changed check's table."""
    parts = []
    if org:
        parts.append("[organization]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in org.items()))
    for cid, table in tables.items():
        parts.append(f"[{cid}]\n" + "".join(f"{_toml_key(k)} = {_toml_value(v)}\n" for k, v in table.items()))
    return "\n".join(parts)


def effective(text: str) -> Policy:
    """The built-in default with the organisation policy applied (the text was validated
    when it was saved; a text that no longer validates shows as the default and is logged)."""
    if not text.strip():
        return load_policy()
    try:
        return load_policy(text=text)
    except ValueError as exc:
        log.warning("policy page: the saved organisation policy no longer validates: %s", exc)
        return load_policy()


def check_text(text: str) -> str | None:
    """None when ``text`` may be saved (empty = clear), else the problem in plain words."""
    if not text.strip():
        return None
    try:
        validate_policy(text)
    except PolicyInvalid as exc:
        return str(exc)
    return None


# -- preview ----------------------------------------------------------------------
@dataclass
class Change:
    device_id: str
    hostname: str
    old: str
    new: str


@dataclass
class Preview:
    devices: int = 0
    worse: list[Change] = field(default_factory=list)
    better: list[Change] = field(default_factory=list)
    red: int = 0            # devices that would turn red (fail) and are not now
    green: int = 0          # devices that would turn green (pass) and are not now
    unsure: int = 0         # a changed check whose report lacks what the new rule needs
    same_text: bool = False

    SHOWN = 10


def _os_id(platform: str, obs: dict) -> str | None:
    if platform == "darwin":
        return "macos"
    if platform == "windows":
        return "windows-server" if str(obs.get("installation_type", "")).lower() == "server" else "windows"
    got = obs.get("id")
    return got.lower() if isinstance(got, str) else None


def _params(policy: Policy, cid: str) -> dict:
    return {k: v for k, v in policy.checks.get(cid, {}).items() if k != "level"}


def _outcome(status: str, level: str, cid: str) -> str | None:
    """The judge's outcome behind a stored status (None: it cannot be told from the status)."""
    if level == "off":
        return None
    if status == "fail":
        return "bad"
    if status == "nudge":
        return "warn" if level == "required" else None
    return status


def _rejudge(entry: dict, platform: str, cur: Policy, new: Policy, changed: set[str]) -> str | None:
    """One check's status under ``new`` (None: the stored report cannot tell)."""
    from agent.verdicts import status_of   # the agent's rule (the server shares the contract)
    cid, old = entry.get("id"), entry.get("status")
    level = new.level(cid)
    if level == "off":
        return "skip"
    if cid not in changed:
        return old
    old_level = entry.get("level") if entry.get("level") in LEVEL_WORDS else cur.level(cid)
    if _params(cur, cid) == _params(new, cid):
        if level == old_level:
            return old
        outcome = _outcome(old, old_level, cid)
        if outcome is None and old == "nudge" and cid not in ("os_version", "disk_encryption",
                                                               "automatic_updates", "password_manager"):
            outcome = "bad"   # only these judges have a softer "warn" outcome
        return None if outcome is None else status_of(outcome, level)
    # a threshold changed: judge what the report observed, once under the current policy (it
    # must give the stored status, else the report lacks something) and once under the new one
    from agent.verdicts import judge
    from probes.fact import Fact
    obs = entry.get("observed") if isinstance(entry.get("observed"), dict) else {}
    try:
        def run(policy: Policy) -> str:
            return judge(cid, Fact(observed=dict(obs), extra={"os_id": _os_id(platform, obs)}),
                         policy, platform)[0]
        if run(cur) != old:
            return None
        return run(new)
    except Exception:   # noqa: BLE001 - an odd stored report: unknown, logged
        log.info("policy preview: check %s of a stored report could not be judged again", cid, exc_info=True)
        return None


def preview(rows, cur: Policy, new: Policy) -> Preview:  # noqa: ANN001
    """How the proposed policy would change each device's status, judged from its newest
    report (``rows``: policy_store.newest_reports)."""
    out = Preview(devices=len(rows))
    changed = {c for c in registry.ids()
               if cur.checks.get(c) != new.checks.get(c) or cur.level(c) != new.level(c)}
    if not changed:
        out.same_text = True
        return out
    for device_id, hostname, platform, body in rows:
        try:
            report = json.loads(body)
            entries = [e for e in report.get("checks", []) if isinstance(e, dict)]
        except (ValueError, AttributeError):
            log.info("policy preview: device %s has an unreadable stored report", device_id)
            out.unsure += 1
            continue
        if not any(e.get("id") in changed for e in entries):
            continue
        old_status = device_status(e.get("status") for e in entries)
        statuses, unsure = [], False
        for e in entries:
            st = _rejudge(e, platform or "", cur, new, changed)
            if st is None:
                unsure, st = True, e.get("status")
            statuses.append(st)
        if unsure:
            out.unsure += 1
            continue
        new_status = device_status(statuses)
        if new_status == old_status:
            continue
        ch = Change(device_id, hostname or device_id, old_status, new_status)
        (out.worse if RANK[new_status] > RANK[old_status] else out.better).append(ch)
        out.red += new_status == "fail"
        out.green += new_status == "pass"
    return out
