"""Qdrant as a projection of the ``vectors`` table: one collection per (dataset, vector space).

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
import logging
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import numpy as np
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

    def collection(self, dataset_id: str, space: str) -> str:
        return f"{self.prefix}{dataset_id}--{space}"

    async def ensure(self, dataset_id: str, space: str, dim: int) -> str:
        name = self.collection(dataset_id, space)
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
        self, dataset_id: str, space: str, item_ids: Sequence[str], vectors: np.ndarray
    ) -> None:
        if not item_ids:
            return
        name = await self.ensure(dataset_id, space, int(vectors.shape[1]))
        batch = qm.Batch(
            ids=list(item_ids),
            vectors=np.asarray(vectors, dtype=np.float32).tolist(),
            payloads=[{"item_id": i} for i in item_ids],
        )
        await self._call(self.client.upsert, name, batch, wait=True)
        _indexed.add(len(item_ids), {"vector_space": space})

    async def search(
        self,
        dataset_id: str,
        space: str,
        vector: np.ndarray,
        *,
        limit: int,
        min_score: float | None = None,
        offset: int = 0,
    ) -> list[Hit]:
        name = self.collection(dataset_id, space)
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

    async def count(self, dataset_id: str, space: str) -> int:
        name = self.collection(dataset_id, space)
        if not await self._call(self.client.collection_exists, name):
            return 0
        return int((await self._call(self.client.count, name, exact=True)).count)

    async def drop(self, dataset_id: str, space: str) -> None:
        name = self.collection(dataset_id, space)
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
                f"SELECT dataset_id, vector_space, item_id, vector FROM {self._t_vec}"
                " WHERE NOT indexed ORDER BY dataset_id, vector_space LIMIT $1",
                self.batch_size,
            )
            if not rows:
                self.backlog = 0
                return 0
            groups: dict[tuple[str, str], list[asyncpg.Record]] = {}
            for r in rows:
                groups.setdefault((r["dataset_id"], r["vector_space"]), []).append(r)
            for (dataset_id, space), rs in groups.items():
                vectors = np.frombuffer(b"".join(r["vector"] for r in rs), dtype="<f4")
                await self.index.upsert(
                    dataset_id,
                    space,
                    [str(r["item_id"]) for r in rs],
                    vectors.reshape(len(rs), -1),
                )
                await self.pool.execute(
                    f"UPDATE {self._t_vec} SET indexed = true"
                    " WHERE dataset_id = $1 AND vector_space = $2 AND item_id = ANY($3::uuid[])",
                    dataset_id,
                    space,
                    [uuid.UUID(str(r["item_id"])) for r in rs],
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
