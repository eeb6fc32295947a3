"""Nudging rules over a fake clock: pure functions, no I/O."""
from datetime import datetime, timedelta, timezone

import pytest

from agent import nudge
from agent.nudge import Rules, evaluate, is_quiet, parse_quiet_hours, snooze, snooze_tomorrow

TZ = timezone(timedelta(hours=2))
MON_10 = datetime(2026, 3, 2, 10, 0, tzinfo=TZ)     # a Monday


def report(**statuses):
    return {"status": "x", "checks": [
        {"id": cid, "status": st, "title": cid.replace("_", " ").title(), "summary": f"{cid} is {st}",
         "level": "required"} for cid, st in statuses.items()]}


class Settings(dict):
    def get(self, section, key, default=None):
        return super().get((section, key), default)


def run(state, rep, when, rules=None):
    return evaluate(state, rep, when, rules or Rules())


def test_new_failure_notifies_once_then_daily():
    state, note = run({}, report(firewall="fail"), MON_10)
    assert note and note.target == "firewall" and "Firewall" in note.title
    state, note = run(state, report(firewall="fail"), MON_10 + timedelta(hours=1))
    assert note is None
    state, note = run(state, report(firewall="fail"), MON_10 + timedelta(hours=23, minutes=59))
    assert note is None
    state, note = run(state, report(firewall="fail"), MON_10 + timedelta(hours=24))
    assert note is not None


def test_suggested_weekly_and_unknown_never():
    state, note = run({}, report(remote_login="nudge", disk_encryption="unknown"), MON_10)
    assert [p["id"] for p in note.problems] == ["remote_login"]
    for days in range(1, 7):
        state, note = run(state, report(remote_login="nudge", disk_encryption="unknown"),
                          MON_10 + timedelta(days=days))
        assert note is None, days
    state, note = run(state, report(remote_login="nudge"), MON_10 + timedelta(days=7))
    assert note is not None


def test_unknown_does_not_make_a_failure_new_again():
    state, note = run({}, report(firewall="fail"), MON_10)
    state, _ = run(state, report(firewall="unknown"), MON_10 + timedelta(hours=1))
    state, note = run(state, report(firewall="fail"), MON_10 + timedelta(hours=2))
    assert note is None


def test_escalation_nudge_to_fail_is_new():
    state, note = run({}, report(disk_encryption="nudge"), MON_10)
    assert note
    state, note = run(state, report(disk_encryption="fail"), MON_10 + timedelta(hours=2))
    assert note and note.problems[0]["status"] == "fail"


def test_several_problems_make_one_notification_worst_first():
    _, note = run({}, report(remote_login="nudge", firewall="fail", screen_lock="fail",
                             os_version="fail", gatekeeper="pass"), MON_10)
    assert note.title == "Checkup: 4 things need your attention"
    assert [p["id"] for p in note.problems][:3] == ["firewall", "screen_lock", "os_version"]
    assert note.target is None            # several problems: the click opens the overview
    assert "…and 1 more." in note.body


def test_quiet_hours_and_weekend_defer_then_deliver():
    fri_20 = datetime(2026, 3, 6, 20, 0, tzinfo=TZ)
    state, note = run({}, report(firewall="fail"), fri_20)
    assert note is None
    sat_noon = datetime(2026, 3, 7, 12, 0, tzinfo=TZ)
    state, note = run(state, report(firewall="fail"), sat_noon)
    assert note is None
    mon_8 = datetime(2026, 3, 9, 8, 30, tzinfo=TZ)
    state, note = run(state, report(firewall="fail"), mon_8)
    assert note is None
    state, note = run(state, report(firewall="fail"), datetime(2026, 3, 9, 9, 5, tzinfo=TZ))
    assert note is not None


def test_fixed_thank_you_only_after_being_told():
    state, note = run({}, report(firewall="fail"), MON_10)
    state, note = run(state, report(firewall="pass"), MON_10 + timedelta(hours=1))
    assert note and note.kind == "fixed" and "thank you" in note.title
    # fixed without ever being told (found at night, fixed before morning): silence
    state, _ = run({}, report(firewall="fail"), datetime(2026, 3, 2, 22, 0, tzinfo=TZ))
    state, note = run(state, report(firewall="pass"), datetime(2026, 3, 3, 10, 0, tzinfo=TZ))
    assert note is None


def test_flapping_is_not_reannounced_within_an_hour():
    state, note = run({}, report(firewall="fail"), MON_10)
    state, note = run(state, report(firewall="pass"), MON_10 + timedelta(minutes=10))
    assert note.kind == "fixed"
    state, note = run(state, report(firewall="fail"), MON_10 + timedelta(minutes=20))
    assert note is None
    state, note = run(state, report(firewall="fail"), MON_10 + timedelta(minutes=70))
    assert note is not None


