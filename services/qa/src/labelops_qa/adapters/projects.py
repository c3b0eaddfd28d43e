"""The projects read model: each routing project's ontology version and review policy."""

from __future__ import annotations

import asyncpg

from ..domain.model import Project
from .tables import Db


class ProjectsTable:
    def __init__(self, table: str) -> None:
        self.t = table

    async def insert(self, conn: asyncpg.Connection, p: Project) -> bool:
        """Store a new project; False when it was there already (the first one stays)."""
        inserted = await conn.fetchval(
            f"INSERT INTO {self.t} VALUES ($1, $2, $3, $4, $5, $6)"
            " ON CONFLICT (project_id) DO NOTHING RETURNING true",
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
        project_id: str,
        policy: str,
        sample_rate: float,
        high_stakes_classes: list[str],
    ) -> None:
        await conn.execute(
            f"UPDATE {self.t} SET review_policy = $2, review_sample_rate = $3,"
            " high_stakes_classes = $4 WHERE project_id = $1",
            project_id,
            policy,
            sample_rate,
            high_stakes_classes,
        )

    async def get(self, db: Db, project_id: str) -> Project | None:
        r = await db.fetchrow(f"SELECT * FROM {self.t} WHERE project_id = $1", project_id)
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
