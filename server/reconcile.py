"""Reconciliation: agent devices + MDM records -> findings. Pure functions, no I/O.

The contract (kinds, identity rules, which facts per vendor) is in the design
notes; in short:

- **Identity.** Records and agent devices are hash-joined on normalised serial
  and on hardware UUID (one key for both byte orders), then, for a device
  neither of those found, on MAC addresses (globally unique unicast only, and
  only MACs that point at one serial: a shared USB dock or a cloned VM MAC
  never joins two machines). Where both sides have a serial and a UUID and one
  agrees while the other differs, the two are NOT merged.
- **Findings** (``kind``): ``compromised``, ``disagreement`` (one per fact),
  ``owner_mismatch`` (an MDM's user is not the owner IT set or the person claimed, or two
  MDM records name different users), ``unmanaged``, ``silent``, ``duplicate``. Output order is deterministic:
  by kind in that order, then serial, hostname, sources, fact.

``reconcile()`` does two passes over each input and dictionary look-ups only;
100,000 agent devices against 100,000 MDM records take a few seconds (see
``benchmarks/reconcile_bench.py``).
"""
from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from server.mdm.records import (SOURCE_NAMES, MdmRecord, normalise_macs, normalise_serial,
                                normalise_uuid, parse_time, uuid_key)

KINDS = ("compromised", "disagreement", "owner_mismatch", "unmanaged", "silent", "duplicate")
FACTS = ("disk_encryption", "firewall", "system_integrity", "gatekeeper", "os_version")
AGENT_PLATFORMS = {"darwin": "macos", "macos": "macos", "windows": "windows", "linux": "linux"}
UTC = dt.timezone.utc


@dataclass(slots=True)
class AgentDevice:
    """What reconciliation needs of one enrolled device and its newest report."""
    device_id: str
    serial: str | None = None
    hardware_uuid: str | None = None
    hostname: str | None = None
    platform: str | None = None            # macos | windows | linux
    last_seen: dt.datetime | None = None   # newest report's checked_at, capped at received time
    macs: tuple[str, ...] = ()
    disk_encryption: str | None = None     # on | off | encrypting | decrypting | suspended; None = unknown
    firewall: bool | None = None
    system_integrity: bool | None = None   # macOS SIP only
    gatekeeper: bool | None = None
    os_version: str | None = None
    os_build: str | None = None            # macOS build ("23F79"), compared only where the MDM has one
    owner: str | None = None               # devices.owner (DESIGN "Ownership")
    owner_source: str | None = None        # it | claim | mdm

    @classmethod
    def create(cls, device_id: str, *, serial=None, hardware_uuid=None, macs=(), platform=None,
               last_seen=None, **facts: Any) -> "AgentDevice":
        """Normalises identifiers and the platform name."""
        return cls(device_id=str(device_id), serial=normalise_serial(serial),
                   hardware_uuid=normalise_uuid(hardware_uuid), macs=normalise_macs(macs),
                   platform=AGENT_PLATFORMS.get(str(platform or "").lower(), platform),
                   last_seen=parse_time(last_seen), **facts)


def agent_device_from_report(device_id: str, report: dict, received_at: Any = None) -> AgentDevice:
    """An AgentDevice from a ``checkup check --json`` report (its newest one).

    A check whose status is ``unknown`` contributes no fact (it never disagrees).
    """
    device = report.get("device") or {}
    checked = parse_time(report.get("checked_at"))
    received = parse_time(received_at)
    seen = min(checked, received) if checked and received else (checked or received)
    checks = {c.get("id"): c for c in report.get("checks") or [] if isinstance(c, dict)}

    def observed(check_id: str) -> dict | None:
        c = checks.get(check_id)
        if not c or c.get("status") in (None, "unknown"):
            return None
        obs = c.get("observed")
        return obs if isinstance(obs, dict) else None

    platform = AGENT_PLATFORMS.get(str(device.get("platform") or "").lower())
    enc = observed("disk_encryption")
    fw = observed("firewall")
    si = observed("system_integrity")
    gk = observed("gatekeeper")
    osv = checks.get("os_version")
    os_version, os_build = device.get("os_version"), device.get("os_build")
    if osv is not None:
        obs = observed("os_version")
        os_version = (obs or {}).get("version") or (os_version if obs is not None else None)
        os_build = (obs or {}).get("build") or (os_build if obs is not None else None)
    return AgentDevice(
        device_id=str(device_id),
        serial=normalise_serial(device.get("serial")),
        hardware_uuid=normalise_uuid(device.get("hardware_uuid")),
        hostname=(str(device.get("hostname")).strip() or None) if device.get("hostname") else None,
        platform=platform,
        last_seen=seen,
        macs=normalise_macs(_list(device.get("mac_addresses"))),
        disk_encryption=_str(enc.get("state")) if enc else None,
        firewall=_bool(fw.get("enabled")) if fw else None,
        system_integrity=_bool(si.get("sip")) if si and platform == "macos" else None,
        gatekeeper=_bool(gk.get("enabled")) if gk else None,
        os_version=_str(os_version),
        os_build=_build(os_build, platform),
    )


