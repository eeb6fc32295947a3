"""screen_lock: sysadminctl (stderr), screen saver idleTime, pmset display sleep."""
import pytest

from darwin_testlib import ERRORS, data, err, host, ok
from probes.darwin import screen_lock
from probes.darwin.screen_lock import (OFF, effective_idle, parse_displaysleep, parse_idle_time,
                                       parse_sysadminctl)

LOCK = ["sysadminctl", "-screenLock", "status"]
IDLE = ["defaults", "-currentHost", "read", "com.apple.screensaver", "idleTime"]
PMSET = ["pmset", "-g"]
# tests/fixtures/macos/sonoma-14-4-…json: the real "key absent" reply of `defaults read`
ABSENT = ("2024-04-22 09:15:03.981 defaults[5124:61865]\nThe domain/default pair of "
          "(/Users/x/Library/Preferences/ByHost/com.apple.screensaver, idleTime) does not exist\n")

SYSADMINCTL_CASES = {
    # tests/fixtures/macos/sonoma-14-4-… and sonoma-14-6-… (stderr, NSLog prefix)
    "sysadminctl-300-seconds.txt": 300,
    "sysadminctl-5-seconds.txt": 5,
    # a public Go test quoting "real macOS 26.6.2 output" with the NSLog prefix
    "sysadminctl-5-seconds-26-6-2.txt": 5,
    "sysadminctl-off-26-6-2.txt": OFF,
    # the CIS macOS benchmark audit script greps for this exact message
    "sysadminctl-immediate.txt": 0,
    # a public Go posture checker's test table of sysadminctl captures (NSLog prefix kept)
    "sysadminctl-28800-seconds.txt": 28800,
    "sysadminctl-empty.txt": None,
    "sysadminctl-garbage.txt": None,  # made up
}

IDLE_CASES = {
    # CIS macOS benchmark ("… read com.apple.screensaver idleTime" -> 600 / 300 …)
    "idletime-300.txt": 300,
    # tests/fixtures/macos/sonoma-14-4-… (screen saver set to never)
    "idletime-0-never.txt": 0,
    # tests/fixtures/macos/ventura-13-6-…
    "idletime-1200.txt": 1200,
    # what `defaults read` prints for a whole domain: not a number
    "idletime-garbage.txt": None,
}

PMSET_CASES = {
    # tests/fixtures/macos/sonoma-14-4-… (Apple silicon)
    "pmset-displaysleep-2.txt": 2,
    # tests/fixtures/macos/ventura-13-6-… (Intel, more lines)
    "pmset-displaysleep-15-intel.txt": 15,
    # a public project's macOS 26.5.1 notes: `pmset -g | grep displaysleep` with an assertion note
    "pmset-displaysleep-prevented.txt": 10,
    # a public Swift test of "the real `pmset -g` output structure": SleepDisabled on a
    # desktop Mac, display sleep set to Never
    "pmset-displaysleep-0-never.txt": 0,
    "pmset-empty.txt": None,
}


@pytest.mark.parametrize("name", sorted(SYSADMINCTL_CASES))
def test_parse_sysadminctl(name):
    assert parse_sysadminctl(data("screen_lock", name)) == SYSADMINCTL_CASES[name]


@pytest.mark.parametrize("name", sorted(IDLE_CASES))
def test_parse_idle_time(name):
    assert parse_idle_time(data("screen_lock", name)) == IDLE_CASES[name]


@pytest.mark.parametrize("name", sorted(PMSET_CASES))
def test_parse_displaysleep(name):
    assert parse_displaysleep(data("screen_lock", name)) == PMSET_CASES[name]


@pytest.mark.parametrize("idle, sleep, expected", [
    (300, 10, 300), (0, 2, 120), (1200, 15, 900), (0, 0, 0), (None, 10, 600), (None, 0, 0),
    (600, 0, 600), (None, None, 0),
])
def test_effective_idle(idle, sleep, expected):
    assert effective_idle(idle, sleep) == expected


def test_negative_delay_is_not_guessed():
    assert parse_sysadminctl("screenLock delay is -1 seconds") is None


def _probe(lock, idle, pmset, admin=False):
    return screen_lock.probe(host(lock, idle, pmset, is_admin=admin))


def test_display_sleep_wins_when_screen_saver_never():
    # the sonoma-14-4 fixture case: idleTime 0 + displaysleep 2 -> 120
    fact = _probe(ok(LOCK, stderr=data("screen_lock", "sysadminctl-300-seconds.txt")),
                  ok(IDLE, "0\n"), ok(PMSET, data("screen_lock", "pmset-displaysleep-2.txt")))
    assert fact.observed == {"enabled": True, "lock_delay_seconds": 300, "idle_seconds": 120}
    assert not fact.unread


def test_missing_idle_key_uses_display_sleep_alone():
    fact = _probe(ok(LOCK, stderr=data("screen_lock", "sysadminctl-immediate.txt")),
                  ok(IDLE, stderr=ABSENT, returncode=1),
                  ok(PMSET, data("screen_lock", "pmset-displaysleep-15-intel.txt")))
    assert fact.observed == {"enabled": True, "lock_delay_seconds": 0, "idle_seconds": 900}


def test_lock_off():
    fact = _probe(ok(LOCK, stderr=data("screen_lock", "sysadminctl-off-26-6-2.txt")),
                  ok(IDLE, "300\n"), ok(PMSET, data("screen_lock", "pmset-displaysleep-2.txt")))
    assert fact.observed["enabled"] is False
    assert "lock_delay_seconds" not in fact.observed
    assert not fact.unread


