"""QualityService's queries: a task's quality, the review queue, consensus results and
annotator quality, from the read models, of the caller's tenant only (another tenant's task or
project reads as missing / empty).

Gold stays with ``gold.read``: without it a gold task is not found (its state would tell it
apart) and annotator quality comes without the confusion against the gold answers (their
classes); accuracies stay.
"""

from __future__ import annotations

import uuid

from labelops.qa.v1 import qa_pb2 as pb
from labelops_core.authz import Action, can
from labelops_core.context import current_principal
from labelops_core.errors import NotFound
from labelops_core.paging import decode_token, encode_token, filter_fingerprint, page_size
from labelops_eventstore import EventStore

from ..adapters.read_models import ReadModels
from ..domain import gold
from ..domain.model import LIVE, Task, shows_candidates, task_quality, task_uuid
from .origin import Origin


def _reads_gold() -> bool:
    return can(current_principal(), Action.GOLD_READ)


class QaQueries:
    def __init__(self, store: EventStore, rm: ReadModels, *, drift_window: int) -> None:
        self.pool = store.pool
        self.rm = rm
        self.drift_window = drift_window

    async def _view(self, tenant: str, task: Task) -> pb.TaskQuality:
        """The task, its live consensus and, in review or reviewed, its candidates."""
        subs = (
            await self.rm.labels.of_task(self.pool, tenant, task.task_id)
            if shows_candidates(task)
            else []
        )
        return task_quality(
            task, await self.rm.consensus.latest(self.pool, tenant, LIVE, task.task_id), subs
        )

    async def get_task(self, req: pb.GetTaskQualityRequest) -> pb.GetTaskQualityResponse:
        tenant = Origin.request().tenant_id
        task = await self.rm.tasks.get(self.pool, tenant, task_uuid(req.task_id), req.project_id)
        if task is None or (task.gold and not _reads_gold()):
            raise NotFound(f"task {req.task_id} not found", reason="TASK_NOT_FOUND")
        return pb.GetTaskQualityResponse(task=await self._view(tenant, task))

    async def review_queue(self, req: pb.ListReviewQueueRequest) -> pb.ListReviewQueueResponse:
        tenant = Origin.request().tenant_id
        tasks = await self.rm.tasks.review_queue(
            self.pool, tenant, req.project_id, page_size(req.page_size)
        )
        return pb.ListReviewQueueResponse(tasks=[await self._view(tenant, t) for t in tasks])

    async def list_consensus(self, req: pb.ListConsensusRequest) -> pb.ListConsensusResponse:
        tenant = Origin.request().tenant_id
        run = req.run_id or LIVE
        size = page_size(req.page_size)
        bound = filter_fingerprint(req.project_id, run)
        after = decode_token(req.page_token, bound) if req.page_token else None
        results = await self.rm.consensus.page(
            self.pool, tenant, req.project_id, run, uuid.UUID(after) if after else None, size + 1
        )
        resp = pb.ListConsensusResponse(results=results[:size])
        if len(results) > size:
            resp.next_page_token = encode_token(results[size - 1].task_id, bound)
        return resp

    async def annotator_quality(
        self, req: pb.GetAnnotatorQualityRequest
    ) -> pb.GetAnnotatorQualityResponse:
        tenant = Origin.request().tenant_id
        scores = await self.rm.gold_scores.of_project(
            self.pool, tenant, req.project_id, req.annotator_id
        )
        drifting = await self.rm.drift_flags.flagged(self.pool, tenant, req.project_id)
        annotators = gold.annotator_quality(scores, drifting, self.drift_window)
        if not _reads_gold():
            for a in annotators:
                del a.confusion[:]
        return pb.GetAnnotatorQualityResponse(annotators=annotators)