def _list(v: Any) -> list:
    """A report's list field as a list: anything else (a number, a dict) counts as none."""
    return v if isinstance(v, list) else []


def _str(v: Any) -> str | None:
    return str(v).strip() or None if v is not None else None


def _build(v: Any, platform: str | None) -> str | None:
    """The agent's build, for Apple systems only (Windows' build is inside its version)."""
    text = _str(v)
    return text.upper() if text and platform == "macos" and text.isalnum() else None


def _bool(v: Any) -> bool | None:
    return v if isinstance(v, bool) else None


# --------------------------------------------------------------------------- matching

@dataclass
class Match:
    """The joins: pairs (agent index, record index) and the near misses."""
    pairs: list[tuple[int, int]] = field(default_factory=list)
    by_agent: dict[int, list[int]] = field(default_factory=dict)
    by_record: dict[int, list[int]] = field(default_factory=dict)
    # agent index -> [(record index, "serial"|"hardware UUID")] that matched on one identifier
    # but conflicted on the other, so were refused
    refused: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    via_mac: set[tuple[int, int]] = field(default_factory=set)


def match(agents: Sequence[AgentDevice], records: Sequence[MdmRecord]) -> Match:
    by_serial: dict[str, list[int]] = defaultdict(list)
    by_uuid: dict[str, list[int]] = defaultdict(list)
    by_mac: dict[str, list[int]] = defaultdict(list)
    rkeys: list[str | None] = []
    mac_serials: dict[str, set] = defaultdict(set)      # known serials seen with each MAC
    mac_unknown_agents: dict[str, int] = defaultdict(int)
    for i, r in enumerate(records):
        k = uuid_key(r.hardware_uuid)
        rkeys.append(k)
        if r.serial:
            by_serial[r.serial].append(i)
        if k:
            by_uuid[k].append(i)
        for m in r.macs:
            by_mac[m].append(i)
            if r.serial:
                mac_serials[m].add(r.serial)
    for a in agents:
        for m in a.macs:
            if a.serial:
                mac_serials[m].add(a.serial)
            else:
                mac_unknown_agents[m] += 1
    # a MAC that points at more than one machine (docks, cloned VMs) joins nothing
    usable_mac = {m for m in set(by_mac) | set(mac_unknown_agents)
                  if len(mac_serials.get(m, ())) <= 1 and mac_unknown_agents.get(m, 0) <= 1}

    out = Match()
    for j, a in enumerate(agents):
        akey = uuid_key(a.hardware_uuid)
        cands: list[int] = []
        if a.serial:
            cands.extend(by_serial.get(a.serial, ()))
        if akey:
            cands.extend(by_uuid.get(akey, ()))
        mac_cands = False
        if not cands and a.macs:
            for m in a.macs:
                if m in usable_mac:
                    cands.extend(by_mac.get(m, ()))
            mac_cands = True
        if not cands:
            continue
        seen: set[int] = set()
        for i in cands:
            if i in seen:
                continue
            seen.add(i)
            r = records[i]
            if a.serial and r.serial and a.serial != r.serial:
                out.refused.setdefault(j, []).append((i, "serial"))
                continue
            if akey and rkeys[i] and akey != rkeys[i]:
                out.refused.setdefault(j, []).append((i, "hardware UUID"))
                continue
            out.pairs.append((j, i))
            out.by_agent.setdefault(j, []).append(i)
            out.by_record.setdefault(i, []).append(j)
            if mac_cands:
                out.via_mac.add((j, i))
    return out


# --------------------------------------------------------------------------- words

