"""The consensus read model: result sets, "live" (streaming, per task as it completes) and one
per ``RunConsensus``. Insert-only: a new run never changes an earlier one."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg
from labelops.labels.v1 import label_pb2 as L
from labelops.qa.v1 import qa_pb2 as pb

from ..domain.model import METHOD_PB, METHODS, Task
from .tables import Db


class ConsensusTable:
    def __init__(self, table: str, tasks: str) -> None:
        self.t = table
        self.tasks = tasks

    async def insert(
        self,
        conn: asyncpg.Connection,
        tenant_id: str,
        task: Task,
        c: pb.Consensus,
        labels_used: int,
        created_at: datetime,
    ) -> None:
        """Store ``c``, computed over ``labels_used`` labels (a re-labeled task gets a new
        live result next to the old one)."""
        await conn.execute(
            f"INSERT INTO {self.t} (run_id, task_id, project_id, item_id, method, labels, score,"
            " annotator_ids, labels_used, created_at, tenant_id)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
            c.run_id,
            task.task_id,
            task.project_id,
            task.item_id,
            METHODS[c.method],
            c.labels.SerializeToString(),
            c.score,
            list(c.annotator_ids),
            labels_used,
            created_at,
            tenant_id,
        )

    async def latest(self, db: Db, tenant_id: str, run_id: str, task_id: uuid.UUID) -> pb.Consensus:
        """The task's result in ``run_id`` over the most labels (empty when there is none)."""
        row = await db.fetchrow(
            f"SELECT * FROM {self.t} WHERE tenant_id = $1 AND run_id = $2 AND task_id = $3"
            " ORDER BY labels_used DESC LIMIT 1",
            tenant_id,
            run_id,
            task_id,
        )
        return _consensus(row) if row else pb.Consensus()

    async def page(
        self,
        db: Db,
        tenant_id: str,
        project_id: str,
        run_id: str,
        after: uuid.UUID | None,
        limit: int,
    ) -> list[pb.Consensus]:
        """Each task's latest result of a run, in task-id order after ``after``."""
        rows = await db.fetch(
            f"SELECT DISTINCT ON (task_id) * FROM {self.t} WHERE tenant_id = $1"
            " AND project_id = $2 AND run_id = $3 AND ($4::uuid IS NULL OR task_id > $4)"
            " ORDER BY task_id, labels_used DESC LIMIT $5",
            tenant_id,
            project_id,
            run_id,
            after,
            limit,
        )
        return [_consensus(r) for r in rows]

    async def labels_of_run(
        self, db: Db, tenant_id: str, project_id: str, run_id: str
    ) -> dict[uuid.UUID, L.ItemLabels]:
        """Each task's latest labels in a run."""
        rows = await db.fetch(
            f"SELECT DISTINCT ON (task_id) task_id, labels FROM {self.t}"
            " WHERE tenant_id = $1 AND project_id = $2 AND run_id = $3"
            " ORDER BY task_id, labels_used DESC",
            tenant_id,
            project_id,
            run_id,
        )
        return {r["task_id"]: L.ItemLabels.FromString(r["labels"]) for r in rows}

    async def accepted(
        self, db: Db, tenant_id: str, project_id: str, run_id: str, task_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[str, L.ItemLabels]]:
        """Of ``task_ids``, the accepted ones: task id → item id and the labels accepted (a
        reviewer's fix when there was one, else the task's latest result of ``run_id``)."""
        rows = await db.fetch(
            f"SELECT DISTINCT ON (c.task_id) c.task_id, c.item_id,"
            " coalesce(t.accepted_labels, c.labels) AS labels FROM"
            f" {self.t} c JOIN {self.tasks} t USING (tenant_id, task_id)"
            " WHERE c.tenant_id = $1 AND c.project_id = $2 AND c.run_id = $3"
            " AND c.task_id = ANY($4::uuid[]) AND t.state = 'accepted'"
            " ORDER BY c.task_id, c.labels_used DESC",
            tenant_id,
            project_id,
            run_id,
            list(task_ids),
        )
        return {r["task_id"]: (r["item_id"], L.ItemLabels.FromString(r["labels"])) for r in rows}


def _consensus(r: asyncpg.Record) -> pb.Consensus:
    c = pb.Consensus(
        run_id=r["run_id"],
        task_id=str(r["task_id"]),
        item_id=r["item_id"],
        method=METHOD_PB[r["method"]],
        labels=L.ItemLabels.FromString(r["labels"]),
        score=r["score"],
        annotator_ids=list(r["annotator_ids"]),
    )
    c.create_time.FromDatetime(r["created_at"])
    return c
