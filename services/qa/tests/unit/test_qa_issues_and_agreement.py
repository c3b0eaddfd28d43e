"""Label issues and agreement reports without Postgres or Kafka: given stored labels and a
model's probabilities, then the issues and the reports."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from labelops.labels.v1 import label_pb2 as L
from labelops.qa.v1 import events_pb2 as ev
from labelops.qa.v1 import qa_pb2 as pb
from labelops_core.errors import FailedPrecondition, InvalidArgument
from labelops_qa.domain import agreement_report as report
from labelops_qa.domain import issues
from labelops_qa.domain.agreement_report import Rating

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def whole(cls: str, **answers: object) -> L.ItemLabels:
    lab = L.Label(label_id="c", class_id=cls, whole_item=L.WholeItem())
    for cid, value in answers.items():
        if isinstance(value, float):
            lab.answers.add(classification_id=cid, number=value)
        else:
            lab.answers.add(classification_id=cid, option_id=str(value))
    return L.ItemLabels(labels=[lab])


# --- label issues ------------------------------------------------------------------------------


def predictions(probs: dict[int, dict[str, float]]) -> pb.FindLabelIssuesRequest:
    return pb.FindLabelIssuesRequest(
        project_id="p",
        model="m-1",
        predictions=[
            pb.ItemPrediction(task_id=str(uuid.UUID(int=n)), probabilities=p)
            for n, p in probs.items()
        ],
    )


def test_predictions_are_checked_field_by_field() -> None:
    with pytest.raises(InvalidArgument):
        issues.task_ids(pb.FindLabelIssuesRequest(project_id="p"))
    bad = pb.FindLabelIssuesRequest(
        predictions=[
            pb.ItemPrediction(task_id="nope", probabilities={"cat": 1.0}),
            pb.ItemPrediction(task_id=str(uuid.UUID(int=1)), probabilities={"cat": 1.5}),
        ]
    )
    with pytest.raises(InvalidArgument) as e:
        issues.task_ids(bad)
    assert [v.field for v in e.value.violations] == [
        "predictions[0].task_id",
        "predictions[1].probabilities",
    ]


def test_a_label_the_model_confidently_contradicts_is_an_issue() -> None:
    n = 12
    probs = {i: {"cat": 0.95, "dog": 0.05} if i % 2 else {"cat": 0.05, "dog": 0.95} for i in
             range(1, n + 1)}  # fmt: skip
    accepted = {
        uuid.UUID(int=i): (f"img-{i}", whole("cat" if i % 2 else "dog")) for i in range(1, n + 1)
    }
    accepted[uuid.UUID(int=2)] = ("img-2", whole("cat"))  # the model says dog, confidently
    del accepted[uuid.UUID(int=4)]  # not accepted: not judged
    req = predictions(probs)
    resp = issues.label_issues(req, issues.task_ids(req), accepted)
    assert resp.examined == n - 1
    (issue,) = resp.issues
    assert (issue.task_id, issue.item_id, issue.given_class, issue.suggested_class) == (
        str(uuid.UUID(int=2)),
        "img-2",
        "cat",
        "dog",
    )
    assert issues.rejection_reason(issue) == "label issue: model suggests dog"
    assert issues.flagged(req, issue) == ev.LabelIssueFlagged(
        project_id="p", issue=issue, model="m-1"
    )


def test_too_little_to_judge_examines_only() -> None:
    req = predictions({1: {"cat": 1.0}})
    resp = issues.label_issues(req, issues.task_ids(req), {uuid.UUID(int=1): ("i", whole("cat"))})
    assert resp == pb.FindLabelIssuesResponse(examined=1)


# --- agreement ---------------------------------------------------------------------------------


def ratings(rows: list[tuple[str, str, L.ItemLabels, int]]) -> list[Rating]:
    return [Rating(item, who, labels, T0 + timedelta(seconds=s)) for item, who, labels, s in rows]


def test_request_checks() -> None:
    with pytest.raises(InvalidArgument):
        report.check_window(pb.MeasureAgreementRequest(window_seconds=-1))
    with pytest.raises(InvalidArgument):
        report.level_of(pb.MeasureAgreementRequest(level=pb.MEASUREMENT_LEVEL_INTERVAL))
    assert report.level_of(pb.MeasureAgreementRequest()) == "nominal"


def test_classes_per_item_and_the_per_class_alpha() -> None:
    rs = ratings([
        ("i1", "a", whole("cat"), 0), ("i1", "b", whole("cat"), 1),
        ("i2", "a", whole("dog"), 2), ("i2", "b", whole("cat"), 3),
        ("i3", "a", whole("dog"), 4), ("i3", "b", whole("dog"), 5),
    ])  # fmt: skip
    req = pb.MeasureAgreementRequest(project_id="p")
    anns = report.measured(req, rs, "nominal")
    assert [(a.item_id, a.label) for a in anns][:2] == [("i1", "cat"), ("i1", "cat")]
    (rep,) = report.reports(req, anns, "nominal")
    assert (rep.items, rep.annotators) == (3, 2)
    assert [c.class_id for c in rep.classes] == ["cat", "dog"]
    assert [(p.annotator_a, p.annotator_b, p.shared_items) for p in rep.pairs] == [("a", "b", 3)]
    assert not rep.HasField("window_start")
    # One class: binary "is it a cat", over the items anyone called a cat; no per-class list.
    one = pb.MeasureAgreementRequest(project_id="p", class_id="cat")
    (rep,) = report.reports(one, report.measured(one, rs, "nominal"), "nominal")
    assert rep.class_id == "cat" and rep.items == 2 and list(rep.classes) == []


def test_answers_to_a_classification_and_interval_level() -> None:
    rs = ratings([
        ("i1", "a", whole("cat", size=2.0), 0), ("i1", "b", whole("cat", size=2.5), 1),
        ("i2", "a", whole("cat", size=7.0), 2), ("i2", "b", whole("cat", size=6.5), 3),
        ("i3", "a", whole("cat"), 4),  # does not answer: left out
    ])  # fmt: skip
    req = pb.MeasureAgreementRequest(
        project_id="p", classification_id="size", level=pb.MEASUREMENT_LEVEL_INTERVAL
    )
    anns = report.measured(req, rs, report.level_of(req))
    assert [a.label for a in anns] == [2.0, 2.5, 7.0, 6.5]
    (rep,) = report.reports(req, anns, "interval")
    assert rep.level == pb.MEASUREMENT_LEVEL_INTERVAL and rep.krippendorff_alpha > 0.9
    assert report.answer(whole("cat", size=2.0), "size", "nominal") == "2.0"


def test_windows_and_nothing_to_measure() -> None:
    rs = ratings([
        ("i1", "a", whole("cat"), 0), ("i1", "b", whole("cat"), 1),
        ("i2", "a", whole("dog"), 3600), ("i2", "b", whole("cat"), 3601),
    ])  # fmt: skip
    req = pb.MeasureAgreementRequest(project_id="p", window_seconds=3600)
    reps = report.reports(req, report.measured(req, rs, "nominal"), "nominal")
    assert len(reps) == 2
    first, second = reps
    assert first.window_end.ToDatetime(UTC) - first.window_start.ToDatetime(UTC) == timedelta(
        hours=1
    )
    assert second.window_start.ToDatetime(UTC) >= first.window_end.ToDatetime(UTC)
    assert (first.items, second.items) == (1, 1)
    # One value in the first window (both said cat): alpha is undefined there.
    assert math.isnan(first.krippendorff_alpha)
    assert [c.class_id for c in second.classes] == ["cat", "dog"]
    with pytest.raises(FailedPrecondition) as e:
        report.measured(pb.MeasureAgreementRequest(project_id="p"), [], "nominal")
    assert e.value.reason == "NO_LABELS"