def ago(delta: dt.timedelta) -> str:
    s = abs(delta.total_seconds())
    if s < 90:
        return "a minute" if s >= 45 else "moments"
    if s < 90 * 60:
        return f"{round(s / 60)} minutes"
    if s < 36 * 3600:
        n = round(s / 3600)
        return "an hour" if n == 1 else f"{n} hours"
    if s < 14 * 86400:
        n = round(s / 86400)
        return "a day" if n == 1 else f"{n} days"
    if s < 10 * 7 * 86400:
        return f"{round(s / (7 * 86400))} weeks"
    if s < 730 * 86400:
        return f"{round(s / (30 * 86400))} months"
    return f"{round(s / (365 * 86400))} years"


def _since(when: dt.datetime | None, now: dt.datetime) -> str:
    if when is None:
        return "at an unknown time"
    if when > now:
        return "just now"
    d = now - when
    return "moments ago" if d.total_seconds() < 45 else f"{ago(d)} ago"


def _date(when: dt.datetime | None) -> str | None:
    if when is None:
        return None
    w = when.astimezone(UTC)
    return f"{w.year:04d}-{w.month:02d}-{w.day:02d}T{w.hour:02d}:{w.minute:02d}:{w.second:02d}Z"


def _src(source: str) -> str:
    return SOURCE_NAMES.get(source, source)


def _encryption_name(platform: str | None) -> str:
    return {"macos": "FileVault", "windows": "BitLocker"}.get(platform or "", "disk encryption")


AGENT_ENCRYPTION_WORDS = {"on": "on", "off": "off", "encrypting": "still encrypting",
                          "decrypting": "decrypting", "suspended": "suspended"}


def _onoff(v: bool | None) -> str | None:
    return None if v is None else ("on" if v else "off")


_NUM = re.compile(r"\d+")


def version_tuple(v: str | None) -> tuple[int, ...] | None:
    if not v:
        return None
    parts = [int(p) for p in _NUM.findall(str(v))]
    if not parts:
        return None
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


# --------------------------------------------------------------------------- findings

def _finding(kind: str, *, serial=None, hostname=None, sources=(), fact=None, agent=None, mdm=None,
             newer=None, detail="", device_id=None, mdm_ids=(), agent_seen=None, mdm_seen=None
             ) -> dict[str, Any]:
    return {"kind": kind, "serial": serial, "hostname": hostname, "sources": list(sources),
            "fact": fact, "agent": agent, "mdm": mdm, "newer": newer, "detail": detail,
            "device_id": device_id, "mdm_ids": list(mdm_ids),
            "agent_seen": _date(agent_seen), "mdm_seen": _date(mdm_seen)}


def _disagreements(a: AgentDevice, r: MdmRecord, now: dt.datetime) -> list[dict]:
    out: list[dict] = []
    src = _src(r.source)
    if a.last_seen and r.last_seen:
        newer = "agent" if a.last_seen >= r.last_seen else r.source
        gap = a.last_seen - r.last_seen
        if abs(gap.total_seconds()) < 60:
            when = "at about the same time"
        else:
            when = f"{ago(gap)} {'later' if gap.total_seconds() > 0 else 'earlier'}"
    else:
        newer = "agent" if a.last_seen or not r.last_seen else r.source
        when = f"{_since(a.last_seen, now)} ({src}'s inventory time is unknown)" if a.last_seen else \
            "at an unknown time"
    platform = a.platform or r.platform
    base = dict(serial=a.serial or r.serial, hostname=a.hostname or r.hostname,
                sources=("agent", r.source), newer=newer, device_id=a.device_id,
                mdm_ids=(f"{r.source}:{r.source_id}",), agent_seen=a.last_seen, mdm_seen=r.last_seen)

    if a.disk_encryption is not None and r.encrypted is not None:
        agent_on = a.disk_encryption == "on"
        if agent_on != r.encrypted:
            name = _encryption_name(platform)
            mdm_words = "on" if r.encrypted else "off"
            out.append(_finding(
                "disagreement", fact="disk_encryption", agent=a.disk_encryption,
                mdm="encrypted" if r.encrypted else "not encrypted",
                detail=f"{src} says {name} is {mdm_words}; the laptop reported it "
                       f"{AGENT_ENCRYPTION_WORDS.get(a.disk_encryption, a.disk_encryption)} {when}.",
                **base))
    for fact, agent_v, mdm_v, label in (
            ("firewall", a.firewall, r.firewall, "the firewall"),
            ("system_integrity", a.system_integrity, r.sip, "System Integrity Protection"),
            ("gatekeeper", a.gatekeeper, r.gatekeeper, "Gatekeeper")):
        if agent_v is not None and mdm_v is not None and agent_v != mdm_v:
            out.append(_finding(
                "disagreement", fact=fact, agent=_onoff(agent_v), mdm=_onoff(mdm_v),
                detail=f"{src} says {label} is {_onoff(mdm_v)}; the laptop reported it "
                       f"{_onoff(agent_v)} {when}.", **base))
    av, mv = version_tuple(a.os_version), version_tuple(r.os_version)
    if av is not None and mv is not None:
        # The build counts only where both sides have one (Intune's "14.5 (23F79)" and
        # Jamf's operatingSystem.build against the Mac's own build).
        builds_differ = bool(a.os_build and r.os_build and a.os_build != r.os_build)
        if av != mv or builds_differ:
            show_build = av == mv  # the build is named only when it is the difference
            agent_v, mdm_v = _with_build(a.os_version, a.os_build if show_build else None), \
                _with_build(r.os_version, r.os_build if show_build else None)
            out.append(_finding(
                "disagreement", fact="os_version", agent=agent_v, mdm=mdm_v,
                detail=f"{src} says the OS is version {mdm_v}; the laptop reported "
                       f"{agent_v} {when}.", **base))
    return out


