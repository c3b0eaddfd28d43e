"""What routing learns from other services' events (libs/bus runs these exactly once each;
entrypoints/consumers.py is the dispatch table).

- ``labelops.curation.events.v1``: items (URI, modality, size) and curation decisions. An item
  included in a project's dataset becomes a task of that project; an exclusion cancels its
  open tasks (labels already submitted stay: they are facts).
- ``labelops.ontology.events.v1``: published ontology versions, kept for label validation, so
  a submission never waits on the ontology service.
- ``labelops.qa.events.v1``: a rejected label or a flagged label issue reopens the task for one
  more label from someone who has not labeled it.
- ``labelops.prelabel.events.v1``: a model's pre-labels for a task (offered when the project
  enables pre-labels; their class and confidence become routing signals, and a task nobody has
  started is re-routed on them) and active-learning priorities (queue order).

Every handler takes the tenant of the event it handles (the envelope's) and reads and writes
only that tenant's rows: another tenant's event naming this tenant's project or task finds
nothing. What it appends carries that tenant (and the causing actor, bound around the handler
by entrypoints/consumers.py).
"""

from __future__ import annotations

import logging
import math
import uuid
from typing import Any

import asyncpg
from labelops.curation.v1 import curation_pb2 as cpb
from labelops.curation.v1 import events_pb2 as cev
from labelops.labels.v1 import label_pb2
from labelops.prelabel.v1 import events_pb2 as pev
from labelops.qa.v1 import events_pb2 as qev
from labelops.routing.v1 import events_pb2 as ev
from labelops.routing.v1 import routing_pb2 as pb
from labelops_bus.runner import PoisonMessage
from labelops_core.clock import Clock, utc_now
from labelops_eventstore import EventStore, NewEvent
from labelops_eventstore.store import StreamAppend

from ..adapters.read_models import ReadModels
from ..adapters.tasks import CountsUpdate, counts_of
from .common import task_stream
from .planning import TaskChange, TaskPlanner, spec_from_item

log = logging.getLogger(__name__)
#: PriorityScored priorities lie in this range (the pre-label service's contract).
MAX_PRIORITY = 1000.0

MODALITIES = {
    cpb.MODALITY_IMAGE: "image",
    cpb.MODALITY_VIDEO: "video",
    cpb.MODALITY_TEXT: "text",
    cpb.MODALITY_AUDIO: "audio",
    cpb.MODALITY_DICOM: "dicom",
}


