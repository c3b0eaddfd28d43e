"""build_service end to end on real Postgres and Kafka: a toy service on the scaffold."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import grpc
from aiokafka import AIOKafkaProducer
from grpc_health.v1 import health_pb2, health_pb2_grpc
from labelops.curation.v1 import events_pb2 as cev
from labelops.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from labelops.events.v1 import envelope_pb2
from labelops_bus import MessageContext, ensure_topics
from labelops_bus.dispatch import EventHandlers, handles
from labelops_grpckit import Authenticator, Worker, channel
from labelops_servicekit import (
    Port,
    ServiceContext,
    ServiceName,
    ServiceSettings,
    Wiring,
    build_service,
    service_config,
)
from labelops_servicekit.main import probe_health
from labelops_testkit.waiting import eventually

KEY = "toy-key"


class ToySettings(ServiceSettings):
    model_config = service_config("toy")
    service_name: ServiceName = "toy"
    port: Port = 0
    migrations_dir: Path = Path(__file__).parent / "toy_migrations"


class ToyConsumers(EventHandlers):
    def __init__(self, schema: str) -> None:
        self.t = f'"{schema}".seen'

    @handles("items", cev.ItemRegistered, why="the toy remembers items")
    async def registered(
        self, e: cev.ItemRegistered, ctx: MessageContext, conn: asyncpg.Connection
    ) -> None:
        await conn.execute(f"INSERT INTO {self.t} VALUES ($1, $2)", ctx.event_id, e.item_id)


@dataclass
class Parts:
    ticks: list[int] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)


def toy_wire(ctx: ServiceContext[ToySettings]) -> Wiring[Parts]:
    parts = Parts()
    stop = asyncio.Event()

    async def tick() -> None:
        stop.clear()
        while not stop.is_set():
            parts.ticks.append(1)
            await asyncio.sleep(0.05)

    async def halt() -> None:
        stop.set()

    async def close() -> None:
        parts.closed.append("closed")

    return Wiring(
        parts=parts,
        servicers=[],
        consumers=ToyConsumers(ctx.settings.db_schema),
        workers=[Worker("ticker", tick, halt)],
        closers=[close],
    )


def envelope(message: Any, event_id: str) -> bytes:
    return envelope_pb2.EventEnvelope(
        event_id=event_id, type=message.DESCRIPTOR.full_name, payload=message.SerializeToString()
    ).SerializeToString()


async def test_a_service_on_the_scaffold_serves_consumes_and_stops(
    pg_pool: Any, pg_schema: str, kafka_bootstrap: str, unique_name: str
) -> None:
    topic = f"{unique_name}.curation"
    settings = ToySettings(
        db_schema=pg_schema,
        service_name=unique_name,
        kafka_bootstrap=kafka_bootstrap,
        curation_topic=topic,
        host="127.0.0.1",
        grace_period_s=0.5,
    )
    auth = Authenticator({KEY: {"subject": "t", "tenant_id": "acme", "roles": ["admin"]}})
    async with build_service(settings, toy_wire, pool=pg_pool, authenticator=auth) as app:
        # Health and the event log are mounted by the kit.
        async with channel(app.target, api_key=KEY) as ch:
            health = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest())
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            log = eventlog_pb2_grpc.EventLogServiceStub(ch)
            assert list((await log.ListEvents(eventlog_pb2.ListEventsRequest())).events) == []
        async with channel(app.target) as anonymous:
            try:
                await eventlog_pb2_grpc.EventLogServiceStub(anonymous).ListEvents(
                    eventlog_pb2.ListEventsRequest()
                )
                raise AssertionError("the event log answered without credentials")
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.UNAUTHENTICATED
        # The consumer of the dispatch table reads the producer's topic, skips other types and
        # applies a redelivered event once.
        await ensure_topics(kafka_bootstrap, [topic], 3)
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            for value in (
                envelope(cev.DatasetCreated(dataset_id="d"), "e0"),
                envelope(cev.ItemRegistered(item_id="i1"), "e1"),
                envelope(cev.ItemRegistered(item_id="i1"), "e1"),
                envelope(cev.ItemRegistered(item_id="i2"), "e2"),
            ):
                await producer.send_and_wait(topic, value, key=b"datasets/d")
        finally:
            await producer.stop()

        async def both() -> list[Any]:
            rows = await pg_pool.fetch(f'SELECT * FROM "{pg_schema}".seen ORDER BY item_id')
            return rows if len(rows) == 2 else []

        rows = await eventually(both, timeout=60)
        assert [(r["event_id"], r["item_id"]) for r in rows] == [("e1", "i1"), ("e2", "i2")]
        assert app.parts.ticks  # the service's own worker runs under the runtime
        assert app.parts.closed == []
        # What the container HEALTHCHECK (`python -m labelops_<x> --health`) asks.
        assert await asyncio.to_thread(probe_health, app.port)
    assert app.parts.closed == ["closed"]
    assert not await asyncio.to_thread(probe_health, app.port, 1.0)
    ticks = len(app.parts.ticks)
    await asyncio.sleep(0.2)
    assert len(app.parts.ticks) == ticks  # stopped with the service


async def test_every_denial_is_audited_and_chained(pg_pool: Any, pg_schema: str) -> None:
    """The scaffold writes the audit log: a refused call lands in ``audit_log`` with the
    caller, its tenant, the method and the outcome, and the chain worker links it (verify
    finds nothing wrong)."""
    from labelops_eventstore import verify

    settings = ToySettings(
        db_schema=pg_schema,
        host="127.0.0.1",
        grace_period_s=0.5,
        relay_enabled=False,
        consumers_enabled=False,
        chain_interval_s=0.1,
    )
    vendor = "toy-vendor-key"
    auth = Authenticator(
        {vendor: {"subject": "vx", "tenant_id": "acme", "kind": "vendor", "vendor_id": "vx"}}
    )
    list_events = "/labelops.eventlog.v1.EventLogService/ListEvents"
    async with build_service(settings, toy_wire, pool=pg_pool, authenticator=auth) as app:
        async with channel(app.target, api_key=vendor) as ch:
            try:
                await eventlog_pb2_grpc.EventLogServiceStub(ch).ListEvents(
                    eventlog_pb2.ListEventsRequest()
                )
                raise AssertionError("a vendor read the event log")
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.PERMISSION_DENIED

        async def chained() -> Any:
            return await pg_pool.fetchrow(
                f'SELECT * FROM "{pg_schema}".audit_log WHERE method = $1 AND hash IS NOT NULL',
                list_events,
            )

        row = await eventually(chained, timeout=20)
    assert (row["tenant_id"], row["actor_kind"], row["actor_id"]) == ("acme", "vendor", "vx")
    assert row["outcome"] != "ok" and row["code"] == "PERMISSION_DENIED"
    assert row["action"] == "events.read" and row["seq"] == 1
    async with pg_pool.acquire() as conn:
        assert await verify(conn, pg_schema) == []
