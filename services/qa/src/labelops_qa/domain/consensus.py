"""Consensus of one task's labels (protobuf in, protobuf out) over the pure geometry math.

What each part of an ``ItemLabels`` is agreed by:

- whole-item classification (a label with ``whole_item`` geometry): its class, by majority vote
  per task, or — in a project-wide run — by reliability-weighted vote or Dawid-Skene over the
  project's whole annotation matrix (``class_override``);
- boxes: IoU matching (Hungarian) across annotators, confidence-weighted fusion, kept when a
  strict majority drew them;
- masks (per class): pixel vote on the RLE;
- text spans: overlap matching, per-character majority;
- keypoints (per class): per-point median, scored by OKS.

Other geometries (polygons, polylines, cuboids, tracks, DICOM regions) are not fused: the
consensus carries those of the first annotator that has any, with the relations between them.
Answers and attributes of fused labels are not carried.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from labelops.labels.v1 import label_pb2 as L

from .geometry import (
    RLE,
    Box,
    Keypoints,
    Span,
    fuse_boxes,
    fuse_keypoints,
    fuse_spans,
    vote_masks,
)

FUSED_KINDS = frozenset({"whole_item", "box", "mask", "text_span", "keypoints"})

#: (annotator id, labels) of one task, in submission order.
Submissions = Sequence[tuple[str, L.ItemLabels]]


@dataclass(frozen=True)
class TaskConsensus:
    labels: L.ItemLabels
    score: float
    #: The whole-item class agreed on ("" when the task has no whole-item classification).
    class_id: str


def primary_class(labels: L.ItemLabels) -> str:
    """The class an annotator gave the item: its whole-item label's class, else the most
    frequent class among its labels ("" for no labels). Used for gold scoring, agreement and
    label-issue detection."""
    for lab in labels.labels:
        if lab.WhichOneof("geometry") == "whole_item":
            return lab.class_id
    counts = Counter(lab.class_id for lab in labels.labels)
    return min(counts, key=lambda c: (-counts[c], c)) if counts else ""


def boxes_of(labels: L.ItemLabels) -> list[Box]:
    """The item's boxes (class and geometry; confidence left at 1)."""
    return [
        Box(lab.class_id, lab.box.x, lab.box.y, lab.box.width, lab.box.height)
        for lab in labels.labels
        if lab.WhichOneof("geometry") == "box"
    ]


def _of_kind(labels: L.ItemLabels, kind: str) -> list[L.Label]:
    return [lab for lab in labels.labels if lab.WhichOneof("geometry") == kind]


class _Builder:
    """The consensus being built: its labels (ids numbered across kinds, ``c1``, ``b2``, ...)
    and one agreement score per part."""

    def __init__(self, item_id: str) -> None:
        self.out = L.ItemLabels(item_id=item_id)
        self.scores: list[float] = []
        self._ids: Iterator[int] = iter(range(1, 1_000_000))

    def add(self, prefix: str, label: L.Label) -> None:
        label.label_id = f"{prefix}{next(self._ids)}"
        self.out.labels.append(label)


def task_consensus(
    item_id: str,
    submissions: Submissions,
    *,
    class_override: tuple[str, float] | None = None,
    box_iou: Mapping[str, float] | float = 0.5,
) -> TaskConsensus:
    """Consensus of ``submissions`` ((annotator id, labels) in submission order).

    ``class_override``: (class, score) of the whole-item classification decided elsewhere
    (a project-wide weighted vote or Dawid-Skene); else majority vote within the task.
    """
    b = _Builder(item_id)
    n = len(submissions)
    class_id = _whole_item(b, submissions, class_override)
    _boxes(b, submissions, box_iou)
    _masks(b, submissions)
    _spans(b, submissions)
    _keypoints(b, submissions)
    _unfused(b, submissions)
    score = float(np.mean(b.scores)) if b.scores else (1.0 if n else 0.0)
    return TaskConsensus(b.out, score, class_id)


def _whole_item(
    b: _Builder, submissions: Submissions, class_override: tuple[str, float] | None
) -> str:
    votes = [primary_class(s) for _, s in submissions if _of_kind(s, "whole_item")]
    class_id = ""
    if class_override is not None:
        class_id, score = class_override
    elif votes:
        counts = Counter(votes)
        class_id = min(counts, key=lambda c: (-counts[c], c))
        score = counts[class_id] / len(submissions)
    if class_id:
        b.add("c", L.Label(class_id=class_id, whole_item=L.WholeItem()))
        b.scores.append(score)
    return class_id


