"""Event store (asyncpg) with optimistic concurrency, idempotency and a gap-free outbox relay."""

from labelops_bus.topics import ensure_topics, events_topic

from .audit import AuditLog
from .chain import ChainWorker
from .idempotency import Command, fingerprint_of
from .relay import OutboxRelay
from .schema import load_migrations, migrate
from .store import (
    ANY_VERSION,
    NO_STREAM,
    AppendResult,
    EventStore,
    MultiAppendResult,
    NewEvent,
    StoredEvent,
    StreamAppend,
    request_fingerprint,
)
from .verify import Problem, verify

__all__ = [
    "ANY_VERSION",
    "NO_STREAM",
    "AppendResult",
    "AuditLog",
    "ChainWorker",
    "Command",
    "EventStore",
    "MultiAppendResult",
    "NewEvent",
    "OutboxRelay",
    "Problem",
    "StoredEvent",
    "StreamAppend",
    "ensure_topics",
    "events_topic",
    "fingerprint_of",
    "load_migrations",
    "migrate",
    "request_fingerprint",
    "verify",
]
