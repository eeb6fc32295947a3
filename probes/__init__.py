"""Probes: read the host, return facts. No judgement, no UI, no network.

``probe_all(host)`` runs every check's probe for the host's platform
concurrently and returns ``{check_id: Fact}`` plus the device identity.
A probe that raises (a bug) gives an honest unknown, never a crash.
"""
from __future__ import annotations

import importlib
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from .fact import Fact, not_applicable
from .host import Host

CHECK_IDS = (
    "disk_encryption", "firewall", "screen_lock", "os_version", "automatic_updates",
    "system_integrity", "remote_login", "gatekeeper", "antivirus", "security_software",
)

ONLY_ON = {"gatekeeper": "darwin", "antivirus": "windows"}
PLATFORM_NAMES = {"darwin": "macOS", "windows": "Windows", "linux": "Linux"}

IDENTITY_FIELDS = ("serial", "hardware_uuid", "model")


def platform_module(platform: str):
    return importlib.import_module(f"probes.{platform}")


def security_software(host: Host) -> Fact:
    """The running process names; the judge compares them with the policy."""
    try:
        names = host.processes()
    except Exception:  # a broken host must not break the run
        names = []
    if not names:
        return Fact(unread={"running": "the list of running programs could not be read"})
    return Fact(extra={"processes": list(names)})


def _guard(fn: Callable[[Host], Fact], host: Host) -> Fact:
    try:
        fact = fn(host)
        if isinstance(fact, Fact):
            return fact
        return Fact(unread={"_": "the check returned nothing"})
    except Exception as exc:  # noqa: BLE001 - a probe bug must never crash the agent
        return Fact(unread={"_": f"the check failed unexpectedly ({type(exc).__name__})"})


def _identity(module, host: Host) -> dict:
    try:
        got = module.identity(host)
        return got if isinstance(got, dict) else {}
    except Exception:  # noqa: BLE001
        return {}


def probe_all(host: Host, only: tuple[str, ...] | None = None, workers: int = 8):
    """Run the probes concurrently. Returns (facts by check id, identity dict)."""
    module = platform_module(host.platform)
    probes: dict[str, Callable[[Host], Fact]] = dict(module.CHECKS)
    probes["security_software"] = security_software
    wanted = [c for c in CHECK_IDS if only is None or c in only]
    facts: dict[str, Fact] = {}
    jobs = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        ident_job = pool.submit(_identity, module, host)
        for check in wanted:
            if check in ONLY_ON and ONLY_ON[check] != host.platform:
                facts[check] = not_applicable(f"only on {PLATFORM_NAMES[ONLY_ON[check]]}")
            elif check not in probes:
                facts[check] = Fact(unread={"_": "not supported on this system yet"})
            else:
                jobs[check] = pool.submit(_guard, probes[check], host)
        for check, job in jobs.items():
            facts[check] = job.result()
        identity = ident_job.result()
    return {c: facts[c] for c in wanted}, identity
