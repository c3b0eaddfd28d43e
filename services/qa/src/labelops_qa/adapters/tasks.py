"""The tasks read model: each task's quality state, and the version of its stream in this
service (reserved here before every append to it, so appends from the consumer and from
commands never conflict)."""

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

    async def insert(self, conn: asyncpg.Connection, task: Task, created_at: datetime) -> None:
        await conn.execute(
            f"INSERT INTO {self.t} (task_id, project_id, item_id, required, gold,"
            " gold_expected, high_stakes, context, state, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            " ON CONFLICT (task_id) DO NOTHING",
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

    async def reopen(self, conn: asyncpg.Connection, task_id: uuid.UUID, required: int) -> None:
        await conn.execute(
            f"UPDATE {self.t} SET required = $2, state = 'labeling' WHERE task_id = $1",
            task_id,
            required,
        )

    async def count_label(
        self, conn: asyncpg.Connection, task_id: uuid.UUID, model: str, model_version: str
    ) -> Task | None:
        """One more label received; the pre-label model shown with it (when named) is the
        task's from now on. None for an unknown task."""
        r = await conn.fetchrow(
            f"UPDATE {self.t} SET received = received + 1,"
            " prelabel_model = CASE WHEN $2 = '' THEN prelabel_model ELSE $2 END,"
            " prelabel_model_version = CASE WHEN $2 = '' THEN prelabel_model_version ELSE $3 END"
            " WHERE task_id = $1 RETURNING *",
            task_id,
            model,
            model_version,
        )
        return _task(r) if r is not None else None

    async def await_project(self, conn: asyncpg.Connection, task_id: uuid.UUID) -> None:
        await conn.execute(
            f"UPDATE {self.t} SET state = 'awaiting_project' WHERE task_id = $1", task_id
        )

    async def to_review(self, conn: asyncpg.Connection, task: Task) -> None:
        await conn.execute(
            f"UPDATE {self.t} SET state = 'in_review', review_reason = $2,"
            " review_decision = '', reviewer = '' WHERE task_id = $1",
            task.task_id,
            task.review_reason,
        )

    async def accept(
        self, conn: asyncpg.Connection, task_id: uuid.UUID, labels: L.ItemLabels
    ) -> None:
        await conn.execute(
            f"UPDATE {self.t} SET state = 'accepted', accepted_labels = $2 WHERE task_id = $1",
            task_id,
            labels.SerializeToString(),
        )

    async def reviewed(
        self, conn: asyncpg.Connection, task: Task, accepted: L.ItemLabels | None
    ) -> int:
        """Store a review's outcome (the accepted labels unless rejected) and reserve one
        version of the task's stream; returns the version the append expects."""
        return int(
            await conn.fetchval(
                f"UPDATE {self.t} SET state = $2, review_decision = $3, reviewer = $4,"
                " accepted_labels = coalesce($5::bytea, accepted_labels),"
                " stream_version = stream_version + 1"
                " WHERE task_id = $1 RETURNING stream_version - 1",
                task.task_id,
                task.state,
                task.review_decision,
                task.reviewer,
                accepted.SerializeToString() if accepted is not None else None,
            )
        )

    async def reject_for_issue(
        self, conn: asyncpg.Connection, task_id: uuid.UUID, reason: str
    ) -> int:
        """Reject a task a model flagged and reserve one version of its stream (returned)."""
        return int(
            await conn.fetchval(
                f"UPDATE {self.t} SET state = 'rejected', review_reason = $2,"
                " stream_version = stream_version + 1 WHERE task_id = $1"
                " RETURNING stream_version - 1",
                task_id,
                reason,
            )
        )

    async def reserve(self, conn: asyncpg.Connection, task_id: uuid.UUID, n: int) -> int:
        """Reserve ``n`` versions of the task's stream; returns the version the append
        expects."""
        return int(
            await conn.fetchval(
                f"UPDATE {self.t} SET stream_version = stream_version + $2"
                " WHERE task_id = $1 RETURNING stream_version - $2",
                task_id,
                n,
            )
        )

    async def reserve_each(
        self, conn: asyncpg.Connection, task_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, int]:
        """One version of each task's stream, the rows locked in task-id order (so two runs
        cannot deadlock); task id → the version its append expects."""
        rows = await conn.fetch(
            f"UPDATE {self.t} t SET stream_version = t.stream_version + 1"
            f" FROM (SELECT task_id FROM {self.t} WHERE task_id = ANY($1::uuid[])"
            " ORDER BY task_id FOR UPDATE) locked WHERE t.task_id = locked.task_id"
            " RETURNING t.task_id, t.stream_version - 1 AS version",
            list(task_ids),
        )
        return {r["task_id"]: r["version"] for r in rows}

    async def get(self, db: Db, task_id: uuid.UUID, project_id: str) -> Task | None:
        r = await db.fetchrow(
            f"SELECT * FROM {self.t} WHERE task_id = $1 AND project_id = $2", task_id, project_id
        )
        return _task(r) if r is not None else None

    async def lock(
        self, conn: asyncpg.Connection, task_id: uuid.UUID, project_id: str
    ) -> Task | None:
        r = await conn.fetchrow(
            f"SELECT * FROM {self.t} WHERE task_id = $1 AND project_id = $2 FOR UPDATE",
            task_id,
            project_id,
        )
        return _task(r) if r is not None else None

    async def awaiting_project(self, conn: asyncpg.Connection, project_id: str) -> list[Task]:
        """Tasks completed before their project arrived, oldest first (locked)."""
        rows = await conn.fetch(
            f"SELECT * FROM {self.t} WHERE project_id = $1 AND state = 'awaiting_project'"
            " ORDER BY created_at, task_id FOR UPDATE",
            project_id,
        )
        return [_task(r) for r in rows]

    async def review_queue(self, db: Db, project_id: str, limit: int) -> list[Task]:
        """Tasks in review: high stakes first, then oldest first."""
        rows = await db.fetch(
            f"SELECT * FROM {self.t} WHERE project_id = $1 AND state = 'in_review'"
            " ORDER BY high_stakes DESC, created_at LIMIT $2",
            project_id,
            limit,
        )
        return [_task(r) for r in rows]

    async def labeled(self, db: Db, project_id: str) -> list[Task]:
        """Tasks (not gold) with every label they need, in task-id order."""
        rows = await db.fetch(
            f"SELECT * FROM {self.t} WHERE project_id = $1 AND NOT gold"
            " AND received >= required AND required > 0 ORDER BY task_id",
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
