"""What a model's answer becomes for pending tasks, and which proposals are shown — given
tasks and an answer → proposals → events, without Postgres, Kafka or a model server."""

from __future__ import annotations

import numpy as np
import pytest
from labelops.labels.v1 import label_pb2 as L
from labelops_prelabel.adapters.model_server import (
    Box,
    CallError,
    ItemPrediction,
    PredictedLabel,
    PredictionResult,
)
from labelops_prelabel.domain import prelabels
from labelops_prelabel.domain.models import ModelKind, train
from labelops_prelabel.domain.prelabels import Pending, Proposal


def pending(task_id: str, attempts: int = 0) -> Pending:
    return Pending(task_id, "p", f"item-{task_id}", f"s3://b/{task_id}", L.ItemContext(), attempts)


def test_a_new_task_waits_for_a_pre_label_unless_it_is_gold() -> None:
    assert prelabels.initial_state(False) == ("pending", "")
    assert prelabels.initial_state(True) == ("skipped", "gold task")


def test_only_an_open_task_still_pending_takes_the_decision() -> None:
    assert prelabels.still_pending("pending", "open")
    assert not prelabels.still_pending("proposed", "open")  # another replica decided
    assert not prelabels.still_pending("pending", "labeled")


# --- built-in models ---------------------------------------------------------------------------


def test_a_built_in_model_proposes_its_most_probable_class_where_the_embedding_fits() -> None:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 0.1, (10, 2)), rng.normal(3, 0.1, (10, 2))])
    trained = train(ModelKind.LOGISTIC, X, ["a"] * 10 + ["b"] * 10, classes=["a", "b"])
    tasks = [pending("t1"), pending("t2"), pending("t3")]
    vectors = {
        "item-t1": np.array([0.0, 0.0], dtype="<f4"),
        "item-t2": np.array([3.0, 3.0, 3.0], dtype="<f4"),  # another dimension
    }
    out = {p.task_id: p for p in prelabels.builtin_proposals(trained, tasks, vectors)}
    assert out["t2"].state == out["t3"].state == "skipped"
    assert out["t2"].reason == "embedding does not fit the model"
    p = out["t1"]
    assert (p.state, p.predicted_class) == ("proposed", "a")
    assert p.probabilities is not None and p.confidence == max(p.probabilities.values())
    (label,) = p.labels
    assert label.WhichOneof("geometry") == "whole_item" and label.class_id == "a"
    probs, missing = prelabels.probabilities_of(trained, ["item-t1", "item-t2"], vectors)
    assert list(probs) == ["item-t1"] and probs["item-t1"] == p.probabilities
    assert missing == {"item-t2": "no embedding in the model's vector space"}


# --- external servers --------------------------------------------------------------------------


def test_a_failed_call_is_tried_again_until_the_attempts_are_spent() -> None:
    failed = PredictionResult(error=CallError.TIMEOUT, detail="no answer\x00")
    tasks = [pending("t1", attempts=0), pending("t2", attempts=1)]
    out = prelabels.external_proposals(tasks, failed, max_attempts=2)
    assert [p.state for p in out] == ["pending", "failed"]
    # The stored reason names the failure, never what the server said (nor a NUL).
    assert out[1].reason == "timeout: the model server did not answer in time"


def test_an_invalid_prediction_fails_its_item_only_and_is_not_retried() -> None:
    result = PredictionResult(
        model_version="v7",
        predictions={"item-t1": ItemPrediction("item-t1", {"cat": 0.9, "dog": 0.1})},
        failed={"item-t2": "class_probabilities: sum to 2, not 1"},
    )
    out = prelabels.external_proposals([pending("t1"), pending("t2")], result, max_attempts=5)
    assert [(p.state, p.predicted_class) for p in out] == [("proposed", "cat"), ("failed", "")]
    assert out[0].probabilities == {"cat": 0.9, "dog": 0.1}
    assert out[0].labels[0].WhichOneof("geometry") == "whole_item"
    assert out[1].reason == (
        "invalid_prediction: the model server gave an invalid prediction for this item"
    )


def test_a_detector_without_probabilities_is_judged_by_its_most_confident_label() -> None:
    boxes = (
        PredictedLabel("cat", 0.4, Box(0, 0, 5, 5)),
        PredictedLabel("dog", 0.8, Box(1, 1, 5, 5)),
    )
    result = PredictionResult(predictions={"item-t1": ItemPrediction("item-t1", {}, boxes)})
    (p,) = prelabels.external_proposals([pending("t1")], result, max_attempts=2)
    assert (p.state, p.predicted_class, p.confidence) == ("proposed", "dog", 0.8)
    assert [lbl.WhichOneof("geometry") for lbl in p.labels] == ["box", "box"]


def test_an_empty_prediction_proposes_nothing() -> None:
    result = PredictionResult(predictions={"item-t1": ItemPrediction("item-t1", {})})
    (p,) = prelabels.external_proposals([pending("t1")], result, max_attempts=2)
    assert (p.state, p.reason) == ("skipped", "the server proposed nothing")


