"""Pre-labels of pending tasks: what a model's answer becomes, and which proposals are shown.

A task arrives *pending* (gold tasks are skipped: their answer must not be hinted). One model
call per batch decides each task: ``proposed`` (a ``PreLabelProposed``), ``skipped`` (nothing
worth showing), ``failed`` (the server gave nothing usable) or ``pending`` again (a failed call
is tried in a later round, ``max_attempts`` in all). ``gate`` then applies the model's
confidence floor and the class's ROI switch, with a deterministic share of explored tasks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from labelops.labels.v1 import label_pb2 as L
from labelops.prelabel.v1 import events_pb2 as ev

from .models import TrainedModel

#: Longest reason kept for a task without a pre-label.
MAX_REASON = 500


def task_stream(project_id: str, task_id: str) -> str:
    return f"projects/{project_id}/tasks/{task_id}/prelabels"


def initial_state(gold: bool) -> tuple[str, str]:
    """``(prelabel_state, reason)`` of a new task."""
    return ("skipped", "gold task") if gold else ("pending", "")


def still_pending(prelabel_state: str, state: str) -> bool:
    """Whether a task may still get the pre-label just decided (not decided meanwhile by
    another replica, not labeled or canceled)."""
    return prelabel_state == "pending" and state == "open"


@dataclass
class Pending:
    """A task waiting for a pre-label."""

    task_id: str
    project_id: str
    item_id: str
    item_uri: str
    context: L.ItemContext
    attempts: int


@dataclass
class Proposal:
    """What one model call decided for one pending task."""

    task_id: str
    state: str  # proposed | skipped | failed | pending (try again)
    reason: str = ""
    predicted_class: str = ""
    confidence: float = 0.0
    labels: Sequence[L.Label] = ()
    probabilities: dict[str, float] | None = None


def _whole_item(class_id: str, confidence: float) -> L.Label:
    return L.Label(
        label_id="prelabel-0", class_id=class_id, whole_item=L.WholeItem(), confidence=confidence
    )


#: How users read a geometry kind ("no pre-label model for boxes").
GEOMETRY_NAMES = {
    "box": "boxes",
    "rotated_box": "rotated boxes",
    "polygon": "polygons",
    "polyline": "polylines",
    "point": "points",
    "keypoints": "keypoints",
    "mask": "masks",
    "cuboid": "cuboids",
    "text_span": "text spans",
    "video_track": "video tracks",
    "dicom_region": "DICOM regions",
}
#: The model-server task that proposes a geometry kind (MODEL_SERVER_PROTOCOL.md).
SERVER_TASK = {"polygon": "segment", "mask": "segment", "dicom_region": "segment"} | {
    "text_span": "spans"
}


def builtin_gaps(geometries: Mapping[str, Mapping[str, int]]) -> dict[str, str]:
    """The classes a built-in model cannot pre-label, each with its geometry kind.

    Built-in models propose whole-item classes only. ``geometries`` counts, per class, the
    accepted items whose class came from each geometry kind; a class with no whole-item (and
    no unknown, "") item is a geometry class: a whole-item proposal of it would not be a
    label of the ontology, so none is made. Its kind is its most frequent one."""
    out: dict[str, str] = {}
    for cls, kinds in geometries.items():
        if kinds.get("whole_item") or kinds.get("") or not kinds:
            continue
        out[cls] = max(kinds, key=lambda k: (kinds[k], k))
    return out


def no_model_reason(kind: str, classes: Sequence[str]) -> str:
    """What users see for classes of one geometry kind that no model pre-labels."""
    names = GEOMETRY_NAMES.get(kind, kind)
    task = SERVER_TASK.get(kind, "detect")
    return (
        f"no pre-label model for {names} ({', '.join(sorted(classes))}): built-in models"
        f" propose whole-item classes only; register an external model (task {task})"
    )


def coverage_status(gaps: Mapping[str, str]) -> str:
    """One line per geometry kind without a pre-label model ("" when every class has one)."""
    by_kind: dict[str, list[str]] = {}
    for cls, kind in gaps.items():
        by_kind.setdefault(kind, []).append(cls)
    return "; ".join(no_model_reason(k, by_kind[k]) for k in sorted(by_kind))


def builtin_proposals(
    trained: TrainedModel,
    tasks: Sequence[Pending],
    vectors: Mapping[str, np.ndarray],
    gaps: Mapping[str, str] | None = None,
) -> list[Proposal]:
    """A built-in model's whole-item class label for each task whose embedding fits it; a
    task whose predicted class is a geometry class (``builtin_gaps``) is skipped with the
    reason ("no pre-label model for boxes ..."), never proposed as an unusable whole-item
    label."""
    gaps = gaps or {}
    out: list[Proposal] = []
    usable = [
        t for t in tasks if t.item_id in vectors and len(vectors[t.item_id]) == trained.n_features
    ]
    for t in tasks:
        if t not in usable:
            out.append(Proposal(t.task_id, "skipped", "embedding does not fit the model"))
    if usable:
        P = trained.predict_proba(np.vstack([vectors[t.item_id] for t in usable]))
        classes = [str(c) for c in trained.classes]
        for t, row in zip(usable, P, strict=True):
            j = int(np.argmax(row))
            if classes[j] in gaps:
                reason = no_model_reason(gaps[classes[j]], [classes[j]])
                out.append(Proposal(t.task_id, "skipped", reason[:MAX_REASON], classes[j]))
                continue
            probs = {c: float(p) for c, p in zip(classes, row, strict=True)}
            label = _whole_item(classes[j], float(row[j]))
            out.append(
                Proposal(t.task_id, "proposed", "", classes[j], float(row[j]), [label], probs)
            )
    return out


def probabilities_of(
    trained: TrainedModel, item_ids: Sequence[str], vectors: Mapping[str, np.ndarray]
) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """A built-in model's class probabilities per item, and why an item has none."""
    missing: dict[str, str] = {}
    out: dict[str, dict[str, float]] = {}
    ok = [i for i in item_ids if i in vectors and len(vectors[i]) == trained.n_features]
    for i in item_ids:
        if i not in ok:
            missing[i] = "no embedding in the model's vector space"
    if ok:
        P = trained.predict_proba(np.vstack([vectors[i] for i in ok]))
        classes = [str(c) for c in trained.classes]
        for i, row in zip(ok, P, strict=True):
            out[i] = {c: float(p) for c, p in zip(classes, row, strict=True)}
    return out, missing


