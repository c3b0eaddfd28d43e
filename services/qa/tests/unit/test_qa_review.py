"""Review decisions without Postgres or Kafka: given a project's policy and a task's consensus,
when the task completes or a reviewer decides, then the state and the event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from labelops.labels.v1 import label_pb2 as L
from labelops.ontology.v1 import definition_pb2 as D
from labelops.qa.v1 import events_pb2 as ev
from labelops.qa.v1 import qa_pb2 as pb
from labelops_core.errors import FailedPrecondition, InvalidArgument, NotFound
from labelops_ontologykit import compile_ontology
from labelops_qa.domain import model, review
from labelops_qa.domain.model import Project, Submission, Task, consensus_result

AT = datetime(2024, 5, 1, tzinfo=UTC)


def project(policy: str = "targeted", rate: float = 0.0, stakes: tuple[str, ...] = ()) -> Project:
    return Project("p", "animals", "1.0.0", policy, rate, list(stakes))


def task(**kw: object) -> Task:
    fields: dict = {
        "task_id": uuid.UUID(int=7),
        "project_id": "p",
        "item_id": "img-1",
        "required": 3,
        "received": 3,
        "gold": False,
        "gold_expected": None,
        "high_stakes": False,
        "context": L.ItemContext(width=100, height=80).SerializeToString(),
        "state": "labeling",
        "prelabel_model": "m-1",
        "prelabel_model_version": "v7",
    }
    fields.update(kw)
    return Task(**fields)


def whole(cls: str) -> L.ItemLabels:
    return L.ItemLabels(
        item_id="img-1", labels=[L.Label(label_id="c", class_id=cls, whole_item=L.WholeItem())]
    )


def subs(*classes: str) -> list[Submission]:
    return [
        Submission(f"ann-{i}", whole(c), str(uuid.UUID(int=100 + i)), AT)
        for i, c in enumerate(classes)
    ]


def live(t: Task, cls: str, score: float) -> pb.Consensus:
    return consensus_result("live", t, "majority_vote", whole(cls), score, subs(cls), AT)


def reason(p: Project, t: Task, cls: str = "cat", score: float = 1.0) -> str | None:
    return review.policy_reason(p, t, [cls], score, min_score=0.7)


def test_policies_none_all_and_sampled() -> None:
    t = task()
    assert reason(project("none"), t) == ""
    assert reason(project("all"), t) == "review policy: all"
    assert reason(project("sampled", rate=1.0), t) == "sampled (100%)"
    assert reason(project("sampled", rate=0.0), t) == ""


def test_targeted_reviews_high_stakes_and_disagreement() -> None:
    assert reason(project(), task(high_stakes=True)) == "high stakes"
    assert reason(project(stakes=("person",)), task(), "person") == "high stakes"
    assert reason(project(), task(), "cat", 0.5) == "annotators disagree (agreement 0.50)"


def test_targeted_easy_case_is_sampled_by_the_class_ambiguity() -> None:
    p, t = project(rate=0.0), task()
    assert reason(p, t) is None  # only the class's measured ambiguity can tell
    assert review.ambiguity_reason(p, t, ["cat"], {}) == ""  # no history: rate 0
    # Every earlier cat task had agreement 0: ambiguity 1, always reviewed.
    stats = {"cat": review.ClassStats(tasks=4, score_sum=0.0)}
    assert review.ambiguity_reason(p, t, ["cat"], stats) == (
        "sampled (100% for class cat: ambiguity 1.00)"
    )
    assert review.ClassStats(tasks=4, score_sum=3.0).ambiguity == 0.25


def test_targeted_review_of_a_box_task_uses_its_objects_classes() -> None:
    p, t = project(rate=0.0, stakes=("person-box",)), task()
    boxes = ["car-box", "bike-box"]
    assert review.policy_reason(p, t, boxes, 1.0, min_score=0.7) is None
    assert review.policy_reason(p, t, [*boxes, "person-box"], 1.0, min_score=0.7) == "high stakes"
    # The hardest of the image's classes decides the rate.
    stats = {
        "car-box": review.ClassStats(tasks=4, score_sum=4.0),
        "bike-box": review.ClassStats(tasks=4, score_sum=0.0),
    }
    assert review.ambiguity_reason(p, t, boxes, stats) == (
        "sampled (100% for class bike-box: ambiguity 1.00)"
    )


def test_a_field_without_agreement_is_reviewed_under_every_policy_but_none() -> None:
    t = task()
    fields = ["answers.color of b1", "relations.rides of p->k"]
    for policy in ("all", "sampled", "targeted"):
        got = review.policy_reason(
            project(policy), t, ["cat"], 1.0, min_score=0.7, disagreements=fields
        )
        assert got == "no agreement on answers.color of b1, relations.rides of p->k"
    assert (
        review.policy_reason(project("none"), t, ["cat"], 1.0, min_score=0.7, disagreements=fields)
        == ""
    )


def test_review_draw_is_stable_per_task() -> None:
    a = review.unit_hash(str(uuid.UUID(int=7)), "review")
    assert a == review.unit_hash(str(uuid.UUID(int=7)), "review")
    assert 0 <= a < 1 and a != review.unit_hash(str(uuid.UUID(int=8)), "review")


def test_completed_with_a_reason_goes_to_review() -> None:
    t = task()
    out = review.completed(project(), t, live(t, "cat", 0.5), subs("cat"), "high stakes")
    assert out.task.state == "in_review" and out.task.review_reason == "high stakes"
    assert out.accepted_labels is None
    assert out.event == ev.ReviewRequested(
        project_id="p", task_id=str(t.task_id), item_id="img-1", reason="high stakes"
    )


def test_completed_without_a_reason_is_accepted_with_lineage() -> None:
    t = task()
    s = subs("cat", "cat", "dog")
    out = review.completed(project(), t, live(t, "cat", 2 / 3), s, "")
    assert out.task.state == "accepted"
    acc = out.event
    assert isinstance(acc, ev.LabelAccepted)
    assert acc.labels == whole("cat") and out.accepted_labels == acc.labels
    lin = acc.lineage
    assert list(lin.annotator_ids) == ["ann-0", "ann-1", "ann-2"]
    assert list(lin.label_event_ids) == [x.event_id for x in s]
    assert lin.consensus_method == pb.CONSENSUS_METHOD_MAJORITY_VOTE
    assert lin.consensus_run_id == "live" and lin.consensus_score == pytest.approx(2 / 3)
    assert lin.review_decision == pb.REVIEW_DECISION_UNSPECIFIED and lin.reviewer == ""
    assert (lin.prelabel_model, lin.prelabel_model_version) == ("m-1", "v7")
    assert (lin.ontology_id, lin.ontology_version) == ("animals", "1.0.0")


def req(decision: int, **kw: object) -> pb.SubmitReviewRequest:
    return pb.SubmitReviewRequest(
        project_id="p", task_id=str(uuid.UUID(int=7)), decision=decision, **kw
    )


def test_a_decision_is_required() -> None:
    with pytest.raises(InvalidArgument) as e:
        review.decision_of(req(pb.REVIEW_DECISION_UNSPECIFIED))
    assert e.value.violations[0].field == "decision"
    assert review.decision_of(req(pb.REVIEW_DECISION_FIX_AND_ACCEPT)) == "fix_and_accept"


def test_only_a_task_in_review_is_reviewed() -> None:
    with pytest.raises(NotFound) as nf:
        review.check_in_review(None, "t")
    assert nf.value.reason == "TASK_NOT_FOUND"
    with pytest.raises(FailedPrecondition) as fp:
        review.check_in_review(task(state="accepted"), "t")
    assert fp.value.reason == "TASK_NOT_IN_REVIEW"
    t = task(state="in_review")
    assert review.check_in_review(t, "t") is t


def test_reject_sends_the_task_back() -> None:
    t = task(state="in_review", review_reason="high stakes")
    out = review.reviewed(
        project(),
        t,
        live(t, "cat", 1.0),
        subs("cat"),
        req(pb.REVIEW_DECISION_REJECT),
        "reject",
        "rita",
        None,
    )
    assert (out.task.state, out.task.review_decision, out.task.reviewer) == (
        "rejected",
        "reject",
        "rita",
    )
    assert out.task.review_reason == "high stakes" and out.accepted_labels is None
    assert out.event == ev.LabelRejected(
        project_id="p",
        task_id=str(t.task_id),
        item_id="img-1",
        reason="rejected in review",
        reviewer="rita",
    )


def test_a_fix_is_on_the_task_item_and_accepted_as_the_label() -> None:
    t = task(state="in_review")
    r = req(
        pb.REVIEW_DECISION_FIX_AND_ACCEPT,
        fixed_labels=L.ItemLabels(item_id="something-else", labels=whole("fox").labels),
    )
    fixed = review.fixed_labels(r, t)
    assert fixed.item_id == "img-1" and fixed.item == L.ItemContext(width=100, height=80)
    out = review.reviewed(
        project(), t, live(t, "dog", 0.5), subs("dog"), r, "fix_and_accept", "rita", fixed
    )
    assert out.task.state == "accepted" and out.accepted_labels == fixed
    assert isinstance(out.event, ev.LabelAccepted)
    assert out.event.lineage.review_decision == pb.REVIEW_DECISION_FIX_AND_ACCEPT
    assert out.event.lineage.reviewer == "rita"
    # The consensus the fix replaced stays in the lineage.
    assert out.event.lineage.consensus_score == 0.5


def test_an_empty_fix_is_refused() -> None:
    with pytest.raises(InvalidArgument) as e:
        review.fixed_labels(req(pb.REVIEW_DECISION_FIX_AND_ACCEPT), task())
    assert e.value.violations[0].field == "fixed_labels"


def test_a_fix_the_ontology_refuses_names_the_field() -> None:
    d = D.OntologyDefinition()
    d.classes.add(id="cat", name="Cat", geometry=D.GEOMETRY_KIND_CLASSIFICATION)
    ontology = compile_ontology(d)
    review.check_fix(ontology, whole("cat"))  # valid: nothing raised
    with pytest.raises(InvalidArgument) as e:
        review.check_fix(ontology, whole("unicorn"))
    assert e.value.violations[0].field.startswith("fixed_labels.labels[0].")


def test_accept_takes_a_named_candidate_and_refuses_an_empty_consensus_of_drawn_labels() -> None:
    t = task(state="in_review")
    drawn = subs("cat", "dog")
    empty = consensus_result("live", t, "majority_vote", L.ItemLabels(), 0.0, drawn, AT)
    pick = pb.SubmitReviewRequest(
        decision=pb.REVIEW_DECISION_ACCEPT, candidate_annotator_id="ann-1"
    )
    assert review.accepted_candidate(pick, empty, drawn) == whole("dog")
    with pytest.raises(FailedPrecondition) as info:
        review.accepted_candidate(pb.SubmitReviewRequest(), empty, drawn)
    assert info.value.reason == "EMPTY_CONSENSUS" and "ann-0, ann-1 drew labels" in str(info.value)
    with pytest.raises(InvalidArgument):
        review.accepted_candidate(
            pb.SubmitReviewRequest(candidate_annotator_id="ann-9"), empty, drawn
        )
    # Nobody drew anything: "no objects" is the annotators' answer, and accepted.
    nothing = [Submission("ann-0", L.ItemLabels(item_id="img-1"), str(uuid.UUID(int=1)), AT)]
    assert review.accepted_candidate(pb.SubmitReviewRequest(), empty, nothing) is None
    # The candidates show while the task is in review (and once reviewed), not before.
    view = model.task_quality(t, empty, drawn)
    assert [(c.annotator_id, c.labels) for c in view.candidates] == [
        ("ann-0", whole("cat")),
        ("ann-1", whole("dog")),
    ]
    assert not model.task_quality(task(state="accepted"), empty, drawn).candidates
