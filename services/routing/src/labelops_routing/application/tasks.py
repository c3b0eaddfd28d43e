"""Task commands of RoutingService: tasks for items given directly, gold tasks, new signals.

Tasks made from curation items come through the consumers (projections.py); both go through
``TaskPlanner``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg
from labelops.labels.v1 import label_pb2
from labelops.routing.v1 import routing_pb2 as pb
from labelops_core.context import current_tenant
from labelops_core.errors import FieldViolation, InvalidArgument, NotFound
from labelops_eventstore import EventStore
from labelops_ontologykit import OntologyVersions

from ..adapters.read_models import ReadModels
from .common import task_id_for
from .planning import TaskChange, TaskPlanner, TaskSpec
from .projects import project_row

MAX_TASK_ITEMS = 5000


def task_specs(items: Sequence[pb.TaskItem], prefix: str) -> list[TaskSpec]:
    """The specs of the items given, or INVALID_ARGUMENT with every problem."""
    if not items:
        raise InvalidArgument("no items", [FieldViolation(prefix, "give at least one item")])
    if len(items) > MAX_TASK_ITEMS:
        raise InvalidArgument(
            "too many items", [FieldViolation(prefix, f"at most {MAX_TASK_ITEMS} per call")]
        )
    bad: list[FieldViolation] = []
    specs = []
    for i, it in enumerate(items):
        if not it.item_id or len(it.item_id) > 200:
            bad.append(FieldViolation(f"{prefix}[{i}].item_id", "1..200 characters"))
        if not it.uri:
            bad.append(FieldViolation(f"{prefix}[{i}].uri", "required"))
        s = it.signals
        if s.HasField("confidence") and not 0.0 <= s.confidence <= 1.0:
            bad.append(FieldViolation(f"{prefix}[{i}].signals.confidence", "in [0, 1]"))
        if not 0.0 <= s.ambiguity <= 1.0:
            bad.append(FieldViolation(f"{prefix}[{i}].signals.ambiguity", "in [0, 1]"))
        specs.append(
            TaskSpec(
                item_id=it.item_id,
                uri=it.uri,
                modality=it.modality or "image",
                context=it.context,
                signals=it.signals,
                prelabels=list(it.prelabels),
            )
        )
    if bad:
        raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
    return specs


def task_ids(req: pb.UpdateTaskSignalsRequest) -> list[uuid.UUID]:
    bad = []
    ids: list[uuid.UUID] = []
    for i, u in enumerate(req.updates):
        try:
            ids.append(uuid.UUID(u.task_id))
        except ValueError:
            bad.append(FieldViolation(f"updates[{i}].task_id", "not a task id"))
    if not req.updates:
        bad.append(FieldViolation("updates", "give at least one update"))
    if bad:
        raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
    return ids


class TaskCommands:
    def __init__(
        self,
        store: EventStore,
        rm: ReadModels,
        planner: TaskPlanner,
        ontologies: OntologyVersions,
    ) -> None:
        self.store = store
        self.rm = rm
        self.planner = planner
        #: Published versions this service has received, compiled once (gold validation).
        self.ontologies = ontologies

    async def create_tasks(self, req: pb.CreateTasksRequest) -> pb.CreateTasksResponse:
        cmd = await self.store.command("CreateTasks", req, pb.CreateTasksResponse)
        if cmd.earlier is not None:
            return cmd.earlier
        specs = task_specs(req.items, "items")
        tenant = current_tenant()
        async with self.store.transaction() as conn:
            project = await project_row(self.rm, conn, tenant, req.project_id, lock=True)
            pools = await self.rm.pools.infos(conn, tenant, lock=True)
            appends, created = await self.planner.plan_tasks(conn, project, specs, pools)
            resp = pb.CreateTasksResponse(
                tasks_created=created,
                tasks_existing=len({s.item_id for s in specs}) - created,
                task_ids=[str(task_id_for(tenant, req.project_id, s.item_id)) for s in specs],
            )
            if appends:
                await self.store.append_streams(appends, conn=conn, **cmd.recording(resp))
        return resp

    async def add_gold_tasks(self, req: pb.AddGoldTasksRequest) -> pb.AddGoldTasksResponse:
        cmd = await self.store.command("AddGoldTasks", req, pb.AddGoldTasksResponse)
        if cmd.earlier is not None:
            return cmd.earlier
        specs = task_specs([g.item for g in req.items], "items")
        tenant = current_tenant()
        await self._check_gold(tenant, req, specs)
        async with self.store.transaction() as conn:
            project = await project_row(self.rm, conn, tenant, req.project_id, lock=True)
            pools = await self.rm.pools.infos(conn, tenant, lock=False)
            appends, _ = await self.planner.plan_tasks(conn, project, specs, pools, gold=True)
            resp = pb.AddGoldTasksResponse(
                task_ids=[str(task_id_for(tenant, req.project_id, s.item_id, True)) for s in specs]
            )
            if appends:
                await self.store.append_streams(appends, conn=conn, **cmd.recording(resp))
        return resp

    async def _check_gold(
        self, tenant: str, req: pb.AddGoldTasksRequest, specs: list[TaskSpec]
    ) -> None:
        """Expected labels against the project's ontology version; sets ``gold_expected``."""
        project = await project_row(self.rm, self.store.pool, tenant, req.project_id)
        compiled = await self.ontologies.get(
            project["ontology_id"], project["ontology_version"], tenant=tenant
        )
        bad = []
        for i, (g, spec) in enumerate(zip(req.items, specs, strict=True)):
            if g.expected.item_id != spec.item_id:
                bad.append(FieldViolation(f"items[{i}].expected.item_id", "must be the item's id"))
            expected = label_pb2.ItemLabels()
            expected.CopyFrom(g.expected)
            expected.item.CopyFrom(spec.context)
            for issue in compiled.validate_item(expected):
                where = f"labels[{issue.label_index}]." if issue.label_index >= 0 else ""
                bad.append(
                    FieldViolation(f"items[{i}].expected.{where}{issue.field}", issue.description)
                )
            spec.gold_expected = expected
        if bad:
            raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)

    async def update_task_signals(
        self, req: pb.UpdateTaskSignalsRequest
    ) -> pb.UpdateTaskSignalsResponse:
        cmd = await self.store.command("UpdateTaskSignals", req, pb.UpdateTaskSignalsResponse)
        if cmd.earlier is not None:
            return cmd.earlier
        ids = task_ids(req)
        tenant = current_tenant()
        async with self.store.transaction() as conn:
            project = await project_row(self.rm, conn, tenant, req.project_id, lock=True)
            pools = await self.rm.pools.infos(conn, tenant, lock=True)
            rows = {
                r["task_id"]: r
                for r in await self.rm.tasks.locked_in_project(conn, tenant, ids, req.project_id)
            }
            changes: list[tuple[asyncpg.Record, TaskChange]] = []
            for i, (u, tid) in enumerate(zip(req.updates, ids, strict=True)):
                row = rows.get(tid)
                if row is None:
                    raise NotFound(
                        f"updates[{i}]: task {tid} not found in project {req.project_id}",
                        reason="TASK_NOT_FOUND",
                    )
                # Pre-labels given here come from the caller, not from a model.
                given = label_pb2.ItemLabels(item_id=row["item_id"], labels=u.prelabels)
                changes.append(
                    (
                        row,
                        TaskChange(
                            signals=u.signals, prelabels=given if len(u.prelabels) else None
                        ),
                    )
                )
            done = await self.planner.change_tasks(conn, project, changes, pools)
            resp = pb.UpdateTaskSignalsResponse(
                tasks_updated=done.updated, tasks_rerouted=done.rerouted
            )
            if done.appends:
                await self.store.append_streams(done.appends, conn=conn, **cmd.recording(resp))
        return resp
