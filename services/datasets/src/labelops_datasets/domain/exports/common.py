"""What every exporter shares: the rows they read, geometry checks, canonical output (pure)."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

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
#: Read when the table has them (a table of schema 1 has no relations).
_OPTIONAL_COLUMNS = ("relations", "answers_json")

#: Characters a file stem may not hold (split names, YOLO label files).
_STEM_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


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
    #: The label's outgoing relations ({relationship_id, from_label_id, to_label_id}).
    relations: list[dict[str, str]] = field(default_factory=list)
    #: The label's answers in its order, as ``answers_json`` holds them: {classification_id,
    #: and one of option_id / checklist / text / number}; nested answers are answers of
    #: their own classification, after the answer whose option opens them.
    answers: list[dict[str, Any]] = field(default_factory=list)
    #: The label's attributes (attribute id → value).
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def has_details(self) -> bool:
        """Whether the label carries answers or attributes."""
        return bool(self.answers or self.attributes)


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
    names = [*_COLUMNS, *(c for c in _OPTIONAL_COLUMNS if c in table.column_names)]
    sub = table.select(names)
    if split is not None:
        sub = sub.filter(pc.equal(sub["split"], split))
    cols = {name: sub[name].to_pylist() for name in names}
    relations = cols.get("relations") or [[] for _ in range(sub.num_rows)]
    details = [_details(j) for j in cols.get("answers_json") or [None] * sub.num_rows]
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
            relations=relations[i] or [],
            answers=details[i][0],
            attributes=details[i][1],
        )
        for i in range(sub.num_rows)
    ]
    # Python's str order is code-point order, i.e. the UTF-8 byte order Arrow sorts by. The
    # trailing keys only break ties between duplicate label ids (which should not happen).
    rows.sort(key=lambda r: (r.item_id, r.label_id, r.label_event_id, r.kind, r.class_id))
    return rows


def _details(answers_json: str | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(answers, attributes) of an ``answers_json`` value (none for a missing or empty one)."""
    if not answers_json:
        return [], {}
    doc = json.loads(answers_json)
    return list(doc.get("answers") or []), dict(doc.get("attributes") or {})


def answer_value(answer: dict[str, Any]) -> Any:
    """An answer's value: the option id (radio), the option ids (checklist), the text or the
    number; None for an answer without one."""
    for key in ("option_id", "checklist", "text", "number"):
        if key in answer:
            return answer[key]
    return None


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
