"""Each person's devices (DESIGN "Each person's devices"): the rules behind /me, /me.json,
/api/v1/people/{email}/devices and IT's person page.

``person_devices(conn_or_engine, cfg, email)`` returns exactly the /me.json object:

- the person's laptops running Checkup (``devices.owner == email``, not revoked), each
  check of the newest report a *practice*; a failing or nudged one carries the same steps
  the laptop's own fix page shows (``agent.fixes.fix_for``, computed here from the
  report's platform, version and observations, never taken from the agent's text);
- the MDM-only records (phones, tablets, Chromebooks, computers without Checkup) whose
  assigned user (``user_email``) is the person and which ``reconcile.match`` joins to no
  live enrolled device. Their practices are ``passcode``, ``encryption``, ``os_version``
  (the policy's minimum / recommended, judged by the agent's own ``os_version`` judge) and
  ``compromised`` (the reconciliation rule: the MDM says so); a computer also gets
  ``checkup`` ("install Checkup"). A fact the MDM does not give is ``unknown`` with the
  reason. Their words are in server/people_steps.toml.

Statuses and the device status rule are the agent's (``schemas.device_status``).
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import re
from typing import Any

from sqlalchemy.engine import Connection, Engine

from . import people_store as store
from .mdm.records import SOURCE_NAMES, MdmRecord, normalise_serial, normalise_uuid, uuid_key
from .reconcile import AgentDevice, agent_device_from_report, match
from .schemas import RANK, STATUS_ORDER, device_status
from .untrusted import shown

log = logging.getLogger("checkup.server")

HERE = os.path.dirname(os.path.abspath(__file__))
KINDS = ("laptop", "phone", "tablet", "chromebook")
AGENT_PLATFORM = {"darwin": "macos", "windows": "windows", "linux": "linux"}
KIND_OF_PLATFORM = {"ios": "phone", "ipados": "tablet", "android": "phone", "chromeos": "chromebook",
                    "macos": "laptop", "windows": "laptop", "linux": "laptop"}
_CHECK_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
MAX_TEXT = 2000


class NotAnEmail(ValueError):
    """The text names no person (not an email address)."""


def normal_email(text: Any) -> str | None:
    """``text`` as the contract's person (an email, lower-cased), or None when it is not
    one: empty, too long, no single ``@``, blanks, control or bidi characters, NUL."""
    if not isinstance(text, str):
        return None
    t = text.strip()
    if not t or len(t) > 320 or shown(t) != t or "\x00" in t:
        return None
    if t.count("@") != 1 or not _EMAIL.fullmatch(t):
        return None
    local, domain = t.split("@")
    if domain.startswith(".") or domain.endswith(".") or ".." in domain:
        return None
    return t.lower()


# -- words ------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def steps_data() -> dict:
    from agent.tomlcompat import tomllib
    with open(os.path.join(HERE, "people_steps.toml"), "rb") as fh:
        return tomllib.load(fh)


def _word(key: str, platform: str | None) -> str:
    table = steps_data()["words"][key]
    return table.get(platform or "other") or table["other"]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _steps(practice: str, platform: str | None) -> list[str]:
    table = steps_data()[practice]
    entry = table.get(platform or "") or table.get("any") or {}
    return list(entry.get("steps", []))


def _summary(practice: str, status: str, rec: MdmRecord, **fields) -> str:
    text = steps_data()[practice]["summary"][status]
    return _cap(text.format(device=_word("device", rec.platform), name=_word("name", rec.platform),
                            source=SOURCE_NAMES.get(rec.source, rec.source), **fields))


def _clean(value: Any, limit: int = MAX_TEXT) -> str | None:
    """Untrusted text (agent or MDM) fit to show: no control or bidi characters, bounded."""
    if not isinstance(value, str):
        return None
    t = shown(value).strip()
    return t[:limit] or None


def _iso(when: dt.datetime | None) -> str | None:
    if when is None:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- policy -------------------------------------------------------------------------

def _policy(conn: Connection):  # noqa: ANN202 - agent.policy.Policy
    """The organisation's policy over the built-in one (as agents apply it)."""
    from agent.policy import PolicyError, load_policy
    text = store.org_policy_text(conn)
    if text and text.strip():
        try:
            return load_policy(text=text)
        except PolicyError as exc:
            log.warning("person pages: the organisation policy does not parse (%s); "
                        "using the built-in one", exc)
    return load_policy()


