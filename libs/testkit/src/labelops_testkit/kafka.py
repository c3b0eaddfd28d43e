"""Kafka helpers for tests: read a whole topic back, without a consumer group; publish events
the way another service's relay would (a test playing that service)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from labelops.events.v1 import envelope_pb2
from labelops_core.ids import new_id


async def read_records(bootstrap: str, topic: str) -> list[ConsumerRecord]:
    """Every record currently on ``topic``, all partitions, from offset 0 to the end.

    No group is joined and nothing is committed, so tests can read a topic as often as they
    like without disturbing the consumers under test.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        # A topic created moments ago may not be in the cached metadata yet.
        await consumer._client.force_metadata_update()
        parts = sorted(consumer.partitions_for_topic(topic) or ())
        tps = [TopicPartition(topic, p) for p in parts]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        got: list[ConsumerRecord] = []
        remaining = {tp for tp in tps if end[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batch.items():
                got.extend(records)
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
        return got
    finally:
        await consumer.stop()


async def read_envelopes(bootstrap: str, topic: str) -> list[envelope_pb2.EventEnvelope]:
    """Every record on ``topic`` decoded as an EventEnvelope, in per-partition order."""
    out = []
    for record in await read_records(bootstrap, topic):
        env = envelope_pb2.EventEnvelope()
        env.ParseFromString(record.value)
        out.append(env)
    return out


async def wait_for_envelopes(
    bootstrap: str, topic: str, count: int, timeout: float = 30.0
) -> list[envelope_pb2.EventEnvelope]:
    """The envelopes on ``topic`` once there are at least ``count`` (TimeoutError after
    ``timeout`` seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        got = await read_envelopes(bootstrap, topic)
        if len(got) >= count:
            return got
        if loop.time() > deadline:
            raise TimeoutError(f"{len(got)} of {count} events on {topic} after {timeout}s")
        await asyncio.sleep(0.3)


def envelope(
    message: Any, stream_id: str, *, version: int = 1, source: str = "test", tenant_id: str = ""
) -> envelope_pb2.EventEnvelope:
    """``message`` wrapped as a relay would publish it (fresh event id, type = full name), of
    ``tenant_id`` (consumers take an event without one as the default tenant's)."""
    env = envelope_pb2.EventEnvelope(
        event_id=new_id(),
        tenant_id=tenant_id,
        type=message.DESCRIPTOR.full_name,
        stream_id=stream_id,
        stream_version=version,
        payload=message.SerializeToString(),
        source=source,
    )
    env.occurred_at.GetCurrentTime()
    return env


async def publish(
    bootstrap: str, topic: str, envelopes: Sequence[envelope_pb2.EventEnvelope]
) -> None:
    """Produce ``envelopes`` to ``topic`` in order, keyed by stream id, acks=all."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        batch = [
            await producer.send(topic, env.SerializeToString(), key=env.stream_id.encode())
            for env in envelopes
        ]
        await asyncio.gather(*batch)
    finally:
        await producer.stop()


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """partition → end offset (next offset to be written) of ``topic``; empty partitions too."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in parts])
        return {tp.partition: o for tp, o in ends.items()}
    finally:
        # Let the consumer's background tasks take their first step: stopping a consumer
        # whose tasks never ran raises CancelledError from aiokafka's coordinator close.
        await asyncio.sleep(0)
        await consumer.stop()
