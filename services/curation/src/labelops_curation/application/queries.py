"""The read side of the curation service: datasets, items, imports and vector search.

Search asks Qdrant for the nearest vectors and reads the items from Postgres. Curation states
change often and are not copied into Qdrant, so a state filter is applied after the vector
search: Qdrant is asked for more candidates than needed (``OVERFETCH``), in rounds, until the
page is full or the collection is exhausted.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TypeVar

import numpy as np
from labelops.curation.v1 import curation_pb2 as pb
from labelops_core.context import current_tenant
from labelops_core.errors import FieldViolation, InvalidArgument, NotFound
from labelops_core.paging import decode_token, encode_token, filter_fingerprint, page_size

from ..adapters.read_model import CurationReadModel
from ..adapters.vector_index import VectorIndex
from ..domain.embedding import Embedder, EmbeddingError, QueryEmbedder
from ..domain.items import DatasetPolicy, check_dataset_id
from .handlers import CurationHandlers

M = TypeVar("M", pb.GetImportResponse, pb.RegisterItemsResponse)

MAX_SEARCH_RESULTS = 1000
MAX_QUERY_CHARS = 2000
OVERFETCH = 4
MAX_SEARCH_ROUNDS = 5


def _not_found_item(dataset_id: str, item_id: str) -> NotFound:
    return NotFound(
        f"item {item_id} is not in dataset {dataset_id}",
        reason="ITEM_NOT_FOUND",
        metadata={"dataset_id": dataset_id, "item_id": item_id},
    )


class CurationQueries:
    def __init__(
        self,
        read_model: CurationReadModel,
        index: VectorIndex,
        handlers: CurationHandlers,
        embedders: Mapping[str, Embedder],
    ) -> None:
        self.read_model = read_model
        self.index = index
        self.handlers = handlers
        self.embedders = dict(embedders)

    async def get_dataset(self, dataset_id: str) -> pb.GetDatasetResponse:
        check_dataset_id(dataset_id)
        dataset = await self.read_model.get_dataset(current_tenant(), dataset_id)
        if dataset is None:
            raise NotFound(
                f"dataset {dataset_id} does not exist",
                reason="DATASET_NOT_FOUND",
                metadata={"dataset_id": dataset_id},
            )
        return pb.GetDatasetResponse(dataset=dataset)

    async def list_datasets(self, req: pb.ListDatasetsRequest) -> pb.ListDatasetsResponse:
        limit = page_size(req.page_size)
        after = str(decode_token(req.page_token)) if req.page_token else ""
        rows = await self.read_model.list_datasets(current_tenant(), after, limit + 1)
        out = pb.ListDatasetsResponse(datasets=rows[:limit])
        if len(rows) > limit:
            out.next_page_token = encode_token(rows[limit - 1].dataset_id)
        return out

    async def get_import(self, import_id: str) -> pb.GetImportResponse:
        if not import_id:
            raise InvalidArgument("import_id is required", [FieldViolation("import_id", "empty")])
        imp = await self.read_model.get_import(current_tenant(), import_id)
        if imp is None:
            raise NotFound(f"import {import_id} does not exist", reason="IMPORT_NOT_FOUND")
        return import_response(pb.GetImportResponse, imp)

    async def get_item(self, dataset_id: str, item_id: str) -> pb.GetItemResponse:
        await self.handlers.policy(dataset_id)
        tenant = current_tenant()
        if item_id.startswith("external:"):
            external_id = item_id[len("external:") :]
            item = await self.read_model.get_item(tenant, dataset_id, None, external_id)
        else:
            _check_item_id(item_id)
            item = await self.read_model.get_item(tenant, dataset_id, item_id, None)
        if item is None:
            raise _not_found_item(dataset_id, item_id)
        return pb.GetItemResponse(item=item)

    async def list_items(self, req: pb.ListItemsRequest) -> pb.ListItemsResponse:
        await self.handlers.policy(req.dataset_id)
        limit = page_size(req.page_size)
        bound = filter_fingerprint(
            req.dataset_id,
            sorted(req.states),
            sorted(req.modalities),
            sorted(req.metadata.items()),
            req.import_id,
            req.duplicates_only,
        )
        after = int(decode_token(req.page_token, bound)) if req.page_token else 0
        rows, total = await self.read_model.list_items(
            current_tenant(),
            req.dataset_id,
            after_seq=after,
            limit=limit + 1,
            states=req.states,
            modalities=req.modalities,
            metadata=req.metadata,
            import_id=req.import_id,
            duplicates_only=req.duplicates_only,
        )
        out = pb.ListItemsResponse(items=[r[0] for r in rows[:limit]], total_size=total)
        if len(rows) > limit:
            out.next_page_token = encode_token(rows[limit - 1][1], bound)
        return out

    # --- search -------------------------------------------------------------------------------

    async def search_similar(self, req: pb.SearchSimilarRequest) -> pb.SearchSimilarResponse:
        policy = await self.handlers.policy(req.dataset_id)
        _check_item_id(req.item_id)
        limit = _limit(req.limit)
        space = await self.handlers.resolve_space(policy, req.vector_space)
        tenant = current_tenant()
        vector = await self.read_model.item_vector(tenant, req.dataset_id, space, req.item_id)
        if vector is None:
            if await self.read_model.get_item(tenant, req.dataset_id, req.item_id, None) is None:
                raise _not_found_item(req.dataset_id, req.item_id)
            raise InvalidArgument(
                f"item {req.item_id} has no vector in {space}",
                [FieldViolation("vector_space", f"item {req.item_id} has no {space} vector")],
            )
        results = await self._search(
            policy, space, vector, limit, req.min_score, req.states, exclude=req.item_id
        )
        return pb.SearchSimilarResponse(results=results, vector_space=space)

    async def search_text(self, req: pb.SearchTextRequest) -> pb.SearchTextResponse:
        policy = await self.handlers.policy(req.dataset_id)
        query = req.query.strip()
        if not query or len(query) > MAX_QUERY_CHARS:
            raise InvalidArgument(
                "query must be 1..2000 characters",
                [FieldViolation("query", f"give 1..{MAX_QUERY_CHARS} characters of text")],
            )
        limit = _limit(req.limit)
        candidates = [req.vector_space] if req.vector_space else list(policy.embedders)
        space = next(
            (
                n
                for n in candidates
                if n in policy.embedders and isinstance(self.embedders.get(n), QueryEmbedder)
            ),
            "",
        )
        if not space:
            raise InvalidArgument(
                f"dataset {req.dataset_id} has no text embedder to search with",
                [
                    FieldViolation(
                        "vector_space",
                        "name an embedder of the dataset that embeds text queries"
                        f" (dataset embedders: {list(policy.embedders)})",
                    )
                ],
            )
        embedder = self.embedders[space]
        assert isinstance(embedder, QueryEmbedder)
        try:
            vector = (await embedder.embed_query([query]))[0]
        except EmbeddingError as exc:
            raise InvalidArgument(
                f"query cannot be embedded: {exc}", [FieldViolation("query", str(exc))]
            ) from exc
        results = await self._search(policy, space, vector, limit, req.min_score, req.states)
        return pb.SearchTextResponse(results=results, vector_space=space)

    async def _search(
        self,
        policy: DatasetPolicy,
        space: str,
        vector: np.ndarray,
        limit: int,
        min_score: float,
        states: Sequence[int],
        *,
        exclude: str = "",
    ) -> list[pb.ScoredItem]:
        tenant = current_tenant()
        wanted = set(states)
        out: list[pb.ScoredItem] = []
        offset = 0
        fetch = limit + 1 if not wanted else limit * OVERFETCH
        for _ in range(MAX_SEARCH_ROUNDS):
            hits = await self.index.search(
                tenant,
                policy.dataset_id,
                space,
                vector,
                limit=fetch,
                min_score=min_score or None,
                offset=offset,
            )
            items = await self.read_model.items_by_id(
                tenant, policy.dataset_id, [h.item_id for h in hits]
            )
            for h in hits:
                item = items.get(h.item_id)
                if item is None or h.item_id == exclude or (wanted and item.state not in wanted):
                    continue
                out.append(pb.ScoredItem(item=item, score=h.score))
                if len(out) == limit:
                    return out
            if len(hits) < fetch:
                break
            offset += fetch
        return out


def import_response(cls: type[M], imp: pb.Import) -> M:
    """``cls(import=imp)``: ``import`` is a Python keyword, so the field is set by name."""
    out = cls()
    getattr(out, "import").CopyFrom(imp)
    return out


def _limit(requested: int) -> int:
    if not 0 <= requested <= MAX_SEARCH_RESULTS:
        raise InvalidArgument(
            "limit must be 0..1000", [FieldViolation("limit", "0..1000 (0 = 10)")]
        )
    return requested or 10


def _check_item_id(item_id: str) -> None:
    try:
        uuid.UUID(item_id)
    except ValueError:
        raise InvalidArgument(
            f"{item_id[:60]!r} is not an item id",
            [FieldViolation("item_id", "an item id (UUID) or external:<external_id>")],
        ) from None