def test_snooze_limit_then_not_offered():
    rules = Rules(max_snoozes=2, quiet=None, quiet_days=frozenset())
    state, note = run({}, report(firewall="fail"), MON_10, rules)
    assert note.snoozable == ["firewall"]
    t = MON_10
    for i in range(2):
        t += timedelta(days=1)
        state, note = run(state, report(firewall="fail"), t, rules)
        assert note is not None
        state, done = snooze(state, ["firewall"], t + timedelta(days=3), rules)
        assert done == ["firewall"]
        assert not run(state, report(firewall="fail"), t + timedelta(days=2), rules)[1]
        t += timedelta(days=3)
        state, note = run(state, report(firewall="fail"), t, rules)
    assert nudge.snoozable(state, rules) == []
    assert note.snoozable == []
    _, done = snooze(state, ["firewall"], t + timedelta(days=3), rules)
    assert done == []


def test_snooze_never_makes_a_reminder_earlier_and_is_free_then():
    rules = Rules()
    state, _ = run({}, report(remote_login="nudge"), MON_10, rules)
    state, done = snooze(state, ["remote_login"], MON_10 + timedelta(hours=1), rules)
    assert done == ["remote_login"] and state["checks"]["remote_login"]["snoozes"] == 0
    assert run(state, report(remote_login="nudge"), MON_10 + timedelta(hours=2), rules)[1] is None


def test_snooze_tomorrow_is_the_next_non_quiet_morning():
    rules = Rules()
    assert snooze_tomorrow(MON_10, rules) == datetime(2026, 3, 3, 9, 0, tzinfo=TZ)
    fri = datetime(2026, 3, 6, 16, 0, tzinfo=TZ)
    assert snooze_tomorrow(fri, rules) == datetime(2026, 3, 9, 9, 0, tzinfo=TZ)


def test_disabled_notifications_stay_silent_but_remember():
    state, note = run({}, report(firewall="fail"), MON_10, Rules(enabled=False))
    assert note is None and state["checks"]["firewall"]["problem"] == "fail"


@pytest.mark.parametrize("text,expected", [("19:00-09:00", (1140, 540)), ("", None), ("9:30 - 17:00", (570, 1020)),
                                           ("08:00-08:00", None)])
def test_parse_quiet_hours(text, expected):
    assert parse_quiet_hours(text) == (expected, None)


def test_bad_settings_fall_back_and_say_why():
    s = Settings({("notifications", "quiet_hours"): "evenings", ("notifications", "quiet_days"): ["sat", "funday"],
                  ("notifications", "remind_required_hours"): -1, ("notifications", "max_snoozes"): "many"})
    r = Rules.from_settings(s)
    assert r.quiet == (1140, 540) and r.quiet_days == frozenset({5}) and r.remind_required_s == 24 * 3600
    assert r.max_snoozes == 3 and len(r.problems) == 2


def test_quiet_window_not_wrapping_and_no_days():
    r = Rules(quiet=(12 * 60, 13 * 60), quiet_days=frozenset())
    assert is_quiet(datetime(2026, 3, 7, 12, 30, tzinfo=TZ), r)
    assert not is_quiet(datetime(2026, 3, 7, 22, 0, tzinfo=TZ), r)


def test_a_simulated_week_is_useful_not_nagging():
    """Hourly checks for a week; firewall off all week, remote login on, disk encryption
    unknown, the screen lock fixed on Wednesday. Count what the person sees."""
    rules = Rules()
    state, seen = {}, []
    start = datetime(2026, 3, 2, 0, 30, tzinfo=TZ)      # Monday 00:30
    for h in range(7 * 24):
        now = start + timedelta(hours=h)
        screen = "fail" if now < datetime(2026, 3, 4, 14, 0, tzinfo=TZ) else "pass"
        state, note = evaluate(state, report(firewall="fail", remote_login="nudge", screen_lock=screen,
                                             disk_encryption="unknown"), now, rules)
        if note:
            seen.append((now, note))
    when = [(n.strftime("%a %H:%M"), note.title) for n, note in seen]
    assert when == [
        ("Mon 09:30", "Checkup: 3 things need your attention"),
        ("Tue 09:30", "Checkup: 2 things need your attention"),
        ("Wed 09:30", "Checkup: 2 things need your attention"),
        ("Wed 14:30", "Checkup: Screen Lock is fixed, thank you!"),
        ("Thu 09:30", "Checkup: Firewall needs your attention"),
        ("Fri 09:30", "Checkup: Firewall needs your attention"),
    ], when
    assert all(not is_quiet(n, rules) for n, _ in seen)
