"""Consensus of geometric labels drawn by several annotators on one item (pure numpy / scipy).

``application/consensus.py`` converts protobuf labels into the plain values below and back;
nothing here knows about protobuf, I/O or the clock.

Public API
----------
- Boxes: ``Box``, ``FusedBox``, ``iou_matrix``, ``fuse_boxes``, ``box_agreement``.
- Masks: ``RLE``, ``rle_encode``, ``rle_decode``, ``mask_iou``, ``vote_masks``.
- Text spans: ``Span``, ``FusedSpan``, ``fuse_spans``.
- Keypoints: ``Keypoints``, ``oks``, ``fuse_keypoints``, ``COCO_PERSON_SIGMAS``.

Conventions
-----------
- Boxes are COCO ``xywh``: (x, y) is the top-left corner, w and h the size, in pixels.
- Masks are *uncompressed* COCO RLE: run lengths over the **column-major** (Fortran order)
  flattened H x W mask, alternating 0-runs and 1-runs and **starting with a 0-run** (of length
  0 when the first pixel is on). The 2 x 2 mask ``[[0, 1], [1, 1]]`` flattens to 0, 1, 1, 1 and
  encodes as ``counts=(1, 3)``.
- Text spans are half-open character offsets ``[start, end)``.
- Keypoints are COCO triples (x, y, v): v = 0 not labeled, 1 labeled but occluded, 2 visible.

Matching and fusion
-------------------
Boxes and spans are clustered the same way: annotator by annotator (in the order given), the
annotator's labels are matched to the clusters built so far by the Hungarian algorithm
(``scipy.optimize.linear_sum_assignment``), maximising the summed similarity (IoU for boxes,
Jaccard over character offsets for spans) between each label and the cluster's current centroid.
Only pairs of the same class whose similarity reaches the threshold may be matched; a label that
is not matched opens a new cluster. Because an assignment is one-to-one and an annotator's
unmatched labels each open their *own* cluster, a cluster never holds two labels of one
annotator, so its size is the number of annotators that drew the object (its *support*).

Matching against running centroids depends on the annotators' order: if the first two
annotators' boxes of one object overlap a little less than the threshold, they open two
clusters, and the later annotators split between them. A final merge pass repairs that: while
two clusters of one class with *disjoint* annotators have centroids at or above the threshold,
the most similar such pair is merged (what a different order would have matched). Clusters that
share an annotator are never merged, so the one-label-per-annotator rule still holds.

A cluster is kept when ``support >= min_support``; the default is a strict majority of *all*
annotators, ``n // 2 + 1``, counting those that drew nothing (they said "no object here").
The same strict-majority rule decides ties everywhere in this module: half is not a majority.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

__all__ = [
    "COCO_PERSON_SIGMAS",
    "DEFAULT_IOU_THRESHOLD",
    "RLE",
    "Box",
    "FusedBox",
    "FusedSpan",
    "Keypoints",
    "Span",
    "box_agreement",
    "fuse_boxes",
    "fuse_keypoints",
    "fuse_spans",
    "iou_matrix",
    "mask_iou",
    "oks",
    "rle_decode",
    "rle_encode",
    "vote_masks",
]

#: IoU a box pair needs to match when the threshold mapping names neither its class nor "*".
DEFAULT_IOU_THRESHOLD: Final = 0.5

#: Per-keypoint OKS sigmas of the 17 COCO person keypoints (nose, eyes, ears, shoulders,
#: elbows, wrists, hips, knees, ankles), from the COCO evaluation code. Read-only.
COCO_PERSON_SIGMAS: Final = (
    np.array(
        [
            *(0.26, 0.25, 0.25, 0.35, 0.35),  # nose, eyes, ears
            *(0.79, 0.79, 0.72, 0.72, 0.62, 0.62),  # shoulders, elbows, wrists
            *(1.07, 1.07, 0.87, 0.87, 0.89, 0.89),  # hips, knees, ankles
        ]
    )
    / 10.0
)
COCO_PERSON_SIGMAS.flags.writeable = False

#: Sigma of every keypoint of a skeleton that is not the 17-point COCO person.
_DEFAULT_SIGMA: Final = 0.05

#: Slack for comparisons against thresholds: IoU, Jaccard and weighted vote shares are computed
#: in floating point, and an exact tie (identical boxes at threshold 1.0, two of four votes at
#: 0.5) must not flip on the last bit of round-off.
_EPS: Final = 1e-9

#: (annotator index, label index) pairs of one cluster, in annotator order.
_Cluster = list[tuple[int, int]]


# --- shared matching machinery ------------------------------------------------------------------


def _assign(sim: np.ndarray, valid: np.ndarray) -> list[tuple[int, int]]:
    """Maximum-similarity one-to-one matching restricted to ``valid`` pairs (Hungarian).

    Forbidden pairs get similarity 0 and are dropped afterwards. That is exact, not a
    heuristic: every valid pair has a positive similarity (thresholds are > 0), so removing the
    forbidden pairs from an optimal assignment leaves an optimal matching of the valid ones.
    """
    if not valid.any():
        return []
    rows, cols = linear_sum_assignment(np.where(valid, sim, 0.0), maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if valid[r, c]]


@dataclass(frozen=True)
class _Labels:
    """Every annotator's labels of one kind, in the form the clustering works on."""

    #: Per annotator, one row per label: box corners (x1, y1, x2, y2) or span (start, end).
    vectors: list[np.ndarray]
    #: Per annotator, each label's weight in its cluster's centroid.
    weights: list[np.ndarray]
    classes: list[list[str]]
    #: Pairwise similarity of two stacks of vectors (IoU, Jaccard), in [0, 1].
    similarity: Callable[[np.ndarray, np.ndarray], np.ndarray]
    #: Class -> the similarity a pair of that class needs to match (> 0).
    threshold: Callable[[str], float]

    def centroid(self, cluster: _Cluster) -> np.ndarray:
        pts = np.stack([self.vectors[a][i] for a, i in cluster])
        return _weighted_mean(pts, np.array([self.weights[a][i] for a, i in cluster]))

    def class_of(self, cluster: _Cluster) -> str:
        a, i = cluster[0]
        return self.classes[a][i]

    def allowed(self, sim: np.ndarray, rows: Sequence[str], cols: Sequence[str]) -> np.ndarray:
        """Pairs of the same class whose similarity reaches that class's threshold."""
        same = np.array(rows, dtype=object)[:, None] == np.array(cols, dtype=object)[None, :]
        need = np.array([self.threshold(c) for c in rows], dtype=np.float64).reshape(-1, 1)
        return np.asarray(same & (sim >= need - _EPS), dtype=bool)


