"""What a consumer handler sees of a Kafka record, and how the runners judge records and errors.

``MessageContext`` is one record as a ``ConsumerRunner`` handler gets it; ``decode_envelope``
is the default decoder (``PoisonMessage`` marks a record that goes to the DLQ at once);
``is_transient_error`` tells an outage (retried, never dead-lettered) from the event's fault.
``labelops_bus.runner`` re-exports all of it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from labelops.events.v1 import envelope_pb2
from labelops_core.errors import Unavailable

EventEnvelope = envelope_pb2.EventEnvelope

APPLIED = "applied"
DUPLICATE = "duplicate"
DEAD_LETTERED = "dead_lettered"


class PoisonMessage(ValueError):
    """A record whose value is not a usable event (goes to the DLQ without retries)."""


@dataclass(frozen=True)
class MessageContext:
    """One Kafka record as the handler sees it.

    ``envelope`` is the decoded EventEnvelope (or what a custom ``decode`` returned);
    ``event_id`` is the deduplication key: the envelope's event id, or
    ``kafka:<topic>:<partition>:<offset>`` when a custom decoder leaves it empty.
    ``attempt`` counts from 1; a handler can use it to log retries.
    """

    envelope: Any
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Mapping[str, bytes]
    timestamp: datetime
    consumer: str
    event_id: str
    attempt: int = 1


Handler = Callable[[MessageContext, asyncpg.Connection], Awaitable[None]]
Decoder = Callable[[ConsumerRecord], Any]
Predicate = Callable[[], bool | Awaitable[bool]]
OffsetHook = Callable[[Mapping[TopicPartition, int]], Awaitable[None]]


def decode_envelope(record: ConsumerRecord) -> Any:
    """The default decoder: the record value as an EventEnvelope with an event id and type.

    Protobuf parsing is lenient (empty or unrelated bytes may parse), so an envelope without
    ``event_id`` or ``type`` is rejected too: it could neither be deduplicated nor routed.

    Raises:
        PoisonMessage: the value is missing, not an envelope, or lacks event_id/type.
    """
    if record.value is None:
        raise PoisonMessage("record has no value (tombstone)")
    try:
        envelope = EventEnvelope.FromString(record.value)
    except Exception as exc:  # protobuf's DecodeError; its module path varies by backend
        raise PoisonMessage(f"value is not an EventEnvelope: {exc}") from exc
    if not envelope.event_id or not envelope.type:
        raise PoisonMessage("envelope has no event_id or no type")
    return envelope


def is_transient_error(exc: BaseException) -> bool:
    """Default classification of errors that are not the event's fault.

    These (Postgres unreachable or restarting, serialization failures and deadlocks, network
    errors, a dependency answering UNAVAILABLE) are retried until they go away and are never
    dead-lettered: an outage must not empty the topic into the DLQ.
    """
    if isinstance(exc, asyncpg.QueryCanceledError):
        return False  # statement_timeout: likely the event's own query; retries then DLQ.
    return isinstance(
        exc,
        asyncpg.PostgresConnectionError
        | asyncpg.exceptions.OperatorInterventionError
        | asyncpg.exceptions.InsufficientResourcesError
        | asyncpg.exceptions.TransactionRollbackError
        | OSError
        | Unavailable
        | KafkaError,
    )
