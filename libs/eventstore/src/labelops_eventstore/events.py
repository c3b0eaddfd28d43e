"""The values of the event store: events to append, stored events, append results, and the
``events`` row's columns and envelope (``labelops_eventstore.store`` re-exports all of it)."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from labelops.events.v1 import envelope_pb2
from labelops_core.ids import uuid7

M = TypeVar("M", bound=Message)

ACTOR_KINDS: dict[str, int] = {
    "": envelope_pb2.ACTOR_KIND_UNSPECIFIED,
    "user": envelope_pb2.ACTOR_KIND_USER,
    "vendor": envelope_pb2.ACTOR_KIND_VENDOR,
    "model": envelope_pb2.ACTOR_KIND_MODEL,
    "service": envelope_pb2.ACTOR_KIND_SERVICE,
}
ACTOR_KIND_NAMES = {v: k for k, v in ACTOR_KINDS.items()}

#: ``expected_version`` for "this stream must not exist yet".
NO_STREAM = 0
#: ``expected_version`` for "append after whatever is there" (still conflict-safe).
ANY_VERSION = None


@dataclass(frozen=True)
class NewEvent:
    """An event to append. ``type`` is the payload's full protobuf name."""

    type: str
    payload: bytes
    event_id: uuid.UUID = field(default_factory=uuid7)
    tenant_id: str | None = None
    actor_kind: str | None = None
    actor_id: str | None = None
    occurred_at: datetime | None = None
    correlation_id: str = ""
    causation_id: str = ""
    traceparent: str | None = None

    @classmethod
    def of(cls, message: Message, **meta: Any) -> NewEvent:
        """Wrap a protobuf message; ``meta`` sets any other field (tenant_id, actor_kind, …)."""
        return cls(type=message.DESCRIPTOR.full_name, payload=message.SerializeToString(), **meta)


@dataclass(frozen=True)
class StoredEvent:
    """An event as committed in the store."""

    position: int
    tx_id: int
    event_id: uuid.UUID
    stream_id: str
    stream_version: int
    type: str
    tenant_id: str
    actor_kind: int
    actor_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str
    traceparent: str
    payload: bytes

    def to_envelope(self, source: str = "") -> envelope_pb2.EventEnvelope:
        """The wire form published to Kafka and returned by the event-log API."""
        env = envelope_pb2.EventEnvelope(
            event_id=str(self.event_id),
            type=self.type,
            stream_id=self.stream_id,
            stream_version=self.stream_version,
            tenant_id=self.tenant_id,
            actor=envelope_pb2.Actor(kind=self.actor_kind, id=self.actor_id),  # type: ignore[arg-type]
            correlation_id=self.correlation_id,
            causation_id=self.causation_id,
            traceparent=self.traceparent,
            payload=self.payload,
            position=self.position,
            source=source,
        )
        env.occurred_at.FromDatetime(self.occurred_at)
        return env

    def decode(self, message_type: builtins.type[M]) -> M:
        """Parse the payload as ``message_type`` (which must match ``type``)."""
        if message_type.DESCRIPTOR.full_name != self.type:
            raise TypeError(f"event is {self.type}, not {message_type.DESCRIPTOR.full_name}")
        msg = message_type()
        msg.ParseFromString(self.payload)
        return msg


@dataclass(frozen=True)
class AppendResult:
    """What an append wrote (or, for a replayed request, what the first append wrote)."""

    stream_id: str
    event_ids: list[uuid.UUID]
    first_version: int
    last_version: int
    positions: list[int]
    replayed: bool = False
    response: bytes | None = None
    #: Fingerprint the request was stored with (only set on results of ``lookup_request``).
    fingerprint: str = ""


@dataclass(frozen=True)
class StreamAppend:
    """One stream's part of ``EventStore.append_streams``.

    ``expected_version`` means what it means for ``EventStore.append``: ``NO_STREAM`` (0),
    N ("the stream is at N") or ``ANY_VERSION`` (None, "after the current end").
    """

    stream_id: str
    expected_version: int | None
    events: Sequence[NewEvent]


@dataclass(frozen=True)
class MultiAppendResult:
    """What ``EventStore.append_streams`` wrote.

    ``results`` has one ``AppendResult`` per ``StreamAppend``, in the same order, with that
    stream's versions and its positions (sorted). A replayed request (``replayed=True`` because
    its ``request_id`` was already used) writes nothing and returns ``results == []``: answer
    from ``response``, the bytes stored by the first call.
    """

    results: list[AppendResult]
    replayed: bool = False
    response: bytes | None = None


_COLUMNS = (
    "position, tx_id, event_id, stream_id, stream_version, type, tenant_id, actor_kind, actor_id,"
    " occurred_at, correlation_id, causation_id, traceparent, payload"
)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def envelope_bytes(r: asyncpg.Record, source: str) -> bytes:
    """The serialized envelope of an ``events`` row (the relay's hot path: no StoredEvent)."""
    # Exact integer arithmetic: float timestamps lose microseconds far from the epoch.
    delta = r["occurred_at"] - _EPOCH
    env = envelope_pb2.EventEnvelope(
        event_id=str(r["event_id"]),
        type=r["type"],
        stream_id=r["stream_id"],
        stream_version=r["stream_version"],
        tenant_id=r["tenant_id"],
        actor=envelope_pb2.Actor(kind=r["actor_kind"], id=r["actor_id"]),
        occurred_at=Timestamp(
            seconds=delta.days * 86400 + delta.seconds, nanos=delta.microseconds * 1000
        ),
        correlation_id=r["correlation_id"],
        causation_id=r["causation_id"],
        traceparent=r["traceparent"],
        payload=r["payload"],
        position=r["position"],
        source=source,
    )
    return env.SerializeToString()


def _row_to_event(r: asyncpg.Record) -> StoredEvent:
    return StoredEvent(**{k: r[k] for k in r.keys()})
