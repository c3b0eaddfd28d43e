"""Rows of a dataset version from LabelAccepted events: geometry, filters, migration, lineage.

Records are built as real ``qa.v1.LabelAccepted`` payloads; migrations are real
``MigrationPlan``s from ``compile_migration``; every table built here is checked against
``rows.SCHEMA`` and, where it matters, fed to ``materialize`` and the COCO exporter.
"""

from __future__ import annotations

import json
import math
import pickle
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from labelops.labels.v1 import label_pb2
from labelops.ontology.v1 import ontology_pb2
from labelops.qa.v1 import events_pb2, qa_pb2
from labelops_datasets.domain import build as build_module
from labelops_datasets.domain.build import (
    CONSENSUS_METHODS,
    EMPTY_ANSWERS_JSON,
    REVIEW_DECISIONS,
    AcceptedRecord,
    ItemMeta,
    NoMigrationPath,
    RowFilter,
    answers_json,
    build_rows,
)
from labelops_datasets.domain.exports import to_coco
from labelops_datasets.domain.materialize import materialize, read_version
from labelops_datasets.domain.rows import GEOMETRY_KINDS, SCHEMA, SORT_KEYS
from labelops_datasets.domain.splits import split_column, split_of
from labelops_ontologykit.migration import MigrationPlan, compile_migration

TOPIC = "labelops.qa.events.v1"
GEOMETRY_COLUMNS = ("bbox", "polygon", "mask_counts", "keypoints", "span_start", "span_end")

_offsets = iter(range(1, 10**9))


# --------------------------------------------------------------------------------------------
# Builders


def box(
    label_id: str, class_id: str, x: float = 1, y: float = 2, w: float = 3, h: float = 4
) -> label_pb2.Label:
    lb = label_pb2.Label(label_id=label_id, class_id=class_id)
    lb.box.CopyFrom(label_pb2.BoundingBox(x=x, y=y, width=w, height=h))
    return lb


def pts(*xy: float) -> list[label_pb2.Point2D]:
    return [label_pb2.Point2D(x=xy[i], y=xy[i + 1]) for i in range(0, len(xy), 2)]


def record(
    labels: Iterable[label_pb2.Label] = (),
    *,
    item_id: str = "item-1",
    task_id: str = "task-1",
    event_id: str | None = None,
    labels_item_id: str | None = None,
    item_width: int = 0,
    item_height: int = 0,
    partition: int = 0,
    offset: int | None = None,
    **lineage: Any,
) -> AcceptedRecord:
    ev = events_pb2.LabelAccepted(project_id="p", task_id=task_id, item_id=item_id)
    ev.labels.item_id = item_id if labels_item_id is None else labels_item_id
    ev.labels.item.width = item_width
    ev.labels.item.height = item_height
    ev.labels.labels.extend(labels)
    lin = {
        "annotator_ids": ["ann-b", "ann-a"],
        "consensus_method": qa_pb2.CONSENSUS_METHOD_MAJORITY_VOTE,
        "consensus_score": 0.9,
        "review_decision": qa_pb2.REVIEW_DECISION_ACCEPT,
        "reviewer": "rev-1",
        "prelabel_model": "yolo",
        "prelabel_model_version": "8",
        "ontology_id": "onto-1",
        "ontology_version": "1",
    }
    lin.update(lineage)
    ev.lineage.CopyFrom(events_pb2.Lineage(**lin))
    off = next(_offsets) if offset is None else offset
    return AcceptedRecord(
        payload=ev.SerializeToString(),
        event_id=event_id or f"ev-{off}",
        topic=TOPIC,
        partition=partition,
        offset=off,
    )


def build(
    records: Sequence[AcceptedRecord],
    *,
    items: dict[str, ItemMeta] | None = None,
    filter: RowFilter | None = None,
    **kw: Any,
) -> pa.Table:
    table = build_rows(records, items=items or {}, filter=filter or RowFilter(), **kw)
    assert table.schema.equals(SCHEMA, check_metadata=True)
    for name in SCHEMA.names:
        if not SCHEMA.field(name).nullable:
            assert table.column(name).null_count == 0, name
    return table


