"""Training a built-in model, and the out-of-sample probabilities QA judges labels with.

A model trains on its project's accepted labels that have an embedding in its vector space
(at least ``MIN_LABELS``); a training that reproduces the current version (same labels, same
embeddings) publishes nothing. Out-of-sample probabilities cross-validate the serving model's
estimator over every accepted label; an external model cannot be cross-validated here, so the
built-in logistic model on the same embeddings stands in (what QA needs is probabilities blind
to each label).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from labelops.prelabel.v1 import events_pb2 as ev
from labelops.prelabel.v1 import prelabel_pb2 as pb
from labelops_core.errors import FailedPrecondition

from .convert import BUILTIN, KIND_PB, metrics_pb
from .model import Model
from .models import ModelKind, TrainedModel

#: Fewest labeled items a training or a cross-validation needs.
MIN_LABELS = 2
DEFAULT_FOLDS = 5


def estimator_of(m: Model) -> ModelKind:
    """The built-in estimator of a trainable model (FAILED_PRECONDITION for external ones)."""
    kind = m.builtin
    if kind is None:
        raise FailedPrecondition(
            f"model {m.model_id} is served by {m.url}; only built-in models train here",
            reason="MODEL_NOT_TRAINABLE",
        )
    return kind


def enough_labels(n: int) -> bool:
    return n >= MIN_LABELS


def not_enough_labels(model_id: str, n: int) -> FailedPrecondition:
    return FailedPrecondition(
        f"model {model_id}: {n} accepted label(s) with embeddings in the model's"
        " classes; at least 2 are needed",
        reason="NOT_ENOUGH_LABELS",
    )


def version_of(trained: TrainedModel, trained_on: int, now: datetime) -> pb.ModelVersion:
    version = pb.ModelVersion(
        version=trained.version, trained_on=trained_on, metrics=metrics_pb(trained.metrics)
    )
    version.create_time.FromDatetime(now)
    return version


def trained_event(m: Model, version: pb.ModelVersion) -> ev.ModelTrained:
    return ev.ModelTrained(
        model_id=m.model_id,
        project_id=m.project_id,
        version=version,
        kind=KIND_PB[m.kind],
        classes=list(m.classes),
    )


# --- out-of-sample ------------------------------------------------------------------------------


def check_cross_validation(project_id: str, n: int) -> None:
    if not enough_labels(n):
        raise FailedPrecondition(
            f"project {project_id} has {n} accepted label(s) with embeddings;"
            " at least 2 are needed",
            reason="NOT_ENOUGH_LABELS",
        )


def cross_validated(m: Model | None) -> ModelKind:
    """The estimator cross-validated for ``m`` (logistic for external models and none)."""
    kind = m.builtin if m is not None else None
    return kind if kind is not None else BUILTIN["logistic"]


def cross_validation_classes(m: Model | None, labeled: Sequence[str]) -> list[str]:
    """The model's classes, then the other classes labels have, sorted."""
    present = sorted(set(labeled))
    classes = list(m.classes) if m is not None else present
    return classes + [c for c in present if c not in classes]


def cross_validation_name(m: Model | None, kind: ModelKind, folds: int, n: int) -> str:
    name = m.name if m is not None else "builtin"
    return f"{name}@oos-{kind.value}-{folds}fold-{n}"
