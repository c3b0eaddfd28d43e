"""Dispatch tables (``labelops_bus.dispatch``) without Kafka or Postgres."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from labelops.curation.v1 import events_pb2 as cev
from labelops.events.v1 import envelope_pb2
from labelops.qa.v1 import events_pb2 as qev
from labelops_bus import BatchRecord, MessageContext, PoisonMessage
from labelops_bus.dispatch import (
    BatchDispatch,
    Dispatch,
    EventHandlers,
    handled_events,
    handles,
    producer_of,
)


class Consumers(EventHandlers):
    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    @handles("items", cev.ItemRegistered, why="items become tasks")
    async def registered(self, e: cev.ItemRegistered, ctx: MessageContext, conn: Any) -> None:
        self.seen.append(("registered", e.item_id))

    @handles("items", cev.ItemsCurated, why="exclusions cancel tasks")
    async def curated(self, e: cev.ItemsCurated, ctx: MessageContext, conn: Any) -> None:
        self.seen.append(("curated", list(e.item_ids)))

    @handles("accepted", qev.LabelAccepted, why="rows of versions", batch=True, decode=False)
    async def accepted(self, items: list[tuple[Any, BatchRecord]], conn: Any) -> None:
        self.seen.append(("accepted", [env.event_id for env, _ in items]))

    @handles("accepted", qev.LabelRejected, why="rejections", batch=True)
    async def rejected(self, items: list[tuple[Any, BatchRecord]], conn: Any) -> None:
        self.seen.append(("rejected", [e.task_id for e, _ in items]))


def envelope(message: Any, event_id: str) -> envelope_pb2.EventEnvelope:
    return envelope_pb2.EventEnvelope(
        event_id=event_id, type=message.DESCRIPTOR.full_name, payload=message.SerializeToString()
    )


def ctx(env: envelope_pb2.EventEnvelope) -> MessageContext:
    return MessageContext(
        envelope=env,
        topic="t",
        partition=0,
        offset=1,
        key=None,
        value=env.SerializeToString(),
        headers={},
        timestamp=datetime.now(UTC),
        consumer="items",
        event_id=env.event_id,
    )


def record(env: envelope_pb2.EventEnvelope, offset: int) -> ConsumerRecord:
    value = env.SerializeToString()
    return ConsumerRecord("t", 0, offset, 0, 0, None, value, None, 0, len(value), ())


def batch_record(raw: ConsumerRecord, decoded: Any) -> BatchRecord:
    return BatchRecord(decoded, raw.topic, raw.partition, raw.offset, datetime.now(UTC), None)


def test_the_table_names_every_row_with_its_producer_and_why() -> None:
    rows = {(r.consumer, r.type_name): r for r in handled_events(Consumers)}
    assert set(rows) == {
        ("items", "labelops.curation.v1.ItemRegistered"),
        ("items", "labelops.curation.v1.ItemsCurated"),
        ("accepted", "labelops.qa.v1.LabelAccepted"),
        ("accepted", "labelops.qa.v1.LabelRejected"),
    }
    assert rows[("items", "labelops.curation.v1.ItemsCurated")].producer == "curation"
    assert rows[("items", "labelops.curation.v1.ItemsCurated")].why == "exclusions cancel tasks"
    assert producer_of("labelops.qa.v1.LabelAccepted") == "qa"
    with pytest.raises(ValueError):
        producer_of("google.protobuf.Empty")


async def test_dispatch_routes_by_type_and_skips_other_events() -> None:
    c = Consumers()
    d = c.dispatchers()["items"]
    assert isinstance(d, Dispatch) and d.producer == "curation"
    await d(ctx(envelope(cev.ItemRegistered(item_id="i1"), "e1")), None)  # type: ignore[arg-type]
    await d(ctx(envelope(cev.ItemsCurated(item_ids=["i1", "i2"]), "e2")), None)  # type: ignore[arg-type]
    await d(ctx(envelope(cev.DatasetCreated(dataset_id="d"), "e3")), None)  # type: ignore[arg-type]
    assert c.seen == [("registered", "i1"), ("curated", ["i1", "i2"])]


async def test_a_payload_that_does_not_parse_is_poison() -> None:
    d = Consumers().dispatchers()["items"]
    bad = envelope_pb2.EventEnvelope(
        event_id="e1", type=cev.ItemRegistered.DESCRIPTOR.full_name, payload=b"\xff\xff\xff"
    )
    with pytest.raises(PoisonMessage):
        await d(ctx(bad), None)  # type: ignore[arg-type]


async def test_batch_dispatch_keeps_log_order_in_runs_of_one_type() -> None:
    c = Consumers()
    d = c.dispatchers()["accepted"]
    assert isinstance(d, BatchDispatch) and d.producer == "qa"
    envs = [
        envelope(qev.LabelAccepted(task_id="t1"), "a1"),
        envelope(qev.LabelAccepted(task_id="t2"), "a2"),
        envelope(qev.LabelRejected(task_id="t3"), "r1"),
        envelope(qev.GoldScored(), "g1"),  # not in the table: dropped
        envelope(qev.LabelAccepted(task_id="t4"), "a3"),
    ]
    raws = [record(e, i) for i, e in enumerate(envs)]
    records = [batch_record(r, d.decode(r)) for r in raws]
    groups = d.prepare(records)
    await d(groups, None)  # type: ignore[arg-type]
    assert c.seen == [("accepted", ["a1", "a2"]), ("rejected", ["t3"]), ("accepted", ["a3"])]


def test_batch_decode_dead_letters_one_bad_record_alone() -> None:
    d = Consumers().dispatchers()["accepted"]
    bad = envelope_pb2.EventEnvelope(
        event_id="r1", type=qev.LabelRejected.DESCRIPTOR.full_name, payload=b"\xff\xff"
    )
    with pytest.raises(PoisonMessage):
        d.decode(record(bad, 0))  # type: ignore[union-attr]
    # decode=False rows are not parsed at all: their payload is the handler's business.
    raw = envelope_pb2.EventEnvelope(
        event_id="a1", type=qev.LabelAccepted.DESCRIPTOR.full_name, payload=b"\xff\xff"
    )
    assert d.decode(record(raw, 1)).event is None  # type: ignore[union-attr]


def test_a_consumer_reads_one_producer_and_one_kind() -> None:
    with pytest.raises(TypeError, match="reads curation's topic"):

        class Mixed(EventHandlers):
            @handles("c", cev.ItemRegistered, why="x")
            async def a(self, e: Any, ctx: Any, conn: Any) -> None: ...

            @handles("c", qev.LabelAccepted, why="y")
            async def b(self, e: Any, ctx: Any, conn: Any) -> None: ...

        Mixed.table()
    with pytest.raises(TypeError, match="handled twice"):

        class Twice(EventHandlers):
            @handles("c", cev.ItemRegistered, why="x")
            async def a(self, e: Any, ctx: Any, conn: Any) -> None: ...

            @handles("c", cev.ItemRegistered, why="y")
            async def b(self, e: Any, ctx: Any, conn: Any) -> None: ...

        Twice.table()
