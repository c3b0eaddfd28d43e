"""ScorePriorities and the trainer's scoring rounds: a project's open tasks ranked for
labeling, published as ``PriorityScored`` (routing orders its queues by them).

ScorePriorities scores the caller's tenant's project; the trainer's rounds score the trained
model's tenant's, and their events carry that tenant explicitly."""

from __future__ import annotations

import asyncio

import numpy as np
from labelops.prelabel.v1 import prelabel_pb2 as pb
from labelops_core.context import current_tenant
from labelops_core.errors import ConcurrencyConflict, FieldViolation, InvalidArgument
from labelops_eventstore import ANY_VERSION, NewEvent
from labelops_eventstore.idempotency import Command

from ..domain import scoring
from ..domain.convert import DIVERSITIES, STRATEGIES
from .predictions import Predictor
from .repos import Repos, acting

#: Appends of one round tried on concurrent rounds (the trainer's and callers').
APPEND_ATTEMPTS = 5


class Scorer:
    def __init__(self, repos: Repos, predictor: Predictor) -> None:
        self.r = repos
        self.predictor = predictor

    async def score_priorities(self, req: pb.ScorePrioritiesRequest) -> pb.ScorePrioritiesResponse:
        bad = []
        if not req.project_id:
            bad.append(FieldViolation("project_id", "required"))
        if req.strategy not in STRATEGIES:
            bad.append(FieldViolation("strategy", "unknown strategy"))
        if req.diversity not in DIVERSITIES:
            bad.append(FieldViolation("diversity", "unknown diversity"))
        if req.batch_size < 0 or req.batch_size > 10_000:
            bad.append(FieldViolation("batch_size", "must lie in [0, 10000] (0 = 100)"))
        if bad:
            raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
        cmd = await self.r.store.command("ScorePriorities", req, pb.ScorePrioritiesResponse)
        if cmd.earlier is not None:
            return cmd.earlier
        return await self.score(
            current_tenant(),
            req.project_id,
            STRATEGIES[req.strategy],
            DIVERSITIES[req.diversity],
            req.batch_size or scoring.DEFAULT_BATCH,
            cmd,
        )

    async def score(
        self,
        tenant_id: str,
        project_id: str,
        strategy: str,
        diversity: str,
        batch: int,
        cmd: Command[pb.ScorePrioritiesResponse] | None = None,
    ) -> pb.ScorePrioritiesResponse:
        """Score the project's open tasks and publish the priorities (``PriorityScored``)."""
        pool = self.r.pool
        m = await self.r.models.serving(pool, tenant_id, project_id)
        space = await self.r.vector_space(pool, m, tenant_id, project_id, or_open_tasks=True) or ""
        rows = await self.r.tasks.to_score(pool, tenant_id, project_id, space, scoring.MAX_SCORED)
        resp = pb.ScorePrioritiesResponse()
        if not rows:
            return resp
        item_ids = [r.item_id for r in rows]
        version, probs, _ = await self.predictor.probabilities(
            m, list(dict.fromkeys(item_ids)), space
        )
        P = scoring.probability_matrix(item_ids, probs, m.classes if m is not None else None)
        X = np.vstack([r.vector for r in rows]).astype(np.float64)
        anchors = await self.r.labels.recent_vectors(
            pool, tenant_id, project_id, space, scoring.MAX_ANCHORS
        )
        labeled_X = scoring.anchors_matrix(anchors, X.shape[1])
        k = min(batch, len(rows))
        chosen, unc = await asyncio.to_thread(
            scoring.select, P, X, k, strategy, diversity, labeled_X
        )
        ordered = scoring.ranked(
            [(r.task_id, r.item_id) for r in rows],
            chosen,
            unc,
            k,
            [m is not None and i in probs for i in item_ids],
        )
        resp.model_version = version
        resp.priorities.extend(ordered)
        events = scoring.scored_events(
            project_id, m.model_id if m is not None else "", version, strategy, diversity, ordered
        )
        meta = acting(tenant_id)
        await self._publish(project_id, [NewEvent.of(e, **meta) for e in events], resp, cmd)
        return resp

    async def _publish(
        self,
        project_id: str,
        events: list[NewEvent],
        resp: pb.ScorePrioritiesResponse,
        cmd: Command[pb.ScorePrioritiesResponse] | None,
    ) -> None:
        recording = (cmd or Command("", "")).recording(resp)
        # Rounds from the trainer and from callers may meet on the stream: an append after
        # the current end that loses the race is simply made again (the round is the same).
        for attempt in range(APPEND_ATTEMPTS):
            try:
                await self.r.store.append(
                    scoring.priorities_stream(project_id),
                    ANY_VERSION,
                    events,
                    **recording,
                )
                return
            except ConcurrencyConflict:
                if attempt == APPEND_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))
