"""``/v1/projects``: projects, their queues and tasks (routing service)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from labelops.routing.v1 import routing_pb2 as rt

from ..credentials import Creds
from ..protojson import enum_value, parse
from .common import BackendsDep, Body, Id, PageSize, PageToken, TaskStateQ, body, reply, returns

router = APIRouter(tags=["projects"])


@router.get(
    "/projects",
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
    summary="Get a project with its routing rules",
    responses=returns(rt.GetProjectResponse),
)
async def get_project(backends: BackendsDep, creds: Creds, project_id: Id) -> JSONResponse:
    request = rt.GetProjectRequest(project_id=project_id)
    return reply(await backends.call("routing", "GetProject", request, creds))


@router.get(
    "/projects/{project_id}/queues",
    summary="Depth and age of each pool's queue",
    responses=returns(rt.GetQueueStatsResponse),
)
async def get_queue_stats(backends: BackendsDep, creds: Creds, project_id: Id) -> JSONResponse:
    request = rt.GetQueueStatsRequest(project_id=project_id)
    return reply(await backends.call("routing", "GetQueueStats", request, creds))


@router.get(
    "/projects/{project_id}/tasks",
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
    summary="Get a task with its assignments",
    responses=returns(rt.GetTaskResponse),
)
async def get_task(
    backends: BackendsDep, creds: Creds, project_id: Id, task_id: Id
) -> JSONResponse:
    request = rt.GetTaskRequest(project_id=project_id, task_id=task_id)
    return reply(await backends.call("routing", "GetTask", request, creds))
