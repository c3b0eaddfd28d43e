"""Priorities of a project's open tasks: the active-learning batch first, then by uncertainty.

One scoring round takes the serving model's class probabilities per task (uniform for a task
the model cannot score, or before any model: then the batch is chosen for diversity alone), picks
the ``batch`` most informative and diverse tasks (``active.select_batch``), ranks them above
every other task and maps the result to routing's 0..1000 priorities (``PriorityScored``, at most
``PRIORITIES_PER_EVENT`` tasks per event).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from labelops.prelabel.v1 import events_pb2 as ev
from labelops.prelabel.v1 import prelabel_pb2 as pb

from . import active
from .convert import DIVERSITIES, STRATEGIES

#: One PriorityScored event carries at most this many tasks (Kafka's default 1 MiB record).
PRIORITIES_PER_EVENT = 5000
#: Open tasks one scoring round looks at, and labeled items it uses as k-center anchors.
MAX_SCORED = 50_000
MAX_ANCHORS = 5_000
DEFAULT_BATCH = 100
SCORERS = {
    "least_confidence": active.least_confidence,
    "margin": active.margin,
    "entropy": active.entropy,
}


def priorities_stream(project_id: str) -> str:
    return f"projects/{project_id}/priorities"


def probability_matrix(
    item_ids: Sequence[str],
    probs: Mapping[str, Mapping[str, float]],
    classes: Sequence[str] | None,
) -> np.ndarray:
    """Rows of class probabilities per item, in ``classes`` order; uniform where the model
    gave none (and over two classes without a model: ``classes`` None)."""
    n_classes = len(classes) if classes is not None else 2
    uniform = [1.0 / n_classes] * n_classes
    return np.array(
        [
            [probs[i][c] for c in classes] if classes is not None and i in probs else uniform
            for i in item_ids
        ]
    )


def anchors_matrix(vectors: Sequence[np.ndarray], dim: int) -> np.ndarray | None:
    """The labeled items' embeddings as k-center anchors, None when there are none or they
    live in another dimension."""
    if vectors and len(vectors[0]) == dim:
        return np.vstack(vectors).astype(np.float64)
    return None


def select(
    P: np.ndarray,
    X: np.ndarray,
    k: int,
    strategy: str,
    diversity: str,
    labeled_X: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """The chosen batch (indices, in pick order) and every task's uncertainty."""
    unc = SCORERS[strategy](P)
    chosen = active.select_batch(
        P,
        X,
        k,
        strategy=strategy,  # type: ignore[arg-type]
        diversity=diversity,  # type: ignore[arg-type]
        labeled_X=labeled_X,
    )
    return chosen, unc


def rank01(scores: np.ndarray) -> np.ndarray:
    """Scores mapped to their rank in [0, 1) (ties by index), so the batch ranks above all."""
    n = scores.shape[0]
    out = np.zeros(n)
    if n:
        order = np.lexsort((np.arange(n), scores))
        out[order] = np.arange(n) / n
    return out


def ranked(
    tasks: Sequence[tuple[str, str]],
    chosen: np.ndarray,
    unc: np.ndarray,
    k: int,
    scored: Sequence[bool],
) -> list[pb.TaskPriority]:
    """``(task_id, item_id)`` rows as priorities, highest first (ties in row order): the batch
    in pick order above the rest by uncertainty. ``scored``: whether the model scored the row
    (an unscored row reports uncertainty 0)."""
    composite = rank01(unc)
    for pick, idx in enumerate(chosen):
        composite[idx] = 2.0 + (k - pick) / k
    prio = active.priorities(composite)
    out = [
        pb.TaskPriority(
            task_id=task_id,
            item_id=item_id,
            priority=float(prio[i]),
            uncertainty=float(unc[i]) if scored[i] else 0.0,
        )
        for i, (task_id, item_id) in enumerate(tasks)
    ]
    return sorted(out, key=lambda p: -p.priority)


def scored_events(
    project_id: str,
    model_id: str,
    model_version: str,
    strategy: str,
    diversity: str,
    ordered: Sequence[pb.TaskPriority],
) -> list[ev.PriorityScored]:
    """The round's ``PriorityScored`` events (one per ``PRIORITIES_PER_EVENT`` tasks)."""
    strategy_pb = next(k for k, v in STRATEGIES.items() if v == strategy and k)
    diversity_pb = next(k for k, v in DIVERSITIES.items() if v == diversity and k)
    return [
        ev.PriorityScored(
            project_id=project_id,
            model_id=model_id,
            model_version=model_version,
            strategy=strategy_pb,
            diversity=diversity_pb,
            priorities=ordered[i : i + PRIORITIES_PER_EVENT],
        )
        for i in range(0, len(ordered), PRIORITIES_PER_EVENT)
    ]