# --- an external server's answer, as far as the decision needs it ------------------------------


class LabelGuess(Protocol):
    @property
    def class_id(self) -> str: ...

    @property
    def confidence(self) -> float: ...


class Prediction(Protocol):
    """One item's validated prediction (the model-server adapter's ``ItemPrediction``)."""

    @property
    def class_probabilities(self) -> Mapping[str, float]: ...

    @property
    def labels(self) -> Sequence[LabelGuess]: ...

    @property
    def top_class(self) -> tuple[str, float] | None: ...

    def to_label_protos(self) -> list[L.Label]: ...


class Answer(Protocol):
    """One call's result (the model-server adapter's ``PredictionResult``)."""

    @property
    def predictions(self) -> Mapping[str, Prediction]: ...

    @property
    def error(self) -> object | None: ...

    def no_prediction_reason(self, item_id: str) -> str | None: ...


def text(s: str) -> str:
    """What a model server said, safe for Postgres text (never a NUL)."""
    return s.replace("\x00", "\\x00")


def external_proposals(
    tasks: Sequence[Pending], answer: Answer, max_attempts: int
) -> list[Proposal]:
    """What an external server's answer proposes for each task."""
    out: list[Proposal] = []
    for t in tasks:
        pred = answer.predictions.get(t.item_id)
        if pred is None:
            reason = text(answer.no_prediction_reason(t.item_id) or "no prediction")
            # A failed call is tried once more in a later round; then the task goes on
            # without a pre-label (routing offers it either way).
            retry = answer.error is not None and t.attempts + 1 < max_attempts
            out.append(Proposal(t.task_id, "pending" if retry else "failed", reason[:MAX_REASON]))
            continue
        labels = pred.to_label_protos()
        top = pred.top_class
        if top is None and pred.labels:
            best = max(pred.labels, key=lambda lbl: lbl.confidence)
            top = (best.class_id, best.confidence)
        if top is None:
            out.append(Proposal(t.task_id, "skipped", "the server proposed nothing"))
            continue
        if not labels:
            labels = [_whole_item(top[0], top[1])]
        out.append(
            Proposal(
                t.task_id,
                "proposed",
                "",
                top[0],
                float(top[1]),
                labels,
                dict(pred.class_probabilities),
            )
        )
    return out


def explored(task_id: str, rate: float) -> bool:
    """Deterministic sample of ``rate`` of the tasks (the same answer on every replay)."""
    h = int.from_bytes(hashlib.sha256(task_id.encode()).digest()[:8], "big")
    return h / 2**64 < rate


def gate(
    p: Proposal, min_confidence: float, switches: Mapping[str, bool], explore_rate: float
) -> Proposal:
    """Apply the model's confidence floor and the class's ROI switch (absent = on); a
    switched-off class still shows ``explore_rate`` of its pre-labels, so the evidence that
    could switch it on again keeps coming."""
    if p.state != "proposed":
        return p
    if p.confidence < min_confidence:
        return Proposal(p.task_id, "skipped", f"confidence {p.confidence:.2f} below floor")
    if not switches.get(p.predicted_class, True) and not explored(p.task_id, explore_rate):
        return Proposal(p.task_id, "skipped", f"pre-labeling is off for class {p.predicted_class}")
    return p


def proposed_event(
    t: Pending, model_id: str, model_version: str, p: Proposal
) -> ev.PreLabelProposed:
    e = ev.PreLabelProposed(
        project_id=t.project_id,
        task_id=t.task_id,
        item_id=t.item_id,
        model_id=model_id,
        model_version=model_version,
        labels=list(p.labels),
        predicted_class=p.predicted_class,
        confidence=p.confidence,
    )
    for c, v in (p.probabilities or {}).items():
        e.probabilities[c] = v
    return e
