"""Outbox relay against real Postgres and Kafka: nothing skipped, per-stream order kept."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict

import asyncpg
import pytest
from google.protobuf.wrappers_pb2 import StringValue
from labelops_eventstore import EventStore, NewEvent, OutboxRelay, events_topic, migrate
from labelops_testkit.kafka import read_envelopes


def ev(text: str) -> NewEvent:
    return NewEvent.of(StringValue(value=text))


def assert_stream_order(envelopes) -> None:
    """Per stream, the first delivery of each version comes in version order, without holes."""
    seen: dict[str, list[int]] = defaultdict(list)
    for env in envelopes:
        versions = seen[env.stream_id]
        if env.stream_version not in versions:
            versions.append(env.stream_version)
    for stream, versions in seen.items():
        assert versions == list(range(1, len(versions) + 1)), f"{stream} out of order: {versions}"


async def committed_ids(pg_pool, schema: str) -> set[str]:
    rows = await pg_pool.fetch(f"SELECT event_id FROM {schema}.events")
    return {str(r["event_id"]) for r in rows}


async def test_32_concurrent_writers_with_long_transactions_nothing_skipped(
    pg_pool, pg_dsn, pg_schema, kafka_bootstrap, unique_name
) -> None:
    await migrate(pg_pool, pg_schema)
    # Its own pool, big enough for 32 truly concurrent transactions.
    writers_pool = await asyncpg.create_pool(pg_dsn, min_size=4, max_size=40)
    store = EventStore(writers_pool, pg_schema)
    published_sets: list[list[int]] = []

    async def record(events) -> None:
        published_sets.append([e.position for e in events])

    relay = OutboxRelay(
        pg_pool,
        pg_schema,
        unique_name,
        kafka_bootstrap,
        poll_interval=0.05,
        batch_size=200,
        after_publish=record,
    )
    relay_task = asyncio.create_task(relay.run())
    rng = random.Random(7)
    hot_streams = [f"hot/{i}" for i in range(4)]
    rolled_back = 0

    async def writer(w: int) -> None:
        nonlocal rolled_back
        for i in range(12):
            stream = rng.choice(hot_streams) if i % 3 == 0 else f"w{w}/s{i % 4}"
            long_hold = w % 4 == 0 and i in (2, 7)
            async with writers_pool.acquire() as conn:
                tx = conn.transaction()
                await tx.start()
                try:
                    if long_hold and w % 8 == 0:
                        # Take an xid *before* reading the stream (a read-model write first):
                        # the case where version n+1 can get a lower xid than version n.
                        await conn.fetchval("SELECT pg_current_xact_id()")
                        await asyncio.sleep(rng.uniform(0.5, 1.5))
                    for attempt in range(50):
                        try:
                            await store.append(
                                stream, None, [ev(f"{w}-{i}-a"), ev(f"{w}-{i}-b")], conn=conn
                            )
                            break
                        except Exception:
                            if attempt == 49:
                                raise
                            await asyncio.sleep(0.01)
                    if long_hold:
                        await asyncio.sleep(rng.uniform(2.0, 5.0))
                    if w == 31 and i == 5:
                        raise RuntimeError("this transaction rolls back")
                except RuntimeError:
                    await tx.rollback()
                    rolled_back += 1
                else:
                    await tx.commit()

    try:
        await asyncio.gather(*(writer(w) for w in range(32)))
    finally:
        await writers_pool.close()
    await relay.drain(timeout=60)
    await relay.stop()
    await asyncio.wait_for(relay_task, 30)

    committed = await committed_ids(pg_pool, pg_schema)
    assert rolled_back == 1
    assert len(committed) == (32 * 12 - 1) * 2
    envelopes = await read_envelopes(kafka_bootstrap, events_topic(unique_name))
    assert {e.event_id for e in envelopes} == committed  # 0 skipped, nothing extra
    assert_stream_order(envelopes)
    # The gap scenario really happened: a later set published positions below an earlier set's
    # maximum (a position-tracking relay would have skipped them).
    max_so_far = 0
    late = 0
    for positions in published_sets:
        late += sum(1 for p in positions if p < max_so_far)
        max_so_far = max(max_so_far, *positions)
    assert late > 0


async def test_relay_respects_per_stream_order_when_xids_invert(
    pg_pool, pg_schema, kafka_bootstrap, unique_name
) -> None:
    """Version 2 written by a transaction whose xid is lower than version 1's."""
    await migrate(pg_pool, pg_schema)
    store = EventStore(pg_pool, pg_schema)
    relay = OutboxRelay(pg_pool, pg_schema, unique_name, kafka_bootstrap)
    async with pg_pool.acquire() as late_conn, pg_pool.acquire() as blocker:
        late_tx = late_conn.transaction()
        await late_tx.start()
        old_xid = int(await late_conn.fetchval("SELECT pg_current_xact_id()::text::bigint"))
        # Another transaction, open throughout, keeps xmin between the two writers' xids.
        btx = blocker.transaction()
        await btx.start()
        await blocker.fetchval("SELECT pg_current_xact_id()")
        await store.append("inv", 0, [ev("v1")])  # commits first, with a higher xid
        await store.append("inv", 1, [ev("v2")], conn=late_conn)
        await late_tx.commit()
        v1_xid = await pg_pool.fetchval(
            f"SELECT tx_id FROM {pg_schema}.events WHERE stream_version = 1"
        )
        assert old_xid < v1_xid
        # v2 (lower xid) is final but v1 is not below xmin: publishing v2 now would break order.
        assert await relay.run_once() == 0
        await btx.commit()
    await relay.drain()
    envelopes = await read_envelopes(kafka_bootstrap, events_topic(unique_name))
    assert [e.stream_version for e in envelopes] == [1, 2]


