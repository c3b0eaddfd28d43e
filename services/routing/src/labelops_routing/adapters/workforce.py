"""The ``pools`` and ``annotators`` read models (the workforce), and the open-task counts that
capacity is measured against. Every method takes the tenant: another tenant's pool or
annotator is not found, and routing never sees another tenant's pools."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from ..domain.rules import PoolInfo
from .tables import Executor, Tables


def pool_info(r: asyncpg.Record, outstanding: int) -> PoolInfo:
    """A pool row as the rule engine sees it."""
    return PoolInfo(
        pool_id=r["pool_id"],
        kind=r["kind"],
        vendor_id=r["vendor_id"],
        capacity=r["capacity"],
        outstanding=outstanding,
        cost_per_task=r["cost_per_task"],
        qualified_classes=frozenset(r["qualified_classes"]),
        active=r["active"],
    )


class Pools:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    async def all(
        self, conn: Executor, tenant_id: str, vendor_id: str | None = None
    ) -> list[asyncpg.Record]:
        """The tenant's pools (``vendor_id``: only that vendor's), in id order."""
        return list(
            await conn.fetch(
                f"SELECT * FROM {self.t.pools} WHERE tenant_id = $1"
                " AND ($2::text IS NULL OR (kind = 'vendor' AND vendor_id = $2))"
                " ORDER BY pool_id",
                tenant_id,
                vendor_id,
            )
        )

    async def infos(
        self, conn: asyncpg.Connection, tenant_id: str, *, lock: bool
    ) -> dict[str, PoolInfo]:
        """The tenant's pools with their open tasks; ``lock``: FOR UPDATE (routing that
        changes counts)."""
        rows = await conn.fetch(
            f"SELECT * FROM {self.t.pools} WHERE tenant_id = $1 ORDER BY pool_id"
            + (" FOR UPDATE" if lock else ""),
            tenant_id,
        )
        open_tasks = await self.open_tasks(conn, tenant_id)
        return {r["pool_id"]: pool_info(r, open_tasks.get(r["pool_id"], 0)) for r in rows}

    async def open_tasks(self, conn: Executor, tenant_id: str) -> dict[str, int]:
        """Open (queued or in progress) regular tasks per pool: what counts against capacity."""
        rows = await conn.fetch(
            f"SELECT pool_id, count(*) AS n FROM {self.t.tasks} WHERE tenant_id = $1"
            " AND state IN ('queued', 'in_progress') AND NOT gold GROUP BY pool_id",
            tenant_id,
        )
        return {r["pool_id"]: r["n"] for r in rows}

    async def get(
        self, conn: Executor, tenant_id: str, pool_id: str, *, lock: bool = False
    ) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"SELECT * FROM {self.t.pools} WHERE tenant_id = $1 AND pool_id = $2"
            + (" FOR UPDATE" if lock else ""),
            tenant_id,
            pool_id,
        )

    async def insert(
        self,
        conn: Executor,
        tenant_id: str,
        *,
        pool_id: str,
        display_name: str,
        kind: str,
        vendor_id: str,
        capacity: int,
        cost_per_task: float,
        qualified_classes: Sequence[str],
        active: bool,
    ) -> None:
        """A new pool at stream version 1."""
        await conn.execute(
            f"INSERT INTO {self.t.pools} (pool_id, display_name, kind, vendor_id, capacity,"
            " cost_per_task, qualified_classes, active, stream_version, tenant_id)"
            " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,1,$9)",
            pool_id,
            display_name,
            kind,
            vendor_id,
            capacity,
            cost_per_task,
            list(qualified_classes),
            active,
            tenant_id,
        )

    async def update(
        self,
        conn: Executor,
        tenant_id: str,
        *,
        pool_id: str,
        display_name: str,
        capacity: int,
        cost_per_task: float,
        qualified_classes: Sequence[str],
        active: bool,
    ) -> asyncpg.Record:
        """The pool's mutable fields (kind and vendor never change); returns the new row."""
        row = await conn.fetchrow(
            f"UPDATE {self.t.pools} SET display_name = $2, capacity = $3, cost_per_task = $4,"
            " qualified_classes = $5, active = $6, stream_version = stream_version + 1"
            " WHERE pool_id = $1 AND tenant_id = $7 RETURNING *",
            pool_id,
            display_name,
            capacity,
            cost_per_task,
            list(qualified_classes),
            active,
            tenant_id,
        )
        assert row is not None  # the caller holds the row's lock
        return row

    async def bump_version(self, conn: Executor, tenant_id: str, pool_id: str) -> None:
        """One more event on the pool's stream that changes no pool field."""
        await conn.execute(
            f"UPDATE {self.t.pools} SET stream_version = stream_version + 1"
            " WHERE pool_id = $1 AND tenant_id = $2",
            pool_id,
            tenant_id,
        )


