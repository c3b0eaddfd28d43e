"""RegisterItems, one message at a time: validate → read content and embed (outside any lock)
→ one transaction under the dataset's row lock: decide the registration (domain/registration),
append its events, insert items, vectors and counts, record the import → COMMIT → wake the
Qdrant indexer.

A message is all or nothing: every bad field of it is reported at once and nothing of it is
stored; earlier messages of the same import stay committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
import numpy as np
from labelops.curation.v1 import curation_pb2 as pb
from labelops_core.context import current_tenant
from labelops_core.errors import FieldViolation, InvalidArgument, Unavailable
from labelops_eventstore import EventStore, NewEvent

from ..adapters.content import Content, ContentError, ContentReader
from ..adapters.read_model import CurationReadModel
from ..adapters.vector_index import VectorIndexer
from ..domain import events as ev
from ..domain.embedding import Embedder, EmbeddingError
from ..domain.items import DatasetPolicy
from ..domain.registration import (
    Registration,
    Vectors,
    check_re_registrations,
    check_specs,
    custom_vectors,
    embedding_inputs,
    new_checksums,
    register,
)
from .handlers import CurationHandlers

MAX_IMPORT_ID_CHARS = 128
MAX_IMPORT_ERROR_CHARS = 2000


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class BatchResult:
    """What one committed RegisterItems message did."""

    received: int = 0
    registered: int = 0
    already_registered: int = 0
    exact_duplicates: int = 0
    vectors_written: int = 0
    item_ids: list[str] = field(default_factory=list)


class ItemIngest:
    """The RegisterItems side of the curation service.

    Args:
        store: the event store (its pool runs the transactions).
        read_model: tables written in the same transactions as the events.
        handlers: for the dataset look-up (``policy``).
        embedders: embedders this deployment offers, by name.
        content: reads item content the service may read.
        indexer: copies committed vectors to Qdrant (woken after each commit).
    """

    def __init__(
        self,
        store: EventStore,
        read_model: CurationReadModel,
        handlers: CurationHandlers,
        embedders: Mapping[str, Embedder],
        content: ContentReader,
        indexer: VectorIndexer | None = None,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.store = store
        self.read_model = read_model
        self.handlers = handlers
        self.embedders = dict(embedders)
        self.content = content
        self.indexer = indexer
        self.clock = clock

    async def check_import(self, import_id: str, dataset_id: str) -> None:
        """INVALID_ARGUMENT unless ``import_id`` fits and names no import of another dataset."""
        if len(import_id) > MAX_IMPORT_ID_CHARS:
            raise InvalidArgument(
                "import_id is too long", [FieldViolation("import_id", "at most 128 characters")]
            )
        other = await self.read_model.import_dataset(current_tenant(), import_id)
        if other is not None and other != dataset_id:
            raise InvalidArgument(
                f"import {import_id} belongs to dataset {other}",
                [FieldViolation("import_id", "names an import of another dataset")],
            )

    async def register_batch(
        self,
        dataset_id: str,
        import_id: str,
        specs: Sequence[pb.ItemSpec],
        *,
        offset: int = 0,
    ) -> BatchResult:
        """Validate, read, embed and commit one RegisterItems message (all or nothing).

        ``offset``: index of ``specs[0]`` in the whole import (for violation paths).
        """
        tenant = current_tenant()
        policy = await self.handlers.policy(dataset_id)
        check_specs(specs, policy, offset)
        external_ids = [s.external_id for s in specs]
        known = await self.read_model.existing_by_external_id(
            self.read_model.pool, tenant, dataset_id, external_ids
        )
        new = [k for k, s in enumerate(specs) if s.external_id not in known]
        contents = await asyncio.to_thread(self._read_contents, specs, new, offset)
        vectors = await self._embed(policy, specs, new, contents, offset)
        now = self.clock()
        result = BatchResult(received=len(specs))
        async with self.store.transaction() as conn:
            policy = await self.read_model.lock_dataset(conn, tenant, dataset_id) or policy
            existing = await self.read_model.existing_by_external_id(
                conn, tenant, dataset_id, external_ids
            )
            check_re_registrations(specs, contents, existing, offset)
            todo = [k for k in range(len(specs)) if specs[k].external_id not in existing]
            first = await self.read_model.first_by_checksum(
                conn, tenant, dataset_id, new_checksums(specs, contents, todo)
            )
            batch = register(policy, import_id, specs, contents, todo, first, vectors)
            if batch.events:
                await self._commit(conn, dataset_id, batch, now)
            result.already_registered = len(specs) - len(todo)
            result.registered = len(batch.registered)
            result.exact_duplicates = len(batch.duplicates)
            result.vectors_written = batch.vectors_written
            result.item_ids = [e.item_id for e in batch.registered]
            await self.read_model.record_import(
                conn, tenant, _progress(dataset_id, import_id, result), now
            )
        if self.indexer is not None and result.vectors_written:
            self.indexer.wake()
        return result

    async def _commit(
        self, conn: asyncpg.Connection, dataset_id: str, batch: Registration, now: datetime
    ) -> None:
        await self.store.append(
            ev.stream_id(dataset_id),
            None,
            [NewEvent.of(e, occurred_at=now) for e in batch.events],
            conn=conn,
        )
        tenant = current_tenant()
        await self.read_model.insert_items(conn, tenant, batch.registered, batch.states, now)
        for space, (model_version, ids, vecs) in batch.vectors.items():
            await self.read_model.insert_vectors(
                conn, tenant, dataset_id, space, model_version, ids, vecs
            )
        await self.read_model.add_counts(conn, tenant, dataset_id, batch.counts)

    def _read_contents(
        self, specs: Sequence[pb.ItemSpec], todo: Sequence[int], offset: int
    ) -> dict[int, Content]:
        out: dict[int, Content] = {}
        bad: list[FieldViolation] = []
        for k in todo:
            try:
                c = self.content.read(specs[k])
            except ContentError as exc:
                bad.append(FieldViolation(f"items[{offset + k}].{exc.field}", str(exc)))
                continue
            if c.data is not None:
                out[k] = c
        if bad:
            raise InvalidArgument(f"{len(bad)} item(s) failed content checks", bad)
        return out

    async def _embed(
        self,
        policy: DatasetPolicy,
        specs: Sequence[pb.ItemSpec],
        todo: Sequence[int],
        contents: Mapping[int, Content],
        offset: int,
    ) -> Vectors:
        """Vectors of new items per space: (model version, spec indexes, vectors)."""
        out = custom_vectors(specs, todo)
        for name in policy.embedders:
            embedder = self.embedders.get(name)
            if embedder is None:
                raise Unavailable(
                    f"embedder {name!r} of dataset {policy.dataset_id} is not configured in"
                    " this deployment",
                    reason="EMBEDDER_NOT_CONFIGURED",
                )
            idx, inputs = embedding_inputs(
                policy.dataset_id, embedder, specs, todo, contents, policy.tenant_id
            )
            if not idx:
                continue
            try:
                vecs = await embedder.embed(inputs)
            except EmbeddingError as exc:
                if exc.index < 0:
                    raise Unavailable(
                        f"embedder {name!r} failed: {exc}", reason="EMBEDDER_UNAVAILABLE"
                    ) from exc
                k = idx[exc.index]
                raise InvalidArgument(
                    f"items[{offset + k}] cannot be embedded by {name}",
                    [FieldViolation(f"items[{offset + k}].uri", f"{name}: {exc}")],
                ) from exc
            out[name] = (embedder.model_version, idx, np.asarray(vecs, dtype=np.float32))
        return out

    async def finish_import(self, dataset_id: str, import_id: str, error: str = "") -> None:
        """Mark an import finished (or failed, with the error) and flush its vectors to Qdrant."""
        if self.indexer is not None and not error:
            await self.indexer.flush()
        await self.read_model.record_import(
            self.read_model.pool,
            current_tenant(),
            pb.Import(
                import_id=import_id,
                dataset_id=dataset_id,
                state=pb.IMPORT_STATE_FAILED if error else pb.IMPORT_STATE_SUCCEEDED,
                error=error[:MAX_IMPORT_ERROR_CHARS],
            ),
            self.clock(),
        )


def _progress(dataset_id: str, import_id: str, result: BatchResult) -> pb.Import:
    """One committed message's counts, added to the import's."""
    return pb.Import(
        import_id=import_id,
        dataset_id=dataset_id,
        state=pb.IMPORT_STATE_RUNNING,
        items_received=result.received,
        items_registered=result.registered,
        items_already_registered=result.already_registered,
        exact_duplicates=result.exact_duplicates,
        vectors_written=result.vectors_written,
        messages_committed=1,
    )
