"""The curation read models in Postgres: datasets, items, vectors, imports.

Writes happen inside the command's transaction (``conn``), reads on the pool. Every writer of a
dataset first takes that dataset's row lock (``lock_dataset``), so writers of one dataset are
serialized: counters stay exact, the uniqueness checks (external id, checksum) see everything
committed before, and appends to the dataset's event stream never conflict.

Tenants: every method takes the tenant and every statement filters by it; every table's key
leads with it (datasets (tenant, dataset), items (tenant, dataset, item), vectors (tenant,
dataset, space, item), imports (tenant, import); migration 0003). Dataset ids are per tenant:
two tenants may each have a dataset ``street`` with an item ``it-1``, and neither ever reads,
counts, searches or changes the other's. Another tenant's dataset, item or import is simply
not there (NOT_FOUND upstream).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import asyncpg
import numpy as np
from google.protobuf.timestamp_pb2 import Timestamp
from labelops.curation.v1 import curation_pb2 as pb
from labelops.curation.v1 import events_pb2
from labelops_eventstore.schema import check_identifier

from ..domain.decisions import ItemState
from ..domain.items import DatasetPolicy
from ..domain.registration import ExistingItem
from ..domain.runs import VectorSet

STATE_COLUMN = {
    pb.CURATION_STATE_PENDING: "items_pending",
    pb.CURATION_STATE_INCLUDED: "items_included",
    pb.CURATION_STATE_EXCLUDED: "items_excluded",
}


def _ts(dt: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(dt)
    return t


class CurationReadModel:
    """Tables of the curation service in ``schema``."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool = pool
        s = f'"{check_identifier(schema)}"'
        self._t_ds = f"{s}.datasets"
        self._t_items = f"{s}.items"
        self._t_vec = f"{s}.vectors"
        self._t_imp = f"{s}.imports"

    # --- datasets -----------------------------------------------------------------------------

    async def insert_dataset(
        self, conn: asyncpg.Connection, tenant_id: str, e: events_pb2.DatasetCreated, at: datetime
    ) -> bool:
        """Insert the tenant's dataset; False (nothing written) when the tenant has one of that
        id (a concurrent create of the same id waits for the first and then finds it)."""
        inserted = await conn.fetchval(
            f"INSERT INTO {self._t_ds} (tenant_id, dataset_id, display_name, description,"
            " embedders, custom_vector_dim, auto_include, near_duplicate_threshold, create_time)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            " ON CONFLICT (tenant_id, dataset_id) DO NOTHING RETURNING true",
            tenant_id,
            e.dataset_id,
            e.display_name,
            e.description,
            list(e.embedders),
            e.custom_vector_dim,
            e.auto_include,
            e.near_duplicate_threshold,
            at,
        )
        return bool(inserted)

    async def lock_dataset(
        self, conn: asyncpg.Connection, tenant_id: str, dataset_id: str
    ) -> DatasetPolicy | None:
        """Lock the tenant's dataset row until the transaction ends; None if it has none."""
        r = await conn.fetchrow(
            f"SELECT * FROM {self._t_ds} WHERE tenant_id = $1 AND dataset_id = $2 FOR UPDATE",
            tenant_id,
            dataset_id,
        )
        return None if r is None else self._policy(r)

    async def dataset_policy(self, tenant_id: str, dataset_id: str) -> DatasetPolicy | None:
        r = await self.pool.fetchrow(
            f"SELECT * FROM {self._t_ds} WHERE tenant_id = $1 AND dataset_id = $2",
            tenant_id,
            dataset_id,
        )
        return None if r is None else self._policy(r)

    @staticmethod
    def _policy(r: asyncpg.Record) -> DatasetPolicy:
        return DatasetPolicy(
            r["dataset_id"],
            tuple(r["embedders"]),
            r["custom_vector_dim"],
            r["auto_include"],
            float(r["near_duplicate_threshold"]),
            r["tenant_id"],
        )

    async def get_dataset(self, tenant_id: str, dataset_id: str) -> pb.Dataset | None:
        r = await self.pool.fetchrow(
            f"SELECT * FROM {self._t_ds} WHERE tenant_id = $1 AND dataset_id = $2",
            tenant_id,
            dataset_id,
        )
        if r is None:
            return None
        return await self._dataset(r)

    async def list_datasets(self, tenant_id: str, after: str, limit: int) -> list[pb.Dataset]:
        rows = await self.pool.fetch(
            f"SELECT * FROM {self._t_ds} WHERE tenant_id = $1 AND dataset_id > $2"
            " ORDER BY dataset_id LIMIT $3",
            tenant_id,
            after,
            limit,
        )
        return [await self._dataset(r) for r in rows]

    async def _dataset(self, r: asyncpg.Record) -> pb.Dataset:
        spaces = await self.vector_spaces(r["tenant_id"], r["dataset_id"])
        return pb.Dataset(
            name=f"datasets/{r['dataset_id']}",
            dataset_id=r["dataset_id"],
            display_name=r["display_name"],
            description=r["description"],
            embedders=r["embedders"],
            custom_vector_dim=r["custom_vector_dim"],
            auto_include=r["auto_include"],
            near_duplicate_threshold=r["near_duplicate_threshold"],
            counts=pb.ItemCounts(
                total=r["items_total"],
                pending=r["items_pending"],
                included=r["items_included"],
                excluded=r["items_excluded"],
            ),
            create_time=_ts(r["create_time"]),
            vector_spaces=spaces,
        )

    async def add_counts(
        self, conn: asyncpg.Connection, tenant_id: str, dataset_id: str, deltas: Mapping[int, int]
    ) -> None:
        """Add per-state deltas (and the total for PENDING/… of new items via key 0)."""
        sets = []
        args: list[object] = [tenant_id, dataset_id]
        for state, delta in deltas.items():
            if not delta:
                continue
            column = "items_total" if state == 0 else STATE_COLUMN[state]
            args.append(delta)
            sets.append(f"{column} = {column} + ${len(args)}")
        if sets:
            await conn.execute(
                f"UPDATE {self._t_ds} SET {', '.join(sets)}"
                " WHERE tenant_id = $1 AND dataset_id = $2",
                *args,
            )

    # --- items --------------------------------------------------------------------------------

    async def existing_by_external_id(
        self,
        conn: asyncpg.Connection | asyncpg.Pool,
        tenant_id: str,
        dataset_id: str,
        external_ids: list[str],
    ) -> dict[str, ExistingItem]:
        rows = await conn.fetch(
            f"SELECT item_id, external_id, uri, modality, checksum FROM {self._t_items}"
            " WHERE tenant_id = $3 AND dataset_id = $1 AND external_id = ANY($2::text[])",
            dataset_id,
            external_ids,
            tenant_id,
        )
        return {
            r["external_id"]: ExistingItem(
                str(r["item_id"]), r["external_id"], r["uri"], r["modality"], r["checksum"]
            )
            for r in rows
        }

    async def first_by_checksum(
        self, conn: asyncpg.Connection, tenant_id: str, dataset_id: str, checksums: list[str]
    ) -> dict[str, str]:
        """checksum → id of the earliest registered item with it."""
        rows = await conn.fetch(
            f"SELECT DISTINCT ON (checksum) checksum, item_id FROM {self._t_items}"
            " WHERE tenant_id = $3 AND dataset_id = $1 AND checksum = ANY($2::text[])"
            " ORDER BY checksum, seq",
            dataset_id,
            checksums,
            tenant_id,
        )
        return {r["checksum"]: str(r["item_id"]) for r in rows}

    async def insert_items(
        self,
        conn: asyncpg.Connection,
        tenant_id: str,
        items: Sequence[events_pb2.ItemRegistered],
        states: Sequence[tuple[int, int, str]],
        at: datetime,
    ) -> None:
        """Insert registered items; ``states``: (state, reason, duplicate_of) per item."""
        if not items:
            return
        await conn.executemany(
            f"INSERT INTO {self._t_items} (dataset_id, item_id, external_id, uri, modality,"
            " size_bytes, width, height, duration_ms, checksum, metadata, text, perceptual_hash,"
            " state, reason, duplicate_of, import_id, create_time, update_time, tenant_id)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $13, $14, $15,"
            " $16, $17, $18, $18, $19)",
            [
                (
                    e.dataset_id,
                    uuid.UUID(e.item_id),
                    e.external_id,
                    e.uri,
                    e.modality,
                    e.size_bytes,
                    e.width,
                    e.height,
                    e.duration_ms,
                    e.checksum,
                    json.dumps(dict(e.metadata)),
                    e.text,
                    e.perceptual_hash,
                    state,
                    reason,
                    uuid.UUID(dup) if dup else None,
                    e.import_id,
                    at,
                    tenant_id,
                )
                for e, (state, reason, dup) in zip(items, states, strict=True)
            ],
        )

    async def insert_vectors(
        self,
        conn: asyncpg.Connection,
        tenant_id: str,
        dataset_id: str,
        space: str,
        model_version: str,
        item_ids: Sequence[str],
        vectors: np.ndarray,
    ) -> None:
        if not item_ids:
            return
        v = np.ascontiguousarray(vectors, dtype="<f4")
        await conn.executemany(
            f"INSERT INTO {self._t_vec} (tenant_id, dataset_id, vector_space, item_id,"
            " model_version, dim, vector) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [
                (
                    tenant_id,
                    dataset_id,
                    space,
                    uuid.UUID(i),
                    model_version,
                    v.shape[1],
                    v[k].tobytes(),
                )
                for k, i in enumerate(item_ids)
            ],
        )

    async def item_states(
        self, conn: asyncpg.Connection, tenant_id: str, dataset_id: str, item_ids: Sequence[str]
    ) -> dict[str, ItemState]:
        rows = await conn.fetch(
            f"SELECT item_id, state, reason, seq FROM {self._t_items}"
            " WHERE tenant_id = $3 AND dataset_id = $1 AND item_id = ANY($2::uuid[])",
            dataset_id,
            [uuid.UUID(i) for i in item_ids],
            tenant_id,
        )
        return {
            str(r["item_id"]): ItemState(str(r["item_id"]), r["state"], r["reason"], r["seq"])
            for r in rows
        }

    async def set_states(
        self,
        conn: asyncpg.Connection,
        tenant_id: str,
        dataset_id: str,
        item_ids: Sequence[str],
        state: int,
        reason: int,
        note: str,
        duplicate_of: Sequence[str] | None,
        at: datetime,
    ) -> None:
        dups = list(duplicate_of) if duplicate_of else [""] * len(item_ids)
        await conn.execute(
            f"UPDATE {self._t_items} AS i SET state = $3, reason = $4, note = $5,"
            " duplicate_of = coalesce(nullif(d.dup, '')::uuid, i.duplicate_of), update_time = $6"
            " FROM unnest($2::uuid[], $7::text[]) AS d(item_id, dup)"
            " WHERE i.tenant_id = $8 AND i.dataset_id = $1 AND i.item_id = d.item_id",
            dataset_id,
            [uuid.UUID(i) for i in item_ids],
            state,
            reason,
            note,
            at,
            dups,
            tenant_id,
        )

    async def get_item(
        self, tenant_id: str, dataset_id: str, item_id: str | None, external_id: str | None
    ) -> pb.Item | None:
        if item_id is not None:
            where, arg = "item_id = $3", uuid.UUID(item_id)
        else:
            where, arg = "external_id = $3", external_id  # type: ignore[assignment]
        r = await self.pool.fetchrow(
            f"SELECT * FROM {self._t_items} WHERE tenant_id = $1 AND dataset_id = $2 AND {where}",
            tenant_id,
            dataset_id,
            arg,
        )
        if r is None:
            return None
        return (await self._items([r]))[0]

    async def items_by_id(
        self, tenant_id: str, dataset_id: str, item_ids: Sequence[str]
    ) -> dict[str, pb.Item]:
        rows = await self.pool.fetch(
            f"SELECT * FROM {self._t_items}"
            " WHERE tenant_id = $1 AND dataset_id = $2 AND item_id = ANY($3::uuid[])",
            tenant_id,
            dataset_id,
            [uuid.UUID(i) for i in item_ids],
        )
        return {it.item_id: it for it in await self._items(rows)}

    async def list_items(
        self,
        tenant_id: str,
        dataset_id: str,
        *,
        after_seq: int,
        limit: int,
        states: Iterable[int],
        modalities: Iterable[int],
        metadata: Mapping[str, str],
        import_id: str,
        duplicates_only: bool,
    ) -> tuple[list[tuple[pb.Item, int]], int]:
        """A page of items in registration order after ``after_seq``, and the filter's total."""
        conds = ["tenant_id = $1", "dataset_id = $2"]
        args: list[object] = [tenant_id, dataset_id]

        def arg(value: object) -> str:
            args.append(value)
            return f"${len(args)}"

        if states := list(states):
            conds.append(f"state = ANY({arg(states)}::smallint[])")
        if modalities := list(modalities):
            conds.append(f"modality = ANY({arg(modalities)}::smallint[])")
        if metadata:
            conds.append(f"metadata @> {arg(json.dumps(dict(metadata)))}::jsonb")
        if import_id:
            conds.append(f"import_id = {arg(import_id)}")
        if duplicates_only:
            conds.append("duplicate_of IS NOT NULL")
        where = " AND ".join(conds)
        total = await self.pool.fetchval(
            f"SELECT count(*) FROM {self._t_items} WHERE {where}", *args
        )
        page_where = f"{where} AND seq > {arg(after_seq)}"
        rows = await self.pool.fetch(
            f"SELECT * FROM {self._t_items} WHERE {page_where} ORDER BY seq LIMIT {arg(limit)}",
            *args,
        )
        items = await self._items(rows)
        return [(it, r["seq"]) for it, r in zip(items, rows, strict=True)], int(total)

    async def _items(self, rows: Sequence[asyncpg.Record]) -> list[pb.Item]:
        if not rows:
            return []
        spaces: dict[uuid.UUID, list[str]] = {}
        for s in await self.pool.fetch(
            f"SELECT item_id, vector_space FROM {self._t_vec}"
            " WHERE tenant_id = $1 AND dataset_id = $2 AND item_id = ANY($3::uuid[])"
            " ORDER BY vector_space",
            # One dataset's rows (every caller reads one tenant's dataset).
            rows[0]["tenant_id"],
            rows[0]["dataset_id"],
            [r["item_id"] for r in rows],
        ):
            spaces.setdefault(s["item_id"], []).append(s["vector_space"])
        return [
            pb.Item(
                name=f"datasets/{r['dataset_id']}/items/{r['item_id']}",
                item_id=str(r["item_id"]),
                dataset_id=r["dataset_id"],
                external_id=r["external_id"],
                uri=r["uri"],
                modality=r["modality"],  # type: ignore[arg-type]
                size_bytes=r["size_bytes"],
                width=r["width"],
                height=r["height"],
                duration_ms=r["duration_ms"],
                checksum=r["checksum"],
                metadata=json.loads(r["metadata"]),
                text=r["text"],
                state=r["state"],  # type: ignore[arg-type]
                reason=r["reason"],  # type: ignore[arg-type]
                note=r["note"],
                duplicate_of=str(r["duplicate_of"] or ""),
                perceptual_hash=r["perceptual_hash"],
                vector_spaces=spaces.get(r["item_id"], []),
                import_id=r["import_id"],
                create_time=_ts(r["create_time"]),
                update_time=_ts(r["update_time"]),
            )
            for r in rows
        ]

    # --- vectors ------------------------------------------------------------------------------

    async def vector_spaces(self, tenant_id: str, dataset_id: str) -> list[str]:
        rows = await self.pool.fetch(
            f"SELECT DISTINCT vector_space FROM {self._t_vec}"
            " WHERE tenant_id = $1 AND dataset_id = $2",
            tenant_id,
            dataset_id,
        )
        return sorted(r["vector_space"] for r in rows)

    async def item_vector(
        self, tenant_id: str, dataset_id: str, space: str, item_id: str
    ) -> np.ndarray | None:
        raw = await self.pool.fetchval(
            f"SELECT vector FROM {self._t_vec}"
            " WHERE tenant_id = $4 AND dataset_id = $1 AND vector_space = $2 AND item_id = $3",
            dataset_id,
            space,
            uuid.UUID(item_id),
            tenant_id,
        )
        return None if raw is None else np.frombuffer(raw, dtype="<f4").astype(np.float32)

    async def load_vectors(
        self,
        conn: asyncpg.Connection | asyncpg.Pool,
        tenant_id: str,
        dataset_id: str,
        space: str,
        *,
        include_excluded: bool,
    ) -> VectorSet:
        """Every vector of a space (of items not excluded, unless asked), in registration order."""
        cond = "" if include_excluded else f" AND i.state <> {pb.CURATION_STATE_EXCLUDED}"
        rows = await conn.fetch(
            f"SELECT i.item_id, i.state, i.width, i.height, i.size_bytes, i.seq, v.dim, v.vector"
            f" FROM {self._t_vec} v JOIN {self._t_items} i"
            " ON i.tenant_id = v.tenant_id AND i.dataset_id = v.dataset_id"
            " AND i.item_id = v.item_id"
            f" WHERE v.tenant_id = $3 AND v.dataset_id = $1 AND v.vector_space = $2{cond}"
            " ORDER BY i.seq",
            dataset_id,
            space,
            tenant_id,
        )
        n = len(rows)
        dim = rows[0]["dim"] if rows else 0
        vectors = np.frombuffer(b"".join(r["vector"] for r in rows), dtype="<f4")
        return VectorSet(
            item_ids=[str(r["item_id"]) for r in rows],
            vectors=vectors.reshape(n, dim).astype(np.float32, copy=False),
            states=np.fromiter((r["state"] for r in rows), dtype=np.int16, count=n),
            pixels=np.fromiter((r["width"] * r["height"] for r in rows), dtype=np.int64, count=n),
            sizes=np.fromiter((r["size_bytes"] for r in rows), dtype=np.int64, count=n),
            seqs=np.fromiter((r["seq"] for r in rows), dtype=np.int64, count=n),
        )

    # --- imports ------------------------------------------------------------------------------

    async def import_dataset(self, tenant_id: str, import_id: str) -> str | None:
        value: str | None = await self.pool.fetchval(
            f"SELECT dataset_id FROM {self._t_imp} WHERE tenant_id = $1 AND import_id = $2",
            tenant_id,
            import_id,
        )
        return value

    async def record_import(
        self,
        conn: asyncpg.Connection | asyncpg.Pool,
        tenant_id: str,
        imp: pb.Import,
        at: datetime,
    ) -> None:
        """Add a committed message's counts to the tenant's import (creating it on first use)."""
        await conn.execute(
            f"INSERT INTO {self._t_imp} (tenant_id, import_id, dataset_id, state, items_received,"
            " items_registered, items_already_registered, exact_duplicates, vectors_written,"
            " messages_committed, error, start_time, update_time)"
            " VALUES ($12, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)"
            " ON CONFLICT (tenant_id, import_id) DO UPDATE SET state = excluded.state,"
            " items_received = imports.items_received + excluded.items_received,"
            " items_registered = imports.items_registered + excluded.items_registered,"
            " items_already_registered = imports.items_already_registered"
            " + excluded.items_already_registered,"
            " exact_duplicates = imports.exact_duplicates + excluded.exact_duplicates,"
            " vectors_written = imports.vectors_written + excluded.vectors_written,"
            " messages_committed = imports.messages_committed + excluded.messages_committed,"
            " error = excluded.error, update_time = excluded.update_time",
            imp.import_id,
            imp.dataset_id,
            imp.state,
            imp.items_received,
            imp.items_registered,
            imp.items_already_registered,
            imp.exact_duplicates,
            imp.vectors_written,
            imp.messages_committed,
            imp.error,
            at,
            tenant_id,
        )

    async def get_import(self, tenant_id: str, import_id: str) -> pb.Import | None:
        r = await self.pool.fetchrow(
            f"SELECT * FROM {self._t_imp} WHERE tenant_id = $1 AND import_id = $2",
            tenant_id,
            import_id,
        )
        if r is None:
            return None
        return pb.Import(
            import_id=r["import_id"],
            dataset_id=r["dataset_id"],
            state=r["state"],
            items_received=r["items_received"],
            items_registered=r["items_registered"],
            items_already_registered=r["items_already_registered"],
            exact_duplicates=r["exact_duplicates"],
            vectors_written=r["vectors_written"],
            messages_committed=r["messages_committed"],
            error=r["error"],
            start_time=_ts(r["start_time"]),
            update_time=_ts(r["update_time"]),
        )
