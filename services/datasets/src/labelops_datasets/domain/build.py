"""Build a dataset version's rows from ``LabelAccepted`` events (pure, no I/O).

``build_rows`` turns accepted records (a qa ``LabelAccepted`` payload plus where it sits in the
log) into an Arrow table with exactly ``rows.SCHEMA``: one row per label, or one item-level row
(``geometry_kind`` "none") for an accepted item without labels. Labels are migrated to the
version's target ontology version first (``labelops_ontologykit.migration.MigrationPlan``), then
filtered by class; records are filtered by consensus score and review decision (``RowFilter``,
which is also what the manifest records and cache fingerprints hash, via ``to_json``).

Order of the steps for one record (each documented on ``build_rows``):

1. score / review filter: a record outside them yields nothing;
2. migration (when the target differs from the version the labels were made under);
3. class filter;
4. rows: labels left → one row each; no labels to begin with, or all dropped by migration →
   one item-level row (a negative example in the target ontology); labels left after
   migration but none of the filtered classes → no row at all.

Geometry columns (the conventions ``exports`` reads; the whole label is always in
``label_proto``):

==============  ===========================================================================
kind            columns
==============  ===========================================================================
box             bbox = [x, y, w, h]
rotated_box     bbox = the axis-aligned extent of the rotated rectangle
polygon         polygon = [x1, y1, x2, y2, ...]
polyline        polygon = [x1, y1, x2, y2, ...] (open; the kind tells it apart)
point           keypoints = [x, y, 2] (one visible COCO keypoint)
keypoints       keypoints = [x1, y1, v1, ...]
mask            mask_counts = the uncompressed RLE counts
text_span       span_start, span_end
dicom_region    bbox (box shape) or polygon (polygon shape)
whole_item      none (also a label with no geometry set: the ontology validator accepts an
                absent geometry for whole-item classes)
cuboid          none
video_track     none
==============  ===========================================================================

``answers_json`` is always ``{"answers":[...],"attributes":{...}}`` in canonical JSON (sorted
keys, compact separators, UTF-8): an unanswered label has ``{"answers":[],"attributes":{}}``,
and so does the item-level row. Each answer is ``{"classification_id": id, <kind>: value}``
with kind ``option_id`` / ``checklist`` (list of option ids) / ``text`` / ``number`` (no kind
key when the answer has no value), in the label's order; attributes map an id to its string,
int, float or bool value (null when unset). Non-finite numbers, which JSON cannot hold, are
written as the strings "NaN", "Infinity" and "-Infinity".

``relations`` (``rows.RELATION``: relationship id, from and to label id): the relations of the
submission (``ItemLabels.relations``) whose two labels both have a row, on the row of their
from label, in submission order; [] everywhere else. Relationship ids are not migrated (an
ontology migration has no rules for them); label ids survive a migration.

Decode once: the build parses each record's payload once, inside its loop, and drops the
message with the record's rows. Item metadata is not needed for that pass: ``apply_items`` joins
it afterwards, vectorized, so no earlier pass parses the payloads to learn the items. (Handing
the build messages parsed earlier, e.g. by the link, was measured slower than parsing again:
keeping 50k parsed upb messages alive costs ~0.05 s more than dropping them, parsing them
~0.03 s.)

Speed: the columns are built as ``columns`` describes (record-level values once per
record, repeated to rows with one Arrow ``take``; label-level columns as plain lists of atomic
values turned into Arrow arrays once per column). Most of what is left is protobuf field
access (every upb string read makes a new ``str``). Measured on the 2-core dev box (Python
3.11, protobuf 7.36 upb, pyarrow 26; best of 5, results vary ±10 % with other load): 100k
records of one box label each (two annotators, full lineage, item metadata for every item) in
0.83-0.92 s, i.e. ≈ 110-120k labels/s; 20k records of five boxes each ≈ 240k labels/s; with a
migration (``MigrationPlan.apply`` copies every label) ≈ 95k labels/s on the one-box records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
from google.protobuf.message import DecodeError
from labelops.labels.v1 import label_pb2
from labelops.qa.v1 import events_pb2

from labelops_datasets.domain.answers import EMPTY_ANSWERS_JSON, answers_json
from labelops_datasets.domain.columns import (
    INT32_MAX,
    NO_LABEL,
    RECORD_COLUMNS,
    ROW_COLUMNS,
    bbox_column,
    int_column,
    list_column,
    outgoing_relations,
    relations_column,
    rotated_extent,
    table_of,
)
from labelops_datasets.domain.filters import (
    CONSENSUS_METHODS,
    REVIEW_BY_VALUE,
    REVIEW_DECISIONS,
    RowFilter,
    enum_name,
)
from labelops_datasets.domain.migration_paths import Migration

__all__ = [
    "CONSENSUS_METHODS",
    "EMPTY_ANSWERS_JSON",
    "REVIEW_DECISIONS",
    "AcceptedRecord",
    "ItemMeta",
    "NoMigrationPath",
    "RowFilter",
    "answers_json",
    "apply_items",
    "build_rows",
    "decode",
    "item_id_of",
]

# --------------------------------------------------------------------------------------------
# Inputs


@dataclass(frozen=True, slots=True)
class ItemMeta:
    """What curation knows about an item: its URI and size in pixels (0 = unknown)."""

    uri: str
    width: int = 0
    height: int = 0


class AcceptedRecord(NamedTuple):
    """One ``LabelAccepted`` event as read from the log.

    A named tuple, not a
    frozen dataclass: a version builds one per label, and a frozen dataclass's constructor
    costs several times as much (measured: ~2.6 µs against ~0.3 µs).
    """

    payload: bytes  # serialized labelops.qa.v1.LabelAccepted
    event_id: str  # the envelope's event id (lineage column label_event_id)
    topic: str
    partition: int
    offset: int


class NoMigrationPath(ValueError):
    """Labels made under ``from_version`` cannot be migrated to ``to_version``."""

    def __init__(self, ontology_id: str, from_version: str, to_version: str) -> None:
        # The three values are the args, so the exception pickles and compares field-wise.
        super().__init__(ontology_id, from_version, to_version)
        self.ontology_id = ontology_id
        self.from_version = from_version
        self.to_version = to_version

    def __str__(self) -> str:
        return (
            f"no migration path for ontology {self.ontology_id!r} from version "
            f"{self.from_version!r} to {self.to_version!r}"
        )


_parse = events_pb2.LabelAccepted.FromString


def decode(rec: AcceptedRecord) -> events_pb2.LabelAccepted:
    """The record's payload as a ``LabelAccepted`` (ValueError when it is not one)."""
    try:
        return _parse(rec.payload)
    except DecodeError as e:
        raise not_accepted(rec, e) from e


