"""Judge facts against the policy: one small function per check.

A judge returns ``Judgement(outcome, summary, observed)`` where outcome is:
  "pass"     the check is met;
  "bad"      not met: fail when the level is required, nudge when suggested;
  "warn"     a softer problem (encrypting, updates partly on): always a nudge;
  "unknown"  a fact that could change the answer could not be read;
  "skip"     does not apply here.
The level then turns the outcome into the status. Summaries are for employees.

A check's judge is ``JUDGES[check_id]`` below, or ``judge`` in its own
``agent/checks/<id>/judge.py`` (same signature; never both: tests/test_check_registry.py).
A judge that raises is a bug: ``judge()`` lets it through to the pipeline, which logs it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Callable

from probes.fact import Fact

from . import checks as registry
from .policy import Policy, compare_versions
from .status import STATUS_ORDER, device_status  # noqa: F401 - part of this module's API


@dataclass
class Judgement:
    outcome: str
    summary: str
    observed: dict[str, Any] = field(default_factory=dict)


ENCRYPTION_NAME = {"darwin": "FileVault", "windows": "BitLocker", "linux": "Disk encryption"}
REMOTE_NAME = {"darwin": "Remote Login (SSH)", "windows": "Remote Desktop", "linux": "SSH remote login"}
MAC_UPDATE_SETTINGS = {
    "AutomaticCheckEnabled": "check for updates",
    "AutomaticDownload": "download new updates",
    "AutomaticallyInstallMacOSUpdates": "install macOS updates",
    "CriticalUpdateInstall": "install security responses and system files",
}


def unknown(fact: Fact, what: str) -> Judgement:
    reason = fact.reason or "it could not be read"
    return Judgement("unknown", f"Checkup couldn't check {what}: {reason}.", dict(fact.observed))


def switch(fact: Fact, key: str, what: str, on: str, off: str, good: bool = True) -> Judgement:
    """A check decided by one boolean: ``good`` is the passing value."""
    value = fact.observed.get(key)
    if value is True or value is False:
        return Judgement("pass" if value is good else "bad", on if value else off, dict(fact.observed))
    return unknown(fact, what)


def _seconds(value: Any) -> int | None:
    """A read duration: a whole number of seconds >= 0, else None (treated as unread)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def judge_disk_encryption(fact: Fact, policy: Policy, platform: str) -> Judgement:
    name = ENCRYPTION_NAME.get(platform, "Disk encryption")
    state = fact.observed.get("state")
    obs = dict(fact.observed)
    if state == "on":
        return Judgement("pass", f"{name} is on.", obs)
    if state == "encrypting":
        return Judgement("warn", f"{name} is still encrypting the disk. Keep the computer on power.", obs)
    if state == "off" and obs.get("encryptable") is False:
        return Judgement("bad", f"{name} is off and this PC cannot turn it on by itself as it is set up, "
                                "so anyone holding it can read its files.", obs)
    if state == "off":
        return Judgement("bad", f"{name} is off, so anyone holding this computer can read its files.", obs)
    if state == "suspended":
        return Judgement("bad", f"{name} is paused, so the disk is not protected right now.", obs)
    if state == "decrypting":
        return Judgement("bad", f"{name} is being turned off (the disk is decrypting).", obs)
    return unknown(fact, "disk encryption")


def judge_firewall(fact: Fact, policy: Policy, platform: str) -> Judgement:
    obs = dict(fact.observed)
    profiles = obs.get("profiles")
    if platform == "windows" and isinstance(profiles, dict):
        off = [p for p in ("domain", "private", "public") if profiles.get(p) is False]
        if off:
            names = " and ".join(p.capitalize() for p in off)
            kind = "network" if len(off) == 1 else "networks"
            return Judgement("bad", f"The firewall is off for {names} {kind}.", obs)
        if all(profiles.get(p) is True for p in ("domain", "private", "public")):
            return Judgement("pass", "The firewall is on.", obs)
    return switch(fact, "enabled", "the firewall", on="The firewall is on.", off="The firewall is off.")


