"""Derived events inherit the causing event's tenant and actor: the bus binds the envelope's
principal around every per-record handler (``Dispatch`` alone, and ``ConsumerRunner`` against
real Kafka + Postgres, where the handler appends through a real ``EventStore``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from labelops.curation.v1 import events_pb2 as cev
from labelops.events.v1 import envelope_pb2
from labelops_bus import ConsumerRunner, MessageContext, ensure_topics, events_topic
from labelops_bus.dispatch import EventHandlers, handles
from labelops_bus.principal import ACTOR_KIND_NAMES, acting_as_envelope, envelope_principal
from labelops_core.context import (
    DEFAULT_TENANT,
    Principal,
    current_principal,
    current_tenant,
    reset_principal,
    set_principal,
)
from labelops_core.ids import new_id
from labelops_eventstore import EventStore, NewEvent, migrate
from labelops_eventstore.events import ACTOR_KIND_NAMES as STORE_ACTOR_KIND_NAMES


def envelope(
    tenant: str = "tenant-a",
    kind: int = envelope_pb2.ACTOR_KIND_VENDOR,
    actor: str = "vendor-x/ann-1",
    event_type: str = "labelops.curation.v1.ItemRegistered",
    payload: bytes = b"",
) -> envelope_pb2.EventEnvelope:
    return envelope_pb2.EventEnvelope(
        event_id=new_id(),
        type=event_type,
        stream_id=f"items/{new_id()}",
        stream_version=1,
        tenant_id=tenant,
        actor=envelope_pb2.Actor(kind=kind, id=actor),  # type: ignore[arg-type]
        payload=payload,
        source="test",
    )


def ctx_of(env: envelope_pb2.EventEnvelope) -> MessageContext:
    return MessageContext(
        envelope=env,
        topic="t",
        partition=0,
        offset=0,
        key=None,
        value=env.SerializeToString(),
        headers={},
        timestamp=datetime.now(UTC),
        consumer="items",
        event_id=env.event_id,
    )


def test_the_actor_kind_map_is_the_event_stores() -> None:
    assert ACTOR_KIND_NAMES == STORE_ACTOR_KIND_NAMES


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        (envelope_pb2.ACTOR_KIND_USER, "user"),
        (envelope_pb2.ACTOR_KIND_VENDOR, "vendor"),
        (envelope_pb2.ACTOR_KIND_MODEL, "model"),
        (envelope_pb2.ACTOR_KIND_SERVICE, "service"),
        (envelope_pb2.ACTOR_KIND_UNSPECIFIED, "service"),
        (99, "service"),  # a newer enum value never becomes a user
    ],
)
def test_the_principal_is_the_envelopes_tenant_and_actor(kind: int, name: str) -> None:
    p = envelope_principal(envelope(kind=kind))
    assert p is not None
    assert (p.tenant_id, p.kind, p.subject, p.roles) == ("tenant-a", name, "vendor-x/ann-1", set())


def test_a_tenantless_envelope_acts_in_the_default_tenant_and_non_envelopes_bind_nothing() -> None:
    p = envelope_principal(envelope(tenant="", actor=""))
    assert p is not None and p.tenant_id == DEFAULT_TENANT and p.subject == "system"
    assert envelope_principal(b"raw") is None
    outer = Principal("someone", "tenant-z")
    token = set_principal(outer)
    try:
        with acting_as_envelope(b"raw"):
            assert current_principal() is outer
    finally:
        reset_principal(token)


def test_the_binding_is_reset_after_the_block_even_on_error() -> None:
    assert current_principal() is None
    with pytest.raises(RuntimeError), acting_as_envelope(envelope(tenant="tenant-b")):
        assert current_tenant() == "tenant-b"
        raise RuntimeError("handler failed")
    assert current_principal() is None


class Consumers(EventHandlers):
    def __init__(self) -> None:
        self.seen: list[Principal | None] = []

    @handles("items", cev.ItemRegistered, why="test")
    async def registered(self, e: cev.ItemRegistered, ctx: MessageContext, conn: Any) -> None:
        self.seen.append(current_principal())


async def test_a_dispatch_called_on_its_own_binds_each_records_principal() -> None:
    consumers = Consumers()
    dispatch = consumers.dispatchers()["items"]
    a = envelope(tenant="tenant-a", kind=envelope_pb2.ACTOR_KIND_USER, actor="alice")
    b = envelope(tenant="tenant-b", kind=envelope_pb2.ACTOR_KIND_MODEL, actor="m1")
    for env in (a, b):
        await dispatch(ctx_of(env), None)  # type: ignore[operator]
    assert [(p.tenant_id, p.kind, p.subject) for p in consumers.seen if p] == [
        ("tenant-a", "user", "alice"),
        ("tenant-b", "model", "m1"),
    ]
    assert current_principal() is None


DERIVED = "labelops.test.v1.Derived"


@pytest.mark.asyncio(loop_scope="session")
async def test_events_appended_by_a_consumer_carry_the_consumed_events_tenant_and_actor(
    kafka_bootstrap: str, pg_pool: asyncpg.Pool, pg_schema: str, unique_name: str
) -> None:
    await migrate(pg_pool, pg_schema)
    store = EventStore(pg_pool, pg_schema)
    topic = events_topic(unique_name)
    await ensure_topics(kafka_bootstrap, [topic], partitions=1)

    async def derive(ctx: MessageContext, conn: asyncpg.Connection) -> None:
        # No tenant or actor named: the store takes the bound principal's.
        await store.append(
            f"derived/{ctx.envelope.event_id}", 0, [NewEvent(DERIVED, b"")], conn=conn
        )

    consumed = [
        envelope(tenant="tenant-a", kind=envelope_pb2.ACTOR_KIND_VENDOR, actor="vendor-x/ann-1"),
        envelope(tenant="tenant-b", kind=envelope_pb2.ACTOR_KIND_USER, actor="bob"),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for env in consumed:
            await producer.send_and_wait(topic, env.SerializeToString(), key=b"k")
    finally:
        await producer.stop()

    runner = ConsumerRunner(
        bootstrap_servers=kafka_bootstrap,
        group_id=f"{unique_name}-group",
        topics=[topic],
        pool=pg_pool,
        consumer="derive",
        schema=pg_schema,
        handler=derive,
        service=unique_name,
    )
    try:
        await runner.run_until(lambda: runner.stats["applied"] == 2, timeout=60)
    finally:
        await runner.stop()
    rows = await pg_pool.fetch(
        f"SELECT stream_id, tenant_id, actor_kind, actor_id FROM {pg_schema}.events"
        " WHERE type = $1 ORDER BY position",
        DERIVED,
    )
    got = {r["stream_id"]: (r["tenant_id"], r["actor_kind"], r["actor_id"]) for r in rows}
    assert got == {
        f"derived/{consumed[0].event_id}": (
            "tenant-a",
            envelope_pb2.ACTOR_KIND_VENDOR,
            "vendor-x/ann-1",
        ),
        f"derived/{consumed[1].event_id}": ("tenant-b", envelope_pb2.ACTOR_KIND_USER, "bob"),
    }
    assert current_principal() is None
