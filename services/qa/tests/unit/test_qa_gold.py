"""Gold scoring, drift and annotator quality without Postgres or Kafka: given answers, then the
score, the drift flag and the report."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from labelops.labels.v1 import label_pb2 as L
from labelops.qa.v1 import events_pb2 as ev
from labelops_qa.domain import gold

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def labels(cls: str, box_x: float | None = None) -> L.ItemLabels:
    out = L.ItemLabels(item_id="i")
    out.labels.add(label_id="c", class_id=cls, whole_item=L.WholeItem())
    if box_x is not None:
        out.labels.add(
            label_id="b", class_id="car", box=L.BoundingBox(x=box_x, y=0, width=10, height=10)
        )
    return out


def test_a_gold_answer_is_correct_when_class_and_boxes_agree() -> None:
    assert gold.score("a", labels("cat"), labels("cat")).correct
    wrong = gold.score("a", labels("cat"), labels("dog"))
    assert (wrong.expected_class, wrong.given_class, wrong.correct) == ("cat", "dog", False)
    assert gold.score("a", labels("cat", 0), labels("cat", 1)).correct  # boxes overlap
    assert not gold.score("a", labels("cat", 0), labels("cat", 50)).correct  # they do not


def test_scored_event() -> None:
    s = gold.GoldScore("ann", "cat", "dog", False)
    assert gold.scored("p", "t", s) == ev.GoldScored(
        project_id="p",
        task_id="t",
        annotator_id="ann",
        expected_class="cat",
        given_class="dog",
        correct=False,
    )


def answer(n: int, correct: bool, task: int | None = None) -> gold.Answer:
    return gold.Answer(uuid.UUID(int=task if task is not None else n), T0 + timedelta(n), correct)


def test_a_new_answer_takes_its_place_and_a_task_keeps_its_first_answer() -> None:
    earlier = [answer(1, True), answer(3, True)]
    assert gold.with_answer(earlier, answer(2, False)) == [
        answer(1, True),
        answer(2, False),
        answer(3, True),
    ]
    # Same time: task id order (as the table sorts).
    tie = gold.Answer(uuid.UUID(int=0), T0 + timedelta(3), False)
    assert gold.with_answer(earlier, tie)[1] == tie
    # The same gold task answered again: the first answer stays (the table's primary key).
    assert gold.with_answer(earlier, answer(9, False, task=1)) == earlier


def test_drift_needs_two_windows_and_a_drop() -> None:
    drift = gold.Drift(window=5, drop=0.2)
    good = [answer(i, True) for i in range(5)]
    assert drift.accuracies(good + [answer(5 + i, False) for i in range(4)]) is None  # < 2w
    assert drift.accuracies(good + [answer(5 + i, True) for i in range(5)]) is None  # no drop
    bad = good + [answer(5 + i, i < 2) for i in range(5)]
    assert drift.accuracies(bad) == (1.0, 0.4)
    assert drift.detected("p", "ann", 1.0, 0.4) == ev.AnnotatorDriftDetected(
        project_id="p",
        annotator_id="ann",
        baseline_accuracy=1.0,
        recent_accuracy=0.4,
        recent_answers=5,
    )


def test_drift_is_flagged_once_per_window_of_new_answers() -> None:
    drift = gold.Drift(window=5, drop=0.2)
    assert drift.due(10, None)
    assert not drift.due(14, 10)
    assert drift.due(15, 10)


def test_annotator_quality_per_annotator() -> None:
    scores = [
        gold.GoldScore("b", "cat", "cat", True),
        gold.GoldScore("a", "cat", "dog", False),
        gold.GoldScore("a", "cat", "cat", True),
        gold.GoldScore("a", "dog", "dog", True),
    ]
    a, b = gold.annotator_quality(scores, {"a"}, window=2)
    assert (a.annotator_id, a.gold_answered, a.drifting) == ("a", 3, True)
    assert abs(a.gold_accuracy - 2 / 3) < 1e-12 and a.recent_accuracy == 1.0
    assert [(r.true_class, dict(r.given)) for r in a.confusion] == [
        ("cat", {"dog": 1, "cat": 1}),
        ("dog", {"dog": 1}),
    ]
    assert (b.annotator_id, b.gold_accuracy, b.drifting) == ("b", 1.0, False)
