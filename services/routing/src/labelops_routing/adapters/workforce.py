"""The ``pools`` and ``annotators`` read models (the workforce), and the open-task counts that
capacity is measured against."""

from __future__ import annotations

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

    async def all(self, conn: Executor) -> list[asyncpg.Record]:
        return list(await conn.fetch(f"SELECT * FROM {self.t.pools} ORDER BY pool_id"))

    async def infos(self, conn: asyncpg.Connection, *, lock: bool) -> dict[str, PoolInfo]:
        """Every pool with its open tasks; ``lock``: FOR UPDATE (routing that changes counts)."""
        rows = await conn.fetch(
            f"SELECT * FROM {self.t.pools} ORDER BY pool_id" + (" FOR UPDATE" if lock else "")
        )
        open_tasks = await self.open_tasks(conn)
        return {r["pool_id"]: pool_info(r, open_tasks.get(r["pool_id"], 0)) for r in rows}

    async def open_tasks(self, conn: Executor) -> dict[str, int]:
        """Open (queued or in progress) regular tasks per pool: what counts against capacity."""
        rows = await conn.fetch(
            f"SELECT pool_id, count(*) AS n FROM {self.t.tasks}"
            " WHERE state IN ('queued', 'in_progress') AND NOT gold GROUP BY pool_id"
        )
        return {r["pool_id"]: r["n"] for r in rows}

    async def get(
        self, conn: Executor, pool_id: str, *, lock: bool = False
    ) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"SELECT * FROM {self.t.pools} WHERE pool_id = $1" + (" FOR UPDATE" if lock else ""),
            pool_id,
        )

    async def insert(
        self,
        conn: Executor,
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
            " cost_per_task, qualified_classes, active, stream_version)"
            " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,1)",
            pool_id,
            display_name,
            kind,
            vendor_id,
            capacity,
            cost_per_task,
            list(qualified_classes),
            active,
        )

    async def update(
        self,
        conn: Executor,
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
            " WHERE pool_id = $1 RETURNING *",
            pool_id,
            display_name,
            capacity,
            cost_per_task,
            list(qualified_classes),
            active,
        )
        assert row is not None  # the caller holds the row's lock
        return row

    async def bump_version(self, conn: Executor, pool_id: str) -> None:
        """One more event on the pool's stream that changes no pool field."""
        await conn.execute(
            f"UPDATE {self.t.pools} SET stream_version = stream_version + 1 WHERE pool_id = $1",
            pool_id,
        )


class Annotators:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    async def get(self, conn: Executor, annotator_id: str) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"SELECT * FROM {self.t.annotators} WHERE annotator_id = $1", annotator_id
        )

    async def insert(
        self,
        conn: Executor,
        *,
        annotator_id: str,
        pool_id: str,
        display_name: str,
        skills: Sequence[str],
        active: bool,
    ) -> None:
        await conn.execute(
            f"INSERT INTO {self.t.annotators} VALUES ($1,$2,$3,$4,$5)",
            annotator_id,
            pool_id,
            display_name,
            list(skills),
            active,
        )

    async def of_pool(self, conn: Executor, pool_id: str) -> list[asyncpg.Record]:
        """The annotators of a pool ("" = of every pool), in id order."""
        return list(
            await conn.fetch(
                f"SELECT * FROM {self.t.annotators} WHERE $1 = '' OR pool_id = $1"
                " ORDER BY annotator_id",
                pool_id,
            )
        )
