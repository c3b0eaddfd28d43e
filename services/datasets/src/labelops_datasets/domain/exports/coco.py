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
    answer_value,
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
    - what else a label holds, in every annotation (keys COCO readers ignore):
        ``label_id``   the label's id;
        ``attributes`` a flat map as CVAT's and Label Studio's COCO converters write it: the
                       label's attributes by attribute id, and each answer by classification
                       id (radio: the option id, checklist: the list of option ids, text, or
                       number); an attribute whose id is also a classification's keeps its
                       own value there;
        ``answers``    the answers in the label's order, typed ({classification_id, option_id |
                       checklist | text | number}), nested answers after the answer whose
                       option opens them: the lossless form (``attributes`` cannot tell a radio
                       from a text answer).
    - ``relations`` (a labelops extension, top level): ``{id, image_id, relationship_id,
      from_annotation_id, to_annotation_id}`` for each relation between two annotations
      written; one whose other label was not written is counted in
      ``stats["relations_skipped"]``.

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
    doc, stats, _ = _coco_doc(table, classes, split)
    path = f"annotations/{_split_name(split)}.json"
    return Export(files={path: _json(doc)}, format="coco", stats=stats)


def to_coco_splits(table: pa.Table, *, classes: Sequence[str] | None = None) -> Export:
    """``annotations/all.json`` (``to_coco`` of the whole table) and one file per hash split
    that has items, ``annotations/<split>.json``: the images, annotations and relations of the
    split's items, with the ids of ``all.json`` (annotation 7 of train.json is annotation 7 of
    all.json) and the same categories. ``stats`` are all.json's, with ``splits`` {split:
    {images, annotations}}."""
    doc, stats, splits = _coco_doc(table, classes, None)
    files = {"annotations/all.json": _json(doc)}
    split_of = {img["id"]: s for img, s in zip(doc["images"], splits, strict=True)}
    per_split: dict[str, Any] = {}
    for split in sorted(set(split_of.values())):
        ids = {i for i, s in split_of.items() if s == split}
        part = {
            **doc,
            "info": {**doc["info"], "split": split},
            "images": [img for img in doc["images"] if img["id"] in ids],
            "annotations": [a for a in doc["annotations"] if a["image_id"] in ids],
            "relations": [r for r in doc["relations"] if r["image_id"] in ids],
        }
        files[f"annotations/{_split_name(split)}.json"] = _json(part)
        per_split[split] = {"images": len(part["images"]), "annotations": len(part["annotations"])}
    stats["splits"] = per_split
    return Export(files=dict(sorted(files.items())), format="coco", stats=stats)


def _coco_doc(
    table: pa.Table, classes: Sequence[str] | None, split: str | None
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """The COCO document of the selection, its stats (``to_coco``) and the split of each of
    its images (in ``images`` order)."""
    names = class_index(table, classes)
    cls = {name: i + 1 for i, name in enumerate(names)}
    rows = _rows(table, split)
    items = _items(rows)
    image_ids = {it.item_id: i + 1 for i, it in enumerate(items)}
    tally = _Tally()
    annotations: list[dict[str, Any]] = []
    ann_of: dict[tuple[str, str], int] = {}
    for r in rows:
        if r.kind == NO_LABEL or not _exportable(r, COCO_KINDS, cls, tally):
            continue
        ann = _coco_annotation(r)
        if ann is None:
            tally.skip(r.kind, "invalid_geometry")
            continue
        ann.update(
            id=len(annotations) + 1,
            image_id=image_ids[r.item_id],
            category_id=cls[r.class_id],
            label_id=r.label_id,
            attributes=_flat_attributes(r),
            answers=r.answers,
        )
        ann_of.setdefault((r.item_id, r.label_id), ann["id"])
        annotations.append(ann)
    relations, skipped = _coco_relations(rows, ann_of, image_ids)
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
        "relations": relations,
    }
    stats = tally.stats(len(items), len(annotations))
    stats.update(relations=len(relations), relations_skipped=skipped)
    return doc, stats, [it.split for it in items]


def _flat_attributes(r: _Row) -> dict[str, Any]:
    """CVAT-style ``attributes``: the label's attributes, then each answer's value by its
    classification id (not over an attribute of the same id, nor over an earlier answer)."""
    out = dict(r.attributes)
    for answer in r.answers:
        out.setdefault(answer["classification_id"], answer_value(answer))
    return out


def _coco_relations(
    rows: Sequence[_Row], ann_of: dict[tuple[str, str], int], image_ids: dict[str, int]
) -> tuple[list[dict[str, Any]], int]:
    """The ``relations`` between written annotations, and how many could not be written."""
    out: list[dict[str, Any]] = []
    skipped = 0
    for r in rows:
        for rel in r.relations:
            a = ann_of.get((r.item_id, rel["from_label_id"]))
            b = ann_of.get((r.item_id, rel["to_label_id"]))
            if a is None or b is None:
                skipped += 1
                continue
            out.append(
                {
                    "id": len(out) + 1,
                    "image_id": image_ids[r.item_id],
                    "relationship_id": rel["relationship_id"],
                    "from_annotation_id": a,
                    "to_annotation_id": b,
                }
            )
    return out, skipped


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
