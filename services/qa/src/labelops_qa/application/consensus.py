"""Consensus of one task's labels (protobuf in, protobuf out) over the pure domain math.

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
consensus carries those of the annotator whose other labels agree best with the consensus
(the first annotator when nothing else can tell). Answers and attributes of fused labels come
from the member with the highest confidence.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from labelops.labels.v1 import label_pb2 as L

from ..domain.geometry import (
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


def _of_kind(labels: L.ItemLabels, kind: str) -> list[L.Label]:
    return [lab for lab in labels.labels if lab.WhichOneof("geometry") == kind]


def task_consensus(
    item_id: str,
    submissions: Sequence[tuple[str, L.ItemLabels]],
    *,
    class_override: tuple[str, float] | None = None,
    box_iou: Mapping[str, float] | float = 0.5,
) -> TaskConsensus:
    """Consensus of ``submissions`` ((annotator id, labels) in submission order).

    ``class_override``: (class, score) of the whole-item classification decided elsewhere
    (a project-wide weighted vote or Dawid-Skene); else majority vote within the task.
    """
    out = L.ItemLabels(item_id=item_id)
    scores: list[float] = []
    n = len(submissions)
    next_id = iter(range(1, 1_000_000))

    # Whole-item classification.
    votes = [primary_class(s) for _, s in submissions if _of_kind(s, "whole_item")]
    class_id = ""
    if class_override is not None:
        class_id, score = class_override
    elif votes:
        counts = Counter(votes)
        class_id = min(counts, key=lambda c: (-counts[c], c))
        score = counts[class_id] / n
    if class_id:
        out.labels.append(
            L.Label(label_id=f"c{next(next_id)}", class_id=class_id, whole_item=L.WholeItem())
        )
        scores.append(score)

    # Boxes.
    per_annotator_boxes = [
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
    if any(per_annotator_boxes):
        fused = fuse_boxes(per_annotator_boxes, iou_threshold=box_iou)
        for f in fused:
            out.labels.append(
                L.Label(
                    label_id=f"b{next(next_id)}",
                    class_id=f.class_id,
                    box=L.BoundingBox(x=f.x, y=f.y, width=f.w, height=f.h),
                    confidence=f.score,
                )
            )
        drawn = max(len(b) for b in per_annotator_boxes)
        # Agreement on boxes: fused boxes' scores, penalised for objects without a majority.
        scores.append(
            float(np.mean([f.score for f in fused])) * min(1.0, len(fused) / drawn)
            if fused
            else 0.0
        )

    # Masks, per class.
    masks: dict[str, list[RLE]] = {}
    for _, s in submissions:
        for lab in _of_kind(s, "mask"):
            m = lab.mask
            masks.setdefault(lab.class_id, []).append(
                RLE(m.height, m.width, tuple(int(c) for c in m.counts))
            )
    for cls in sorted(masks):
        if len(masks[cls]) * 2 <= n:
            continue  # a minority drew this class at all
        rle, mscore = vote_masks(masks[cls])
        out.labels.append(
            L.Label(
                label_id=f"m{next(next_id)}",
                class_id=cls,
                mask=L.Mask(height=rle.height, width=rle.width, counts=list(rle.counts)),
            )
        )
        scores.append(mscore)

    # Text spans.
    spans = [
        [
            Span(lab.class_id, lab.text_span.start, lab.text_span.end)
            for lab in _of_kind(s, "text_span")
        ]
        for _, s in submissions
    ]
    if any(spans):
        fspans = fuse_spans(spans)
        for fs in fspans:
            out.labels.append(
                L.Label(
                    label_id=f"s{next(next_id)}",
                    class_id=fs.class_id,
                    text_span=L.TextSpan(start=fs.start, end=fs.end),
                    confidence=fs.score,
                )
            )
        scores.append(float(np.mean([fs.score for fs in fspans])) if fspans else 0.0)

    # Keypoints, per class (one instance per annotator and class).
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
        if len(group) * 2 <= n or len({len(k.points) for k in group}) != 1:
            continue
        fused_kp, kscore = fuse_keypoints(group, area=float(np.median(areas[cls])))
        out.labels.append(
            L.Label(
                label_id=f"k{next(next_id)}",
                class_id=cls,
                keypoints=L.Keypoints(
                    points=[
                        L.Keypoint(x=float(x), y=float(y), visibility=int(v))
                        for x, y, v in fused_kp.points
                    ]
                ),
            )
        )
        scores.append(kscore)

    # Everything else: from the first annotator that has any.
    for _, s in submissions:
        rest = [lab for lab in s.labels if lab.WhichOneof("geometry") not in FUSED_KINDS]
        if rest:
            out.labels.extend(rest)
            keep = {lab.label_id for lab in rest}
            out.relations.extend(
                r for r in s.relations if r.from_label_id in keep and r.to_label_id in keep
            )
            break
    score = float(np.mean(scores)) if scores else (1.0 if n else 0.0)
    return TaskConsensus(out, score, class_id)


def classification_matrix(
    rows: Sequence[tuple[str, str, str]],
) -> tuple[list[str], list[str], list[str], list[str]]:
    """(task ids, annotator ids, classes) triples of whole-item classifications → the same
    columns as lists, for ``Annotations.from_triples``."""
    tasks, annotators, classes = [], [], []
    for t, a, c in rows:
        if c:
            tasks.append(t)
            annotators.append(a)
            classes.append(c)
    return tasks, annotators, classes, sorted(set(classes))


def decode(rows: Mapping[str, bytes]) -> dict[str, L.ItemLabels]:
    return {k: L.ItemLabels.FromString(v) for k, v in rows.items()}