# -- laptops running Checkup ---------------------------------------------------------

def _laptop_steps(check_id: str, platform: str | None, os_version: Any, observed: dict,
                  agent_steps: Any) -> dict:
    """The laptop's fix text for this check (agent.fixes.fix_for). On Linux the desktop
    (GNOME, KDE) decides the steps and the report does not name it: the variant whose steps
    are the ones the agent showed is chosen, else the desktop-neutral one."""
    from agent.fixes import fix_for
    if platform == "linux" and isinstance(agent_steps, list) and agent_steps:
        for desktop in ("gnome", "kde"):
            fix = fix_for(check_id, platform, os_version, desktop=desktop, observed=observed)
            if fix.get("steps") == agent_steps:
                return fix
    return fix_for(check_id, platform or "", os_version, observed=observed)


def _report_body(text: str | None, device_id: str) -> dict | None:
    if not text:
        return None
    try:
        body = json.loads(text)
    except ValueError:
        log.warning("device %s: its newest stored report is not JSON; shown without checks",
                    device_id)
        return None
    return body if isinstance(body, dict) else None


def _laptop(row, it: bool) -> dict:  # noqa: ANN001 - a people_store.owned_devices row
    from agent.checks import titles
    check_titles = titles()
    body = _report_body(row.body, row.id) or {}
    device = body.get("device") if isinstance(body.get("device"), dict) else {}
    os_version = device.get("os_version") if isinstance(device.get("os_version"), str) else None
    practices = []
    checks = body.get("checks") if isinstance(body.get("checks"), list) else []
    for c in checks:
        if not isinstance(c, dict) or not isinstance(c.get("id"), str) or not _CHECK_ID.match(c["id"]):
            continue
        status = c.get("status") if c.get("status") in STATUS_ORDER else "unknown"
        p: dict[str, Any] = {"id": c["id"], "status": status,
                             "title": check_titles.get(c["id"]) or _clean(c.get("title"), 200)
                             or c["id"].replace("_", " ").capitalize()}
        summary = _clean(c.get("summary"))
        if summary:
            p["summary"] = summary
        if status in ("fail", "nudge"):
            observed = c.get("observed") if isinstance(c.get("observed"), dict) else {}
            agent_fix = c.get("fix") if isinstance(c.get("fix"), dict) else {}
            fix = _laptop_steps(c["id"], row.platform, os_version, observed, agent_fix.get("steps"))
            p["steps"] = list(fix.get("steps") or [])
            if fix.get("why"):
                p["why"] = fix["why"]
            if fix.get("menu_path"):
                p["where"] = fix["menu_path"]
            if fix.get("needs_it"):
                p["needs_it"] = True
            if fix.get("command"):
                cmd = fix["command"]
                p["command"] = " ".join(cmd) if isinstance(cmd, list) else str(cmd)
        practices.append(p)
    practices.sort(key=lambda p: -RANK[p["status"]])
    out = {"id": row.id, "kind": "laptop", "source": "agent",
           "hostname": _clean(row.hostname, 256) or _clean(device.get("hostname"), 256),
           "platform": AGENT_PLATFORM.get(row.platform or "", row.platform),
           "os_name": _clean(row.os_name, 256),
           "os_version": _clean(row.os_version, 64),
           "model": _clean(row.model, 256),
           "status": device_status(p["status"] for p in practices),
           "last_seen": _iso(row.last_seen_at),
           "practices": practices}
    if it:
        out.update(serial=_clean(row.serial, 128), owner_source=row.owner_source)
    return out


