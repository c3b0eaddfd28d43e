"""Token buckets keyed by principal (tenant + subject): the gateway's per-caller rate limit.

A small local limiter: each gateway process counts for itself (N replicas allow N times the
rate; the services' own limits stand behind them). At most ``max_keys`` buckets are kept (the
least recently used go; a forgotten bucket comes back full), so a flood of distinct
principals cannot grow memory without bound.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable


class RateLimiter:
    """``acquire(key)`` → 0.0 when the call may go ahead, else the seconds until it may.

    Args:
        rate_per_s: tokens refilled per second; 0 disables the limiter (every call allowed).
        burst: the bucket's size (calls allowed at once after an idle period).
        clock: monotonic seconds (tests pass a fake one).
        max_keys: buckets kept at most.
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if rate_per_s < 0 or burst < 1:
            raise ValueError("rate_per_s must be >= 0 and burst >= 1")
        self.rate = float(rate_per_s)
        self.burst = float(burst)
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def acquire(self, key: Hashable, cost: float = 1.0) -> float:
        """Take ``cost`` tokens from ``key``'s bucket; 0.0 if taken, else the wait (s)."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= cost:
            tokens -= cost
            wait = 0.0
        else:
            wait = (cost - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return wait


def retry_after_header(wait_s: float) -> str:
    """The ``Retry-After`` value (whole seconds, at least 1) of a wait."""
    return str(max(1, math.ceil(wait_s)))
