"""The HTTP/JSON routes: each one is a single gRPC call (proto ↔ JSON only, no decisions).

Replies are the gRPC response message as JSON (``protojson.to_json``); request bodies are the
gRPC request message as JSON, minus what the URL already says. Query parameters are typed
(bounds of the proto field, enum short names), so a value the proto could not hold is a 400
before any service sees it.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from google.protobuf.message import Message
from labelops.curation.v1 import curation_pb2 as cur
from labelops.datasets.v1 import datasets_pb2 as dst
from labelops.ontology.v1 import ontology_pb2 as ont
from labelops.prelabel.v1 import prelabel_pb2 as pre
from labelops.qa.v1 import qa_pb2 as qa
from labelops.routing.v1 import routing_pb2 as rt
from labelops_core.errors import FieldViolation, InvalidArgument, NotFound, ResourceExhausted

from ..adapters.backends import Backends
from ..adapters.version_store import BlobReader, manifest_files, store_root
from ..config import Settings
from .credentials import Creds, Metadata
from .proto_schema import SchemaRegistry
from .protojson import enum_value, parse, query_enum, refuse_nul_text, to_json

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

# Query / path parameter types. Ids are whatever the services accept; the gateway only bounds
# their length (a URL is no place for a megabyte) and leaves the rules to the owner.
Id = Annotated[str, Path(min_length=1, max_length=512)]
PageSize = Annotated[int, Query(ge=0, le=1000, description="0 = the service's default page size")]
PageToken = Annotated[
    str, Query(max_length=4096, description="next_page_token of the previous page")
]
Limit = Annotated[int, Query(ge=0, le=1000, description="0 = the service's default (10)")]
MinScore = Annotated[float, Query(ge=-1.0, le=1.0, description="only results with cosine ≥ this")]
Version = Annotated[int, Path(ge=0, le=INT64_MAX, description="version number; 0 = the latest")]

CurationStateQ = query_enum("CurationState", cur.CurationState.DESCRIPTOR, "CURATION_STATE_")
ModalityQ = query_enum("Modality", cur.Modality.DESCRIPTOR, "MODALITY_")
TaskStateQ = query_enum("TaskState", rt.TaskState.DESCRIPTOR, "TASK_STATE_")


def _backends(request: Request) -> Backends:
    backends: Backends = request.app.state.backends
    return backends


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


BackendsDep = Annotated[Backends, Depends(_backends)]
SettingsDep = Annotated[Settings, Depends(_settings)]


def reply(message: Message, status: int = 200) -> JSONResponse:
    return JSONResponse(to_json(message), status_code=status)


async def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object ({} when empty), at most ``max_body_bytes``."""
    limit = _settings(request).max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ResourceExhausted(
            f"request body is larger than {limit} bytes", reason="BODY_TOO_LARGE"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ResourceExhausted(
                f"request body is larger than {limit} bytes", reason="BODY_TOO_LARGE"
            )
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InvalidArgument(
            "body is not JSON", [FieldViolation("body", str(exc)[:300])], reason="BODY_NOT_JSON"
        ) from None
    if not isinstance(value, dict):
        raise InvalidArgument(
            "body must be a JSON object",
            [FieldViolation("body", f"got a JSON {type(value).__name__}")],
            reason="BODY_NOT_JSON",
        )
    return value


Body = Annotated[dict[str, Any], Depends(json_object)]


async def _no_nul_parameters(request: Request) -> None:
    refuse_nul_text(request.path_params)
    for name, value in request.query_params.multi_items():
        refuse_nul_text({name: value})


def build_router(schemas: SchemaRegistry) -> APIRouter:
    """Every JSON route (health and the event stream live elsewhere)."""
    router = APIRouter(prefix="/v1", dependencies=[Depends(_no_nul_parameters)])

    def body(message: type[Message], *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
        """``openapi_extra`` documenting a JSON body of ``message`` (minus URL fields)."""
        return {
            "requestBody": {
                "required": False,
                "description": f"`{message.DESCRIPTOR.full_name}` as JSON"
                + (f" (without {', '.join(exclude)}: the URL gives it)" if exclude else ""),
                "content": {
                    "application/json": {
                        "schema": schemas.message(message.DESCRIPTOR, exclude=exclude)
                    }
                },
            }
        }

    def returns(
        message: type[Message], status: int = 200, *, exclude: tuple[str, ...] = ()
    ) -> dict[int | str, Any]:
        schema = (
            schemas.message(message.DESCRIPTOR, exclude=exclude)
            if exclude
            else schemas.ref(message.DESCRIPTOR)
        )
        return {
            status: {
                "description": f"`{message.DESCRIPTOR.full_name}` as JSON"
                + (f" (without {', '.join(exclude)})" if exclude else ""),
                "content": {"application/json": {"schema": schema}},
            }
        }

    # --- ontologies (ontology service) -----------------------------------------------------

    @router.get(
        "/ontologies",
        tags=["ontologies"],
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
        tags=["ontologies"],
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
        tags=["ontologies"],
        summary="Get an ontology with its draft",
        responses=returns(ont.GetOntologyResponse),
    )
    async def get_ontology(backends: BackendsDep, creds: Creds, ontology_id: Id) -> JSONResponse:
        request = ont.GetOntologyRequest(ontology_id=ontology_id)
        return reply(await backends.call("ontology", "GetOntology", request, creds))

    @router.post(
        "/ontologies/{ontology_id}/versions",
        tags=["ontologies"],
        summary="Publish the draft as a new immutable version",
        status_code=201,
        openapi_extra=body(ont.PublishOntologyVersionRequest, exclude=("ontology_id",)),
        responses=returns(ont.PublishOntologyVersionResponse, 201),
    )
    async def publish_ontology_version(
        backends: BackendsDep, creds: Creds, ontology_id: Id, payload: Body
    ) -> JSONResponse:
        request = parse(
            payload, ont.PublishOntologyVersionRequest, path={"ontology_id": ontology_id}
        )
        return reply(await backends.call("ontology", "PublishOntologyVersion", request, creds), 201)

    @router.get(
        "/ontologies/{ontology_id}/versions/{version}",
        tags=["ontologies"],
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

    # --- items and search (curation service) -------------------------------------------------

    @router.get(
        "/curation/datasets",
        tags=["curation"],
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
        tags=["curation"],
        summary="Get a curation dataset with its item counts",
        responses=returns(cur.GetDatasetResponse),
    )
    async def get_curation_dataset(
        backends: BackendsDep, creds: Creds, dataset_id: Id
    ) -> JSONResponse:
        request = cur.GetDatasetRequest(dataset_id=dataset_id)
        return reply(await backends.call("curation", "GetDataset", request, creds))

    @router.get(
        "/curation/datasets/{dataset_id}/items",
        tags=["curation"],
        summary="List a dataset's items (filters combine with AND)",
        responses=returns(cur.ListItemsResponse),
    )
    async def list_items(
        backends: BackendsDep,
        creds: Creds,
        dataset_id: Id,
        page_size: PageSize = 0,
        page_token: PageToken = "",
        state: Annotated[list[CurationStateQ] | None, Query()] = None,  # type: ignore[valid-type]
        modality: Annotated[list[ModalityQ] | None, Query()] = None,  # type: ignore[valid-type]
        metadata: Annotated[
            list[str] | None,
            Query(description="key=value; items whose metadata has every pair given"),
        ] = None,
        import_id: Annotated[str, Query(max_length=256)] = "",
        duplicates_only: bool = False,
    ) -> JSONResponse:
        pairs: dict[str, str] = {}
        for i, pair in enumerate(metadata or ()):
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise InvalidArgument(
                    "metadata filters are key=value",
                    [FieldViolation(f"metadata[{i}]", "expected key=value")],
                )
            pairs[key] = value
        request = cur.ListItemsRequest(
            dataset_id=dataset_id,
            page_size=page_size,
            page_token=page_token,
            states=[
                enum_value(cur.CurationState.DESCRIPTOR, "CURATION_STATE_", s) for s in state or ()
            ],
            modalities=[
                enum_value(cur.Modality.DESCRIPTOR, "MODALITY_", m) for m in modality or ()
            ],
            metadata=pairs,
            import_id=import_id,
            duplicates_only=duplicates_only,
        )
        return reply(await backends.call("curation", "ListItems", request, creds))

    @router.get(
        "/curation/datasets/{dataset_id}/items/{item_id}",
        tags=["curation"],
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
        tags=["curation"],
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
        state: Annotated[list[CurationStateQ] | None, Query()] = None,  # type: ignore[valid-type]
    ) -> JSONResponse:
        request = cur.SearchSimilarRequest(
            dataset_id=dataset_id,
            item_id=item_id,
            vector_space=vector_space,
            limit=limit,
            min_score=min_score,
            states=[
                enum_value(cur.CurationState.DESCRIPTOR, "CURATION_STATE_", s) for s in state or ()
            ],
        )
        return reply(await backends.call("curation", "SearchSimilar", request, creds))

    @router.get(
        "/curation/datasets/{dataset_id}/search",
        tags=["curation"],
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
        state: Annotated[list[CurationStateQ] | None, Query()] = None,  # type: ignore[valid-type]
    ) -> JSONResponse:
        request = cur.SearchTextRequest(
            dataset_id=dataset_id,
            query=q,
            vector_space=vector_space,
            limit=limit,
            min_score=min_score,
            states=[
                enum_value(cur.CurationState.DESCRIPTOR, "CURATION_STATE_", s) for s in state or ()
            ],
        )
        return reply(await backends.call("curation", "SearchText", request, creds))

    # --- projects, queues and tasks (routing service) ----------------------------------------

    @router.get(
        "/projects",
        tags=["projects"],
        summary="List projects",
        responses=returns(rt.ListProjectsResponse),
    )
    async def list_projects(
        backends: BackendsDep, creds: Creds, page_size: PageSize = 0, page_token: PageToken = ""
    ) -> JSONResponse:
        request = rt.ListProjectsRequest(page_size=page_size, page_token=page_token)
        return reply(await backends.call("routing", "ListProjects", request, creds))

    @router.post(
        "/projects",
        tags=["projects"],
        summary="Create a project on a published ontology version",
        status_code=201,
        openapi_extra=body(rt.CreateProjectRequest),
        responses=returns(rt.CreateProjectResponse, 201),
    )
    async def create_project(backends: BackendsDep, creds: Creds, payload: Body) -> JSONResponse:
        request = parse(payload, rt.CreateProjectRequest)
        return reply(await backends.call("routing", "CreateProject", request, creds), 201)

    @router.get(
        "/projects/{project_id}",
        tags=["projects"],
        summary="Get a project with its routing rules",
        responses=returns(rt.GetProjectResponse),
    )
    async def get_project(backends: BackendsDep, creds: Creds, project_id: Id) -> JSONResponse:
        request = rt.GetProjectRequest(project_id=project_id)
        return reply(await backends.call("routing", "GetProject", request, creds))

    @router.get(
        "/projects/{project_id}/queues",
        tags=["projects"],
        summary="Depth and age of each pool's queue",
        responses=returns(rt.GetQueueStatsResponse),
    )
    async def get_queue_stats(backends: BackendsDep, creds: Creds, project_id: Id) -> JSONResponse:
        request = rt.GetQueueStatsRequest(project_id=project_id)
        return reply(await backends.call("routing", "GetQueueStats", request, creds))

    @router.get(
        "/projects/{project_id}/tasks",
        tags=["projects"],
        summary="List a project's tasks",
        responses=returns(rt.ListTasksResponse),
    )
    async def list_tasks(
        backends: BackendsDep,
        creds: Creds,
        project_id: Id,
        state: Annotated[list[TaskStateQ] | None, Query()] = None,  # type: ignore[valid-type]
        pool_id: Annotated[str, Query(max_length=256)] = "",
        page_size: PageSize = 0,
        page_token: PageToken = "",
    ) -> JSONResponse:
        request = rt.ListTasksRequest(
            project_id=project_id,
            states=[enum_value(rt.TaskState.DESCRIPTOR, "TASK_STATE_", s) for s in state or ()],
            pool_id=pool_id,
            page_size=page_size,
            page_token=page_token,
        )
        return reply(await backends.call("routing", "ListTasks", request, creds))

    @router.get(
        "/projects/{project_id}/tasks/{task_id}",
        tags=["projects"],
        summary="Get a task with its assignments",
        responses=returns(rt.GetTaskResponse),
    )
    async def get_task(
        backends: BackendsDep, creds: Creds, project_id: Id, task_id: Id
    ) -> JSONResponse:
        request = rt.GetTaskRequest(project_id=project_id, task_id=task_id)
        return reply(await backends.call("routing", "GetTask", request, creds))

    # --- quality (qa service) ----------------------------------------------------------------

    @router.post(
        "/projects/{project_id}/quality/agreement",
        tags=["quality"],
        summary="Measure inter-annotator agreement (published as AgreementMeasured)",
        openapi_extra=body(qa.MeasureAgreementRequest, exclude=("project_id",)),
        responses=returns(qa.MeasureAgreementResponse),
    )
    async def measure_agreement(
        backends: BackendsDep, creds: Creds, project_id: Id, payload: Body
    ) -> JSONResponse:
        request = parse(payload, qa.MeasureAgreementRequest, path={"project_id": project_id})
        return reply(await backends.call("qa", "MeasureAgreement", request, creds))

    @router.get(
        "/projects/{project_id}/quality/annotators",
        tags=["quality"],
        summary="Gold accuracy, confusion and drift per annotator",
        responses=returns(qa.GetAnnotatorQualityResponse),
    )
    async def annotator_quality(
        backends: BackendsDep,
        creds: Creds,
        project_id: Id,
        annotator_id: Annotated[str, Query(max_length=256, description="one annotator")] = "",
    ) -> JSONResponse:
        request = qa.GetAnnotatorQualityRequest(project_id=project_id, annotator_id=annotator_id)
        return reply(await backends.call("qa", "GetAnnotatorQuality", request, creds))

    @router.get(
        "/projects/{project_id}/quality/review-queue",
        tags=["quality"],
        summary="Tasks waiting for review",
        responses=returns(qa.ListReviewQueueResponse),
    )
    async def review_queue(
        backends: BackendsDep, creds: Creds, project_id: Id, page_size: PageSize = 0
    ) -> JSONResponse:
        request = qa.ListReviewQueueRequest(project_id=project_id, page_size=page_size)
        return reply(await backends.call("qa", "ListReviewQueue", request, creds))

    @router.get(
        "/projects/{project_id}/tasks/{task_id}/quality",
        tags=["quality"],
        summary="A task's QA state and live consensus",
        responses=returns(qa.GetTaskQualityResponse),
    )
    async def task_quality(
        backends: BackendsDep, creds: Creds, project_id: Id, task_id: Id
    ) -> JSONResponse:
        request = qa.GetTaskQualityRequest(project_id=project_id, task_id=task_id)
        return reply(await backends.call("qa", "GetTaskQuality", request, creds))

    # --- pre-labels (prelabel service) -------------------------------------------------------

    @router.get(
        "/projects/{project_id}/models",
        tags=["prelabel"],
        summary="A project's pre-labeling models",
        responses=returns(pre.ListModelsResponse),
    )
    async def list_models(backends: BackendsDep, creds: Creds, project_id: Id) -> JSONResponse:
        request = pre.ListModelsRequest(project_id=project_id)
        return reply(await backends.call("prelabel", "ListModels", request, creds))

    @router.get(
        "/models/{model_id}",
        tags=["prelabel"],
        summary="A model with its versions (newest first)",
        responses=returns(pre.GetModelResponse),
    )
    async def get_model(backends: BackendsDep, creds: Creds, model_id: Id) -> JSONResponse:
        request = pre.GetModelRequest(model_id=model_id)
        return reply(await backends.call("prelabel", "GetModel", request, creds))

    @router.get(
        "/projects/{project_id}/prelabel/roi",
        tags=["prelabel"],
        summary="Pre-label ROI per class and whether pre-labeling is on",
        responses=returns(pre.GetClassRoiResponse),
    )
    async def class_roi(backends: BackendsDep, creds: Creds, project_id: Id) -> JSONResponse:
        request = pre.GetClassRoiRequest(project_id=project_id)
        return reply(await backends.call("prelabel", "GetClassRoi", request, creds))

    # --- dataset versions (datasets service) -------------------------------------------------

    @router.get(
        "/datasets/{dataset_id}/versions",
        tags=["dataset versions"],
        summary="List a dataset's versions",
        responses=returns(dst.ListDatasetVersionsResponse),
    )
    async def list_dataset_versions(
        backends: BackendsDep,
        creds: Creds,
        dataset_id: Id,
        page_size: PageSize = 0,
        page_token: PageToken = "",
    ) -> JSONResponse:
        request = dst.ListDatasetVersionsRequest(
            dataset_id=dataset_id, page_size=page_size, page_token=page_token
        )
        return reply(await backends.call("datasets", "ListDatasetVersions", request, creds))

    async def _version(backends: Backends, creds: Metadata, dataset_id: str, version: int) -> Any:
        request = dst.GetDatasetVersionRequest(dataset_id=dataset_id, version=version)
        return await backends.call("datasets", "GetDatasetVersion", request, creds)

    @router.get(
        "/datasets/{dataset_id}/versions/{version}",
        tags=["dataset versions"],
        summary="Get a version's record (its manifest: .../manifest)",
        responses=returns(dst.GetDatasetVersionResponse, exclude=("manifest_json",)),
    )
    async def get_dataset_version(
        backends: BackendsDep, creds: Creds, dataset_id: Id, version: Version
    ) -> JSONResponse:
        found = await _version(backends, creds, dataset_id, version)
        # The manifest has its own route (as JSON, not base64 inside JSON).
        return JSONResponse({"version": to_json(found.version)})

    @router.get(
        "/datasets/{dataset_id}/versions/{version}/manifest",
        tags=["dataset versions"],
        summary="A version's manifest.json, byte for byte as stored",
        responses={200: {"description": "manifest.json", "content": {"application/json": {}}}},
    )
    async def get_dataset_manifest(
        backends: BackendsDep, creds: Creds, dataset_id: Id, version: Version
    ) -> Response:
        found = await _version(backends, creds, dataset_id, version)
        # Checked against the content address: what the client gets is what the version is.
        manifest_files(found.manifest_json, found.version.manifest_sha256)
        return Response(
            found.manifest_json,
            media_type="application/json",
            headers={"ETag": f'"{found.version.manifest_sha256}"'},
        )

    @router.get(
        "/datasets/{dataset_id}/versions/{version}/files/{path:path}",
        tags=["dataset versions"],
        summary="Download one of a version's files (a path its manifest lists)",
        responses={
            200: {
                "description": "the file's bytes, verified against its sha256 while streaming",
                "content": {"application/octet-stream": {}},
            }
        },
    )
    async def download_dataset_file(
        backends: BackendsDep,
        settings: SettingsDep,
        creds: Creds,
        dataset_id: Id,
        version: Version,
        path: Annotated[str, Path(min_length=1, max_length=1024)],
    ) -> StreamingResponse:
        found = await _version(backends, creds, dataset_id, version)
        entry = manifest_files(found.manifest_json, found.version.manifest_sha256).get(path)
        if entry is None:
            raise NotFound(
                f"version {found.version.version} of {dataset_id} has no file {path!r}",
                reason="FILE_NOT_FOUND",
                metadata={"path": path},
            )
        root = store_root(found.version.manifest_uri, settings.datasets_store_url)
        blob = BlobReader(root, entry, settings.download_chunk_bytes)
        await blob.open()
        filename = path.rsplit("/", 1)[-1]
        return StreamingResponse(
            blob.chunks(),
            media_type="application/octet-stream",
            headers={
                "Content-Length": str(entry.size),
                "ETag": f'"{entry.sha256}"',
                "Content-Disposition": f'attachment; filename="{_quote(filename)}"',
            },
        )

    @router.get(
        "/datasets/{dataset_id}/diff",
        tags=["dataset versions"],
        summary="Added, removed and changed labels between two versions, with blame",
        responses=returns(dst.DiffDatasetVersionsResponse),
    )
    async def diff_dataset_versions(
        backends: BackendsDep,
        creds: Creds,
        dataset_id: Id,
        from_version: Annotated[int, Query(ge=0, le=INT64_MAX)],
        to_version: Annotated[int, Query(ge=0, le=INT64_MAX)],
        page_size: Annotated[int, Query(ge=0, le=INT32_MAX)] = 0,
        page_token: PageToken = "",
    ) -> JSONResponse:
        request = dst.DiffDatasetVersionsRequest(
            dataset_id=dataset_id,
            from_version=from_version,
            to_version=to_version,
            page_size=page_size,
            page_token=page_token,
        )
        return reply(await backends.call("datasets", "DiffDatasetVersions", request, creds))

    return router


def _quote(filename: str) -> str:
    # Manifest paths are the service's own ("data/part-0001.parquet"); keep the header sane
    # regardless.
    return "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
