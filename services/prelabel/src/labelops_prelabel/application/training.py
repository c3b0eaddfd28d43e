"""Training built-in models: TrainModel, the trainer loop's due models, and the flag that
accepted labels raise (model in the loop).

TrainModel works in the caller's tenant (another tenant's model id is NOT_FOUND); the trainer
loop trains the due models of every tenant, each in its own, and its ``ModelTrained`` carries
the model's tenant explicitly (no request, no principal: the service acting)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from labelops.prelabel.v1 import prelabel_pb2 as pb
from labelops_core.context import current_tenant
from labelops_eventstore import NewEvent
from labelops_eventstore.idempotency import Command

from ..adapters import metrics
from ..domain import training
from ..domain.model import Model, model_stream
from ..domain.models import ModelKind, TrainedModel, train
from ..domain.scoring import MAX_SCORED
from .repos import Repos, acting

log = logging.getLogger(__name__)


@dataclass
class TrainingSet:
    """A model's training data: accepted labels with embeddings (``X``, ``y``), the open
    tasks' embeddings for kNN propagation (``X_unlabeled``), and the label count it
    stands for."""

    space: str
    X: np.ndarray
    y: list[str]
    X_unlabeled: np.ndarray | None
    labels: int


class Trainer:
    def __init__(self, repos: Repos, min_labels: int, clock: Callable[[], datetime]) -> None:
        self.r = repos
        self.min_labels = min_labels
        self.clock = clock

    async def mark_due(self, conn: Any, tenant_id: str, project_id: str) -> None:
        """Flag the project's serving built-in model when enough new labels arrived."""
        m = await self.r.models.serving(conn, tenant_id, project_id)
        if m is None or m.external or m.train_due:
            return
        labels = await self.r.project_labels.count(conn, tenant_id, project_id)
        if m.due_for_training(labels, self.min_labels):
            await self.r.models.mark_due(conn, tenant_id, m.model_id)

    async def due_models(self) -> list[tuple[str, str]]:
        """``(tenant_id, model_id)`` of every tenant's models due for training."""
        return await self.r.models.due(self.r.pool)

    async def project_of(self, tenant_id: str, model_id: str) -> str | None:
        return await self.r.models.project_of(self.r.pool, tenant_id, model_id)

    async def train_model(self, req: pb.TrainModelRequest) -> pb.TrainModelResponse:
        tenant = current_tenant()
        # Before the request id is looked up: another tenant's model id is NOT_FOUND.
        await self.r.models.get(self.r.pool, tenant, req.model_id)
        cmd = await self.r.store.command("TrainModel", req, pb.TrainModelResponse)
        if cmd.earlier is not None:
            return cmd.earlier
        return pb.TrainModelResponse(version=await self.train(tenant, req.model_id, cmd))

    async def train(
        self, tenant_id: str, model_id: str, cmd: Command[pb.TrainModelResponse] | None = None
    ) -> pb.ModelVersion:
        """Train a new version of a built-in model of ``tenant_id`` on the project's accepted
        labels."""
        m = await self.r.models.get(self.r.pool, tenant_id, model_id)
        kind = training.estimator_of(m)
        data = await self._training_set(m, kind)
        started = asyncio.get_running_loop().time()
        trained = await asyncio.to_thread(
            train, kind, data.X, data.y, classes=list(m.classes), X_unlabeled=data.X_unlabeled
        )
        metrics.trainings.record(asyncio.get_running_loop().time() - started, {"kind": m.kind})
        now = self.clock()
        version = training.version_of(trained, len(data.y), now)
        if await self._record(m, data, trained, version, now, cmd):
            log.info(
                "model %s (%s) trained version %s on %d labels: held-out accuracy %s",
                m.model_id,
                m.kind,
                trained.version,
                len(data.y),
                trained.metrics.accuracy,
            )
        return version

    async def _training_set(self, m: Model, kind: ModelKind) -> TrainingSet:
        pool = self.r.pool
        tenant = m.tenant_id
        space = await self.r.vector_space(pool, m, tenant, m.project_id)
        rows = (
            await self.r.labels.with_vectors(pool, tenant, m.project_id, space, m.classes)
            if space is not None
            else []
        )
        if not training.enough_labels(len(rows)):
            await self.r.models.clear_due(pool, tenant, m.model_id)
            raise training.not_enough_labels(m.model_id, len(rows))
        assert space is not None
        X_unlabeled = None
        if kind is ModelKind.KNN_PROPAGATION:
            unlabeled = await self.r.tasks.open_vectors(
                pool, tenant, m.project_id, space, MAX_SCORED
            )
            if unlabeled:
                X_unlabeled = np.vstack(unlabeled)
        return TrainingSet(
            space=space,
            X=np.vstack([r.vector for r in rows]),
            y=[r.class_id for r in rows],
            X_unlabeled=X_unlabeled,
            labels=await self.r.project_labels.count(pool, tenant, m.project_id),
        )

    async def _record(
        self,
        m: Model,
        data: TrainingSet,
        trained: TrainedModel,
        version: pb.ModelVersion,
        now: datetime,
        cmd: Command[pb.TrainModelResponse] | None,
    ) -> bool:
        """Store the training; a new version also serves from now (``ModelTrained``). False
        when it reproduced the current version (same labels, same embeddings)."""
        tenant = m.tenant_id
        async with self.r.store.transaction() as conn:
            cur = await self.r.models.get(conn, tenant, m.model_id)
            await self.r.models.trained(
                conn, tenant, m.model_id, data.labels or len(data.y), data.space
            )
            if cur.current_version == trained.version:
                return False
            await self.r.versions.add(conn, m, version, trained, now)
            await self.r.models.set_current(conn, tenant, m.model_id, trained.version)
            recording = (cmd or Command("", "")).recording(pb.TrainModelResponse(version=version))
            await self.r.store.append(
                model_stream(m.model_id),
                cur.stream_version,
                [NewEvent.of(training.trained_event(m, version), **acting(tenant))],
                conn=conn,
                **recording,
            )
        self.r.trained.put(m, trained.version, trained)
        return True