def test_both_never():
    fact = _probe(ok(LOCK, stderr="screenLock delay is 5 seconds\n"), ok(IDLE, "0\n"),
                  ok(PMSET, " displaysleep         0\n"))
    assert fact.observed["idle_seconds"] == 0


@pytest.mark.parametrize("kind", ERRORS)
def test_sysadminctl_errors_miss_enabled_and_delay(kind):
    fact = _probe(err(LOCK, kind), ok(IDLE, "300\n"), ok(PMSET, " displaysleep 10\n"))
    assert fact.observed == {"idle_seconds": 300}
    assert set(fact.unread) == {"enabled", "lock_delay_seconds"}
    assert "sysadminctl" in fact.unread["enabled"]


def test_sysadminctl_unparseable():
    fact = _probe(ok(LOCK, stderr=data("screen_lock", "sysadminctl-garbage.txt")), ok(IDLE, "300\n"),
                  ok(PMSET, " displaysleep 10\n"))
    assert fact.unread["enabled"] == "sysadminctl gave an answer Checkup does not understand"
    assert fact.unread["lock_delay_seconds"] == fact.unread["enabled"]


def test_sysadminctl_nonzero_exit_without_answer():
    fact = _probe(ok(LOCK, returncode=1), ok(IDLE, "300\n"), ok(PMSET, " displaysleep 10\n"))
    assert fact.unread["enabled"] == "sysadminctl gave no answer (exit 1)"


@pytest.mark.parametrize("kind", ERRORS)
def test_idle_time_errors_miss_idle(kind):
    fact = _probe(ok(LOCK, stderr="screenLock delay is 5 seconds\n"), err(IDLE, kind),
                  ok(PMSET, " displaysleep 10\n"))
    assert fact.observed == {"enabled": True, "lock_delay_seconds": 5}
    assert "screen saver" in fact.unread["idle_seconds"]
    assert fact.extra["idle_seconds_at_most"] == 600


def test_idle_time_other_exit_is_not_absent_key():
    fact = _probe(ok(LOCK, stderr="screenLock delay is 5 seconds\n"), ok(IDLE, "", "boom", 1),
                  ok(PMSET, " displaysleep 10\n"))
    assert "idle_seconds" in fact.unread


@pytest.mark.parametrize("kind", ERRORS)
def test_pmset_errors_miss_idle(kind):
    fact = _probe(ok(LOCK, stderr="screenLock delay is 5 seconds\n"), ok(IDLE, "0\n"), err(PMSET, kind))
    assert "display sleep" in fact.unread["idle_seconds"]
    assert "idle_seconds_at_most" not in fact.extra


def test_pmset_without_displaysleep_line():
    fact = _probe(ok(LOCK, stderr="screenLock delay is 5 seconds\n"), ok(IDLE, "300\n"),
                  ok(PMSET, "System-wide power settings:\n"))
    assert "pmset" in fact.unread["idle_seconds"]
    assert fact.extra["idle_seconds_at_most"] == 300


def test_pmset_nonzero_exit():
    fact = _probe(ok(LOCK, stderr="screenLock delay is 5 seconds\n"), ok(IDLE, "300\n"),
                  ok(PMSET, " displaysleep 10\n", returncode=1))
    assert "idle_seconds" in fact.unread


# -- judged from what was read (probe + judge, DESIGN: decide when what was read is enough) --
def _judged(lock, idle, pmset):
    from agent.policy import load_policy
    from agent.verdicts import judge
    return judge("screen_lock", _probe(lock, idle, pmset), load_policy(), "darwin")


@pytest.mark.parametrize("kind", ERRORS)
def test_display_never_sleeps_and_no_screen_saver_fails_whatever_the_lock(kind):
    status, judgement = _judged(err(LOCK, kind), ok(IDLE, stderr=ABSENT, returncode=1),
                                ok(PMSET, data("screen_lock", "pmset-displaysleep-0-never.txt")))
    assert status == "fail" and "never locks" in judgement.summary


@pytest.mark.parametrize("kind", ERRORS)
def test_eight_hour_lock_delay_fails_whatever_the_idle_time(kind):
    status, judgement = _judged(ok(LOCK, stderr=data("screen_lock", "sysadminctl-28800-seconds.txt")),
                                err(IDLE, kind), err(PMSET, kind))
    assert status == "fail" and "8 hours" in judgement.summary


def test_known_display_sleep_bounds_an_unread_screen_saver_time():
    # display sleep 2 min read, idleTime unreadable: it locks within 2 min + 5 s either way
    status, judgement = _judged(ok(LOCK, stderr=data("screen_lock", "sysadminctl-5-seconds.txt")),
                                err(IDLE, "timeout"),
                                ok(PMSET, data("screen_lock", "pmset-displaysleep-2.txt")))
    assert status == "pass" and "within 2 min 5 s" in judgement.summary


def test_unread_display_sleep_with_a_short_delay_stays_unknown():
    status, judgement = _judged(ok(LOCK, stderr=data("screen_lock", "sysadminctl-5-seconds.txt")),
                                ok(IDLE, stderr=ABSENT, returncode=1), err(PMSET, "timeout"))
    assert status == "unknown" and "pmset" in judgement.summary
