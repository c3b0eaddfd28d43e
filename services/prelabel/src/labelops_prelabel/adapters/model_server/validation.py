"""Validation of a model server's answer (MODEL_SERVER_PROTOCOL.md's rules): one bad item
drops that item only; a body of the wrong shape fails the whole call (``BAD_RESPONSE``)."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from typing import Any, Final

from labelops_core.errors import InvalidArgument, ViolationCollector

from .protocol import (
    BOUNDS_TOLERANCE,
    MAX_POLYGON_POINTS,
    MAX_VERSION_LENGTH,
    NO_PREDICTION,
    PROBABILITY_TOLERANCE,
    Box,
    CallError,
    Geometry,
    ItemPrediction,
    ItemRef,
    Mask,
    Polygon,
    PredictedLabel,
    PredictionResult,
    Task,
    TextSpan,
)

log = logging.getLogger("labelops_prelabel.adapters.model_server")

SNIPPET_BYTES: Final = 200
_INT32_MAX: Final = 2**31 - 1
_UINT32_MAX: Final = 2**32 - 1
_INT64_MAX: Final = 2**63 - 1
_GEOMETRY_KEYS: Final = ("box", "polygon", "mask", "text_span")


def parse_body(
    raw: bytes,
    items: Sequence[ItemRef],
    classes: frozenset[str],
    task: Task,
    attempts: int,
    *,
    max_labels_per_item: int,
    url: str,
) -> tuple[PredictionResult, bool]:
    """The result for a 200 body, and whether the call counts as a success."""

    def bad(detail: str) -> tuple[PredictionResult, bool]:
        return (
            PredictionResult(error=CallError.BAD_RESPONSE, detail=detail, attempts=attempts),
            False,
        )

    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return bad(f"body is not JSON: {snippet(raw)}")
    if not isinstance(body, dict):
        return bad(f"body is not a JSON object: {snippet(raw)}")
    version = body.get("model_version")
    if not isinstance(version, str) or not version or len(version) > MAX_VERSION_LENGTH:
        return bad(f"model_version must be a non-empty string of <= {MAX_VERSION_LENGTH}")
    preds = body.get("predictions")
    if not isinstance(preds, list):
        return bad("'predictions' is not a list")
    if len(preds) > len(items):
        return bad(f"{len(preds)} predictions for {len(items)} items")
    by_id = {item.item_id: item for item in items}
    seen: set[str] = set()
    for i, pred in enumerate(preds):
        item_id = pred.get("item_id") if isinstance(pred, dict) else None
        if not isinstance(item_id, str):
            return bad(f"predictions[{i}] is not an object with a string item_id")
        if item_id not in by_id:
            return bad(f"predictions[{i}]: item_id {_clip(item_id)!r} was not requested")
        if item_id in seen:
            return bad(f"predictions[{i}]: item_id {_clip(item_id)!r} appears twice")
        seen.add(item_id)

    predictions: dict[str, ItemPrediction] = {}
    failed: dict[str, str] = {}
    for pred in preds:
        item = by_id[pred["item_id"]]
        try:
            predictions[item.item_id] = _item(pred, item, classes, task, max_labels_per_item)
        except _Invalid as exc:
            failed[item.item_id] = str(exc)
        except Exception:  # a validator bug must not take the caller down
            log.exception("model server %s: validating %s failed", url, item.item_id)
            failed[item.item_id] = "prediction could not be validated"
    invalid = len(failed)
    for item in items:
        if item.item_id not in seen:
            failed[item.item_id] = NO_PREDICTION
    result = PredictionResult(
        model_version=version, predictions=predictions, failed=failed, attempts=attempts
    )
    # Garbage for every item it answered for: as useless as a dead server.
    return result, not (invalid and not predictions)


def _item(
    pred: dict[str, Any], item: ItemRef, classes: frozenset[str], task: Task, max_labels: int
) -> ItemPrediction:
    probs = _probabilities(pred.get("class_probabilities"), classes)
    if task is Task.CLASSIFY and not probs:
        raise _Invalid("class_probabilities: required for task classify")
    raw_labels = pred.get("labels", [])
    if raw_labels is None:
        raw_labels = []
    if not isinstance(raw_labels, list):
        raise _Invalid("labels: not a list")
    if len(raw_labels) > max_labels:
        raise _Invalid(f"labels: {len(raw_labels)} labels, at most {max_labels}")
    labels = tuple(_label(f"labels[{i}]", raw, item, classes) for i, raw in enumerate(raw_labels))
    return ItemPrediction(item_id=item.item_id, class_probabilities=probs, labels=labels)


# --- validators (raise _Invalid with "field.path: problem") ---------------------------------


class _Invalid(Exception):
    pass


def check_call(
    model: str, items: Sequence[ItemRef], classes: Sequence[str], task: Task | str
) -> Task:
    v = ViolationCollector()
    if not isinstance(model, str):
        v.add("model", "must be a string")
    try:
        parsed = Task(task)
    except ValueError:
        v.add("task", f"must be one of {', '.join(t.value for t in Task)}, got {task!r}")
        parsed = Task.CLASSIFY
    if not classes:
        v.add("classes", "at least one class is required")
    seen_classes: set[str] = set()
    for i, c in enumerate(classes):
        if not isinstance(c, str) or not c:
            v.add(f"classes[{i}]", "must be a non-empty string")
        elif c in seen_classes:
            v.add(f"classes[{i}]", f"duplicate class id {c!r}")
        seen_classes.add(c)
    seen_items: set[str] = set()
    for i, item in enumerate(items):
        if not item.item_id:
            v.add(f"items[{i}].item_id", "must not be empty")
        elif item.item_id in seen_items:
            v.add(f"items[{i}].item_id", f"duplicate item id {item.item_id!r}")
        seen_items.add(item.item_id)
        if item.width < 0 or item.height < 0:
            v.add(f"items[{i}]", "width and height must be >= 0 (0 = unknown)")
    if v:
        raise InvalidArgument("invalid model server call", v.violations)
    return parsed


def _number(path: str, v: Any) -> float:
    """A finite JSON number as float (bool is not a number here)."""
    if type(v) is not int and type(v) is not float:
        raise _Invalid(f"{path}: not a number")
    try:
        f = float(v)
    except OverflowError:
        f = math.inf
    if not math.isfinite(f):
        raise _Invalid(f"{path}: {v} is not finite")
    return f


def _integer(path: str, v: Any, lo: int, hi: int) -> int:
    """A JSON integer (or integral float) in [lo, hi]."""
    if type(v) is float and math.isfinite(v) and v.is_integer():
        v = int(v)
    if type(v) is not int:
        raise _Invalid(f"{path}: not an integer")
    if not lo <= v <= hi:
        raise _Invalid(f"{path}: {v} is outside [{lo}, {hi}]")
    return v


def _probabilities(raw: Any, classes: frozenset[str]) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _Invalid("class_probabilities: not an object")
    out: dict[str, float] = {}
    for class_id, p in raw.items():
        path = f"class_probabilities[{_clip(class_id)!r}]"
        if class_id not in classes:
            raise _Invalid(f"{path}: unknown class id")
        value = _number(path, p)
        if not 0.0 <= value <= 1.0:
            raise _Invalid(f"{path}: {value:g} is outside [0, 1]")
        out[class_id] = value
    if out:
        total = math.fsum(out.values())
        if abs(total - 1.0) > PROBABILITY_TOLERANCE:
            raise _Invalid(f"class_probabilities: sum to {total:.6g}, not 1")
    return out


def _label(path: str, raw: Any, item: ItemRef, classes: frozenset[str]) -> PredictedLabel:
    if not isinstance(raw, dict):
        raise _Invalid(f"{path}: not an object")
    class_id = raw.get("class_id")
    if not isinstance(class_id, str):
        raise _Invalid(f"{path}.class_id: not a string")
    if class_id not in classes:
        raise _Invalid(f"{path}.class_id: unknown class id {_clip(class_id)!r}")
    confidence = 0.0
    if raw.get("confidence") is not None:
        confidence = _number(f"{path}.confidence", raw["confidence"])
        if not 0.0 <= confidence <= 1.0:
            raise _Invalid(f"{path}.confidence: {confidence:g} is outside [0, 1]")
    kinds = [k for k in _GEOMETRY_KEYS if raw.get(k) is not None]
    if len(kinds) > 1:
        raise _Invalid(f"{path}: more than one geometry ({', '.join(kinds)})")
    geometry: Geometry = None
    if kinds:
        kind = kinds[0]
        gpath = f"{path}.{kind}"
        value = raw[kind]
        if kind == "box":
            geometry = _box(gpath, value, item)
        elif kind == "polygon":
            geometry = _polygon(gpath, value, item)
        elif kind == "mask":
            geometry = _mask(gpath, value, item)
        else:
            geometry = _text_span(gpath, value, item)
    return PredictedLabel(class_id=class_id, confidence=confidence, geometry=geometry)


def _limits(item: ItemRef) -> tuple[float, float]:
    hx = item.width + BOUNDS_TOLERANCE if item.width > 0 else math.inf
    hy = item.height + BOUNDS_TOLERANCE if item.height > 0 else math.inf
    return hx, hy


def _point(path: str, x: float, y: float, hx: float, hy: float) -> None:
    if x < -BOUNDS_TOLERANCE or x > hx:
        raise _Invalid(f"{path}: x {x:g} is outside the item")
    if y < -BOUNDS_TOLERANCE or y > hy:
        raise _Invalid(f"{path}: y {y:g} is outside the item")


def _box(path: str, raw: Any, item: ItemRef) -> Box:
    if not isinstance(raw, dict):
        raise _Invalid(f"{path}: not an object")
    x, y, w, h = (_number(f"{path}.{k}", raw.get(k)) for k in ("x", "y", "width", "height"))
    if w <= 0 or h <= 0:
        raise _Invalid(f"{path}: width and height must be > 0, got {w:g}x{h:g}")
    hx, hy = _limits(item)
    _point(path, x, y, hx, hy)
    if not math.isfinite(x + w):
        raise _Invalid(f"{path}: x + width overflows")
    if not math.isfinite(y + h):
        raise _Invalid(f"{path}: y + height overflows")
    if x + w > hx:
        raise _Invalid(f"{path}: right edge {x + w:g} is beyond the item width {item.width}")
    if y + h > hy:
        raise _Invalid(f"{path}: bottom edge {y + h:g} is beyond the item height {item.height}")
    return Box(x, y, w, h)


def _polygon(path: str, raw: Any, item: ItemRef) -> Polygon:
    if not isinstance(raw, list):
        raise _Invalid(f"{path}: not a list of [x, y] points")
    if not 3 <= len(raw) <= MAX_POLYGON_POINTS:
        raise _Invalid(f"{path}: {len(raw)} points, needs 3..{MAX_POLYGON_POINTS}")
    hx, hy = _limits(item)
    points: list[tuple[float, float]] = []
    for i, p in enumerate(raw):
        ppath = f"{path}[{i}]"
        if not isinstance(p, list) or len(p) != 2:
            raise _Invalid(f"{ppath}: not an [x, y] pair")
        x, y = _number(f"{ppath}[0]", p[0]), _number(f"{ppath}[1]", p[1])
        _point(ppath, x, y, hx, hy)
        points.append((x, y))
    return Polygon(tuple(points))


def _mask(path: str, raw: Any, item: ItemRef) -> Mask:
    if not isinstance(raw, dict):
        raise _Invalid(f"{path}: not an object")
    h = _integer(f"{path}.height", raw.get("height"), 1, _INT32_MAX)
    w = _integer(f"{path}.width", raw.get("width"), 1, _INT32_MAX)
    if (item.width > 0 and w != item.width) or (item.height > 0 and h != item.height):
        raise _Invalid(f"{path}: mask {w}x{h} differs from the item {item.width}x{item.height}")
    counts = raw.get("counts")
    if not isinstance(counts, list) or not counts:
        raise _Invalid(f"{path}.counts: not a non-empty list")
    if len(counts) > h * w + 1:
        raise _Invalid(f"{path}.counts: {len(counts)} runs for {h * w} pixels")
    runs = tuple(_integer(f"{path}.counts[{i}]", c, 0, _UINT32_MAX) for i, c in enumerate(counts))
    total = sum(runs)
    if total != h * w:
        raise _Invalid(f"{path}.counts: runs sum to {total}, expected height*width = {h * w}")
    return Mask(h, w, runs)


def _text_span(path: str, raw: Any, item: ItemRef) -> TextSpan:
    if not isinstance(raw, dict):
        raise _Invalid(f"{path}: not an object")
    start = _integer(f"{path}.start", raw.get("start"), 0, _INT64_MAX)
    end = _integer(f"{path}.end", raw.get("end"), 0, _INT64_MAX)
    if end <= start:
        raise _Invalid(f"{path}: end {end} must be > start {start}")
    if item.text is not None and end > len(item.text):
        raise _Invalid(f"{path}: end {end} is beyond the text length {len(item.text)}")
    return TextSpan(start, end)


# --- helpers --------------------------------------------------------------------------------


def _printable(s: str) -> str:
    """Control characters escaped: details end up in logs and Postgres text (no NUL there)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in s)


def snippet(raw: bytes) -> str:
    text = _printable(raw[:SNIPPET_BYTES].decode("utf-8", "replace"))
    return text + ("..." if len(raw) > SNIPPET_BYTES else "")


def _clip(s: str, n: int = 80) -> str:
    s = _printable(s)
    return s if len(s) <= n else s[:n] + "..."