def rows(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()


def by_label(table: pa.Table) -> dict[str, dict[str, Any]]:
    out = {r["label_id"]: r for r in rows(table)}
    assert len(out) == table.num_rows
    return out


def sorted_rows(table: pa.Table) -> list[dict[str, Any]]:
    return sorted(rows(table), key=lambda r: tuple(r[k] for k in SORT_KEYS))


def plan(*rules: ontology_pb2.MigrationRule, src: str = "1", dst: str = "2") -> MigrationPlan:
    return compile_migration(src, dst, list(rules))


def map_class(a: str, b: str) -> ontology_pb2.MigrationRule:
    return ontology_pb2.MigrationRule(
        map_class=ontology_pb2.MapClassRule(from_class_id=a, to_class_id=b)
    )


def drop_class(c: str) -> ontology_pb2.MigrationRule:
    return ontology_pb2.MigrationRule(drop_class=ontology_pb2.DropClassRule(class_id=c))


def map_option(a: str, b: str) -> ontology_pb2.MigrationRule:
    return ontology_pb2.MigrationRule(
        map_option=ontology_pb2.MapOptionRule(from_option_id=a, to_option_id=b)
    )


def resolver(
    plans: dict[tuple[str, str], MigrationPlan], calls: list[tuple[str, str]] | None = None
) -> Callable[[str, str], MigrationPlan | None]:
    def resolve(a: str, b: str) -> MigrationPlan | None:
        if calls is not None:
            calls.append((a, b))
        return plans.get((a, b))

    return resolve


# --------------------------------------------------------------------------------------------
# Enums


def test_enum_names_cover_the_proto_enums() -> None:
    def names(enum: Any, prefix: str) -> list[tuple[int, str]]:
        out: list[tuple[int, str]] = []
        for name, value in sorted(enum.items(), key=lambda kv: kv[1]):
            short = name.removeprefix(prefix).lower()
            out.append((value, "none" if short == "unspecified" else short))
        return out

    assert list(enumerate(REVIEW_DECISIONS)) == names(qa_pb2.ReviewDecision, "REVIEW_DECISION_")
    assert sorted(CONSENSUS_METHODS.items()) == names(qa_pb2.ConsensusMethod, "CONSENSUS_METHOD_")


# --------------------------------------------------------------------------------------------
# Geometry


def all_kinds_labels() -> list[label_pb2.Label]:
    out = [box("box", "c", 10, 20, 30, 40)]
    lb = label_pb2.Label(label_id="rot0", class_id="c")
    lb.rotated_box.CopyFrom(
        label_pb2.RotatedBox(center_x=50, center_y=60, width=20, height=10, angle_degrees=0)
    )
    out.append(lb)
    lb = label_pb2.Label(label_id="rot90", class_id="c")
    lb.rotated_box.CopyFrom(
        label_pb2.RotatedBox(center_x=50, center_y=60, width=20, height=10, angle_degrees=90)
    )
    out.append(lb)
    lb = label_pb2.Label(label_id="rot45", class_id="c")
    lb.rotated_box.CopyFrom(
        label_pb2.RotatedBox(center_x=0, center_y=0, width=2, height=2, angle_degrees=-45)
    )
    out.append(lb)
    lb = label_pb2.Label(label_id="poly", class_id="c")
    lb.polygon.points.extend(pts(0, 0, 10, 0, 10, 10))
    out.append(lb)
    lb = label_pb2.Label(label_id="line", class_id="c")
    lb.polyline.points.extend(pts(1, 1, 5, 5))
    out.append(lb)
    lb = label_pb2.Label(label_id="pt", class_id="c")
    lb.point.CopyFrom(label_pb2.Point2D(x=7, y=8))
    out.append(lb)
    lb = label_pb2.Label(label_id="kp", class_id="c")
    lb.keypoints.points.extend(
        [label_pb2.Keypoint(x=1, y=2, visibility=2), label_pb2.Keypoint(x=0, y=0, visibility=0)]
    )
    out.append(lb)
    lb = label_pb2.Label(label_id="mask", class_id="c")
    lb.mask.CopyFrom(label_pb2.Mask(height=4, width=3, counts=[5, 2, 5]))
    out.append(lb)
    lb = label_pb2.Label(label_id="cub", class_id="c")
    lb.cuboid.center.x = 1
    lb.cuboid.dimensions.CopyFrom(label_pb2.Point3D(x=1, y=1, z=1))
    out.append(lb)
    lb = label_pb2.Label(label_id="span", class_id="c")
    lb.text_span.CopyFrom(label_pb2.TextSpan(start=3, end=9))
    out.append(lb)
    lb = label_pb2.Label(label_id="whole", class_id="c")
    lb.whole_item.SetInParent()
    out.append(lb)
    out.append(label_pb2.Label(label_id="nogeom", class_id="c"))
    lb = label_pb2.Label(label_id="track", class_id="c")
    lb.video_track.keyframes.add(frame=0).box.CopyFrom(label_pb2.BoundingBox(width=1, height=1))
    out.append(lb)
    lb = label_pb2.Label(label_id="dbox", class_id="c")
    lb.dicom_region.series_uid = "s"
    lb.dicom_region.box.CopyFrom(label_pb2.BoundingBox(x=1, y=1, width=2, height=2))
    out.append(lb)
    lb = label_pb2.Label(label_id="dpoly", class_id="c")
    lb.dicom_region.polygon.points.extend(pts(0, 0, 4, 0, 0, 4))
    out.append(lb)
    lb = label_pb2.Label(label_id="dnone", class_id="c")
    lb.dicom_region.series_uid = "s"
    out.append(lb)
    return out


def test_every_geometry_kind_maps_to_its_columns() -> None:
    labels = all_kinds_labels()
    table = build([record(labels)], items={"item-1": ItemMeta("s3://x/1.png", 100, 80)})
    got = by_label(table)
    expected: dict[str, tuple[str, dict[str, Any]]] = {
        "box": ("box", {"bbox": [10.0, 20.0, 30.0, 40.0]}),
        "rot0": ("rotated_box", {"bbox": [40.0, 55.0, 20.0, 10.0]}),
        "poly": ("polygon", {"polygon": [0.0, 0.0, 10.0, 0.0, 10.0, 10.0]}),
        "line": ("polyline", {"polygon": [1.0, 1.0, 5.0, 5.0]}),
        "pt": ("point", {"keypoints": [7.0, 8.0, 2.0]}),
        "kp": ("keypoints", {"keypoints": [1.0, 2.0, 2.0, 0.0, 0.0, 0.0]}),
        "mask": ("mask", {"mask_counts": [5, 2, 5]}),
        "cub": ("cuboid", {}),
        "span": ("text_span", {"span_start": 3, "span_end": 9}),
        "whole": ("whole_item", {}),
        "nogeom": ("whole_item", {}),
        "track": ("video_track", {}),
        "dbox": ("dicom_region", {"bbox": [1.0, 1.0, 2.0, 2.0]}),
        "dpoly": ("dicom_region", {"polygon": [0.0, 0.0, 4.0, 0.0, 0.0, 4.0]}),
        "dnone": ("dicom_region", {}),
    }
    for label_id, (kind, columns) in expected.items():
        row = got[label_id]
        assert row["geometry_kind"] == kind, label_id
        for col in GEOMETRY_COLUMNS:
            assert row[col] == columns.get(col), (label_id, col)
    # Rotated boxes: the axis-aligned extent of the rotated rectangle.
    assert got["rot90"]["bbox"] == pytest.approx([45.0, 50.0, 10.0, 20.0])
    s = math.sqrt(2)
    assert got["rot45"]["bbox"] == pytest.approx([-s, -s, 2 * s, 2 * s])
    # Every labeled kind of rows.GEOMETRY_KINDS is produced, and nothing else.
    kinds = {r["geometry_kind"] for r in got.values()}
    assert kinds == set(GEOMETRY_KINDS) - {"none"}
    # label_proto holds the whole label.
    for lb in labels:
        proto = got[lb.label_id]["label_proto"]
        assert label_pb2.Label.FromString(proto) == lb
        assert proto == lb.SerializeToString(deterministic=True)
    materialize(table, dataset_id="d", version=1, cut={}, filter={}, ontology={})


def test_exporter_reads_the_geometry_columns() -> None:
    """COCO export of built rows writes box, polygon, mask and keypoints without skips."""
    labels = [lb for lb in all_kinds_labels() if lb.label_id in {"box", "poly", "kp"}]
    mask = label_pb2.Label(label_id="mask", class_id="c")
    mask.mask.CopyFrom(label_pb2.Mask(height=80, width=100, counts=[10, 5, 8000 - 15]))
    table = build([record([*labels, mask])], items={"item-1": ItemMeta("s3://x/1.png", 100, 80)})
    exp = to_coco(table)
    assert exp.stats["annotations"] == 4
    assert exp.stats["skipped_by_reason"] == {}
    doc = json.loads(exp.files["annotations/all.json"])
    assert {a["bbox"][0] for a in doc["annotations"] if not a["segmentation"]} >= {10.0}


def test_item_size_fallbacks() -> None:
    mask = label_pb2.Label(label_id="m", class_id="c")
    mask.mask.CopyFrom(label_pb2.Mask(height=4, width=3, counts=[12]))
    table = build(
        [
            record([box("a", "c")], item_id="meta"),
            record([box("a", "c")], item_id="ctx", item_width=640, item_height=480),
            record([box("a", "c")], item_id="partial", item_width=640, item_height=480),
            record([box("b", "c"), mask], item_id="mask"),
            record([mask], item_id="mask-vs-ctx", item_width=10, item_height=20),
            record([box("a", "c")], item_id="nothing"),
            record([box("a", "c")], item_id="", labels_item_id="from-labels"),
        ],
        items={
            "meta": ItemMeta("s3://meta", 1920, 1080),
            "ctx": ItemMeta("s3://ctx"),
            "partial": ItemMeta("s3://partial", 100, 0),
            "from-labels": ItemMeta("s3://from-labels", 5, 6),
        },
    )
    got = {
        (r["item_id"], r["label_id"]): (r["item_uri"], r["width"], r["height"]) for r in rows(table)
    }
    assert got == {
        ("meta", "a"): ("s3://meta", 1920, 1080),
        ("ctx", "a"): ("s3://ctx", 640, 480),
        ("partial", "a"): ("s3://partial", 100, 480),
        # One size per item: a mask's size is used for all of the record's rows.
        ("mask", "b"): ("", 3, 4),
        ("mask", "m"): ("", 3, 4),
        ("mask-vs-ctx", "m"): ("", 10, 20),
        ("nothing", "a"): ("", 0, 0),
        ("from-labels", "a"): ("s3://from-labels", 5, 6),
    }


def test_labels_without_id_get_their_position() -> None:
    p = plan(drop_class("gone"))
    labels = [box("", "a"), box("gone-1", "gone"), box("", "b"), box("x", "a")]
    table = build(
        [record(labels)], target_ontology_version="2", migration=resolver({("1", "2"): p})
    )
    got = {r["label_id"]: r for r in rows(table)}
    assert sorted(got) == ["#0", "#2", "x"]
    assert label_pb2.Label.FromString(got["#2"]["label_proto"]).label_id == ""
    assert got["#2"]["class_id"] == "b"
    materialize(table, dataset_id="d", version=1, cut={}, filter={}, ontology={})


def test_out_of_range_submitted_size_is_unknown() -> None:
    table = build([record([box("a", "c")], item_width=2**40, item_height=-5)])
    (row,) = rows(table)
    assert (row["width"], row["height"]) == (0, 0)


# --------------------------------------------------------------------------------------------
# Negatives and filters


def assert_item_level(row: dict[str, Any]) -> None:
    assert row["label_id"] == ""
    assert row["class_id"] == ""
    assert row["geometry_kind"] == "none"
    for col in GEOMETRY_COLUMNS:
        assert row[col] is None
    assert row["answers_json"] == EMPTY_ANSWERS_JSON
    assert row["label_proto"] == b""


def test_item_without_labels_is_one_item_level_row() -> None:
    table = build([record([], item_id="neg")], filter=RowFilter(classes=("car",)))
    (row,) = rows(table)
    assert_item_level(row)
    assert row["item_id"] == "neg"
    assert row["annotators"] == ["ann-b", "ann-a"]
    materialize(table, dataset_id="d", version=1, cut={}, filter={}, ontology={})


def test_class_filter_leaves_out_other_classes_and_unmatched_records() -> None:
    recs = [
        record([box("a", "car"), box("b", "person")], item_id="mixed"),
        record([box("c", "person")], item_id="person-only"),
        record([], item_id="empty"),
    ]
    table = build(recs, filter=RowFilter(classes=("car", "bus")))
    got = sorted((r["item_id"], r["label_id"], r["class_id"]) for r in rows(table))
    assert got == [("empty", "", ""), ("mixed", "a", "car")]
    everything = build(recs)
    assert everything.num_rows == 4


def test_min_score_leaves_out_whole_records() -> None:
    recs = [
        record([box("a", "c")], item_id="low", consensus_score=0.4),
        record([box("a", "c")], item_id="edge", consensus_score=0.5),
        record([box("a", "c")], item_id="high", consensus_score=0.95),
        record([], item_id="neg-low", consensus_score=0.1),
        record([box("a", "c")], item_id="nan", consensus_score=math.nan),
    ]
    table = build(recs, filter=RowFilter(min_consensus_score=0.5))
    assert sorted(table.column("item_id").to_pylist()) == ["edge", "high"]
    assert sorted(table.column("consensus_score").to_pylist()) == [0.5, 0.95]
    # 0 keeps every record, NaN and 0.0 scores included.
    assert build(recs).num_rows == 5


def test_review_decision_filter() -> None:
    recs = [record([box("a", "c")], item_id=f"i{v}", review_decision=v) for v in range(4)]
    table = build(recs, filter=RowFilter(review_decisions=("fix_and_accept", "none")))
    got = sorted((r["item_id"], r["review_decision"]) for r in rows(table))
    assert got == [("i0", "none"), ("i2", "fix_and_accept")]
    assert sorted(build(recs).column("review_decision").to_pylist()) == sorted(REVIEW_DECISIONS)


def test_lineage_columns() -> None:
    rec = record(
        [box("a", "c"), box("b", "c")],
        item_id="it",
        task_id="task-9",
        event_id="evt-42",
        partition=3,
        offset=1234,
        annotator_ids=["z", "a", "m"],
        consensus_method=qa_pb2.CONSENSUS_METHOD_DAWID_SKENE,
        consensus_score=0.75,
        review_decision=qa_pb2.REVIEW_DECISION_FIX_AND_ACCEPT,
        reviewer="rev",
        prelabel_model="sam",
        prelabel_model_version="2.1",
        ontology_id="onto-x",
        ontology_version="7",
    )
    for row in rows(build([rec])):
        assert {k: row[k] for k in row if k not in {"label_id", "label_proto", "bbox"}} == {
            "item_id": "it",
            "item_uri": "",
            "width": 0,
            "height": 0,
            "split": split_of("it"),
            "task_id": "task-9",
            "class_id": "c",
            "geometry_kind": "box",
            "polygon": None,
            "mask_counts": None,
            "keypoints": None,
            "span_start": None,
            "span_end": None,
            "answers_json": EMPTY_ANSWERS_JSON,
            "relations": [],
            "label_event_id": "evt-42",
            "annotators": ["z", "a", "m"],
            "consensus_method": "dawid_skene",
            "consensus_score": 0.75,
            "review_decision": "fix_and_accept",
            "reviewer": "rev",
            "prelabel_model": "sam",
            "prelabel_model_version": "2.1",
            "ontology_id": "onto-x",
            "ontology_version": "7",
            "labeled_ontology_version": "7",
            "source_topic": TOPIC,
            "source_partition": 3,
            "source_offset": 1234,
        }


def test_enum_values_this_code_does_not_know_get_a_name() -> None:
    table = build(
        [record([box("a", "c")], consensus_method=9, review_decision=7, annotator_ids=[])]
    )
    (row,) = rows(table)
    assert (row["consensus_method"], row["review_decision"]) == ("unknown_9", "unknown_7")
    assert row["annotators"] == []
    with_filter = build(
        [record([box("a", "c")], review_decision=7)], filter=RowFilter(review_decisions=("none",))
    )
    assert with_filter.num_rows == 0


def test_split_column_matches_the_splitter() -> None:
    recs = [record([box("a", "c"), box("b", "c")], item_id=f"item-{i}") for i in range(200)]
    for f in (RowFilter(), RowFilter(split_ratios=(0.5, 0.25, 0.25), split_salt="s1")):
        table = build(recs, filter=f)
        ids = table.column("item_id")
        assert (
            table.column("split").to_pylist()
            == split_column(ids, f.split_ratios, f.split_salt).to_pylist()
        )
        assert set(table.column("split").to_pylist()) == {"train", "val", "test"}


def test_two_records_of_one_task_both_give_rows() -> None:
    recs = [
        record([box("a", "c")], task_id="t", event_id="e1"),
        record([box("a", "d")], task_id="t", event_id="e2"),
    ]
    got = sorted((r["label_event_id"], r["class_id"]) for r in rows(build(recs)))
    assert got == [("e1", "c"), ("e2", "d")]


def test_empty_input_gives_an_empty_conforming_table() -> None:
    table = build([])
    assert table.num_rows == 0
    materialize(table, dataset_id="d", version=1, cut={}, filter={}, ontology={})


def test_bad_payload_and_bad_filter_raise() -> None:
    bad = AcceptedRecord(b"\xff\xff\xff", "e", TOPIC, 0, 1)
    with pytest.raises(ValueError, match="not a LabelAccepted"):
        build_rows([bad], items={}, filter=RowFilter())
    with pytest.raises(ValueError, match="invalid row filter"):
        build_rows([], items={}, filter=RowFilter(min_consensus_score=2.0))


# --------------------------------------------------------------------------------------------
# Migration


def test_migration_maps_drops_and_keeps_lineage_version() -> None:
    p = plan(map_class("car", "vehicle"), drop_class("person"), map_option("red", "crimson"))
    colored = box("a", "car")
    colored.answers.add(classification_id="color", option_id="red")
    recs = [
        record([colored, box("b", "person"), box("c", "tree")], item_id="mixed"),
        record([box("d", "person")], item_id="dropped-all"),
        record([box("e", "car")], item_id="already", ontology_version="2"),
        record([], item_id="negative"),
    ]
    calls: list[tuple[str, str]] = []
    table = build(recs, target_ontology_version="2", migration=resolver({("1", "2"): p}, calls))
    got = {(r["item_id"], r["label_id"]): r for r in rows(table)}
    assert sorted(got) == [
        ("already", "e"),
        ("dropped-all", ""),
        ("mixed", "a"),
        ("mixed", "c"),
        ("negative", ""),
    ]
    assert got[("mixed", "a")]["class_id"] == "vehicle"
    assert got[("mixed", "c")]["class_id"] == "tree"
    assert got[("already", "e")]["class_id"] == "car"  # made under the target: not migrated
    assert_item_level(got[("dropped-all", "")])
    # label_proto and answers_json are the migrated label's.
    migrated = label_pb2.Label.FromString(got[("mixed", "a")]["label_proto"])
    assert migrated.class_id == "vehicle"
    assert migrated.answers[0].option_id == "crimson"
    assert json.loads(got[("mixed", "a")]["answers_json"])["answers"] == [
        {"classification_id": "color", "option_id": "crimson"}
    ]
    for (item, _), r in got.items():
        assert r["ontology_version"] == "2"
        assert r["labeled_ontology_version"] == ("2" if item == "already" else "1")
    # One plan lookup per from-version per call.
    assert calls == [("1", "2")]


def test_class_filter_applies_after_migration() -> None:
    p = plan(map_class("car", "vehicle"), drop_class("person"))
    recs = [
        record([box("a", "car")], item_id="car"),
        record([box("b", "person")], item_id="person"),
        record([box("c", "tree")], item_id="tree"),
    ]
    migrate = resolver({("1", "2"): p})
    old_name = build(
        recs,
        filter=RowFilter(classes=("car",)),
        target_ontology_version="2",
        migration=migrate,
    )
    # "car" no longer exists after migration; the person-only item became a negative, the
    # tree-only item has labels of another class and gives nothing.
    assert [(r["item_id"], r["geometry_kind"]) for r in rows(old_name)] == [("person", "none")]
    new_name = build(
        recs,
        filter=RowFilter(classes=("vehicle",)),
        target_ontology_version="2",
        migration=migrate,
    )
    got = sorted((r["item_id"], r["class_id"]) for r in rows(new_name))
    assert got == [("car", "vehicle"), ("person", "")]


def test_several_from_versions_are_each_resolved_once() -> None:
    p12 = plan(map_class("a", "b"), src="1", dst="3")
    p23 = plan(map_class("x", "b"), src="2", dst="3")
    calls: list[tuple[str, str]] = []
    recs = [
        record([box(f"l{i}", "a"), box(f"m{i}", "x")], item_id=f"i{i}", ontology_version=v)
        for i, v in enumerate(["1", "2", "1", "2", "3"])
    ]
    table = build(
        recs,
        target_ontology_version="3",
        migration=resolver({("1", "3"): p12, ("2", "3"): p23}, calls),
    )
    assert sorted(calls) == [("1", "3"), ("2", "3")]
    got = {(r["item_id"], r["label_id"]): r["class_id"] for r in rows(table)}
    assert got[("i0", "l0")] == "b" and got[("i0", "m0")] == "x"
    assert got[("i1", "l1")] == "a" and got[("i1", "m1")] == "b"
    assert got[("i4", "l4")] == "a" and got[("i4", "m4")] == "x"


def test_no_migration_path() -> None:
    recs = [record([box("a", "c")], ontology_version="1", ontology_id="onto-9")]
    with pytest.raises(NoMigrationPath) as info:
        build_rows(
            recs,
            items={},
            filter=RowFilter(),
            target_ontology_version="5",
            migration=resolver({}),
        )
    err = info.value
    assert isinstance(err, ValueError)
    assert (err.ontology_id, err.from_version, err.to_version) == ("onto-9", "1", "5")
    assert "onto-9" in str(err) and "'1'" in str(err) and "'5'" in str(err)
    again = pickle.loads(pickle.dumps(err))
    assert (again.ontology_id, again.from_version, again.to_version) == ("onto-9", "1", "5")
    # No resolver at all: the same error; no target, or the same version: no migration needed.
    with pytest.raises(NoMigrationPath):
        build_rows(recs, items={}, filter=RowFilter(), target_ontology_version="5")
    assert build(recs, target_ontology_version="1").num_rows == 1
    assert build(recs).column("ontology_version").to_pylist() == ["1"]
    # A record that is filtered out never asks for a migration.
    low = RowFilter(min_consensus_score=0.95)
    assert build(recs, filter=low, target_ontology_version="5").num_rows == 0


# --------------------------------------------------------------------------------------------
# answers_json and label_proto


def test_answers_json_is_canonical() -> None:
    lb = box("a", "c")
    lb.answers.add(classification_id="zeta", option_id="o1")
    lb.answers.add(classification_id="alpha").checklist.option_ids.extend(["x", "b"])
    lb.answers.add(classification_id="free", text='héllo "q"')
    lb.answers.add(classification_id="num", number=2.5)
    lb.answers.add(classification_id="inf", number=math.inf)
    lb.answers.add(classification_id="unanswered")
    lb.attributes["occluded"].bool_value = True
    lb.attributes["count"].int_value = 3
    lb.attributes["ratio"].float_value = math.nan
    lb.attributes["note"].string_value = "ü"
    lb.attributes["unset"].SetInParent()
    (row,) = rows(build([record([lb])]))
    text = row["answers_json"]
    assert text == (
        '{"answers":['
        '{"classification_id":"zeta","option_id":"o1"},'
        '{"checklist":["x","b"],"classification_id":"alpha"},'
        '{"classification_id":"free","text":"héllo \\"q\\""},'
        '{"classification_id":"num","number":2.5},'
        '{"classification_id":"inf","number":"Infinity"},'
        '{"classification_id":"unanswered"}],'
        '"attributes":{"count":3,"note":"ü","occluded":true,"ratio":"NaN","unset":null}}'
    )
    assert text == answers_json(lb)
    assert answers_json(box("b", "c")) == EMPTY_ANSWERS_JSON == '{"answers":[],"attributes":{}}'
    assert json.loads(EMPTY_ANSWERS_JSON) == {"answers": [], "attributes": {}}


def test_label_proto_is_deterministic_with_and_without_attributes() -> None:
    rng = random.Random(7)
    labels = []
    for i in range(50):
        lb = box(f"l{i}", "c", rng.random(), rng.random(), rng.random(), rng.random())
        if i % 2:
            keys = [f"k{j}" for j in range(rng.randint(1, 8))]
            rng.shuffle(keys)
            for k in keys:
                lb.attributes[k].int_value = rng.randint(0, 99)
        if i % 3:
            lb.answers.add(classification_id="q", option_id=f"o{i}")
        lb.confidence = rng.random()
        labels.append(lb)
    got = by_label(build([record(labels)]))
    for lb in labels:
        assert got[lb.label_id]["label_proto"] == lb.SerializeToString(deterministic=True)


# --------------------------------------------------------------------------------------------
# Relations


def with_relations(rec: AcceptedRecord, *relations: tuple[str, str, str]) -> AcceptedRecord:
    """``rec`` whose labels carry ``relations`` ((relationship, from label, to label), in
    order), as qa's consensus passes them on."""
    ev = events_pb2.LabelAccepted.FromString(rec.payload)
    for rel, a, b in relations:
        ev.labels.relations.add(relationship_id=rel, from_label_id=a, to_label_id=b)
    return rec._replace(payload=ev.SerializeToString())


def rel(relationship_id: str, a: str, b: str) -> dict[str, str]:
    return {"relationship_id": relationship_id, "from_label_id": a, "to_label_id": b}


def test_relations_are_on_their_from_labels_row_in_order() -> None:
    rec = with_relations(
        record([box("rider", "person"), box("horse", "animal"), box("hat", "thing")]),
        ("rides", "rider", "horse"),
        ("wears", "rider", "hat"),
        ("near", "horse", "rider"),
    )
    got = by_label(build([rec, record([], item_id="negative")]))
    assert got["rider"]["relations"] == [
        rel("rides", "rider", "horse"),
        rel("wears", "rider", "hat"),
    ]
    assert got["horse"]["relations"] == [rel("near", "horse", "rider")]
    assert got["hat"]["relations"] == []
    assert got[""]["relations"] == []  # the item-level row
    # Each relation is in the version once, and materializes as it was built.
    m = materialize(build([rec]), dataset_id="d", version=1, cut={}, filter={}, ontology={})
    back = {r["label_id"]: r["relations"] for r in read_version(m.files).to_pylist()}
    assert sum(len(v) for v in back.values()) == 3
    assert back["rider"] == got["rider"]["relations"]


def test_relations_to_labels_left_out_go_with_them() -> None:
    rec = with_relations(
        record([box("a", "car"), box("b", "person"), box("c", "tree"), box("", "car")]),
        ("drives", "b", "a"),
        ("parked_by", "a", "c"),
        ("sees", "b", "c"),
        ("unnamed", "", "a"),  # names no label: the id-less label's row is "#3"
        ("ghost", "a", "nobody"),
    )
    # Class filter: "tree" is not in the dataset, so nothing points at it.
    got = by_label(build([rec], filter=RowFilter(classes=("car", "person"))))
    assert set(got) == {"a", "b", "#3"}
    assert got["b"]["relations"] == [rel("drives", "b", "a")]
    assert got["a"]["relations"] == [] and got["#3"]["relations"] == []
    # Migration: a mapped class keeps its label (and relations), a dropped one loses them.
    p = plan(map_class("car", "vehicle"), drop_class("person"))
    migrated = by_label(
        build([rec], target_ontology_version="2", migration=resolver({("1", "2"): p}))
    )
    assert set(migrated) == {"a", "c", "#3"}
    assert migrated["a"]["class_id"] == "vehicle"
    assert migrated["a"]["relations"] == [rel("parked_by", "a", "c")]
    assert migrated["c"]["relations"] == []


# --------------------------------------------------------------------------------------------
# Determinism and conformance


def random_records(seed: int, n: int = 60) -> list[AcceptedRecord]:
    rng = random.Random(seed)
    kinds = all_kinds_labels()
    out = []
    for i in range(n):
        labels = []
        for j in range(rng.choice([0, 1, 1, 2, 3])):
            lb = label_pb2.Label()
            lb.CopyFrom(rng.choice(kinds))
            lb.label_id = f"l{j}"
            lb.class_id = rng.choice(["car", "person", "tree"])
            if rng.random() < 0.3:
                lb.attributes["a"].int_value = j
            labels.append(lb)
        out.append(
            record(
                labels,
                item_id=f"item-{i % 40}",
                task_id=f"task-{i}",
                event_id=f"ev-{seed}-{i}",
                consensus_score=rng.random(),
                review_decision=rng.randrange(4),
                ontology_version=rng.choice(["1", "2"]),
                partition=rng.randrange(3),
                offset=i,
            )
        )
    return out


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), shuffle_seed=st.integers(0, 2**16))
def test_shuffled_records_give_the_same_rows(seed: int, shuffle_seed: int) -> None:
    recs = random_records(seed)
    shuffled = list(recs)
    random.Random(shuffle_seed).shuffle(shuffled)
    kw: dict[str, Any] = {
        "items": {f"item-{i}": ItemMeta(f"s3://b/{i}", 64, 48) for i in range(0, 40, 2)},
        "filter": RowFilter(classes=("car", "vehicle"), min_consensus_score=0.2),
        "target_ontology_version": "2",
        "migration": resolver({("1", "2"): plan(map_class("person", "vehicle"))}),
    }
    a, b = build(recs, **kw), build(shuffled, **kw)
    assert sorted_rows(a) == sorted_rows(b)
    da = materialize(
        a, dataset_id="d", version=1, cut={}, filter=kw["filter"].to_json(), ontology={}
    )
    db = materialize(
        b, dataset_id="d", version=1, cut={}, filter=kw["filter"].to_json(), ontology={}
    )
    assert da.files == db.files


