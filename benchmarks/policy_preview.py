"""The policy editor's preview on a large fleet: N devices (default 5,000) each with a newest
report made by the real pipeline from the recorded captures (tests/fixtures), in a fresh
SQLite database with the server's schema (Alembic). Times the query of the newest reports
and the re-judging under the current and a proposed policy (a threshold and two levels
changed: the slowest path, every device's screen lock and system version judged twice).

    python benchmarks/policy_preview.py --devices 5000
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "server"))

import srvkit  # noqa: E402

from server import policy_edit as pe, policy_store  # noqa: E402
from server.db import make_engine, migrate  # noqa: E402
from server.models import Device, Report  # noqa: E402

PROPOSED = ('[screen_lock]\nmax_seconds = 300\n\n[firewall]\nlevel = "suggested"\n\n'
            '[os_version]\nminimum = { macos = "15.0", windows = "10.0.22631", ubuntu = "24.04" }\n'
            '\n[remote_login]\nlevel = "required"\n')


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    templates = [srvkit.report_for(f) for f in srvkit.fixture_files()]
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine("sqlite:///" + os.path.join(tmp, "bench.sqlite3"))
        migrate(engine)
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        devices, reports = [], []
        for i in range(args.devices):
            rep = templates[i % len(templates)]
            rid, did = str(uuid.uuid4()), uuid.uuid4().hex
            devices.append(dict(id=did, secret_hash="x", enrolled_at=now, platform=rep["device"]["platform"],
                                hostname=f"host-{i}", status=rep["status"], last_report_id=rid))
            reports.append(dict(report_id=rid, device_id=did, checked_at=now, received_at=now,
                                status=rep["status"], body=json.dumps(dict(rep, report_id=rid))))
        with engine.begin() as conn:
            conn.execute(Device.__table__.insert(), devices)
            conn.execute(Report.__table__.insert(), reports)
        cur, new = pe.effective(""), pe.effective(PROPOSED)
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            with engine.connect() as conn:
                rows = policy_store.newest_reports(conn)
            t1 = time.perf_counter()
            result = pe.preview(rows, cur, new)
            t2 = time.perf_counter()
            times.append((t1 - t0, t2 - t1))
        q, j = min(t[0] for t in times), min(t[1] for t in times)
        print(f"{args.devices} devices ({len(templates)} captures), best of {args.runs}: "
              f"query {q * 1000:.0f} ms, judging {j * 1000:.0f} ms, total {(q + j) * 1000:.0f} ms")
        print(f"  -> {len(result.worse)} worse ({result.red} red), {len(result.better)} better "
              f"({result.green} green), {result.unsure} can't be told")
    return 0


if __name__ == "__main__":
    sys.exit(main())
