"""Tables ``labels`` (the accepted label of each item, QA's ``LabelAccepted``) and
``project_labels`` (accepted labels per project: what retraining every N labels counts)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from .embeddings import vector_of
from .tables import Tables

Conn = Any


@dataclass(frozen=True)
class LabeledVector:
    """An accepted label and its item's embedding (training / cross-validation data)."""

    item_id: str
    task_id: str
    class_id: str
    vector: np.ndarray


class Labels:
    def __init__(self, tables: Tables) -> None:
        self.t = tables.labels
        self.embeddings = tables.embeddings

    async def accept(
        self,
        conn: Conn,
        tenant_id: str,
        project_id: str,
        item_id: str,
        task_id: str,
        class_id: str,
        at: datetime,
        geometry: str = "",
    ) -> bool:
        """The item's accepted label (a later acceptance replaces it) and the geometry kind
        behind its class; True when the item had none before."""
        new: bool = await conn.fetchval(
            f"INSERT INTO {self.t} AS l (tenant_id, project_id, item_id, task_id, class_id,"
            " accepted_at, geometry) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (tenant_id, project_id, item_id)"
            " DO UPDATE SET task_id = $4, class_id = $5, accepted_at = $6, geometry = $7"
            " RETURNING (xmax = 0)",
            tenant_id,
            project_id,
            item_id,
            task_id,
            class_id,
            at,
            geometry,
        )
        return new

    async def geometries(
        self, conn: Conn, tenant_id: str, project_id: str
    ) -> dict[str, dict[str, int]]:
        """Per class of the project's accepted labels: how many items got it from each
        geometry kind ("" = accepted before kinds were recorded)."""
        rows = await conn.fetch(
            f"SELECT class_id, geometry, count(*) AS n FROM {self.t}"
            " WHERE tenant_id = $1 AND project_id = $2 GROUP BY class_id, geometry",
            tenant_id,
            project_id,
        )
        out: dict[str, dict[str, int]] = {}
        for r in rows:
            out.setdefault(r["class_id"], {})[r["geometry"]] = int(r["n"])
        return out

    async def with_vectors(
        self,
        conn: Conn,
        tenant_id: str,
        project_id: str,
        vector_space: str,
        classes: Sequence[str] | None = None,
    ) -> list[LabeledVector]:
        """The project's labeled items with an embedding in ``vector_space``, by item id (only
        those of ``classes`` when given)."""
        if classes is None:
            rows = await conn.fetch(
                f"SELECT l.item_id, l.task_id, l.class_id, e.vector FROM {self.t} l"
                f" JOIN {self.embeddings} e ON e.tenant_id = l.tenant_id"
                " AND e.item_id = l.item_id AND e.vector_space = $3"
                " WHERE l.tenant_id = $1 AND l.project_id = $2 ORDER BY l.item_id",
                tenant_id,
                project_id,
                vector_space,
            )
        else:
            rows = await conn.fetch(
                f"SELECT l.item_id, l.task_id, l.class_id, e.vector FROM {self.t} l"
                f" JOIN {self.embeddings} e ON e.tenant_id = l.tenant_id"
                " AND e.item_id = l.item_id AND e.vector_space = $3"
                " WHERE l.tenant_id = $1 AND l.project_id = $2 AND l.class_id = ANY($4::text[])"
                " ORDER BY l.item_id",
                tenant_id,
                project_id,
                vector_space,
                list(classes),
            )
        return [
            LabeledVector(r["item_id"], r["task_id"], r["class_id"], vector_of(r["vector"]))
            for r in rows
        ]

    async def recent_vectors(
        self, conn: Conn, tenant_id: str, project_id: str, vector_space: str, limit: int
    ) -> list[np.ndarray]:
        """Embeddings of the project's most recently labeled items (k-center anchors)."""
        rows = await conn.fetch(
            f"SELECT e.vector FROM {self.t} l JOIN {self.embeddings} e"
            " ON e.tenant_id = l.tenant_id AND e.item_id = l.item_id AND e.vector_space = $3"
            " WHERE l.tenant_id = $1 AND l.project_id = $2"
            " ORDER BY l.accepted_at DESC LIMIT $4",
            tenant_id,
            project_id,
            vector_space,
            limit,
        )
        return [vector_of(r["vector"]) for r in rows]


class ProjectLabels:
    def __init__(self, tables: Tables) -> None:
        self.t = tables.project_labels

    async def add_one(self, conn: Conn, tenant_id: str, project_id: str) -> None:
        await conn.execute(
            f"INSERT INTO {self.t} AS p (tenant_id, project_id, labels) VALUES ($1, $2, 1)"
            " ON CONFLICT (tenant_id, project_id) DO UPDATE SET labels = p.labels + 1",
            tenant_id,
            project_id,
        )

    async def count(self, conn: Conn, tenant_id: str, project_id: str) -> int:
        """The project's accepted labels (0 before the first)."""
        n = await conn.fetchval(
            f"SELECT labels FROM {self.t} WHERE tenant_id = $1 AND project_id = $2",
            tenant_id,
            project_id,
        )
        return int(n or 0)
