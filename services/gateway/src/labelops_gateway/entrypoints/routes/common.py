"""What every JSON route shares: typed query / path parameters, the backends and settings as
dependencies, the bounded JSON body, the reply, and the OpenAPI documentation of bodies and
replies from the proto messages (``SCHEMAS``, the components of the OpenAPI document).

The schemas are built when a route module is imported (pure work over the proto descriptors,
no I/O): the routes are module-level routers, as FastAPI has them, and every app serves the
same routes, so one registry documents them all.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from google.protobuf.message import Message
from labelops.curation.v1 import curation_pb2 as cur
from labelops.routing.v1 import routing_pb2 as rt
from labelops_core.errors import FieldViolation, InvalidArgument, ResourceExhausted

from ...adapters.backends import Backends
from ...config import Settings
from ..proto_schema import SchemaRegistry
from ..protojson import query_enum, refuse_nul_text, to_json

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

#: Component schemas of every message a route documents (the OpenAPI document's components).
SCHEMAS = SchemaRegistry()


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


async def _read_bounded(request: Request, limit: int) -> bytes:
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
    return b"".join(chunks)


async def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object ({} when empty), at most ``max_body_bytes``."""
    raw = await _read_bounded(request, _settings(request).max_body_bytes)
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


async def no_nul_parameters(request: Request) -> None:
    """Refuse NUL characters in path and query parameters (no service could store them)."""
    refuse_nul_text(request.path_params)
    for name, value in request.query_params.multi_items():
        refuse_nul_text({name: value})


def body(message: type[Message], *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON body of ``message`` (minus URL fields)."""
    return {
        "requestBody": {
            "required": False,
            "description": f"`{message.DESCRIPTOR.full_name}` as JSON"
            + (f" (without {', '.join(exclude)}: the URL gives it)" if exclude else ""),
            "content": {
                "application/json": {"schema": SCHEMAS.message(message.DESCRIPTOR, exclude=exclude)}
            },
        }
    }


def returns(
    message: type[Message], status: int = 200, *, exclude: tuple[str, ...] = ()
) -> dict[int | str, Any]:
    """``responses`` documenting a reply of ``message`` (``exclude``: fields left out)."""
    schema = (
        SCHEMAS.message(message.DESCRIPTOR, exclude=exclude)
        if exclude
        else SCHEMAS.ref(message.DESCRIPTOR)
    )
    return {
        status: {
            "description": f"`{message.DESCRIPTOR.full_name}` as JSON"
            + (f" (without {', '.join(exclude)})" if exclude else ""),
            "content": {"application/json": {"schema": schema}},
        }
    }
