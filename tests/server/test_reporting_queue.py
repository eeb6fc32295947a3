"""The agent's report queue and retry rules, without a server."""
from __future__ import annotations

import os
import random
import stat

from agent import reporting
from agent.reporting import ReportQueue, backoff_delay, parse_retry_after


def test_queue_bounds_500_reports_and_30_days(tmp_path, caplog):
    now = [1_000_000.0]
    q = ReportQueue(str(tmp_path / "q.sqlite3"), clock=lambda: now[0])
    ids = [q.add({"status": "pass", "n": i}) for i in range(510)]
    assert q.count() == 500
    assert [r for r, _ in q.pending(1)] == [ids[10]]  # the oldest went first
    assert "dropped the 1 oldest" in caplog.text
    now[0] += 31 * 86400
    q.add({"status": "fail"})
    assert q.count() == 1 and "older than 30 days" in caplog.text
    assert stat.S_IMODE(os.stat(tmp_path / "q.sqlite3").st_mode) == 0o600
    q.close()


def test_queue_is_durable_and_keeps_report_ids(tmp_path):
    path = str(tmp_path / "q.sqlite3")
    q = ReportQueue(path)
    rid = q.add({"status": "pass", "report_id": "4f0c1a52-51c8-4b5e-9d5e-1b2c3d4e5f60"})
    q.add({"status": "pass", "report_id": rid})  # the same report twice is queued once
    q.close()
    q = ReportQueue(path)
    assert [r for r, _ in q.pending()] == [rid]
    q.close()


def test_backoff_grows_with_jitter_and_is_capped():
    rng = random.Random(1)
    first = [backoff_delay(1, rng) for _ in range(50)]
    assert all(15 <= d <= 30 for d in first) and len(set(first)) > 40
    assert all(1800 <= backoff_delay(n, rng) <= 3600 for n in (8, 20, 200))


def test_retry_after_seconds_and_http_date():
    assert parse_retry_after("120", 0) == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 - 60) == 60
    assert parse_retry_after("garbage", 0) is None
    assert parse_retry_after("999999999", 0) == reporting.RETRY_AFTER_MAX
