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
consensus carries those of the first annotator that has any.

Then every fused object's answers and attributes are voted among the annotators matched into
it, and the relations between fused objects are voted among the annotators who drew both ends
(``fusion.py``); each vote is a ``FieldAgreement`` (``TaskConsensus.fields``), and a field
without a strict majority is a ``disagreement`` (the task goes to review). A fused object
keeps the label id of its earliest annotator (unless another object already has it), so the
relations read as that annotator drew them. A single annotator's labels come out exactly as
submitted (their ids, answers, attributes, relations, geometry and confidence).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from labelops.labels.v1 import label_pb2 as L

from .fusion import FieldAgreement, Member, fuse_fields, fuse_relations
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
    #: One vote per field of the fused objects (answers, attributes, relations).
    fields: tuple[FieldAgreement, ...] = ()

    @property
    def disagreements(self) -> list[FieldAgreement]:
        """The fields without a strict majority."""
        return [f for f in self.fields if not f.agreed]

    @property
    def classes(self) -> list[str]:
        """The consensus's classes, whole-item class first, then the objects' in order."""
        out = [self.class_id] if self.class_id else []
        for lab in self.labels.labels:
            if lab.class_id and lab.class_id not in out:
                out.append(lab.class_id)
        return out


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
    """The consensus being built: its labels, the map of the annotators' label ids to theirs,
    one agreement score per part and the field votes.

    A fused label takes its earliest member's label id when no label has it yet, else
    ``<prefix><n>`` (``b2``, ``c3``, ...)."""

    def __init__(self, item_id: str) -> None:
        self.out = L.ItemLabels(item_id=item_id)
        self.scores: list[float] = []
        self.fields: list[FieldAgreement] = []
        #: (annotator index, annotator's label id) -> consensus label id.
        self.ids: dict[tuple[int, str], str] = {}
        self._used: set[str] = set()
        self._n = 0

    def _id(self, prefix: str, members: Sequence[Member]) -> str:
        if members and members[0][2].label_id and members[0][2].label_id not in self._used:
            return members[0][2].label_id
        while True:
            self._n += 1
            if (candidate := f"{prefix}{self._n}") not in self._used:
                return candidate

    def add(
        self, prefix: str, label: L.Label, members: Sequence[Member] = (), *, fuse: bool = True
    ) -> None:
        members = sorted(members, key=lambda m: m[0])
        label.label_id = self._id(prefix, members)
        self._used.add(label.label_id)
        for ai, _, lab in members:
            self.ids.setdefault((ai, lab.label_id), label.label_id)
        if fuse:
            self.fields.extend(fuse_fields(label, members))
        self.out.labels.append(label)


def _members(submissions: Submissions, kind: str, pairs: Sequence[tuple[int, int]]) -> list[Member]:
    """(annotator index, id, label) of the ``kind`` labels ``pairs`` name (annotator index,
    index among that annotator's ``kind`` labels)."""
    return [(a, submissions[a][0], _of_kind(submissions[a][1], kind)[i]) for a, i in sorted(pairs)]


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
    if len(submissions) == 1 and _own_class(submissions[0][1], class_override):
        return _as_submitted(item_id, submissions[0])
    b = _Builder(item_id)
    n = len(submissions)
    class_id = _whole_item(b, submissions, class_override)
    _boxes(b, submissions, box_iou)
    _masks(b, submissions)
    _spans(b, submissions)
    _keypoints(b, submissions)
    _unfused(b, submissions)
    relations, rel_fields = fuse_relations(submissions, b.ids)
    b.out.relations.extend(relations)
    b.fields.extend(rel_fields)
    _objects_dropped(b, submissions)
    score = float(np.mean(b.scores)) if b.scores else (1.0 if n else 0.0)
    return TaskConsensus(b.out, score, class_id, tuple(b.fields))


def _own_class(labels: L.ItemLabels, class_override: tuple[str, float] | None) -> bool:
    """Whether a project-wide method leaves this single annotator's whole-item class as is."""
    if class_override is None:
        return True
    own = [lab.class_id for lab in _of_kind(labels, "whole_item")]
    return not own or own[0] == class_override[0]


def _as_submitted(item_id: str, submission: tuple[str, L.ItemLabels]) -> TaskConsensus:
    """One annotator: their labels as submitted, every field agreed by them."""
    annotator, labels = submission
    out = L.ItemLabels(item_id=item_id)
    out.labels.extend(labels.labels)
    out.relations.extend(labels.relations)
    fields: list[FieldAgreement] = []
    for lab in labels.labels:
        fields.extend(fuse_fields(L.Label(label_id=lab.label_id), [(0, annotator, lab)]))
    ids = {(0, lab.label_id): lab.label_id for lab in labels.labels}
    fields.extend(fuse_relations([submission], ids)[1])
    whole = _of_kind(labels, "whole_item")
    return TaskConsensus(out, 1.0, whole[0].class_id if whole else "", tuple(fields))


