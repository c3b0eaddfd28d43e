"""Read side of RoutingService: projects, pools, annotators, tasks and queue statistics."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
from labelops.routing.v1 import routing_pb2 as pb
from labelops_core.errors import FieldViolation, InvalidArgument, NotFound
from labelops_core.paging import decode_token, encode_token, filter_fingerprint, page_size

from ..adapters.tables import Tables
from .convert import ASSIGNMENT_STATES, TASK_STATE_NAMES, TASK_STATES, pool_to_pb
from .handlers import RoutingHandlers


class RoutingQueries:
    def __init__(self, pool: asyncpg.Pool, tables: Tables, handlers: RoutingHandlers) -> None:
        self.pool = pool
        self.t = tables
        self.handlers = handlers

    async def get_project(self, project_id: str) -> pb.GetProjectResponse:
        row = await self.handlers.project_row(self.pool, project_id)
        return pb.GetProjectResponse(
            project=self.handlers.project_to_pb(row), rules=pb.RoutingRules.FromString(row["rules"])
        )

    async def list_projects(self, req: pb.ListProjectsRequest) -> pb.ListProjectsResponse:
        size = page_size(req.page_size)
        after = decode_token(req.page_token, "projects") if req.page_token else ""
        rows = await self.pool.fetch(
            f"SELECT p.*, (SELECT count(*) FROM {self.t.tasks} t WHERE t.project_id = p.project_id"
            " AND t.state = 'labeled' AND NOT t.gold) AS tasks_labeled"
            f" FROM {self.t.projects} p WHERE p.project_id > $1 ORDER BY p.project_id LIMIT $2",
            after,
            size + 1,
        )
        resp = pb.ListProjectsResponse(
            projects=[self.handlers.project_to_pb(r) for r in rows[:size]]
        )
        if len(rows) > size:
            resp.next_page_token = encode_token(rows[size - 1]["project_id"], "projects")
        return resp

    async def list_pools(self) -> pb.ListPoolsResponse:
        rows = await self.pool.fetch(f"SELECT * FROM {self.t.pools} ORDER BY pool_id")
        open_tasks = await self.handlers.open_tasks(self.pool)
        return pb.ListPoolsResponse(
            pools=[pool_to_pb(r, open_tasks.get(r["pool_id"], 0)) for r in rows]
        )

    async def list_annotators(self, pool_id: str) -> pb.ListAnnotatorsResponse:
        rows = await self.pool.fetch(
            f"SELECT * FROM {self.t.annotators} WHERE $1 = '' OR pool_id = $1"
            " ORDER BY annotator_id",
            pool_id,
        )
        return pb.ListAnnotatorsResponse(
            annotators=[
                pb.Annotator(
                    annotator_id=r["annotator_id"],
                    pool_id=r["pool_id"],
                    display_name=r["display_name"],
                    skills=list(r["skills"]),
                    active=r["active"],
                )
                for r in rows
            ]
        )

    def task_to_pb(self, r: asyncpg.Record) -> pb.Task:
        t = pb.Task(
            task_id=str(r["task_id"]),
            project_id=r["project_id"],
            item_id=r["item_id"],
            item_uri=r["item_uri"],
            modality=r["modality"],
            state=TASK_STATES[r["state"]],
            required_labels=r["required"],
            labels_submitted=r["submitted"],
            active_leases=r["active"],
            pool_id=r["pool_id"],
            route_rule=r["route_rule"],
            route_reason=r["route_reason"],
            signals=pb.TaskSignals.FromString(r["signals"]),
            gold=r["gold"],
        )
        t.create_time.FromDatetime(r["created_at"])
        t.update_time.FromDatetime(r["updated_at"])
        return t

    async def get_task(self, project_id: str, task_id: str) -> pb.GetTaskResponse:
        try:
            tid = uuid.UUID(task_id)
        except ValueError:
            raise InvalidArgument(
                "bad task id", [FieldViolation("task_id", "not a task id")]
            ) from None
        row = await self.pool.fetchrow(
            f"SELECT * FROM {self.t.tasks} WHERE task_id = $1 AND project_id = $2",
            tid,
            project_id,
        )
        if row is None:
            raise NotFound(f"task {task_id} not found", reason="TASK_NOT_FOUND")
        task = self.task_to_pb(row)
        for a in await self.pool.fetch(
            f"SELECT * FROM {self.t.assignments} WHERE task_id = $1 ORDER BY created_at", tid
        ):
            asg = pb.Assignment(
                assignment_id=str(a["assignment_id"]),
                task_id=task_id,
                annotator_id=a["annotator_id"],
                pool_id=a["pool_id"],
                state=ASSIGNMENT_STATES[a["state"]],
                reason=a["reason"],
            )
            asg.lease_expire_time.FromDatetime(a["lease_expires"])
            task.assignments.append(asg)
        return pb.GetTaskResponse(task=task)

    async def list_tasks(self, req: pb.ListTasksRequest) -> pb.ListTasksResponse:
        await self.handlers.project_row(self.pool, req.project_id)
        bad = [
            FieldViolation(f"states[{i}]", "unknown state")
            for i, s in enumerate(req.states)
            if s not in TASK_STATE_NAMES
        ]
        if bad:
            raise InvalidArgument("unknown task state", bad)
        states = [TASK_STATE_NAMES[s] for s in req.states]
        size = page_size(req.page_size)
        bound = filter_fingerprint(req.project_id, sorted(states), req.pool_id)
        after = decode_token(req.page_token, bound) if req.page_token else None
        rows = await self.pool.fetch(
            f"SELECT * FROM {self.t.tasks} WHERE project_id = $1"
            " AND (cardinality($2::text[]) = 0 OR state = ANY($2))"
            " AND ($3 = '' OR pool_id = $3) AND ($4::uuid IS NULL OR task_id > $4)"
            " ORDER BY task_id LIMIT $5",
            req.project_id,
            states,
            req.pool_id,
            uuid.UUID(after) if after else None,
            size + 1,
        )
        resp = pb.ListTasksResponse(tasks=[self.task_to_pb(r) for r in rows[:size]])
        if len(rows) > size:
            resp.next_page_token = encode_token(str(rows[size - 1]["task_id"]), bound)
        return resp

    async def queue_stats(self, project_id: str) -> pb.GetQueueStatsResponse:
        await self.handlers.project_row(self.pool, project_id)
        rows = await self.pool.fetch(
            f"SELECT t.pool_id, count(*) FILTER (WHERE t.state = 'queued') AS depth,"
            " coalesce(sum(t.active), 0) AS active,"
            " count(*) FILTER (WHERE t.state IN ('queued', 'in_progress')) AS outstanding,"
            " min(t.created_at) FILTER (WHERE t.state = 'queued') AS oldest"
            f" FROM {self.t.tasks} t WHERE t.project_id = $1 AND NOT t.gold"
            " GROUP BY t.pool_id ORDER BY t.pool_id",
            project_id,
        )
        now = datetime.now(UTC)
        return pb.GetQueueStatsResponse(
            pools=[
                pb.QueueStats(
                    pool_id=r["pool_id"],
                    depth=r["depth"],
                    active_leases=r["active"],
                    outstanding=r["outstanding"],
                    oldest_age_seconds=(now - r["oldest"]).total_seconds() if r["oldest"] else 0,
                )
                for r in rows
            ]
        )