def test_materialize_accepts_built_rows() -> None:
    recs = random_records(3, 200)
    table = build(recs, items={"item-1": ItemMeta("s3://b/1", 10, 10)})
    assert table.num_rows > 200
    out = materialize(
        table,
        dataset_id="d",
        version=1,
        cut={},
        filter=RowFilter().to_json(),
        ontology={},
    )
    assert out.manifest["row_count"] == table.num_rows


def test_build_is_pure_in_its_inputs() -> None:
    recs = random_records(11)
    payloads = [r.payload for r in recs]
    items = {"item-1": ItemMeta("u", 1, 1)}
    a = build(recs, items=items)
    b = build(recs, items=items)
    assert a.equals(b)
    assert [r.payload for r in recs] == payloads
    assert items == {"item-1": ItemMeta("u", 1, 1)}


# --------------------------------------------------------------------------------------------
# RowFilter


def test_row_filter_json_round_trip_and_normalization() -> None:
    f = RowFilter(
        classes=("person", "car"),
        min_consensus_score=0.5,
        review_decisions=("fix_and_accept", "accept"),
        split_ratios=(0.7, 0.2, 0.1),
        split_salt="salt",
    )
    assert f.classes == ("car", "person")
    assert f.review_decisions == ("accept", "fix_and_accept")
    doc = f.to_json()
    assert doc == {
        "classes": ["car", "person"],
        "min_consensus_score": 0.5,
        "review_decisions": ["accept", "fix_and_accept"],
        "split_ratios": [0.7, 0.2, 0.1],
        "split_salt": "salt",
    }
    assert json.loads(json.dumps(doc)) == doc
    assert RowFilter.from_json(doc) == f
    assert RowFilter.from_json({}) == RowFilter()
    assert RowFilter().to_json()["split_ratios"] == [0.8, 0.1, 0.1]
    assert RowFilter(classes=("b", "a")) == RowFilter(classes=("a", "b"))
    assert RowFilter().validate() == []
    assert f.validate() == []


