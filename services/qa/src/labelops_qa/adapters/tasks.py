"""The tasks read model: each task's quality state, and the version of its stream in this
service (reserved here before every append to it, so appends from the consumer and from
commands never conflict).

Every statement is of one tenant (``tenant_id``, the key's first column): another tenant's
task is not found.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg
from labelops.labels.v1 import label_pb2 as L

from ..domain.model import Task
from .tables import Db


class TasksTable:
    def __init__(self, table: str) -> None:
        self.t = table

    async def insert(
        self, conn: asyncpg.Connection, tenant_id: str, task: Task, created_at: datetime
    ) -> None:
        await conn.execute(
            f"INSERT INTO {self.t} (tenant_id, task_id, project_id, item_id, required, gold,"
            " gold_expected, high_stakes, context, state, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            " ON CONFLICT (tenant_id, task_id) DO NOTHING",
            tenant_id,
            task.task_id,
            task.project_id,
            task.item_id,
            task.required,
            task.gold,
            task.gold_expected,
            task.high_stakes,
            task.context,
            task.state,
            created_at,
        )

    async def reopen(
        self, conn: asyncpg.Connection, tenant_id: str, task_id: uuid.UUID, required: int
    ) -> None:
        await conn.execute(
            f"UPDATE {self.t} SET required = $3, state = 'labeling'"
            " WHERE tenant_id = $1 AND task_id = $2",
            tenant_id,
            task_id,
            required,
        )

    async def count_label(
        self,
        conn: asyncpg.Connection,
        tenant_id: str,
        task_id: uuid.UUID,
        model: str,
        model_version: str,
    ) -> Task | None:
        """One more label received; the pre-label model shown with it (when named) is the
        task's from now on. None for an unknown task (of this tenant)."""
        r = await conn.fetchrow(
            f"UPDATE {self.t} SET received = received + 1,"
            " prelabel_model = CASE WHEN $3 = '' THEN prelabel_model ELSE $3 END,"
            " prelabel_model_version = CASE WHEN $3 = '' THEN prelabel_model_version ELSE $4 END"
            " WHERE tenant_id = $1 AND task_id = $2 RETURNING *",
            tenant_id,
            task_id,
            model,
            model_version,
        )
        return _task(r) if r is not None else None

    async def await_project(
        self, conn: asyncpg.Connection, tenant_id: str, task_id: uuid.UUID
    ) -> None:
        await conn.execute(
            f"UPDATE {self.t} SET state = 'awaiting_project' WHERE tenant_id = $1 AND task_id = $2",
            tenant_id,
            task_id,
        )

    async def to_review(self, conn: asyncpg.Connection, tenant_id: str, task: Task) -> None:
        await conn.execute(
            f"UPDATE {self.t} SET state = 'in_review', review_reason = $3,"
            " review_decision = '', reviewer = '' WHERE tenant_id = $1 AND task_id = $2",
            tenant_id,
            task.task_id,
            task.review_reason,
        )

    async def accept(
        self, conn: asyncpg.Connection, tenant_id: str, task_id: uuid.UUID, labels: L.ItemLabels
    ) -> None:
        await conn.execute(
            f"UPDATE {self.t} SET state = 'accepted', accepted_labels = $3"
            " WHERE tenant_id = $1 AND task_id = $2",
            tenant_id,
            task_id,
            labels.SerializeToString(),
        )

    async def reviewed(
        self,
        conn: asyncpg.Connection,
        tenant_id: str,
        task: Task,
        accepted: L.ItemLabels | None,
    ) -> int:
        """Store a review's outcome (the accepted labels unless rejected) and reserve one
        version of the task's stream; returns the version the append expects."""
        return int(
            await conn.fetchval(
                f"UPDATE {self.t} SET state = $3, review_decision = $4, reviewer = $5,"
                " accepted_labels = coalesce($6::bytea, accepted_labels),"
                " stream_version = stream_version + 1"
                " WHERE tenant_id = $1 AND task_id = $2 RETURNING stream_version - 1",
                tenant_id,
                task.task_id,
                task.state,
                task.review_decision,
                task.reviewer,
                accepted.SerializeToString() if accepted is not None else None,
            )
        )

    async def reject_for_issue(
        self, conn: asyncpg.Connection, tenant_id: str, task_id: uuid.UUID, reason: str
    ) -> int:
        """Reject a task a model flagged and reserve one version of its stream (returned)."""
        return int(
            await conn.fetchval(
                f"UPDATE {self.t} SET state = 'rejected', review_reason = $3,"
                " stream_version = stream_version + 1 WHERE tenant_id = $1 AND task_id = $2"
                " RETURNING stream_version - 1",
                tenant_id,
                task_id,
                reason,
            )
        )

    async def reserve(
        self, conn: asyncpg.Connection, tenant_id: str, task_id: uuid.UUID, n: int
    ) -> int:
        """Reserve ``n`` versions of the task's stream; returns the version the append
        expects."""
        return int(
            await conn.fetchval(
                f"UPDATE {self.t} SET stream_version = stream_version + $3"
                " WHERE tenant_id = $1 AND task_id = $2 RETURNING stream_version - $3",
                tenant_id,
                task_id,
                n,
            )
        )

    async def reserve_each(
        self, conn: asyncpg.Connection, tenant_id: str, task_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, int]:
        """One version of each task's stream, the rows locked in task-id order (so two runs
        cannot deadlock); task id → the version its append expects."""
        rows = await conn.fetch(
            f"UPDATE {self.t} t SET stream_version = t.stream_version + 1"
            f" FROM (SELECT task_id FROM {self.t} WHERE tenant_id = $1"
            " AND task_id = ANY($2::uuid[]) ORDER BY task_id FOR UPDATE) locked"
            " WHERE t.tenant_id = $1 AND t.task_id = locked.task_id"
            " RETURNING t.task_id, t.stream_version - 1 AS version",
            tenant_id,
            list(task_ids),
        )
        return {r["task_id"]: r["version"] for r in rows}

    async def get(self, db: Db, tenant_id: str, task_id: uuid.UUID, project_id: str) -> Task | None:
        r = await db.fetchrow(
            f"SELECT * FROM {self.t} WHERE tenant_id = $1 AND task_id = $2 AND project_id = $3",
            tenant_id,
            task_id,
            project_id,
        )
        return _task(r) if r is not None else None

    async def lock(
        self, conn: asyncpg.Connection, tenant_id: str, task_id: uuid.UUID, project_id: str
    ) -> Task | None:
        r = await conn.fetchrow(
            f"SELECT * FROM {self.t} WHERE tenant_id = $1 AND task_id = $2 AND project_id = $3"
            " FOR UPDATE",
            tenant_id,
            task_id,
            project_id,
        )
        return _task(r) if r is not None else None

    async def awaiting_project(
        self, conn: asyncpg.Connection, tenant_id: str, project_id: str
    ) -> list[Task]:
        """Tasks completed before their project arrived, oldest first (locked)."""
        rows = await conn.fetch(
            f"SELECT * FROM {self.t} WHERE tenant_id = $1 AND project_id = $2"
            " AND state = 'awaiting_project' ORDER BY created_at, task_id FOR UPDATE",
            tenant_id,
            project_id,
        )
        return [_task(r) for r in rows]

    async def review_queue(self, db: Db, tenant_id: str, project_id: str, limit: int) -> list[Task]:
        """Tasks in review: high stakes first, then oldest first."""
        rows = await db.fetch(
            f"SELECT * FROM {self.t} WHERE tenant_id = $1 AND project_id = $2"
            " AND state = 'in_review' ORDER BY high_stakes DESC, created_at LIMIT $3",
            tenant_id,
            project_id,
            limit,
        )
        return [_task(r) for r in rows]

    async def labeled(self, db: Db, tenant_id: str, project_id: str) -> list[Task]:
        """Tasks (not gold) with every label they need, in task-id order."""
        rows = await db.fetch(
            f"SELECT * FROM {self.t} WHERE tenant_id = $1 AND project_id = $2 AND NOT gold"
            " AND received >= required AND required > 0 ORDER BY task_id",
            tenant_id,
            project_id,
        )
        return [_task(r) for r in rows]


def _task(r: asyncpg.Record) -> Task:
    return Task(
        task_id=r["task_id"],
        project_id=r["project_id"],
        item_id=r["item_id"],
        required=r["required"],
        received=r["received"],
        gold=r["gold"],
        gold_expected=r["gold_expected"],
        high_stakes=r["high_stakes"],
        context=r["context"],
        state=r["state"],
        review_reason=r["review_reason"],
        review_decision=r["review_decision"],
        reviewer=r["reviewer"],
        prelabel_model=r["prelabel_model"],
        prelabel_model_version=r["prelabel_model_version"],
    )
