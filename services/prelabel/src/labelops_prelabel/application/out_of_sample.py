"""GetOutOfSampleProbabilities: each accepted label's class probabilities from a model that
never saw it (k-fold), what QA's label-issue detection judges labels with."""

from __future__ import annotations

import asyncio

import numpy as np
from labelops.prelabel.v1 import prelabel_pb2 as pb
from labelops_core.context import current_tenant
from labelops_core.errors import FieldViolation, InvalidArgument

from ..domain import training
from ..domain.models import out_of_sample_proba
from .repos import Repos


class OutOfSample:
    def __init__(self, repos: Repos) -> None:
        self.r = repos

    async def out_of_sample(
        self, req: pb.GetOutOfSampleProbabilitiesRequest
    ) -> pb.GetOutOfSampleProbabilitiesResponse:
        bad = []
        if not req.project_id:
            bad.append(FieldViolation("project_id", "required"))
        if req.folds != 0 and not 2 <= req.folds <= 20:
            bad.append(FieldViolation("folds", "must lie in [2, 20] (0 = 5)"))
        if bad:
            raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
        folds = req.folds or training.DEFAULT_FOLDS
        pool = self.r.pool
        tenant = current_tenant()
        m = await self.r.models.serving(pool, tenant, req.project_id)
        space = await self.r.vector_space(pool, m, tenant, req.project_id)
        rows = await self.r.labels.with_vectors(pool, tenant, req.project_id, space or "")
        training.check_cross_validation(req.project_id, len(rows))
        y = [r.class_id for r in rows]
        classes = training.cross_validation_classes(m, y)
        kind = training.cross_validated(m)
        X = np.vstack([r.vector for r in rows])
        P = await asyncio.to_thread(out_of_sample_proba, kind, X, y, classes=classes, folds=folds)
        resp = pb.GetOutOfSampleProbabilitiesResponse(
            model=training.cross_validation_name(m, kind, folds, len(rows))
        )
        for r, row in zip(rows, P, strict=True):
            resp.predictions.add(
                item_id=r.item_id,
                task_id=r.task_id,
                probabilities={c: float(p) for c, p in zip(classes, row, strict=True)},
            )
        return resp
