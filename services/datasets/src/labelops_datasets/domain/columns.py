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
from collections.abc import Container, Iterable
from typing import Any

import numpy as np
import pyarrow as pa
from labelops.labels.v1 import label_pb2

from labelops_datasets.domain.filters import RowFilter
from labelops_datasets.domain.rows import RELATION, SCHEMA
from labelops_datasets.domain.splits import split_column

#: geometry_kind of the item-level row of an item without labels (see ``rows``).
NO_LABEL = "none"


def rotated_extent(r: label_pb2.RotatedBox) -> list[float]:
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


def list_column(
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


def bbox_column(n: int, present: list[int], values: list[float]) -> pa.Array:
    full = np.zeros((n, 4), dtype=np.float64)
    full[present] = np.asarray(values, dtype=np.float64).reshape(-1, 4)
    return pa.FixedSizeListArray.from_arrays(
        pa.array(full.reshape(-1), pa.float64()),
        type=SCHEMA.field("bbox").type,
        mask=_arrow_mask(_nulls(n, present)),
    )


def int_column(n: int, present: list[int], values: list[int]) -> pa.Array:
    full = np.zeros(n, dtype=np.int64)
    full[present] = values
    return pa.array(full, pa.int64(), mask=_nulls(n, present))


def outgoing_relations(
    relations: Iterable[label_pb2.Relation], kept: Container[str]
) -> dict[str, list[tuple[str, str, str]]]:
    """from label id → its (relationship_id, from_label_id, to_label_id) relations, in
    submission order, of the relations between two labels that are both ``kept`` (rows of the
    version). A relation to a label a migration dropped or the class filter left out refers to
    nothing in the version and is left out with it; one naming a label by the empty id names
    no label (the row of an id-less label is ``#<n>``)."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    for r in relations:
        a, b = r.from_label_id, r.to_label_id
        if a and b and a in kept and b in kept:
            out.setdefault(a, []).append((r.relationship_id, a, b))
    return out


def relations_column(
    n: int,
    present: list[int],
    lengths: list[int],
    relationship_ids: list[str],
    from_ids: list[str],
    to_ids: list[str],
) -> pa.Array:
    """The ``relations`` column of ``n`` rows: row ``present[i]`` holds the next
    ``lengths[i]`` relations, every other row none (never null)."""
    full = np.zeros(n, dtype=np.int64)
    full[present] = lengths
    values = pa.StructArray.from_arrays(
        [
            pa.array(relationship_ids, pa.string()),
            pa.array(from_ids, pa.string()),
            pa.array(to_ids, pa.string()),
        ],
        fields=list(RELATION),
    )
    return pa.ListArray.from_arrays(_offsets(full), values, type=pa.list_(RELATION))


RECORD_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
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

ROW_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("label_id", pa.string()),
    ("class_id", pa.string()),
    ("geometry_kind", pa.string()),
    ("answers_json", pa.string()),
    ("label_proto", pa.binary()),
)


def table_of(
    rec_cols: list[list[Any]],
    rows_per_record: list[int],
    annotators: list[str],
    annotator_counts: list[int],
    row_cols: list[list[Any]],
    filter: RowFilter,
    geometry: dict[str, pa.Array],
) -> pa.Table:
    """The table from the loop's column lists and the geometry (and relations) columns."""
    columns: dict[str, pa.Array] = {
        name: pa.array(values, type)
        for (name, type), values in zip(RECORD_COLUMNS, rec_cols, strict=True)
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
    for (name, type), values in zip(ROW_COLUMNS, row_cols, strict=True):
        columns[name] = pa.array(values, type)
    columns.update(geometry)
    return pa.Table.from_arrays([columns[name] for name in SCHEMA.names], schema=SCHEMA)
