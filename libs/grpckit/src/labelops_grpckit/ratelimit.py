"""Per-principal rate limits: one token bucket per ``(tenant_id, subject)``.

The server interceptor charges one token for every authenticated unary call and one when a
stream opens; a stream handler that does work per message (routing's ``Work`` stream) charges
more with ``limiter.check(principal)``. An empty bucket answers RESOURCE_EXHAUSTED with
ErrorInfo reason ``RATE_LIMITED`` and a ``google.rpc.RetryInfo`` (``retry_delay``) saying when
one token will be back.

Memory is bounded: a bucket that has been idle long enough to be full again is
indistinguishable from a new one and is dropped; past ``max_keys`` live buckets the least
recently used is dropped too (that principal gets a full bucket back: lenient, never wrong
the other way).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from labelops_core.context import Principal
from labelops_core.errors import ResourceExhausted

#: ErrorInfo reason of a call refused because its principal's bucket is empty.
REASON_RATE_LIMITED = "RATE_LIMITED"

#: Generous defaults: far above a human, enough for a busy vendor integration.
DEFAULT_RATE_PER_S = 500.0
DEFAULT_BURST = 1000

#: Live buckets kept at most (one per active principal).
DEFAULT_MAX_KEYS = 100_000

Key = tuple[str, str]


@dataclass(frozen=True)
class RateLimit:
    """Configuration of a ``RateLimiter``: sustained calls per second and the burst allowed."""

    rate_per_s: float = DEFAULT_RATE_PER_S
    burst: int = DEFAULT_BURST


class RateLimited(ResourceExhausted):
    """A principal's bucket is empty; ``retry_delay_s`` says when one token is back.

    ``labelops_grpckit.errors.status_for`` turns ``retry_delay_s`` into a RetryInfo detail.
    """

    default_reason = REASON_RATE_LIMITED

    def __init__(self, retry_delay_s: float) -> None:
        super().__init__(
            f"rate limit exceeded; retry in {retry_delay_s:.3f}s",
            metadata={"retry_after_s": f"{retry_delay_s:.3f}"},
        )
        self.retry_delay_s = retry_delay_s


class RateLimiter:
    """Token buckets keyed by ``(tenant_id, subject)``.

    Args:
        rate_per_s: tokens added per second (sustained calls per second).
        burst: bucket size (calls allowed at once after an idle period).
        max_keys: live buckets kept at most (least recently used dropped beyond).
        clock: monotonic seconds; injectable for tests.
    """

    def __init__(
        self,
        rate_per_s: float = DEFAULT_RATE_PER_S,
        burst: int = DEFAULT_BURST,
        *,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        if max_keys < 1:
            raise ValueError("max_keys must be >= 1")
        self.rate_per_s = float(rate_per_s)
        self.burst = int(burst)
        self._max_keys = max_keys
        self._clock = clock
        # key -> [tokens, last refill time]; ordered by last use (LRU at the front).
        self._buckets: OrderedDict[Key, list[float]] = OrderedDict()
        self._lock = threading.Lock()
        # A bucket idle this long is full again: forgetting it changes nothing.
        self._idle_s = self.burst / self.rate_per_s
        self._next_sweep = clock() + self._idle_s

    @classmethod
    def of(cls, config: RateLimit) -> RateLimiter:
        """A limiter configured by ``config``."""
        return cls(config.rate_per_s, config.burst)

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, principal: Principal, n: int = 1) -> float:
        """Take ``n`` tokens: 0.0 when taken, else the seconds until ``n`` would be available
        (nothing is taken then)."""
        if n < 1 or n > self.burst:
            raise ValueError(f"n must be in [1, {self.burst}]")
        key = (principal.tenant_id, principal.subject)
        with self._lock:
            now = self._clock()
            if now >= self._next_sweep or len(self._buckets) >= self._max_keys:
                self._sweep(now)
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = [float(self.burst), now]
                self._buckets[key] = bucket
            else:
                self._buckets.move_to_end(key)
                bucket[0] = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate_per_s)
                bucket[1] = now
            if bucket[0] >= n:
                bucket[0] -= n
                return 0.0
            return (n - bucket[0]) / self.rate_per_s

    def check(self, principal: Principal, n: int = 1) -> None:
        """Take ``n`` tokens or raise ``RateLimited`` (RESOURCE_EXHAUSTED, reason
        ``RATE_LIMITED``, with the retry delay)."""
        wait = self.take(principal, n)
        if wait > 0:
            raise RateLimited(wait)

    def _sweep(self, now: float) -> None:
        # Oldest first: stop at the first bucket used recently (the rest are newer).
        while self._buckets:
            key, (_, last) = next(iter(self._buckets.items()))
            if now - last < self._idle_s and len(self._buckets) < self._max_keys:
                break
            del self._buckets[key]
        self._next_sweep = now + self._idle_s
