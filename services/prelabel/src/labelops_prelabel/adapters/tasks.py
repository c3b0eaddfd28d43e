"""Table ``tasks`` (asyncpg): routing's tasks as far as pre-labels and priorities need them.

Written by the consumers (``TaskCreated`` / ``TaskCanceled`` / ``TaskReopened``, and QA's
``LabelAccepted``, which may arrive first) and by the pre-label loop, in the transaction of the
pre-label events it appends. Every statement filters by the tenant (a task id is only an id
within its tenant).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from labelops.labels.v1 import label_pb2 as L
from labelops.routing.v1 import events_pb2 as rev

from ..domain.prelabels import Pending, Proposal
from .embeddings import vector_of
from .tables import Tables

Conn = Any


@dataclass(frozen=True)
class TaskState:
    """A task's state as the pre-label loop locked it."""

    prelabel_state: str
    state: str
    stream_version: int


@dataclass(frozen=True)
class OpenTask:
    """An open task whose item has an embedding (what scoring ranks)."""

    task_id: str
    item_id: str
    vector: np.ndarray


class Tasks:
    def __init__(self, tables: Tables) -> None:
        self.t = tables.tasks
        self.embeddings = tables.embeddings

    # --- the consumers ----------------------------------------------------------------------

    async def created(
        self,
        conn: Conn,
        tenant_id: str,
        e: rev.TaskCreated,
        prelabel_state: str,
        reason: str,
        at: datetime,
    ) -> None:
        await conn.execute(
            f"INSERT INTO {self.t} (tenant_id, task_id, project_id, item_id, item_uri,"
            " modality, context, gold, state, prelabel_state, prelabel_reason, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, $10, $11)"
            # Already there: QA's topic was read ahead of routing's and the task is labeled.
            " ON CONFLICT (tenant_id, task_id) DO NOTHING",
            tenant_id,
            e.task_id,
            e.project_id,
            e.item_id,
            e.item_uri,
            e.modality,
            e.context.SerializeToString(),
            e.gold,
            prelabel_state,
            reason,
            at,
        )

    async def set_state(self, conn: Conn, tenant_id: str, task_id: str, state: str) -> None:
        await conn.execute(
            f"UPDATE {self.t} SET state = $3 WHERE tenant_id = $1 AND task_id = $2",
            tenant_id,
            task_id,
            state,
        )

    async def labeled(
        self,
        conn: Conn,
        tenant_id: str,
        task_id: str,
        project_id: str,
        item_id: str,
        at: datetime,
    ) -> None:
        # An upsert, not an UPDATE: consumers of different topics run concurrently, and an
        # UPDATE racing routing's TaskCreated insert would miss it (each transaction blind to
        # the other's row) and leave a labeled task open for pre-labels. Both sides insert
        # the same key, so the unique index orders them.
        await conn.execute(
            f"INSERT INTO {self.t} (tenant_id, task_id, project_id, item_id, item_uri, modality,"
            " context, gold, state, prelabel_state, prelabel_reason, created_at)"
            " VALUES ($1, $2, $3, $4, '', '', ''::bytea, false, 'labeled', 'skipped',"
            " 'labeled before its TaskCreated arrived', $5)"
            " ON CONFLICT (tenant_id, task_id) DO UPDATE SET state = 'labeled'",
            tenant_id,
            task_id,
            project_id,
            item_id,
            at,
        )

    # --- the pre-label loop -----------------------------------------------------------------

    async def pending(
        self,
        conn: Conn,
        tenant_id: str,
        project_id: str,
        vector_space: str,
        any_item: bool,
        limit: int,
    ) -> list[Pending]:
        """The project's oldest open tasks pending a pre-label whose item has an embedding in
        ``vector_space`` (any item with ``any_item``: an external server needs none)."""
        rows = await conn.fetch(
            f"SELECT t.* FROM {self.t} t WHERE t.tenant_id = $1 AND t.project_id = $2"
            " AND t.prelabel_state = 'pending' AND t.state = 'open'"
            f" AND ($3 OR EXISTS (SELECT 1 FROM {self.embeddings} e WHERE e.tenant_id = $1"
            " AND e.item_id = t.item_id AND e.vector_space = $4))"
            " ORDER BY t.created_at, t.task_id LIMIT $5",
            tenant_id,
            project_id,
            any_item,
            vector_space,
            limit,
        )
        return [
            Pending(
                r["task_id"],
                r["project_id"],
                r["item_id"],
                r["item_uri"],
                L.ItemContext.FromString(r["context"]),
                r["attempts"],
            )
            for r in rows
        ]

    async def lock(
        self, conn: Conn, tenant_id: str, task_ids: Sequence[str]
    ) -> dict[str, TaskState]:
        """Lock the tasks' rows (in id order: no deadlock between replicas)."""
        rows = await conn.fetch(
            f"SELECT task_id, prelabel_state, state, stream_version FROM {self.t}"
            " WHERE tenant_id = $1 AND task_id = ANY($2::text[]) ORDER BY task_id FOR UPDATE",
            tenant_id,
            list(task_ids),
        )
        return {
            r["task_id"]: TaskState(r["prelabel_state"], r["state"], r["stream_version"])
            for r in rows
        }

    async def decided(self, conn: Conn, tenant_id: str, p: Proposal) -> None:
        """One more attempt at the task's pre-label, and its outcome (a proposal is one more
        event on the task's pre-label stream)."""
        await conn.execute(
            f"UPDATE {self.t} SET prelabel_state = $3, prelabel_reason = $4,"
            " prelabel_class = $5, attempts = attempts + 1,"
            " stream_version = stream_version + $6 WHERE tenant_id = $1 AND task_id = $2",
            tenant_id,
            p.task_id,
            p.state,
            p.reason,
            p.predicted_class,
            1 if p.state == "proposed" else 0,
        )

    async def pending_count(self, conn: Conn) -> int:
        """Tasks of every tenant waiting for a pre-label (the queue-depth gauge)."""
        n: int = await conn.fetchval(
            f"SELECT count(*) FROM {self.t} WHERE prelabel_state = 'pending' AND state = 'open'"
        )
        return n

    # --- training and scoring ---------------------------------------------------------------

    async def open_vectors(
        self, conn: Conn, tenant_id: str, project_id: str, vector_space: str, limit: int
    ) -> list[np.ndarray]:
        """Embeddings of the project's open tasks' items (kNN propagation's unlabeled set)."""
        rows = await conn.fetch(
            f"SELECT e.vector FROM {self.t} t JOIN {self.embeddings} e"
            " ON e.tenant_id = t.tenant_id AND e.item_id = t.item_id AND e.vector_space = $3"
            " WHERE t.tenant_id = $1 AND t.project_id = $2 AND t.state = 'open'"
            " ORDER BY t.task_id LIMIT $4",
            tenant_id,
            project_id,
            vector_space,
            limit,
        )
        return [vector_of(r["vector"]) for r in rows]

    async def to_score(
        self, conn: Conn, tenant_id: str, project_id: str, vector_space: str, limit: int
    ) -> list[OpenTask]:
        """The project's open, non-gold tasks with an embedding, in task id order."""
        rows = await conn.fetch(
            f"SELECT t.task_id, t.item_id, e.vector FROM {self.t} t"
            f" JOIN {self.embeddings} e ON e.tenant_id = t.tenant_id"
            " AND e.item_id = t.item_id AND e.vector_space = $3"
            " WHERE t.tenant_id = $1 AND t.project_id = $2 AND t.state = 'open' AND NOT t.gold"
            " ORDER BY t.task_id LIMIT $4",
            tenant_id,
            project_id,
            vector_space,
            limit,
        )
        return [OpenTask(r["task_id"], r["item_id"], vector_of(r["vector"])) for r in rows]

    async def items(
        self, conn: Conn, tenant_id: str, project_id: str, item_ids: Sequence[str]
    ) -> dict[str, tuple[str, L.ItemContext]]:
        """URI and context of the project's items among ``item_ids`` (from their tasks): what
        a model server needs to fetch and bound them."""
        rows = await conn.fetch(
            f"SELECT DISTINCT ON (item_id) item_id, item_uri, context FROM {self.t}"
            " WHERE tenant_id = $1 AND project_id = $2 AND item_id = ANY($3::text[])"
            " ORDER BY item_id, created_at DESC",
            tenant_id,
            project_id,
            list(item_ids),
        )
        return {r["item_id"]: (r["item_uri"], L.ItemContext.FromString(r["context"])) for r in rows}