# -- devices only an MDM knows -------------------------------------------------------

def _kind(rec: MdmRecord) -> str | None:
    if rec.device_kind in KINDS:
        return rec.device_kind
    return KIND_OF_PLATFORM.get(rec.platform or "")


def _reason(rec: MdmRecord, *facts: str) -> str:
    unknown = rec.unknown if isinstance(rec.unknown, dict) else {}
    for f in facts:
        r = _clean(unknown.get(f), 300)
        if r:
            return r.rstrip(".") + "."
    return steps_data()["words"]["unknown_default"].format(
        source=SOURCE_NAMES.get(rec.source, rec.source))


def _bool_practice(rec: MdmRecord, pid: str, value: bool | None, good: bool, *facts: str) -> dict:
    """A practice decided by one MDM fact (``good`` is the passing value)."""
    if value is None:
        return {"id": pid, "status": "unknown", "title": steps_data()[pid]["title"],
                "summary": _summary(pid, "unknown", rec, reason=_reason(rec, *facts))}
    if value is good:
        return {"id": pid, "status": "pass", "title": steps_data()[pid]["title"],
                "summary": _summary(pid, "pass", rec)}
    return {"id": pid, "status": "fail", "title": steps_data()[pid]["title"],
            "summary": _summary(pid, "fail", rec), "steps": _steps(pid, rec.platform)}


def _os_version_practice(rec: MdmRecord, policy, today: dt.date) -> dict:  # noqa: ANN001
    from agent.verdicts import judge
    from probes.fact import Fact
    title = steps_data()["os_version"]["title"]
    platform = rec.platform or ""
    name = _word("name", rec.platform)
    version = _clean(rec.os_version, 64)
    if policy.level("os_version") == "off":
        status, j = judge("os_version", Fact(), policy, platform)
        return {"id": "os_version", "status": status, "title": title, "summary": j.summary}
    if version is None:
        reason = _reason(rec, "os_version") if (rec.unknown or {}).get("os_version") else \
            steps_data()["words"]["no_version"].format(
                source=SOURCE_NAMES.get(rec.source, rec.source), device=_word("device", rec.platform))
        return {"id": "os_version", "status": "unknown", "title": title,
                "summary": _cap(steps_data()["os_version"]["summary"]["unknown"].format(reason=reason))}
    minimum = (policy.param("os_version", "minimum", {}) or {}).get(platform)
    recommended = (policy.param("os_version", "recommended", {}) or {}).get(platform)
    if not minimum and not recommended:
        return {"id": "os_version", "status": "unknown", "title": title,
                "summary": f"{name} {version}. " + steps_data()["words"]["no_minimum"].format(name=name)}
    fact = Fact(observed={"name": name, "version": version}, extra={"os_id": platform, "today": today})
    status, j = judge("os_version", fact, policy, platform)
    p = {"id": "os_version", "status": status, "title": title, "summary": j.summary}
    if status in ("fail", "nudge"):
        p["steps"] = _steps("os_version", rec.platform)
    return p


