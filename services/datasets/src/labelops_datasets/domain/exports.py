"""Exports of a dataset version's rows to the formats training and labeling tools read (pure).

Every exporter takes the version's Arrow table (``rows.SCHEMA``) and returns an ``Export``: the
files as bytes keyed by relative path, so the service can store them content-addressed. Nothing
here touches disk or the network, and the output depends only on the table's *rows*, never on
their order: rows are sorted by ``(item_id, label_id, label_event_id)`` first, JSON is canonical
(sorted keys, compact separators, UTF-8) and numbers are written the same way every time. Same
rows in, same bytes out.

Formats:

- ``to_coco``: one COCO detection JSON ("annotations/<split or all>.json"). Boxes, polygons,
  masks (uncompressed RLE, as stored) and keypoints. Masks are written with ``iscrowd: 0``; see
  ``to_coco`` for why that is the right flag and what pycocotools accepts.
- ``to_yolo``: Ultralytics/YOLO text labels, one file per image, plus ``data.yaml``. Boxes as
  ``cls cx cy w h`` and polygons as YOLO segmentation lines, normalized to [0, 1].
- ``to_label_studio``: Label Studio tasks JSON with pre-filled annotations (rectangles and
  polygons in percent, whole-item classes as choices), plus a matching labeling config.
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

import hashlib
import io
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import quoteattr

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

if TYPE_CHECKING:  # pragma: no cover - typing only; `datasets` is imported lazily at call time
    import datasets

__all__ = [
    "Export",
    "class_index",
    "to_coco",
    "to_hf_dataset",
    "to_label_studio",
    "to_parquet_bytes",
    "to_yolo",
]

#: Geometry kinds each exporter writes; every other labeled kind is skipped and counted.
COCO_KINDS = frozenset({"box", "polygon", "mask", "keypoints"})
YOLO_KINDS = frozenset({"box", "polygon"})
LABEL_STUDIO_KINDS = frozenset({"box", "polygon", "whole_item"})

#: The item-level row of an item with no labels (see ``rows``): an image, not a label.
NO_LABEL = "none"

#: Columns the exporters read (the Parquet / HF exports keep every column, whatever it is).
_COLUMNS = (
    "item_id",
    "item_uri",
    "width",
    "height",
    "split",
    "label_id",
    "class_id",
    "geometry_kind",
    "bbox",
    "polygon",
    "mask_counts",
    "keypoints",
    "label_event_id",
)

# Label Studio control names used in results and in the generated labeling config; results are
# only accepted by Label Studio if their from_name/to_name match the config's tags.
_LS_IMAGE = "image"
_LS_RECT = "label"
_LS_POLY = "polygon"
_LS_CHOICE = "choice"
#: geometry kind -> (control name, result type) of the region results.
_LS_REGION = {"box": (_LS_RECT, "rectanglelabels"), "polygon": (_LS_POLY, "polygonlabels")}

#: YOLO label file stems: longer ids are truncated and hashed (filename limits are 255 bytes).
_STEM_MAX = 100
_STEM_HASH = 16
_STEM_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
#: Names Windows refuses as file names whatever the extension.
_WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(1, 10)}
    | {f"lpt{i}" for i in range(1, 10)}
)


@dataclass(frozen=True)
class Export:
    """One export: files by relative path (POSIX separators), the format name and counts.

    ``stats`` holds ``images`` (images / tasks written), ``annotations`` (labels written),
    ``skipped_by_kind`` ({geometry_kind: rows not written}) and ``skipped_by_reason``
    ({reason: rows not written}); both skip maps have sorted keys.
    """

    files: dict[str, bytes]
    format: str
    stats: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Rows


@dataclass(frozen=True)
class _Row:
    item_id: str
    item_uri: str
    width: int
    height: int
    split: str
    label_id: str
    class_id: str
    kind: str
    bbox: list[float] | None
    polygon: list[float] | None
    mask_counts: list[int] | None
    keypoints: list[float] | None
    label_event_id: str


@dataclass(frozen=True)
class _Item:
    item_id: str
    item_uri: str
    width: int
    height: int
    split: str


def _rows(table: pa.Table, split: str | None = None) -> list[_Row]:
    """The rows the exporters need, filtered to ``split`` and in canonical order.

    Sorting here (not relying on the materializer's order) is what makes every export a
    function of the row *set*: a permuted table exports to the same bytes.
    """
    missing = [c for c in _COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(f"table is missing columns required for export: {missing}")
    sub = table.select(list(_COLUMNS))
    if split is not None:
        sub = sub.filter(pc.equal(sub["split"], split))
    cols = {name: sub[name].to_pylist() for name in _COLUMNS}
    rows = [
        _Row(
            item_id=cols["item_id"][i],
            item_uri=cols["item_uri"][i],
            width=int(cols["width"][i] or 0),
            height=int(cols["height"][i] or 0),
            split=cols["split"][i],
            label_id=cols["label_id"][i],
            class_id=cols["class_id"][i],
            kind=cols["geometry_kind"][i],
            bbox=cols["bbox"][i],
            polygon=cols["polygon"][i],
            mask_counts=cols["mask_counts"][i],
            keypoints=cols["keypoints"][i],
            label_event_id=cols["label_event_id"][i],
        )
        for i in range(sub.num_rows)
    ]
    # Python's str order is code-point order, i.e. the UTF-8 byte order Arrow sorts by. The
    # trailing keys only break ties between duplicate label ids (which should not happen).
    rows.sort(key=lambda r: (r.item_id, r.label_id, r.label_event_id, r.kind, r.class_id))
    return rows


def _items(rows: Iterable[_Row]) -> list[_Item]:
    """Distinct items in item_id order; an item's uri and size come from its first row."""
    items: dict[str, _Item] = {}
    for r in rows:
        if r.item_id not in items:
            items[r.item_id] = _Item(r.item_id, r.item_uri, r.width, r.height, r.split)
    return [items[k] for k in sorted(items)]


def class_index(table: pa.Table, classes: Sequence[str] | None = None) -> list[str]:
    """Class ids in export order: ``classes`` if given, else the sorted distinct labeled classes.

    "Labeled" means every row with a label (``geometry_kind`` not "none" and a non-empty
    ``class_id``), whatever its kind, so COCO category ids and YOLO class indices agree for the
    same table (YOLO index = COCO id - 1) even though the formats carry different kinds. Pass
    the ontology's class list to keep ids stable across versions whose label sets differ.
    """
    if classes is not None:
        out = list(classes)
        dupes = sorted(c for c, n in Counter(out).items() if n > 1)
        if dupes:
            raise ValueError(f"duplicate classes: {dupes}")
        if any(not isinstance(c, str) or not c for c in out):
            raise ValueError("classes must be non-empty strings")
        return out
    labeled = pc.and_(
        pc.not_equal(table["geometry_kind"], NO_LABEL), pc.not_equal(table["class_id"], "")
    )
    distinct = pc.unique(table.filter(labeled)["class_id"]).to_pylist()
    return sorted(c for c in distinct if c)


# --------------------------------------------------------------------------------------------
# Geometry (pure; each returns None for geometry a format cannot represent)


def _finite(values: Iterable[float]) -> bool:
    return all(math.isfinite(v) for v in values)


def _box(bbox: list[float] | None) -> tuple[float, float, float, float] | None:
    """A COCO [x, y, w, h] with finite values and positive extent, else None."""
    if bbox is None or len(bbox) != 4 or not _finite(bbox):
        return None
    x, y, w, h = (float(v) for v in bbox)
    if w <= 0 or h <= 0:
        return None
    return x, y, w, h


def _shoelace(flat: Sequence[float]) -> float:
    """The area of a simple polygon given as flat [x1, y1, x2, y2, ...] (shoelace formula)."""
    xs, ys = flat[0::2], flat[1::2]
    n = len(xs)
    twice = sum(xs[i] * ys[(i + 1) % n] - xs[(i + 1) % n] * ys[i] for i in range(n))
    return abs(twice) / 2.0


def _polygon(flat: list[float] | None) -> list[float] | None:
    """A flat polygon with >= 3 points, finite coordinates and non-zero area, else None.

    At least 3 points also matters for pycocotools: ``frPyObjects`` reads a 4-number list as a
    *box*, not a 2-point polygon.
    """
    if flat is None or len(flat) < 6 or len(flat) % 2 or not _finite(flat):
        return None
    pts = [float(v) for v in flat]
    return pts if _shoelace(pts) > 0 else None


def _extent(xs: Sequence[float], ys: Sequence[float]) -> list[float]:
    """[x, y, w, h] of the points' bounding box."""
    x0, y0 = min(xs), min(ys)
    return [x0, y0, max(xs) - x0, max(ys) - y0]


def _mask(counts: list[int] | None, height: int, width: int) -> tuple[int, list[float]] | None:
    """(area, bbox) of an uncompressed column-major COCO RLE, or None if it is not a mask.

    Works on the runs directly (O(runs), no decoding) and matches pycocotools' ``area`` and
    ``toBbox``: integer pixel extents, and a run that wraps from one column into the next
    covers the full image height in between (hence y spans 0..h-1).
    """
    if counts is None or height <= 0 or width <= 0 or sum(counts) != height * width:
        return None
    area = 0
    xs, xe, ys, ye = width, -1, height, -1
    pos = 0
    for j, run in enumerate(counts):
        start, pos = pos, pos + run
        if j % 2 == 0 or run == 0:  # even runs are background (the RLE starts with 0s)
            continue
        area += run
        x_first, y_first = divmod(start, height)
        x_last, y_last = divmod(pos - 1, height)
        xs, xe = min(xs, x_first), max(xe, x_last)
        if x_last > x_first:
            ys, ye = 0, height - 1
        else:
            ys, ye = min(ys, y_first), max(ye, y_last)
    if area == 0:
        return None
    return area, [float(xs), float(ys), float(xe - xs + 1), float(ye - ys + 1)]


def _keypoints(flat: list[float] | None) -> list[float] | None:
    """Flat [x, y, v, ...] with finite numbers and COCO visibilities 0 / 1 / 2, else None."""
    if flat is None or not flat or len(flat) % 3 or not _finite(flat):
        return None
    if any(v not in (0, 1, 2) for v in flat[2::3]):
        return None
    return [float(v) for v in flat]


# --------------------------------------------------------------------------------------------
# Output helpers


def _json(obj: Any) -> bytes:
    """Canonical JSON: sorted keys, no whitespace, UTF-8, and no NaN (invalid JSON)."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


class _Tally:
    """Counts of skipped rows, by geometry kind and by reason."""

    def __init__(self) -> None:
        self.by_kind: Counter[str] = Counter()
        self.by_reason: Counter[str] = Counter()

    def skip(self, kind: str, reason: str) -> None:
        self.by_kind[kind] += 1
        self.by_reason[reason] += 1

    def stats(self, images: int, annotations: int) -> dict[str, Any]:
        return {
            "images": images,
            "annotations": annotations,
            "skipped_by_kind": dict(sorted(self.by_kind.items())),
            "skipped_by_reason": dict(sorted(self.by_reason.items())),
        }


def _split_name(split: str | None) -> str:
    """The file stem for a split; refuses names that would escape the export's folder."""
    if split is None:
        return "all"
    if not split or _STEM_UNSAFE.search(split) or split in {".", ".."}:
        raise ValueError(f"unsafe split name for a file path: {split!r}")
    return split


def _exportable(r: _Row, kinds: frozenset[str], cls: dict[str, int], tally: _Tally) -> bool:
    """Whether a labeled row's kind and class can be written; counts the row if not."""
    if r.kind not in kinds:
        tally.skip(r.kind, "unsupported_kind")
        return False
    if r.class_id not in cls:
        tally.skip(r.kind, "unknown_class")
        return False
    return True


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


# --------------------------------------------------------------------------------------------
# YOLO


def _clip01(v: float) -> float:
    return min(1.0, max(0.0, v))


def _num(v: float) -> str:
    """YOLO numbers: fixed 6 decimals (sub-pixel for images up to ~10^5 px, and stable)."""
    return f"{v:.6f}"


def _stem_base(item_id: str) -> tuple[str, bool]:
    """(filesystem-safe stem, whether it is a lossless copy of item_id)."""
    safe = _STEM_UNSAFE.sub("_", item_id)
    safe = safe.lstrip(".")  # no hidden files, no "." / ".."
    safe = safe.rstrip(".")  # Windows drops trailing dots
    safe = safe[:_STEM_MAX]
    lossless = (
        bool(safe) and safe == item_id and safe.split(".")[0].lower() not in _WINDOWS_RESERVED
    )
    return safe, lossless


def _stems(item_ids: Iterable[str]) -> dict[str, str]:
    """A unique, filesystem-safe label file stem per item id (deterministic).

    An id is used as is when it is already safe (ASCII letters, digits, ``.``, ``_``, ``-``;
    at most 100 chars; not hidden; not a Windows device name) and no other stem equals it
    ignoring case (case-insensitive filesystems: macOS, Windows). Every other id becomes
    ``<sanitized>_<first 16 hex of sha256(item_id)>``. Ids kept as is that collide with such a
    hashed stem are hashed too, until no two stems are equal ignoring case. Two hashed stems can
    then only collide through a 64-bit sha256 prefix collision, which raises instead of
    silently overwriting a label file.
    """
    ids = sorted(set(item_ids))
    bases = {i: _stem_base(i) for i in ids}
    hashed = {i for i, (_, lossless) in bases.items() if not lossless}
    # Lossless ids equal ignoring case ("Img1" / "img1") must be told apart as well.
    folded = Counter(bases[i][0].casefold() for i in ids if i not in hashed)
    hashed |= {i for i in ids if i not in hashed and folded[bases[i][0].casefold()] > 1}

    def stem(i: str) -> str:
        if i not in hashed:
            return bases[i][0]
        digest = hashlib.sha256(i.encode("utf-8")).hexdigest()[:_STEM_HASH]
        return f"{bases[i][0]}_{digest}" if bases[i][0] else digest

    while True:
        stems = {i: stem(i) for i in ids}
        taken = Counter(s.casefold() for s in stems.values())
        clash = {i for i in ids if taken[stems[i].casefold()] > 1}
        if not clash:
            return stems
        if clash <= hashed:
            raise ValueError(f"label file stem collision between item ids {sorted(clash)}")
        hashed |= clash


def _yaml_str(s: str) -> str:
    """A YAML double-quoted scalar; escapes what YAML requires or may not print raw."""
    out = []
    for ch in s:
        cp = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif cp < 0x20 or 0x7F <= cp <= 0x9F or 0xD800 <= cp <= 0xDFFF or cp in (0xFFFE, 0xFFFF):
            out.append(f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def to_yolo(
    table: pa.Table, *, classes: Sequence[str] | None = None, split: str | None = None
) -> Export:
    """YOLO (Ultralytics) labels: ``labels/<stem>.txt`` per image, ``data.yaml``, ``items.json``.

    - box rows: ``cls cx cy w h``, normalized by the image size, after clipping the box to the
      image (Ultralytics rejects an image's whole label file if any value is outside [0, 1]);
      boxes entirely outside the image are invalid and skipped.
    - polygon rows: YOLO segmentation ``cls x1 y1 x2 y2 ...`` normalized and clamped to [0, 1].
      Ultralytics trains a *segment* model from these; a *detect* model uses their extents, and
      files mixing box and polygon lines make it fall back to boxes only.
    - ``cls`` is the 0-based position in ``class_index`` (COCO category id - 1).
    - Every image in the selection gets a file; images without exportable labels get an empty
      one (YOLO's "background" image). Rows of images with unknown size (width or height 0)
      cannot be normalized and are skipped (reason ``unknown_size``); other kinds (masks,
      keypoints, ...) are skipped too, so check ``stats`` before training on an export that
      may present an image with skipped objects as background.
    - Stems come from ``item_id`` (see ``_stems``: safe ids are kept, others sanitized and
      suffixed with a hash, case-insensitive collisions resolved). ``items.json`` maps each
      stem back to its item id, uri and split, since the images themselves are not exported
      and must be saved as ``images/<stem>.<ext>`` next to ``labels/`` by whoever fetches them.
    - ``data.yaml``: ``nc`` and ``names`` (add ``path`` / ``train`` / ``val`` for your layout).
    """
    names = class_index(table, classes)
    cls = {name: i for i, name in enumerate(names)}
    rows = _rows(table, split)
    items = _items(rows)
    stems = _stems(it.item_id for it in items)
    tally = _Tally()
    lines: dict[str, list[str]] = {it.item_id: [] for it in items}
    written = 0
    for r in rows:
        if r.kind == NO_LABEL or not _exportable(r, YOLO_KINDS, cls, tally):
            continue
        if r.width <= 0 or r.height <= 0:
            tally.skip(r.kind, "unknown_size")
            continue
        line = _yolo_line(r, cls[r.class_id])
        if line is None:
            tally.skip(r.kind, "invalid_geometry")
            continue
        lines[r.item_id].append(line)
        written += 1
    files: dict[str, bytes] = {}
    for it in items:
        body = "".join(f"{ln}\n" for ln in lines[it.item_id])
        files[f"labels/{stems[it.item_id]}.txt"] = body.encode("utf-8")
    yaml = [
        "# YOLO dataset description written by labelops; images are not part of the export",
        "# (see items.json). Add path / train / val entries for your directory layout.",
        f"nc: {len(names)}",
        "names:" if names else "names: []",
        *(f"  - {_yaml_str(n)}" for n in names),
    ]
    files["data.yaml"] = ("\n".join(yaml) + "\n").encode("utf-8")
    files["items.json"] = _json(
        [
            {
                "item_id": it.item_id,
                "item_uri": it.item_uri,
                "label_file": f"labels/{stems[it.item_id]}.txt",
                "split": it.split,
            }
            for it in items
        ]
    )
    return Export(
        files=dict(sorted(files.items())), format="yolo", stats=tally.stats(len(items), written)
    )


def _yolo_line(r: _Row, cls: int) -> str | None:
    """One YOLO label line for a box or polygon row, or None if nothing is left to write."""
    w_img, h_img = float(r.width), float(r.height)
    if r.kind == "box":
        box = _box(r.bbox)
        if box is None:
            return None
        x, y, w, h = box
        x0, y0 = max(0.0, x), max(0.0, y)
        x1, y1 = min(w_img, x + w), min(h_img, y + h)
        if x1 <= x0 or y1 <= y0:
            return None
        values = [
            (x0 + x1) / 2 / w_img,
            (y0 + y1) / 2 / h_img,
            (x1 - x0) / w_img,
            (y1 - y0) / h_img,
        ]
        return " ".join([str(cls), *(_num(_clip01(v)) for v in values)])
    poly = _polygon(r.polygon)
    if poly is None:
        return None
    norm = [_clip01(v / (w_img if i % 2 == 0 else h_img)) for i, v in enumerate(poly)]
    return " ".join([str(cls), *(_num(v) for v in norm)])


# --------------------------------------------------------------------------------------------
# Label Studio


def to_label_studio(table: pa.Table, *, classes: Sequence[str] | None = None) -> Export:
    """Label Studio import: ``tasks.json`` (tasks with annotations) and ``label_config.xml``.

    One task per item (``id`` 1-based over sorted item_id), ``data`` = {"image": item_uri,
    "item_id", "split"}, and one annotation whose ``result`` holds:

    - box rows: ``rectanglelabels`` with x / y / width / height in percent of the image size
      (Label Studio's unit), ``rotation`` 0;
    - polygon rows: ``polygonlabels`` with ``points`` [[x%, y%], ...], ``closed`` true;
    - whole_item rows: one ``choices`` result per task listing its classes in class order.

    Regions carry ``original_width`` / ``original_height``; rows of images of unknown size are
    skipped (``unknown_size``), as are other kinds (Label Studio's brush RLE is not COCO's).
    Items without labels get an annotation with an empty result: reviewed, nothing to mark.
    Region ids are the label ids (deduplicated per task). ``label_config.xml`` declares the
    controls the results refer to (``image`` / ``label`` / ``polygon`` / ``choice``) with all
    classes, so the tasks import into a project created with it.
    """
    names = class_index(table, classes)
    cls = {name: i for i, name in enumerate(names)}
    rows = _rows(table)
    items = _items(rows)
    by_item: dict[str, list[_Row]] = {it.item_id: [] for it in items}
    for r in rows:
        by_item[r.item_id].append(r)
    tally = _Tally()
    written = 0
    used: set[str] = set()
    multi_choice = False
    tasks: list[dict[str, Any]] = []
    for n, it in enumerate(items, start=1):
        result: list[dict[str, Any]] = []
        region_ids: Counter[str] = Counter()
        choices: list[str] = []
        for r in by_item[it.item_id]:
            if r.kind == NO_LABEL or not _exportable(r, LABEL_STUDIO_KINDS, cls, tally):
                continue
            if r.kind == "whole_item":
                choices.append(r.class_id)
                written += 1
                continue
            if r.width <= 0 or r.height <= 0:
                tally.skip(r.kind, "unknown_size")
                continue
            value = _ls_value(r)
            if value is None:
                tally.skip(r.kind, "invalid_geometry")
                continue
            control, kind = _LS_REGION[r.kind]
            value[kind] = [r.class_id]
            rid = r.label_id or f"region{len(result) + 1}"
            region_ids[rid] += 1
            if region_ids[rid] > 1:
                rid = f"{rid}-{region_ids[rid]}"
            result.append(
                {
                    "id": rid,
                    "type": kind,
                    "from_name": control,
                    "to_name": _LS_IMAGE,
                    "original_width": r.width,
                    "original_height": r.height,
                    "image_rotation": 0,
                    "value": value,
                }
            )
            used.add(control)
            written += 1
        if choices:
            distinct = sorted(set(choices), key=cls.__getitem__)
            multi_choice = multi_choice or len(distinct) > 1
            result.append(
                {
                    "id": "choices",
                    "type": "choices",
                    "from_name": _LS_CHOICE,
                    "to_name": _LS_IMAGE,
                    "value": {"choices": distinct},
                }
            )
            used.add(_LS_CHOICE)
        tasks.append(
            {
                "id": n,
                "data": {"image": it.item_uri, "item_id": it.item_id, "split": it.split},
                "annotations": [{"result": result}],
            }
        )
    files = {
        "label_config.xml": _ls_config(names, used or {_LS_RECT}, multi_choice),
        "tasks.json": _json(tasks),
    }
    return Export(files=files, format="label_studio", stats=tally.stats(len(items), written))


def _ls_value(r: _Row) -> dict[str, Any] | None:
    """The percent-coordinate ``value`` of a box or polygon region, or None if invalid."""
    sx, sy = 100.0 / r.width, 100.0 / r.height
    if r.kind == "box":
        box = _box(r.bbox)
        if box is None:
            return None
        x, y, w, h = box
        return {"x": x * sx, "y": y * sy, "width": w * sx, "height": h * sy, "rotation": 0}
    poly = _polygon(r.polygon)
    if poly is None:
        return None
    points = [[poly[i] * sx, poly[i + 1] * sy] for i in range(0, len(poly), 2)]
    return {"points": points, "closed": True}


def _ls_config(names: Sequence[str], used: set[str], multi_choice: bool) -> bytes:
    """A Label Studio labeling config whose control names match the exported results."""

    def labels(tag: str) -> list[str]:
        return [f"    <{tag} value={quoteattr(n)}/>" for n in names]

    lines = ["<View>", f'  <Image name="{_LS_IMAGE}" value="$image"/>']
    if _LS_RECT in used:
        lines += [f'  <RectangleLabels name="{_LS_RECT}" toName="{_LS_IMAGE}">']
        lines += [*labels("Label"), "  </RectangleLabels>"]
    if _LS_POLY in used:
        lines += [f'  <PolygonLabels name="{_LS_POLY}" toName="{_LS_IMAGE}">']
        lines += [*labels("Label"), "  </PolygonLabels>"]
    if _LS_CHOICE in used:
        choice = "multiple" if multi_choice else "single"
        lines += [f'  <Choices name="{_LS_CHOICE}" toName="{_LS_IMAGE}" choice="{choice}">']
        lines += [*labels("Choice"), "  </Choices>"]
    lines.append("</View>")
    return ("\n".join(lines) + "\n").encode("utf-8")


# --------------------------------------------------------------------------------------------
# Hugging Face / Parquet


def to_hf_dataset(table: pa.Table) -> datasets.Dataset:
    """The table as an in-memory Hugging Face ``datasets.Dataset``, every column kept.

    Wraps the Arrow table without copying; ``datasets`` derives the features from the Arrow
    types (e.g. ``bbox`` → ``List(float64, length=4)``, ``label_proto`` → binary). It drops
    the fields' non-null flags and adds its own schema metadata, which changes no values.
    ``datasets`` is imported here so the service only loads it when an export asks for it.
    """
    import datasets
    from datasets.table import InMemoryTable

    return datasets.Dataset(InMemoryTable(table))


def to_parquet_bytes(table: pa.Table) -> bytes:
    """The table as one Parquet file (the "Parquet for HF" export), rows in the given order.

    Reads back with ``datasets.load_dataset("parquet", data_files=...)`` or any Parquet reader.
    Writer options are pinned (codec, page index off, statistics on) so the bytes depend only
    on the table and the pyarrow version (which is recorded in the file's ``created_by``).
    """
    buf = io.BytesIO()
    pq.write_table(
        table,
        buf,
        compression="zstd",
        write_statistics=True,
        write_page_index=False,
        use_dictionary=True,
    )
    return buf.getvalue()
