"""The ``items`` read model: curation's items (URI, modality, size, metadata) and whether
curation includes them; an included item of a project's dataset becomes a task."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import asyncpg

from .tables import Executor, Tables


class Items:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    async def upsert(
        self,
        conn: Executor,
        *,
        dataset_id: str,
        item_id: str,
        uri: str,
        modality: str,
        context: bytes,
        metadata: Mapping[str, str],
    ) -> None:
        """An item as last registered (a re-registration replaces what it says)."""
        await conn.execute(
            f"INSERT INTO {self.t.items} (dataset_id, item_id, uri, modality, context, metadata)"
            " VALUES ($1, $2, $3, $4, $5, $6::jsonb)"
            " ON CONFLICT (dataset_id, item_id) DO UPDATE SET uri = EXCLUDED.uri,"
            " modality = EXCLUDED.modality, context = EXCLUDED.context,"
            " metadata = EXCLUDED.metadata",
            dataset_id,
            item_id,
            uri,
            modality,
            context,
            json.dumps(dict(metadata)),
        )

    async def set_included(
        self, conn: Executor, dataset_id: str, item_ids: Sequence[str], included: bool
    ) -> None:
        await conn.execute(
            f"UPDATE {self.t.items} SET included = $3 WHERE dataset_id = $1"
            " AND item_id = ANY($2::text[])",
            dataset_id,
            list(item_ids),
            included,
        )

    async def included(self, conn: Executor, dataset_id: str) -> list[asyncpg.Record]:
        """Every included item of a dataset, in id order."""
        return list(
            await conn.fetch(
                f"SELECT * FROM {self.t.items} WHERE dataset_id = $1 AND included ORDER BY item_id",
                dataset_id,
            )
        )

    async def of_ids(
        self, conn: Executor, dataset_id: str, item_ids: Sequence[str]
    ) -> list[asyncpg.Record]:
        return list(
            await conn.fetch(
                f"SELECT * FROM {self.t.items} WHERE dataset_id = $1 AND item_id = ANY($2::text[])"
                " ORDER BY item_id",
                dataset_id,
                list(item_ids),
            )
        )
