"""Registering a model, when it is due for training, and what a training publishes — the
domain's decisions, without Postgres or Kafka (given a request / rows → model / decision)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest
from labelops.prelabel.v1 import prelabel_pb2 as pb
from labelops_core.errors import FailedPrecondition, InvalidArgument
from labelops_prelabel.domain import training
from labelops_prelabel.domain.model import DEFAULT_RETRAIN_EVERY, Model, registered
from labelops_prelabel.domain.models import ModelKind, train

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def ok(url: str) -> bool:
    return url.startswith("http")


def request(**kw: object) -> pb.RegisterModelRequest:
    fields: dict[str, object] = {
        "project_id": "p",
        "name": "digits",
        "kind": pb.MODEL_KIND_LOGISTIC,
        "classes": ["a", "b"],
    }
    fields.update(kw)
    return pb.RegisterModelRequest(**fields)  # type: ignore[arg-type]


def model(**kw: object) -> Model:
    return replace(registered(request(), "m1", NOW, ok), **kw)  # type: ignore[arg-type]


def violations(req: pb.RegisterModelRequest) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as info:
        registered(req, "m1", NOW, ok)
    return {v.field: v.description for v in info.value.violations}


# --- registration --------------------------------------------------------------------------------


def test_a_built_in_model_registers_as_the_serving_classifier_with_the_default_cadence() -> None:
    m = registered(request(vector_space="pixels"), "m1", NOW, ok)
    assert (m.model_id, m.kind, m.task, m.serving, m.stream_version) == (
        "m1",
        "logistic",
        "classify",
        True,
        1,
    )
    assert m.retrain_every == DEFAULT_RETRAIN_EVERY and m.trained_on is None
    proto = m.to_proto()
    assert proto.kind == pb.MODEL_KIND_LOGISTIC and list(proto.classes) == ["a", "b"]
    assert proto.create_time.ToDatetime(tzinfo=UTC) == NOW and not proto.HasField("current")


def test_an_external_model_keeps_its_url_and_task() -> None:
    req = request(kind=pb.MODEL_KIND_EXTERNAL, url="http://models:8080", task="detect")
    m = registered(req, "m1", NOW, ok)
    assert (m.external, m.builtin, m.url, m.task) == (True, None, "http://models:8080", "detect")


def test_every_bad_field_is_reported_at_once() -> None:
    bad = violations(
        request(
            project_id="",
            name="x" * 201,
            kind=pb.MODEL_KIND_UNSPECIFIED,
            classes=["a", "a"],
            retrain_every=-1,
            min_confidence=1.5,
        )
    )
    assert set(bad) == {"project_id", "name", "kind", "classes", "retrain_every", "min_confidence"}


def test_an_external_model_needs_a_url_a_client_can_dial_and_a_known_task() -> None:
    bad = violations(request(kind=pb.MODEL_KIND_EXTERNAL, url="ftp://x", task="paint"))
    assert set(bad) == {"url", "task"}
    assert violations(request(url="http://x")) == {"url": "only external models have a URL"}
    assert violations(request(classes=[])) == {"classes": "give the classes the model predicts"}


# --- due for training ----------------------------------------------------------------------------


def test_a_new_built_in_model_is_due_once_the_project_has_the_minimum_of_labels() -> None:
    m = model()
    assert not m.due_for_training(19, min_labels=20)
    assert m.due_for_training(20, min_labels=20)


def test_a_trained_model_is_due_again_after_retrain_every_new_labels() -> None:
    m = model(trained_on=100, retrain_every=40)
    assert not m.due_for_training(139, min_labels=20)
    assert m.due_for_training(140, min_labels=20)


def test_external_and_already_flagged_models_are_never_flagged_again() -> None:
    assert not model(kind="external").due_for_training(1000, min_labels=20)
    assert not model(train_due=True).due_for_training(1000, min_labels=20)


# --- training ------------------------------------------------------------------------------------


def test_only_built_in_models_train_here() -> None:
    assert training.estimator_of(model(kind="knn_propagation")) is ModelKind.KNN_PROPAGATION
    with pytest.raises(FailedPrecondition) as info:
        training.estimator_of(model(kind="external", url="http://x"))
    assert info.value.reason == "MODEL_NOT_TRAINABLE"


def test_fewer_than_two_labels_cannot_train() -> None:
    assert not training.enough_labels(1) and training.enough_labels(2)
    err = training.not_enough_labels("m1", 1)
    assert err.reason == "NOT_ENOUGH_LABELS" and "1 accepted label(s)" in err.message


def test_a_training_becomes_a_version_and_model_trained() -> None:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (10, 3)), rng.normal(5, 1, (10, 3))])
    y = ["a"] * 10 + ["b"] * 10
    trained = train(ModelKind.LOGISTIC, X, y, classes=["a", "b"])
    version = training.version_of(trained, 20, NOW)
    assert (version.version, version.trained_on) == (trained.version, 20)
    assert version.metrics.available and version.create_time.ToDatetime(tzinfo=UTC) == NOW
    e = training.trained_event(model(), version)
    assert (e.model_id, e.project_id, e.kind, list(e.classes)) == (
        "m1",
        "p",
        pb.MODEL_KIND_LOGISTIC,
        ["a", "b"],
    )
    assert e.version == version


# --- out-of-sample ---------------------------------------------------------------------------


def test_cross_validation_stands_in_logistic_for_external_models_and_none() -> None:
    assert training.cross_validated(None) is ModelKind.LOGISTIC
    assert training.cross_validated(model(kind="external")) is ModelKind.LOGISTIC
    assert training.cross_validated(model(kind="knn_propagation")) is ModelKind.KNN_PROPAGATION


def test_cross_validation_classes_are_the_models_then_the_others_labels_have() -> None:
    assert training.cross_validation_classes(model(), ["c", "a", "z", "c"]) == ["a", "b", "c", "z"]
    assert training.cross_validation_classes(None, ["c", "a"]) == ["a", "c"]


def test_cross_validation_needs_two_labels_and_names_what_it_ran() -> None:
    with pytest.raises(FailedPrecondition) as info:
        training.check_cross_validation("p", 1)
    assert info.value.reason == "NOT_ENOUGH_LABELS"
    name = training.cross_validation_name(model(), ModelKind.LOGISTIC, 5, 40)
    assert name == "digits@oos-logistic-5fold-40"
    assert training.cross_validation_name(None, ModelKind.LOGISTIC, 3, 2).startswith("builtin@")
