"""``/v1/projects/{project_id}/quality`` and a task's quality (qa service)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from labelops.qa.v1 import qa_pb2 as qa

from ..credentials import Creds
from ..protojson import parse
from .common import BackendsDep, Body, Id, PageSize, body, reply, returns

router = APIRouter(tags=["quality"])


@router.post(
    "/projects/{project_id}/quality/agreement",
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
    summary="A task's QA state and live consensus",
    responses=returns(qa.GetTaskQualityResponse),
)
async def task_quality(
    backends: BackendsDep, creds: Creds, project_id: Id, task_id: Id
) -> JSONResponse:
    request = qa.GetTaskQualityRequest(project_id=project_id, task_id=task_id)
    return reply(await backends.call("qa", "GetTaskQuality", request, creds))
