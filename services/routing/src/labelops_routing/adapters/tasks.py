"""The ``tasks`` read model: a task's item, routing, signals, pre-labels and its counters.

The counters and state are written only from ``domain.tasks.TaskCounts`` (``write_counts``):
the caller locks the rows, the domain computes each task's next counts, one statement writes
the whole batch.

Every method takes the tenant and every statement filters by it (the lease sweeper's and the
queue gauge's scans, which serve no caller, are in assignments.py / ``queue_depth``). Task ids
are unique across tenants (``application.common.task_id_for`` names the tenant), while
project, pool and item ids are per tenant: every join and filter goes through the tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import asyncpg

from ..domain.tasks import TaskCounts, TaskState
from .tables import Executor, Tables


def counts_of(row: Mapping[str, Any]) -> TaskCounts:
    """The counters of a task row (or of a row joined with its task)."""
    return TaskCounts(
        TaskState(row["state"]), row["required"], row["submitted"], row["active"], row["gold"]
    )


class NewTask(NamedTuple):
    """One row for ``insert``; counters start at ``TaskCounts.new``."""

    task_id: uuid.UUID
    project_id: str
    item_id: str
    item_uri: str
    modality: str
    context: bytes
    state: str
    required: int
    pool_id: str
    route_rule: str
    route_reason: str
    signals: bytes
    class_id: str
    priority: float
    due_at: datetime | None
    gold: bool
    prelabels: bytes | None
    created_at: datetime
    tenant_id: str


class SignalsUpdate(NamedTuple):
    """New signals and routing of one task (``write_signals``); None pre-labels / model keep
    the task's own."""

    task_id: uuid.UUID
    signals: bytes
    class_id: str
    priority: float
    due_at: datetime | None
    pool_id: str
    route_rule: str
    route_reason: str
    prelabels: bytes | None
    prelabel_model: str | None
    prelabel_model_version: str | None
    events: int


class CountsUpdate(NamedTuple):
    """A task's next counters (``write_counts``) and how many events its stream gets."""

    task_id: uuid.UUID
    counts: TaskCounts
    events: int = 1


