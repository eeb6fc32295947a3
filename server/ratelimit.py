"""In-process token buckets (per server process; a load balancer spreading a
device over N processes gives it at most N times the rate)."""
from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict


class Buckets:
    def __init__(self, per_minute: float, burst: int, max_keys: int = 200_000,
                 clock=time.monotonic):
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_keys = max_keys
        self.clock = clock
        self._b: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 when allowed, else the seconds to wait before the next try."""
        now = self.clock()
        with self._lock:
            tokens, at = self._b.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens >= 1:
                self._b[key] = (tokens - 1, now)
                wait = 0.0
            else:
                self._b[key] = (tokens, now)
                wait = (1 - tokens) / self.rate if self.rate > 0 else 3600.0
            while len(self._b) > self.max_keys:
                self._b.popitem(last=False)
        return wait

    @staticmethod
    def retry_after(wait: float) -> str:
        return str(max(1, math.ceil(wait)))
