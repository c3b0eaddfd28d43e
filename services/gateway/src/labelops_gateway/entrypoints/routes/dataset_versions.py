"""``/v1/datasets/{dataset_id}/versions`` and ``.../diff``: dataset versions, their manifests
and files, and the diff of two (datasets service; files from the version store)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, Response, StreamingResponse
from labelops.datasets.v1 import datasets_pb2 as dst
from labelops_core.errors import NotFound

from ...adapters.backends import Backends
from ...adapters.version_store import BlobReader, manifest_files, store_root
from ..credentials import Creds, Metadata
from ..protojson import to_json
from .common import (
    INT32_MAX,
    INT64_MAX,
    BackendsDep,
    Id,
    PageSize,
    PageToken,
    SettingsDep,
    Version,
    reply,
    returns,
)

router = APIRouter(tags=["dataset versions"])


@router.get(
    "/datasets/{dataset_id}/versions",
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


def _quote(filename: str) -> str:
    # Manifest paths are the service's own ("data/part-0001.parquet"); keep the header sane
    # regardless.
    return "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