def judge_screen_lock(fact: Fact, policy: Policy, platform: str) -> Judgement:
    """Fails when disabled, never locking on idle (idle 0), or idle + delay > max_seconds.

    Decides from what was read when that is enough: "off" or "never" fail whatever the rest
    says; a lock delay of max_seconds or more fails whatever the idle time (it is at least 1 s,
    or 0 = never); a known upper bound of the idle time (``extra["idle_seconds_at_most"]``:
    one of two idle sources read) can make it pass, a lower one (``idle_seconds_at_least``) fail.
    """
    obs = dict(fact.observed)
    limit = policy.param("screen_lock", "max_seconds", 900)
    enabled = obs.get("enabled")
    idle, delay = _seconds(obs.get("idle_seconds")), _seconds(obs.get("lock_delay_seconds"))
    if enabled is False:
        why = fact.extra.get("lock_off_reason")
        return Judgement("bad", "The screen doesn't lock with a password when you step away"
                                + (f" ({why})." if isinstance(why, str) and why else "."), obs)
    if idle == 0:
        return Judgement("bad", "The screen never locks by itself when the computer is idle.", obs)
    # What the unread facts leave open: idle in [idle_lo, idle_hi] (None = no upper bound;
    # 0 = never fails like a long idle), delay in [delay or 0, delay or no bound].
    idle_lo, idle_hi = (idle, idle) if idle is not None else _idle_bounds(fact.extra)
    lowest = idle_lo + (delay or 0)
    highest = None if idle_hi is None or delay is None else idle_hi + delay
    if lowest > limit:
        if idle is None and delay is not None:
            return Judgement("bad", f"The screen waits {_duration(delay)} after it goes dark before it "
                                    f"locks; it should lock within {_duration(limit)}.", obs)
        if idle is None:
            return Judgement("bad", f"The screen doesn't lock within {_duration(limit)} of inactivity.", obs)
        if delay is None:
            return Judgement("bad", f"The screen locks after {_duration(idle)} or more; it should lock "
                                    f"within {_duration(limit)}.", obs)
        return Judgement("bad", f"The screen locks after {_duration(lowest)}; it should lock within "
                                f"{_duration(limit)}.", obs)
    if enabled is True and highest is not None and highest <= limit:
        if idle is None:
            return Judgement("pass", f"The screen locks within {_duration(highest)} of inactivity.", obs)
        return Judgement("pass", f"The screen locks after {_duration(highest)} of inactivity.", obs)
    return unknown(fact, "the screen lock")


def _idle_bounds(extra: dict) -> tuple[int, int | None]:
    """An unread idle time's bounds from what its sources gave (``idle_seconds_at_least`` /
    ``idle_seconds_at_most``): one source of two read bounds it from above."""
    low = _seconds(extra.get("idle_seconds_at_least")) or 1
    high = _seconds(extra.get("idle_seconds_at_most")) or None
    if high is not None and high < low:
        return 1, None
    return low, high


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} seconds" if seconds != 1 else "1 second"
    minutes, rest = divmod(seconds, 60)
    if rest:
        return f"{minutes} min {rest} s"
    hours, minutes_left = divmod(minutes, 60)
    if hours and not minutes_left:
        return f"{hours} hours" if hours != 1 else "1 hour"
    return f"{minutes} minutes" if minutes != 1 else "1 minute"


def judge_os_version(fact: Fact, policy: Policy, platform: str) -> Judgement:
    obs = dict(fact.observed)
    name = obs.get("name") or "This system"
    os_id = fact.extra.get("os_id")
    version = obs.get("version")
    minimum = (policy.param("os_version", "minimum", {}) or {}).get(os_id)
    recommended = (policy.param("os_version", "recommended", {}) or {}).get(os_id)
    end_of_life_on = policy.param("os_version", "end_of_life", True) is not False
    if version is None:
        if fact.extra.get("rolling"):
            return Judgement("skip", f"{name} has no version number to compare (rolling release).", obs)
        if os_id and not minimum and not recommended and not (end_of_life_on and _has_end_dates(os_id)):
            # no version could change the answer
            return Judgement("skip", f"No minimum version is set for {name}.", obs)
        return unknown(fact, "the system version")
    if end_of_life_on:
        ended = _end_of_life(fact, os_id, version, obs)
        if ended is not None:
            return ended
    shown = f"{name} {version}"
    if not minimum and not recommended:
        if obs.get("support_ends"):
            return Judgement("pass", f"{shown} still gets security fixes.", obs)
        return Judgement("skip", f"No minimum version is set for {name}.", obs)
    want_min, want_rec = _friendly(os_id, minimum), _friendly(os_id, recommended)
    if minimum:
        cmp = compare_versions(version, minimum)
        if cmp is None:
            return Judgement("unknown", f"Checkup couldn't read the version of {name} ({version!r}).", obs)
        if cmp < 0:
            return Judgement("bad", f"{shown} is out of date; {want_min} or later is needed.", obs)
    if recommended:
        cmp = compare_versions(version, recommended)
        if cmp is None:
            return Judgement("unknown", f"Checkup couldn't read the version of {name} ({version!r}).", obs)
        if cmp < 0:
            return Judgement("warn", f"{shown} works, but an update to {want_rec} or later is recommended.", obs)
    return Judgement("pass", f"{shown} is up to date.", obs)


def _check_day(fact: Fact) -> date:
    """The day of the check (the pipeline puts it in extra["today"]), in UTC."""
    today = fact.extra.get("today")
    if isinstance(today, date) and not isinstance(today, datetime):
        return today
    return datetime.now(timezone.utc).date()


MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


def _long_date(day: date) -> str:
    """"14 October 2025", whatever the machine's locale."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


END_OF_LIFE_ADVICE = {
    "windows": "Update to Windows 11.",
    "windows11": "Install the newest Windows 11 version.",
    "windows-server": "Ask IT to move it to a newer Windows Server.",
    "macos": "Update to a newer macOS.",
}


def _has_end_dates(os_id: str) -> bool:
    """Whether the end-of-support table dates any release of this system."""
    from . import end_of_life as eol
    return any(r.os == os_id for r in eol.table().releases)


def _end_of_life(fact: Fact, os_id: str | None, version: str, obs: dict) -> Judgement | None:
    """A "bad" (or "unknown") judgement when the vendor no longer patches this release."""
    from . import end_of_life as eol
    edition = eol.edition_group(obs.get("edition")) if os_id == "windows" else None
    found = eol.support_end(os_id, version, edition)
    if found is None:
        return None
    row, edition_known = found
    obs["support_ends"] = row.end.isoformat()
    today = _check_day(fact)
    if today <= row.end:
        return None
    label = row.name
    if os_id == "windows" and not edition_known:
        label = WINDOWS_RELEASES.get(row.release, row.name)
    if row.esu:
        state, until = eol.windows_esu(obs, edition, today)
        if state == "covered":
            obs["support_ends"] = until.isoformat() if until else None
            return None
        if state == "unknown":
            why = fact.extra.get("esu_reason") or (
                "the installed update could not be read" if eol.ubr_of(version) is None
                else "no update for Extended Security Updates PCs had come out yet")
            return Judgement("unknown", f"Checkup couldn't tell whether this PC gets Extended Security "
                                        f"Updates ({why}): {label} has had no regular security fixes "
                                        f"since {_long_date(row.end)}.", obs)
    if os_id == "windows":
        advice = END_OF_LIFE_ADVICE["windows11" if label.startswith("Windows 11") else "windows"]
    elif os_id in END_OF_LIFE_ADVICE:
        advice = END_OF_LIFE_ADVICE[os_id]
    else:
        advice = f"Upgrade to a newer {(obs.get('name') or 'system').strip()} release."
    obs["end_of_life"] = True
    shows = " and this PC shows no Extended Security Updates" if row.esu else ""
    return Judgement("bad", f"{label} no longer gets security fixes (since {_long_date(row.end)}){shows}. "
                            f"{advice}", obs)


# Windows versions as people know them, by build number.
WINDOWS_RELEASES = {
    "10240": "Windows 10 1507", "10586": "Windows 10 1511", "14393": "Windows 10 1607",
    "15063": "Windows 10 1703", "16299": "Windows 10 1709", "17134": "Windows 10 1803",
    "17763": "Windows 10 1809", "18362": "Windows 10 1903", "18363": "Windows 10 1909",
    "19041": "Windows 10 2004", "19042": "Windows 10 20H2", "19043": "Windows 10 21H1",
    "19044": "Windows 10 21H2", "19045": "Windows 10 22H2", "22000": "Windows 11 21H2",
    "22621": "Windows 11 22H2", "22631": "Windows 11 23H2", "26100": "Windows 11 24H2",
    "26200": "Windows 11 25H2",
}


def _friendly(os_id: str | None, version: str | None) -> str | None:
    """"10.0.26100" -> "Windows 11 24H2 (10.0.26100)"; other systems unchanged."""
    if os_id == "windows" and version:
        parts = version.split(".")
        if len(parts) >= 3 and parts[2] in WINDOWS_RELEASES:
            return f"{WINDOWS_RELEASES[parts[2]]} ({version})"
    return version


def judge_automatic_updates(fact: Fact, policy: Policy, platform: str) -> Judgement:
    obs = dict(fact.observed)
    enabled = obs.get("enabled")
    if enabled is False and fact.extra.get("downloads_only"):
        return Judgement("bad", "Updates are downloaded by themselves but not installed, so security "
                                "fixes wait until someone installs them.", obs)
    if enabled is False:
        return Judgement("bad", "Automatic updates are off, so security fixes don't arrive by themselves.", obs)
    if enabled is None:
        return unknown(fact, "automatic updates")
    if platform == "darwin":
        # Settings known to be off make it "partly on" even when another one was not read.
        off = obs.get("settings_off")
        if not isinstance(off, list):
            off = fact.extra.get("settings_off_known") or []
        if off or obs.get("complete") is False:
            names = ", ".join(MAC_UPDATE_SETTINGS.get(k, k) for k in off)
            return Judgement("warn", "Automatic updates are only partly on"
                                     + (f" (off: {names})." if names else "."), obs)
        if obs.get("complete") is not True:
            return unknown(fact, "every automatic update setting")
    return Judgement("pass", "Automatic updates are on.", obs)


def judge_system_integrity(fact: Fact, policy: Policy, platform: str) -> Judgement:
    obs = dict(fact.observed)
    if platform == "darwin":
        return switch(fact, "sip", "System Integrity Protection", on="System Integrity Protection is on.",
                      off="System Integrity Protection is off or only partly on.")
    if platform == "windows":
        uac, sb = obs.get("uac"), obs.get("secure_boot")
        off = [n for n, v in (("User Account Control", uac), ("Secure Boot", sb)) if v is False]
        if off:
            return Judgement("bad", f"{' and '.join(off)} {'is' if len(off) == 1 else 'are'} off.", obs)
        if uac is True and sb is True:
            return Judgement("pass", "User Account Control and Secure Boot are on.", obs)
        return unknown(fact, "User Account Control and Secure Boot")
    return switch(fact, "secure_boot", "Secure Boot", on="Secure Boot is on.", off="Secure Boot is off.")


def judge_remote_login(fact: Fact, policy: Policy, platform: str) -> Judgement:
    name = REMOTE_NAME.get(platform, "Remote login")
    return switch(fact, "enabled", name, good=False, off=f"{name} is off.",
                  on=f"{name} is on, so this computer accepts logins over the network.")


def judge_gatekeeper(fact: Fact, policy: Policy, platform: str) -> Judgement:
    return switch(fact, "enabled", "Gatekeeper", on="Gatekeeper checks apps before they open.",
                  off="Gatekeeper is off, so apps from anywhere can open unchecked.")


def judge_antivirus(fact: Fact, policy: Policy, platform: str) -> Judgement:
    obs = dict(fact.observed)
    products = obs.get("products")
    if not isinstance(products, list):
        return unknown(fact, "antivirus")
    good = [p for p in products if p.get("enabled") and p.get("up_to_date")]
    if good:
        return Judgement("pass", f"{good[0].get('name') or 'Antivirus'} is on and up to date.", obs)
    if not products:
        return Judgement("bad", "No antivirus is installed.", obs)
    on = [p for p in products if p.get("enabled")]
    if on:
        return Judgement("bad", f"{on[0].get('name') or 'Antivirus'} is on but out of date.", obs)
    return Judgement("bad", "Antivirus is turned off.", obs)


def judge_security_software(fact: Fact, policy: Policy, platform: str) -> Judgement:
    required = policy.required_software(platform)
    if not required:
        return Judgement("skip", "Your company requires no monitoring software on this computer.", {})
    procs = fact.extra.get("processes")
    if not procs:
        return Judgement("unknown", "Checkup couldn't list the running programs.",
                         {"required": required})
    running_names = {_proc_key(p) for p in procs}
    running = [n for n in required if _proc_key(n) in running_names]
    missing = [n for n in required if _proc_key(n) not in running_names]
    obs = {"required": required, "running": running, "missing": missing}
    if missing:
        return Judgement("bad", f"Required security software is not running: {', '.join(missing)}.", obs)
    return Judgement("pass", "The security software your company requires is running.", obs)


def _proc_key(name: str) -> str:
    name = name.strip().lower()
    return name[:-4] if name.endswith(".exe") else name


JUDGES: dict[str, Callable[[Fact, Policy, str], Judgement]] = {
    "disk_encryption": judge_disk_encryption,
    "firewall": judge_firewall,
    "screen_lock": judge_screen_lock,
    "os_version": judge_os_version,
    "automatic_updates": judge_automatic_updates,
    "system_integrity": judge_system_integrity,
    "remote_login": judge_remote_login,
    "gatekeeper": judge_gatekeeper,
    "antivirus": judge_antivirus,
    "security_software": judge_security_software,
}


def status_of(outcome: str, level: str) -> str:
    if level == "off":
        return "skip"
    if outcome == "bad":
        return "fail" if level == "required" else "nudge"
    if outcome == "warn":
        return "nudge"
    return outcome  # pass, unknown, skip


def judge(check_id: str, fact: Fact, policy: Policy, platform: str) -> tuple[str, Judgement]:
    """(status, judgement) for one check."""
    level = policy.level(check_id)
    if level == "off":
        return "skip", Judgement("skip", "Your company has turned this check off.", {})
    if fact.skip:
        return "skip", Judgement("skip", _sentence(fact.skip), {})
    j = judge_of(check_id)(fact, policy, platform)
    return status_of(j.outcome, level), j


def judge_of(check_id: str) -> Callable[[Fact, Policy, str], Judgement]:
    """The check's judge (KeyError for a check without one)."""
    found = JUDGES.get(check_id) or registry.own_judge(check_id)
    if found is None:
        raise KeyError(f"no judge for check {check_id!r}")
    return found


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."
