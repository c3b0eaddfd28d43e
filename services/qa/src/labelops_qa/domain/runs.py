"""Project-wide consensus runs (``RunConsensus``): every labeled task of a project again, by
majority vote per task, or with its whole-item class decided over the project's whole
annotation matrix (reliability-weighted vote, Dawid-Skene)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from labelops.labels.v1 import label_pb2 as L
from labelops.qa.v1 import qa_pb2 as pb
from labelops_core.errors import FailedPrecondition, FieldViolation, InvalidArgument

from .aggregation import (
    DEFAULT_ACCURACY,
    Annotations,
    Codebook,
    DSModel,
    dawid_skene,
    weighted_vote,
)
from .consensus import primary_class
from .model import METHODS, Submission, Task


def method_of(req: pb.RunConsensusRequest) -> str:
    method = METHODS.get(req.method)
    if method is None:
        raise InvalidArgument(
            "unknown method", [FieldViolation("method", "one of ConsensusMethod")]
        )
    return method


def check_tasks(project_id: str, tasks: Sequence[Task]) -> None:
    if not tasks:
        raise FailedPrecondition(
            f"project {project_id} has no labeled tasks", reason="NOTHING_TO_AGGREGATE"
        )


@dataclass(frozen=True)
class _Fit:
    workers: list[str]
    classes: list[str]
    model: DSModel


class DawidSkeneFits:
    """The last Dawid-Skene fit per project: the warm start of its next run. In memory: a
    restart costs one cold fit, nothing else."""

    def __init__(self) -> None:
        self._fits: dict[str, _Fit] = {}

    def warm_start(self, project_id: str, codebook: Codebook) -> DSModel | None:
        """The project's previous fit, re-indexed to this run's workers (labels keep arriving,
        so most workers are known): EM then starts near the answer. Workers new since get a
        diagonal-heavy default; a changed class set starts cold."""
        prev = self._fits.get(project_id)
        classes = [str(c) for c in codebook.class_ids]
        if prev is None or prev.classes != classes:
            return None
        k = len(classes)
        default = np.full((k, k), (1 - DEFAULT_ACCURACY) / max(k - 1, 1))
        np.fill_diagonal(default, DEFAULT_ACCURACY)
        where = {w: i for i, w in enumerate(prev.workers)}
        confusion = np.stack(
            [
                prev.model.confusion[where[str(w)]] if str(w) in where else default
                for w in codebook.worker_ids
            ]
        )
        return replace(prev.model, confusion=confusion)

    def remember(self, project_id: str, codebook: Codebook, model: DSModel) -> None:
        self._fits[project_id] = _Fit(
            [str(w) for w in codebook.worker_ids], [str(c) for c in codebook.class_ids], model
        )


def project_classes(
    project_id: str,
    method: str,
    tasks: Sequence[Task],
    by_task: Mapping[uuid.UUID, Sequence[Submission]],
    fits: DawidSkeneFits,
) -> dict[uuid.UUID, tuple[str, float]]:
    """Whole-item (class, score) per task decided over the project's whole annotation matrix
    (``{}`` for majority vote: each task votes on its own)."""
    if method == "majority_vote":
        return {}
    items, workers, classes = [], [], []
    for task in tasks:
        for s in by_task.get(task.task_id, []):
            if any(lab.WhichOneof("geometry") == "whole_item" for lab in s.labels.labels):
                items.append(str(task.task_id))
                workers.append(s.annotator_id)
                classes.append(primary_class(s.labels))
    if not items:
        return {}
    annotations, codebook = Annotations.from_triples(items, workers, classes)
    if method == "dawid_skene":
        consensus, model = dawid_skene(annotations, init=fits.warm_start(project_id, codebook))
        fits.remember(project_id, codebook, model)
    else:
        consensus = weighted_vote(annotations)
    out = {}
    for code, task_id in enumerate(codebook.item_ids):
        k = int(consensus.labels[code])
        if k >= 0:
            out[uuid.UUID(str(task_id))] = (
                str(codebook.class_ids[k]),
                float(consensus.scores[code]),
            )
    return out


def changed(live: L.ItemLabels | None, result: L.ItemLabels) -> bool:
    """Whether a run's result has another class than the task's live consensus."""
    return live is not None and primary_class(live) != primary_class(result)