def _mdm_device(rec: MdmRecord, kind: str, policy, today: dt.date, it: bool) -> dict:  # noqa: ANN001
    practices = []
    if kind == "laptop":
        practices.append({"id": "checkup", "status": "nudge", "title": steps_data()["checkup"]["title"],
                          "summary": steps_data()["checkup"]["summary"]["nudge"],
                          "steps": _steps("checkup", rec.platform)})
    else:
        practices.append(_bool_practice(rec, "passcode", rec.passcode, True, "passcode"))
    practices.append(_bool_practice(rec, "encryption", rec.encrypted, True, "encrypted", "encryption"))
    practices.append(_os_version_practice(rec, policy, today))
    if kind != "laptop" or rec.compromised is not None:
        p = _bool_practice(rec, "compromised", rec.compromised, False, "compromised")
        if p["status"] == "fail":
            detail = _clean(rec.compromised_detail, 200)
            if detail:
                p["detail"] = detail
        practices.append(p)
    practices.sort(key=lambda p: -RANK[p["status"]])
    out = {"id": f"{rec.source}:{rec.source_id}", "kind": kind, "source": rec.source,
           "name": _clean(rec.name, 256) or _clean(rec.hostname, 256) or _clean(rec.model, 256),
           "platform": rec.platform, "os_version": _clean(rec.os_version, 64),
           "model": _clean(rec.model, 256),
           "status": device_status(p["status"] for p in practices),
           "last_seen": _iso(rec.last_seen), "practices": practices}
    if it:
        out.update(serial=_clean(rec.serial, 128), hostname=_clean(rec.hostname, 256))
    return out


def _agent_of(row) -> AgentDevice:  # noqa: ANN001
    body = _report_body(row.body, row.id)
    if body is not None:
        a = agent_device_from_report(row.id, body, row.received_at)
        a.serial = a.serial or normalise_serial(row.serial)
        a.hardware_uuid = a.hardware_uuid or normalise_uuid(row.hardware_uuid)
        return a
    return AgentDevice.create(row.id, serial=row.serial, hardware_uuid=row.hardware_uuid,
                              platform=row.platform, last_seen=row.last_seen_at)


# -- the whole answer ------------------------------------------------------------------

def person_devices(conn_or_engine: Connection | Engine, cfg: Any, email: str, *, it: bool = False,
                   now: dt.datetime | None = None) -> dict:
    """The /me.json object for ``email``; ``it=True`` adds what only IT sees (serials,
    owner sources, MDM records naming the person that belong to another device).
    Raises NotAnEmail when ``email`` is no email address."""
    person = normal_email(email)
    if person is None:
        raise NotAnEmail("not an email address")
    if isinstance(conn_or_engine, Engine):
        with conn_or_engine.connect() as conn:
            return _person_devices(conn, cfg, person, it, now)
    return _person_devices(conn_or_engine, cfg, person, it, now)


def _person_devices(conn: Connection, cfg: Any, email: str, it: bool, now: dt.datetime | None) -> dict:
    today = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).date()
    owned = store.owned_devices(conn, email)
    records = store.person_records(conn, email)
    devices = [_laptop(row, it) for row in owned]
    also_named = []
    if records:
        # Which records are these laptops (or any other enrolled device)? The same join as
        # reconciliation, over the person's laptops and the devices holding a record's
        # serial or hardware UUID.
        serials = {r.serial for r in records if r.serial}
        uuids = {k for r in records for k in [uuid_key(r.hardware_uuid)] if k}
        others = store.agents_for_records(conn, serials, uuids, exclude={row.id for row in owned})
        agents = [_agent_of(row) for row in owned] + [_agent_of(row) for row in others]
        joined = match(agents, records).by_record
        owned_ids = {row.id for row in owned}
        policy = _policy(conn)
        for i, rec in enumerate(records):
            if i in joined:
                ids = sorted({agents[j].device_id for j in joined[i]} - owned_ids)
                if ids:
                    also_named.append({"record": f"{rec.source}:{rec.source_id}", "device_ids": ids})
                continue
            kind = _kind(rec)
            if kind is None:
                log.info("MDM record %s:%s (platform %r) is no phone, tablet, Chromebook or "
                         "computer: not on %s's page", rec.source, rec.source_id, rec.platform, email)
                continue
            devices.append(_mdm_device(rec, kind, policy, today, it))
    devices.sort(key=lambda d: (-RANK.get(d["status"], 0), d["source"] != "agent",
                                (d.get("hostname") or d.get("name") or "").lower(), d["id"]))
    out: dict[str, Any] = {"email": email, "devices": devices}
    if it:
        out["also_named"] = also_named
    return out