def not_accepted(rec: AcceptedRecord, e: DecodeError) -> ValueError:
    return ValueError(
        f"record {rec.event_id!r} ({rec.topic}/{rec.partition}@{rec.offset}) is not a "
        f"LabelAccepted: {e}"
    )


def item_id_of(ev: events_pb2.LabelAccepted) -> str:
    """The labeled item: the event's ``item_id``, else its labels' ``item_id``."""
    return ev.item_id or ev.labels.item_id


def apply_items(table: pa.Table, items: Mapping[str, ItemMeta]) -> pa.Table:
    """``table`` (``build_rows`` with no ``items``) with the item columns of ``items``, as
    ``build_rows(..., items=items)`` would have made it: ``item_uri`` from the item's metadata,
    ``width`` / ``height`` the item's where it has one, else the submission's / mask's already
    in the table. Vectorized: one lookup per distinct item, so the build needs no pass over the
    payloads to learn the items before their metadata is read."""
    if not items or table.num_rows == 0:
        return table
    ids = table.column("item_id").combine_chunks()
    unique = pc.unique(ids)
    metas = [items.get(i) for i in unique.to_pylist()]
    index = pc.index_in(ids, value_set=unique)
    uri = pa.array([m.uri if m else "" for m in metas], pa.string()).take(index)
    # set_column with the schema's own fields: they are not-null, a bare name would not be.
    schema = table.schema
    out = table.set_column(schema.get_field_index("item_uri"), schema.field("item_uri"), uri)
    for name in ("width", "height"):
        own = pa.array([getattr(m, name) if m else 0 for m in metas], pa.int32()).take(index)
        hint = out.column(name).combine_chunks()
        size = pc.if_else(pc.greater(own, 0), own, hint)
        out = out.set_column(schema.get_field_index(name), schema.field(name), size)
    return out