class Tasks:
    def __init__(self, tables: Tables) -> None:
        self.t = tables
        self._write_counts = (
            f"UPDATE {tables.tasks} t SET required = x.required, submitted = x.submitted,"
            " active = x.active, state = x.state,"
            " stream_version = t.stream_version + x.e, updated_at = $7"
            " FROM unnest($1::uuid[], $2::int[], $3::int[], $4::int[], $5::text[], $6::int[])"
            " AS x(task_id, required, submitted, active, state, e) WHERE t.task_id = x.task_id"
            " AND t.tenant_id = $8"
        )

    # --- writes ----------------------------------------------------------------------------------

    async def existing(
        self, conn: Executor, tenant_id: str, task_ids: Sequence[uuid.UUID]
    ) -> set[uuid.UUID]:
        """Which of ``task_ids`` exist."""
        rows = await conn.fetch(
            f"SELECT task_id FROM {self.t.tasks} WHERE task_id = ANY($1::uuid[])"
            " AND tenant_id = $2",
            list(task_ids),
            tenant_id,
        )
        return {r["task_id"] for r in rows}

    async def insert(self, conn: asyncpg.Connection, rows: Sequence[NewTask]) -> None:
        await conn.executemany(
            f"INSERT INTO {self.t.tasks} (task_id, project_id, item_id, item_uri, modality,"
            " context, state, required, pool_id, route_rule, route_reason, signals, class_id,"
            " priority, due_at, gold, prelabels, stream_version, created_at, updated_at,"
            " tenant_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,1,"
            "$18,$18,$19)",
            rows,
        )

    async def write_signals(
        self, conn: Executor, tenant_id: str, updates: Sequence[SignalsUpdate], now: datetime
    ) -> None:
        """One statement for the batch (a priority round can touch thousands of tasks)."""
        if not updates:
            return
        await conn.execute(
            f"UPDATE {self.t.tasks} t SET signals = x.signals, class_id = x.class_id,"
            " priority = x.priority, due_at = x.due_at, pool_id = x.pool_id,"
            " route_rule = x.route_rule, route_reason = x.route_reason,"
            " prelabels = coalesce(x.prelabels, t.prelabels),"
            " prelabel_model = coalesce(x.model, t.prelabel_model),"
            " prelabel_model_version = coalesce(x.model_version, t.prelabel_model_version),"
            " stream_version = t.stream_version + x.events, updated_at = $13"
            " FROM unnest($1::uuid[], $2::bytea[], $3::text[], $4::float8[],"
            " $5::timestamptz[], $6::text[], $7::text[], $8::text[], $9::bytea[], $10::text[],"
            " $11::text[], $12::int[]) AS x(task_id, signals, class_id, priority, due_at,"
            " pool_id, route_rule, route_reason, prelabels, model, model_version, events)"
            " WHERE t.task_id = x.task_id AND t.tenant_id = $14",
            *(list(c) for c in zip(*updates, strict=True)),
            now,
            tenant_id,
        )

    async def write_counts(
        self,
        conn: Executor,
        tenant_id: str,
        updates: Sequence[CountsUpdate],
        now: datetime,
        *,
        submitted: Sequence[uuid.UUID] = (),
    ) -> None:
        """The tasks' counters and state as the domain computed them, in one statement
        (tasks listed once each); ``submitted``: assignments marked submitted in the same
        round trip (a label batch)."""
        if not updates:
            return
        args = [
            [u.task_id for u in updates],
            [u.counts.required for u in updates],
            [u.counts.submitted for u in updates],
            [u.counts.active for u in updates],
            [u.counts.state.value for u in updates],
            [u.events for u in updates],
            now,
            tenant_id,
        ]
        if not submitted:
            await conn.execute(self._write_counts, *args)
            return
        await conn.execute(
            f"WITH a AS (UPDATE {self.t.assignments} SET state = 'submitted'"
            f" WHERE assignment_id = ANY($9::uuid[]) AND tenant_id = $8) {self._write_counts}",
            *args,
            list(submitted),
        )

    # --- locked reads (in a command's transaction) -----------------------------------------------

    async def locked_in_project(
        self,
        conn: asyncpg.Connection,
        tenant_id: str,
        task_ids: Sequence[uuid.UUID],
        project_id: str,
    ) -> list[asyncpg.Record]:
        """The project's tasks among ``task_ids``, locked in id order."""
        return list(
            await conn.fetch(
                f"SELECT * FROM {self.t.tasks} WHERE task_id = ANY($1::uuid[])"
                " AND project_id = $2 AND tenant_id = $3 ORDER BY task_id FOR UPDATE",
                list(task_ids),
                project_id,
                tenant_id,
            )
        )

    async def locked(
        self, conn: asyncpg.Connection, tenant_id: str, task_id: uuid.UUID, project_id: str
    ) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"SELECT * FROM {self.t.tasks} WHERE task_id = $1 AND project_id = $2"
            " AND tenant_id = $3 FOR UPDATE",
            task_id,
            project_id,
            tenant_id,
        )

    async def open_of_items_locked(
        self,
        conn: asyncpg.Connection,
        tenant_id: str,
        project_ids: Sequence[str],
        item_ids: Sequence[str],
    ) -> list[asyncpg.Record]:
        """Open regular tasks of these items in these projects, locked in id order."""
        return list(
            await conn.fetch(
                f"SELECT * FROM {self.t.tasks} WHERE project_id = ANY($1::text[])"
                " AND item_id = ANY($2::text[]) AND NOT gold AND tenant_id = $3"
                " AND state IN ('queued', 'in_progress') ORDER BY task_id FOR UPDATE",
                list(project_ids),
                list(item_ids),
                tenant_id,
            )
        )

    # --- the queue -------------------------------------------------------------------------------

    async def first_queued_project(
        self, conn: Executor, tenant_id: str, pool_id: str
    ) -> str | None:
        """The project of the pool's best queued task (a claim that names no project)."""
        project_id: str | None = await conn.fetchval(
            f"SELECT project_id FROM {self.t.tasks} WHERE pool_id = $1 AND state = 'queued'"
            " AND NOT gold AND tenant_id = $2"
            " ORDER BY priority DESC, due_at NULLS LAST, created_at LIMIT 1",
            pool_id,
            tenant_id,
        )
        return project_id

    async def queued_for(
        self,
        conn: asyncpg.Connection,
        tenant_id: str,
        project_id: str,
        pool_id: str,
        annotator_id: str,
        skills: Sequence[str],
        limit: int,
    ) -> list[asyncpg.Record]:
        """The best queued tasks of the pool in the project that the annotator may label
        (skills) and has never leased, locked (tasks other claims hold are skipped)."""
        return list(
            await conn.fetch(
                f"SELECT * FROM {self.t.tasks} t WHERE project_id = $1 AND pool_id = $2"
                " AND state = 'queued' AND NOT gold AND tenant_id = $6"
                " AND (cardinality($4::text[]) = 0 OR class_id = '' OR class_id = ANY($4))"
                f" AND NOT EXISTS (SELECT 1 FROM {self.t.assignments} a"
                "   WHERE a.task_id = t.task_id AND a.tenant_id = t.tenant_id"
                "   AND a.annotator_id = $3)"
                " ORDER BY priority DESC, due_at NULLS LAST, created_at"
                " LIMIT $5 FOR UPDATE SKIP LOCKED",
                project_id,
                pool_id,
                annotator_id,
                list(skills),
                limit,
                tenant_id,
            )
        )

    async def gold_for(
        self,
        conn: asyncpg.Connection,
        tenant_id: str,
        project_id: str,
        annotator_id: str,
        limit: int,
    ) -> list[asyncpg.Record]:
        """Gold tasks of the project the annotator has never leased, in random order (workers
        cannot learn gold items by position), locked."""
        return list(
            await conn.fetch(
                f"SELECT * FROM {self.t.tasks} t WHERE project_id = $1 AND gold"
                " AND tenant_id = $4"
                f" AND NOT EXISTS (SELECT 1 FROM {self.t.assignments} a"
                "   WHERE a.task_id = t.task_id AND a.tenant_id = t.tenant_id"
                "   AND a.annotator_id = $2)"
                " ORDER BY random() LIMIT $3 FOR UPDATE SKIP LOCKED",
                project_id,
                annotator_id,
                limit,
                tenant_id,
            )
        )

    async def queue_depth(self, conn: Executor) -> dict[tuple[str, str, str], int]:
        """Open regular tasks per (tenant, pool, state), for the queue-depth gauge (an
        operator's metric of every tenant; no caller sees it). Pool ids are per tenant: two
        tenants' pools of one id are counted apart."""
        rows = await conn.fetch(
            f"SELECT tenant_id, pool_id, state, count(*) AS n FROM {self.t.tasks}"
            " WHERE state IN ('queued', 'in_progress') AND NOT gold"
            " GROUP BY tenant_id, pool_id, state"
        )
        return {(r["tenant_id"], r["pool_id"], r["state"]): r["n"] for r in rows}

    # --- queries ---------------------------------------------------------------------------------

    async def get(
        self,
        conn: Executor,
        tenant_id: str,
        task_id: uuid.UUID,
        project_id: str,
        vendor_id: str | None = None,
    ) -> asyncpg.Record | None:
        """The task; ``vendor_id``: only if it is routed to one of that vendor's pools."""
        return await conn.fetchrow(
            f"SELECT * FROM {self.t.tasks} t WHERE t.task_id = $1 AND t.project_id = $2"
            f" AND t.tenant_id = $3 AND {self._of_vendor('$4')}",
            task_id,
            project_id,
            tenant_id,
            vendor_id,
        )

    def _of_vendor(self, param: str) -> str:
        """The task ``t`` is in a pool of vendor ``param`` (NULL: any task)."""
        return (
            f"({param}::text IS NULL OR t.pool_id IN (SELECT v.pool_id FROM {self.t.pools} v"
            f" WHERE v.tenant_id = t.tenant_id AND v.kind = 'vendor' AND v.vendor_id = {param}))"
        )

    async def page(
        self,
        conn: Executor,
        tenant_id: str,
        project_id: str,
        states: Sequence[str],
        pool_id: str,
        after: uuid.UUID | None,
        limit: int,
        vendor_id: str | None = None,
    ) -> list[asyncpg.Record]:
        """The project's tasks in these states ([] = any) and pool ("" = any) after ``after``
        in id order; ``vendor_id``: only tasks of that vendor's pools."""
        return list(
            await conn.fetch(
                f"SELECT * FROM {self.t.tasks} t WHERE t.project_id = $1 AND t.tenant_id = $6"
                " AND (cardinality($2::text[]) = 0 OR t.state = ANY($2))"
                " AND ($3 = '' OR t.pool_id = $3) AND ($4::uuid IS NULL OR t.task_id > $4)"
                f" AND {self._of_vendor('$7')} ORDER BY t.task_id LIMIT $5",
                project_id,
                list(states),
                pool_id,
                after,
                limit,
                tenant_id,
                vendor_id,
            )
        )

    async def queue_stats(
        self, conn: Executor, tenant_id: str, project_id: str, vendor_id: str | None = None
    ) -> list[asyncpg.Record]:
        """Per pool of the project: queued (depth), active leases, open, oldest queued, and
        the queued tasks no active annotator of the pool may still label (every one has
        leased it or lacks the skill for its class; up to 100 ids, oldest first);
        ``vendor_id``: only that vendor's pools."""
        stuck = (
            "t.state = 'queued' AND NOT EXISTS (SELECT 1 FROM"
            f" {self.t.annotators} an WHERE an.tenant_id = t.tenant_id"
            " AND an.pool_id = t.pool_id AND an.active"
            " AND (cardinality(an.skills) = 0 OR t.class_id = '' OR t.class_id = ANY(an.skills))"
            f" AND NOT EXISTS (SELECT 1 FROM {self.t.assignments} a WHERE a.task_id = t.task_id"
            " AND a.tenant_id = t.tenant_id AND a.annotator_id = an.annotator_id))"
        )
        return list(
            await conn.fetch(
                f"SELECT t.pool_id, count(*) FILTER (WHERE t.state = 'queued') AS depth,"
                " coalesce(sum(t.active), 0) AS active,"
                " count(*) FILTER (WHERE t.state IN ('queued', 'in_progress')) AS outstanding,"
                " min(t.created_at) FILTER (WHERE t.state = 'queued') AS oldest,"
                f" count(*) FILTER (WHERE {stuck}) AS no_eligible,"
                " (array_agg(t.task_id ORDER BY t.created_at, t.task_id)"
                f"  FILTER (WHERE {stuck}))[1:100] AS no_eligible_ids"
                f" FROM {self.t.tasks} t WHERE t.project_id = $1 AND NOT t.gold"
                f" AND t.tenant_id = $2 AND {self._of_vendor('$3')}"
                " GROUP BY t.pool_id ORDER BY t.pool_id",
                project_id,
                tenant_id,
                vendor_id,
            )
        )
