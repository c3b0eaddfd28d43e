"""QualityService's queries: a task's quality, the review queue, consensus results and
annotator quality, from the read models."""

from __future__ import annotations

import uuid

from labelops.qa.v1 import qa_pb2 as pb
from labelops_core.errors import NotFound
from labelops_core.paging import decode_token, encode_token, filter_fingerprint, page_size
from labelops_eventstore import EventStore

from ..adapters.read_models import ReadModels
from ..domain import gold
from ..domain.model import LIVE, Task, task_quality, task_uuid


class QaQueries:
    def __init__(self, store: EventStore, rm: ReadModels, *, drift_window: int) -> None:
        self.pool = store.pool
        self.rm = rm
        self.drift_window = drift_window

    async def _view(self, task: Task) -> pb.TaskQuality:
        return task_quality(task, await self.rm.consensus.latest(self.pool, LIVE, task.task_id))

    async def get_task(self, req: pb.GetTaskQualityRequest) -> pb.GetTaskQualityResponse:
        task = await self.rm.tasks.get(self.pool, task_uuid(req.task_id), req.project_id)
        if task is None:
            raise NotFound(f"task {req.task_id} not found", reason="TASK_NOT_FOUND")
        return pb.GetTaskQualityResponse(task=await self._view(task))

    async def review_queue(self, req: pb.ListReviewQueueRequest) -> pb.ListReviewQueueResponse:
        tasks = await self.rm.tasks.review_queue(
            self.pool, req.project_id, page_size(req.page_size)
        )
        return pb.ListReviewQueueResponse(tasks=[await self._view(t) for t in tasks])

    async def list_consensus(self, req: pb.ListConsensusRequest) -> pb.ListConsensusResponse:
        run = req.run_id or LIVE
        size = page_size(req.page_size)
        bound = filter_fingerprint(req.project_id, run)
        after = decode_token(req.page_token, bound) if req.page_token else None
        results = await self.rm.consensus.page(
            self.pool, req.project_id, run, uuid.UUID(after) if after else None, size + 1
        )
        resp = pb.ListConsensusResponse(results=results[:size])
        if len(results) > size:
            resp.next_page_token = encode_token(results[size - 1].task_id, bound)
        return resp

    async def annotator_quality(
        self, req: pb.GetAnnotatorQualityRequest
    ) -> pb.GetAnnotatorQualityResponse:
        scores = await self.rm.gold_scores.of_project(self.pool, req.project_id, req.annotator_id)
        drifting = await self.rm.drift_flags.flagged(self.pool, req.project_id)
        return pb.GetAnnotatorQualityResponse(
            annotators=gold.annotator_quality(scores, drifting, self.drift_window)
        )
