"""Reconciliation at scale: 100,000 agent devices against 100,000 MDM records.

    python benchmarks/reconcile_bench.py [--agents N] [--records N]

Prints the wall time of ``reconcile()`` alone (fleet generation not counted)
and the peak resident memory (with how much reconciling added). The target is <= 10 s.
The fleet overlaps imperfectly on purpose: renamed hosts, byte-swapped UUIDs,
placeholder serials, stale records, duplicates, disagreeing facts, phones.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import resource
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from server.mdm.records import MdmRecord, swap_uuid  # noqa: E402
from server.reconcile import AgentDevice, reconcile  # noqa: E402

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone.utc)


def fleet(n_agents: int, n_records: int, seed: int = 7):
    rnd = random.Random(seed)
    agents: list[AgentDevice] = []
    records: list[MdmRecord] = []
    sources = ("jamf", "intune", "google", "ivanti")
    for k in range(max(n_agents, n_records)):
        serial = f"C02{k:09d}"
        uuid = f"{k:08X}-1111-2222-3333-{k:012X}"
        platform = ("macos", "windows", "linux")[k % 3]
        seen = NOW - dt.timedelta(hours=rnd.randint(0, 24 * 20))
        if k < n_agents:
            agents.append(AgentDevice(
                device_id=f"d{k}", serial=None if k % 97 == 0 else serial, hardware_uuid=uuid,
                hostname=f"host-{k}", platform=platform, last_seen=seen,
                disk_encryption="off" if k % 50 == 0 else "on", firewall=k % 40 != 0,
                system_integrity=True if platform == "macos" else None,
                gatekeeper=True if platform == "macos" else None, os_version="14.4.1"))
        if k < n_records:
            src = sources[k % 4]
            # 1 in 10 records unknown to the agents, 1 in 13 with the swapped UUID only
            rs = serial if k % 13 else None
            ru = swap_uuid(uuid) if k % 13 == 0 else uuid
            if k % 10 == 0:
                rs, ru = f"X{k:011d}", None
            records.append(MdmRecord(
                source=src, source_id=str(k), serial=rs, hardware_uuid=ru,
                hostname=f"host-{k}-old" if k % 7 == 0 else f"host-{k}",
                platform="ios" if k % 25 == 0 else platform,
                os_version="14.4" if k % 11 == 0 else "14.4.1", encrypted=True,
                firewall=True, sip=True if platform == "macos" else None,
                compromised=k % 500 == 0,
                last_seen=NOW - dt.timedelta(hours=rnd.randint(0, 24 * 60))))
            if k % 1000 == 0:  # a duplicate record
                records.append(MdmRecord(source=src, source_id=f"{k}-dup", serial=rs,
                                         platform=platform, last_seen=NOW - dt.timedelta(days=200)))
    return agents, records[:n_records]


def _maxrss() -> int:
    """Peak resident set size of this process so far, in bytes (Linux reports KiB)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=100_000)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--limit", type=float, default=10.0, help="fail (exit 1) above this many seconds")
    args = ap.parse_args(argv)
    agents, records = fleet(args.agents, args.records)
    before = _maxrss()
    t0 = time.perf_counter()
    findings = reconcile(agents, records, now=NOW, silent_after_days=7)
    elapsed = time.perf_counter() - t0
    peak = _maxrss()
    kinds: dict[str, int] = {}
    for f in findings:
        kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
    print(f"reconcile: {len(agents):,} agent devices x {len(records):,} MDM records -> "
          f"{len(findings):,} findings in {elapsed:.2f} s (limit {args.limit:.0f} s); "
          f"peak RSS {peak / 1e6:.0f} MB ({(peak - before) / 1e6:.0f} MB above the loaded fleet)")
    print("findings: " + ", ".join(f"{k} {n:,}" for k, n in sorted(kinds.items())))
    return 0 if elapsed <= args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
