"""Probes: read the host, return facts. No judgement, no UI, no network.

Which checks exist is the agent's registry (agent/checks); probes/ knows only the
probe modules it has. ``probe_functions(platform)`` gives them, ``{check_id: probe}``:
the platform's ``CHECKS`` (probes/<platform>/__init__.py) plus ``COMMON``, the probes
that are the same everywhere. ``probe_all(host, ids)`` runs them concurrently.

A probe that raises is a bug, and it is not hidden here: ``probe_all`` raises it. The
agent's pipeline (agent/pipeline.py) is the one layer that turns a bug into an honest
"unknown" for that check, and logs it with the check id.
"""
from __future__ import annotations

import importlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable

from .fact import Fact
from .host import Host

IDENTITY_FIELDS = ("serial", "hardware_uuid", "model")


def platform_module(platform: str):
    return importlib.import_module(f"probes.{platform}")


def security_software(host: Host) -> Fact:
    """The running process names; the judge compares them with the policy."""
    names = host.processes()
    if not names:
        return Fact(unread={"running": "the list of running programs could not be read"})
    return Fact(extra={"processes": list(names)})


COMMON: dict[str, Callable[[Host], Fact]] = {"security_software": security_software}


def probe_functions(platform: str) -> dict[str, Callable[[Host], Fact]]:
    """Every probe this platform has, by check id."""
    return {**platform_module(platform).CHECKS, **COMMON}


def submit_all(pool: ThreadPoolExecutor, host: Host, ids: Iterable[str] | None = None
               ) -> tuple[dict[str, Future], Future]:
    """Start the probes of ``ids`` (default: every probe of the platform) and the identity
    read in ``pool``: ({check_id: future of its Fact}, future of the identity dict). An id
    without a probe on this platform gets no future. ``future.result()`` raises what the
    probe raised."""
    probes = probe_functions(host.platform)
    wanted = list(probes) if ids is None else [c for c in ids if c in probes]
    identity = pool.submit(platform_module(host.platform).identity, host)
    return {c: pool.submit(probes[c], host) for c in wanted}, identity


def probe_all(host: Host, only: Iterable[str] | None = None, workers: int = 8
              ) -> tuple[dict[str, Fact], dict]:
    """Run the probes (``only``: these ids) concurrently: (facts by check id, identity
    dict). Raises what a probe raises (see the module docstring)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        jobs, identity = submit_all(pool, host, only)
        return {c: job.result() for c, job in jobs.items()}, identity.result()
