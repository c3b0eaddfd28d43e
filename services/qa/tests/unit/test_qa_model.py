"""The task's labels in submission order without reading back the one just stored, and the
views of tasks and consensus results."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from labelops.labels.v1 import label_pb2 as L
from labelops.qa.v1 import qa_pb2 as pb
from labelops_core.errors import InvalidArgument
from labelops_qa.domain.model import (
    Submission,
    Task,
    consensus_result,
    pairs,
    task_quality,
    task_uuid,
    with_submission,
)

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def sub(annotator: str, seconds: int, event: int) -> Submission:
    return Submission(
        annotator,
        L.ItemLabels(item_id="i"),
        str(uuid.UUID(int=event)),
        T0 + timedelta(seconds=seconds),
    )


def test_the_new_label_takes_its_place_in_submission_order() -> None:
    earlier = [sub("a", 1, 5), sub("b", 3, 1)]
    assert [s.annotator_id for s in with_submission(earlier, sub("c", 5, 2))] == ["a", "b", "c"]
    # Delivered late: sorted by time, as the labels table orders them ...
    assert [s.annotator_id for s in with_submission(earlier, sub("c", 2, 9))] == ["a", "c", "b"]
    # ... and by event id on equal times.
    assert [s.annotator_id for s in with_submission(earlier, sub("c", 1, 4))] == ["c", "a", "b"]
    # Already stored (same event): not counted twice.
    assert with_submission(earlier, sub("a", 1, 5)) == earlier
    assert pairs(earlier) == [("a", earlier[0].labels), ("b", earlier[1].labels)]


def task(state: str = "in_review") -> Task:
    return Task(
        uuid.UUID(int=3),
        "p",
        "img",
        2,
        2,
        False,
        None,
        True,
        b"",
        state,
        review_reason="high stakes",
        review_decision="accept",
        reviewer="rita",
    )


def test_consensus_result_and_task_view() -> None:
    t = task()
    labels = L.ItemLabels(item_id="img")
    c = consensus_result("r1", t, "dawid_skene", labels, 0.9, [sub("a", 1, 1), sub("b", 2, 2)], T0)
    assert (c.run_id, c.task_id, c.item_id, c.method) == (
        "r1",
        str(t.task_id),
        "img",
        pb.CONSENSUS_METHOD_DAWID_SKENE,
    )
    assert list(c.annotator_ids) == ["a", "b"] and c.create_time.ToDatetime(UTC) == T0
    view = task_quality(t, c)
    assert view.state == pb.TASK_QUALITY_STATE_IN_REVIEW and view.consensus == c
    assert (view.required_labels, view.labels_received, view.reviewer) == (2, 2, "rita")
    assert view.review_decision == pb.REVIEW_DECISION_ACCEPT
    assert task_quality(task("awaiting_project"), c).state == pb.TASK_QUALITY_STATE_LABELING


def test_a_bad_task_id_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument) as e:
        task_uuid("not-a-uuid")
    assert e.value.violations[0].field == "task_id"
