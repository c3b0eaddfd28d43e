"""The columns of a version's rows as they are built, and the Arrow table they become (pure).

``Columns`` is what ``build.build_rows`` appends to. Record-level columns (item, lineage, log
position, split) get one value per record that yields rows and are repeated to rows with one
Arrow ``take``; label-level columns are plain Python lists of atomic values (nothing per row
for the garbage collector to traverse) turned into Arrow arrays once per column, list columns
from flat values + offsets + a validity mask scattered with NumPy. See ``build`` for the
geometry columns each kind fills.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
from labelops.labels.v1 import label_pb2

from labelops_datasets.domain.answers import EMPTY_ANSWERS_JSON, answers_json
from labelops_datasets.domain.filters import CONSENSUS_METHODS, RowFilter, enum_name
from labelops_datasets.domain.rows import SCHEMA
from labelops_datasets.domain.splits import split_column

#: geometry_kind of the item-level row of an item without labels (see ``rows``).
NO_LABEL = "none"


def _rotated_extent(r: label_pb2.RotatedBox) -> list[float]:
    """[x, y, w, h] of the axis-aligned box around a rotated rectangle."""
    theta = math.radians(r.angle_degrees)
    c, s = abs(math.cos(theta)), abs(math.sin(theta))
    w = r.width * c + r.height * s
    h = r.width * s + r.height * c
    return [r.center_x - w / 2.0, r.center_y - h / 2.0, w, h]


# --------------------------------------------------------------------------------------------
# Arrow helpers: columns are assembled from flat values of the rows that have them, their row
# indices and lengths (NumPy scatters them), never from per-row Python lists of lists.


INT32_MAX = (1 << 31) - 1


def _offsets(lengths: Any) -> pa.Array:
    """Arrow list offsets (int32) from per-row lengths; ValueError past int32's range."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] > INT32_MAX:
        raise ValueError(
            f"{offsets[-1]} list values do not fit one Arrow list column (int32 offsets): "
            "build fewer records per call"
        )
    return pa.array(offsets.astype(np.int32), pa.int32())


def _nulls(n: int, present: list[int]) -> np.ndarray | None:
    """Arrow's ``mask`` (True = null) for ``n`` rows of which ``present`` have a value."""
    if len(present) == n:
        return None
    mask = np.ones(n, dtype=np.bool_)
    mask[present] = False
    return mask


def _arrow_mask(mask: np.ndarray | None) -> pa.Array | None:
    return None if mask is None else pa.array(mask, pa.bool_())


def _list_column(
    n: int, present: list[int], lengths: list[int], values: list[Any], value_type: pa.DataType
) -> pa.Array:
    """A list column of ``n`` rows: row ``present[i]`` holds the next ``lengths[i]`` values."""
    full = np.zeros(n, dtype=np.int64)
    full[present] = lengths
    return pa.ListArray.from_arrays(
        _offsets(full),
        pa.array(values, value_type),
        type=pa.list_(value_type),
        mask=_arrow_mask(_nulls(n, present)),
    )


def _bbox_column(n: int, present: list[int], values: list[float]) -> pa.Array:
    full = np.zeros((n, 4), dtype=np.float64)
    full[present] = np.asarray(values, dtype=np.float64).reshape(-1, 4)
    return pa.FixedSizeListArray.from_arrays(
        pa.array(full.reshape(-1), pa.float64()),
        type=SCHEMA.field("bbox").type,
        mask=_arrow_mask(_nulls(n, present)),
    )


def _int_column(n: int, present: list[int], values: list[int]) -> pa.Array:
    full = np.zeros(n, dtype=np.int64)
    full[present] = values
    return pa.array(full, pa.int64(), mask=_nulls(n, present))


_RECORD_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("item_id", pa.string()),
    ("item_uri", pa.string()),
    ("width", pa.int32()),
    ("height", pa.int32()),
    ("task_id", pa.string()),
    ("label_event_id", pa.string()),
    ("consensus_method", pa.string()),
    ("consensus_score", pa.float64()),
    ("review_decision", pa.string()),
    ("reviewer", pa.string()),
    ("prelabel_model", pa.string()),
    ("prelabel_model_version", pa.string()),
    ("ontology_id", pa.string()),
    ("ontology_version", pa.string()),
    ("labeled_ontology_version", pa.string()),
    ("source_topic", pa.string()),
    ("source_partition", pa.int32()),
    ("source_offset", pa.int64()),
)