@pytest.mark.kafka_restart
async def test_kafka_stopped_mid_relay_and_restarted_loses_nothing(
    pg_pool, pg_schema, kafka_bootstrap, kafka_control, unique_name
) -> None:
    await migrate(pg_pool, pg_schema)
    store = EventStore(pg_pool, pg_schema)
    relay = OutboxRelay(pg_pool, pg_schema, unique_name, kafka_bootstrap, poll_interval=0.05)
    relay_task = asyncio.create_task(relay.run())
    stop = asyncio.Event()

    async def write_continuously() -> None:
        i = 0
        while not stop.is_set():
            await store.append(f"k/{i % 7}", None, [ev(str(i))])
            i += 1
            await asyncio.sleep(0.01)

    writer = asyncio.create_task(write_continuously())
    await asyncio.sleep(1.5)
    published_before = relay.published_total
    assert published_before > 0
    await asyncio.to_thread(kafka_control.stop_kafka)
    await asyncio.sleep(2.0)  # events keep committing while Kafka is down
    await asyncio.to_thread(kafka_control.start_kafka)
    await asyncio.sleep(1.0)
    stop.set()
    await writer
    await relay.drain(timeout=120)
    await relay.stop()
    await asyncio.wait_for(relay_task, 60)
    envelopes = await read_envelopes(kafka_bootstrap, events_topic(unique_name))
    assert {e.event_id for e in envelopes} == await committed_ids(pg_pool, pg_schema)
    assert_stream_order(envelopes)


async def test_event_larger_than_kafka_default_is_published(
    pg_pool, pg_schema, kafka_bootstrap, unique_name
) -> None:
    """Kafka's default limit is 1 MiB; the relay's topics take events up to 16 MiB."""
    await migrate(pg_pool, pg_schema)
    store = EventStore(pg_pool, pg_schema)
    big = "x" * 3_000_000
    await store.append("big/1", 0, [ev("small"), ev(big)])
    await store.append("big/2", 0, [ev("after")])
    await OutboxRelay(pg_pool, pg_schema, unique_name, kafka_bootstrap).drain()
    envelopes = await read_envelopes(kafka_bootstrap, events_topic(unique_name))
    values = sorted(len(StringValue.FromString(e.payload).value) for e in envelopes)
    assert values == [5, 5, 3_000_000]
