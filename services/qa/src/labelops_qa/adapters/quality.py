"""The quality read models: gold answers scored, drift flags, running agreement per class and
the log of consensus runs; every statement is of one tenant."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from ..domain.gold import Answer, GoldScore
from ..domain.review import ClassStats
from .tables import Db


class GoldScoresTable:
    def __init__(self, table: str) -> None:
        self.t = table

    async def insert(
        self,
        conn: asyncpg.Connection,
        tenant_id: str,
        task_id: uuid.UUID,
        project_id: str,
        s: GoldScore,
        at: datetime,
    ) -> None:
        await conn.execute(
            f"INSERT INTO {self.t} (tenant_id, task_id, annotator_id, project_id,"
            " expected_class, given_class, correct, at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            tenant_id,
            task_id,
            s.annotator_id,
            project_id,
            s.expected_class,
            s.given_class,
            s.correct,
            at,
        )

    async def answers(
        self, db: Db, tenant_id: str, project_id: str, annotator_id: str
    ) -> list[Answer]:
        """An annotator's gold answers, in answer order."""
        rows = await db.fetch(
            f"SELECT task_id, at, correct FROM {self.t} WHERE tenant_id = $1"
            " AND project_id = $2 AND annotator_id = $3 ORDER BY at, task_id",
            tenant_id,
            project_id,
            annotator_id,
        )
        return [Answer(r["task_id"], r["at"], r["correct"]) for r in rows]

    async def of_project(
        self, db: Db, tenant_id: str, project_id: str, annotator_id: str
    ) -> list[GoldScore]:
        """The project's scores (one annotator's when named), per annotator in answer order."""
        rows = await db.fetch(
            f"SELECT annotator_id, expected_class, given_class, correct FROM {self.t}"
            " WHERE tenant_id = $1 AND project_id = $2 AND ($3 = '' OR annotator_id = $3)"
            " ORDER BY annotator_id, at, task_id",
            tenant_id,
            project_id,
            annotator_id,
        )
        return [
            GoldScore(r["annotator_id"], r["expected_class"], r["given_class"], r["correct"])
            for r in rows
        ]


class DriftFlagsTable:
    def __init__(self, table: str) -> None:
        self.t = table

    async def flagged_at(
        self, db: Db, tenant_id: str, project_id: str, annotator_id: str
    ) -> int | None:
        """Gold answers the annotator had when last flagged (None: never)."""
        value = await db.fetchval(
            f"SELECT answers_at FROM {self.t} WHERE tenant_id = $1 AND project_id = $2"
            " AND annotator_id = $3",
            tenant_id,
            project_id,
            annotator_id,
        )
        return int(value) if value is not None else None

    async def flag(
        self,
        conn: asyncpg.Connection,
        tenant_id: str,
        project_id: str,
        annotator_id: str,
        answers: int,
    ) -> None:
        await conn.execute(
            f"INSERT INTO {self.t} (tenant_id, project_id, annotator_id, answers_at)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, project_id, annotator_id)"
            " DO UPDATE SET answers_at = EXCLUDED.answers_at",
            tenant_id,
            project_id,
            annotator_id,
            answers,
        )

    async def flagged(self, db: Db, tenant_id: str, project_id: str) -> set[str]:
        rows = await db.fetch(
            f"SELECT annotator_id FROM {self.t} WHERE tenant_id = $1 AND project_id = $2",
            tenant_id,
            project_id,
        )
        return {r["annotator_id"] for r in rows}


class ClassStatsTable:
    def __init__(self, table: str) -> None:
        self.t = table

    async def get(
        self, db: Db, tenant_id: str, project_id: str, class_id: str
    ) -> ClassStats | None:
        r = await db.fetchrow(
            f"SELECT tasks, score_sum FROM {self.t} WHERE tenant_id = $1 AND project_id = $2"
            " AND class_id = $3",
            tenant_id,
            project_id,
            class_id,
        )
        return ClassStats(r["tasks"], r["score_sum"]) if r is not None else None

    async def add(
        self,
        conn: asyncpg.Connection,
        tenant_id: str,
        project_id: str,
        class_id: str,
        score: float,
    ) -> None:
        """One more task decided as ``class_id`` with consensus ``score``."""
        await conn.execute(
            f"INSERT INTO {self.t} (tenant_id, project_id, class_id, tasks, score_sum)"
            " VALUES ($1, $2, $3, 1, $4) ON CONFLICT (tenant_id, project_id, class_id)"
            " DO UPDATE SET tasks = class_stats.tasks + 1,"
            " score_sum = class_stats.score_sum + $4",
            tenant_id,
            project_id,
            class_id,
            score,
        )


class RunsTable:
    def __init__(self, table: str) -> None:
        self.t = table

    async def insert(
        self,
        conn: asyncpg.Connection,
        tenant_id: str,
        run_id: str,
        project_id: str,
        method: str,
        tasks: int,
        at: datetime,
    ) -> None:
        await conn.execute(
            f"INSERT INTO {self.t} (tenant_id, run_id, project_id, method, tasks, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            tenant_id,
            run_id,
            project_id,
            method,
            tasks,
            at,
        )
