"""``RunConsensus``: a project's labeled tasks agreed again by one method, as a new result set
(earlier results are never changed); each result is a ``ConsensusReached`` on its task's
stream."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from labelops.qa.v1 import events_pb2 as ev
from labelops.qa.v1 import qa_pb2 as pb
from labelops_core.errors import NotFound
from labelops_core.ids import new_id
from labelops_eventstore import EventStore
from labelops_eventstore.store import StreamAppend

from ..adapters.read_models import ReadModels
from ..domain import runs
from ..domain.consensus import task_consensus
from ..domain.model import LIVE, pairs, task_stream
from .origin import Origin
from .tasks import TaskDecisions


class ConsensusRuns:
    def __init__(
        self,
        store: EventStore,
        rm: ReadModels,
        tasks: TaskDecisions,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.rm = rm
        self.tasks = tasks
        self.clock = clock
        self.fits = runs.DawidSkeneFits()

    async def run_consensus(self, req: pb.RunConsensusRequest) -> pb.RunConsensusResponse:
        """The request is the command; the answer is stored with the run's events."""
        # quality.run is the method's action (entrypoints/access.py); every read and write
        # below is of the caller's tenant.
        origin = Origin.request()
        tenant = origin.tenant_id
        method = runs.method_of(req)
        cmd = await self.store.command("RunConsensus", req, pb.RunConsensusResponse)
        if cmd.earlier is not None:
            return cmd.earlier
        pool = self.store.pool
        tasks = await self.rm.tasks.labeled(pool, tenant, req.project_id)
        if not tasks and await self.rm.projects.get(pool, tenant, req.project_id) is None:
            raise NotFound(f"project {req.project_id} not found", reason="PROJECT_NOT_FOUND")
        runs.check_tasks(req.project_id, tasks)
        by_task = await self.rm.labels.by_task(pool, tenant, req.project_id)
        overrides = runs.project_classes(req.project_id, method, tasks, by_task, self.fits)
        live = await self.rm.consensus.labels_of_run(pool, tenant, req.project_id, LIVE)
        run_id = new_id()
        changed = 0
        async with self.store.transaction() as conn:
            versions = await self.rm.tasks.reserve_each(conn, tenant, [t.task_id for t in tasks])
            appends = []
            for task in tasks:
                subs = by_task.get(task.task_id, [])
                result = task_consensus(
                    task.item_id,
                    pairs(subs),
                    class_override=overrides.get(task.task_id),
                    box_iou=self.tasks.box_iou,
                )
                c = await self.tasks.store_consensus(
                    conn, tenant, run_id, task, method, result.labels, result.score, subs
                )
                changed += runs.changed(live.get(task.task_id), result.labels)
                # At the version reserved above: the live path's next append expects the task
                # row's stream_version.
                appends.append(
                    StreamAppend(
                        task_stream(req.project_id, task.task_id),
                        versions[task.task_id],
                        [origin.event(ev.ConsensusReached(project_id=req.project_id, consensus=c))],
                    )
                )
            await self.rm.runs.insert(
                conn, tenant, run_id, req.project_id, method, len(tasks), self.clock()
            )
            resp = pb.RunConsensusResponse(
                run_id=run_id, method=req.method, tasks=len(tasks), changed_vs_live=changed
            )
            await self.store.append_streams(appends, conn=conn, **cmd.recording(resp))
        return resp
