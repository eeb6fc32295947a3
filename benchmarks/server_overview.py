"""IT page times on a large fleet: 100,000 devices with a year of daily history.

Fills a fresh database (SQLite, or a throwaway PostgreSQL cluster) through the
server's own schema (Alembic), then starts ``checkup-server run`` on loopback,
logs in as IT and times the fleet overview, filtered device lists and a device
page over HTTP.

    python benchmarks/server_overview.py --backend sqlite
    python benchmarks/server_overview.py --backend postgresql --devices 100000 --days 365
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "server"))

import requests  # noqa: E402

import srvkit  # noqa: E402

CHECKS = ["disk_encryption", "firewall", "screen_lock", "os_version", "automatic_updates",
          "system_integrity", "remote_login", "gatekeeper", "antivirus", "security_software"]
OSES = [("windows", "Windows 11 Enterprise", "10.0.22631.3447", 0.35),
        ("windows", "Windows 10 Pro", "10.0.19045.4291", 0.15),
        ("darwin", "macOS", "14.6.1", 0.2), ("darwin", "macOS", "15.1", 0.15),
        ("linux", "Ubuntu", "22.04", 0.1), ("linux", "Fedora Linux", "40", 0.05)]
STATUS_W = [("pass", 0.6), ("nudge", 0.2), ("fail", 0.12), ("unknown", 0.08)]
RANK = {"pass": 0, "skip": 1, "unknown": 2, "nudge": 3, "fail": 4}


def pick(rng, weighted):
    x, acc = rng.random(), 0.0
    for item in weighted:
        acc += item[-1]
        if x < acc:
            return item
    return weighted[-1]


def generate(devices: int, days: int, seed: int = 7):
    """Yield table rows: ('devices', row) ... built deterministically."""
    rng = random.Random(seed)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    today = now.date()
    template = srvkit.report_for(srvkit.fixture_files()[0])
    out = {"devices": [], "device_checks": [], "reports": [], "changes": []}
    day_rows = []  # generated lazily per device (large)
    for i in range(devices):
        dev_id = f"{i:032x}"
        plat, os_name, ver, _ = pick(rng, OSES)
        status = pick(rng, STATUS_W)[0]
        checks = {}
        for c in CHECKS:
            if (c == "gatekeeper" and plat != "darwin") or (c == "antivirus" and plat != "windows"):
                checks[c] = "skip"
            elif status == "fail" and rng.random() < 0.25:
                checks[c] = "fail"
            elif status in ("fail", "nudge") and rng.random() < 0.2:
                checks[c] = "nudge"
            elif status == "unknown" and rng.random() < 0.3:
                checks[c] = "unknown"
            else:
                checks[c] = "pass"
        status = max(checks.values(), key=lambda s: RANK[s]) if status != "pass" else "pass"
        if status == "pass":
            checks = {c: ("skip" if s == "skip" else "pass") for c, s in checks.items()}
        failing = ",".join(sorted(c for c, s in checks.items() if s in ("fail", "nudge")))
        seen = now - dt.timedelta(seconds=rng.randint(0, 86400 * (30 if rng.random() < 0.05 else 2)))
        rid = str(uuid.UUID(int=rng.getrandbits(128)))
        out["devices"].append((dev_id, "x" * 64, None, now - dt.timedelta(days=days), plat,
                               f"host-{i:06d}", os_name, ver, None, f"SER{i:09d}", None, "Model",
                               "0.1.0", status, failing, seen, seen, rid))
        out["device_checks"].extend((dev_id, c, s) for c, s in checks.items())
        body = dict(template, report_id=rid, status=status,
                    device=dict(template["device"], hostname=f"host-{i:06d}", platform=plat))
        out["reports"].append((rid, dev_id, seen, seen, status, json.dumps(body)))
        # about two status changes a month, device-level and per check
        for _ in range(rng.randint(0, 2) * days // 30):
            at = now - dt.timedelta(seconds=rng.randint(0, days * 86400))
            old, new = rng.choice(["pass", "nudge", "fail"]), rng.choice(["pass", "nudge", "fail"])
            chk = rng.choice([""] + CHECKS)
            out["changes"].append((dev_id, at, chk, old, new, RANK[new] > RANK[old] and new != "pass"))
        day_rows.append((dev_id, status, failing, json.dumps(checks, sort_keys=True, separators=(",", ":"))))
    return out, day_rows, today


def day_iter(day_rows, today, days):
    for dev_id, status, failing, checks in day_rows:
        for d in range(days):
            yield (dev_id, (today - dt.timedelta(days=d)).isoformat(), status, failing, checks)


COLS = {
    "devices": "id, secret_hash, token_id, enrolled_at, platform, hostname, os_name, os_version, "
               "os_build, serial, hardware_uuid, model, agent_version, status, failing, "
               "last_checked_at, last_seen_at, last_report_id",
    "device_checks": "device_id, check_id, status",
    "reports": "report_id, device_id, checked_at, received_at, status, body",
    "changes": "device_id, at, check_id, old_status, new_status, worse",
    "device_days": "device_id, day, status, failing, checks",
}


def fill_sqlite(path: str, data, day_rows, today, days) -> None:
    import sqlite3
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("DROP INDEX ix_device_days_day")
    for table, rows in data.items():
        n = len(COLS[table].split(","))
        db.executemany(f"INSERT INTO {table} ({COLS[table]}) VALUES ({','.join('?' * n)})",
                       [tuple(x.isoformat(sep=' ') if isinstance(x, dt.datetime) else x for x in r)
                        for r in rows])
        db.commit()
    db.executemany("INSERT INTO device_days (device_id, day, status, failing, checks) VALUES (?,?,?,?,?)",
                   day_iter(day_rows, today, days))
    db.commit()
    db.execute("CREATE INDEX ix_device_days_day ON device_days (day)")
    db.execute("ANALYZE")
    db.commit()
    db.close()


def fill_pg(dsn: str, data, day_rows, today, days) -> None:
    import psycopg
    with psycopg.connect(dsn) as conn:
        conn.execute("DROP INDEX ix_device_days_day")
        with conn.cursor() as cur:
            for table, rows in list(data.items()) + [("device_days", day_iter(day_rows, today, days))]:
                with cur.copy(f"COPY {table} ({COLS[table]}) FROM STDIN") as cp:
                    for r in rows:
                        cp.write_row(r)
        conn.execute("CREATE INDEX ix_device_days_day ON device_days (day)")
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")


def timed(session, url, n):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = session.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (url, r.status_code)
    return {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    p.add_argument("--devices", type=int, default=100_000)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--repeat", type=int, default=15)
    args = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="checkup-overview-")
    cluster = None
    from server.db import make_engine, migrate
    if args.backend == "sqlite":
        db_path = os.path.join(tmp, "fleet.sqlite3")
        db_url = "sqlite:///" + db_path
    else:
        cluster = srvkit.PgCluster(srvkit.pg_bindir())
        cluster.start()
        db_url = cluster.create_database("fleet")
    proc = None
    try:
        eng = make_engine(db_url)
        migrate(eng)
        eng.dispose()
        t0 = time.time()
        data, day_rows, today = generate(args.devices, args.days)
        if args.backend == "sqlite":
            fill_sqlite(db_path, data, day_rows, today, args.days)
        else:
            fill_pg(f"host=127.0.0.1 port={cluster.port} user=postgres dbname=fleet",
                    data, day_rows, today, args.days)
        fill_s = time.time() - t0
        del data, day_rows
        cfg = os.path.join(tmp, "server.toml")
        with open(cfg, "w") as fh:
            fh.write(f'[server]\ndatabase_url = "{db_url}"\n')
        env = dict(os.environ, PYTHONPATH=ROOT)
        subprocess.run([sys.executable, "-m", "server", "--config", cfg, "admin", "create", "bench",
                        "--password-stdin"], input="bench-password-123\n", text=True, env=env,
                       check=True, capture_output=True)
        port = srvkit.free_port()
        proc = subprocess.Popen([sys.executable, "-m", "server", "--config", cfg, "run", "--port",
                                 str(port), "--log-level", "warning"], env=env, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            try:
                if requests.get(base + "/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if time.time() > deadline:
                raise SystemExit("server did not start")
            time.sleep(0.2)
        s = requests.Session()
        page = s.get(base + "/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        r = s.post(base + "/login", data={"username": "bench", "password": "bench-password-123",
                                          "csrf": csrf, "next": "/"})
        assert r.ok and "Fleet overview" in r.text
        s.get(base + "/")  # first (cold) request not counted
        yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
        t0 = time.perf_counter()   # the first trends page counts and keeps the finished days
        assert s.get(base + "/trends").status_code == 200
        trends_first_ms = round((time.perf_counter() - t0) * 1000, 1)
        results = {
            "backend": args.backend, "devices": args.devices, "days": args.days,
            "fill_seconds": round(fill_s),
            "overview": timed(s, base + "/", args.repeat),
            "devices_all": timed(s, base + "/devices", args.repeat),
            "devices_fail_windows": timed(s, base + "/devices?status=fail&platform=windows", args.repeat),
            "devices_failing_firewall": timed(s, base + "/devices?check=firewall", args.repeat),
            "devices_stale": timed(s, base + "/devices?seen=stale", args.repeat),
            "device_page": timed(s, base + f"/devices/{args.devices // 2:032x}", args.repeat),
            "trends_90_days_first": trends_first_ms,
            "trends_90_days": timed(s, base + "/trends", args.repeat),
            "evidence_one_day_json": timed(s, f"{base}/evidence.json?at={yesterday}", args.repeat),
        }
        print(json.dumps(results), flush=True)
    finally:
        if proc:
            proc.terminate()
            proc.wait(20)
        if cluster:
            cluster.stop()
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
