"""What routing learns from other services' events (libs/bus runs these exactly once each).

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
"""

from __future__ import annotations

import json
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
from labelops_bus.runner import MessageContext, PoisonMessage
from labelops_eventstore import NewEvent
from labelops_eventstore.store import StreamAppend

from .handlers import RoutingHandlers, TaskChange, task_stream

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
    def __init__(self, handlers: RoutingHandlers) -> None:
        self.h = handlers
        self.t = handlers.t

    async def on_qa_event(self, ctx: MessageContext, conn: asyncpg.Connection) -> None:
        env = ctx.envelope
        if env.type == qev.LabelRejected.DESCRIPTOR.full_name:
            e = qev.LabelRejected.FromString(env.payload)
            await self._reopen(conn, e.project_id, e.task_id, f"review rejected: {e.reason}")
        elif env.type == qev.LabelIssueFlagged.DESCRIPTOR.full_name:
            f = qev.LabelIssueFlagged.FromString(env.payload)
            await self._reopen(
                conn,
                f.project_id,
                f.issue.task_id,
                f"label issue: given {f.issue.given_class}, model suggests"
                f" {f.issue.suggested_class}",
            )

    async def on_prelabel_event(self, ctx: MessageContext, conn: asyncpg.Connection) -> None:
        env = ctx.envelope
        if env.type == pev.PreLabelProposed.DESCRIPTOR.full_name:
            await self._prelabel_proposed(conn, _decode(pev.PreLabelProposed, env.payload))
        elif env.type == pev.PriorityScored.DESCRIPTOR.full_name:
            await self._priority_scored(conn, _decode(pev.PriorityScored, env.payload))

    async def _prelabel_proposed(self, conn: asyncpg.Connection, e: pev.PreLabelProposed) -> None:
        """The task's pre-labels become the model's; its class hint and confidence become the
        predicted class and its probability (every other signal stays); a task nobody has
        started is re-routed on them, as UpdateTaskSignals would."""
        tid = _task_id(e.task_id)
        if not 0.0 <= e.confidence <= 1.0:  # also refuses NaN
            raise PoisonMessage(f"task {tid}: confidence {e.confidence} is not in [0, 1]")
        # The project row first, as in UpdateTaskSignals: every transaction that locks pools
        # and tasks holds its project's row before, so the order of the two below (task, then
        # pools) never meets the opposite order on one project.
        project = await conn.fetchrow(
            f"SELECT * FROM {self.t.projects} WHERE project_id = $1 FOR UPDATE", e.project_id
        )
        if project is None:
            return  # not a project of this routing deployment
        row = await conn.fetchrow(
            f"SELECT * FROM {self.t.tasks} WHERE task_id = $1 AND project_id = $2 FOR UPDATE",
            tid,
            e.project_id,
        )
        if row is None or row["gold"] or row["state"] in ("labeled", "canceled"):
            return  # unknown here, or too late to help anyone
        if e.item_id and e.item_id != row["item_id"]:
            # Pre-labels of another item must never be offered on this one.
            raise PoisonMessage(f"task {tid} is item {row['item_id']!r}, not {e.item_id!r}")
        signals = pb.TaskSignals.FromString(row["signals"])
        if e.predicted_class:
            signals.class_id = e.predicted_class
        signals.confidence = e.confidence
        # Only a task nobody has started can move: lock the pools just for that.
        movable = row["active"] == 0 and row["submitted"] == 0
        pools = await self.h.pools(conn, lock=True) if movable else None
        done = await self.h.change_tasks(
            conn,
            project,
            [
                (
                    row,
                    TaskChange(
                        signals=signals,
                        prelabels=label_pb2.ItemLabels(item_id=row["item_id"], labels=e.labels),
                        prelabel_model=e.model_id,
                        prelabel_model_version=e.model_version,
                    ),
                )
            ],
            pools,
            keep_pool_when_unroutable=True,
        )
        if done.appends:
            await self.h.store.append_streams(done.appends, conn=conn)

    async def _priority_scored(self, conn: asyncpg.Connection, e: pev.PriorityScored) -> None:
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
        project = await conn.fetchrow(
            f"SELECT * FROM {self.t.projects} WHERE project_id = $1", e.project_id
        )
        if project is None:
            return
        rows = await conn.fetch(
            f"SELECT * FROM {self.t.tasks} WHERE task_id = ANY($1::uuid[]) AND project_id = $2"
            " ORDER BY task_id FOR UPDATE",
            list(wanted),
            e.project_id,
        )
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
        await self.h.change_tasks(conn, project, changes, None)  # no re-route: no events
        if len(rows) < len(wanted):
            log.info(
                "priorities of project %s (model %s %s): %d of %d tasks unknown here",
                e.project_id,
                e.model_id,
                e.model_version,
                len(wanted) - len(rows),
                len(wanted),
            )

    async def _reopen(
        self, conn: asyncpg.Connection, project_id: str, task_id: str, reason: str
    ) -> None:
        tid = _task_id(task_id)
        row = await conn.fetchrow(
            f"SELECT * FROM {self.t.tasks} WHERE task_id = $1 AND project_id = $2 FOR UPDATE",
            tid,
            project_id,
        )
        if row is None or row["gold"] or row["state"] == "canceled":
            return  # not ours, or nothing to re-label
        required = row["required"] + 1
        await conn.execute(
            f"UPDATE {self.t.tasks} SET required = $2, state = 'queued',"
            " stream_version = stream_version + 1, updated_at = now() WHERE task_id = $1",
            tid,
            required,
        )
        await self.h.store.append_streams(
            [
                StreamAppend(
                    task_stream(project_id, tid),
                    row["stream_version"],
                    [
                        NewEvent.of(
                            ev.TaskReopened(
                                project_id=project_id,
                                task_id=str(tid),
                                item_id=row["item_id"],
                                reason=reason[:500],
                                required_labels=required,
                            )
                        )
                    ],
                )
            ],
            conn=conn,
        )

    async def on_curation_event(self, ctx: MessageContext, conn: asyncpg.Connection) -> None:
        env = ctx.envelope
        if env.type == cev.ItemRegistered.DESCRIPTOR.full_name:
            await self._item_registered(conn, cev.ItemRegistered.FromString(env.payload))
        elif env.type == cev.ItemsCurated.DESCRIPTOR.full_name:
            await self._items_curated(conn, cev.ItemsCurated.FromString(env.payload))

    async def _item_registered(self, conn: asyncpg.Connection, e: cev.ItemRegistered) -> None:
        context = label_pb2.ItemContext(
            width=e.width,
            height=e.height,
            frame_count=0,
            text_length=len(e.text),
        )
        await conn.execute(
            f"INSERT INTO {self.t.items} (dataset_id, item_id, uri, modality, context, metadata)"
            " VALUES ($1, $2, $3, $4, $5, $6::jsonb)"
            " ON CONFLICT (dataset_id, item_id) DO UPDATE SET uri = EXCLUDED.uri,"
            " modality = EXCLUDED.modality, context = EXCLUDED.context,"
            " metadata = EXCLUDED.metadata",
            e.dataset_id,
            e.item_id,
            e.uri,
            MODALITIES.get(e.modality, "image"),
            context.SerializeToString(),
            json.dumps(dict(e.metadata)),
        )

    async def _items_curated(self, conn: asyncpg.Connection, e: cev.ItemsCurated) -> None:
        include = e.decision == cpb.DECISION_INCLUDE
        ids = list(e.item_ids)
        await conn.execute(
            f"UPDATE {self.t.items} SET included = $3 WHERE dataset_id = $1"
            " AND item_id = ANY($2::text[])",
            e.dataset_id,
            ids,
            include,
        )
        projects = await conn.fetch(
            f"SELECT * FROM {self.t.projects} WHERE dataset_id = $1 ORDER BY project_id FOR UPDATE",
            e.dataset_id,
        )
        if not projects:
            return
        appends: list[StreamAppend] = []
        if include:
            rows = await conn.fetch(
                f"SELECT * FROM {self.t.items} WHERE dataset_id = $1 AND item_id = ANY($2::text[])"
                " ORDER BY item_id",
                e.dataset_id,
                ids,
            )
            pools = await self.h.pools(conn, lock=True)
            for project in projects:
                config = pb.WorkflowConfig.FromString(project["config"])
                specs = [self.h.spec_from_item(r, config) for r in rows]
                more, _ = await self.h.plan_tasks(conn, project, specs, pools)
                appends += more
        else:
            appends += await self._cancel(conn, [p["project_id"] for p in projects], ids, e)
        if appends:
            await self.h.store.append_streams(appends, conn=conn)

    async def _cancel(
        self, conn: asyncpg.Connection, project_ids: list[str], item_ids: list[str], e: object
    ) -> list[StreamAppend]:
        """Open tasks of excluded items: canceled; active leases released."""
        tasks = await conn.fetch(
            f"SELECT * FROM {self.t.tasks} WHERE project_id = ANY($1::text[])"
            " AND item_id = ANY($2::text[]) AND NOT gold AND state IN ('queued', 'in_progress')"
            " ORDER BY task_id FOR UPDATE",
            project_ids,
            item_ids,
        )
        if not tasks:
            return []
        tids = [t["task_id"] for t in tasks]
        await conn.execute(
            f"UPDATE {self.t.assignments} SET state = 'released', reason = 'ITEM_EXCLUDED'"
            " WHERE task_id = ANY($1::uuid[]) AND state = 'active'",
            tids,
        )
        await conn.execute(
            f"UPDATE {self.t.tasks} SET state = 'canceled', active = 0,"
            " stream_version = stream_version + 1, updated_at = now()"
            " WHERE task_id = ANY($1::uuid[])",
            tids,
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
                        )
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


def _decode(message: Any, payload: bytes) -> Any:
    try:
        return message.FromString(payload)
    except Exception as exc:  # protobuf's DecodeError; its module path varies by backend
        raise PoisonMessage(f"payload is not a {message.DESCRIPTOR.full_name}: {exc}") from exc
