"""``MeasureAgreement``: the project's labels as ratings, and the agreement reports over them
(the whole project or per time window; per class one-vs-rest)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from labelops.labels.v1 import label_pb2 as L
from labelops.qa.v1 import qa_pb2 as pb
from labelops_core.errors import FailedPrecondition, FieldViolation, InvalidArgument

from . import agreement as agr
from .consensus import primary_class


@dataclass(frozen=True)
class Rating:
    """One stored label of an item by an annotator (gold answers are not ratings)."""

    item_id: str
    annotator_id: str
    labels: L.ItemLabels
    submitted_at: datetime


def check_window(req: pb.MeasureAgreementRequest) -> None:
    if req.window_seconds < 0:
        raise InvalidArgument(
            "bad window", [FieldViolation("window_seconds", "0 (no windows) or more")]
        )


def level_of(req: pb.MeasureAgreementRequest) -> str:
    level = "interval" if req.level == pb.MEASUREMENT_LEVEL_INTERVAL else "nominal"
    if level == "interval" and not req.classification_id:
        raise InvalidArgument(
            "interval agreement needs numbers",
            [FieldViolation("classification_id", "name a NUMBER classification")],
        )
    return level


def measured(
    req: pb.MeasureAgreementRequest, ratings: Sequence[Rating], level: str
) -> list[agr.Annotation]:
    """What is measured: the answer to ``classification_id`` when named, else each
    annotator's class of the item; with ``class_id``, "is it this class" (binary) over the
    items anyone gave it. FAILED_PRECONDITION ``NO_LABELS`` when nothing is left."""
    anns = []
    for r in ratings:
        value: Any = (
            answer(r.labels, req.classification_id, level)
            if req.classification_id
            else primary_class(r.labels)
        )
        if value is not None and value != "":
            anns.append(
                agr.Annotation(
                    item_id=r.item_id,
                    annotator_id=r.annotator_id,
                    label=value,
                    class_id=str(value),
                    at=r.submitted_at.timestamp(),
                )
            )
    if req.class_id:
        items = {a.item_id for a in anns if a.label == req.class_id}
        anns = [
            agr.Annotation(a.item_id, a.annotator_id, a.label == req.class_id, req.class_id, a.at)
            for a in anns
            if a.item_id in items
        ]
    if not anns:
        raise FailedPrecondition(
            f"project {req.project_id} has no labels to measure", reason="NO_LABELS"
        )
    return anns


def answer(labels: L.ItemLabels, classification_id: str, level: str) -> Any:
    """An annotator's answer to ``classification_id`` (first label that answers it): the
    number for interval agreement; option id / text / sorted checklist for nominal."""
    for lab in labels.labels:
        for ans in lab.answers:
            if ans.classification_id != classification_id:
                continue
            kind = ans.WhichOneof("value")
            if level == "interval":
                return ans.number if kind == "number" else None
            if kind == "option_id":
                return ans.option_id
            if kind == "checklist":
                return ",".join(sorted(ans.checklist.option_ids))
            if kind == "text":
                return ans.text
            if kind == "number":
                return repr(ans.number)
    return None


def reports(
    req: pb.MeasureAgreementRequest, anns: Sequence[agr.Annotation], level: str
) -> list[pb.AgreementReport]:
    """One report for the project, or one per window of ``window_seconds`` (windows where no
    item has two annotators are left out)."""
    windows: list[tuple[float | None, agr.AgreementSummary]]
    window_anns: dict[float | None, list[agr.Annotation]] = {}
    if req.window_seconds:
        w = float(req.window_seconds)
        windows = [(start, s) for start, s in agr.windowed(anns, w, level=level)]
        for a in anns:
            window_anns.setdefault(math.floor(a.at / w) * w, []).append(a)
    else:
        windows = [(None, agr.agreement_summary(anns, level=level))]
        window_anns[None] = list(anns)
    out = []
    for start, summary in windows:
        per_class = req.class_id or req.classification_id
        rep = _report(req, summary, level, [] if per_class else _per_class(window_anns[start]))
        if start is not None:
            rep.window_start.FromDatetime(datetime.fromtimestamp(start, UTC))
            rep.window_end.FromDatetime(datetime.fromtimestamp(start + req.window_seconds, UTC))
        out.append(rep)
    return out


def _report(
    req: pb.MeasureAgreementRequest,
    summary: agr.AgreementSummary,
    level: str,
    classes: list[pb.ClassAgreement],
) -> pb.AgreementReport:
    return pb.AgreementReport(
        project_id=req.project_id,
        class_id=req.class_id,
        items=summary.items,
        annotators=summary.annotators,
        krippendorff_alpha=summary.krippendorff_alpha,
        fleiss_kappa=(summary.fleiss_kappa if summary.fleiss_kappa is not None else math.nan),
        pairs=[
            pb.PairAgreement(annotator_a=a, annotator_b=b, cohen_kappa=k, shared_items=n)
            for (a, b), (k, n) in sorted(summary.pairwise.items())
        ],
        classes=classes,
        classification_id=req.classification_id,
        level=pb.MEASUREMENT_LEVEL_INTERVAL
        if level == "interval"
        else pb.MEASUREMENT_LEVEL_NOMINAL,
    )


def _per_class(anns: Sequence[agr.Annotation]) -> list[pb.ClassAgreement]:
    """Alpha per class, one-vs-rest: "is it this class?" over the items anyone gave it."""
    out = []
    for c in sorted({str(a.label) for a in anns}):
        items = {a.item_id for a in anns if a.label == c}
        binary = [
            agr.Annotation(a.item_id, a.annotator_id, a.label == c, c, a.at)
            for a in anns
            if a.item_id in items
        ]
        alpha = agr.agreement_summary(binary).krippendorff_alpha
        out.append(pb.ClassAgreement(class_id=c, krippendorff_alpha=alpha))
    return out
