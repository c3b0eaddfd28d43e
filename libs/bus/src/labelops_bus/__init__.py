"""labelops bus: the Kafka consumer runner every projection uses, plus topic helpers.

Exactly-once effects on Postgres from an at-least-once Kafka: see :class:`ConsumerRunner`.
A per-record handler acts as the consumed event's tenant and actor (``labelops_bus.principal``).
"""

from .batch import BatchHandler, BatchProjector, BatchRecord, positions_ddl, read_positions
from .principal import ACTOR_KIND_NAMES, acting_as_envelope, envelope_principal
from .runner import (
    APPLIED,
    DEAD_LETTERED,
    DUPLICATE,
    ConsumerRunner,
    MessageContext,
    PoisonMessage,
    decode_envelope,
    is_transient_error,
)
from .schema import STATUS_APPLIED, STATUS_DEAD_LETTERED, processed_events_ddl
from .supervised import RestartableConsumer
from .topics import dlq_topic, ensure_topics, events_topic

__all__ = [
    "ACTOR_KIND_NAMES",
    "APPLIED",
    "DEAD_LETTERED",
    "DUPLICATE",
    "STATUS_APPLIED",
    "STATUS_DEAD_LETTERED",
    "BatchHandler",
    "BatchProjector",
    "BatchRecord",
    "ConsumerRunner",
    "MessageContext",
    "PoisonMessage",
    "RestartableConsumer",
    "acting_as_envelope",
    "decode_envelope",
    "dlq_topic",
    "ensure_topics",
    "envelope_principal",
    "events_topic",
    "is_transient_error",
    "positions_ddl",
    "processed_events_ddl",
    "read_positions",
]
