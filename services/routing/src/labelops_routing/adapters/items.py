"""The ``items`` read model: curation's items (URI, modality, size, metadata) and whether
curation includes them; an included item of a project's dataset becomes a task. Keyed by
(tenant, dataset, item): the tenant is that of the curation event."""

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
        tenant_id: str,
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
            f"INSERT INTO {self.t.items} (dataset_id, item_id, uri, modality, context, metadata,"
            " tenant_id) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)"
            " ON CONFLICT (tenant_id, dataset_id, item_id) DO UPDATE SET uri = EXCLUDED.uri,"
            " modality = EXCLUDED.modality, context = EXCLUDED.context,"
            " metadata = EXCLUDED.metadata",
            dataset_id,
            item_id,
            uri,
            modality,
            context,
            json.dumps(dict(metadata)),
            tenant_id,
        )

    async def set_included(
        self,
        conn: Executor,
        tenant_id: str,
        dataset_id: str,
        item_ids: Sequence[str],
        included: bool,
    ) -> None:
        await conn.execute(
            f"UPDATE {self.t.items} SET included = $3 WHERE dataset_id = $1"
            " AND item_id = ANY($2::text[]) AND tenant_id = $4",
            dataset_id,
            list(item_ids),
            included,
            tenant_id,
        )

    async def included(
        self, conn: Executor, tenant_id: str, dataset_id: str
    ) -> list[asyncpg.Record]:
        """Every included item of the tenant's dataset, in id order."""
        return list(
            await conn.fetch(
                f"SELECT * FROM {self.t.items} WHERE tenant_id = $1 AND dataset_id = $2"
                " AND included ORDER BY item_id",
                tenant_id,
                dataset_id,
            )
        )

    async def of_ids(
        self, conn: Executor, tenant_id: str, dataset_id: str, item_ids: Sequence[str]
    ) -> list[asyncpg.Record]:
        return list(
            await conn.fetch(
                f"SELECT * FROM {self.t.items} WHERE tenant_id = $1 AND dataset_id = $2"
                " AND item_id = ANY($3::text[]) ORDER BY item_id",
                tenant_id,
                dataset_id,
                list(item_ids),
            )
        )
