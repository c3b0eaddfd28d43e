"""The labels read model: every submitted label, as routing published it (never changed), per
tenant."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime

import asyncpg
from labelops.labels.v1 import label_pb2 as L

from ..domain.agreement_report import Rating
from ..domain.model import Submission
from .tables import Db


class LabelsTable:
    def __init__(self, table: str) -> None:
        self.t = table

    async def insert(
        self,
        conn: asyncpg.Connection,
        tenant_id: str,
        event_id: uuid.UUID,
        task_id: uuid.UUID,
        project_id: str,
        item_id: str,
        annotator_id: str,
        labels: L.ItemLabels,
        gold: bool,
        at: datetime,
    ) -> None:
        await conn.execute(
            f"INSERT INTO {self.t} (tenant_id, event_id, task_id, project_id, item_id,"
            " annotator_id, labels, gold, submitted_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            " ON CONFLICT (tenant_id, event_id) DO NOTHING",
            tenant_id,
            event_id,
            task_id,
            project_id,
            item_id,
            annotator_id,
            labels.SerializeToString(),
            gold,
            at,
        )

    async def of_task(
        self, db: Db, tenant_id: str, task_id: uuid.UUID, *, besides: uuid.UUID | None = None
    ) -> list[Submission]:
        """The task's labels in submission order; ``besides``: all but this event's."""
        rows = await db.fetch(
            f"SELECT annotator_id, labels, event_id, submitted_at FROM {self.t}"
            " WHERE tenant_id = $1 AND task_id = $2 AND ($3::uuid IS NULL OR event_id <> $3)"
            " ORDER BY submitted_at, event_id",
            tenant_id,
            task_id,
            besides,
        )
        return [
            Submission(
                r["annotator_id"],
                L.ItemLabels.FromString(r["labels"]),
                str(r["event_id"]),
                r["submitted_at"],
            )
            for r in rows
        ]

    async def by_task(
        self, db: Db, tenant_id: str, project_id: str
    ) -> dict[uuid.UUID, list[Submission]]:
        """The project's labels (gold answers aside) per task, in submission order."""
        rows = await db.fetch(
            f"SELECT task_id, annotator_id, labels, event_id, submitted_at FROM {self.t}"
            " WHERE tenant_id = $1 AND project_id = $2 AND NOT gold"
            " ORDER BY submitted_at, event_id",
            tenant_id,
            project_id,
        )
        out: dict[uuid.UUID, list[Submission]] = defaultdict(list)
        for r in rows:
            out[r["task_id"]].append(
                Submission(
                    r["annotator_id"],
                    L.ItemLabels.FromString(r["labels"]),
                    str(r["event_id"]),
                    r["submitted_at"],
                )
            )
        return out

    async def ratings(self, db: Db, tenant_id: str, project_id: str) -> list[Rating]:
        """The project's labels (gold answers aside) in submission order."""
        rows = await db.fetch(
            f"SELECT item_id, annotator_id, labels, submitted_at FROM {self.t}"
            " WHERE tenant_id = $1 AND project_id = $2 AND NOT gold ORDER BY submitted_at",
            tenant_id,
            project_id,
        )
        return [
            Rating(
                r["item_id"],
                r["annotator_id"],
                L.ItemLabels.FromString(r["labels"]),
                r["submitted_at"],
            )
            for r in rows
        ]