# --- the gate ----------------------------------------------------------------------------------


def proposed(task_id: str, cls: str = "cat", confidence: float = 0.9) -> Proposal:
    return Proposal(task_id, "proposed", "", cls, confidence, [], {cls: confidence})


def test_the_confidence_floor_skips_unsure_proposals() -> None:
    p = prelabels.gate(proposed("t1", confidence=0.4), 0.5, {}, 0.0)
    assert (p.state, p.reason) == ("skipped", "confidence 0.40 below floor")
    assert prelabels.gate(proposed("t1"), 0.5, {}, 0.0).state == "proposed"


def test_a_switched_off_class_is_skipped_but_for_its_explored_share() -> None:
    off = {"cat": False, "dog": True}
    ids = [f"task-{i}" for i in range(2000)]
    shown = [t for t in ids if prelabels.gate(proposed(t), 0.0, off, 0.1).state == "proposed"]
    assert 150 < len(shown) < 250  # ~10 %
    assert shown == [t for t in ids if prelabels.explored(t, 0.1)]  # the same on every replay
    skipped = prelabels.gate(proposed(next(t for t in ids if t not in shown)), 0.0, off, 0.1)
    assert skipped.reason == "pre-labeling is off for class cat"
    assert prelabels.gate(proposed("t1", "dog"), 0.0, off, 0.0).state == "proposed"
    assert prelabels.gate(proposed("t1", "bird"), 0.0, off, 0.0).state == "proposed"  # absent = on


def test_decided_proposals_pass_the_gate_unchanged() -> None:
    p = Proposal("t1", "failed", "timeout")
    assert prelabels.gate(p, 0.99, {"cat": False}, 0.0) is p


def test_a_proposal_becomes_pre_label_proposed_on_the_tasks_stream() -> None:
    p = proposed("t1")
    p.labels = [L.Label(label_id="prelabel-0", class_id="cat", whole_item=L.WholeItem())]
    e = prelabels.proposed_event(pending("t1"), "m1", "v3", p)
    assert (e.project_id, e.task_id, e.item_id, e.model_id, e.model_version) == (
        "p",
        "t1",
        "item-t1",
        "m1",
        "v3",
    )
    assert dict(e.probabilities) == pytest.approx({"cat": 0.9}) and e.predicted_class == "cat"
    assert prelabels.task_stream("p", "t1") == "projects/p/tasks/t1/prelabels"


def test_built_in_models_propose_whole_item_classes_only_and_say_so_for_boxes() -> None:
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(0, 0.1, (10, 2)), rng.normal(3, 0.1, (10, 2))])
    trained = train(ModelKind.LOGISTIC, X, ["car"] * 10 + ["sky"] * 10, classes=["car", "sky"])
    # "car" was accepted as boxes only, "sky" as a whole-item class (and once as a polygon).
    gaps = prelabels.builtin_gaps({"car": {"box": 9}, "sky": {"whole_item": 5, "polygon": 1}})
    assert gaps == {"car": "box"}
    tasks = [pending("t1"), pending("t2")]
    vectors = {"item-t1": np.array([0.0, 0.0]), "item-t2": np.array([3.0, 3.0])}
    out = {p.task_id: p for p in prelabels.builtin_proposals(trained, tasks, vectors, gaps)}
    assert (out["t1"].state, out["t1"].labels) == ("skipped", ())
    assert out["t1"].reason == (
        "no pre-label model for boxes (car): built-in models propose whole-item classes only;"
        " register an external model (task detect)"
    )
    assert (out["t2"].state, out["t2"].predicted_class) == ("proposed", "sky")
    # Labels accepted before kinds were recorded ("") keep today's proposals.
    assert prelabels.builtin_gaps({"car": {"": 3, "box": 2}}) == {}
    status = prelabels.coverage_status({"car": "box", "bike": "box", "road": "polygon"})
    assert status.startswith("no pre-label model for boxes (bike, car): ")
    assert "; no pre-label model for polygons (road): " in status and "(task segment)" in status
    assert prelabels.coverage_status({}) == ""


def test_the_geometry_behind_an_items_class() -> None:
    from labelops_prelabel.domain.convert import primary_geometry

    def lbl(cls: str, **geometry: object) -> L.Label:
        return L.Label(class_id=cls, **geometry)  # type: ignore[arg-type]

    box = {"box": L.BoundingBox(x=1, y=1, width=2, height=2)}
    boxes = L.ItemLabels(labels=[lbl("car", **box), lbl("car", **box), lbl("sky", **box)])
    assert primary_geometry(boxes, "car") == "box"
    mixed = L.ItemLabels(labels=[lbl("car", **box), lbl("car", whole_item=L.WholeItem())])
    assert primary_geometry(mixed, "car") == "whole_item"
    assert primary_geometry(L.ItemLabels(), "car") == ""
