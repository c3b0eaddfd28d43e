"""ConsumerRunner against a real Kafka broker and a real Postgres (fixtures: labelops_testkit)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from labelops.events.v1 import envelope_pb2
from labelops_bus import ConsumerRunner, MessageContext, ensure_topics, events_topic
from labelops_core.errors import Unavailable
from labelops_core.ids import new_id
from labelops_testkit.kafka import read_records
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

pytestmark = pytest.mark.asyncio(loop_scope="session")

EVENT = "labelops.test.v1.Happened"
EXPLODES = "labelops.test.v1.Explodes"


def envelope(event_type: str = EVENT, stream: str | None = None) -> envelope_pb2.EventEnvelope:
    return envelope_pb2.EventEnvelope(
        event_id=new_id(),
        type=event_type,
        stream_id=stream or f"projects/p1/things/{new_id()}",
        stream_version=1,
        tenant_id="tenant-1",
        source="test",
    )


@dataclass
class Out:
    """One record to produce."""

    value: bytes
    key: bytes
    headers: list[tuple[str, bytes]]
    partition: int | None = None


def out(env: envelope_pb2.EventEnvelope, **kw: Any) -> Out:
    headers = [("type", env.type.encode()), ("event_id", env.event_id.encode())]
    return Out(env.SerializeToString(), env.stream_id.encode(), headers + kw.pop("extra", []), **kw)


async def produce(bootstrap: str, topic: str, records: list[Out]) -> list[tuple[int, int]]:
    """Produce in order; returns (partition, offset) of each record."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        placed = []
        for r in records:
            md = await producer.send_and_wait(
                topic, r.value, key=r.key, headers=r.headers, partition=r.partition
            )
            placed.append((md.partition, md.offset))
        return placed
    finally:
        await producer.stop()


