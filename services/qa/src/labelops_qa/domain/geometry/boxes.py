"""Boxes: IoU, fusion by clustering, and agreement between annotators (COCO ``xywh``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from ._matching import _assign, _cluster, _default_support, _Labels

#: IoU a box pair needs to match when the threshold mapping names neither its class nor "*".
DEFAULT_IOU_THRESHOLD: Final = 0.5


# --- boxes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    """One annotator's bounding box: class, COCO ``xywh`` and the annotator's confidence.

    ``confidence`` (>= 0) weighs the box's coordinates in fusion; it does not affect matching.
    """

    class_id: str
    x: float
    y: float
    w: float
    h: float
    confidence: float = 1.0

    def __post_init__(self) -> None:
        # A NaN coordinate would silently poison every IoU and centroid it touches.
        if not all(math.isfinite(v) for v in (self.x, self.y, self.w, self.h, self.confidence)):
            raise ValueError(f"box values must be finite: {self}")
        if self.w < 0 or self.h < 0:
            raise ValueError(f"box width and height must be >= 0: {self}")
        if self.confidence < 0:
            raise ValueError(f"box confidence must be >= 0: {self}")


@dataclass(frozen=True)
class FusedBox:
    """A consensus box.

    ``score`` is the cluster's agreement in [0, 1]: the mean IoU of its member boxes with the
    fused box, times the support fraction ``support / n_annotators``. So a box every annotator
    drew identically scores 1; one drawn by 2 of 3 annotators scores at most 2/3.
    ``members`` are the (annotator index, box index) pairs fused into it, in annotator order.
    """

    class_id: str
    x: float
    y: float
    w: float
    h: float
    score: float
    support: int
    members: tuple[tuple[int, int], ...]


def _corners(boxes: Sequence[Box]) -> np.ndarray:
    """N x 4 array of (x1, y1, x2, y2)."""
    xywh = np.array([(b.x, b.y, b.w, b.h) for b in boxes], dtype=np.float64).reshape(-1, 4)
    return np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)


def _iou_corners(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of two corner arrays (N x 4, M x 4) -> N x M, by broadcasting."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0.0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    # Two degenerate (zero-area) boxes have no union: IoU 0, so they never match anything.
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def iou_matrix(a: Sequence[Box], b: Sequence[Box]) -> np.ndarray:
    """Pairwise IoU, ``len(a) x len(b)`` float64, computed without Python loops over pairs.

    Purely geometric: classes are ignored here (``fuse_boxes`` only matches the same class).
    Zero-area boxes have IoU 0 with everything, including themselves.
    """
    return _iou_corners(_corners(a), _corners(b))


def _thresholds(iou_threshold: Mapping[str, float] | float) -> Callable[[str], float]:
    """Class -> IoU threshold. A mapping's "*" entry is the default for unnamed classes."""

    def check(t: float) -> float:
        # 0 would let boxes that do not overlap at all match; > 1 would match nothing.
        if not 0.0 < t <= 1.0:
            raise ValueError(f"IoU thresholds must lie in (0, 1], got {t}")
        return float(t)

    if isinstance(iou_threshold, Mapping):
        table = {str(k): check(v) for k, v in iou_threshold.items()}
        default = table.get("*", DEFAULT_IOU_THRESHOLD)
        return lambda cls: table.get(cls, default)
    single = check(iou_threshold)
    return lambda cls: single


def _box_labels(
    annotations: Sequence[Sequence[Box]], iou_threshold: Mapping[str, float] | float
) -> _Labels:
    return _Labels(
        vectors=[_corners(boxes) for boxes in annotations],
        weights=[
            np.array([b.confidence for b in boxes], dtype=np.float64) for boxes in annotations
        ],
        classes=[[b.class_id for b in boxes] for boxes in annotations],
        similarity=_iou_corners,
        threshold=_thresholds(iou_threshold),
    )


def fuse_boxes(
    annotations: Sequence[Sequence[Box]],
    *,
    iou_threshold: Mapping[str, float] | float = DEFAULT_IOU_THRESHOLD,
    min_support: int | None = None,
) -> list[FusedBox]:
    """Consensus boxes of several annotators' boxes on one item.

    ``annotations[a]`` are annotator a's boxes (an empty list counts: that annotator saw no
    object). Boxes are clustered as described in the package docstring, each annotator's boxes
    matched against the clusters' current centroids (the confidence-weighted mean box of their
    members) at IoU >= the class's threshold, then split clusters merged. ``iou_threshold`` is
    one value or a mapping class -> threshold whose "*" key is the default (0.5 when absent).

    Each cluster with at least ``min_support`` members (default: strict majority of all
    annotators, ``n // 2 + 1``) becomes a ``FusedBox`` whose coordinates are the
    confidence-weighted mean of its members' (equivalently: of their corners; plain mean when
    all confidences are 0). Sorted by class, then y, then x (then h, w, members), so the
    result does not depend on cluster creation order.
    """
    n = len(annotations)
    need = _default_support(n, min_support)
    labels = _box_labels(annotations, iou_threshold)
    fused: list[FusedBox] = []
    for cluster in _cluster(labels):
        if len(cluster) < need:
            continue
        box = labels.centroid(cluster)
        members = np.stack([labels.vectors[a][i] for a, i in cluster])
        mean_iou = float(_iou_corners(members, box[None, :]).mean())
        x1, y1, x2, y2 = (float(v) for v in box)
        fused.append(
            FusedBox(
                class_id=labels.class_of(cluster),
                x=x1,
                y=y1,
                w=x2 - x1,
                h=y2 - y1,
                score=mean_iou * len(cluster) / n,
                support=len(cluster),
                members=tuple(cluster),
            )
        )
    fused.sort(key=lambda f: (f.class_id, f.y, f.x, f.h, f.w, f.members))
    return fused


def box_agreement(
    annotations: Sequence[Sequence[Box]],
    iou_threshold: Mapping[str, float] | float = DEFAULT_IOU_THRESHOLD,
) -> float:
    """Mean pairwise F1 between annotators' boxes, in [0, 1] (1 - it measures ambiguity).

    For each pair of annotators, boxes are matched one-to-one (Hungarian on IoU, same class,
    IoU >= the class's threshold, as in ``fuse_boxes``); F1 = 2 * matches / (|A| + |B|). Two
    annotators who both drew nothing agree (F1 = 1). With fewer than two annotators there is no
    pair that could disagree and the result is 1.0.
    """
    labels = _box_labels(annotations, iou_threshold)
    f1: list[float] = []
    for i in range(len(annotations)):
        for j in range(i + 1, len(annotations)):
            total = len(annotations[i]) + len(annotations[j])
            sim = _iou_corners(labels.vectors[i], labels.vectors[j])
            matches = len(_assign(sim, labels.allowed(sim, labels.classes[i], labels.classes[j])))
            f1.append(1.0 if total == 0 else 2.0 * matches / total)
    return float(np.mean(f1)) if f1 else 1.0