# --------------------------------------------------------------------------------------------
# Which labels of a record go into the version


# --------------------------------------------------------------------------------------------
# Rows


# layout: the hot loop of every version build, kept whole: split into per-record and per-label
# methods it ran ~20 % slower (0.55 s against 0.45 s for 50k one-box records, best of 7, same
# rows); its sections are commented instead.
def build_rows(
    records: Sequence[AcceptedRecord],
    *,
    items: Mapping[str, ItemMeta],
    filter: RowFilter,
    target_ontology_version: str | None = None,
    migration: Callable[[str, str], Migration | None] | None = None,
) -> pa.Table:
    """The rows (``rows.SCHEMA``, same field order and types) of ``records`` under ``filter``.


    - Records: ``filter`` must validate (else ValueError). A record whose lineage
      ``consensus_score`` is below ``filter.min_consensus_score`` (NaN counts as below when the
      minimum is > 0), or whose review decision is not in ``filter.review_decisions`` (when
      given), yields nothing. A payload that is not a ``LabelAccepted`` raises ValueError; a
      record's ``message``, when set, is used instead of parsing its payload.
    - item: ``item_id`` is the event's, else its ``labels.item_id``. ``item_uri`` and the size
      come from ``items[item_id]`` ("" / 0 when absent); width and height each fall back to
      the submission's ``ItemContext`` (ignored outside 1..2**31-1), then to the first emitted
      mask's own size; every row of the record gets the same size.
    - Migration: when ``target_ontology_version`` is given and differs from the lineage's
      ``ontology_version``, every label goes through ``migration(from, to).apply`` (plans are
      fetched once per from-version per call); a dropped label is left out. No ``migration``
      callable, or one returning None, raises ``NoMigrationPath``. ``ontology_version`` is the
      target (or the lineage's version when there is no target); ``labeled_ontology_version``
      is always the lineage's.
    - Class filter (after migration): labels of other classes are left out. A record with no
      labels, or whose labels were all dropped by the migration, yields one item-level row
      (label_id "", class_id "", geometry_kind "none", geometry null, ``label_proto`` b"");
      a record with labels none of which is of a filtered class yields no row.
    - ``split`` = ``splits.split_column`` of the item ids with the filter's ratios and salt.
    - ``relations``: a relation is kept when both its labels are rows of the record (after
      migration and class filter), on its from label's row; one to a label left out goes too.

    - ``label_id``: the label's id, or ``#<n>`` for a label submitted without one (n = its
      position in the submission's labels, before migration and filtering): the validator
      allows empty ids, and two of them in one record would otherwise share the row key
      (``rows.SORT_KEYS``) that ``materialize`` requires to be unique. ``label_proto`` keeps
      the label as accepted (empty id). Duplicate non-empty ids are not deduplicated here.

    Rows are a function of each record alone: the same records in any order give the same
    rows (in record order; sorting is the materializer's job). Two records of the same task
    both give rows (picking the latest per task is the caller's job).
    """
    problems = filter.validate()
    if problems:
        raise ValueError(f"invalid row filter: {problems}")
    classes = frozenset(filter.classes) if filter.classes else None
    decisions = frozenset(filter.review_decisions) if filter.review_decisions else None
    min_score = float(filter.min_consensus_score)
    target = target_ontology_version
    plans: dict[str, Migration] = {}

    # Column lists, appended to through bound methods: record-level columns get one value per
    # record that yields rows, label-level columns one per row. (Plain lists of atomic values:
    # no per-row containers for the garbage collector to traverse.)
    rec_cols: list[list[Any]] = [[] for _ in RECORD_COLUMNS]
    (
        add_item_id,
        add_item_uri,
        add_width,
        add_height,
        add_task_id,
        add_event_id,
        add_method,
        add_score,
        add_decision,
        add_reviewer,
        add_model,
        add_model_version,
        add_ontology_id,
        add_version,
        add_labeled_version,
        add_topic,
        add_partition,
        add_offset,
    ) = (c.append for c in rec_cols)
    rows_per_record: list[int] = []
    annotators: list[str] = []
    annotator_counts: list[int] = []
    row_cols: list[list[Any]] = [[] for _ in ROW_COLUMNS]
    add_label_id, add_class_id, add_kind, add_answers, add_proto = (c.append for c in row_cols)
    # Geometry: the rows that have a column, and their values (flat) / lengths.
    box_rows: list[int] = []
    box_values: list[float] = []
    poly_rows: list[int] = []
    poly_lengths: list[int] = []
    poly_values: list[float] = []
    mask_rows: list[int] = []
    mask_lengths: list[int] = []
    mask_values: list[int] = []
    kp_rows: list[int] = []
    kp_lengths: list[int] = []
    kp_values: list[float] = []
    span_rows: list[int] = []
    span_starts: list[int] = []
    span_ends: list[int] = []
    # Relations: the rows (from labels) that have some, how many, and their fields (flat).
    rel_rows: list[int] = []
    rel_lengths: list[int] = []
    rel_ids: list[str] = []
    rel_from: list[str] = []
    rel_to: list[str] = []

    methods = CONSENSUS_METHODS
    parse = _parse
    reviews = REVIEW_BY_VALUE
    row = 0
    for rec in records:
        try:
            ev = parse(rec.payload)
        except DecodeError as e:
            raise not_accepted(rec, e) from e
        lin = ev.lineage
        score = lin.consensus_score
        if min_score > 0.0 and not score >= min_score:
            continue
        decision = reviews.get(lin.review_decision) or enum_name(reviews, lin.review_decision)
        if decisions is not None and decision not in decisions:
            continue
        item_labels = ev.labels
        labeled_version = lin.ontology_version
        labels = item_labels.labels
        # (position in the submission, label): the position names labels without an id.
        pairs: Iterable[tuple[int, label_pb2.Label]]
        if target is not None and target != labeled_version:
            plan = plans.get(labeled_version)
            if plan is None:
                found = migration(labeled_version, target) if migration is not None else None
                if found is None:
                    raise NoMigrationPath(lin.ontology_id, labeled_version, target)
                plan = plans[labeled_version] = found
            migrated = [(i, m) for i, m in enumerate(map(plan.apply, labels)) if m is not None]
            pairs, labeled = migrated, bool(migrated)
            version = target
        else:
            pairs, labeled = enumerate(labels), bool(labels)
            version = labeled_version
        if classes is not None and labeled:
            pairs = [(i, lb) for i, lb in pairs if lb.class_id in classes]
            if not pairs:
                continue  # labeled, but with none of this dataset's classes
        # The relations between labels that both have a row, on their from label's row.
        outgoing = None
        if item_labels.relations and labeled:
            pairs = list(pairs)
            outgoing = outgoing_relations(item_labels.relations, {lb.label_id for _, lb in pairs})

        first = row
        mask_w = mask_h = 0
        if not labeled:
            add_label_id("")
            add_class_id("")
            add_kind(NO_LABEL)
            add_answers(EMPTY_ANSWERS_JSON)
            add_proto(b"")
            row += 1
        for i, lb in pairs:
            g = lb.WhichOneof("geometry")
            if g == "box":
                b = lb.box
                box_rows.append(row)
                box_values += (b.x, b.y, b.width, b.height)
            elif g == "polygon" or g == "polyline":
                pts = lb.polygon.points if g == "polygon" else lb.polyline.points
                for p in pts:
                    poly_values += (p.x, p.y)
                poly_rows.append(row)
                poly_lengths.append(2 * len(pts))
            elif g == "mask":
                m = lb.mask
                counts = m.counts
                mask_rows.append(row)
                mask_lengths.append(len(counts))
                mask_values += counts
                if not mask_w and m.width > 0 and m.height > 0:
                    mask_w, mask_h = m.width, m.height
            elif g == "keypoints":
                kps = lb.keypoints.points
                for k in kps:
                    kp_values += (k.x, k.y, float(k.visibility))
                kp_rows.append(row)
                kp_lengths.append(3 * len(kps))
            elif g == "point":
                pt = lb.point
                kp_rows.append(row)
                kp_lengths.append(3)
                kp_values += (pt.x, pt.y, 2.0)
            elif g == "rotated_box":
                box_rows.append(row)
                box_values += rotated_extent(lb.rotated_box)
            elif g == "text_span":
                span = lb.text_span
                span_rows.append(row)
                span_starts.append(span.start)
                span_ends.append(span.end)
            elif g == "dicom_region":
                region = lb.dicom_region
                shape = region.WhichOneof("shape")
                if shape == "box":
                    b = region.box
                    box_rows.append(row)
                    box_values += (b.x, b.y, b.width, b.height)
                elif shape == "polygon":
                    pts = region.polygon.points
                    for p in pts:
                        poly_values += (p.x, p.y)
                    poly_rows.append(row)
                    poly_lengths.append(2 * len(pts))
            elif g is None:
                g = "whole_item"
            # whole_item, cuboid, video_track: no geometry columns.
            add_label_id(lb.label_id or f"#{i}")
            add_class_id(lb.class_id)
            add_kind(g)
            if lb.attributes:
                add_answers(answers_json(lb))
                add_proto(lb.SerializeToString(deterministic=True))
            else:
                add_answers(answers_json(lb) if lb.answers else EMPTY_ANSWERS_JSON)
                # Deterministic serialization only sorts map entries, and attributes is the
                # Label's only map: without attributes both give the same bytes (tested), and
                # the plain one is about twice as fast.
                add_proto(lb.SerializeToString())
            if outgoing:
                rels = outgoing.get(lb.label_id)
                if rels:
                    rel_rows.append(row)
                    rel_lengths.append(len(rels))
                    for relationship_id, from_id, to_id in rels:
                        rel_ids.append(relationship_id)
                        rel_from.append(from_id)
                        rel_to.append(to_id)
            row += 1

        item_id = ev.item_id or item_labels.item_id
        meta = items.get(item_id)
        if meta is not None:
            uri, width, height = meta.uri, meta.width, meta.height
        else:
            uri, width, height = "", 0, 0
        if not (width and height):
            ctx = item_labels.item
            # A submitted size is only a hint: out of range (a poison value) means unknown.
            cw = ctx.width if 0 < ctx.width <= INT32_MAX else 0
            ch = ctx.height if 0 < ctx.height <= INT32_MAX else 0
            width = width or cw or mask_w
            height = height or ch or mask_h
        ids = lin.annotator_ids
        annotators += ids
        annotator_counts.append(len(ids))
        add_item_id(item_id)
        add_item_uri(uri)
        add_width(width)
        add_height(height)
        add_task_id(ev.task_id)
        add_event_id(rec.event_id)
        add_method(methods.get(lin.consensus_method) or enum_name(methods, lin.consensus_method))
        add_score(score)
        add_decision(decision)
        add_reviewer(lin.reviewer)
        add_model(lin.prelabel_model)
        add_model_version(lin.prelabel_model_version)
        add_ontology_id(lin.ontology_id)
        add_version(version)
        add_labeled_version(labeled_version)
        add_topic(rec.topic)
        add_partition(rec.partition)
        add_offset(rec.offset)
        rows_per_record.append(row - first)

    return table_of(
        rec_cols,
        rows_per_record,
        annotators,
        annotator_counts,
        row_cols,
        filter,
        geometry={
            "bbox": bbox_column(row, box_rows, box_values),
            "polygon": list_column(row, poly_rows, poly_lengths, poly_values, pa.float64()),
            "mask_counts": list_column(row, mask_rows, mask_lengths, mask_values, pa.uint32()),
            "keypoints": list_column(row, kp_rows, kp_lengths, kp_values, pa.float64()),
            "span_start": int_column(row, span_rows, span_starts),
            "span_end": int_column(row, span_rows, span_ends),
            "relations": relations_column(row, rel_rows, rel_lengths, rel_ids, rel_from, rel_to),
        },
    )
