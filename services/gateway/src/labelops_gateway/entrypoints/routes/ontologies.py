"""``/v1/ontologies``: ontologies, their drafts and published versions (ontology service)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from labelops.ontology.v1 import ontology_pb2 as ont

from ..credentials import Creds
from ..protojson import parse
from .common import BackendsDep, Body, Id, PageSize, PageToken, body, reply, returns

router = APIRouter(tags=["ontologies"])


@router.get(
    "/ontologies",
    summary="List ontologies",
    responses=returns(ont.ListOntologiesResponse),
)
async def list_ontologies(
    backends: BackendsDep,
    creds: Creds,
    page_size: PageSize = 0,
    page_token: PageToken = "",
    show_deprecated: bool = False,
) -> JSONResponse:
    request = ont.ListOntologiesRequest(
        page_size=page_size, page_token=page_token, show_deprecated=show_deprecated
    )
    return reply(await backends.call("ontology", "ListOntologies", request, creds))


@router.post(
    "/ontologies",
    summary="Create an ontology (with its first draft)",
    status_code=201,
    openapi_extra=body(ont.CreateOntologyRequest),
    responses=returns(ont.CreateOntologyResponse, 201),
)
async def create_ontology(backends: BackendsDep, creds: Creds, payload: Body) -> JSONResponse:
    request = parse(payload, ont.CreateOntologyRequest)
    return reply(await backends.call("ontology", "CreateOntology", request, creds), 201)


@router.get(
    "/ontologies/{ontology_id}",
    summary="Get an ontology with its draft",
    responses=returns(ont.GetOntologyResponse),
)
async def get_ontology(backends: BackendsDep, creds: Creds, ontology_id: Id) -> JSONResponse:
    request = ont.GetOntologyRequest(ontology_id=ontology_id)
    return reply(await backends.call("ontology", "GetOntology", request, creds))


@router.post(
    "/ontologies/{ontology_id}/versions",
    summary="Publish the draft as a new immutable version",
    status_code=201,
    openapi_extra=body(ont.PublishOntologyVersionRequest, exclude=("ontology_id",)),
    responses=returns(ont.PublishOntologyVersionResponse, 201),
)
async def publish_ontology_version(
    backends: BackendsDep, creds: Creds, ontology_id: Id, payload: Body
) -> JSONResponse:
    request = parse(payload, ont.PublishOntologyVersionRequest, path={"ontology_id": ontology_id})
    return reply(await backends.call("ontology", "PublishOntologyVersion", request, creds), 201)


@router.get(
    "/ontologies/{ontology_id}/versions/{version}",
    summary="Get a published version ('latest' = the newest)",
    responses=returns(ont.GetOntologyVersionResponse),
)
async def get_ontology_version(
    backends: BackendsDep,
    creds: Creds,
    ontology_id: Id,
    version: Annotated[str, Path(min_length=1, max_length=64)],
) -> JSONResponse:
    request = ont.GetOntologyVersionRequest(ontology_id=ontology_id, version=version)
    return reply(await backends.call("ontology", "GetOntologyVersion", request, creds))
