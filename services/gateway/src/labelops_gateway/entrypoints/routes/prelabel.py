"""``/v1/.../models`` and ``/v1/projects/{project_id}/prelabel/roi``: pre-labeling models and
their ROI (prelabel service)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from labelops.prelabel.v1 import prelabel_pb2 as pre

from ..credentials import Creds
from .common import BackendsDep, Id, reply, returns

router = APIRouter(tags=["prelabel"])


@router.get(
    "/projects/{project_id}/models",
    summary="A project's pre-labeling models",
    responses=returns(pre.ListModelsResponse),
)
async def list_models(backends: BackendsDep, creds: Creds, project_id: Id) -> JSONResponse:
    request = pre.ListModelsRequest(project_id=project_id)
    return reply(await backends.call("prelabel", "ListModels", request, creds))


@router.get(
    "/models/{model_id}",
    summary="A model with its versions (newest first)",
    responses=returns(pre.GetModelResponse),
)
async def get_model(backends: BackendsDep, creds: Creds, model_id: Id) -> JSONResponse:
    request = pre.GetModelRequest(model_id=model_id)
    return reply(await backends.call("prelabel", "GetModel", request, creds))


@router.get(
    "/projects/{project_id}/prelabel/roi",
    summary="Pre-label ROI per class and whether pre-labeling is on",
    responses=returns(pre.GetClassRoiResponse),
)
async def class_roi(backends: BackendsDep, creds: Creds, project_id: Id) -> JSONResponse:
    request = pre.GetClassRoiRequest(project_id=project_id)
    return reply(await backends.call("prelabel", "GetClassRoi", request, creds))
