"""Read side of RoutingService: projects, pools, annotators, tasks and queue statistics.

Every read is of the caller's tenant (another tenant's project or task is NOT_FOUND; lists
hold only the tenant's). A vendor sees only its own pools, their annotators and their tasks
(another vendor's task is NOT_FOUND); an annotator principal sees only the annotators of its
own pool; ``gold`` flags are cleared for anyone without ``gold.read`` (``domain/access.py``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
from labelops.routing.v1 import routing_pb2 as pb
from labelops_core.context import current_principal, current_tenant
from labelops_core.errors import FieldViolation, InvalidArgument, NotFound
from labelops_core.paging import decode_token, encode_token, filter_fingerprint, page_size

from ..adapters.read_models import ReadModels
from ..domain.access import acts_only_as_itself, can_see_gold, vendor_of
from .convert import ASSIGNMENT_STATES, TASK_STATE_NAMES, TASK_STATES, pool_to_pb
from .planning import NO_ELIGIBLE_ANNOTATOR
from .projects import project_row, project_to_pb


class RoutingQueries:
    def __init__(self, pool: asyncpg.Pool, rm: ReadModels) -> None:
        self.pool = pool
        self.rm = rm

    async def get_project(self, project_id: str) -> pb.GetProjectResponse:
        row = await project_row(self.rm, self.pool, current_tenant(), project_id)
        return pb.GetProjectResponse(
            project=project_to_pb(row), rules=pb.RoutingRules.FromString(row["rules"])
        )

    async def list_projects(self, req: pb.ListProjectsRequest) -> pb.ListProjectsResponse:
        size = page_size(req.page_size)
        after = decode_token(req.page_token, "projects") if req.page_token else ""
        rows = await self.rm.projects.page(self.pool, current_tenant(), after, size + 1)
        resp = pb.ListProjectsResponse(projects=[project_to_pb(r) for r in rows[:size]])
        if len(rows) > size:
            resp.next_page_token = encode_token(rows[size - 1]["project_id"], "projects")
        return resp

    async def list_pools(self) -> pb.ListPoolsResponse:
        tenant = current_tenant()
        rows = await self.rm.pools.all(self.pool, tenant, vendor_of(current_principal()))
        open_tasks = await self.rm.pools.open_tasks(self.pool, tenant)
        return pb.ListPoolsResponse(
            pools=[pool_to_pb(r, open_tasks.get(r["pool_id"], 0)) for r in rows]
        )

    async def list_annotators(self, pool_id: str) -> pb.ListAnnotatorsResponse:
        tenant, p = current_tenant(), current_principal()
        if p is not None and acts_only_as_itself(p):
            me = await self.rm.annotators.get(self.pool, tenant, p.subject)
            if me is None or pool_id not in ("", me["pool_id"]):
                return pb.ListAnnotatorsResponse()
            pool_id = me["pool_id"]
        rows = await self.rm.annotators.of_pool(self.pool, tenant, pool_id, vendor_of(p))
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

    @staticmethod
    def task_to_pb(r: asyncpg.Record, gold: bool = True) -> pb.Task:
        """A task row; ``gold`` False: its gold flag is not shown (always false)."""
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
            gold=r["gold"] and gold,
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
        tenant, p = current_tenant(), current_principal()
        row = await self.rm.tasks.get(self.pool, tenant, tid, project_id, vendor_of(p))
        if row is None:
            raise NotFound(f"task {task_id} not found", reason="TASK_NOT_FOUND")
        task = self.task_to_pb(row, can_see_gold(p))
        for a in await self.rm.assignments.of_task(self.pool, tenant, tid):
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
        tenant, p = current_tenant(), current_principal()
        await project_row(self.rm, self.pool, tenant, req.project_id)
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
        rows = await self.rm.tasks.page(
            self.pool,
            tenant,
            req.project_id,
            states,
            req.pool_id,
            uuid.UUID(after) if after else None,
            size + 1,
            vendor_of(p),
        )
        gold = can_see_gold(p)
        resp = pb.ListTasksResponse(tasks=[self.task_to_pb(r, gold) for r in rows[:size]])
        if len(rows) > size:
            resp.next_page_token = encode_token(str(rows[size - 1]["task_id"]), bound)
        return resp

    async def queue_stats(self, project_id: str) -> pb.GetQueueStatsResponse:
        tenant = current_tenant()
        await project_row(self.rm, self.pool, tenant, project_id)
        rows = await self.rm.tasks.queue_stats(
            self.pool, tenant, project_id, vendor_of(current_principal())
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
                    no_eligible_annotator=r["no_eligible"],
                    no_eligible_annotator_task_ids=[str(t) for t in r["no_eligible_ids"] or ()],
                    flags=[NO_ELIGIBLE_ANNOTATOR] if r["no_eligible"] else [],
                )
                for r in rows
            ]
        )
