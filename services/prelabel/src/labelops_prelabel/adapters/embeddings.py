"""Table ``embeddings`` (asyncpg): curation's item embeddings, float32 little-endian, per
tenant (every statement filters by it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .tables import Tables

Conn = Any


def vector_bytes(values: Any) -> bytes:
    return np.asarray(values, dtype="<f4").tobytes()


def vector_of(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype="<f4")


class Embeddings:
    def __init__(self, tables: Tables) -> None:
        self.t = tables.embeddings
        self._among = {"labels": tables.labels, "tasks": tables.tasks}

    async def put(
        self,
        conn: Conn,
        tenant_id: str,
        item_id: str,
        vector_space: str,
        vector: Sequence[float],
    ) -> None:
        """The item's embedding in ``vector_space`` (a newer one replaces it)."""
        await conn.execute(
            f"INSERT INTO {self.t} (tenant_id, item_id, vector_space, dim, vector)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, item_id, vector_space)"
            " DO UPDATE SET dim = $4, vector = $5",
            tenant_id,
            item_id,
            vector_space,
            len(vector),
            vector_bytes(vector),
        )

    async def of_items(
        self, conn: Conn, tenant_id: str, item_ids: Sequence[str], vector_space: str
    ) -> dict[str, np.ndarray]:
        rows = await conn.fetch(
            f"SELECT item_id, vector FROM {self.t}"
            " WHERE tenant_id = $1 AND item_id = ANY($2::text[]) AND vector_space = $3",
            tenant_id,
            list(item_ids),
            vector_space,
        )
        return {r["item_id"]: vector_of(r["vector"]) for r in rows}

    async def most_common_space(
        self, conn: Conn, tenant_id: str, project_id: str, among: str
    ) -> str | None:
        """The vector space most of the project's ``among`` items ("labels": labeled items,
        "tasks": its tasks' items) have an embedding in (ties by name)."""
        space: str | None = await conn.fetchval(
            f"SELECT e.vector_space FROM {self.t} e JOIN {self._among[among]} x"
            " ON x.tenant_id = e.tenant_id AND x.item_id = e.item_id"
            " WHERE x.tenant_id = $1 AND x.project_id = $2"
            " GROUP BY e.vector_space ORDER BY count(*) DESC, e.vector_space LIMIT 1",
            tenant_id,
            project_id,
        )
        return space
