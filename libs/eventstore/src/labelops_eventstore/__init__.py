"""Event store (asyncpg) with optimistic concurrency, idempotency and a gap-free outbox relay."""

from .relay import OutboxRelay, ensure_topic, events_topic
from .schema import load_migrations, migrate
from .store import (
    ANY_VERSION,
    NO_STREAM,
    AppendResult,
    EventStore,
    NewEvent,
    StoredEvent,
    request_fingerprint,
)

__all__ = [
    "ANY_VERSION",
    "NO_STREAM",
    "AppendResult",
    "EventStore",
    "NewEvent",
    "OutboxRelay",
    "StoredEvent",
    "ensure_topic",
    "events_topic",
    "load_migrations",
    "migrate",
    "request_fingerprint",
]
