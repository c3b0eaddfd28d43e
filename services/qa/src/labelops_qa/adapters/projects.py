"""The projects read model: each routing project's ontology version and review policy, per
tenant (two tenants may name a project alike)."""

from __future__ import annotations

import asyncpg

from ..domain.model import Project
from .tables import Db


class ProjectsTable:
    def __init__(self, table: str) -> None:
        self.t = table

    async def insert(self, conn: asyncpg.Connection, tenant_id: str, p: Project) -> bool:
        """Store a new project; False when it was there already (the first one stays)."""
        inserted = await conn.fetchval(
            f"INSERT INTO {self.t} (tenant_id, project_id, ontology_id, ontology_version,"
            " review_policy, review_sample_rate, high_stakes_classes)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (tenant_id, project_id) DO NOTHING RETURNING true",
            tenant_id,
            p.project_id,
            p.ontology_id,
            p.ontology_version,
            p.review_policy,
            p.review_sample_rate,
            list(p.high_stakes_classes),
        )
        return bool(inserted)

    async def update_policy(
        self,
        conn: asyncpg.Connection,
        tenant_id: str,
        project_id: str,
        policy: str,
        sample_rate: float,
        high_stakes_classes: list[str],
    ) -> None:
        await conn.execute(
            f"UPDATE {self.t} SET review_policy = $3, review_sample_rate = $4,"
            " high_stakes_classes = $5 WHERE tenant_id = $1 AND project_id = $2",
            tenant_id,
            project_id,
            policy,
            sample_rate,
            high_stakes_classes,
        )

    async def get(self, db: Db, tenant_id: str, project_id: str) -> Project | None:
        r = await db.fetchrow(
            f"SELECT * FROM {self.t} WHERE tenant_id = $1 AND project_id = $2",
            tenant_id,
            project_id,
        )
        return _project(r) if r is not None else None


def _project(r: asyncpg.Record) -> Project:
    return Project(
        r["project_id"],
        r["ontology_id"],
        r["ontology_version"],
        r["review_policy"],
        r["review_sample_rate"],
        list(r["high_stakes_classes"]),
    )
