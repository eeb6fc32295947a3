"""The scheduler with fake clocks: start, interval+jitter, wake, Check now, no overlap."""
import threading
import time

from agent.tray.scheduler import Scheduler


class Clocks:
    def __init__(self):
        self.wall = 1_000_000.0
        self.mono = 100.0


def make(clocks, results, interval=3600.0, rand=lambda: 0.5, run=None, **kw):
    def run_check():
        return run() if run else {"status": "pass"}
    s = Scheduler(run_check, lambda r, e: results.append((r, e)), interval_s=interval,
                  wall=lambda: clocks.wall, mono=lambda: clocks.mono, rand=rand, tick_s=0.01, **kw)
    return s


def wait_for(pred, timeout=3.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.005)
    return False


def test_checks_at_start_then_on_interval_only():
    c, res = Clocks(), []
    s = make(c, res)
    s.start()
    assert wait_for(lambda: len(res) == 1)
    time.sleep(0.1)
    assert len(res) == 1                     # no time passed: no second check
    for _ in range(36):                      # an awake hour, in 100 s steps
        w = s.wakes
        c.mono += 99.9
        c.wall += 99.9
        assert wait_for(lambda: s.wakes > w)
    assert len(res) == 1
    c.mono += 5
    c.wall += 5
    assert wait_for(lambda: len(res) == 2)
    s.stop()


def test_jitter_stays_within_ten_percent():
    s = Scheduler(lambda: {}, lambda r, e: None, interval_s=3600, rand=lambda: 0.0)
    assert s.next_interval() == 3240
    s._rand = lambda: 1.0
    assert abs(s.next_interval() - 3960) < 1e-6


def test_wake_from_sleep_triggers_a_check():
    c, res = Clocks(), []
    s = make(c, res)
    s.start()
    assert wait_for(lambda: len(res) == 1)
    c.wall += 8 * 3600          # lid closed for the night: wall clock jumps, monotonic does not
    assert wait_for(lambda: len(res) == 2)
    s.stop()


def test_check_now_never_overlaps_and_coalesces():
    c, res = Clocks(), []
    gate = threading.Event()
    active, peak = [0], [0]

    def slow():
        active[0] += 1
        peak[0] = max(peak[0], active[0])
        gate.wait(2)
        active[0] -= 1
        return {"status": "fail"}
    s = make(c, res, run=slow)
    s.start()
    assert wait_for(lambda: s.running)
    for _ in range(5):
        s.check_now()
    gate.set()
    assert wait_for(lambda: len(res) == 2)
    time.sleep(0.1)
    assert len(res) == 2 and peak[0] == 1
    s.stop()


def test_a_failing_check_reports_the_error_and_keeps_going():
    c, res = Clocks(), []

    def broken():
        raise RuntimeError("probe exploded")
    s = make(c, res, run=broken)
    s.start()
    assert wait_for(lambda: len(res) == 1)
    assert res[0][0] is None and isinstance(res[0][1], RuntimeError)
    s.check_now()
    assert wait_for(lambda: len(res) == 2)
    s.stop()


def test_on_report_runs_off_the_scheduler_thread():
    c, res, seen = Clocks(), [], []
    done = threading.Event()

    def hook(report):
        seen.append((threading.current_thread().name, report))
        done.set()
    s = make(c, res, on_report=hook)
    s.start()
    assert done.wait(2)
    assert seen[0][0] == "checkup-report" and seen[0][1] == {"status": "pass"}
    s.stop()


def test_idle_loop_sleeps_a_minute_at_a_time():
    s = Scheduler(lambda: {}, lambda r, e: None)
    assert s.tick_s == 60.0 and s.on_report is None


def test_reporting_hook_is_off_without_a_server_and_hands_reports_to_the_reporter(monkeypatch):
    from agent import tray

    class S(dict):
        def get(self, section, key, default=None):
            return super().get((section, key), default)
    assert tray.reporting_hook(S()) is None
    got = []

    class FakeReporter:
        def __init__(self, settings):
            pass

        def submit(self, report):
            got.append(report)
    import agent.reporting
    monkeypatch.setattr(agent.reporting, "Reporter", FakeReporter)
    hook = tray.reporting_hook(S({("server", "url"): "https://checkup.example"}))
    hook({"status": "pass"})
    assert got == [{"status": "pass"}]
