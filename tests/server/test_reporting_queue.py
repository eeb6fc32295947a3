"""The agent's report queue and retry rules, without a server."""
from __future__ import annotations

import os
import random
import stat
import time

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


OLD_QUEUE_SCHEMA = (  # the agent's queue file before reports could be set aside
    "CREATE TABLE reports (seq INTEGER PRIMARY KEY AUTOINCREMENT, report_id TEXT UNIQUE NOT NULL,"
    " created_at REAL NOT NULL, body TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " last_error TEXT)", "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")


def test_an_older_queue_file_keeps_working_and_gains_set_aside(tmp_path):
    import sqlite3
    path = str(tmp_path / "q.sqlite3")
    db = sqlite3.connect(path)
    for ddl in OLD_QUEUE_SCHEMA:
        db.execute(ddl)
    db.execute("INSERT INTO reports (report_id, created_at, body, attempts, last_error)"
               " VALUES ('r1', ?, '{\"status\": \"pass\"}', 2, '500')", (time.time(),))
    db.execute("INSERT INTO reports (report_id, created_at, body) VALUES ('r2', ?, '{}')", (time.time(),))
    db.execute("INSERT INTO meta VALUES ('failures', '2')")
    db.commit()
    db.close()
    q = ReportQueue(path)
    assert [r for r, _ in q.pending()] == ["r1", "r2"] and q.get_meta("failures") == "2"
    assert q.note_failure("r1", "429") == 0                 # busy is not this report's fault
    assert q.note_failure("r1", "500", server_error=True) == 1
    q.set_aside("r1", "the server answered 500")
    assert [r for r, _ in q.pending()] == ["r2"] and q.count_in_line() == 1 and q.count() == 2
    assert q.aside() == [("r1", '{"status": "pass"}', "the server answered 500")]
    q.close()
    q = ReportQueue(path)                                   # opened again: nothing re-migrated, state kept
    assert q.count_in_line() == 1 and [r for r, _, _ in q.aside()] == ["r1"]
    q.close()


def test_set_aside_reports_are_due_once_a_day_and_the_reporter_sleeps_until_then(tmp_path):
    now = [1_000_000.0]
    settings = reporting_settings("http://127.0.0.1:9")
    s = reporting.Sender(settings, str(tmp_path), clock=lambda: now[0])
    try:
        assert s.seconds_until_due() == reporting.POLICY_PULL_EVERY       # empty queue
        rid = s.queue.add({"status": "pass"})
        s.queue.set_aside(rid, "422")
        assert s.queue.aside(due_only=True) == []
        # only a set-aside report: no busy loop, the reporter sleeps the hour it would anyway
        assert s.seconds_until_due() == reporting.POLICY_PULL_EVERY
        now[0] += reporting.SET_ASIDE_RETRY - 60
        assert s.seconds_until_due() == 60
        now[0] += 61
        assert [r for r, _, _ in s.queue.aside(due_only=True)] == [rid]
        assert s.seconds_until_due() == 1.0
        s.queue.add({"status": "fail"})                                  # one in line: due now
        assert s.seconds_until_due() == 1.0
    finally:
        s.close()


def reporting_settings(url):
    from agent.config import Settings
    st = Settings()
    st.values["server"]["url"] = url
    return st


def test_an_older_queue_file_opened_by_several_at_once(tmp_path):
    """The tray and `checkup report --now` may open an old queue file at the same moment:
    both migrate it, neither fails."""
    import sqlite3
    import threading
    for n in range(5):
        path = str(tmp_path / f"q{n}.sqlite3")
        db = sqlite3.connect(path)
        for ddl in OLD_QUEUE_SCHEMA:
            db.execute(ddl)
        db.commit()
        db.close()
        errors, queues = [], []

        def open_it():
            try:
                queues.append(ReportQueue(path))
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
        threads = [threading.Thread(target=open_it) for _ in range(6)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        assert not errors
        assert all(q.count_in_line() == 0 for q in queues)
        [q.close() for q in queues]


def test_a_new_queue_file_opened_by_several_at_once(tmp_path):
    # The tray and `checkup report --now` (or queue_status) may create the queue file at the
    # same moment: switching it to WAL then made one of them fail with "database is locked"
    # (SQLite does not wait for that lock). Every opener must get a working queue.
    import threading
    for round_ in range(25):
        path = str(tmp_path / f"q{round_}.sqlite3")
        errors, ids = [], []

        def open_and_add():
            try:
                q = ReportQueue(path)
                ids.append(q.add({"schema": 1}))
                q.close()
            except Exception as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

        threads = [threading.Thread(target=open_and_add) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        q = ReportQueue(path)
        assert q.count() == 4 and len(set(ids)) == 4
        q.close()
