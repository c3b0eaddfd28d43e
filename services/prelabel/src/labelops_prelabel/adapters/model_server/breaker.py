"""The circuit breaker of a model-server client (see ``model_server``'s docstring)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Final

log = logging.getLogger("labelops_prelabel.adapters.model_server")


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Consecutive-failure breaker: closed -> open after ``failure_threshold`` failures in a
    row -> half-open ``reset_s`` later (one trial call at a time) -> closed on a success, open
    again on a failure. ``clock`` returns seconds (monotonic); injected by tests.

    Use: ``permit = breaker.acquire()``; None means refused; otherwise call, then
    ``breaker.record(permit, success)`` (or ``breaker.release(permit)`` if the call was
    abandoned before it had an outcome, e.g. cancelled).
    """

    CALL: Final = "call"
    TRIAL: Final = "trial"

    def __init__(
        self, failure_threshold: int, reset_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("breaker_failures must be >= 1")
        if reset_s < 0:
            raise ValueError("breaker_reset_s must be >= 0")
        self.failure_threshold = failure_threshold
        self.reset_s = reset_s
        self._clock = clock
        self._failures = 0
        self._open = False
        self._opened_at = 0.0
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        if not self._open:
            return BreakerState.CLOSED
        if self._trial_in_flight or self._clock() - self._opened_at >= self.reset_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def acquire(self) -> str | None:
        """``CALL`` (closed), ``TRIAL`` (the one half-open trial) or None (refused)."""
        state = self.state
        if state is BreakerState.CLOSED:
            return self.CALL
        if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return self.TRIAL
        return None

    def release(self, permit: str) -> None:
        """Give a permit back without an outcome (the call was cancelled)."""
        if permit == self.TRIAL:
            self._trial_in_flight = False

    def record(self, permit: str, success: bool) -> None:
        if permit == self.TRIAL:
            self._trial_in_flight = False
        if success:
            if self._open:
                log.info("model server circuit closed")
            self._open = False
            self._failures = 0
            return
        self._failures += 1
        # A failed trial re-opens at once; a late failure of a call that started before the
        # breaker opened does not push the reset time back.
        if permit == self.TRIAL or (not self._open and self._failures >= self.failure_threshold):
            log.warning(
                "model server circuit open for %gs after %d consecutive failures",
                self.reset_s,
                self._failures,
            )
            self._open = True
            self._opened_at = self._clock()
