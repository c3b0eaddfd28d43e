"""``FindLabelIssues``: a model's class probabilities against the accepted labels (confident
learning, ``label_errors``); a flagged task goes back to labeling."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

import numpy as np
from labelops.labels.v1 import label_pb2 as L
from labelops.qa.v1 import events_pb2 as ev
from labelops.qa.v1 import qa_pb2 as pb
from labelops_core.errors import FieldViolation, InvalidArgument

from .consensus import primary_class
from .label_errors import find_label_issues


def task_ids(req: pb.FindLabelIssuesRequest) -> list[uuid.UUID]:
    """The predictions' task ids; INVALID_ARGUMENT for a bad id or probabilities outside
    [0, 1] (every bad field named)."""
    if not req.predictions:
        raise InvalidArgument(
            "no predictions", [FieldViolation("predictions", "give at least one")]
        )
    bad = []
    ids = []
    for i, p in enumerate(req.predictions):
        try:
            ids.append(uuid.UUID(p.task_id))
        except ValueError:
            bad.append(FieldViolation(f"predictions[{i}].task_id", "not a task id"))
        if not p.probabilities or any(
            not (0 <= v <= 1) or v != v for v in p.probabilities.values()
        ):
            bad.append(FieldViolation(f"predictions[{i}].probabilities", "probabilities in [0, 1]"))
    if bad:
        raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
    return ids


def label_issues(
    req: pb.FindLabelIssuesRequest,
    ids: Sequence[uuid.UUID],
    accepted: Mapping[uuid.UUID, tuple[str, L.ItemLabels]],
) -> pb.FindLabelIssuesResponse:
    """Issues among the tasks predicted that have an accepted label (``accepted``: task id →
    item id and the labels it was accepted with)."""
    given = {tid: (item_id, primary_class(labels)) for tid, (item_id, labels) in accepted.items()}
    preds = {tid: p for tid, p in zip(ids, req.predictions, strict=True) if tid in given}
    classes = sorted(
        {c for p in preds.values() for c in p.probabilities} | {g for _, g in given.values()}
    )
    index = {c: k for k, c in enumerate(classes)}
    order = sorted(preds)
    if len(order) < 2 or len(classes) < 2:
        return pb.FindLabelIssuesResponse(examined=len(order))
    probs = np.zeros((len(order), len(classes)))
    for row, tid in enumerate(order):
        for c, v in preds[tid].probabilities.items():
            probs[row, index[c]] = v
    sums = probs.sum(axis=1, keepdims=True)
    probs = np.divide(probs, sums, out=np.full_like(probs, 1 / len(classes)), where=sums > 0)
    labels = np.array([index[given[tid][1]] for tid in order])
    issues = [
        pb.LabelIssue(
            task_id=str(order[f.index]),
            item_id=given[order[f.index]][0],
            given_class=classes[f.given_label],
            suggested_class=classes[f.suggested_label],
            self_confidence=f.self_confidence,
        )
        for f in find_label_issues(labels, probs)
    ]
    return pb.FindLabelIssuesResponse(issues=issues, examined=len(order))


def rejection_reason(issue: pb.LabelIssue) -> str:
    return f"label issue: model suggests {issue.suggested_class}"


def flagged(req: pb.FindLabelIssuesRequest, issue: pb.LabelIssue) -> ev.LabelIssueFlagged:
    return ev.LabelIssueFlagged(project_id=req.project_id, issue=issue, model=req.model)
