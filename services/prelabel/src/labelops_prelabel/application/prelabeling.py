"""The pre-label loop's round: pending tasks → the serving model → ``PreLabelProposed``.

A model server that hangs or answers garbage only leaves tasks without pre-labels: routing
offers every task whether or not a pre-label ever arrives.

A round serves every tenant's models, each over its own tenant's tasks; the events are built
from rows, so each carries the model's tenant explicitly (and the service as its actor). An
external server is called only through the outbound guard: a refused URL leaves the tasks
without pre-labels (``not_allowed``), like a dead server.
"""

from __future__ import annotations

from collections.abc import Sequence

from labelops_eventstore import NewEvent
from labelops_eventstore.store import StreamAppend

from ..adapters import metrics
from ..adapters.model_server import ItemRef
from ..domain import prelabels
from ..domain.model import Model
from ..domain.prelabels import Pending, Proposal
from .repos import Repos, acting


class Prelabeler:
    """Args:
    batch: tasks pre-labeled per model call.
    attempts: model-server calls a task waits through.
    explore_rate: share of a switched-off class's tasks that still get pre-labels.
    """

    def __init__(self, repos: Repos, *, batch: int, attempts: int, explore_rate: float) -> None:
        self.r = repos
        self.batch = batch
        self.attempts = attempts
        self.explore_rate = explore_rate
        #: The version an external server last reported (what its pre-labels carry).
        self._external_versions: dict[str, str] = {}

    async def round(self) -> int:
        """Pre-label one batch of pending tasks per serving model; returns tasks decided."""
        pool = self.r.pool
        done = 0
        for m in await self.r.models.ready_with_pending(pool):
            tasks = await self.r.tasks.pending(
                pool, m.tenant_id, m.project_id, m.vector_space, m.external, self.batch
            )
            if not tasks:
                continue
            if m.external:
                proposals = await self._external(m, tasks)
            else:
                proposals = await self._builtin(m, tasks)
            switches = await self.r.switches.enabled(pool, m.tenant_id, m.project_id)
            decided = [
                prelabels.gate(p, m.min_confidence, switches, self.explore_rate) for p in proposals
            ]
            done += await self._commit(m, tasks, decided)
        return done

    async def pending_depth(self) -> int:
        return await self.r.tasks.pending_count(self.r.pool)

    async def _builtin(self, m: Model, tasks: list[Pending]) -> list[Proposal]:
        pool = self.r.pool
        trained = await self.r.trained.get(pool, m, m.current_version)
        vectors = await self.r.embeddings.of_items(
            pool, m.tenant_id, [t.item_id for t in tasks], m.vector_space
        )
        geometries = await self.r.labels.geometries(pool, m.tenant_id, m.project_id)
        gaps = prelabels.builtin_gaps(geometries)
        return prelabels.builtin_proposals(trained, tasks, vectors, gaps)

    async def _external(self, m: Model, tasks: list[Pending]) -> list[Proposal]:
        items = [
            ItemRef(
                t.item_id,
                t.item_uri,
                width=max(0, int(t.context.width)),
                height=max(0, int(t.context.height)),
            )
            for t in tasks
        ]
        result = await self.r.servers.predict(m.url, m.name, items, list(m.classes), m.task)
        out = prelabels.external_proposals(tasks, result, self.attempts)
        if result.model_version:
            self._external_versions[m.model_id] = result.model_version
        return out

    async def _commit(
        self, m: Model, tasks: Sequence[Pending], proposals: Sequence[Proposal]
    ) -> int:
        by_id = {t.task_id: t for t in tasks}
        version = self._external_versions.get(m.model_id, "") if m.external else m.current_version
        async with self.r.store.transaction() as conn:
            rows = await self.r.tasks.lock(conn, m.tenant_id, [p.task_id for p in proposals])
            appends: list[StreamAppend] = []
            decided = 0
            for p in proposals:
                r = rows.get(p.task_id)
                if r is None or not prelabels.still_pending(r.prelabel_state, r.state):
                    continue  # decided meanwhile (another replica, or the task was labeled)
                await self.r.tasks.decided(conn, m.tenant_id, p)
                metrics.prelabels.add(1, {"outcome": p.state})
                if p.state != "pending":
                    decided += 1
                if p.state != "proposed":
                    continue
                t = by_id[p.task_id]
                e = prelabels.proposed_event(t, m.model_id, version, p)
                appends.append(
                    StreamAppend(
                        prelabels.task_stream(t.project_id, t.task_id),
                        r.stream_version,
                        [NewEvent.of(e, **acting(m.tenant_id))],
                    )
                )
            if appends:
                await self.r.store.append_streams(appends, conn=conn)
        return decided