class Projections:
    def __init__(
        self,
        store: EventStore,
        rm: ReadModels,
        planner: TaskPlanner,
        clock: Clock = utc_now,
    ) -> None:
        self.store = store
        self.rm = rm
        self.planner = planner
        self.clock = clock

    # --- qa ----------------------------------------------------------------------------------

    async def label_rejected(
        self, conn: asyncpg.Connection, tenant: str, e: qev.LabelRejected
    ) -> None:
        await self._reopen(conn, tenant, e.project_id, e.task_id, f"review rejected: {e.reason}")

    async def label_issue_flagged(
        self, conn: asyncpg.Connection, tenant: str, f: qev.LabelIssueFlagged
    ) -> None:
        await self._reopen(
            conn,
            tenant,
            f.project_id,
            f.issue.task_id,
            f"label issue: given {f.issue.given_class}, model suggests {f.issue.suggested_class}",
        )

    async def _reopen(
        self, conn: asyncpg.Connection, tenant: str, project_id: str, task_id: str, reason: str
    ) -> None:
        """One more label needed; when no active annotator of the task's pool may still give
        it, the task moves by the rules' overflow (or is marked NO_ELIGIBLE_ANNOTATOR)."""
        tid = _task_id(task_id)
        # The project row first, then the task, then the pools (the order of every
        # transaction that locks pools and tasks).
        project = await self.rm.projects.plain(conn, tenant, project_id, lock=True)
        if project is None:
            return  # not a project of this routing deployment (or of this tenant)
        row = await self.rm.tasks.locked(conn, tenant, tid, project_id)
        if row is None or not (before := counts_of(row)).reopenable:
            return  # not ours, or nothing to re-label
        after = before.reopened()
        await self.rm.tasks.write_counts(conn, tenant, [CountsUpdate(tid, after)], self.clock())
        reopened = ev.TaskReopened(
            project_id=project_id,
            task_id=str(tid),
            item_id=row["item_id"],
            reason=reason[:500],
            required_labels=after.required,
        )
        await self.store.append_streams(
            [
                StreamAppend(
                    task_stream(project_id, tid),
                    row["stream_version"],
                    [NewEvent.of(reopened, tenant_id=tenant)],
                )
            ],
            conn=conn,
        )
        # The row as it is now (counts and stream written above): re-route it if exhausted.
        now = {
            **dict(row),
            "required": after.required,
            "submitted": after.submitted,
            "active": after.active,
            "state": after.state.value,
            "stream_version": row["stream_version"] + 1,
        }
        change = TaskChange(signals=pb.TaskSignals.FromString(row["signals"]))
        if not await self.planner.exhausted(conn, project, [(now, change)]):
            return  # an annotator of its pool may still label it: it waits there
        pools = await self.rm.pools.infos(conn, tenant, lock=True)
        done = await self.planner.change_tasks(
            conn, project, [(now, change)], pools, keep_pool_when_unroutable=True
        )
        if done.appends:
            await self.store.append_streams(done.appends, conn=conn)

    # --- prelabel ------------------------------------------------------------------------------

    async def prelabel_proposed(
        self, conn: asyncpg.Connection, tenant: str, e: pev.PreLabelProposed
    ) -> None:
        """The task's pre-labels become the model's; its class hint and confidence become the
        predicted class and its probability (every other signal stays); a task nobody has
        started is re-routed on them, as UpdateTaskSignals would."""
        tid = _task_id(e.task_id)
        if not 0.0 <= e.confidence <= 1.0:  # also refuses NaN
            raise PoisonMessage(f"task {tid}: confidence {e.confidence} is not in [0, 1]")
        # The project row first, as in UpdateTaskSignals: every transaction that locks pools
        # and tasks holds its project's row before, so the order of the two below (task, then
        # pools) never meets the opposite order on one project.
        project = await self.rm.projects.plain(conn, tenant, e.project_id, lock=True)
        if project is None:
            return  # not a project of this routing deployment (or of this tenant)
        row = await self.rm.tasks.locked(conn, tenant, tid, e.project_id)
        if row is None or not (counts := counts_of(row)).changeable:
            return  # unknown here, or too late to help anyone
        if e.item_id and e.item_id != row["item_id"]:
            # Pre-labels of another item must never be offered on this one.
            raise PoisonMessage(f"task {tid} is item {row['item_id']!r}, not {e.item_id!r}")
        signals = pb.TaskSignals.FromString(row["signals"])
        if e.predicted_class:
            signals.class_id = e.predicted_class
        signals.confidence = e.confidence
        # Only a task nobody has started can move: lock the pools just for that.
        pools = await self.rm.pools.infos(conn, tenant, lock=True) if counts.movable else None
        change = TaskChange(
            signals=signals,
            prelabels=label_pb2.ItemLabels(item_id=row["item_id"], labels=e.labels),
            prelabel_model=e.model_id,
            prelabel_model_version=e.model_version,
        )
        done = await self.planner.change_tasks(
            conn, project, [(row, change)], pools, keep_pool_when_unroutable=True
        )
        if done.appends:
            await self.store.append_streams(done.appends, conn=conn)

    async def priority_scored(
        self, conn: asyncpg.Connection, tenant: str, e: pev.PriorityScored
    ) -> None:
        """Each listed open task of the project gets its priority (signal and queue order).
        Not re-routed: no rule looks at priority."""
        wanted: dict[uuid.UUID, Any] = {}
        for p in e.priorities:
            if not (math.isfinite(p.priority) and 0.0 <= p.priority <= MAX_PRIORITY):
                raise PoisonMessage(
                    f"task {p.task_id}: priority {p.priority} is not in [0, {MAX_PRIORITY:g}]"
                )
            wanted[_task_id(p.task_id)] = p
        if not wanted:
            return
        project = await self.rm.projects.plain(conn, tenant, e.project_id)
        if project is None:
            return
        rows = await self.rm.tasks.locked_in_project(conn, tenant, list(wanted), e.project_id)
        changes: list[tuple[asyncpg.Record, TaskChange]] = []
        for row in rows:
            p = wanted[row["task_id"]]
            if p.item_id and p.item_id != row["item_id"]:
                raise PoisonMessage(
                    f"task {row['task_id']} is item {row['item_id']!r}, not {p.item_id!r}"
                )
            signals = pb.TaskSignals.FromString(row["signals"])
            signals.priority = p.priority
            changes.append((row, TaskChange(signals=signals)))
        await self.planner.change_tasks(conn, project, changes, None)  # no re-route: no events
        if len(rows) < len(wanted):
            log.info(
                "priorities of project %s (model %s %s): %d of %d tasks unknown here",
                e.project_id,
                e.model_id,
                e.model_version,
                len(wanted) - len(rows),
                len(wanted),
            )

    # --- curation ----------------------------------------------------------------------------

    async def item_registered(
        self, conn: asyncpg.Connection, tenant: str, e: cev.ItemRegistered
    ) -> None:
        context = label_pb2.ItemContext(
            width=e.width, height=e.height, frame_count=0, text_length=len(e.text)
        )
        await self.rm.items.upsert(
            conn,
            tenant,
            dataset_id=e.dataset_id,
            item_id=e.item_id,
            uri=e.uri,
            modality=MODALITIES.get(e.modality, "image"),
            context=context.SerializeToString(),
            metadata=e.metadata,
        )

    async def items_curated(
        self, conn: asyncpg.Connection, tenant: str, e: cev.ItemsCurated
    ) -> None:
        include = e.decision == cpb.DECISION_INCLUDE
        ids = list(e.item_ids)
        await self.rm.items.set_included(conn, tenant, e.dataset_id, ids, include)
        projects = await self.rm.projects.of_dataset_locked(conn, tenant, e.dataset_id)
        if not projects:
            return
        appends: list[StreamAppend] = []
        if include:
            rows = await self.rm.items.of_ids(conn, tenant, e.dataset_id, ids)
            pools = await self.rm.pools.infos(conn, tenant, lock=True)
            for project in projects:
                specs = [spec_from_item(r) for r in rows]
                more, _ = await self.planner.plan_tasks(conn, project, specs, pools)
                appends += more
        else:
            appends += await self._cancel(conn, tenant, [p["project_id"] for p in projects], ids)
        if appends:
            await self.store.append_streams(appends, conn=conn)

    async def _cancel(
        self, conn: asyncpg.Connection, tenant: str, project_ids: list[str], item_ids: list[str]
    ) -> list[StreamAppend]:
        """Open tasks of excluded items: canceled; active leases released."""
        tasks = await self.rm.tasks.open_of_items_locked(conn, tenant, project_ids, item_ids)
        if not tasks:
            return []
        await self.rm.assignments.release_active_of_tasks(
            conn, tenant, [t["task_id"] for t in tasks]
        )
        await self.rm.tasks.write_counts(
            conn,
            tenant,
            [CountsUpdate(t["task_id"], counts_of(t).canceled()) for t in tasks],
            self.clock(),
        )
        return [
            StreamAppend(
                task_stream(t["project_id"], t["task_id"]),
                t["stream_version"],
                [
                    NewEvent.of(
                        ev.TaskCanceled(
                            project_id=t["project_id"],
                            task_id=str(t["task_id"]),
                            item_id=t["item_id"],
                            reason="item excluded by curation",
                        ),
                        tenant_id=tenant,
                    )
                ],
            )
            for t in tasks
        ]


def _task_id(task_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(task_id)
    except ValueError:
        raise PoisonMessage(f"not a task id: {task_id!r}") from None
