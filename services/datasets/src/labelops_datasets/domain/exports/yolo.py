"""Ultralytics / YOLO text labels (boxes and segmentation polygons) plus ``data.yaml``."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence

import pyarrow as pa

from .common import (
    _STEM_UNSAFE,
    NO_LABEL,
    Export,
    _box,
    _exportable,
    _Item,
    _items,
    _json,
    _polygon,
    _Row,
    _rows,
    _split_name,
    _Tally,
    class_index,
)

#: Geometry kinds YOLO gets; every other labeled kind is skipped and counted.
YOLO_KINDS = frozenset({"box", "polygon"})

#: YOLO label file stems: longer ids are truncated and hashed (filename limits are 255 bytes).
_STEM_MAX = 100
_STEM_HASH = 16
#: Names Windows refuses as file names whatever the extension.
_WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(1, 10)}
    | {f"lpt{i}" for i in range(1, 10)}
)


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
    """YOLO (Ultralytics) labels: ``labels/<stem>.txt`` per image, the image lists
    ``<split>.txt``, ``data.yaml`` and ``items.json``.

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
      suffixed with a hash, case-insensitive collisions resolved).
    - The images are not part of the export: each item's image is ``images/<stem><ext>`` (the
      extension of its URI when it is an image format Ultralytics reads, else ``.jpg``), next
      to ``labels/`` (Ultralytics finds ``labels/<stem>.txt`` from ``images/<stem>.jpg``).
      ``items.json`` maps each item to its ``image_file``, ``label_file``, URI and split:
      download each URI to its ``image_file``.
    - ``<split>.txt`` (train / val / test, the splits that have items): the split's image files,
      one ``./images/<stem><ext>`` a line (relative to the list, as Ultralytics reads them).
    - ``data.yaml``: ``train`` / ``val`` / ``test`` naming those lists (no ``path``: Ultralytics
      then resolves them next to data.yaml), ``nc`` and ``names``.
    - What YOLO cannot hold is counted, not dropped silently: ``stats["details_not_held"]``
      (labels written whose answers / attributes are not in a YOLO file) and
      ``stats["relations_not_held"]``; the Parquet export holds them.
    """
    names = class_index(table, classes)
    cls = {name: i for i, name in enumerate(names)}
    rows = _rows(table, split)
    items = _items(rows)
    stems = _stems(it.item_id for it in items)
    images = {it.item_id: f"images/{stems[it.item_id]}{_image_ext(it.item_uri)}" for it in items}
    tally = _Tally()
    lines: dict[str, list[str]] = {it.item_id: [] for it in items}
    written = details = relations = 0
    for r in rows:
        relations += len(r.relations)
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
        details += r.has_details
    files: dict[str, bytes] = {}
    for it in items:
        body = "".join(f"{ln}\n" for ln in lines[it.item_id])
        files[f"labels/{stems[it.item_id]}.txt"] = body.encode("utf-8")
    lists = _image_lists(items, images)
    files.update(lists)
    files["data.yaml"] = _data_yaml(names, sorted(lists))
    files["items.json"] = _json(
        [
            {
                "item_id": it.item_id,
                "item_uri": it.item_uri,
                "image_file": images[it.item_id],
                "label_file": f"labels/{stems[it.item_id]}.txt",
                "split": it.split,
            }
            for it in items
        ]
    )
    stats = tally.stats(len(items), written)
    stats.update(details_not_held=details, relations_not_held=relations)
    return Export(files=dict(sorted(files.items())), format="yolo", stats=stats)


#: Image suffixes Ultralytics reads (``ultralytics.data.utils.IMG_FORMATS``).
_IMAGE_SUFFIXES = frozenset(
    {".bmp", ".dng", ".jpeg", ".jpg", ".mpo", ".png", ".tif", ".tiff", ".webp", ".pfm", ".heic"}
)


def _image_ext(uri: str) -> str:
    """The image file suffix of an item URI (lowercased), ``.jpg`` when it has none YOLO reads."""
    name = uri.split("?", 1)[0].split("#", 1)[0].rsplit("/", 1)[-1]
    suffix = "." + name.rsplit(".", 1)[1].lower() if "." in name else ""
    return suffix if suffix in _IMAGE_SUFFIXES else ".jpg"


def _image_lists(items: Sequence[_Item], images: dict[str, str]) -> dict[str, bytes]:
    """``<split>.txt`` per split with items: its image files, one ``./images/...`` a line."""
    by_split: dict[str, list[str]] = {}
    for it in items:
        by_split.setdefault(it.split, []).append(f"./{images[it.item_id]}\n")
    return {
        f"{_split_name(s)}.txt": "".join(paths).encode("utf-8")
        for s, paths in sorted(by_split.items())
    }


def _data_yaml(names: Sequence[str], lists: Sequence[str]) -> bytes:
    """Ultralytics' dataset description: the image lists by split, ``nc`` and ``names``."""
    yaml = [
        "# YOLO dataset written by labelops. The images are not part of the export: download",
        "# each item_uri of items.json to its image_file (images/ next to labels/).",
        *(f"{name[: -len('.txt')]}: {name}" for name in lists),
        f"nc: {len(names)}",
        "names:" if names else "names: []",
        *(f"  - {_yaml_str(n)}" for n in names),
    ]
    return ("\n".join(yaml) + "\n").encode("utf-8")


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
