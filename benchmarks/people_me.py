#!/usr/bin/env python3
"""How long /me takes to find one person's devices among many MDM records.

Fills a fresh database (SQLite in a temp dir, or --url a PostgreSQL database) with
N MDM records through the real sync (server.mdm.store.sync_source), 4 per person,
then times server.people.person_devices (what /me and /me.json run) for one person:
median and worst of --runs calls.

    python benchmarks/people_me.py [--records 100000] [--runs 30] [--postgres | --url URL]

--postgres starts a throwaway PostgreSQL cluster (tests/server/srvkit.PgCluster).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

KINDS = [("phone", "ios", "17.5"), ("tablet", "ipados", "18.1"), ("laptop", "macos", "14.5"),
         ("phone", "android", "14")]


class Connector:
    """N records as a connector gives them to the sync."""

    def __init__(self, n: int):
        from server.mdm.base import SyncStats
        self.n = n
        self.stats = SyncStats()

    def records(self):
        from server.mdm.records import MdmRecord
        seen = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.timezone.utc)
        for i in range(self.n):
            kind, platform, version = KINDS[i % 4]
            self.stats.records += 1
            yield MdmRecord(source="jamf", source_id=str(i), serial=f"SER{i:08d}", platform=platform,
                            last_seen=seen, hostname=f"dev-{i}", user_email=f"person{i // 4}@example.com",
                            device_kind=kind, os_version=version, passcode=True, encrypted=True,
                            compromised=False, name=f"Device {i}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--url", default="")
    ap.add_argument("--postgres", action="store_true")
    args = ap.parse_args()
    if args.postgres:
        sys.path.insert(0, os.path.join(ROOT, "tests", "server"))
        import srvkit
        cluster = srvkit.PgCluster(srvkit.pg_bindir())
        cluster.start()
        try:
            args.url = cluster.create_database("bench")
            return run(args)
        finally:
            cluster.stop()
    return run(args)


def run(args) -> int:  # noqa: ANN001
    from server.config import load_config
    from server.db import make_engine, migrate
    from server.mdm.store import sync_source
    from server.people import person_devices
    url = args.url or "sqlite:///" + os.path.join(tempfile.mkdtemp(prefix="checkup-bench-"), "b.sqlite3")
    engine = make_engine(url)
    migrate(engine)
    t0 = time.perf_counter()
    res = sync_source(engine, "jamf", {}, connector=Connector(args.records), owners=False)
    assert res.status == "ok", res.line()
    print(f"{engine.dialect.name}: {args.records} MDM records synced in {time.perf_counter() - t0:.1f} s")
    cfg = load_config(None, environ={})
    who = f"person{args.records // 8}@example.com"
    times = []
    for _ in range(args.runs):
        t = time.perf_counter()
        data = person_devices(engine, cfg, who)
        times.append((time.perf_counter() - t) * 1000)
    assert len(data["devices"]) == 4, data
    print(f"person_devices({who}): median {statistics.median(times):.1f} ms, "
          f"worst {max(times):.1f} ms over {args.runs} runs ({len(data['devices'])} devices)")
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