def _cluster(labels: _Labels) -> list[_Cluster]:
    """Cluster labels across annotators, at most one label per annotator per cluster.

    Annotator by annotator, Hungarian matching against the current centroids; then the merge
    pass (module docstring). Members are listed in annotator order.
    """
    clusters: list[_Cluster] = []
    for a, vectors in enumerate(labels.vectors):
        if len(vectors) == 0:
            continue
        matched: set[int] = set()
        if clusters:
            centroids = np.stack([labels.centroid(c) for c in clusters])
            sim = labels.similarity(vectors, centroids)
            valid = labels.allowed(sim, labels.classes[a], [labels.class_of(c) for c in clusters])
            for row, col in _assign(sim, valid):
                clusters[col].append((a, row))
                matched.add(row)
        # Each unmatched label opens its own cluster; the next annotator is matched against it.
        clusters.extend([[(a, i)] for i in range(len(vectors)) if i not in matched])
    return _merge(labels, clusters)


def _merge(labels: _Labels, clusters: list[_Cluster]) -> list[_Cluster]:
    """Merge clusters of one class with disjoint annotators whose centroids match, best first.

    The similarity matrix of the centroids is computed once; a merge only recomputes the row of
    the merged cluster, so the pass costs one C x C matrix plus O(C) per merge.
    """
    k = len(clusters)
    if k < 2:
        return clusters
    classes = [labels.class_of(c) for c in clusters]
    centroids = np.stack([labels.centroid(c) for c in clusters])
    who = np.zeros((k, len(labels.vectors)), dtype=np.int64)  # cluster x annotator membership
    for c, cluster in enumerate(clusters):
        who[c, [a for a, _ in cluster]] = 1
    sim = labels.similarity(centroids, centroids)
    ok = labels.allowed(sim, classes, classes) & (who @ who.T == 0)
    ok = np.triu(ok, 1)  # each unordered pair once (and never a cluster with itself)
    while True:
        best = np.where(ok, sim, -1.0)
        i, j = divmod(int(np.argmax(best)), k)  # i < j; ties: first in row-major order
        if best[i, j] < 0.0:
            break
        clusters[i] = sorted(clusters[i] + clusters[j])
        clusters[j] = []
        who[i] += who[j]
        who[j] = 0
        centroids[i] = labels.centroid(clusters[i])
        row = labels.similarity(centroids[i : i + 1], centroids)[0]
        sim[i, :] = sim[:, i] = row
        ok[j, :] = ok[:, j] = ok[i, :] = ok[:, i] = False
        alive = who.sum(axis=1) > 0
        again = labels.allowed(row[None, :], [classes[i]], classes)[0] & (who @ who[i] == 0)
        again &= alive
        again[i] = False
        for other in np.flatnonzero(again):
            ok[min(i, other), max(i, other)] = True
    return [c for c in clusters if c]


