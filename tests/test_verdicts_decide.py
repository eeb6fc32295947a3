"""Every judge decides from what was read when that is enough (DESIGN.md, SOURCES.md).

For each judge, each fact it reads has a small domain of values it can be read as. For
every combination of read and unread facts, the outcome is "unknown" exactly when two
fillings of the unread facts give different outcomes, and otherwise it is the outcome all
fillings give. The domains hold the boundary values of the rules (900 s and 901 s for
max_seconds = 900, each version just below and at the minimum) so that exhaustive
enumeration over them covers every answer the rule can give.

Where a probe shapes the Fact from its sources (Windows firewall profiles, the four macOS
update settings) the Fact is built with that probe's own ``to_fact``; Windows screen lock is
enumerated end to end, from registry values through the real probe to the judge.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from agent.policy import load_policy
from agent.verdicts import JUDGES
from probes.darwin import automatic_updates as mac_updates
from probes.fact import Fact
from probes.host import RecordedHost
from probes.windows import firewall as win_firewall
from probes.windows import screen_lock as win_screen_lock


def policy(tmp, text: str = ""):
    path = tmp / "policy.toml"
    path.write_text(text)
    return load_policy(str(path))


@dataclass(frozen=True)
class Unread:
    """A fact that was not read; ``variant`` names what is still known about it."""
    variant: str = "unread"


ANY = {"unread": lambda value: True}


@dataclass
class Spec:
    check: str
    platform: str
    domains: dict[str, list]                       # fact -> the values it can be read as
    build: Callable[[dict], Fact | None]           # reading -> Fact; None: cannot happen
    variants: dict[str, dict[str, Callable[[Any], bool]]] = field(default_factory=dict)
    policy_text: str = ""
    name: str = ""

    def __post_init__(self):
        self.name = self.name or f"{self.check}-{self.platform}"

    def choices(self, fact_name):
        return list(self.domains[fact_name]) + [Unread(v) for v in self.variants.get(fact_name, ANY)]

    def fillings(self, fact_name, reading):
        if not isinstance(reading, Unread):
            return [reading]
        allowed = self.variants.get(fact_name, ANY)[reading.variant]
        return [v for v in self.domains[fact_name] if allowed(v)]


def why(name: str) -> str:
    return f"{name} timed out"


def simple(**observed_or_unread) -> Fact:
    """A Fact with each read value in observed and each unread one in unread."""
    fact = Fact()
    for name, value in observed_or_unread.items():
        if isinstance(value, Unread):
            fact.miss(name, why(name))
        else:
            fact.observed[name] = value
    return fact


def one_bool(check, platform, name="enabled"):
    return Spec(check, platform, {name: [True, False]}, lambda r: simple(**r))


# -- the facts of each judge -------------------------------------------------------------
def disk_encryption(platform):
    def build(r):
        fact = simple(state=r["state"])
        if not isinstance(r["encryptable"], Unread):
            fact.observed["encryptable"] = r["encryptable"]
        return fact
    return Spec("disk_encryption", platform,
                {"state": ["on", "off", "encrypting", "suspended", "decrypting"],
                 "encryptable": [True, False]}, build)


def windows_firewall(r):
    return win_firewall.to_fact({p: v for p, v in r.items() if not isinstance(v, Unread)},
                                "netsh timed out")


def mac_firewall(r):
    return simple(**r)


IDLE = [0, 1, 60, 299, 300, 301, 599, 600, 601, 840, 899, 900, 901, 1200, 1800, 28800]
DELAY = [0, 5, 60, 299, 300, 301, 600, 840, 899, 900, 901, 28800]
# An unread idle time with what its sources still tell (macOS: one of screen saver idle and
# display sleep read -> at most that; Windows: an unreadable value beside a known limit).
IDLE_BOUNDS = {"unread": (None, None), **{f"at most {b}": (None, b) for b in (60, 300, 600, 900, 1200)},
               "at least 300": (300, None), "at least 901": (901, None),
               "between 300 and 1200": (300, 1200), "between 600 and 900": (600, 900)}
IDLE_VARIANTS = {name: (lambda v, lo=lo, hi=hi: (lo or 1) <= v <= (hi or v) if lo or hi else True)
                 for name, (lo, hi) in IDLE_BOUNDS.items()}


def screen_lock_fact(r):
    fact = simple(enabled=r["enabled"], idle_seconds=r["idle"], lock_delay_seconds=r["delay"])
    idle = r["idle"]
    if isinstance(idle, Unread):
        low, high = IDLE_BOUNDS[idle.variant]
        if low:
            fact.extra["idle_seconds_at_least"] = low
        if high:
            fact.extra["idle_seconds_at_most"] = high
    return fact


def screen_lock(limit):
    return Spec("screen_lock", "linux", {"enabled": [True, False], "idle": IDLE, "delay": DELAY},
                screen_lock_fact, variants={"idle": IDLE_VARIANTS},
                policy_text=f"[screen_lock]\nmax_seconds = {limit}\n", name=f"screen_lock-{limit}")


ROLLING = "no VERSION_ID"
OS_POLICY = ('[os_version]\nminimum = { ubuntu = "22.04", macos = "14.0" }\n'
             'recommended = { ubuntu = "24.04" }\n')


def os_version_fact(r):
    """os_id and version come from the same file: os_id unread means version unread too."""
    os_id, version = r["os_id"], r["version"]
    if isinstance(os_id, Unread):
        if not isinstance(version, Unread):
            return None
        return simple(name=Unread(), version=Unread())
    if (os_id == "arch") != (version == ROLLING):
        return None  # this test's Arch is the rolling release, the others have numbers
    fact = Fact(observed={"name": os_id.capitalize()}, extra={"os_id": os_id})
    if version == ROLLING:
        fact.miss("version", "this distribution has no version number (rolling release)")
        fact.extra["rolling"] = True
    elif isinstance(version, Unread):
        fact.miss("version", why("version"))
    else:
        fact.observed["version"] = version
    return fact


MAC_KEYS = mac_updates.KEYS


def mac_updates_fact(r):
    values = {k: v for k, v in r.items() if not isinstance(v, Unread)}
    reasons = {k: why(k) for k, v in r.items() if isinstance(v, Unread)}
    return mac_updates.to_fact(values, reasons)


ON = {"name": "Defender", "enabled": True, "up_to_date": True}
STALE = {"name": "Defender", "enabled": True, "up_to_date": False}
OFF = {"name": "Old AV", "enabled": False, "up_to_date": True}


def antivirus_fact(r):
    return simple(products=r["products"])


def security_software_fact(r):
    procs = r["processes"]
    return Fact() if isinstance(procs, Unread) else Fact(extra={"processes": procs})


SPECS = [
    *[disk_encryption(p) for p in ("darwin", "windows", "linux")],
    Spec("firewall", "darwin", {"enabled": [True, False], "stealth": [True, False]}, mac_firewall),
    one_bool("firewall", "linux"),
    Spec("firewall", "windows", {p: [True, False] for p in win_firewall.PROFILES}, windows_firewall),
    *[screen_lock(limit) for limit in (900, 300, 0)],
    Spec("os_version", "linux", {"os_id": ["ubuntu", "haiku", "arch"],
                                 "version": ["20.04", "22.04", "24.04", "24.10", ROLLING]},
         os_version_fact, policy_text=OS_POLICY),
    Spec("os_version", "darwin", {"os_id": ["macos"], "version": ["13.6.1", "14.0", "15.1"]},
         os_version_fact, policy_text=OS_POLICY),
    Spec("automatic_updates", "darwin", {k: [True, False] for k in MAC_KEYS}, mac_updates_fact),
    one_bool("automatic_updates", "windows"),
    one_bool("automatic_updates", "linux"),
    one_bool("system_integrity", "darwin", "sip"),
    Spec("system_integrity", "windows", {"uac": [True, False], "secure_boot": [True, False]},
         lambda r: simple(**r)),
    one_bool("system_integrity", "linux", "secure_boot"),
    *[one_bool("remote_login", p) for p in ("darwin", "windows", "linux")],
    one_bool("gatekeeper", "darwin"),
    Spec("antivirus", "windows", {"products": [[], [ON], [STALE], [OFF], [OFF, ON], [OFF, STALE]]},
         antivirus_fact),
    *[Spec("security_software", "windows",
           {"processes": [["osqueryd.exe", "explorer.exe"], ["explorer.exe"], ["OSQUERYD"]]},
           security_software_fact, policy_text=text, name=f"security_software-{label}")
      for label, text in (("required", '[security_software]\nrequire = { windows = ["osqueryd"] }\n'),
                          ("none", ""))],
]


def test_every_judge_is_enumerated():
    assert {s.check for s in SPECS} == set(JUDGES)


def outcome(spec, fact, pol):
    return JUDGES[spec.check](fact, pol, spec.platform)


def violations(spec, pol):
    """Each reading whose outcome breaks the rule, described for a person."""
    names = list(spec.domains)
    bad = []
    for combo in itertools.product(*(spec.choices(n) for n in names)):
        reading = dict(zip(names, combo))
        fact = spec.build(reading)
        if fact is None:
            continue
        possible = set()
        for filled in itertools.product(*(spec.fillings(n, reading[n]) for n in names)):
            full = spec.build(dict(zip(names, filled)))
            if full is not None:
                got = outcome(spec, full, pol).outcome
                assert got != "unknown", f"{spec.name}: everything read, still unknown: {filled}"
                possible.add(got)
        assert possible, f"{spec.name}: no filling of {reading}"
        want = possible.pop() if len(possible) == 1 else "unknown"
        judgement = outcome(spec, fact, pol)
        if judgement.outcome != want:
            bad.append(f"{reading}: {judgement.outcome} ({judgement.summary}), want {want}")
        elif want == "unknown" and "couldn't" not in judgement.summary:
            bad.append(f"{reading}: unknown without saying what could not be read")
    return bad


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_unknown_exactly_when_an_unread_fact_could_change_the_answer(spec, tmp_path):
    bad = violations(spec, policy(tmp_path, spec.policy_text))
    assert not bad, f"{len(bad)} readings, e.g.\n" + "\n".join(bad[:15])


# -- screen lock end to end: what the sources print -> the real probe -> the judge ------------
# Each source has the answers it can give; UNREADABLE ones may also fail (the fact is then
# unread) and are filled with every answer to find what the failure could hide.
FAILED = "failed"


def end_to_end_violations(domains, unreadable, outcome_of):
    names = list(domains)
    bad = []
    choices = [domains[n] + ([FAILED] if n in unreadable else []) for n in names]
    for combo in itertools.product(*choices):
        possible = set()
        for filled in itertools.product(*(domains[n] if v == FAILED else [v] for n, v in zip(names, combo))):
            possible.add(outcome_of(dict(zip(names, filled))).outcome)
        assert "unknown" not in possible, f"every source answered, still unknown: {combo}"
        want = possible.pop() if len(possible) == 1 else "unknown"
        got = outcome_of(dict(zip(names, combo)))
        if got.outcome != want:
            bad.append(f"{dict(zip(names, combo))}: {got.outcome} ({got.summary}), want {want}")
    return bad


DESK, DESK_POLICY, SYSTEM = win_screen_lock.DESKTOP, win_screen_lock.DESKTOP_POLICY, win_screen_lock.SYSTEM_POLICY
GARBAGE = "soon"  # a registry value Checkup cannot understand
# (key, value name) -> values; None = not set. Policy values override the user's.
REGISTRY_DOMAINS = {
    (DESK, "ScreenSaveActive"): ["1", "0"],
    (DESK, "ScreenSaverIsSecure"): ["1", "0"],
    (DESK, "ScreenSaveTimeOut"): ["0", "300", "1200"],
    (DESK, "SCRNSAVE.EXE"): [None, "", r"C:\Windows\system32\scrnsave.scr"],
    (DESK_POLICY, "ScreenSaverIsSecure"): [None, "1"],
    (DESK_POLICY, "SCRNSAVE.EXE"): [None, "scrnsave.scr"],
    (SYSTEM, "InactivityTimeoutSecs"): [None, 0, 600, 1200],
}
UNREADABLE = {(DESK, "ScreenSaveActive"), (DESK, "ScreenSaverIsSecure"), (DESK, "ScreenSaveTimeOut"),
              (SYSTEM, "InactivityTimeoutSecs")}


def test_windows_screen_lock_end_to_end(tmp_path):
    pol = policy(tmp_path, "[screen_lock]\nmax_seconds = 900\n")

    def outcome_of(values):
        registry: dict = {}
        for (key, name), value in values.items():
            if value == FAILED:
                value = GARBAGE
            if value is not None:
                registry.setdefault(key, {})[name] = value
        fact = win_screen_lock.probe(RecordedHost({"platform": "windows", "registry": registry}))
        return JUDGES["screen_lock"](fact, pol, "windows")

    bad = end_to_end_violations(REGISTRY_DOMAINS, UNREADABLE, outcome_of)
    assert not bad, f"{len(bad)} registries, e.g.\n" + "\n".join(bad[:10])


# macOS: the three sources of SOURCES.md, in the forms they print (sysadminctl on stderr).
MAC_ARGV = {"lock": ["sysadminctl", "-screenLock", "status"],
            "idle": ["defaults", "-currentHost", "read", "com.apple.screensaver", "idleTime"],
            "sleep": ["pmset", "-g"]}
MAC_ABSENT = ("2024-04-22 09:15:03.981 defaults[5124:61865]\nThe domain/default pair of "
              "(/Users/x/Library/Preferences/ByHost/com.apple.screensaver, idleTime) does not exist\n")
MAC_DOMAINS = {
    "lock": ["screenLock is off", "screenLock delay is immediate", "screenLock delay is 5 seconds",
             "screenLock delay is 300 seconds", "screenLock delay is 900 seconds",
             "screenLock delay is 28800 seconds"],
    "idle": [None, "0", "60", "300", "1200"],    # None: the key is not set
    "sleep": ["0", "2", "10", "20"],             # minutes
}


def mac_command(source, value):
    argv = MAC_ARGV[source]
    if value == FAILED:
        return {"argv": argv, "error": "timeout"}
    if source == "lock":
        return {"argv": argv, "stdout": "", "returncode": 0,
                "stderr": f"2026-09-23 13:23:41.638 sysadminctl[69945:3023679] {value}\n"}
    if source == "idle" and value is None:
        return {"argv": argv, "stdout": "", "stderr": MAC_ABSENT, "returncode": 1}
    if source == "idle":
        return {"argv": argv, "stdout": f"{value}\n", "stderr": "", "returncode": 0}
    return {"argv": argv, "stdout": f"Currently in use:\n displaysleep         {value}\n", "stderr": "",
            "returncode": 0}


@pytest.mark.parametrize("limit", [900, 300])
def test_macos_screen_lock_end_to_end(tmp_path, limit):
    from probes.darwin import screen_lock as mac_screen_lock
    pol = policy(tmp_path, f"[screen_lock]\nmax_seconds = {limit}\n")

    def outcome_of(values):
        commands = [mac_command(source, value) for source, value in values.items()]
        fact = mac_screen_lock.probe(RecordedHost({"platform": "darwin", "commands": commands}))
        return JUDGES["screen_lock"](fact, pol, "darwin")

    bad = end_to_end_violations(MAC_DOMAINS, set(MAC_DOMAINS), outcome_of)
    assert not bad, f"{len(bad)} Macs, e.g.\n" + "\n".join(bad[:10])


GNOME_KEYS = {"lock": ("org.gnome.desktop.screensaver", "lock-enabled"),
              "idle": ("org.gnome.desktop.session", "idle-delay"),
              "delay": ("org.gnome.desktop.screensaver", "lock-delay")}
GNOME_DOMAINS = {"lock": ["true", "false"], "idle": ["uint32 0", "uint32 300", "uint32 900", "uint32 1200"],
                 "delay": ["uint32 0", "uint32 30", "uint32 900"]}


def test_gnome_screen_lock_end_to_end(tmp_path):
    from probes.linux import screen_lock as linux_screen_lock
    pol = policy(tmp_path, "[screen_lock]\nmax_seconds = 900\n")

    def outcome_of(values):
        commands = []
        for source, value in values.items():
            argv = ["gsettings", "get", *GNOME_KEYS[source]]
            commands.append({"argv": argv, "error": "timeout"} if value == FAILED else
                            {"argv": argv, "stdout": f"{value}\n", "stderr": "", "returncode": 0})
        fact = linux_screen_lock.probe(RecordedHost({"platform": "linux", "commands": commands,
                                                     "env": {"XDG_CURRENT_DESKTOP": "ubuntu:GNOME"}}))
        return JUDGES["screen_lock"](fact, pol, "linux")

    bad = end_to_end_violations(GNOME_DOMAINS, set(GNOME_DOMAINS), outcome_of)
    assert not bad, f"{len(bad)} desktops, e.g.\n" + "\n".join(bad[:10])
