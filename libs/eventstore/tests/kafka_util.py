"""Test helpers: read a whole topic back from Kafka."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from labelops.events.v1 import envelope_pb2


async def read_topic(bootstrap: str, topic: str) -> list[envelope_pb2.EventEnvelope]:
    """Every envelope on ``topic`` (all partitions, from offset 0 to the current end)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        out: list[envelope_pb2.EventEnvelope] = []
        remaining = {tp for tp in tps if end[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batch.items():
                for r in records:
                    env = envelope_pb2.EventEnvelope()
                    env.ParseFromString(r.value)
                    out.append(env)
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
        return out
    finally:
        await consumer.stop()