def _with_build(version: str | None, build: str | None) -> str | None:
    return f"{version} ({build})" if version and build else version


def _describe_record(r: MdmRecord) -> str:
    what = {"ios": "iPhone", "ipados": "iPad", "android": "Android device", "chromeos": "Chromebook",
            "macos": "Mac", "windows": "Windows PC", "linux": "Linux computer"}.get(r.platform or "", "device")
    bits = [b for b in (r.model, r.user) if b]
    return f"this {what}" + (f" ({', '.join(bits)})" if bits else "")


def reconcile(agents: Sequence[AgentDevice], records: Sequence[MdmRecord], *,
              now: dt.datetime | None = None, silent_after_days: int = 7,
              agent_max_age_days: int = 30, sources_synced: Iterable[str] | None = None
              ) -> list[dict[str, Any]]:
    """All findings, in a deterministic order.

    ``sources_synced``: the MDM sources whose inventory is in ``records`` (even
    if empty); with none, no device is called unmanaged. Defaults to the
    sources present in ``records``.
    """
    now = (now or dt.datetime.now(UTC)).astimezone(UTC)
    synced = sorted(set(sources_synced) if sources_synced is not None else {r.source for r in records})
    silent_cutoff = now - dt.timedelta(days=silent_after_days)
    agent_cutoff = now - dt.timedelta(days=agent_max_age_days)
    m = match(agents, records)
    findings: list[dict] = []

    # compromised
    for r in records:
        if r.compromised:
            findings.append(_finding(
                "compromised", serial=r.serial, hostname=r.hostname, sources=(r.source,),
                mdm=r.compromised_detail or "compromised", mdm_ids=(f"{r.source}:{r.source_id}",),
                mdm_seen=r.last_seen,
                detail=f"{_src(r.source)} reports {_describe_record(r)} as jailbroken, rooted or "
                       f"compromised ({r.compromised_detail or 'compromised'}); last synced "
                       f"{_since(r.last_seen, now)}. Treat it as untrusted until it is wiped or "
                       "re-enrolled."))

    # disagreements: every matched pair
    for j, i in m.pairs:
        findings.extend(_disagreements(agents[j], records[i], now))

    # owner_mismatch: the MDMs' users against each other and against IT's owner or a claim
    for j, idxs in m.by_agent.items():
        findings.extend(_owner_mismatch(agents[j], [records[i] for i in idxs]))

    # unmanaged
    if synced:
        names = ", ".join(_src(s) for s in synced)
        for j, a in enumerate(agents):
            if j in m.by_agent:
                continue
            if a.last_seen is not None and a.last_seen < agent_cutoff:
                continue
            detail = (f"Reports to Checkup (last {_since(a.last_seen, now)}) but is in no MDM "
                      f"(looked in {names}).")
            refused = m.refused.get(j)
            if refused:
                i, what = refused[0]
                r = records[i]
                other = "hardware UUID" if what == "serial" else "serial"
                detail += (f" {_src(r.source)} has a record with the same {other} but a different "
                           f"{what} (a replaced board or a reused serial?), so they were not joined.")
            elif not a.serial and not a.hardware_uuid:
                detail += " It reports no usable serial number or hardware UUID, so nothing can match it."
            elif not a.serial:
                detail += " It reports no usable serial number (a placeholder), so only its hardware UUID can match."
            findings.append(_finding(
                "unmanaged", serial=a.serial, hostname=a.hostname, sources=("agent",),
                device_id=a.device_id, agent_seen=a.last_seen, detail=detail))

    # silent: computers in an MDM with no fresh matched report, grouped by serial
    groups: dict[tuple, list[int]] = {}
    for i, r in enumerate(records):
        if not r.is_computer:
            continue
        newest = None
        for j in m.by_record.get(i, ()):
            t = agents[j].last_seen
            if t and (newest is None or t > newest):
                newest = t
        if newest is not None and newest >= silent_cutoff:
            continue
        key = ("serial", r.serial) if r.serial else ("record", r.source, r.source_id)
        groups.setdefault(key, []).append(i)
    for key, idxs in groups.items():
        recs = [records[i] for i in idxs]
        recs.sort(key=lambda r: (r.last_seen or dt.datetime.min.replace(tzinfo=UTC)), reverse=True)
        newest_rec = recs[0]
        agent_idx = sorted({j for i in idxs for j in m.by_record.get(i, ())})
        agent_seen = max((agents[j].last_seen for j in agent_idx if agents[j].last_seen), default=None)
        sources = sorted({r.source for r in recs})
        seen_bits = "; ".join(f"{_src(r.source)} last inventoried it {_since(r.last_seen, now)}"
                              for r in _one_per_source(recs))
        if agent_idx:
            detail = (f"{seen_bits}; its last Checkup report was {_since(agent_seen, now)} "
                      f"(silent after {silent_after_days} day{'' if silent_after_days == 1 else 's'}). "
                      "Checkup may have been removed, or the device is switched off or lost.")
        else:
            detail = (f"{seen_bits}; Checkup has never reported from it. Install Checkup on it, "
                      "or retire the record if the device is gone.")
            if not newest_rec.serial:
                detail += " (The MDM has no usable serial for it, so only a hardware UUID could match.)"
        if newest_rec.last_seen and newest_rec.last_seen < silent_cutoff:
            detail += f" The MDM has not heard from it for {ago(now - newest_rec.last_seen)} either."
        findings.append(_finding(
            "silent", serial=newest_rec.serial, hostname=newest_rec.hostname or next(
                (agents[j].hostname for j in agent_idx if agents[j].hostname), None),
            sources=sources, device_id=agents[agent_idx[0]].device_id if agent_idx else None,
            mdm_ids=sorted(f"{r.source}:{r.source_id}" for r in recs),
            agent_seen=agent_seen, mdm_seen=newest_rec.last_seen, detail=detail))

    # duplicates: one serial twice in one MDM
    per_source: dict[tuple[str, str], list[MdmRecord]] = defaultdict(list)
    for r in records:
        if r.serial:
            per_source[(r.source, r.serial)].append(r)
    for (source, serial), recs in per_source.items():
        if len(recs) < 2:
            continue
        recs = sorted(recs, key=lambda r: (r.last_seen or dt.datetime.min.replace(tzinfo=UTC)),
                      reverse=True)
        listing = ", ".join(f"{r.source_id} ({_since(r.last_seen, now)})" for r in recs)
        findings.append(_finding(
            "duplicate", serial=serial, hostname=recs[0].hostname, sources=(source,),
            mdm_ids=sorted(f"{r.source}:{r.source_id}" for r in recs), mdm_seen=recs[0].last_seen,
            detail=f"{_src(source)} holds {len(recs)} records for this serial: {listing}. "
                   f"Keep the newest and delete the others, or the device is counted twice."))

    findings.sort(key=_sort_key)
    return findings


