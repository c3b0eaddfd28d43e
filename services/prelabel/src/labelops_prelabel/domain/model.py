"""A registered model (one row of ``models``) and what it decides about itself.

Registration (``registered``): the request's fields, checked together, become the project's
serving model (the latest registered model of a project serves it). A built-in model is due
for training when its project gained enough accepted labels (``due_for_training``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from labelops.prelabel.v1 import prelabel_pb2 as pb
from labelops_core.context import DEFAULT_TENANT
from labelops_core.errors import FieldViolation, InvalidArgument

from .convert import BUILTIN, KIND_PB, KINDS
from .models import ModelKind, RetrainPolicy

#: What an external model server may be asked to do.
TASKS = ("classify", "detect", "segment", "spans")
DEFAULT_RETRAIN_EVERY = 50


def model_stream(model_id: str) -> str:
    return f"models/{model_id}"


@dataclass(frozen=True)
class Model:
    """A registered model. ``kind``: logistic | knn_propagation | external."""

    model_id: str
    project_id: str
    name: str
    kind: str
    classes: tuple[str, ...]
    url: str
    task: str
    vector_space: str
    retrain_every: int
    min_confidence: float
    serving: bool
    created_at: datetime
    #: Accepted labels of the project at the last training (None: never trained).
    trained_on: int | None = None
    current_version: str = ""
    train_due: bool = False
    stream_version: int = 0
    #: The tenant the model belongs to (every statement about it filters by it).
    tenant_id: str = DEFAULT_TENANT

    @property
    def external(self) -> bool:
        return self.kind == "external"

    @property
    def builtin(self) -> ModelKind | None:
        """The built-in estimator, None for a model served by an external server."""
        return BUILTIN.get(self.kind)

    def due_for_training(self, labels_now: int, min_labels: int) -> bool:
        """Whether the project's ``labels_now`` accepted labels call for a (re)training."""
        if self.external or self.train_due:
            return False
        policy = RetrainPolicy(every_n_labels=self.retrain_every, min_labels=min_labels)
        return policy.due(labels_now, self.trained_on)

    def to_proto(self, current: pb.ModelVersion | None = None) -> pb.Model:
        m = pb.Model(
            model_id=self.model_id,
            project_id=self.project_id,
            name=self.name,
            kind=KIND_PB[self.kind],
            classes=list(self.classes),
            url=self.url,
            task=self.task,
            vector_space=self.vector_space,
            retrain_every=self.retrain_every,
            min_confidence=self.min_confidence,
            serving=self.serving,
        )
        m.create_time.FromDatetime(self.created_at)
        if current is not None:
            m.current.CopyFrom(current)
        return m


def registration_violations(
    req: pb.RegisterModelRequest, url_ok: Callable[[str], bool]
) -> list[FieldViolation]:
    """Every problem of a RegisterModel request (``url_ok``: whether a model server URL can be
    dialed, asked only for external models)."""
    bad: list[FieldViolation] = []
    if not req.project_id:
        bad.append(FieldViolation("project_id", "required"))
    if not req.name or len(req.name) > 200:
        bad.append(FieldViolation("name", "required, at most 200 characters"))
    kind = KINDS.get(req.kind)
    if kind is None:
        bad.append(FieldViolation("kind", "choose LOGISTIC, KNN_PROPAGATION or EXTERNAL"))
    classes = list(req.classes)
    if not classes:
        bad.append(FieldViolation("classes", "give the classes the model predicts"))
    elif len(set(classes)) != len(classes) or any(not c for c in classes):
        bad.append(FieldViolation("classes", "class ids must be unique and non-empty"))
    if kind == "external":
        if not url_ok(req.url):
            bad.append(FieldViolation("url", "an http(s):// URL of the model server"))
        if req.task not in TASKS:
            bad.append(FieldViolation("task", f"one of {', '.join(TASKS)}"))
    elif req.url:
        bad.append(FieldViolation("url", "only external models have a URL"))
    if req.retrain_every < 0:
        bad.append(FieldViolation("retrain_every", "must be >= 0 (0 = default 50)"))
    if not 0.0 <= req.min_confidence <= 1.0:
        bad.append(FieldViolation("min_confidence", "must lie in [0, 1]"))
    return bad


def registered(
    req: pb.RegisterModelRequest,
    model_id: str,
    now: datetime,
    url_ok: Callable[[str], bool],
    tenant_id: str = DEFAULT_TENANT,
) -> Model:
    """The project's new serving model (of ``tenant_id``), or INVALID_ARGUMENT listing every
    bad field."""
    bad = registration_violations(req, url_ok)
    if bad:
        raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
    kind = KINDS[req.kind]
    return Model(
        model_id=model_id,
        project_id=req.project_id,
        name=req.name,
        kind=kind,
        classes=tuple(req.classes),
        url=req.url,
        task=req.task if kind == "external" else "classify",
        vector_space=req.vector_space,
        retrain_every=req.retrain_every or DEFAULT_RETRAIN_EVERY,
        min_confidence=req.min_confidence,
        serving=True,
        created_at=now,
        stream_version=1,
        tenant_id=tenant_id,
    )
