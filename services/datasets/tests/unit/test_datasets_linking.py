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
    RowFilter,
    apply_items,
    build_rows,
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


def _rows(filter: RowFilter, *events: qev.LabelAccepted, **kw: object) -> list[dict]:
    records = [
        AcceptedRecord(e.SerializeToString(), f"e{i}", TOPIC, 0, i) for i, e in enumerate(events)
    ]
    items = {e.item_id: ItemMeta("u") for e in events}
    return build_rows(records, items=items, filter=filter, **kw).to_pylist()  # type: ignore[arg-type]


def test_a_record_outside_the_filter_gives_no_row() -> None:
    f = RowFilter(classes=("dog",), min_consensus_score=0.5, review_decisions=("accept",))
    ok = {"consensus_score": 0.9, "review_decision": qpb.REVIEW_DECISION_ACCEPT}
    assert _rows(f, accepted("a", labels=("cat",), **ok)) == []  # none of the classes
    assert _rows(f, accepted("a", labels=("dog",), consensus_score=0.4)) == []
    assert _rows(f, accepted("a", labels=("dog",), consensus_score=0.9)) == []  # not reviewed
    [row] = _rows(f, accepted("a", labels=("cat", "dog"), **ok))
    assert (row["label_id"], row["class_id"], row["ontology_version"]) == ("dog-1", "dog", "1.0.0")
    assert row["review_decision"] == "accept"
    # No labels at all: one item-level row, whatever the class filter.
    [empty] = _rows(f, accepted("a", labels=(), **ok))
    assert (empty["geometry_kind"], empty["class_id"]) == ("none", "")


def test_labels_are_migrated_to_the_target_and_a_missing_path_is_an_error() -> None:
    rules = [
        opb.MigrationRule(map_class=opb.MapClassRule(from_class_id="cat", to_class_id="feline"))
    ]
    raw = oev.OntologyMigrationCreated(
        ontology_id="zoo", from_version="1.0.0", to_version="2.0.0", rules=rules
    ).SerializeToString()
    resolve = resolver([("1.0.0", "2.0.0", raw)])
    [row] = _rows(RowFilter(), accepted("a"), target_ontology_version="2.0.0", migration=resolve)
    assert (row["class_id"], row["ontology_version"]) == ("feline", "2.0.0")
    assert row["labeled_ontology_version"] == "1.0.0"
    assert resolve("2.0.0", "1.0.0") is None
    from labelops_datasets.domain.build import NoMigrationPath

    with pytest.raises(NoMigrationPath):
        _rows(RowFilter(), accepted("a"), target_ontology_version="3.0.0", migration=resolve)


def test_item_metadata_joined_after_the_build_gives_the_same_rows() -> None:
    # The service builds rows without item metadata (each payload parsed once, in the build),
    # then joins the items the rows name: the same table as building with the metadata.
    sized = accepted("c")
    sized.labels.item.width, sized.labels.item.height = 800, 600
    masked = accepted("d", labels=())
    masked.labels.labels.add(
        label_id="m", class_id="cat", mask=L.Mask(width=32, height=16, counts=[3, 5])
    )
    events = [accepted("a"), accepted("b"), sized, masked, accepted("a")]
    records = [
        AcceptedRecord(e.SerializeToString(), f"e{i}", TOPIC, 0, i) for i, e in enumerate(events)
    ]
    items = {
        "item-a": ItemMeta("s3://a", 640, 480),
        "item-b": ItemMeta("s3://b"),  # no size: the submission's or the mask's, if any
        "item-c": ItemMeta("s3://c", 1024, 0),  # width only: height from the submission
        "item-d": ItemMeta("s3://d"),
    }
    joined = apply_items(build_rows(records, items={}, filter=RowFilter()), items)
    direct = build_rows(records, items=items, filter=RowFilter())
    assert joined.equals(direct)
    assert joined.column("item_uri").to_pylist() == [
        "s3://a",
        "s3://b",
        "s3://c",
        "s3://d",
        "s3://a",
    ]
    assert joined.column("width").to_pylist() == [640, 0, 1024, 32, 640]
    assert joined.column("height").to_pylist() == [480, 0, 600, 16, 480]
    # An item without metadata keeps what the submission says (the service refuses to build
    # such a version: ITEM_METADATA_MISSING).
    partial = apply_items(
        build_rows(records, items={}, filter=RowFilter()), {"item-a": items["item-a"]}
    )
    assert partial.equals(
        build_rows(records, items={"item-a": items["item-a"]}, filter=RowFilter())
    )
    with pytest.raises(ValueError, match="not a LabelAccepted"):
        build_rows([AcceptedRecord(b"\xff\xff", "e9", TOPIC, 0, 9)], items={}, filter=RowFilter())


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


def test_two_tenants_tasks_of_the_same_ids_never_supersede_each_other() -> None:
    link = PartitionLink(0)
    link.add(0, ("acme", "p", "t"), accepted("t", "1.0.0"))
    link.add(1, ("globex", "p", "t"), accepted("t", "2.0.0"))  # "the same" project and task
    link.add(2, ("acme", "p", "t"), accepted("t", "1.0.0"))
    assert link.superseded == [(0, 2)]
    assert link.ontologies == {
        ("acme", "p", "zoo", "1.0.0"): 0,
        ("globex", "p", "zoo", "2.0.0"): 1,
    }