OWNER_WORDS = {"it": "IT set {owner} as its owner", "claim": "{owner} claimed it",
               "mdm": "its owner is {owner} (from an MDM)"}


def mdm_users(recs: Sequence[MdmRecord]) -> dict[str, list[str]]:
    """The users the matched records name, as emails: email -> its sources (sorted)."""
    users: dict[str, set[str]] = defaultdict(set)
    for r in recs:
        if r.user_email:
            users[r.user_email.strip().lower()].add(r.source)
    return {e: sorted(s) for e, s in sorted(users.items())}


def _owner_mismatch(a: AgentDevice, recs: list[MdmRecord]) -> list[dict]:
    users = mdm_users(recs)
    if not users:
        return []
    base = dict(serial=a.serial or next((r.serial for r in recs if r.serial), None),
                hostname=a.hostname or next((r.hostname for r in recs if r.hostname), None),
                device_id=a.device_id, agent=a.owner,
                mdm_ids=sorted(f"{r.source}:{r.source_id}" for r in recs if r.user_email),
                agent_seen=a.last_seen,
                mdm_seen=max((r.last_seen for r in recs if r.last_seen), default=None))
    said = "; ".join(f"{' and '.join(_src(s) for s in srcs)} say{'s' if len(srcs) == 1 else ''} "
                     f"the user is {email}" for email, srcs in users.items())
    sources = sorted({s for srcs in users.values() for s in srcs})
    if len(users) > 1:
        return [_finding("owner_mismatch", sources=sources, mdm=" ".join(users),
                         detail=f"{said}. Its owner is not taken from an MDM until they agree: "
                                "correct the user in the MDM, or set the owner on the device page.",
                         **base)]
    (email, srcs), = users.items()
    if a.owner and a.owner_source in ("it", "claim") and a.owner != email:
        who = OWNER_WORDS[a.owner_source].format(owner=a.owner)
        return [_finding("owner_mismatch", sources=("agent", *srcs), mdm=email,
                         detail=f"{said}, but {who}. The owner stays {a.owner}; correct the "
                                "user in the MDM, or the owner on the device page.", **base)]
    return []


