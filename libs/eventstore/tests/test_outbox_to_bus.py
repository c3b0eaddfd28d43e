"""Relay → Kafka → libs/bus consumer, end to end on real servers."""

from __future__ import annotations

import asyncio
from collections import Counter

import asyncpg
import grpc
import pytest
from google.protobuf.wrappers_pb2 import StringValue
from labelops_bus import ConsumerRunner, MessageContext
from labelops_eventstore import EventStore, NewEvent, OutboxRelay, events_topic, migrate
from labelops_grpckit import Authenticator, GrpcServer, channel
from labelops_telemetry import setup_telemetry
from labelops_testkit.kafka import read_envelopes
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind


class RelayKilled(Exception):
    """Stands for the relay process dying right after Kafka acknowledged a set."""


class Effects:
    """A projection whose table has no unique key: a double apply would show as two rows."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self.trace_ids: list[str] = []

    async def create(self, pool: asyncpg.Pool) -> None:
        await pool.execute(f"CREATE TABLE {self.schema}.effects (event_id text, stream_id text)")

    async def __call__(self, ctx: MessageContext, conn: asyncpg.Connection) -> None:
        await conn.execute(
            f"INSERT INTO {self.schema}.effects VALUES ($1, $2)",
            ctx.envelope.event_id,
            ctx.envelope.stream_id,
        )

    async def counts(self, pool: asyncpg.Pool) -> Counter[str]:
        rows = await pool.fetch(f"SELECT event_id FROM {self.schema}.effects")
        return Counter(r["event_id"] for r in rows)


def runner_for(kafka_bootstrap, pg_pool, schema, service, handler) -> ConsumerRunner:
    return ConsumerRunner(
        bootstrap_servers=kafka_bootstrap,
        group_id=f"{service}-projection",
        topics=[events_topic(service)],
        pool=pg_pool,
        consumer="effects",
        schema=schema,
        handler=handler,
        service=service,
    )


async def test_relay_killed_after_ack_duplicates_in_kafka_applied_once(
    pg_pool, pg_schema, kafka_bootstrap, unique_name
) -> None:
    await migrate(pg_pool, pg_schema)
    store = EventStore(pg_pool, pg_schema)
    for i in range(30):
        await store.append(f"labels/{i % 6}", None, [NewEvent.of(StringValue(value=str(i)))])

    async def die(_events) -> None:
        raise RelayKilled

    first = OutboxRelay(pg_pool, pg_schema, unique_name, kafka_bootstrap, after_publish=die)
    with pytest.raises(RelayKilled):
        await first.run_once()
    assert await first.watermark() == 0  # progress was never recorded
    second = OutboxRelay(pg_pool, pg_schema, unique_name, kafka_bootstrap)
    await second.drain()

    on_kafka = await read_envelopes(kafka_bootstrap, events_topic(unique_name))
    assert len(on_kafka) == 60  # every event twice
    effects = Effects(pg_schema)
    await effects.create(pg_pool)
    runner = runner_for(kafka_bootstrap, pg_pool, pg_schema, unique_name, effects)
    await runner.start()
    try:
        await runner.run_until(lambda: runner.stats["applied"] + runner.stats["duplicate"] == 60)
    finally:
        await runner.stop()
    counts = await effects.counts(pg_pool)
    assert len(counts) == 30 and set(counts.values()) == {1}
    assert runner.stats["duplicate"] == 30


async def test_trace_flows_grpc_to_event_to_kafka_to_consumer_span(
    pg_pool, pg_schema, kafka_bootstrap, unique_name
) -> None:
    exporter = InMemorySpanExporter()
    setup_telemetry("eventstore-tests", span_exporter=exporter)
    await migrate(pg_pool, pg_schema)
    store = EventStore(pg_pool, pg_schema)

    async def submit(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        result = await store.append("labels/traced", None, [NewEvent.of(StringValue(value="x"))])
        return str(result.event_ids[0]).encode()

    def add(_servicer: object, server: grpc.aio.Server) -> None:
        server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    "test.v1.Commands", {"Submit": grpc.unary_unary_rpc_method_handler(submit)}
                ),
            )
        )

    key = "trace-test-key-0123456789abcdef"
    server = GrpcServer(
        host="127.0.0.1", authenticator=Authenticator({key: {"subject": "a", "tenant_id": "t"}})
    )
    server.add_service(add, None, "test.v1.Commands")
    await server.start()
    try:
        async with channel(server.target, api_key=key) as ch:
            event_id = (await ch.unary_unary("/test.v1.Commands/Submit")(b"")).decode()
    finally:
        await server.stop(grace=0)

    client_span = next(
        s
        for s in exporter.get_finished_spans()
        if s.kind == SpanKind.CLIENT and s.name.endswith("Submit")
    )
    trace_id = client_span.context.trace_id
    stored = (await store.read_stream("labels/traced"))[0]
    assert stored.traceparent.split("-")[1] == f"{trace_id:032x}"  # gRPC → envelope

    await OutboxRelay(pg_pool, pg_schema, unique_name, kafka_bootstrap).drain()
    effects = Effects(pg_schema)
    await effects.create(pg_pool)
    runner = runner_for(kafka_bootstrap, pg_pool, pg_schema, unique_name, effects)
    await runner.start()
    try:
        await runner.run_until(lambda: runner.stats["applied"] == 1)
    finally:
        await runner.stop()
    await asyncio.sleep(0)
    consumer_spans = [
        s
        for s in exporter.get_finished_spans()
        if s.kind == SpanKind.CONSUMER
        and dict(s.attributes or {}).get("messaging.message.id") == event_id
    ]
    assert consumer_spans, "no consumer span for the event"
    assert consumer_spans[0].context.trace_id == trace_id  # Kafka header → consumer span