@settings(max_examples=50, deadline=None)
@given(
    classes=st.lists(st.text(min_size=1, max_size=8), unique=True, max_size=5),
    score=st.floats(0, 1),
    decisions=st.lists(st.sampled_from(REVIEW_DECISIONS), unique=True),
    salt=st.text(max_size=8),
)
def test_row_filter_round_trip_property(
    classes: list[str], score: float, decisions: list[str], salt: str
) -> None:
    f = RowFilter(tuple(classes), score, tuple(decisions), (0.6, 0.3, 0.1), salt)
    assert f.validate() == []
    doc = json.loads(json.dumps(f.to_json()))
    assert RowFilter.from_json(doc) == f
    assert RowFilter.from_json(doc).to_json() == f.to_json()


def test_row_filter_validate_problems() -> None:
    def fields(f: RowFilter) -> list[str]:
        return [field for field, _ in f.validate()]

    assert fields(RowFilter(classes=("a", "", "a"))) == ["classes[0]", "classes"]
    assert fields(RowFilter(review_decisions=("accept", "approved"))) == ["review_decisions[1]"]
    assert fields(RowFilter(review_decisions=("accept", "accept"))) == ["review_decisions"]
    for bad in (math.nan, math.inf, -0.1, 1.5):
        assert fields(RowFilter(min_consensus_score=bad)) == ["min_consensus_score"]
    for ratios in [(0.5, 0.5, 0.5), (1.2, -0.1, -0.1), (0.5, 0.5), (math.nan, 0.5, 0.5)]:
        assert fields(RowFilter(split_ratios=ratios)) == ["split_ratios"]  # type: ignore[arg-type]
    assert fields(RowFilter(split_ratios=(1, 0, 0))) == []
    problems = dict(RowFilter(review_decisions=("approved",)).validate())
    assert "approved" in problems["review_decisions[0]"]
    assert "sum to 1" in dict(RowFilter(split_ratios=(0.5, 0.5, 0.5)).validate())["split_ratios"]


def test_row_filter_from_json_rejects_wrong_types() -> None:
    for doc in (
        {"classes": "car"},
        {"classes": [1]},
        {"min_consensus_score": "0.5"},
        {"min_consensus_score": True},
        {"split_ratios": [0.5, 0.5]},
        {"split_ratios": "0.8"},
        {"split_salt": 3},
        {"extra": 1},
    ):
        with pytest.raises(ValueError):
            RowFilter.from_json(doc)
    with pytest.raises(ValueError):
        RowFilter.from_json([])  # type: ignore[arg-type]


def test_module_has_no_io_imports() -> None:
    source = open(build_module.__file__, encoding="utf-8").read()
    for forbidden in ("import os", "import asyncio", "open(", "import socket"):
        assert forbidden not in source
