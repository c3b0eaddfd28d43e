"""Gold answers: scoring an annotator's answer against the expected one, drift, and the
per-annotator quality report."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from labelops.labels.v1 import label_pb2 as L
from labelops.qa.v1 import events_pb2 as ev
from labelops.qa.v1 import qa_pb2 as pb

from .consensus import boxes_of, primary_class
from .geometry import box_agreement


@dataclass(frozen=True)
class GoldScore:
    """One gold answer, scored (a row of the gold scores read model)."""

    annotator_id: str
    expected_class: str
    given_class: str
    correct: bool


def score(annotator_id: str, expected: L.ItemLabels, given: L.ItemLabels) -> GoldScore:
    """Correct when the classes match and, where both have boxes, the boxes agree (F1 >= 0.5)."""
    want, got = primary_class(expected), primary_class(given)
    correct = want == got
    if correct and boxes_of(expected) and boxes_of(given):
        correct = box_agreement([boxes_of(expected), boxes_of(given)]) >= 0.5
    return GoldScore(annotator_id, want, got, correct)


def scored(project_id: str, task_id: str, s: GoldScore) -> ev.GoldScored:
    return ev.GoldScored(
        project_id=project_id,
        task_id=task_id,
        annotator_id=s.annotator_id,
        expected_class=s.expected_class,
        given_class=s.given_class,
        correct=s.correct,
    )


@dataclass(frozen=True)
class Answer:
    """Whether an annotator's answer to a gold task was correct, and when it came."""

    task_id: uuid.UUID
    at: datetime
    correct: bool


def with_answer(earlier: Sequence[Answer], new: Answer) -> list[Answer]:
    """An annotator's answers in answer order (time, then task id), the new one in its place;
    one answer per task: a task answered before keeps its first answer."""
    if any(a.task_id == new.task_id for a in earlier):
        return list(earlier)
    return sorted([*earlier, new], key=lambda a: (a.at, a.task_id))


@dataclass(frozen=True)
class Drift:
    """Drift = the recent window's accuracy below the earlier answers' by at least ``drop``;
    flagged once per window of new answers."""

    window: int
    drop: float

    def accuracies(self, answers: Sequence[Answer]) -> tuple[float, float] | None:
        """(earlier, recent window) accuracy of an annotator's gold answers in answer order,
        when they show drift; None otherwise (or with fewer than two windows of answers)."""
        w = self.window
        if len(answers) < 2 * w:
            return None
        flags = np.array([a.correct for a in answers], dtype=float)
        baseline, recent = float(flags[:-w].mean()), float(flags[-w:].mean())
        if baseline - recent < self.drop:
            return None
        return baseline, recent

    def due(self, answers: int, flagged_at: int | None) -> bool:
        """Whether to flag now, ``answers`` answers in; ``flagged_at``: answers at the last flag."""
        return flagged_at is None or answers - flagged_at >= self.window

    def detected(
        self, project_id: str, annotator_id: str, baseline: float, recent: float
    ) -> ev.AnnotatorDriftDetected:
        return ev.AnnotatorDriftDetected(
            project_id=project_id,
            annotator_id=annotator_id,
            baseline_accuracy=baseline,
            recent_accuracy=recent,
            recent_answers=self.window,
        )


def annotator_quality(
    scores: Sequence[GoldScore], drifting: Collection[str], window: int
) -> list[pb.AnnotatorQuality]:
    """Per annotator (sorted): gold accuracy, the last ``window`` answers' accuracy, the
    confusion of expected vs given classes. ``scores`` in answer order."""
    by: dict[str, list[GoldScore]] = defaultdict(list)
    for s in scores:
        by[s.annotator_id].append(s)
    out = []
    for annotator, rs in sorted(by.items()):
        correct = np.array([r.correct for r in rs], dtype=float)
        confusion: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for r in rs:
            confusion[r.expected_class][r.given_class] += 1
        recent = correct[-window:]
        out.append(
            pb.AnnotatorQuality(
                annotator_id=annotator,
                gold_answered=len(rs),
                gold_accuracy=float(correct.mean()),
                recent_accuracy=float(recent.mean()),
                drifting=annotator in drifting,
                confusion=[
                    pb.ConfusionRow(true_class=t, given=dict(g))
                    for t, g in sorted(confusion.items())
                ],
            )
        )
    return out
