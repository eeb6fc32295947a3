"""The agent's memory over a judged report (agent/exemptions.py): grace periods, "failing
for N days", cached exemptions ending on their day, and no reminder for an exempt check.
Real captures through the real pipeline and the real CLI."""
from __future__ import annotations

import datetime as dt
import glob
import json
import os
import subprocess
import sys

import pytest

from agent import exemptions as ex
from agent.nudge import Rules, evaluate
from agent.pipeline import run_check
from agent.policy import PolicyError, load_policy
from agent.table import render_table
from probes.host import RecordedHost

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAPTURE = glob.glob(os.path.join(ROOT, "tests", "fixtures", "*", "fedora-44-gnome-lock-too-slow*.json"))[0]
DAY = dt.date(2027, 3, 1)


def judged(state_dir, policy_text=None, day=DAY, url=None):
    policy = load_policy(text=policy_text)
    return ex.apply(run_check(RecordedHost.load(CAPTURE), policy), policy, state_dir, url, today=day)


def lock(rep):
    return next(c for c in rep["checks"] if c["id"] == "screen_lock")


def test_grace_days_is_validated_in_the_one_policy_validator():
    assert load_policy(text="[firewall]\ngrace_days = 14\n").grace_days("firewall") == 14
    assert load_policy().grace_days("firewall") == 0
    for bad in ("-1", "366", "true", '"7"', "1.5"):
        with pytest.raises(PolicyError, match="grace_days must be a whole number of days"):
            load_policy(text=f"[firewall]\ngrace_days = {bad}\n")
    from server.policy_check import PolicyInvalid, validate_policy
    with pytest.raises(PolicyInvalid, match="grace_days"):
        validate_policy("[firewall]\ngrace_days = 400\n")


def test_grace_then_failing_and_the_days_it_has_been_failing(tmp_path):
    sd = str(tmp_path)
    policy = "[screen_lock]\ngrace_days = 7\n"
    day1 = judged(sd, policy)
    assert lock(day1)["status"] == "nudge" and lock(day1)["grace_until"] == "2027-03-08"
    assert "counts as failing from 8 Mar" in lock(day1)["summary"]
    assert lock(day1)["failing_since"] == "2027-03-01" and lock(day1)["failing_days"] == 0
    assert day1["status"] == "nudge"
    day6 = judged(sd, policy, DAY + dt.timedelta(days=6))
    assert lock(day6)["status"] == "nudge" and "Failing for 6 days." in lock(day6)["summary"]
    day7 = judged(sd, policy, DAY + dt.timedelta(days=7))
    assert lock(day7)["status"] == "fail" and day7["status"] == "fail"
    day40 = judged(sd, None, DAY + dt.timedelta(days=40))       # no grace: fails, 40 days on
    assert lock(day40)["status"] == "fail" and lock(day40)["summary"].endswith("Failing for 40 days.")
    assert "Failing for 40 days." in render_table(day40, color=False)
    # fixed: forgotten, so a new failure starts again at day 0
    with open(os.path.join(sd, ex.SINCE_FILE), encoding="utf-8") as fh:
        assert json.load(fh)["screen_lock"] == "2027-03-01"
    rep = judged(sd)
    for c in rep["checks"]:
        if c["id"] == "screen_lock":
            c["status"] = "pass"
    ex.apply(rep, load_policy(), sd, None, today=DAY + dt.timedelta(days=41))
    with open(os.path.join(sd, ex.SINCE_FILE), encoding="utf-8") as fh:
        assert "screen_lock" not in json.load(fh)
    # day 1 grace with no state dir at all still judges (nothing remembered)
    assert lock(judged(None, policy))["status"] == "nudge"


def test_cached_exemption_shows_no_reminder_and_ends_on_its_day(tmp_path):
    sd, url = str(tmp_path), "https://checkup.example.com"
    ex.save_cache(sd, url, [{"check": "screen_lock", "until": "2027-03-12", "reason": "kiosk"},
                            {"check": "firewall", "until": "not a day", "reason": "x"}, "junk"])
    rep = judged(sd, url=url)
    assert lock(rep)["status"] == "exempt" and lock(rep)["summary"] == "Exempt until 12 Mar (IT: kiosk)."
    assert rep["status"] == "nudge"
    table = render_table(rep, color=False)
    assert "EXEMPT" in table and "Exempt until 12 Mar (IT: kiosk)." in table
    now = dt.datetime(2027, 3, 1, 12, tzinfo=dt.timezone.utc)
    state, note = evaluate({}, rep, now, Rules())
    assert note is None or "Screen" not in (note.body or "") + (note.title or "")
    assert state["checks"]["screen_lock"].get("problem") is None
    assert judged(sd, url="https://other.example.com")["status"] == "fail"   # another server's
    after = judged(sd, url=url, day=dt.date(2027, 3, 13))
    assert lock(after)["status"] == "fail"
    state, note = evaluate(state, after, now + dt.timedelta(days=12), Rules())
    assert state["checks"]["screen_lock"]["problem"] == "fail"     # a problem again: reminded


def test_checkup_check_json_carries_failing_since(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT, XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_CONFIG_HOME=str(tmp_path / "config"))
    out = subprocess.run([sys.executable, "-m", "agent.cli", "check", "--json", "--replay", CAPTURE,
                          "--date", "2027-03-01"], capture_output=True, text=True, env=env, timeout=120)
    rep = json.loads(out.stdout)
    assert lock(rep)["failing_since"] == "2027-03-01" and out.returncode == 2
    assert not os.path.exists(tmp_path / "state" / "checkup" / ex.SINCE_FILE)   # a replay: not kept
