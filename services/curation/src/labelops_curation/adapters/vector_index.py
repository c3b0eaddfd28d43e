"""Qdrant as a projection of the ``vectors`` table: one collection per (tenant, dataset, vector
space); ``collection_name`` says how the name is made.

Postgres holds every vector (written in the same transaction as its ``ItemEmbedded`` event), so
nothing is lost if Qdrant is down or wiped: ``VectorIndexer`` upserts every row whose
``indexed`` flag is false and sets the flag afterwards. Upserts are idempotent (point id = item
id), so a crash between the upsert and the flag only repeats work. ``RegisterItems`` flushes the
indexer before it answers, so an import's vectors are searchable once the call returns (unless
Qdrant is unavailable; then they follow as soon as it is back).

Qdrant runs embedded (``QdrantClient(path=...)`` / ``":memory:"``) by default, or as a server by
URL. The embedded client is not thread-safe, so every call goes through one worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import numpy as np
from labelops_core.context import DEFAULT_TENANT
from labelops_eventstore.schema import check_identifier
from opentelemetry import metrics
from qdrant_client import QdrantClient
from qdrant_client.http import models as qm

log = logging.getLogger(__name__)
T = TypeVar("T")

_meter = metrics.get_meter("labelops.curation")
_indexed = _meter.create_counter(
    "labelops.curation.vectors_indexed", unit="{vector}", description="Vectors upserted to Qdrant"
)


def open_qdrant(url: str | None, path: str | None, api_key: str | None = None) -> QdrantClient:
    """A server client for ``url``, else embedded storage at ``path`` (created if missing;
    ``":memory:"`` allowed)."""
    if url:
        return QdrantClient(url=url, api_key=api_key)
    if path is None or path == ":memory:":
        return QdrantClient(location=":memory:")
    Path(path).mkdir(parents=True, exist_ok=True)
    return QdrantClient(path=path)


#: Characters of a tenant id kept (readable) in its collections' names; the rest become "-".
_SLUG_UNSAFE = re.compile(r"[^a-z0-9-]+")
MAX_TENANT_SLUG_CHARS = 24


def collection_name(prefix: str, tenant_id: str, dataset_id: str, space: str) -> str:
    """The Qdrant collection of one tenant's dataset's vector space.

    Tenant ``default`` keeps the name collections had before tenants (``{prefix}{dataset}--
    {space}``), so existing indexes stay valid. Any other tenant's is ``{prefix}t_{slug}_
    {hash}_{dataset}_{space}``: ``slug`` is the tenant id lowercased with anything but
    ``[a-z0-9-]`` as "-" (at most 24 characters, for whoever reads the names), ``hash`` the
    first 16 hex digits of the tenant id's SHA-256 (tells apart tenants of one slug). Dataset
    ids and vector spaces are ``[a-z][a-z0-9-]{0,62}`` (no "_"), so the parts cannot run into
    each other: two tenants' names differ (short of equal slugs with a 64-bit hash collision)
    and none equals a ``default`` one (whose second character is never "_"). At most
    ``len(prefix)`` + 171 characters (Qdrant allows 255)."""
    if tenant_id == DEFAULT_TENANT:
        return f"{prefix}{dataset_id}--{space}"
    slug = _SLUG_UNSAFE.sub("-", tenant_id.lower())[:MAX_TENANT_SLUG_CHARS]
    digest = hashlib.sha256(tenant_id.encode()).hexdigest()[:16]
    return f"{prefix}t_{slug}_{digest}_{dataset_id}_{space}"


@dataclass(frozen=True)
class Hit:
    item_id: str
    score: float


class VectorIndex:
    """Async facade over a Qdrant client."""

    def __init__(self, client: QdrantClient, *, prefix: str = "labelops-") -> None:
        self.client = client
        self.prefix = prefix
        self._exec = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qdrant")
        self._known: set[str] = set()

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._exec, lambda: fn(*args, **kwargs))

    def collection(self, tenant_id: str, dataset_id: str, space: str) -> str:
        return collection_name(self.prefix, tenant_id, dataset_id, space)

    async def ensure(self, tenant_id: str, dataset_id: str, space: str, dim: int) -> str:
        name = self.collection(tenant_id, dataset_id, space)
        if name in self._known:
            return name
        if not await self._call(self.client.collection_exists, name):
            await self._call(
                self.client.create_collection,
                name,
                vectors_config=qm.VectorParams(size=dim, distance=qm.Distance.COSINE),
            )
        self._known.add(name)
        return name

    async def upsert(
        self,
        tenant_id: str,
        dataset_id: str,
        space: str,
        item_ids: Sequence[str],
        vectors: np.ndarray,
    ) -> None:
        if not item_ids:
            return
        name = await self.ensure(tenant_id, dataset_id, space, int(vectors.shape[1]))
        batch = qm.Batch(
            ids=list(item_ids),
            vectors=np.asarray(vectors, dtype=np.float32).tolist(),
            payloads=[{"item_id": i} for i in item_ids],
        )
        await self._call(self.client.upsert, name, batch, wait=True)
        _indexed.add(len(item_ids), {"vector_space": space})

    async def search(
        self,
        tenant_id: str,
        dataset_id: str,
        space: str,
        vector: np.ndarray,
        *,
        limit: int,
        min_score: float | None = None,
        offset: int = 0,
    ) -> list[Hit]:
        name = self.collection(tenant_id, dataset_id, space)
        if name not in self._known and not await self._call(self.client.collection_exists, name):
            return []
        self._known.add(name)
        res = await self._call(
            self.client.query_points,
            name,
            query=np.asarray(vector, dtype=np.float32).tolist(),
            limit=limit,
            offset=offset or None,
            score_threshold=min_score,
            with_payload=False,
        )
        return [Hit(str(p.id), float(p.score)) for p in res.points]

    async def count(self, tenant_id: str, dataset_id: str, space: str) -> int:
        name = self.collection(tenant_id, dataset_id, space)
        if not await self._call(self.client.collection_exists, name):
            return 0
        return int((await self._call(self.client.count, name, exact=True)).count)

    async def drop(self, tenant_id: str, dataset_id: str, space: str) -> None:
        name = self.collection(tenant_id, dataset_id, space)
        self._known.discard(name)
        if await self._call(self.client.collection_exists, name):
            await self._call(self.client.delete_collection, name)

    async def close(self) -> None:
        await self._call(self.client.close)
        self._exec.shutdown(wait=True)


class VectorIndexer:
    """Copies not-yet-indexed vectors from Postgres to Qdrant (a background worker).

    Args:
        batch_size: rows per upsert.
        poll_interval: seconds between checks when not woken.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        schema: str,
        index: VectorIndex,
        *,
        batch_size: int = 1000,
        poll_interval: float = 2.0,
    ) -> None:
        self.pool = pool
        self.index = index
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self._t_vec = f'"{check_identifier(schema)}".vectors'
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        #: Vectors waiting for Qdrant at the last check (queue depth).
        self.backlog = 0
        _meter.create_observable_gauge(
            "labelops.curation.index_backlog",
            callbacks=[lambda _o: [metrics.Observation(self.backlog)]],
            unit="{vector}",
            description="Vectors committed in Postgres but not yet in Qdrant",
        )

    def wake(self) -> None:
        self._wake.set()

    async def sync_once(self) -> int:
        """Index one batch; returns how many vectors were upserted."""
        async with self._lock:
            rows = await self.pool.fetch(
                f"SELECT tenant_id, dataset_id, vector_space, item_id, vector FROM {self._t_vec}"
                " WHERE NOT indexed ORDER BY tenant_id, dataset_id, vector_space LIMIT $1",
                self.batch_size,
            )
            if not rows:
                self.backlog = 0
                return 0
            groups: dict[tuple[str, str, str], list[asyncpg.Record]] = {}
            for r in rows:
                key = (r["tenant_id"], r["dataset_id"], r["vector_space"])
                groups.setdefault(key, []).append(r)
            for (tenant_id, dataset_id, space), rs in groups.items():
                vectors = np.frombuffer(b"".join(r["vector"] for r in rs), dtype="<f4")
                await self.index.upsert(
                    tenant_id,
                    dataset_id,
                    space,
                    [str(r["item_id"]) for r in rs],
                    vectors.reshape(len(rs), -1),
                )
                await self.pool.execute(
                    f"UPDATE {self._t_vec} SET indexed = true WHERE tenant_id = $4"
                    " AND dataset_id = $1 AND vector_space = $2 AND item_id = ANY($3::uuid[])",
                    dataset_id,
                    space,
                    [uuid.UUID(str(r["item_id"])) for r in rs],
                    tenant_id,
                )
            self.backlog = max(0, self.backlog - len(rows))
            return len(rows)

    async def flush(self, timeout: float = 60.0) -> bool:
        """Index until nothing is left; False if Qdrant failed or time ran out."""
        try:
            async with asyncio.timeout(timeout):
                while await self.sync_once():
                    pass
            return True
        except TimeoutError:
            return False
        except Exception:
            log.exception("indexing vectors into Qdrant failed; the background indexer retries")
            return False

    async def run(self) -> None:
        self._stop.clear()
        while not self._stop.is_set():
            self.backlog = int(
                await self.pool.fetchval(f"SELECT count(*) FROM {self._t_vec} WHERE NOT indexed")
            )
            while self.backlog and not self._stop.is_set():
                if not await self.sync_once():
                    break
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        self._stop.set()
        self._wake.set()
