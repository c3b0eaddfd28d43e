"""BatchProjector against a real Kafka broker and a real Postgres."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from labelops.events.v1 import envelope_pb2
from labelops_bus import BatchProjector, BatchRecord, ensure_topics, read_positions
from labelops_testkit.kafka import envelope, publish, read_records

pytestmark = pytest.mark.asyncio(loop_scope="session")


class Crash(Exception):
    pass


def _envs(n: int, streams: int = 7) -> list[envelope_pb2.EventEnvelope]:
    return [
        envelope(envelope_pb2.EventEnvelope(event_id=f"inner-{i}"), f"things/{i % streams}")
        for i in range(n)
    ]


async def _table(pool: asyncpg.Pool, schema: str) -> None:
    await pool.execute(
        f'CREATE TABLE "{schema}".seen (topic text, partition int, "offset" bigint,'
        " event_id text NOT NULL, applied int NOT NULL DEFAULT 1,"
        ' PRIMARY KEY (topic, partition, "offset"))'
    )


def _handler(schema: str, calls: list[int]):  # type: ignore[no-untyped-def]
    async def handle(records: Sequence[BatchRecord], conn: asyncpg.Connection) -> None:
        calls.append(len(records))
        # Counts applications, so a batch applied twice would show (applied = 2), unlike an
        # ON CONFLICT DO NOTHING that would hide it.
        await conn.executemany(
            f'INSERT INTO "{schema}".seen VALUES ($1, $2, $3, $4)'
            ' ON CONFLICT (topic, partition, "offset") DO UPDATE SET applied = seen.applied + 1',
            [(r.topic, r.partition, r.offset, r.envelope.event_id) for r in records],
        )

    return handle


def _projector(
    kafka_bootstrap: str, pool: asyncpg.Pool, schema: str, topic: str, calls: list[int], **kw
) -> BatchProjector:  # type: ignore[no-untyped-def]
    return BatchProjector(
        bootstrap_servers=kafka_bootstrap,
        group_id=f"{topic}.g",
        topics=[topic],
        pool=pool,
        consumer="proj",
        schema=schema,
        handler=_handler(schema, calls),
        service=f"{topic}-svc",
        max_batch=kw.pop("max_batch", 200),
        **kw,
    )


async def _count(pool: asyncpg.Pool, schema: str) -> int:
    return int(await pool.fetchval(f'SELECT count(*) FROM "{schema}".seen'))


async def test_projects_every_record_once_and_stores_positions(
    kafka_bootstrap: str, pg_pool: asyncpg.Pool, pg_schema: str, unique_name: str
) -> None:
    topic = f"{unique_name}.events"
    await ensure_topics(kafka_bootstrap, [topic], 3)
    await _table(pg_pool, pg_schema)
    envs = _envs(1000)
    await publish(kafka_bootstrap, topic, envs)
    calls: list[int] = []
    p = _projector(kafka_bootstrap, pg_pool, pg_schema, topic, calls)

    async def done() -> bool:
        return await _count(pg_pool, pg_schema) == 1000

    await p.run_until(done, timeout=60)
    assert await pg_pool.fetchval(f'SELECT max(applied) FROM "{pg_schema}".seen') == 1
    ids = {r["event_id"] for r in await pg_pool.fetch(f'SELECT event_id FROM "{pg_schema}".seen')}
    assert ids == {e.event_id for e in envs}
    # Batches, not one transaction per record.
    assert len(calls) < 100
    records = await read_records(kafka_bootstrap, topic)
    ends: dict[int, int] = {}
    for r in records:
        ends[r.partition] = max(ends.get(r.partition, 0), r.offset + 1)
    assert await read_positions(pg_pool, pg_schema, "proj", topic) == ends


async def test_crash_after_commit_before_offset_commit_applies_nothing_twice(
    kafka_bootstrap: str, pg_pool: asyncpg.Pool, pg_schema: str, unique_name: str
) -> None:
    topic = f"{unique_name}.events"
    await ensure_topics(kafka_bootstrap, [topic], 1)
    await _table(pg_pool, pg_schema)
    await publish(kafka_bootstrap, topic, _envs(600))
    calls: list[int] = []
    batches = 0

    async def crash_on_second(offsets: Mapping[TopicPartition, int]) -> None:
        nonlocal batches
        batches += 1
        if batches == 2:
            raise Crash

    p = _projector(
        kafka_bootstrap,
        pg_pool,
        pg_schema,
        topic,
        calls,
        max_batch=100,
        before_offset_commit=crash_on_second,
    )
    with pytest.raises(Crash):
        await p.run()
    partial = await _count(pg_pool, pg_schema)
    assert 0 < partial < 600  # the crash happened mid-way, after a committed batch

    p2 = _projector(kafka_bootstrap, pg_pool, pg_schema, topic, [], max_batch=100)

    async def done() -> bool:
        return await _count(pg_pool, pg_schema) == 600

    await p2.run_until(done, timeout=60)
    # The batch whose Kafka commit never happened was not applied again.
    assert await pg_pool.fetchval(f'SELECT max(applied) FROM "{pg_schema}".seen') == 1
    assert await read_positions(pg_pool, pg_schema, "proj", topic) == {0: 600}


async def test_poison_goes_to_the_dlq_and_the_projection_moves_on(
    kafka_bootstrap: str, pg_pool: asyncpg.Pool, pg_schema: str, unique_name: str
) -> None:
    topic = f"{unique_name}.events"
    await ensure_topics(kafka_bootstrap, [topic], 1)
    await _table(pg_pool, pg_schema)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, _envs(1)[0].SerializeToString(), key=b"a")
        await producer.send_and_wait(topic, b"\xff\xfenot an envelope", key=b"a")
        await producer.send_and_wait(topic, _envs(1)[0].SerializeToString(), key=b"a")
    finally:
        await producer.stop()
    p = _projector(kafka_bootstrap, pg_pool, pg_schema, topic, [])

    async def done() -> bool:
        return await _count(pg_pool, pg_schema) == 2

    await p.run_until(done, timeout=60)
    assert p.stats["dead_lettered"] == 1
    dlq = await read_records(kafka_bootstrap, p.dlq_topic)
    assert [r.value for r in dlq] == [b"\xff\xfenot an envelope"]
    headers = dict(dlq[0].headers)
    # The same dlq.* headers ConsumerRunner writes, so one DLQ tool reads both.
    assert headers["dlq.reason"] == b"decode" and headers["dlq.consumer"] == b"proj"
    assert headers["dlq.offset"] == b"1" and headers["dlq.group"] == f"{topic}.g".encode()
    assert await read_positions(pg_pool, pg_schema, "proj", topic) == {0: 3}