def _objects_dropped(b: _Builder, submissions: Submissions) -> None:
    """An empty consensus where a strict majority drew something is no agreement on the
    objects (e.g. two annotators who gave one object two classes)."""
    drew = [ann for ann, s in submissions if s.labels]
    if b.out.labels or not drew:
        return
    b.fields.append(
        FieldAgreement(
            label_id="",
            field="objects",
            value="none",
            agreement=1 - len(drew) / len(submissions),
            agreed=len(drew) * 2 <= len(submissions),
            annotator_ids=tuple(ann for ann, s in submissions if not s.labels),
            voters=tuple(ann for ann, _ in submissions),
        )
    )


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
        members: list[Member] = []
        for a, (ann, s) in enumerate(submissions):
            same = [lab for lab in _of_kind(s, "whole_item") if lab.class_id == class_id]
            if same:
                members.append((a, ann, same[0]))
        b.add("c", L.Label(class_id=class_id, whole_item=L.WholeItem()), members)
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
            _members(submissions, "box", f.members),
        )
    drawn = max(len(x) for x in per_annotator)
    # Agreement on boxes: fused boxes' scores, penalised for objects without a majority.
    b.scores.append(
        float(np.mean([f.score for f in fused])) * min(1.0, len(fused) / drawn) if fused else 0.0
    )


def _masks(b: _Builder, submissions: Submissions) -> None:
    masks: dict[str, list[RLE]] = {}
    members: dict[str, list[Member]] = {}
    for a, (ann, s) in enumerate(submissions):
        for lab in _of_kind(s, "mask"):
            m = lab.mask
            masks.setdefault(lab.class_id, []).append(
                RLE(m.height, m.width, tuple(int(c) for c in m.counts))
            )
            members.setdefault(lab.class_id, []).append((a, ann, lab))
    for cls in sorted(masks):
        if len({m[0] for m in members[cls]}) * 2 <= len(submissions):
            continue  # a minority drew this class at all
        rle, score = vote_masks(masks[cls])
        b.add(
            "m",
            L.Label(
                class_id=cls,
                mask=L.Mask(height=rle.height, width=rle.width, counts=list(rle.counts)),
            ),
            members[cls],
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
            _members(submissions, "text_span", fs.members),
        )
    b.scores.append(float(np.mean([fs.score for fs in fused])) if fused else 0.0)


def _keypoints(b: _Builder, submissions: Submissions) -> None:
    """Per class, one instance per annotator and class."""
    kps: dict[str, list[Keypoints]] = {}
    areas: dict[str, list[float]] = {}
    members: dict[str, list[Member]] = {}
    for a, (ann, s) in enumerate(submissions):
        for lab in _of_kind(s, "keypoints"):
            pts = np.array([[p.x, p.y, p.visibility] for p in lab.keypoints.points], float)
            if len(pts):
                kps.setdefault(lab.class_id, []).append(Keypoints(pts))
                members.setdefault(lab.class_id, []).append((a, ann, lab))
                vis = pts[pts[:, 2] > 0]
                extent = np.ptp(vis[:, :2], axis=0) if len(vis) else np.zeros(2)
                areas.setdefault(lab.class_id, []).append(float(max(extent[0] * extent[1], 1.0)))
    for cls in sorted(kps):
        group = kps[cls]
        if len(group) * 2 <= len(submissions) or len({len(k.points) for k in group}) != 1:
            continue
        fused, score = fuse_keypoints(group, area=float(np.median(areas[cls])))
        points = [L.Keypoint(x=float(x), y=float(y), visibility=int(v)) for x, y, v in fused.points]
        b.add("k", L.Label(class_id=cls, keypoints=L.Keypoints(points=points)), members[cls])
        b.scores.append(score)


def _unfused(b: _Builder, submissions: Submissions) -> None:
    """Everything else: from the first annotator that has any, as drawn (their relations
    between these labels survive the relation vote: they are the only one who drew both)."""
    for a, (ann, s) in enumerate(submissions):
        rest = [lab for lab in s.labels if lab.WhichOneof("geometry") not in FUSED_KINDS]
        if rest:
            for lab in rest:
                copy = L.Label()
                copy.CopyFrom(lab)
                b.add("u", copy, [(a, ann, lab)], fuse=False)
            return