async def committed_offsets(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        found = await admin.list_consumer_group_offsets(group)
        return {tp: meta.offset for tp, meta in found.items()}
    finally:
        await admin.close()


class Projection:
    """A handler that writes one row per applied event into ``<schema>.effects``.

    The table has no unique constraint on purpose: a second application would show up as a
    second row instead of being absorbed.
    """

    def __init__(self, schema: str, *, delay: float = 0.0) -> None:
        self.schema = schema
        self.delay = delay
        self.calls: list[str] = []
        self.explode_attempts: list[int] = []
        self.seen_trace_ids: list[int] = []
        self._called = asyncio.Event()

    async def create(self, pool: asyncpg.Pool) -> None:
        await pool.execute(
            f"CREATE TABLE IF NOT EXISTS {self.schema}.effects"
            " (event_id text NOT NULL, consumer text NOT NULL, stream_id text NOT NULL)"
        )

    async def __call__(self, ctx: MessageContext, conn: asyncpg.Connection) -> None:
        self.calls.append(ctx.event_id)
        self._called.set()
        self.seen_trace_ids.append(trace.get_current_span().get_span_context().trace_id)
        if ctx.envelope.type == EXPLODES:
            self.explode_attempts.append(ctx.attempt)
            raise RuntimeError("boom")
        if self.delay:
            await asyncio.sleep(self.delay)
        await conn.execute(
            f"INSERT INTO {self.schema}.effects (event_id, consumer, stream_id)"
            " VALUES ($1, $2, $3)",
            ctx.event_id,
            ctx.consumer,
            ctx.envelope.stream_id,
        )

    async def wait_calls(self, n: int, timeout: float = 30.0) -> None:
        """Until the handler has been called ``n`` times."""
        async with asyncio.timeout(timeout):
            while len(self.calls) < n:
                self._called.clear()
                await self._called.wait()

    async def effects(self, pool: asyncpg.Pool) -> Counter[str]:
        rows = await pool.fetch(f"SELECT event_id FROM {self.schema}.effects")
        return Counter(r["event_id"] for r in rows)


@pytest_asyncio.fixture(loop_scope="session")
async def make_runner(
    kafka_bootstrap: str, pg_pool: asyncpg.Pool, pg_schema: str, unique_name: str
) -> AsyncIterator[Callable[..., ConsumerRunner]]:
    """Factory of runners on this test's schema and service name; all stopped afterwards."""
    made: list[ConsumerRunner] = []

    def make(handler: Any, **kw: Any) -> ConsumerRunner:
        kw.setdefault("topics", [events_topic(unique_name)])
        kw.setdefault("consumer", "projection")
        kw.setdefault("group_id", f"{unique_name}-group")
        kw.setdefault("backoff_base", 0.01)
        runner = ConsumerRunner(
            bootstrap_servers=kafka_bootstrap,
            pool=pg_pool,
            schema=pg_schema,
            handler=handler,
            service=unique_name,
            **kw,
        )
        made.append(runner)
        return runner

    yield make
    for runner in made:
        await runner.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def topic(kafka_bootstrap: str, unique_name: str) -> str:
    name = events_topic(unique_name)
    await ensure_topics(kafka_bootstrap, [name], partitions=3)
    return name


class Crash(Exception):
    """Simulated process death between the Postgres commit and the Kafka offset commit."""


async def test_each_event_applied_exactly_once_despite_duplicates_and_a_crash(
    kafka_bootstrap: str, pg_pool: asyncpg.Pool, pg_schema: str, topic: str, make_runner: Any
) -> None:
    projection = Projection(pg_schema)
    await projection.create(pg_pool)
    envs = [envelope() for _ in range(12)]
    # Every envelope twice, as an outbox relay retrying a publish would leave them.
    await produce(kafka_bootstrap, topic, [out(e) for e in envs for _ in range(2)])

    async def crash_before_offset_commit(offsets: Any) -> None:
        raise Crash

    first = make_runner(projection, before_offset_commit=crash_before_offset_commit, max_batch=5)
    with pytest.raises(Crash):
        await first.run_until(lambda: False, timeout=30)
    # The first batch's transactions committed, its offsets did not.
    assert first.stats["applied"] > 0
    assert sum((await projection.effects(pg_pool)).values()) == first.stats["applied"]

    second = make_runner(projection)
    await second.run_until(lambda: second.stats.total() == 24, timeout=30)

    # Nothing was committed by the crashed runner, so every record came back, and each
    # event's effect still exists exactly once.
    assert await projection.effects(pg_pool) == Counter({e.event_id: 1 for e in envs})
    assert len(projection.calls) == 12
    assert second.stats["applied"] == 12 - first.stats["applied"]
    assert second.stats["duplicate"] == 24 - second.stats["applied"]
    statuses = await pg_pool.fetch(
        f"SELECT status, count(*) AS n FROM {pg_schema}.processed_events GROUP BY status"
    )
    assert {r["status"]: r["n"] for r in statuses} == {"applied": 12}


async def test_poison_and_failing_events_go_to_the_dlq_and_the_consumer_moves_on(
    kafka_bootstrap: str, pg_pool: asyncpg.Pool, pg_schema: str, topic: str, make_runner: Any
) -> None:
    projection = Projection(pg_schema)
    await projection.create(pg_pool)
    stream = "projects/p1/things/one"  # one key → one partition → this order is kept
    good1, bad, good2 = envelope(stream=stream), envelope(EXPLODES, stream), envelope(stream=stream)
    poison = b"\xff\xfe this is not an EventEnvelope"
    placed = await produce(
        kafka_bootstrap,
        topic,
        [
            out(good1),
            Out(poison, stream.encode(), [("type", b"garbage")]),
            out(bad, extra=[("dlq.error", b"stale header from an earlier replay")]),
            out(good2),
        ],
    )
    runner = make_runner(projection, max_attempts=3)
    await runner.run_until(lambda: runner.stats.total() == 4, timeout=30)

    assert runner.stats == Counter(applied=2, dead_lettered=2)
    assert await projection.effects(pg_pool) == Counter({good1.event_id: 1, good2.event_id: 1})
    assert projection.explode_attempts == [1, 2, 3]

    dlq = await read_records(kafka_bootstrap, runner.dlq_topic)
    assert len(dlq) == 2
    by_reason = {dict(r.headers)["dlq.reason"]: r for r in dlq}

    undecodable = by_reason[b"decode"]
    h = dict(undecodable.headers)
    assert undecodable.value == poison and undecodable.key == stream.encode()
    assert h["type"] == b"garbage"  # original headers kept
    assert b"PoisonMessage" in h["dlq.error"]
    assert h["dlq.topic"] == topic.encode()
    assert (int(h["dlq.partition"]), int(h["dlq.offset"])) == placed[1]
    assert h["dlq.consumer"] == b"projection"
    assert h["dlq.attempts"] == b"0"

    failed = by_reason[b"handler"]
    h = dict(failed.headers)
    assert failed.value == bad.SerializeToString() and failed.key == stream.encode()
    assert h["event_id"] == bad.event_id.encode()
    assert h["dlq.error"] == b"RuntimeError: boom"
    assert [v for k, v in failed.headers if k == "dlq.error"] == [b"RuntimeError: boom"]
    assert (int(h["dlq.partition"]), int(h["dlq.offset"])) == placed[2]
    assert h["dlq.attempts"] == b"3"

    rows = await pg_pool.fetch(
        f"SELECT event_id, status FROM {pg_schema}.processed_events WHERE consumer = 'projection'"
    )
    poison_id = f"kafka:{topic}:{placed[1][0]}:{placed[1][1]}"
    assert {r["event_id"]: r["status"] for r in rows} == {
        good1.event_id: "applied",
        good2.event_id: "applied",
        bad.event_id: "dead_lettered",
        poison_id: "dead_lettered",
    }

    # A redelivery (here: a new group reading the topic again) changes nothing and does not
    # dead-letter anything twice.
    again = make_runner(projection, group_id=f"{runner.group_id}-replay", max_attempts=3)
    await again.run_until(lambda: again.stats.total() == 4, timeout=30)
    assert again.stats == Counter(duplicate=4)
    assert projection.explode_attempts == [1, 2, 3]
    assert len(await read_records(kafka_bootstrap, runner.dlq_topic)) == 2


def _points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    data = reader.get_metrics_data()
    return [
        point
        for rm in (data.resource_metrics if data else [])
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


async def test_lag_reports_the_backlog_before_consumption_and_zero_after(
    kafka_bootstrap: str, pg_pool: asyncpg.Pool, pg_schema: str, topic: str, make_runner: Any
) -> None:
    projection = Projection(pg_schema)
    await projection.create(pg_pool)
    backlog = {0: 2, 1: 3, 2: 4}
    await produce(
        kafka_bootstrap,
        topic,
        [out(envelope(), partition=p) for p, n in backlog.items() for _ in range(n)],
    )
    reader = InMemoryMetricReader()
    runner = make_runner(projection, meter_provider=MeterProvider(metric_readers=[reader]))
    await runner.start()

    expected = {TopicPartition(topic, p): n for p, n in backlog.items()}
    assert await runner.refresh_lag() == expected
    assert runner.lag() == expected
    gauge = {p.attributes["partition"]: p.value for p in _points(reader, "labelops.consumer.lag")}
    assert gauge == backlog

    await runner.run_until(lambda: runner.stats["applied"] == 9, timeout=30)

    assert runner.lag() == {tp: 0 for tp in expected}
    gauge = {p.attributes["partition"]: p.value for p in _points(reader, "labelops.consumer.lag")}
    assert gauge == {0: 0, 1: 0, 2: 0}
    processed = {
        p.attributes["outcome"]: p.value
        for p in _points(reader, "labelops.consumer.processed")
        if p.attributes["topic"] == topic
    }
    assert processed == {"applied": 9}
    (latency,) = _points(reader, "labelops.consumer.handler.duration")
    assert latency.count == 9
    # What lag() says is what the group has committed.
    assert await committed_offsets(kafka_bootstrap, runner.group_id) == {
        tp: n for tp, n in expected.items()
    }


async def test_graceful_stop_finishes_the_record_in_flight_and_commits_offsets(
    kafka_bootstrap: str, pg_pool: asyncpg.Pool, pg_schema: str, topic: str, make_runner: Any
) -> None:
    # A slow handler, so stop() arrives while a record is being handled.
    projection = Projection(pg_schema, delay=0.2)
    await projection.create(pg_pool)
    stream = "projects/p1/things/ordered"
    envs = [envelope(stream=stream) for _ in range(8)]
    placed = await produce(kafka_bootstrap, topic, [out(e) for e in envs])
    partition = placed[0][0]

    first = make_runner(projection, consumer="first")
    task = asyncio.create_task(first.run())
    await projection.wait_calls(3)
    await first.stop()
    await task

    done = first.stats["applied"]
    assert 3 <= done < 8
    # The handler call in flight when stop() came finished and committed.
    assert len(projection.calls) == done
    assert sum((await projection.effects(pg_pool)).values()) == done
    assert await committed_offsets(kafka_bootstrap, first.group_id) == {
        TopicPartition(topic, partition): placed[done - 1][1] + 1
    }

    # Same group, but another dedup namespace: only the committed offsets can keep this runner
    # from applying the first runner's events again.
    projection.delay = 0.0
    second = make_runner(projection, consumer="second")
    await second.run_until(lambda: second.stats.total() >= 8 - done, timeout=30)
    assert second.stats == Counter(applied=8 - done)
    assert all(n == 0 for n in second.lag().values())
    assert await projection.effects(pg_pool) == Counter({e.event_id: 1 for e in envs})
    assert len(projection.calls) == 8


async def test_rebalance_hands_over_processed_offsets(
    kafka_bootstrap: str, pg_pool: asyncpg.Pool, pg_schema: str, topic: str, make_runner: Any
) -> None:
    # 60 x 0.1 s of work, and heartbeats every 0.2 s so the first member notices the second
    # one joining within that time.
    projection = Projection(pg_schema, delay=0.1)
    fast = {"max_batch": 10, "heartbeat_interval_ms": 200, "session_timeout_ms": 6000}
    await projection.create(pg_pool)
    envs = [envelope() for _ in range(60)]
    await produce(kafka_bootstrap, topic, [out(e) for e in envs])

    first = make_runner(projection, **fast)
    task = asyncio.create_task(first.run())
    await projection.wait_calls(5)
    second = make_runner(projection, **fast)
    # The second member joins; the first revokes, commits what it finished, and both go on.
    await second.start()
    await second.run_until(
        lambda: first.stats.total() + second.stats.total() >= 60 or task.done(), timeout=60
    )
    await first.stop()
    await task

    assert await projection.effects(pg_pool) == Counter({e.event_id: 1 for e in envs})
    assert first.stats["applied"] > 0 and second.stats["applied"] > 0
    # Revocation committed the first member's progress, so the second saw none of it again.
    assert first.stats["duplicate"] + second.stats["duplicate"] == 0


async def test_consumer_span_continues_the_trace_from_the_traceparent_header(
    kafka_bootstrap: str, pg_pool: asyncpg.Pool, pg_schema: str, topic: str, make_runner: Any
) -> None:
    projection = Projection(pg_schema)
    await projection.create(pg_pool)
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    env = envelope()
    await produce(
        kafka_bootstrap,
        topic,
        [out(env, extra=[("traceparent", f"00-{trace_id}-{parent_id}-01".encode())])],
    )
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    runner = make_runner(projection, tracer_provider=provider)
    await runner.run_until(lambda: runner.stats["applied"] == 1, timeout=30)

    (span,) = [s for s in exporter.get_finished_spans() if s.kind == SpanKind.CONSUMER]
    assert span.context is not None and span.context.trace_id == int(trace_id, 16)
    assert span.parent is not None and span.parent.span_id == int(parent_id, 16)
    assert dict(span.attributes or {})["messaging.message.id"] == env.event_id
    assert projection.seen_trace_ids == [int(trace_id, 16)]  # the handler runs inside it


async def test_outages_are_retried_past_max_attempts_and_never_dead_lettered(
    kafka_bootstrap: str, pg_pool: asyncpg.Pool, pg_schema: str, topic: str, make_runner: Any
) -> None:
    projection = Projection(pg_schema)
    await projection.create(pg_pool)
    env = envelope()
    await produce(kafka_bootstrap, topic, [out(env)])
    outage = {"left": 5}

    async def flaky_dependency(ctx: MessageContext, conn: asyncpg.Connection) -> None:
        if outage["left"]:
            outage["left"] -= 1
            raise Unavailable("model server is down")
        await projection(ctx, conn)

    runner = make_runner(flaky_dependency, max_attempts=3)
    await runner.run_until(lambda: runner.stats.total() == 1, timeout=30)

    assert runner.stats == Counter(applied=1)
    assert await projection.effects(pg_pool) == Counter({env.event_id: 1})
    assert await read_records(kafka_bootstrap, runner.dlq_topic) == []


async def test_a_handler_can_stop_its_own_runner(
    kafka_bootstrap: str, pg_pool: asyncpg.Pool, pg_schema: str, topic: str, make_runner: Any
) -> None:
    projection = Projection(pg_schema)
    await projection.create(pg_pool)
    stream = "projects/p1/things/stop"
    envs = [envelope(stream=stream) for _ in range(4)]
    placed = await produce(kafka_bootstrap, topic, [out(e) for e in envs])
    runner: ConsumerRunner

    async def stop_after_second(ctx: MessageContext, conn: asyncpg.Connection) -> None:
        await projection(ctx, conn)
        if len(projection.calls) == 2:
            await runner.stop()  # must not wait for the loop that is waiting for us

    runner = make_runner(stop_after_second)
    await asyncio.wait_for(runner.run(), timeout=30)

    assert runner.stats == Counter(applied=2)
    assert await committed_offsets(kafka_bootstrap, runner.group_id) == {
        TopicPartition(topic, placed[0][0]): placed[1][1] + 1
    }


async def test_a_consumer_started_before_its_producer_creates_an_events_topic(
    kafka_bootstrap: str, unique_name: str
) -> None:
    # The consumer creates the topic the producing relay would: with the events-topic record
    # limit, not the broker's 1 MiB default that auto-creation would give it.
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
    from labelops_bus import RestartableConsumer
    from labelops_bus.topics import MAX_EVENT_MESSAGE_BYTES

    topic = f"{unique_name}.early"

    class Idle:
        def __init__(self) -> None:
            self.stopped = asyncio.Event()

        async def run(self) -> None:
            await self.stopped.wait()

        async def stop(self) -> None:
            self.stopped.set()

    consumer = RestartableConsumer(Idle, kafka_bootstrap, [topic])
    task = asyncio.create_task(consumer.run())
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        for _ in range(100):
            if topic in await admin.list_topics():
                break
            await asyncio.sleep(0.1)
        (resp,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, {"max.message.bytes": None})]
        )
        values = {c[0]: c[1] for c in resp.resources[0][4]}
        assert values["max.message.bytes"] == str(MAX_EVENT_MESSAGE_BYTES)
    finally:
        await admin.close()
        await consumer.stop()
        await task
