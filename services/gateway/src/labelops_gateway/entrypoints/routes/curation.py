"""``/v1/curation/datasets``: curation datasets, their items and search (curation service)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from labelops.curation.v1 import curation_pb2 as cur
from labelops_core.errors import FieldViolation, InvalidArgument

from ..credentials import Creds
from ..protojson import enum_value
from .common import (
    BackendsDep,
    CurationStateQ,
    Id,
    Limit,
    MinScore,
    ModalityQ,
    PageSize,
    PageToken,
    reply,
    returns,
)

router = APIRouter(tags=["curation"])

States = Annotated[list[CurationStateQ] | None, Query()]  # type: ignore[valid-type]


def _states(state: list[str] | None) -> list[int]:
    return [enum_value(cur.CurationState.DESCRIPTOR, "CURATION_STATE_", s) for s in state or ()]


def _metadata_pairs(metadata: list[str] | None) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for i, pair in enumerate(metadata or ()):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidArgument(
                "metadata filters are key=value",
                [FieldViolation(f"metadata[{i}]", "expected key=value")],
            )
        pairs[key] = value
    return pairs


@router.get(
    "/curation/datasets",
    summary="List curation datasets",
    responses=returns(cur.ListDatasetsResponse),
)
async def list_curation_datasets(
    backends: BackendsDep, creds: Creds, page_size: PageSize = 0, page_token: PageToken = ""
) -> JSONResponse:
    request = cur.ListDatasetsRequest(page_size=page_size, page_token=page_token)
    return reply(await backends.call("curation", "ListDatasets", request, creds))


@router.get(
    "/curation/datasets/{dataset_id}",
    summary="Get a curation dataset with its item counts",
    responses=returns(cur.GetDatasetResponse),
)
async def get_curation_dataset(backends: BackendsDep, creds: Creds, dataset_id: Id) -> JSONResponse:
    request = cur.GetDatasetRequest(dataset_id=dataset_id)
    return reply(await backends.call("curation", "GetDataset", request, creds))


@router.get(
    "/curation/datasets/{dataset_id}/items",
    summary="List a dataset's items (filters combine with AND)",
    responses=returns(cur.ListItemsResponse),
)
async def list_items(
    backends: BackendsDep,
    creds: Creds,
    dataset_id: Id,
    page_size: PageSize = 0,
    page_token: PageToken = "",
    state: States = None,
    modality: Annotated[list[ModalityQ] | None, Query()] = None,  # type: ignore[valid-type]
    metadata: Annotated[
        list[str] | None,
        Query(description="key=value; items whose metadata has every pair given"),
    ] = None,
    import_id: Annotated[str, Query(max_length=256)] = "",
    duplicates_only: bool = False,
) -> JSONResponse:
    pairs = _metadata_pairs(metadata)
    request = cur.ListItemsRequest(
        dataset_id=dataset_id,
        page_size=page_size,
        page_token=page_token,
        states=_states(state),
        modalities=[enum_value(cur.Modality.DESCRIPTOR, "MODALITY_", m) for m in modality or ()],
        metadata=pairs,
        import_id=import_id,
        duplicates_only=duplicates_only,
    )
    return reply(await backends.call("curation", "ListItems", request, creds))


@router.get(
    "/curation/datasets/{dataset_id}/items/{item_id}",
    summary="Get an item (item id, or external:<external id>)",
    responses=returns(cur.GetItemResponse),
)
async def get_item(
    backends: BackendsDep, creds: Creds, dataset_id: Id, item_id: Id
) -> JSONResponse:
    request = cur.GetItemRequest(dataset_id=dataset_id, item_id=item_id)
    return reply(await backends.call("curation", "GetItem", request, creds))


@router.get(
    "/curation/datasets/{dataset_id}/items/{item_id}/similar",
    summary="Items most similar to an item (cosine, in one vector space)",
    responses=returns(cur.SearchSimilarResponse),
)
async def search_similar(
    backends: BackendsDep,
    creds: Creds,
    dataset_id: Id,
    item_id: Id,
    vector_space: Annotated[str, Query(max_length=256)] = "",
    limit: Limit = 0,
    min_score: MinScore = 0.0,
    state: States = None,
) -> JSONResponse:
    request = cur.SearchSimilarRequest(
        dataset_id=dataset_id,
        item_id=item_id,
        vector_space=vector_space,
        limit=limit,
        min_score=min_score,
        states=_states(state),
    )
    return reply(await backends.call("curation", "SearchSimilar", request, creds))


@router.get(
    "/curation/datasets/{dataset_id}/search",
    summary="Natural-language search over a dataset's items",
    responses=returns(cur.SearchTextResponse),
)
async def search_text(
    backends: BackendsDep,
    creds: Creds,
    dataset_id: Id,
    q: Annotated[str, Query(min_length=1, max_length=2048, description="the query text")],
    vector_space: Annotated[str, Query(max_length=256)] = "",
    limit: Limit = 0,
    min_score: MinScore = 0.0,
    state: States = None,
) -> JSONResponse:
    request = cur.SearchTextRequest(
        dataset_id=dataset_id,
        query=q,
        vector_space=vector_space,
        limit=limit,
        min_score=min_score,
        states=_states(state),
    )
    return reply(await backends.call("curation", "SearchText", request, creds))
