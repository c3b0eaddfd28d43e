"""The clock handlers take: ``utc_now`` in production, a fixed or stepping one in tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

#: A source of the current time (timezone-aware, UTC).
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time in UTC (timezone-aware)."""
    return datetime.now(UTC)
