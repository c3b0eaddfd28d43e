"""COCO detection JSON (boxes, polygons, RLE masks, keypoints)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from .common import (
    NO_LABEL,
    Export,
    _box,
    _exportable,
    _extent,
    _items,
    _json,
    _keypoints,
    _mask,
    _polygon,
    _Row,
    _rows,
    _shoelace,
    _split_name,
    _Tally,
    class_index,
)

#: Geometry kinds COCO gets; every other labeled kind is skipped and counted.
COCO_KINDS = frozenset({"box", "polygon", "mask", "keypoints"})


# --------------------------------------------------------------------------------------------
# COCO


def to_coco(
    table: pa.Table, *, classes: Sequence[str] | None = None, split: str | None = None
) -> Export:
    """COCO detection JSON: ``annotations/<split or all>.json``.

    - images: every item of the selection (also items with no labels), ``id`` = 1-based index
      over sorted ``item_id``, ``file_name`` = ``item_uri``, ``width`` / ``height``.
    - categories: ``id`` = 1-based position in ``class_index`` (``name`` = class id). Computed
      on the whole table, so per-split files share ids.
    - annotations (``id`` 1-based in canonical row order):
        box       bbox, area w*h, segmentation [], iscrowd 0
        polygon   segmentation [[flat xy]], bbox = extent, area = shoelace, iscrowd 0
        mask      segmentation {"size": [h, w], "counts": [...]} (uncompressed RLE, as stored),
                  bbox / area from the mask (pycocotools conventions), iscrowd 0
        keypoints keypoints, num_keypoints (v > 0), bbox = the row's bbox if it has one, else
                  the extent of the visible points; area = bbox w*h; segmentation [], iscrowd 0
      Other kinds are skipped and counted, as are invalid geometries (e.g. polygons with < 3
      points, masks whose runs do not add up to h*w or that are empty).

    Why masks get ``iscrowd: 0``: pycocotools does *not* tie uncompressed RLE to crowds.
    ``COCO.annToRLE`` / ``annToMask`` decode a dict segmentation with list counts whatever
    ``iscrowd`` says, so the file loads and rasterizes either way. ``iscrowd`` instead changes
    what the annotation *means*: ``COCOeval`` marks crowd ground truth as ignored (detections on
    it are neither true nor false positives, and it never counts as missed), and Detectron2 /
    MMDetection drop crowd annotations from training. Our masks are individual instances, so
    flagging them as crowds would make them vanish from training and evaluation. (The original
    COCO release pairs RLE with crowds only because its crowd regions were the ones drawn as
    masks.) ``COCO.loadRes`` is a different path: it takes *results*, and only with compressed
    RLE; ground truth files are not loaded through it.
    """
    names = class_index(table, classes)
    cls = {name: i + 1 for i, name in enumerate(names)}
    rows = _rows(table, split)
    items = _items(rows)
    image_ids = {it.item_id: i + 1 for i, it in enumerate(items)}
    tally = _Tally()
    annotations: list[dict[str, Any]] = []
    for r in rows:
        if r.kind == NO_LABEL or not _exportable(r, COCO_KINDS, cls, tally):
            continue
        ann = _coco_annotation(r)
        if ann is None:
            tally.skip(r.kind, "invalid_geometry")
            continue
        ann.update(
            id=len(annotations) + 1, image_id=image_ids[r.item_id], category_id=cls[r.class_id]
        )
        annotations.append(ann)
    doc = {
        "info": {"description": "labelops dataset export", "split": split or "all"},
        "licenses": [],
        "images": [
            {
                "id": image_ids[it.item_id],
                "file_name": it.item_uri,
                "width": it.width,
                "height": it.height,
            }
            for it in items
        ],
        "categories": [{"id": cls[n], "name": n} for n in names],
        "annotations": annotations,
    }
    path = f"annotations/{_split_name(split)}.json"
    return Export(
        files={path: _json(doc)}, format="coco", stats=tally.stats(len(items), len(annotations))
    )


def _coco_annotation(r: _Row) -> dict[str, Any] | None:
    """The geometry part of a COCO annotation for one row, or None if the geometry is invalid."""
    if r.kind == "box":
        box = _box(r.bbox)
        if box is None:
            return None
        return {"bbox": list(box), "area": box[2] * box[3], "segmentation": [], "iscrowd": 0}
    if r.kind == "polygon":
        poly = _polygon(r.polygon)
        if poly is None:
            return None
        return {
            "bbox": _extent(poly[0::2], poly[1::2]),
            "area": _shoelace(poly),
            "segmentation": [poly],
            "iscrowd": 0,
        }
    if r.kind == "mask":
        stats = _mask(r.mask_counts, r.height, r.width)
        if stats is None or r.mask_counts is None:
            return None
        area, bbox = stats
        return {
            "bbox": bbox,
            "area": float(area),
            "segmentation": {"size": [r.height, r.width], "counts": list(r.mask_counts)},
            "iscrowd": 0,
        }
    if r.kind == "keypoints":
        kps = _keypoints(r.keypoints)
        if kps is None:
            return None
        visible = [i for i in range(0, len(kps), 3) if kps[i + 2] > 0]
        box = _box(r.bbox)
        if box is not None:
            bbox = list(box)
        elif visible:
            bbox = _extent([kps[i] for i in visible], [kps[i + 1] for i in visible])
        else:
            bbox = [0.0, 0.0, 0.0, 0.0]
        return {
            "keypoints": kps,
            "num_keypoints": len(visible),
            "bbox": bbox,
            "area": bbox[2] * bbox[3],
            "segmentation": [],
            "iscrowd": 0,
        }
    return None
