"""When checks run: at start, every interval (+-10 % jitter), after wake, on Check now.

One background thread runs the checks, so the UI thread never waits on a probe,
and two checks never overlap (a Check now during a run queues one more run).
When idle the thread sleeps on an Event for at most ``tick_s`` (60 s): that
wake-up is how a jump of the wall clock (sleep / resume) is noticed.

``on_report(report)`` is the reporting hook (agent.reporting): None by default;
called in its own thread after each successful check, one at a time, so a slow
server never delays a check or the icon.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any, Callable

log = logging.getLogger(__name__)

WAKE_JUMP_S = 120.0


class Scheduler:
    def __init__(self, run_check: Callable[[], dict],
                 on_result: Callable[[dict | None, BaseException | None], None],
                 interval_s: float = 3600.0, jitter: float = 0.10,
                 on_report: Callable[[dict], Any] | None = None,
                 on_start: Callable[[], None] | None = None,
                 tick_s: float = 60.0,
                 wall: Callable[[], float] = time.time,
                 mono: Callable[[], float] = time.monotonic,
                 rand: Callable[[], float] = random.random):
        self.run_check = run_check
        self.on_result = on_result
        self.on_start = on_start
        self.on_report = on_report
        self.interval_s = max(60.0, float(interval_s))
        self.jitter = max(0.0, min(0.5, jitter))
        self.tick_s = tick_s
        self._wall, self._mono, self._rand = wall, mono, rand
        self._event = threading.Event()
        self._stop = False
        self._requested = False
        self._lock = threading.Lock()
        self._report_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.running = False
        self.runs = 0
        self.wakes = 0          # how many times the loop woke up (for tests/benchmarks)
        self.next_at: float | None = None

    # -- control (any thread) ---------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="checkup-scheduler", daemon=True)
        self._thread.start()

    def check_now(self) -> None:
        with self._lock:
            self._requested = True
        self._event.set()

    def check_in(self, seconds: float) -> None:
        """A check in ``seconds`` (sooner than planned; a later plan is kept)."""
        with self._lock:
            at = self._mono() + max(0.0, seconds)
            if self.next_at is None or at < self.next_at:
                self.next_at = at
        self._event.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop = True
        self._event.set()
        if self._thread and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def next_interval(self) -> float:
        return self.interval_s * (1.0 + self.jitter * (2.0 * self._rand() - 1.0))

    # -- the loop -------------------------------------------------------------------
    def _loop(self) -> None:
        self.next_at = self._mono()          # a check at start
        last_wall, last_mono = self._wall(), self._mono()
        while not self._stop:
            with self._lock:
                due = self._requested or self._mono() >= self.next_at
                self._requested = False
            if due:
                self._run_once()
                self.next_at = self._mono() + self.next_interval()
                last_wall, last_mono = self._wall(), self._mono()
                continue
            timeout = max(0.0, min(self.tick_s, self.next_at - self._mono()))
            asked = timeout
            self._event.wait(timeout)
            self._event.clear()
            wall, mono = self._wall(), self._mono()
            slept_wall, slept_mono = wall - last_wall, mono - last_mono
            # Linux/macOS: the monotonic clock stops during sleep, the wall clock does not.
            # Windows: both advance, but a 60 s wait that took far longer means we slept.
            if slept_wall - slept_mono > WAKE_JUMP_S or slept_mono - asked > WAKE_JUMP_S:
                log.info("woke from sleep (%.0f s); checking", max(slept_wall, slept_mono))
                with self._lock:
                    self._requested = True
            last_wall, last_mono = wall, mono
            self.wakes += 1

    def _run_once(self) -> None:
        self.running = True
        if self.on_start:
            try:
                self.on_start()
            except Exception:  # noqa: BLE001
                log.exception("on_start failed")
        report, error = None, None
        try:
            report = self.run_check()
        except Exception as exc:  # noqa: BLE001 - a failed check shows as unknown, never a crash
            log.exception("check failed")
            error = exc
        self.runs += 1
        self.running = False
        try:
            self.on_result(report, error)
        except Exception:  # noqa: BLE001
            log.exception("showing the result failed")
        if report is not None and self.on_report is not None:
            threading.Thread(target=self._report, args=(report,), name="checkup-report", daemon=True).start()

    def _report(self, report: dict) -> None:
        with self._report_lock:
            try:
                self.on_report(report)
            except Exception:  # noqa: BLE001 - reporting problems are the reporter's to log
                log.exception("on_report failed")