_ROW_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("label_id", pa.string()),
    ("class_id", pa.string()),
    ("geometry_kind", pa.string()),
    ("answers_json", pa.string()),
    ("label_proto", pa.binary()),
)


def _table(
    rec_cols: list[list[Any]],
    rows_per_record: list[int],
    annotators: list[str],
    annotator_counts: list[int],
    row_cols: list[list[Any]],
    filter: RowFilter,
    geometry: dict[str, pa.Array],
) -> pa.Table:
    """The table from the loop's column lists and the geometry columns."""
    columns: dict[str, pa.Array] = {
        name: pa.array(values, type)
        for (name, type), values in zip(_RECORD_COLUMNS, rec_cols, strict=True)
    }
    columns["split"] = split_column(rec_cols[0], filter.split_ratios, filter.split_salt)
    columns["annotators"] = pa.ListArray.from_arrays(
        _offsets(annotator_counts),
        pa.array(annotators, pa.string()),
        type=pa.list_(pa.string()),
    )
    n_rows = len(row_cols[0])
    if n_rows != len(rows_per_record):  # some record has several rows: repeat its values
        index = np.repeat(np.arange(len(rows_per_record), dtype=np.int64), rows_per_record)
        columns = {name: arr.take(pa.array(index, pa.int64())) for name, arr in columns.items()}
    for (name, type), values in zip(_ROW_COLUMNS, row_cols, strict=True):
        columns[name] = pa.array(values, type)
    columns.update(geometry)
    return pa.Table.from_arrays([columns[name] for name in SCHEMA.names], schema=SCHEMA)


