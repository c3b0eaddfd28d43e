"""The row schema of a dataset version: one row per accepted label, with its lineage.

A version's table is built from ``LabelAccepted`` events (qa) joined with item metadata
(curation). Geometry is kept twice on purpose: explicit columns for the common kinds (what
exporters and training code read) and the full ``labels.v1.Label`` bytes (nothing lost).
Item-level rows: an accepted item with no labels still gets one row with ``label_id`` "" and
``geometry_kind`` "none" (a negative example must not disappear from the dataset).
"""

from __future__ import annotations

import pyarrow as pa

#: Bumped when columns change meaning; written into every manifest.
SCHEMA_VERSION = 1

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
