"""The datasets service's dispatch table and its accepted-labels path, without Kafka or
Postgres: records in → the rows the projection appends (built off the transaction)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from labelops.curation.v1 import events_pb2 as cev
from labelops.events.v1 import envelope_pb2
from labelops.qa.v1 import events_pb2 as qev
from labelops_bus import BatchRecord, PoisonMessage
from labelops_bus.dispatch import BatchDispatch, handled_events
from labelops_datasets.adapters.accepted import AcceptedLog
from labelops_datasets.adapters.catalog import Catalog
from labelops_datasets.adapters.tables import Tables
from labelops_datasets.application.projection import (
    CURATION_CONSUMER,
    ONTOLOGY_CONSUMER,
    QA_CONSUMER,
    Projection,
    QaBatch,
)
from labelops_datasets.entrypoints.consumers import DatasetsConsumers

TOPIC = "qa-in"
AT = datetime(2026, 1, 1, tzinfo=UTC)


def consumers(span: int = 10) -> DatasetsConsumers:
    tables = Tables.of("ds")
    return DatasetsConsumers(
        Projection(AcceptedLog(tables, "ds"), Catalog(tables), segment_span=span, qa_topic=TOPIC)
    )


def record(
    message: Any, stream_id: str, offset: int, payload: bytes | None = None, tenant: str = "a"
) -> Any:
    env = envelope_pb2.EventEnvelope(
        event_id=f"e{offset}",
        tenant_id=tenant,
        type=message.DESCRIPTOR.full_name,
        stream_id=stream_id,
        payload=message.SerializeToString() if payload is None else payload,
    )
    value = env.SerializeToString()
    return ConsumerRecord(TOPIC, 1, offset, 0, 0, None, value, None, 0, len(value), ())


def run(d: BatchDispatch, raws: list[Any]) -> list[Any]:
    batch = [BatchRecord(d.decode(r), r.topic, r.partition, r.offset, AT, r.key) for r in raws]
    return d.prepare(batch)


def test_the_table_names_the_three_projections_and_what_they_read() -> None:
    rows = {(r.consumer, r.type_name): r for r in handled_events(DatasetsConsumers)}
    assert set(rows) == {
        (QA_CONSUMER, "labelops.qa.v1.LabelAccepted"),
        (CURATION_CONSUMER, "labelops.curation.v1.ItemRegistered"),
        (ONTOLOGY_CONSUMER, "labelops.ontology.v1.OntologyVersionPublished"),
        (ONTOLOGY_CONSUMER, "labelops.ontology.v1.OntologyMigrationCreated"),
    }
    assert all(r.batch for r in rows.values())
    assert not rows[(QA_CONSUMER, "labelops.qa.v1.LabelAccepted")].decode
    assert {d.producer for d in consumers().dispatchers().values()} == {
        "qa",
        "curation",
        "ontology",
    }


def test_accepted_labels_become_rows_before_the_transaction() -> None:
    d = consumers(span=10).dispatchers()[QA_CONSUMER]
    assert isinstance(d, BatchDispatch)
    accepted = qev.LabelAccepted(project_id="p", task_id="t1")
    elsewhere = qev.LabelAccepted(project_id="q", task_id="t2")
    groups = run(
        d,
        [
            record(accepted, "projects/p/tasks/t1", 8),
            # Tenant b's task of "the same" project: its own rows and segments.
            record(accepted, "projects/p/tasks/t1", 10, tenant="b"),
            # An envelope without a tenant (an old producer): the default tenant's.
            record(accepted, "projects/p/tasks/t9", 11, tenant=""),
            record(qev.ReviewRequested(task_id="t1"), "projects/p/tasks/t1", 9),  # not projected
            # Not on a task stream: the ids come from the event itself.
            record(elsewhere, "somewhere/else", 12),
            # Stored as it is; the link leaves it out of every version.
            record(accepted, "projects/p/tasks/t3", 13, payload=b"\xff\xff"),
        ],
    )
    # Types the table does not name are dropped: one run, prepared into one batch.
    [group] = groups
    batch = group.items
    assert isinstance(batch, QaBatch)
    rows = batch.rows
    assert [(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[8]) for r in rows] == [
        (TOPIC, 1, 8, AT, "e8", "p", "t1", "a"),
        (TOPIC, 1, 10, AT, "e10", "p", "t1", "b"),
        (TOPIC, 1, 11, AT, "e11", "p", "t9", "default"),
        (TOPIC, 1, 12, AT, "e12", "q", "t2", "a"),
        (TOPIC, 1, 13, AT, "e13", "p", "t3", "a"),
    ]
    assert rows[0][7] == accepted.SerializeToString() and rows[4][7] == b"\xff\xff"
    assert batch.segments == {
        ("a", "p", 1, 0),
        ("b", "p", 1, 1),
        ("default", "p", 1, 1),
        ("a", "q", 1, 1),
        ("a", "p", 1, 1),
    }


def test_an_item_registration_that_does_not_parse_is_dead_lettered_alone() -> None:
    d = consumers().dispatchers()[CURATION_CONSUMER]
    assert isinstance(d, BatchDispatch)
    bad = record(cev.ItemRegistered(item_id="i"), "datasets/raw/items/i", 0, payload=b"\xff\xff")
    with pytest.raises(PoisonMessage):
        d.decode(bad)
    [group] = run(d, [record(cev.ItemRegistered(item_id="i"), "datasets/raw/items/i", 1)])
    assert [e.item_id for e, _ in group.items] == ["i"]
