"""Foundation: raw aiokafka produce rate (baseline) vs event-store append + outbox relay rate.

Both move the same number of ~300-byte messages to a 3-partition topic with acks=all and an
idempotent producer. The event-store figure is end to end: batched appends committed in
Postgres (fsync on), then published by the relay until Kafka acknowledged every event.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
from aiokafka import AIOKafkaProducer
from google.protobuf.wrappers_pb2 import StringValue
from labelops_eventstore import EventStore, NewEvent, OutboxRelay, ensure_topics, migrate

PAYLOAD = "x" * 200


async def raw_produce(bootstrap: str, n: int) -> float:
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [topic], 3)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=1 << 20,
    )
    await producer.start()
    value = StringValue(value=PAYLOAD).SerializeToString() + b"e" * 100
    try:
        t0 = time.perf_counter()
        futures = [
            await producer.send(topic, value=value, key=f"s{i % 1000}".encode()) for i in range(n)
        ]
        await asyncio.gather(*futures)
        return n / (time.perf_counter() - t0)
    finally:
        await producer.stop()


async def store_and_relay(bootstrap: str, dsn: str, n: int, batch: int, writers: int) -> dict:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    pool = await asyncpg.create_pool(dsn, min_size=writers + 2, max_size=writers + 4)
    try:
        await migrate(pool, schema)
        store = EventStore(pool, schema)
        service = f"bench{uuid.uuid4().hex[:6]}"
        relay = OutboxRelay(pool, schema, service, bootstrap, batch_size=5000, poll_interval=0.01)
        await ensure_topics(bootstrap, [relay.topic], 3)
        per_writer = n // writers

        async def writer(w: int) -> None:
            for i in range(0, per_writer, batch):
                events = [NewEvent.of(StringValue(value=PAYLOAD)) for _ in range(batch)]
                await store.append(f"w{w}/s{i // batch % 50}", None, events)

        t0 = time.perf_counter()
        relay_task = asyncio.create_task(relay.run())
        await asyncio.gather(*(writer(w) for w in range(writers)))
        t_appended = time.perf_counter()
        while relay.published_total < per_writer * writers:
            await asyncio.sleep(0.005)
        t_done = time.perf_counter()
        await relay.stop()
        await relay_task
        total = per_writer * writers
        return {
            "events": total,
            "append_rate": total / (t_appended - t0),
            "end_to_end_rate": total / (t_done - t0),
        }
    finally:
        async with pool.acquire() as conn:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await pool.close()


async def bench_foundation(bootstrap: str, dsn: str, *, quick: bool = False) -> dict:
    n = 20_000 if quick else 200_000
    await raw_produce(bootstrap, 2000)  # warm-up: connections, metadata, JIT on the broker
    raw = await raw_produce(bootstrap, n)
    result = {"raw_aiokafka_produce_per_s": round(raw)}
    for batch in (1, 100):
        m = n // 10 if batch == 1 else n
        r = await store_and_relay(bootstrap, dsn, m, batch, writers=8)
        key = f"append_batch{batch}"
        result[key] = {
            "events": r["events"],
            "append_per_s": round(r["append_rate"]),
            "append_plus_relay_per_s": round(r["end_to_end_rate"]),
            "ratio_to_raw_produce": round(r["end_to_end_rate"] / raw, 3),
        }
    return result
