"""Kafka helpers for tests: read a whole topic back, without a consumer group."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from labelops.events.v1 import envelope_pb2


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
