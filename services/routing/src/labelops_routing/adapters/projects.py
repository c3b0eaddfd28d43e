"""The ``projects`` read model: a project's config, rules and counters (one row per project).

Every method takes the tenant: a project of another tenant is not found, and two tenants may
hold projects of the same id (keyed by (tenant, project); migrations/0005_tenant_ids.sql).

A command that changes a project locks its row first (``row(..., lock=True)``): every
transaction that also locks pools or tasks holds its project's row before them, so two of
them never lock the same rows in opposite orders.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from .tables import Executor, Tables

#: The project row plus its labeled-task count (not a counter column: see the migration).
_WITH_LABELED = (
    "SELECT p.*, (SELECT count(*) FROM {tasks} t WHERE t.tenant_id = p.tenant_id"
    " AND t.project_id = p.project_id AND t.state = 'labeled' AND NOT t.gold) AS tasks_labeled"
    " FROM {projects} p"
    " WHERE p.tenant_id = $1"
)


class Projects:
    def __init__(self, tables: Tables) -> None:
        self.t = tables
        self._with_labeled = _WITH_LABELED.format(tasks=tables.tasks, projects=tables.projects)

    async def row(
        self, conn: Executor, tenant_id: str, project_id: str, *, lock: bool = False
    ) -> asyncpg.Record | None:
        """The project with ``tasks_labeled``; ``lock``: FOR UPDATE of the project row."""
        return await conn.fetchrow(
            f"{self._with_labeled} AND p.project_id = $2" + (" FOR UPDATE OF p" if lock else ""),
            tenant_id,
            project_id,
        )

    async def plain(
        self, conn: Executor, tenant_id: str, project_id: str, *, lock: bool = False
    ) -> asyncpg.Record | None:
        """The project row alone (no counts)."""
        return await conn.fetchrow(
            f"SELECT * FROM {self.t.projects} WHERE tenant_id = $1 AND project_id = $2"
            + (" FOR UPDATE" if lock else ""),
            tenant_id,
            project_id,
        )

    async def page(
        self, conn: Executor, tenant_id: str, after: str, limit: int
    ) -> list[asyncpg.Record]:
        """The tenant's projects (with ``tasks_labeled``) after ``after`` in id order."""
        return list(
            await conn.fetch(
                f"{self._with_labeled} AND p.project_id > $2 ORDER BY p.project_id LIMIT $3",
                tenant_id,
                after,
                limit,
            )
        )

    async def of_dataset_locked(
        self, conn: Executor, tenant_id: str, dataset_id: str
    ) -> list[asyncpg.Record]:
        """The tenant's projects drawing from a dataset, locked in id order."""
        return list(
            await conn.fetch(
                f"SELECT * FROM {self.t.projects} WHERE tenant_id = $1 AND dataset_id = $2"
                " ORDER BY project_id FOR UPDATE",
                tenant_id,
                dataset_id,
            )
        )

    async def ontology_of(
        self, conn: Executor, tenant_id: str, project_id: str
    ) -> tuple[str, str] | None:
        row = await conn.fetchrow(
            f"SELECT ontology_id, ontology_version FROM {self.t.projects}"
            " WHERE tenant_id = $1 AND project_id = $2",
            tenant_id,
            project_id,
        )
        return None if row is None else (row[0], row[1])

    async def insert(
        self,
        conn: Executor,
        tenant_id: str,
        *,
        project_id: str,
        display_name: str,
        dataset_id: str,
        ontology_id: str,
        ontology_version: str,
        config: bytes,
        rules: bytes,
        created_at: datetime,
    ) -> None:
        """A new project at config, rules and stream version 1."""
        await conn.execute(
            f"INSERT INTO {self.t.projects} (project_id, display_name, dataset_id,"
            " ontology_id, ontology_version, config, config_version, rules, rules_version,"
            " stream_version, created_at, tenant_id) VALUES ($1,$2,$3,$4,$5,$6,1,$7,1,1,$8,$9)",
            project_id,
            display_name,
            dataset_id,
            ontology_id,
            ontology_version,
            config,
            rules,
            created_at,
            tenant_id,
        )

    async def set_config(
        self, conn: Executor, tenant_id: str, project_id: str, config: bytes, version: int
    ) -> None:
        await conn.execute(
            f"UPDATE {self.t.projects} SET config = $2, config_version = $3,"
            " stream_version = stream_version + 1 WHERE project_id = $1 AND tenant_id = $4",
            project_id,
            config,
            version,
            tenant_id,
        )

    async def set_rules(
        self, conn: Executor, tenant_id: str, project_id: str, rules: bytes, version: int
    ) -> None:
        await conn.execute(
            f"UPDATE {self.t.projects} SET rules = $2, rules_version = $3,"
            " stream_version = stream_version + 1 WHERE project_id = $1 AND tenant_id = $4",
            project_id,
            rules,
            version,
            tenant_id,
        )

    async def add_tasks(self, conn: Executor, tenant_id: str, project_id: str, n: int) -> None:
        """``n`` more regular tasks in the project's total."""
        await conn.execute(
            f"UPDATE {self.t.projects} SET tasks_total = tasks_total + $2"
            " WHERE project_id = $1 AND tenant_id = $3",
            project_id,
            n,
            tenant_id,
        )