def mdm_owner_plan(agents: Sequence[AgentDevice], records: Sequence[MdmRecord],
                   m: Match | None = None) -> dict[str, tuple[str | None, str]]:
    """Owners to take from the MDMs (DESIGN "Ownership"): device id -> (email, MDM source)
    for an agent device whose matched records name one user, or (None, source) to remove
    an owner that came from an MDM which now names nobody (or users who disagree: that is
    an owner_mismatch finding, not a guess). Owners IT set or a person claimed are left
    alone (owners.set_owner keeps them too)."""
    m = m or match(agents, records)
    plan: dict[str, tuple[str | None, str]] = {}
    for j, idxs in m.by_agent.items():
        a = agents[j]
        if a.owner_source in ("it", "claim"):
            continue
        recs = [records[i] for i in idxs]
        users = mdm_users(recs)
        if len(users) == 1:
            (email, srcs), = users.items()
            if a.owner != email or a.owner_source != "mdm":
                plan[a.device_id] = (email, srcs[0])
        elif a.owner and a.owner_source == "mdm":
            plan[a.device_id] = (None, sorted({r.source for r in recs})[0])
    return plan


def _one_per_source(recs: list[MdmRecord]) -> list[MdmRecord]:
    seen: set[str] = set()
    out = []
    for r in recs:
        if r.source not in seen:
            seen.add(r.source)
            out.append(r)
    return sorted(out, key=lambda r: r.source)


_KIND_ORDER = {k: n for n, k in enumerate(KINDS)}
_FACT_ORDER = {f: n for n, f in enumerate(FACTS)}


def _sort_key(f: dict) -> tuple:
    return (_KIND_ORDER.get(f["kind"], 99), f["serial"] is None, f["serial"] or "",
            (f["hostname"] or "").lower(), tuple(f["sources"]), _FACT_ORDER.get(f["fact"], -1),
            f["device_id"] or "", tuple(f["mdm_ids"]))


def report(findings: list[dict], now: dt.datetime | None = None) -> dict[str, Any]:
    """The ``checkup-server reconcile --json`` object."""
    now = (now or dt.datetime.now(UTC)).astimezone(UTC)
    return {"generated_at": _date(now), "findings": findings}


CSV_COLUMNS = ("kind", "serial", "hostname", "sources", "fact", "agent", "mdm", "newer", "detail",
               "device_id", "mdm_ids", "agent_seen", "mdm_seen")


def write_csv(findings: Iterable[dict], fh) -> None:
    """Findings as CSV (lists joined with spaces), one row per finding, with a header.
    Cells go through server.untrusted.csv_cell (no formulas, no bidi controls)."""
    from server.untrusted import write_csv as write_rows
    write_rows(fh, CSV_COLUMNS, ([f.get(c) for c in CSV_COLUMNS] for f in findings))
