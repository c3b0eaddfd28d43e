"""The real stack: PostgreSQL and Kafka answer, and Kafka keeps its data across a broker restart."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from labelops_testkit.infra import Infra


async def _produce(bootstrap: str, topic: str, value: bytes) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        meta = await producer.send_and_wait(topic, value, key=b"k", partition=0)
        return meta.offset
    finally:
        await producer.stop()


async def _read_partition0(bootstrap: str, topic: str, count: int) -> list[bytes]:
    """The first ``count`` values of partition 0, read from offset 0 without a consumer group."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek(tp, 0)
        values: list[bytes] = []
        async with asyncio.timeout(30):
            while len(values) < count:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                values += [msg.value for msg in batch.get(tp, [])]
        return values
    finally:
        await consumer.stop()


async def test_postgres_answers(pg_pool, pg_dsn: str) -> None:
    assert pg_dsn.startswith("postgresql://")
    assert await pg_pool.fetchval("SELECT 1 + 1") == 2
    version = await pg_pool.fetchval("SHOW server_version_num")
    assert int(version) >= 150000
    assert int(await pg_pool.fetchval("SHOW max_connections")) >= 300


async def test_pg_schema_is_fresh_and_usable(pg_pool, pg_schema: str) -> None:
    assert pg_schema.startswith("t_") and len(pg_schema) == 14
    async with pg_pool.acquire() as conn:
        await conn.execute(f'CREATE TABLE "{pg_schema}".items (id int PRIMARY KEY, name text)')
        await conn.execute(f'INSERT INTO "{pg_schema}".items VALUES (1, $1)', "a")
        assert await conn.fetchval(f'SELECT name FROM "{pg_schema}".items WHERE id = 1') == "a"


async def test_kafka_produce_consume(kafka_bootstrap: str, unique_name: str) -> None:
    topic = f"{unique_name}.roundtrip"
    await _produce(kafka_bootstrap, topic, b"hello")
    assert await _read_partition0(kafka_bootstrap, topic, 1) == [b"hello"]


async def test_kafka_consumer_group(kafka_bootstrap: str, unique_name: str) -> None:
    topic = f"{unique_name}.group"
    await _produce(kafka_bootstrap, topic, b"for-the-group")
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"{unique_name}-g",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        msg = await asyncio.wait_for(consumer.getone(), timeout=30)
        assert msg.value == b"for-the-group"
        await consumer.commit()
    finally:
        await consumer.stop()


async def test_kafka_data_survives_broker_restart(kafka_control: Infra, unique_name: str) -> None:
    bootstrap = kafka_control.kafka_bootstrap
    topic = f"{unique_name}.durable"
    await _produce(bootstrap, topic, b"before-restart")
    assert kafka_control.local is not None
    old_pid = kafka_control.local.kafka.pid()

    kafka_control.stop_kafka()
    assert not kafka_control.local.kafka.running()
    # SIGTERM gave the broker a clean shutdown (no log recovery on the next start).
    assert (kafka_control.local.kafka.data / ".kafka_cleanshutdown").exists()
    kafka_control.start_kafka()

    assert kafka_control.local.kafka.pid() not in (None, old_pid)
    assert await _read_partition0(bootstrap, topic, 1) == [b"before-restart"]
    offset = await _produce(bootstrap, topic, b"after-restart")
    assert offset == 1
    assert await _read_partition0(bootstrap, topic, 2) == [b"before-restart", b"after-restart"]


def test_infra_fixtures_are_marked(request: pytest.FixtureRequest, infra: Infra) -> None:
    assert request.node.get_closest_marker("infra") is not None
    assert infra.mode in ("local", "external", "containers")
    if infra.mode != "local":
        with pytest.raises(RuntimeError):
            infra.stop_kafka()
