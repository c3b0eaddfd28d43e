"""The ``assignments`` read model (leases: who holds which task until when) and the
``offer_counters`` (offers made per annotator and project, which draw gold slots).

Every method takes the tenant, except the lease sweeper's scan (``expired_locked``), which
serves no caller: it finds expired leases of every tenant, and each row carries its tenant
on (the events it causes belong to the lease's tenant)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

import asyncpg

from .tables import Executor, Tables


class NewAssignment(NamedTuple):
    """One lease a claim hands out (``insert``)."""

    assignment_id: uuid.UUID
    task_id: uuid.UUID
    project_id: str
    annotator_id: str
    pool_id: str
    vendor_id: str
    lease_expires: datetime
    created_at: datetime
    #: The model whose pre-labels the offer shows ("" = none shown).
    prelabel_model: str
    prelabel_model_version: str
    tenant_id: str


class Assignments:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    async def insert(self, conn: asyncpg.Connection, rows: Sequence[NewAssignment]) -> None:
        """New active leases."""
        await conn.executemany(
            f"INSERT INTO {self.t.assignments} (assignment_id, task_id, project_id,"
            " annotator_id, pool_id, vendor_id, state, lease_expires, created_at,"
            " prelabel_model, prelabel_model_version, tenant_id)"
            " VALUES ($1,$2,$3,$4,$5,$6,'active',$7,$8,$9,$10,$11)",
            rows,
        )

    async def locked_with_tasks(
        self, conn: asyncpg.Connection, tenant_id: str, ids: Sequence[uuid.UUID]
    ) -> list[asyncpg.Record]:
        """Assignments with their tasks (``t.*`` plus ``a_pool_id``, ``a_state``,
        ``offered_model``...), both locked, in task order (no deadlocks between batches that
        share tasks)."""
        return list(
            await conn.fetch(
                f"SELECT a.assignment_id, a.annotator_id, a.pool_id AS a_pool_id, a.vendor_id,"
                " a.state AS a_state, a.lease_expires, a.prelabel_model AS offered_model,"
                " a.prelabel_model_version AS offered_model_version, t.*"
                f" FROM {self.t.assignments} a JOIN {self.t.tasks} t USING (tenant_id, task_id)"
                " WHERE a.assignment_id = ANY($1::uuid[]) AND a.tenant_id = $2"
                " AND t.tenant_id = $2 ORDER BY t.task_id, a.assignment_id FOR UPDATE",
                list(ids),
                tenant_id,
            )
        )

    async def with_config(
        self, conn: Executor, tenant_id: str, ids: Sequence[uuid.UUID]
    ) -> list[asyncpg.Record]:
        """Assignments with their project's workflow config (lease length)."""
        return list(
            await conn.fetch(
                f"SELECT a.*, p.config FROM {self.t.assignments} a"
                f" JOIN {self.t.projects} p ON p.project_id = a.project_id"
                " AND p.tenant_id = a.tenant_id"
                " WHERE a.assignment_id = ANY($1::uuid[]) AND a.tenant_id = $2",
                list(ids),
                tenant_id,
            )
        )

    async def extend(
        self, conn: Executor, tenant_id: str, ids: Sequence[uuid.UUID], expires: datetime
    ) -> None:
        """The leases now end at ``expires`` (one statement for a heartbeat's leases)."""
        await conn.execute(
            f"UPDATE {self.t.assignments} SET lease_expires = $2"
            " WHERE assignment_id = ANY($1::uuid[]) AND tenant_id = $3",
            list(ids),
            expires,
            tenant_id,
        )

    async def end(
        self,
        conn: Executor,
        tenant_id: str,
        ids: Sequence[uuid.UUID],
        state: str,
        reason: str,
    ) -> None:
        """Active leases → ``state`` (expired, skipped, released) with ``reason``."""
        await conn.execute(
            f"UPDATE {self.t.assignments} SET state = $2, reason = $3"
            " WHERE assignment_id = ANY($1::uuid[]) AND tenant_id = $4",
            list(ids),
            state,
            reason,
            tenant_id,
        )

    async def release_active_of_tasks(
        self, conn: Executor, tenant_id: str, task_ids: Sequence[uuid.UUID]
    ) -> None:
        """The tasks' active leases end: their item left the project."""
        await conn.execute(
            f"UPDATE {self.t.assignments} SET state = 'released', reason = 'ITEM_EXCLUDED'"
            " WHERE task_id = ANY($1::uuid[]) AND state = 'active' AND tenant_id = $2",
            list(task_ids),
            tenant_id,
        )

    async def expired_locked(
        self, conn: asyncpg.Connection, now: datetime, limit: int
    ) -> list[tuple[str, uuid.UUID]]:
        """Active leases past their time, of every tenant (the sweeper's scan), locked
        (others' locks skipped), in task order: (tenant, assignment id)."""
        rows = await conn.fetch(
            f"SELECT a.tenant_id, a.assignment_id FROM {self.t.assignments} a"
            " WHERE a.state = 'active' AND a.lease_expires < $1"
            " ORDER BY a.task_id LIMIT $2 FOR UPDATE SKIP LOCKED",
            now,
            limit,
        )
        return [(r["tenant_id"], r["assignment_id"]) for r in rows]

    async def submitted_by(
        self, conn: Executor, tenant_id: str, task_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[str]]:
        """Who labeled each task so far, first label first (one round trip for a batch)."""
        rows = await conn.fetch(
            f"SELECT task_id, array_agg(annotator_id ORDER BY created_at) AS annotators"
            f" FROM {self.t.assignments} WHERE task_id = ANY($1::uuid[])"
            " AND state = 'submitted' AND tenant_id = $2 GROUP BY task_id",
            list(task_ids),
            tenant_id,
        )
        return {r["task_id"]: list(r["annotators"]) for r in rows}

    async def of_task(
        self, conn: Executor, tenant_id: str, task_id: uuid.UUID
    ) -> list[asyncpg.Record]:
        return list(
            await conn.fetch(
                f"SELECT * FROM {self.t.assignments} WHERE task_id = $1 AND tenant_id = $2"
                " ORDER BY created_at",
                task_id,
                tenant_id,
            )
        )

    async def leased_tasks(
        self, conn: Executor, tenant_id: str, task_ids: Sequence[uuid.UUID]
    ) -> set[uuid.UUID]:
        """Which of ``task_ids`` were ever leased (to anyone, in any state)."""
        if not task_ids:
            return set()
        rows = await conn.fetch(
            f"SELECT DISTINCT task_id FROM {self.t.assignments}"
            " WHERE task_id = ANY($1::uuid[]) AND tenant_id = $2",
            list(task_ids),
            tenant_id,
        )
        return {r["task_id"] for r in rows}


class OfferCounters:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    async def locked(
        self, conn: asyncpg.Connection, tenant_id: str, project_id: str, annotator_id: str
    ) -> int:
        """Offers made so far to the annotator in the project (0 if none), the row locked."""
        n = await conn.fetchval(
            f"SELECT offers FROM {self.t.offer_counters}"
            " WHERE tenant_id = $1 AND project_id = $2 AND annotator_id = $3 FOR UPDATE",
            tenant_id,
            project_id,
            annotator_id,
        )
        return int(n or 0)

    async def set(
        self, conn: Executor, tenant_id: str, project_id: str, annotator_id: str, offers: int
    ) -> None:
        await conn.execute(
            f"INSERT INTO {self.t.offer_counters} (tenant_id, project_id, annotator_id, offers)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, project_id, annotator_id)"
            " DO UPDATE SET offers = EXCLUDED.offers",
            tenant_id,
            project_id,
            annotator_id,
            offers,
        )
