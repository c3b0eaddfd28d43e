"""What the log decides before a version is cut, without Postgres or Kafka: linking a
partition's rows (``domain.linking``), planning and fingerprinting segments
(``domain.segments``), the per-record selection and the decode-once records (``domain.build``),
the blame of a diff (``domain.diff``) and migration paths (``domain.migration_paths``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from labelops.labels.v1 import label_pb2 as L
from labelops.ontology.v1 import events_pb2 as oev
from labelops.ontology.v1 import ontology_pb2 as opb
from labelops.qa.v1 import events_pb2 as qev
from labelops.qa.v1 import qa_pb2 as qpb
from labelops_datasets.domain.build import (
    AcceptedRecord,
    ItemMeta,
    LabelSelection,
    RowFilter,
    build_rows,
    decoded_records,
    item_ids_of,
)
from labelops_datasets.domain.diff import blame
from labelops_datasets.domain.linking import PartitionLink, parse_accepted
from labelops_datasets.domain.materialize import FileEntry
from labelops_datasets.domain.migration_paths import resolver
from labelops_datasets.domain.segments import cut_json, manifest_extra, plan_segments

TOPIC = "labelops.qa.events.v1"


def accepted(
    task: str, version: str = "1.0.0", labels: tuple[str, ...] = ("cat",), **lineage: object
) -> qev.LabelAccepted:
    return qev.LabelAccepted(
        project_id="p",
        task_id=task,
        item_id=f"item-{task}",
        labels=L.ItemLabels(
            item_id=f"item-{task}",
            labels=[
                L.Label(label_id=f"{c}-1", class_id=c, whole_item=L.WholeItem()) for c in labels
            ],
        ),
        lineage=qev.Lineage(ontology_id="zoo", ontology_version=version, **lineage),  # type: ignore[arg-type]
    )


# ------------------------------------------------------------------------------- linking


def test_a_tasks_next_accepted_label_supersedes_the_one_before() -> None:
    link = PartitionLink(start=0)
    for offset, task in ((0, "a"), (1, "b"), (2, "a"), (3, "a")):
        link.add(offset, ("p", task), accepted(task))
    assert link.superseded == [(0, 2), (2, 3)]
    assert link.earlier_tasks() == []  # nothing below offset 0


def test_a_range_links_to_the_rows_its_tasks_had_before_it() -> None:
    link = PartitionLink(start=10)
    link.add(10, ("p", "a"), accepted("a"))
    link.add(11, ("p", "b"), accepted("b"))
    link.add(12, ("p", "a"), accepted("a"))
    assert sorted(link.earlier_tasks()) == [("p", "a"), ("p", "b")]
    link.before({("p", "a"): 4})  # b had no row before the range
    assert sorted(link.superseded) == [(4, 10), (10, 12)]


def test_the_first_offset_of_each_ontology_version_per_project_is_noted() -> None:
    link = PartitionLink(start=0)
    link.add(3, ("p", "a"), accepted("a", "1.0.0"))
    link.add(4, ("p", "b"), accepted("b", "2.0.0"))
    link.add(5, ("q", "c"), accepted("c", "1.0.0"))
    link.add(6, ("p", "d"), accepted("d", "1.0.0"))
    assert link.ontologies == {
        ("p", "zoo", "1.0.0"): 3,
        ("p", "zoo", "2.0.0"): 4,
        ("q", "zoo", "1.0.0"): 5,
    }


def test_a_payload_that_is_not_a_label_supersedes_nothing_and_is_left_out() -> None:
    assert parse_accepted(b"\xff\xff\xff") is None
    link = PartitionLink(start=0)
    link.add(0, ("p", "a"), accepted("a"))
    link.add(1, ("p", "a"), parse_accepted(b"\xff\xff\xff"))
    link.add(2, ("p", "a"), accepted("a"))
    assert link.bad == [1]
    assert link.superseded == [(0, 2)]


# ------------------------------------------------------------------------------ segments


def plan(**kw: object) -> list:  # type: ignore[type-arg]
    args: dict[str, object] = {
        "present": [(0, 0), (0, 1), (0, 2), (1, 0)],
        "superseded": {0: [3, 17], 1: []},
        "cut": {0: 18, 1: 5},
        "span": 8,
        "project_id": "p",
        "topic": TOPIC,
        "filter_json": RowFilter().to_json(),
        "ontology": ("zoo", "1.0.0"),
    }
    args.update(kw)
    return plan_segments(
        args.pop("present"),  # type: ignore[arg-type]
        args.pop("superseded"),  # type: ignore[arg-type]
        args.pop("cut"),  # type: ignore[arg-type]
        **args,  # type: ignore[arg-type]
    )


def test_segments_are_clipped_to_the_cut_and_carry_their_superseded_rows() -> None:
    segs = plan()
    assert [(s.partition, s.segment, s.lo, s.end, s.cut_end, s.excluded) for s in segs] == [
        (0, 0, 0, 8, 18, (3,)),
        (0, 1, 8, 16, 18, ()),
        (0, 2, 16, 18, 18, (17,)),
        (1, 0, 0, 5, 5, ()),
    ]
    # A segment at or above the cut is not part of the version.
    assert [(s.partition, s.segment) for s in plan(cut={0: 8})] == [(0, 0)]


def test_a_fingerprint_changes_only_with_what_the_segments_bytes_depend_on() -> None:
    base = {(s.partition, s.segment): s.fingerprint for s in plan()}
    assert base == {(s.partition, s.segment): s.fingerprint for s in plan()}
    # The cut moved within partition 0's last segment: only that one changes.
    moved = {(s.partition, s.segment): s.fingerprint for s in plan(cut={0: 20, 1: 5})}
    assert [k for k in base if base[k] != moved[k]] == [(0, 2)]
    # A row of segment 1 superseded below the cut.
    more = {(s.partition, s.segment): s.fingerprint for s in plan(superseded={0: [3, 9, 17]})}
    assert [k for k in base if base[k] != more[k]] == [(0, 1)]
    # Filter and ontology are part of every fingerprint.
    salted = plan(filter_json=RowFilter(split_salt="x").to_json())
    assert all(s.fingerprint != base[(s.partition, s.segment)] for s in salted)
    other = plan(ontology=("zoo", "2.0.0"))
    assert all(s.fingerprint != base[(s.partition, s.segment)] for s in other)


def test_the_manifest_lists_the_segments_that_hold_rows() -> None:
    segs = plan()
    entries = [FileEntry("0" * 64, n, 10, {}) for n in (3, 0, 1, 2)]
    extra = manifest_extra(segs, entries, topic=TOPIC, span=8, project_id="p")
    assert extra == {
        "segments": [
            {"topic": TOPIC, "partition": 0, "segment": 0},
            {"topic": TOPIC, "partition": 0, "segment": 2},
            {"topic": TOPIC, "partition": 1, "segment": 0},
        ],
        "segment_span": 8,
        "project_id": "p",
    }
    assert cut_json({1: 5, 0: 18}, TOPIC) == [
        {"topic": TOPIC, "partition": 0, "offset": 18},
        {"topic": TOPIC, "partition": 1, "offset": 5},
    ]


# ------------------------------------------------------------------ selection and decoding


def test_a_record_outside_the_filter_gives_no_row() -> None:
    select = LabelSelection(
        RowFilter(classes=("dog",), min_consensus_score=0.5, review_decisions=("accept",))
    ).select
    ok = {"consensus_score": 0.9, "review_decision": qpb.REVIEW_DECISION_ACCEPT}
    assert select(accepted("a", labels=("cat",), **ok)) is None  # none of the classes
    assert select(accepted("a", labels=("dog",), consensus_score=0.4)) is None
    assert select(accepted("a", labels=("dog",), consensus_score=0.9)) is None  # not reviewed
    chosen = select(accepted("a", labels=("cat", "dog"), **ok))
    assert chosen is not None
    pairs, labeled, version, decision = chosen
    assert [(i, lb.class_id) for i, lb in pairs] == [(1, "dog")]
    assert (labeled, version, decision) == (True, "1.0.0", "accept")
    # No labels at all: one item-level row, whatever the class filter.
    empty = select(accepted("a", labels=(), **ok))
    assert empty is not None and empty[1] is False


def test_labels_are_migrated_to_the_target_and_a_missing_path_is_an_error() -> None:
    rules = [
        opb.MigrationRule(map_class=opb.MapClassRule(from_class_id="cat", to_class_id="feline"))
    ]
    raw = oev.OntologyMigrationCreated(
        ontology_id="zoo", from_version="1.0.0", to_version="2.0.0", rules=rules
    ).SerializeToString()
    resolve = resolver([("1.0.0", "2.0.0", raw)])
    chosen = LabelSelection(RowFilter(), "2.0.0", resolve).select(accepted("a"))
    assert chosen is not None
    assert [lb.class_id for _, lb in chosen[0]] == ["feline"] and chosen[2] == "2.0.0"
    assert resolve("2.0.0", "1.0.0") is None
    from labelops_datasets.domain.build import NoMigrationPath

    with pytest.raises(NoMigrationPath):
        LabelSelection(RowFilter(), "3.0.0", resolve).select(accepted("a"))


def test_a_label_parsed_while_linking_is_not_parsed_again() -> None:
    parsed = {(0, 7): accepted("a")}
    rows = [
        {"offset": 7, "event_id": "e7", "payload": b"not parsed: the linked event is used"},
        {"offset": 8, "event_id": "e8", "payload": accepted("b").SerializeToString()},
    ]
    records = decoded_records(rows, topic=TOPIC, partition=0, parsed=parsed)
    assert parsed == {}  # handed over, not kept twice
    assert [r.message.task_id for r in records if r.message is not None] == ["a", "b"]
    assert item_ids_of(records) == ["item-a", "item-b"]
    table = build_rows(records, items={"item-a": ItemMeta("u")}, filter=RowFilter())
    assert table.column("task_id").to_pylist() == ["a", "b"]
    assert table.column("label_event_id").to_pylist() == ["e7", "e8"]
    # The same rows as from the payloads alone.
    plain = [
        AcceptedRecord(accepted("a").SerializeToString(), "e7", TOPIC, 0, 7),
        AcceptedRecord(accepted("b").SerializeToString(), "e8", TOPIC, 0, 8),
    ]
    assert build_rows(plain, items={"item-a": ItemMeta("u")}, filter=RowFilter()) == table
    with pytest.raises(ValueError, match="not a LabelAccepted"):
        decoded_records(
            [{"offset": 9, "event_id": "e9", "payload": b"\xff\xff"}],
            topic=TOPIC,
            partition=0,
            parsed={},
        )


# ---------------------------------------------------------------------------------- blame


def test_the_blame_is_every_accepted_label_of_the_task_between_the_two_cuts() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    payload = accepted(
        "a",
        annotator_ids=["x", "y"],
        consensus_method=qpb.CONSENSUS_METHOD_MAJORITY_VOTE,
        review_decision=qpb.REVIEW_DECISION_FIX_AND_ACCEPT,
        reviewer="r",
    ).SerializeToString()
    rows = [
        ("a", 0, 2, at, "e2", payload),  # below both cuts
        ("a", 0, 5, at, "e5", payload),
        ("a", 1, 1, at, "e1", payload),  # partition 1 did not move
        ("b", 0, 9, at, "e9", payload),  # at the newer cut: not in it
    ]
    out = blame(rows, {0: 4, 1: 3}, {0: 9, 1: 3}, TOPIC)
    assert list(out) == ["a"]
    [event] = out["a"]
    assert (event.event_id, event.partition, event.offset, event.topic) == ("e5", 0, 5, TOPIC)
    assert (event.consensus_method, event.review_decision, event.reviewer) == (
        "majority_vote",
        "fix_and_accept",
        "r",
    )
    assert list(event.annotator_ids) == ["x", "y"]
    assert event.time.ToDatetime(tzinfo=UTC) == at
