"""The row schema of a dataset version: one row per accepted label, with its lineage.

A version's table is built from ``LabelAccepted`` events (qa) joined with item metadata
(curation). Geometry is kept twice on purpose: explicit columns for the common kinds (what
exporters and training code read) and the full ``labels.v1.Label`` bytes (nothing lost).
Item-level rows: an accepted item with no labels still gets one row with ``label_id`` "" and
``geometry_kind`` "none" (a negative example must not disappear from the dataset).

Relations between labels (``labels.v1.ItemLabels.relations``) are not part of a ``Label``: each
one is in the ``relations`` column of its *from* label's row (so each relation is in the
version once, and a row holds its label's outgoing relations, in submission order).

Schema versions: 1 had no ``relations`` column (relations were lost); 2 has it. Files of
schema 1 are still read (``READABLE_SCHEMA_VERSIONS``), with ``relations`` empty
(``with_relations``).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

#: Bumped when columns change meaning; written into every manifest.
SCHEMA_VERSION = 2
#: The schema versions whose files are read (1: before ``relations``, read with none).
READABLE_SCHEMA_VERSIONS = (1, 2)

#: One relation of a label to another label of its item (``labels.v1.Relation``).
RELATION = pa.struct(
    [
        pa.field("relationship_id", pa.string(), nullable=False),
        pa.field("from_label_id", pa.string(), nullable=False),
        pa.field("to_label_id", pa.string(), nullable=False),
    ]
)

GEOMETRY_KINDS = (
    "none",
    "whole_item",
    "box",
    "rotated_box",
    "polygon",
    "polyline",
    "point",
    "keypoints",
    "mask",
    "cuboid",
    "text_span",
    "video_track",
    "dicom_region",
)

SCHEMA = pa.schema(
    [
        # The item.
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("item_uri", pa.string(), nullable=False),
        pa.field("width", pa.int32(), nullable=False),  # 0 = unknown
        pa.field("height", pa.int32(), nullable=False),
        pa.field("split", pa.string(), nullable=False),  # train | val | test
        # The label.
        pa.field("task_id", pa.string(), nullable=False),
        pa.field("label_id", pa.string(), nullable=False),
        pa.field("class_id", pa.string(), nullable=False),
        pa.field("geometry_kind", pa.string(), nullable=False),
        # [x, y, width, height], COCO convention (pixels, top-left origin).
        pa.field("bbox", pa.list_(pa.float64(), 4)),
        # Flat [x1, y1, x2, y2, ...] for polygons and polylines.
        pa.field("polygon", pa.list_(pa.float64())),
        # Uncompressed COCO RLE: run lengths over the column-major mask, starting with 0s.
        pa.field("mask_counts", pa.list_(pa.uint32())),
        # Flat [x1, y1, v1, x2, y2, v2, ...], COCO visibility 0 / 1 / 2.
        pa.field("keypoints", pa.list_(pa.float64())),
        pa.field("span_start", pa.int64()),
        pa.field("span_end", pa.int64()),
        # Classification answers and attributes as canonical JSON (sorted keys).
        pa.field("answers_json", pa.string(), nullable=False),
        # The whole labels.v1.Label, serialized (deterministic).
        pa.field("label_proto", pa.binary(), nullable=False),
        # The label's relations to other labels of the version's row set (this label is their
        # from label); [] for none and for item-level rows.
        pa.field("relations", pa.list_(RELATION), nullable=False),
        # Lineage.
        pa.field("label_event_id", pa.string(), nullable=False),
        pa.field("annotators", pa.list_(pa.string()), nullable=False),
        pa.field("consensus_method", pa.string(), nullable=False),
        pa.field("consensus_score", pa.float64(), nullable=False),
        pa.field("review_decision", pa.string(), nullable=False),
        pa.field("reviewer", pa.string(), nullable=False),
        pa.field("prelabel_model", pa.string(), nullable=False),
        pa.field("prelabel_model_version", pa.string(), nullable=False),
        pa.field("ontology_id", pa.string(), nullable=False),
        # The version the class ids are in (the version's target, after migrations) and the
        # version the label was made under (lineage; equal when no migration applied).
        pa.field("ontology_version", pa.string(), nullable=False),
        pa.field("labeled_ontology_version", pa.string(), nullable=False),
        # Where in the log the row came from (the cut that includes it).
        pa.field("source_topic", pa.string(), nullable=False),
        pa.field("source_partition", pa.int32(), nullable=False),
        pa.field("source_offset", pa.int64(), nullable=False),
    ]
)

#: The order rows are written in: a version's bytes depend only on its rows, not on the
#: order they were projected in.
SORT_KEYS = ("split", "item_id", "label_id", "label_event_id")


def no_relations(n: int) -> pa.Array:
    """A ``relations`` column of ``n`` empty lists."""
    return pa.ListArray.from_arrays(
        pa.array([0] * (n + 1), pa.int32()), pa.array([], RELATION), type=pa.list_(RELATION)
    )


def with_relations(table: pa.Table) -> pa.Table:
    """``table`` with an empty ``relations`` column when it has none (a schema 1 file)."""
    if "relations" in table.column_names:
        return table
    return table.append_column(SCHEMA.field("relations"), no_relations(table.num_rows))


# --------------------------------------------------------------------------------------------
# Validation (``materialize`` conforms every table it writes)


def _kind(t: pa.DataType) -> Any:
    """The type family a column may be cast within (width, offsets, dictionary aside)."""
    if pa.types.is_dictionary(t):
        return _kind(t.value_type)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return "binary"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t):
        return "floating"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return ("list", _kind(t.value_type))
    return str(t)


def _castable(given: pa.DataType, wanted: pa.DataType) -> bool:
    """Whether ``given`` may be cast to ``wanted``: within a family, or int → float.

    Arrow would also cast e.g. ints to strings; a column of the wrong kind is a projection
    bug to surface, not to paper over. An all-null column fits any type (nullability is
    checked separately).
    """
    if pa.types.is_null(given):
        return True
    a, b = _kind(given), _kind(wanted)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return _castable(given.value_type, wanted.value_type)
    return bool(a == b or (a == "integer" and b == "floating"))


def conform(table: pa.Table) -> pa.Table:
    """``table`` with exactly ``rows.SCHEMA`` (columns reordered, types cast); else ValueError.

    Casts stay within a type family and are safe (no overflow, no truncation); extra and
    missing columns are errors, not silently dropped or null-filled: a version must hold what
    the projection meant.
    """
    if not isinstance(table, pa.Table):
        raise ValueError(f"expected a pyarrow.Table, got {type(table).__name__}")
    names = table.column_names
    dupes = sorted({n for n in names if names.count(n) > 1})
    missing = [n for n in SCHEMA.names if n not in names]
    extra = [n for n in names if n not in SCHEMA.names]
    if dupes or missing or extra:
        raise ValueError(
            f"table does not match rows.SCHEMA: missing {missing}, extra {extra}, "
            f"duplicated {dupes}"
        )
    table = table.select(SCHEMA.names)
    for field in SCHEMA:
        given = table.schema.field(field.name).type
        if not _castable(given, field.type):
            raise ValueError(f"column {field.name!r} is {given}, rows.SCHEMA has {field.type}")
    if not table.schema.equals(SCHEMA, check_metadata=True):
        try:
            # Non-null fields with nulls raise here too ("Casting field ... to non-nullable").
            table = table.cast(SCHEMA, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as e:
            raise ValueError(f"table does not conform to rows.SCHEMA: {e}") from e
    for name in SCHEMA.names:
        if not SCHEMA.field(name).nullable and table.column(name).null_count:
            raise ValueError(f"column {name!r} is not nullable but has nulls")
    # One contiguous chunk per column: the row-group slices the writer sees are then single
    # chunks whatever the caller's chunking was (page boundaries follow the chunking).
    if any(column.num_chunks != 1 for column in table.columns):
        table = table.combine_chunks()
    return table
