"""Label events from Kafka for the event stream: one consumer per connection, decoded to JSON.

A stream's consumer has no group (nothing is committed, nobody else's offsets move) and assigns
itself every partition of the configured topics. "Latest" means *after the subscription*: the
partitions that exist at the start are positioned at their end before the stream answers, so
an event produced once the client has the response headers is delivered. A topic (or partition)
that appears later is read from its beginning — everything in it is newer than the
subscription.

Topics are discovered from full cluster metadata, never by asking for a topic by name: Kafka
auto-creates a topic a client asks about, with the broker's defaults, and a services' event
topic created that way (1 MiB message limit instead of the relay's 16 MiB) could refuse events
forever (docs/architecture.md, "Event size").
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import pkgutil
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.message import DecodeError
from labelops.events.v1 import envelope_pb2
from labelops_bus.security import kafka_security

log = logging.getLogger("labelops_gateway.events")

_registry_loaded = False


def load_proto_registry() -> int:
    """Import every generated ``labelops.*_pb2`` module, so the default descriptor pool knows
    every event type by its full name; returns how many modules were imported."""
    global _registry_loaded
    import labelops

    count = 0
    for info in pkgutil.walk_packages(labelops.__path__, "labelops."):
        if info.name.endswith("_pb2"):
            importlib.import_module(info.name)
            count += 1
    _registry_loaded = True
    return count


def payload_json(type_name: str, payload: bytes) -> dict[str, Any] | None:
    """The payload of an event as JSON, or None when the type is unknown here (an event type
    newer than this gateway) or the bytes do not parse as it."""
    if not _registry_loaded:
        load_proto_registry()
    try:
        descriptor = descriptor_pool.Default().FindMessageTypeByName(type_name)
    except KeyError:
        return None
    message = message_factory.GetMessageClass(descriptor)()
    try:
        message.ParseFromString(payload)
    except DecodeError:
        return None
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


@dataclass(frozen=True)
class Event:
    """One decoded record: the envelope's ids and the JSON the stream sends."""

    event_id: str
    type: str
    tenant_id: str
    data: dict[str, Any]


def decode_record(topic: str, partition: int, offset: int, value: bytes | None) -> Event | None:
    """The event in a record's value (an ``EventEnvelope``), or None if it is not one."""
    if not value:
        return None
    envelope = envelope_pb2.EventEnvelope()
    try:
        envelope.ParseFromString(value)
    except DecodeError:
        return None
    if not envelope.event_id or not envelope.type:
        return None
    data = json_format.MessageToDict(
        envelope, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    # The payload goes out decoded; the raw bytes and the trace context stay behind.
    data.pop("payload", None)
    data.pop("traceparent", None)
    payload = payload_json(envelope.type, envelope.payload)
    data["payload"] = payload
    if payload is None:
        data["payload_undecoded"] = True
    data["kafka"] = {"topic": topic, "partition": partition, "offset": offset}
    return Event(envelope.event_id, envelope.type, envelope.tenant_id, data)


class EventFeed:
    """A group-less consumer of ``topics`` for one stream; ``async with`` it, then iterate
    ``batches``."""

    def __init__(
        self,
        bootstrap: str,
        topics: Iterable[str],
        *,
        from_earliest: bool = False,
        refresh_s: float = 5.0,
        client_id: str = "labelops-gateway-events",
    ) -> None:
        self.topics = sorted(set(topics))
        self.from_earliest = from_earliest
        self.refresh_s = refresh_s
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            # Applies to partitions assigned after the start (see the module docstring) and to
            # an offset that fell off the log's retention.
            auto_offset_reset="earliest",
            client_id=client_id,
            request_timeout_ms=15_000,
            **kafka_security(),
        )
        self._assigned: set[TopicPartition] = set()
        self._started = False
        self._next_refresh = 0.0

    async def __aenter__(self) -> EventFeed:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Connect and position every existing partition (at its end, or its start with
        ``from_earliest``); raises ``aiokafka.errors.KafkaError`` when Kafka is unreachable."""
        try:
            await self._consumer.start()
            self._started = True
            await self._refresh(initial=True)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        if self._started:
            self._started = False
            with contextlib.suppress(Exception):
                await self._consumer.stop()

    @property
    def assignment(self) -> set[TopicPartition]:
        return set(self._assigned)

    async def _refresh(self, *, initial: bool = False) -> None:
        # Full metadata (no topic names in the request): nothing is auto-created.
        cluster = await self._consumer._client.fetch_all_metadata()
        wanted = {
            TopicPartition(topic, p)
            for topic in self.topics
            for p in cluster.partitions_for_topic(topic) or ()
        }
        self._next_refresh = time.monotonic() + self.refresh_s
        if wanted == self._assigned:
            return
        # assign() forgets every position; keep those of the partitions we already read.
        kept = {tp: await self._consumer.position(tp) for tp in self._assigned & wanted}
        new = wanted - self._assigned
        self._consumer.assign(sorted(wanted))
        for tp, position in kept.items():
            self._consumer.seek(tp, position)
        if new:
            if initial and not self.from_earliest:
                await self._consumer.seek_to_end(*new)
            else:
                await self._consumer.seek_to_beginning(*new)
            for tp in new:
                # Resolve now: "the end" must mean the end at subscription, not at first fetch.
                await self._consumer.position(tp)
        self._assigned = wanted

    async def batches(self, timeout_s: float) -> AsyncIterator[list[Event]]:
        """Decoded events as they arrive, a (possibly empty) list at least every ``timeout_s``
        seconds, forever; undecodable records are skipped (and logged)."""
        while True:
            if time.monotonic() >= self._next_refresh:
                await self._refresh()
            if not self._assigned:
                # No topic exists yet: getmany would return at once; wait for the next look.
                await asyncio.sleep(min(timeout_s, self.refresh_s))
                yield []
                continue
            wait_ms = int(max(0.05, min(timeout_s, self._next_refresh - time.monotonic())) * 1000)
            records = await self._consumer.getmany(timeout_ms=wait_ms, max_records=500)
            events: list[Event] = []
            for tp, batch in sorted(records.items()):
                for record in batch:
                    event = decode_record(tp.topic, tp.partition, record.offset, record.value)
                    if event is None:
                        log.warning(
                            "skipping a record that is no event envelope: %s[%d]@%d",
                            tp.topic,
                            tp.partition,
                            record.offset,
                        )
                        continue
                    events.append(event)
            yield events