def _default_support(n: int, min_support: int | None) -> int:
    if min_support is None:
        return n // 2 + 1  # strict majority: half of the annotators is not enough
    if min_support < 1:
        raise ValueError(f"min_support must be >= 1, got {min_support}")
    return min_support


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean over axis 0; plain mean when all weights are 0 (nothing to prefer)."""
    total = float(weights.sum())
    if total <= 0.0:
        return np.asarray(values.mean(axis=0))
    return np.asarray(weights @ values / total)


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
    object). Boxes are clustered as described in the module docstring, each annotator's boxes
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


# --- masks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RLE:
    """Uncompressed COCO RLE of an ``height x width`` mask (see the module docstring).

    ``counts`` must sum to ``height * width``; runs alternate off/on starting with off.
    """

    height: int
    width: int
    counts: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.height < 0 or self.width < 0:
            raise ValueError(f"mask size must be >= 0, got {self.height} x {self.width}")
        # Checked in numpy, not per run in Python: a noisy mask can have millions of runs.
        arr = np.asarray(self.counts)
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise ValueError("RLE counts must be a sequence of integers")
        if arr.size and int(arr.min()) < 0:
            raise ValueError("RLE counts must be >= 0")
        total = int(arr.sum(dtype=np.int64))
        if total != self.height * self.width:
            pixels = self.height * self.width
            raise ValueError(f"RLE counts sum to {total}, the mask has {pixels} pixels")
        # Normalise lists/arrays to a tuple of ints so equal masks compare and hash equal.
        object.__setattr__(self, "counts", tuple(arr.tolist()))


def _decode_flat(rle: RLE) -> np.ndarray:
    """The mask as a column-major flat bool vector (what the counts describe)."""
    values = np.zeros(len(rle.counts), dtype=bool)
    values[1::2] = True  # runs alternate off, on, off, ...
    return np.repeat(values, np.asarray(rle.counts, dtype=np.int64))


def rle_decode(rle: RLE) -> np.ndarray:
    """The ``height x width`` bool mask of ``rle``."""
    return _decode_flat(rle).reshape((rle.height, rle.width), order="F")


def rle_encode(mask: npt.ArrayLike) -> RLE:
    """Uncompressed COCO RLE of a 2-D mask (non-zero = on).

    Run boundaries are where the column-major flattened mask changes value (``np.diff``), so
    the cost is a few vectorized passes, with no Python loop over pixels or runs.
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {m.shape}")
    height, width = m.shape
    flat = (m != 0).ravel(order="F")
    if flat.size == 0:
        return RLE(height, width, ())
    change = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    counts = np.diff(np.concatenate(([0], change, [flat.size])))
    if flat[0]:
        counts = np.concatenate(([0], counts))  # COCO RLE always starts with an off-run
    return RLE(height, width, tuple(counts.tolist()))


def _same_shape(masks: Sequence[RLE]) -> None:
    shapes = {(m.height, m.width) for m in masks}
    if len(shapes) > 1:
        raise ValueError(f"masks must all have the same size, got {sorted(shapes)}")