class Columns:
    """The column lists of the rows built so far (see the module docstring)."""

    def __init__(self) -> None:
        self.row = 0  # rows so far
        self.rec_cols: list[list[Any]] = [[] for _ in _RECORD_COLUMNS]
        # One bound ``append`` per record column, in _RECORD_COLUMNS order (see ``record``).
        self.add_record = tuple(c.append for c in self.rec_cols)
        self.rows_per_record: list[int] = []
        self.annotators: list[str] = []
        self.annotator_counts: list[int] = []
        self.row_cols: list[list[Any]] = [[] for _ in _ROW_COLUMNS]
        self.add_row = tuple(c.append for c in self.row_cols)
        # Geometry: the rows that have a column, and their values (flat) / lengths.
        self.box_rows: list[int] = []
        self.box_values: list[float] = []
        self.poly_rows: list[int] = []
        self.poly_lengths: list[int] = []
        self.poly_values: list[float] = []
        self.mask_rows: list[int] = []
        self.mask_lengths: list[int] = []
        self.mask_values: list[int] = []
        self.kp_rows: list[int] = []
        self.kp_lengths: list[int] = []
        self.kp_values: list[float] = []
        self.span_rows: list[int] = []
        self.span_starts: list[int] = []
        self.span_ends: list[int] = []

    def item_level(self) -> None:
        """The one row of a record without labels (``geometry_kind`` "none")."""
        add_label_id, add_class_id, add_kind, add_answers, add_proto = self.add_row
        add_label_id("")
        add_class_id("")
        add_kind(NO_LABEL)
        add_answers(EMPTY_ANSWERS_JSON)
        add_proto(b"")
        self.row += 1

    def labels(self, pairs: Iterable[tuple[int, label_pb2.Label]]) -> tuple[int, int]:
        """One row per (position in the submission, label); the size of the first mask with
        one (0, 0 when none)."""
        add_label_id, add_class_id, add_kind, add_answers, add_proto = self.add_row
        geometry = self.geometry
        mask_w = mask_h = 0
        for i, lb in pairs:
            g = lb.WhichOneof("geometry")
            if g is None:
                g = "whole_item"
            elif g != "whole_item":
                size = geometry(g, lb)
                if size is not None and not mask_w:
                    mask_w, mask_h = size
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
            self.row += 1
        return mask_w, mask_h

    def geometry(self, g: str, lb: label_pb2.Label) -> tuple[int, int] | None:
        """Fill the geometry columns of the current row for a label of kind ``g``; a mask's
        size when it has one. whole_item, cuboid, video_track: no geometry columns."""
        row = self.row
        if g == "box":
            b = lb.box
            self.box_rows.append(row)
            self.box_values += (b.x, b.y, b.width, b.height)
        elif g == "polygon" or g == "polyline":
            self._polygon(row, lb.polygon.points if g == "polygon" else lb.polyline.points)
        elif g == "mask":
            m = lb.mask
            counts = m.counts
            self.mask_rows.append(row)
            self.mask_lengths.append(len(counts))
            self.mask_values += counts
            if m.width > 0 and m.height > 0:
                return m.width, m.height
        elif g == "keypoints":
            kps = lb.keypoints.points
            values = self.kp_values
            for k in kps:
                values += (k.x, k.y, float(k.visibility))
            self.kp_rows.append(row)
            self.kp_lengths.append(3 * len(kps))
        elif g == "point":
            pt = lb.point
            self.kp_rows.append(row)
            self.kp_lengths.append(3)
            self.kp_values += (pt.x, pt.y, 2.0)
        elif g == "rotated_box":
            self.box_rows.append(row)
            self.box_values += _rotated_extent(lb.rotated_box)
        elif g == "text_span":
            span = lb.text_span
            self.span_rows.append(row)
            self.span_starts.append(span.start)
            self.span_ends.append(span.end)
        elif g == "dicom_region":
            region = lb.dicom_region
            shape = region.WhichOneof("shape")
            if shape == "box":
                b = region.box
                self.box_rows.append(row)
                self.box_values += (b.x, b.y, b.width, b.height)
            elif shape == "polygon":
                self._polygon(row, region.polygon.points)
        return None

    def _polygon(self, row: int, pts: Any) -> None:
        values = self.poly_values
        for p in pts:
            values += (p.x, p.y)
        self.poly_rows.append(row)
        self.poly_lengths.append(2 * len(pts))

    def record(
        self,
        ev: Any,
        rec: Any,
        meta: Any,
        version: str,
        decision: str,
        mask_size: tuple[int, int],
        rows: int,
    ) -> None:
        """The record-level values of a ``LabelAccepted`` (``ev``, at ``rec``'s log position)
        that gave ``rows`` rows: its item (``meta``: an ``ItemMeta`` or None; the size falls
        back to the submission's, then to ``mask_size``), lineage and position."""
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
        ) = self.add_record
        item_labels = ev.labels
        item_id = ev.item_id or item_labels.item_id
        if meta is not None:
            uri, width, height = meta.uri, meta.width, meta.height
        else:
            uri, width, height = "", 0, 0
        if not (width and height):
            ctx = item_labels.item
            # A submitted size is only a hint: out of range (a poison value) means unknown.
            cw = ctx.width if 0 < ctx.width <= INT32_MAX else 0
            ch = ctx.height if 0 < ctx.height <= INT32_MAX else 0
            width = width or cw or mask_size[0]
            height = height or ch or mask_size[1]
        lin = ev.lineage
        ids = lin.annotator_ids
        self.annotators += ids
        self.annotator_counts.append(len(ids))
        add_item_id(item_id)
        add_item_uri(uri)
        add_width(width)
        add_height(height)
        add_task_id(ev.task_id)
        add_event_id(rec.event_id)
        method = CONSENSUS_METHODS.get(lin.consensus_method)
        add_method(method or enum_name(CONSENSUS_METHODS, lin.consensus_method))
        add_score(lin.consensus_score)
        add_decision(decision)
        add_reviewer(lin.reviewer)
        add_model(lin.prelabel_model)
        add_model_version(lin.prelabel_model_version)
        add_ontology_id(lin.ontology_id)
        add_version(version)
        add_labeled_version(lin.ontology_version)
        add_topic(rec.topic)
        add_partition(rec.partition)
        add_offset(rec.offset)
        self.rows_per_record.append(rows)

    def table(self, filter: RowFilter) -> pa.Table:
        """The rows as a table with exactly ``rows.SCHEMA``."""
        n = self.row
        return _table(
            self.rec_cols,
            self.rows_per_record,
            self.annotators,
            self.annotator_counts,
            self.row_cols,
            filter,
            geometry={
                "bbox": _bbox_column(n, self.box_rows, self.box_values),
                "polygon": _list_column(
                    n, self.poly_rows, self.poly_lengths, self.poly_values, pa.float64()
                ),
                "mask_counts": _list_column(
                    n, self.mask_rows, self.mask_lengths, self.mask_values, pa.uint32()
                ),
                "keypoints": _list_column(
                    n, self.kp_rows, self.kp_lengths, self.kp_values, pa.float64()
                ),
                "span_start": _int_column(n, self.span_rows, self.span_starts),
                "span_end": _int_column(n, self.span_rows, self.span_ends),
            },
        )