class Annotators:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    async def get(self, conn: Executor, tenant_id: str, annotator_id: str) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"SELECT * FROM {self.t.annotators} WHERE tenant_id = $1 AND annotator_id = $2",
            tenant_id,
            annotator_id,
        )

    async def insert(
        self,
        conn: Executor,
        tenant_id: str,
        *,
        annotator_id: str,
        pool_id: str,
        display_name: str,
        skills: Sequence[str],
        active: bool,
    ) -> None:
        await conn.execute(
            f"INSERT INTO {self.t.annotators} (annotator_id, pool_id, display_name, skills,"
            " active, tenant_id) VALUES ($1,$2,$3,$4,$5,$6)",
            annotator_id,
            pool_id,
            display_name,
            list(skills),
            active,
            tenant_id,
        )

    async def of_pool(
        self, conn: Executor, tenant_id: str, pool_id: str, vendor_id: str | None = None
    ) -> list[asyncpg.Record]:
        """The tenant's annotators of a pool ("" = of every pool; ``vendor_id``: only of that
        vendor's pools), in id order."""
        return list(
            await conn.fetch(
                f"SELECT a.* FROM {self.t.annotators} a JOIN {self.t.pools} p"
                " ON p.pool_id = a.pool_id AND p.tenant_id = a.tenant_id"
                " WHERE a.tenant_id = $1 AND ($2 = '' OR a.pool_id = $2)"
                " AND ($3::text IS NULL OR (p.kind = 'vendor' AND p.vendor_id = $3))"
                " ORDER BY a.annotator_id",
                tenant_id,
                pool_id,
                vendor_id,
            )
        )

    async def eligible_pools(
        self, conn: Executor, tenant_id: str, tasks: Sequence[tuple[uuid.UUID, str]]
    ) -> dict[uuid.UUID, set[str]]:
        """Per (task, class id), the pools with an active annotator who may still label it:
        one who never leased it (any lease counts, as in a claim) and whose skills cover the
        class (no skills = every class). Tasks with no such pool are absent."""
        if not tasks:
            return {}
        rows = await conn.fetch(
            "SELECT x.task_id, an.pool_id FROM unnest($1::uuid[], $2::text[]) AS"
            f" x(task_id, class_id) JOIN {self.t.annotators} an ON an.tenant_id = $3"
            " AND an.active AND (cardinality(an.skills) = 0 OR x.class_id = ''"
            " OR x.class_id = ANY(an.skills))"
            f" WHERE NOT EXISTS (SELECT 1 FROM {self.t.assignments} a"
            "   WHERE a.task_id = x.task_id AND a.tenant_id = $3"
            "   AND a.annotator_id = an.annotator_id)"
            " GROUP BY x.task_id, an.pool_id",
            [t for t, _ in tasks],
            [c for _, c in tasks],
            tenant_id,
        )
        out: dict[uuid.UUID, set[str]] = {}
        for r in rows:
            out.setdefault(r["task_id"], set()).add(r["pool_id"])
        return out