def _iou_flat(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    # Two empty masks say the same thing ("nothing here"): full agreement, not 0/0.
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


def mask_iou(a: RLE, b: RLE) -> float:
    """IoU of two masks of the same size; 1.0 when both are empty."""
    _same_shape([a, b])
    return _iou_flat(_decode_flat(a), _decode_flat(b))


def vote_masks(
    masks: Sequence[RLE],
    *,
    threshold: float = 0.5,
    weights: Sequence[float] | None = None,
) -> tuple[RLE, float]:
    """Pixel-vote consensus of several annotators' masks of one object class.

    A pixel is on when the weighted share of annotators marking it is **strictly greater**
    than ``threshold``, or when it is unanimous. So the default 0.5 is a strict majority and an
    exact tie (2 of 4 equal votes) is *off*; ``threshold=0`` is the union and ``threshold=1``
    the intersection. ``weights`` (>= 0, not all 0; default equal) weigh each mask's vote.

    Returns the consensus mask and the mean IoU of the input masks with it (unweighted: it
    measures how well the annotators agree, not how much each is trusted).
    """
    if not masks:
        raise ValueError("vote_masks needs at least one mask")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must lie in [0, 1], got {threshold}")
    _same_shape(masks)
    w = np.ones(len(masks)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(masks),):
        raise ValueError(f"need one weight per mask ({len(masks)}), got shape {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError("weights must be finite, >= 0 and not all 0")
    flats = [_decode_flat(m) for m in masks]
    votes = np.zeros(flats[0].size)
    for wi, flat in zip(w, flats, strict=True):  # a loop over annotators, not pixels
        votes[flat] += wi
    total = float(w.sum())
    on = (votes > (threshold + _EPS) * total) | (votes >= (1.0 - _EPS) * total)
    first = masks[0]
    result = rle_encode(on.reshape((first.height, first.width), order="F"))
    score = float(np.mean([_iou_flat(flat, on) for flat in flats]))
    return result, score


# --- text spans ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """A labelled text span: half-open character offsets ``[start, end)``."""

    class_id: str
    start: int
    end: int

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"span end must be >= start: {self}")


@dataclass(frozen=True)
class FusedSpan:
    """A consensus span. ``score``: mean Jaccard of the members with the fused span times the
    support fraction ``support / n_annotators`` (like ``FusedBox.score``)."""

    class_id: str
    start: int
    end: int
    support: int
    score: float


def _jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise Jaccard over character offsets of intervals (N x 2, M x 2 of start, end)."""
    inter = np.clip(
        np.minimum(a[:, None, 1], b[None, :, 1]) - np.maximum(a[:, None, 0], b[None, :, 0]),
        0.0,
        None,
    )
    union = (a[:, 1] - a[:, 0])[:, None] + (b[:, 1] - b[:, 0])[None, :] - inter
    # Empty spans cover no character: Jaccard 0, so they never match.
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _intervals(spans: Sequence[Span]) -> np.ndarray:
    return np.array([(s.start, s.end) for s in spans], dtype=np.float64).reshape(-1, 2)


def _majority_span(members: np.ndarray) -> tuple[int, int]:
    """Fused [start, end) of a cluster's intervals (K x 2) by per-character majority.

    Characters covered by strictly more than half of the members are on; the fused span runs
    from the first to the last of them (a span is contiguous, so an interior gap is bridged).
    When no character has a strict majority (an even split, possible because members only had
    to overlap the cluster's centroid, not each other), the most-covered characters are used
    instead, and when no member covers any character (all empty), the median start and end.
    """
    starts, ends = members[:, 0].astype(np.int64), members[:, 1].astype(np.int64)
    lo, hi = int(starts.min()), int(ends.max())
    # Coverage count per character in [lo, hi) from +1 / -1 events at starts / ends.
    delta = np.zeros(hi - lo + 1, dtype=np.int64)
    np.add.at(delta, starts - lo, 1)
    np.add.at(delta, ends - lo, -1)
    cover = np.cumsum(delta)[:-1]
    if cover.size == 0 or cover.max() == 0:
        return int(np.median(starts)), int(np.median(ends))
    on = np.flatnonzero(2 * cover > len(members))
    if on.size == 0:
        on = np.flatnonzero(cover == cover.max())
    return lo + int(on[0]), lo + int(on[-1]) + 1


def fuse_spans(
    annotations: Sequence[Sequence[Span]],
    *,
    min_overlap: float = 0.5,
    min_support: int | None = None,
) -> list[FusedSpan]:
    """Consensus text spans of several annotators' spans on one item.

    Clustered like boxes (module docstring): annotator by annotator, Hungarian matching on the
    Jaccard index over character offsets against each cluster's centroid (mean start, mean
    end of its members), same class only, Jaccard >= ``min_overlap``, then the merge pass.
    Clusters with at least ``min_support`` members (default: strict majority of all
    annotators) are fused by per-character majority (see ``_majority_span``: strict majority
    of the cluster's members, the first to the last such character). Sorted by start, end,
    class.
    """
    if not 0.0 < min_overlap <= 1.0:
        raise ValueError(f"min_overlap must lie in (0, 1], got {min_overlap}")
    n = len(annotations)
    need = _default_support(n, min_support)
    labels = _Labels(
        vectors=[_intervals(spans) for spans in annotations],
        weights=[np.ones(len(spans)) for spans in annotations],
        classes=[[s.class_id for s in spans] for spans in annotations],
        similarity=_jaccard,
        threshold=lambda cls: min_overlap,
    )
    fused: list[FusedSpan] = []
    for cluster in _cluster(labels):
        if len(cluster) < need:
            continue
        members = np.stack([labels.vectors[a][i] for a, i in cluster])
        start, end = _majority_span(members)
        agreement = float(_jaccard(members, np.array([[start, end]], dtype=np.float64)).mean())
        fused.append(
            FusedSpan(
                class_id=labels.class_of(cluster),
                start=start,
                end=end,
                support=len(cluster),
                score=agreement * len(cluster) / n,
            )
        )
    fused.sort(key=lambda f: (f.start, f.end, f.class_id))
    return fused


# --- keypoints ---------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Keypoints:
    """One annotator's keypoints of one object: a P x 3 array of COCO (x, y, v).

    The array is copied to float64 and made read-only, so the instance is really frozen.
    ``eq=False``: equality is identity (a generated ``==`` would compare arrays ambiguously);
    compare ``points`` with numpy instead. Coordinates of points with v = 0 are ignored.
    """

    points: np.ndarray

    def __post_init__(self) -> None:
        pts = np.array(self.points, dtype=np.float64)  # a copy: the caller's array may change
        if pts.ndim != 2 or pts.shape[1] != 3:
            raise ValueError(f"keypoints must be P x 3 (x, y, v), got shape {pts.shape}")
        v = pts[:, 2]
        if not np.isin(v, (0.0, 1.0, 2.0)).all():
            raise ValueError("keypoint visibility must be 0, 1 or 2")
        if not np.isfinite(pts[v > 0, :2]).all():
            raise ValueError("labeled keypoints must have finite coordinates")
        pts.flags.writeable = False
        object.__setattr__(self, "points", pts)


def _sigmas(p: int, sigmas: npt.ArrayLike | None) -> np.ndarray:
    if sigmas is None:
        return COCO_PERSON_SIGMAS if p == len(COCO_PERSON_SIGMAS) else np.full(p, _DEFAULT_SIGMA)
    s = np.asarray(sigmas, dtype=np.float64)
    if s.shape != (p,) or not np.isfinite(s).all() or (s <= 0).any():
        raise ValueError(f"sigmas must be {p} positive numbers, got {s!r}")
    return s


def _check_area(area: float) -> None:
    # OKS divides by the area (the object scale s^2): it must be a real, positive size.
    if not (math.isfinite(area) and area > 0):
        raise ValueError(f"area must be finite and > 0, got {area}")


def _oks(a: np.ndarray, b: np.ndarray, area: float, sigmas: np.ndarray) -> float:
    """OKS of two P x 3 arrays (validated elsewhere)."""
    va, vb = a[:, 2] > 0, b[:, 2] > 0
    both = va & vb
    if not both.any():
        # Nothing to compare: agreement only if neither labeled anything.
        return 0.0 if (va.any() or vb.any()) else 1.0
    d2 = np.sum((a[both, :2] - b[both, :2]) ** 2, axis=1)
    # COCO: e = d^2 / (2 s^2 k^2) with s^2 = area and k = 2 sigma.
    e = d2 / ((2.0 * sigmas[both]) ** 2) / area / 2.0
    return float(np.mean(np.exp(-e)))


def oks(a: Keypoints, b: Keypoints, *, area: float, sigmas: npt.ArrayLike | None = None) -> float:
    """Object keypoint similarity (COCO) of two annotations of one object, in [0, 1].

    ``OKS = mean_i exp(-d_i^2 / (2 * area * (2 sigma_i)^2))`` over the points labeled (v > 0)
    in **both** annotations. COCO's evaluation averages over the points labeled in the ground
    truth; between two annotators neither is ground truth, so the symmetric choice is made,
    and OKS measures localisation only (disagreement on visibility is not penalised here; the
    fusion settles it by vote). When no point is labeled in both: 1.0 if neither labeled any
    point, else 0.0. ``area`` is the object's area (COCO's s^2, e.g. its segment or box area).
    ``sigmas``: per-point; default the 17 COCO person sigmas when P == 17, else 0.05 each.
    """
    if a.points.shape != b.points.shape:
        raise ValueError(f"keypoint sets differ in size: {a.points.shape} vs {b.points.shape}")
    _check_area(area)
    return _oks(a.points, b.points, area, _sigmas(len(a.points), sigmas))


def _fuse_points(stack: np.ndarray) -> np.ndarray:
    """Fuse K x P x 3 annotations: per-point median of labeled coordinates, majority visibility.

    A point is labeled in the result when strictly more than half of the K annotations label it
    (v > 0); it is then visible (v = 2) unless more of its labels say occluded (v = 1), since a
    tie means someone saw it. Unlabeled points are (0, 0, 0), as in COCO.
    """
    k = stack.shape[0]
    v = stack[:, :, 2]
    labeled = v > 0
    n_labeled = labeled.sum(axis=0)
    keep = 2 * n_labeled > k
    vis = np.where((v == 2).sum(axis=0) >= (v == 1).sum(axis=0), 2.0, 1.0)
    xy = np.where(labeled[:, :, None], stack[:, :, :2], np.nan)
    # Points nobody labeled would make nanmedian warn about an all-NaN slice; they end up
    # unlabeled anyway, so give them a dummy value.
    xy[:, n_labeled == 0, :] = 0.0
    med = np.nanmedian(xy, axis=0)
    med[~keep] = 0.0
    return np.concatenate([med, np.where(keep, vis, 0.0)[:, None]], axis=1)


def fuse_keypoints(
    annotations: Sequence[Keypoints],
    *,
    area: float,
    sigmas: npt.ArrayLike | None = None,
    min_oks: float = 0.5,
) -> tuple[Keypoints, float]:
    """Consensus keypoints of several annotators' keypoints of one object (same skeleton).

    Each point's coordinates are the per-coordinate median over the annotations that labeled
    it (robust to one annotator clicking the wrong joint); it is labeled when a strict majority
    labeled it (see ``_fuse_points``). Then annotations whose OKS with that consensus is below
    ``min_oks`` (a wrong object, a mirrored skeleton) are left out and the consensus is
    recomputed from the rest, once; if none reaches ``min_oks`` all are kept.

    Returns the consensus and its score: the mean OKS of **all** annotations with it, so
    outliers lower the score even though they no longer move the points.
    """
    if not annotations:
        raise ValueError("fuse_keypoints needs at least one annotation")
    if len({k.points.shape for k in annotations}) != 1:
        raise ValueError("all keypoint annotations must have the same number of points")
    if not 0.0 <= min_oks <= 1.0:
        raise ValueError(f"min_oks must lie in [0, 1], got {min_oks}")
    _check_area(area)
    stack = np.stack([k.points for k in annotations])
    sig = _sigmas(stack.shape[1], sigmas)

    fused = _fuse_points(stack)
    scores = np.array([_oks(pts, fused, area, sig) for pts in stack])
    inliers = scores >= min_oks - _EPS
    if 0 < inliers.sum() < len(stack):
        fused = _fuse_points(stack[inliers])
        scores = np.array([_oks(pts, fused, area, sig) for pts in stack])
    return Keypoints(fused), float(scores.mean())
