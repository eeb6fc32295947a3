"""The agent sets aside a report the server keeps failing on (issue 11, part 4): a 4xx at
once, a 5xx after SET_ASIDE_AFTER tries once the report behind it went through. The reports
behind it are sent; an outage sets nothing aside; set-aside reports are tried again once a
day and whenever `checkup report --now` runs. The real agent against the real server
(SQLite and PostgreSQL), a fault proxy for the 5xx."""
from __future__ import annotations

import json
import logging
import time

from sqlalchemy import text

import srvkit
from agent import reporting
from agent.reporting import Sender, report_now


def stored_ids(srv) -> set[str]:
    with srv.engine.connect() as conn:
        return {r[0] for r in conn.execute(text("SELECT report_id FROM reports"))}


def one_agent(url, token, tmp_path):
    fx = next(f for f in srvkit.fixture_files() if "sonoma-14-6-compliant" in f)
    sd = str(tmp_path / "agent")
    return srvkit.agent_settings(url, token), sd, fx


def marked(fx, marker: str) -> dict:
    rep = srvkit.with_id(srvkit.report_for(fx))
    rep["checks"][0]["summary"] = marker
    return rep


def test_a_report_that_keeps_getting_500_is_set_aside_and_the_next_goes_through(live_server, tmp_path, caplog):
    srv = live_server
    proxy = srvkit.FaultProxy(srv.url)
    try:
        settings, sd, fx = one_agent(proxy.url, srv.token(), tmp_path)
        assert report_now(settings, sd, report=srvkit.with_id(srvkit.report_for(fx)))[0] == 0
        proxy.body_faults = [(b"POISON-500", 500)]        # the server fails on this one, always
        bad = marked(fx, "POISON-500")
        good = srvkit.with_id(srvkit.report_for(fx))
        code, msg = report_now(settings, sd, report=bad)
        assert code == 1 and "500" in msg                  # 1st try: kept, backed off
        s = Sender(settings, sd)
        s.queue.add(good)
        s.close()
        code, msg = report_now(settings, sd)               # 2nd try: still first in line
        assert code == 1 and good["report_id"] not in stored_ids(srv)
        with caplog.at_level(logging.WARNING, "checkup.reporting"):
            code, msg = report_now(settings, sd)           # 3rd: tried the next, which went through
        assert code == 0, msg
        assert f"Set aside report {bad['report_id']}: the server answered 500 to it 3 times" in msg
        assert "Sent 1 of 2 reports" in msg and "tried again once a day" in msg
        assert good["report_id"] in stored_ids(srv) and bad["report_id"] not in stored_ids(srv)
        assert f"report {bad['report_id']} set aside" in caplog.text
        status = reporting.queue_status(settings, sd)
        assert (status["queued"], status["set_aside"]) == (0, 1)

        # new reports go straight through; --now tries the set-aside one again, after them
        third = srvkit.with_id(srvkit.report_for(fx))
        code, msg = report_now(settings, sd, report=third)
        assert code == 0 and "1 report set aside before still waits" in msg
        assert third["report_id"] in stored_ids(srv)
        posts = [p for m, p, _ in proxy.seen if m == "POST" and p == "/api/v1/reports"]
        assert len(posts) == 1 + 1 + 1 + 2 + 2           # the set-aside one was tried after `third`

        # the server is fixed: the set-aside report is delivered, nothing is lost
        proxy.body_faults = []
        code, msg = report_now(settings, sd)
        assert code == 0 and "Sent 1 of 1 report" in msg, msg
        assert bad["report_id"] in stored_ids(srv)
        assert reporting.queue_status(settings, sd)["set_aside"] == 0
    finally:
        proxy.close()


def test_an_outage_sets_nothing_aside(live_server, tmp_path):
    srv = live_server
    proxy = srvkit.FaultProxy(srv.url)
    try:
        settings, sd, fx = one_agent(proxy.url, srv.token(), tmp_path)
        assert report_now(settings, sd, report=srvkit.with_id(srvkit.report_for(fx)))[0] == 0
        proxy.body_faults = [(b"", 502)]                  # every request: the proxy's 502
        made = [srvkit.with_id(srvkit.report_for(fx)) for _ in range(3)]
        for rep in made:
            assert report_now(settings, sd, report=rep)[0] == 1
        for _ in range(4):
            code, msg = report_now(settings, sd)
            assert code == 1 and "3 still queued" in msg and "Set aside" not in msg
        assert reporting.queue_status(settings, sd)["set_aside"] == 0
        proxy.body_faults = []
        code, msg = report_now(settings, sd)
        assert code == 0 and "Sent 3 of 3" in msg
        assert {r["report_id"] for r in made} <= stored_ids(srv)
    finally:
        proxy.close()


def test_a_report_the_real_server_refuses_is_set_aside_and_tried_daily(live_server, tmp_path):
    """A hostile report (checked_at that overflowed into a 500 before) gets a 422 from the
    real server: set aside at once; a normal flush tries it again only after a day."""
    srv = live_server
    proxy = srvkit.FaultProxy(srv.url)     # passes everything through; counts the requests
    try:
        settings, sd, fx = one_agent(proxy.url, srv.token(), tmp_path)
        now = [time.time()]
        s = Sender(settings, sd, clock=lambda: now[0])
        try:
            bad = srvkit.with_id(srvkit.report_for(fx), checked_at="9999-12-31T23:59:59-01:00")
            good = srvkit.with_id(srvkit.report_for(fx))
            s.queue.add(bad)
            s.queue.add(good)
            res = s.flush()
            assert res.sent == 1 and [r for r, _ in res.set_aside] == [bad["report_id"]]
            assert res.set_aside[0][1] == ("the server refused it (422: checked_at: checked_at is "
                                           "out of range (before year 1 or after 9999 in UTC))")
            assert (res.remaining, res.aside) == (0, 1)
            assert stored_ids(srv) == {good["report_id"]}
            assert s.queue.next_aside_retry() > now[0] + 86000

            def posts():
                return sum(1 for m, p, _ in proxy.seen if p == "/api/v1/reports")
            before = posts()
            now[0] += 3600
            assert s.flush().sent == 0 and posts() == before       # not due: not sent
            now[0] += 86400
            res = s.flush()                                          # due: tried, refused again
            assert posts() == before + 1 and res.aside == 1 and not res.set_aside
            assert s.queue.next_aside_retry() > now[0] + 86000
            (rid, body, why), = s.queue.aside()
            assert rid == bad["report_id"] and "422" in why and json.loads(body) == bad
        finally:
            s.close()
    finally:
        proxy.close()
