"""What routing learns from other services' events (libs/bus runs these exactly once each).

- ``labelops.curation.events.v1``: items (URI, modality, size) and curation decisions. An item
  included in a project's dataset becomes a task of that project; an exclusion cancels its
  open tasks (labels already submitted stay: they are facts).
- ``labelops.ontology.events.v1``: published ontology versions, kept for label validation, so
  a submission never waits on the ontology service.
- ``labelops.qa.events.v1``: a rejected label or a flagged label issue reopens the task for one
  more label from someone who has not labeled it.
"""

from __future__ import annotations

import json
import uuid

import asyncpg
from labelops.curation.v1 import curation_pb2 as cpb
from labelops.curation.v1 import events_pb2 as cev
from labelops.labels.v1 import label_pb2
from labelops.qa.v1 import events_pb2 as qev
from labelops.routing.v1 import events_pb2 as ev
from labelops.routing.v1 import routing_pb2 as pb
from labelops_bus.runner import MessageContext, PoisonMessage
from labelops_eventstore import NewEvent
from labelops_eventstore.store import StreamAppend

from .handlers import RoutingHandlers, task_stream

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

    async def _reopen(
        self, conn: asyncpg.Connection, project_id: str, task_id: str, reason: str
    ) -> None:
        try:
            tid = uuid.UUID(task_id)
        except ValueError:
            raise PoisonMessage(f"not a task id: {task_id!r}") from None
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