def _boxes(b: _Builder, submissions: Submissions, box_iou: Mapping[str, float] | float) -> None:
    per_annotator = [
        [
            Box(
                lab.class_id,
                lab.box.x,
                lab.box.y,
                lab.box.width,
                lab.box.height,
                lab.confidence or 1.0,
            )
            for lab in _of_kind(s, "box")
        ]
        for _, s in submissions
    ]
    if not any(per_annotator):
        return
    fused = fuse_boxes(per_annotator, iou_threshold=box_iou)
    for f in fused:
        b.add(
            "b",
            L.Label(
                class_id=f.class_id,
                box=L.BoundingBox(x=f.x, y=f.y, width=f.w, height=f.h),
                confidence=f.score,
            ),
        )
    drawn = max(len(x) for x in per_annotator)
    # Agreement on boxes: fused boxes' scores, penalised for objects without a majority.
    b.scores.append(
        float(np.mean([f.score for f in fused])) * min(1.0, len(fused) / drawn) if fused else 0.0
    )


def _masks(b: _Builder, submissions: Submissions) -> None:
    masks: dict[str, list[RLE]] = {}
    for _, s in submissions:
        for lab in _of_kind(s, "mask"):
            m = lab.mask
            masks.setdefault(lab.class_id, []).append(
                RLE(m.height, m.width, tuple(int(c) for c in m.counts))
            )
    for cls in sorted(masks):
        if len(masks[cls]) * 2 <= len(submissions):
            continue  # a minority drew this class at all
        rle, score = vote_masks(masks[cls])
        b.add(
            "m",
            L.Label(
                class_id=cls,
                mask=L.Mask(height=rle.height, width=rle.width, counts=list(rle.counts)),
            ),
        )
        b.scores.append(score)


def _spans(b: _Builder, submissions: Submissions) -> None:
    spans = [
        [
            Span(lab.class_id, lab.text_span.start, lab.text_span.end)
            for lab in _of_kind(s, "text_span")
        ]
        for _, s in submissions
    ]
    if not any(spans):
        return
    fused = fuse_spans(spans)
    for fs in fused:
        b.add(
            "s",
            L.Label(
                class_id=fs.class_id,
                text_span=L.TextSpan(start=fs.start, end=fs.end),
                confidence=fs.score,
            ),
        )
    b.scores.append(float(np.mean([fs.score for fs in fused])) if fused else 0.0)


def _keypoints(b: _Builder, submissions: Submissions) -> None:
    """Per class, one instance per annotator and class."""
    kps: dict[str, list[Keypoints]] = {}
    areas: dict[str, list[float]] = {}
    for _, s in submissions:
        for lab in _of_kind(s, "keypoints"):
            pts = np.array([[p.x, p.y, p.visibility] for p in lab.keypoints.points], float)
            if len(pts):
                kps.setdefault(lab.class_id, []).append(Keypoints(pts))
                vis = pts[pts[:, 2] > 0]
                extent = np.ptp(vis[:, :2], axis=0) if len(vis) else np.zeros(2)
                areas.setdefault(lab.class_id, []).append(float(max(extent[0] * extent[1], 1.0)))
    for cls in sorted(kps):
        group = kps[cls]
        if len(group) * 2 <= len(submissions) or len({len(k.points) for k in group}) != 1:
            continue
        fused, score = fuse_keypoints(group, area=float(np.median(areas[cls])))
        points = [L.Keypoint(x=float(x), y=float(y), visibility=int(v)) for x, y, v in fused.points]
        b.add("k", L.Label(class_id=cls, keypoints=L.Keypoints(points=points)))
        b.scores.append(score)


def _unfused(b: _Builder, submissions: Submissions) -> None:
    """Everything else: from the first annotator that has any (ids and relations kept)."""
    for _, s in submissions:
        rest = [lab for lab in s.labels if lab.WhichOneof("geometry") not in FUSED_KINDS]
        if rest:
            b.out.labels.extend(rest)
            keep = {lab.label_id for lab in rest}
            b.out.relations.extend(
                r for r in s.relations if r.from_label_id in keep and r.to_label_id in keep
            )
            return
