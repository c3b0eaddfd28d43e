"""Exports of a dataset version's rows to the formats training and labeling tools read (pure).

Every exporter takes the version's Arrow table (``rows.SCHEMA``) and returns an ``Export``: the
files as bytes keyed by relative path, so the service can store them content-addressed. Nothing
here touches disk or the network, and the output depends only on the table's *rows*, never on
their order: rows are sorted by ``(item_id, label_id, label_event_id)`` first, JSON is canonical
(sorted keys, compact separators, UTF-8) and numbers are written the same way every time. Same
rows in, same bytes out.

Formats:

- ``to_coco``: one COCO detection JSON ("annotations/<split or all>.json"); ``to_coco_splits``
  (what the service exports): all.json and one file per hash split, with the same ids. Boxes,
  polygons, masks (uncompressed RLE, as stored) and keypoints; each annotation carries its
  ``label_id``, CVAT-style ``attributes`` and the typed ``answers``; relations in a top-level
  ``relations`` list (an extension). Masks are written with ``iscrowd: 0``; see ``to_coco``.
- ``to_yolo``: Ultralytics/YOLO text labels, one file per image, image lists per split and a
  ``data.yaml`` naming them. Boxes as ``cls cx cy w h`` and polygons as YOLO segmentation
  lines, normalized to [0, 1]; answers and relations counted as not held.
- ``to_label_studio``: Label Studio tasks JSON with pre-filled annotations (rectangles and
  polygons in percent, whole-item classes as choices, each region's answers and attributes as
  per-region results, relations), plus a labeling config declaring every control used.
- ``to_hf_dataset`` / ``to_parquet_bytes``: the table itself, all columns, as a Hugging Face
  ``datasets.Dataset`` in memory or as Parquet bytes (what ``load_dataset("parquet")`` reads).

Category / class order is ``class_index``: the caller's list (e.g. the ontology's order) or the
sorted distinct labeled ``class_id``. It is always computed on the *whole* table passed in, so
exporting the train and val splits separately gives both files the same category ids.

Rows a format cannot carry are skipped, never silently: ``Export.stats`` counts them per
geometry kind (``skipped_by_kind``) and per reason (``skipped_by_reason``: ``unsupported_kind``,
``unknown_class``, ``invalid_geometry``, ``unknown_size``). Item-level rows (``geometry_kind``
"none") are not skipped labels: they make the image appear with no annotations.
"""

from __future__ import annotations

from .coco import COCO_KINDS, to_coco, to_coco_splits
from .common import NO_LABEL, Export, class_index
from .formats import check_format, export_as, export_replies
from .label_studio import LABEL_STUDIO_KINDS, to_label_studio
from .parquet import to_hf_dataset, to_parquet_bytes
from .yolo import YOLO_KINDS, to_yolo

__all__ = [
    "COCO_KINDS",
    "LABEL_STUDIO_KINDS",
    "NO_LABEL",
    "YOLO_KINDS",
    "Export",
    "check_format",
    "class_index",
    "export_as",
    "export_replies",
    "to_coco",
    "to_coco_splits",
    "to_hf_dataset",
    "to_label_studio",
    "to_parquet_bytes",
    "to_yolo",
]
