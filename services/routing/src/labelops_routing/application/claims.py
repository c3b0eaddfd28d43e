"""ClaimTasks (WorkforceService, and the ``claim`` of the Work stream): lease tasks to one
annotator of a pool.

Who may claim from which pool, as which annotator, is ``domain.access`` (a vendor only from
its own pools, an annotator principal only as itself); everything is of the caller's tenant
(another tenant's pool answers as a missing one); which tasks an offer holds (gold slots) is
``domain.leases``; the task's next counters are ``domain.tasks.TaskCounts.claimed``.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
from labelops.labels.v1 import label_pb2
from labelops.routing.v1 import events_pb2 as ev
from labelops.routing.v1 import routing_pb2 as rpb
from labelops.routing.v1 import workforce_pb2 as pb
from labelops_core.clock import Clock, utc_now
from labelops_core.context import current_principal, current_tenant
from labelops_core.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from labelops_core.ids import uuid7
from labelops_eventstore import EventStore, NewEvent
from labelops_eventstore.store import StreamAppend

from ..adapters import metrics
from ..adapters.assignments import NewAssignment
from ..adapters.read_models import ReadModels
from ..adapters.tasks import CountsUpdate, counts_of
from ..domain.access import check_annotator, check_pool_access, missing_pool
from ..domain.leases import claim_size, gold_slots, interleave, lease_expiry
from .common import task_stream, timestamp


def _check_request(req: pb.ClaimTasksRequest) -> None:
    bad = []
    if not req.pool_id:
        bad.append(FieldViolation("pool_id", "required"))
    if not req.annotator_id:
        bad.append(FieldViolation("annotator_id", "required"))
    if req.max_tasks < 1:
        bad.append(FieldViolation("max_tasks", "at least 1"))
    if bad:
        raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)


class Claims:
    def __init__(
        self,
        store: EventStore,
        rm: ReadModels,
        clock: Clock = utc_now,
    ) -> None:
        self.store = store
        self.rm = rm
        self.clock = clock

    async def claim(self, req: pb.ClaimTasksRequest) -> pb.ClaimTasksResponse:
        _check_request(req)
        principal = current_principal()
        check_annotator(principal, req.annotator_id)
        tenant = current_tenant()
        async with self.store.transaction() as conn:
            pool, skills = await self._worker(conn, tenant, req)
            project_id = req.project_id or await self.rm.tasks.first_queued_project(
                conn, tenant, req.pool_id
            )
            if not project_id:
                return pb.ClaimTasksResponse()
            project = await self.rm.projects.plain(conn, tenant, project_id)
            if project is None:
                raise NotFound(f"project {project_id} not found", reason="PROJECT_NOT_FOUND")
            config = rpb.WorkflowConfig.FromString(project["config"])
            n = claim_size(req.max_tasks, config.max_tasks_per_claim)
            seq = await self.rm.offers.locked(conn, tenant, project_id, req.annotator_id)
            slots = gold_slots(config.gold_rate, project_id, req.annotator_id, seq, n)
            regular = await self.rm.tasks.queued_for(
                conn, tenant, project_id, req.pool_id, req.annotator_id, skills, n - sum(slots)
            )
            gold = []
            if any(slots):
                gold = await self.rm.tasks.gold_for(
                    conn, tenant, project_id, req.annotator_id, sum(slots)
                )
            picked = interleave(slots, regular, gold)
            if not picked:
                return pb.ClaimTasksResponse()
            offers, appends = await self._lease(conn, req, pool, project, config, picked)
            await self.rm.offers.set(conn, tenant, project_id, req.annotator_id, seq + n)
            await self.store.append_streams(appends, conn=conn)
        metrics.tasks_offered.add(len(offers), {"pool": req.pool_id})
        return pb.ClaimTasksResponse(offers=offers)

    async def _worker(
        self, conn: asyncpg.Connection, tenant: str, req: pb.ClaimTasksRequest
    ) -> tuple[asyncpg.Record, list[str]]:
        """The pool (the caller may work it, it is active) and the annotator's skills (they
        are registered in it, active)."""
        principal = current_principal()
        pool = await self.rm.pools.get(conn, tenant, req.pool_id)
        if pool is None:
            raise missing_pool(principal, req.pool_id)
        check_pool_access(principal, pool["pool_id"], pool["kind"], pool["vendor_id"])
        if not pool["active"]:
            raise FailedPrecondition(f"pool {req.pool_id} is paused", reason="POOL_INACTIVE")
        annotator = await self.rm.annotators.get(conn, tenant, req.annotator_id)
        if annotator is None or annotator["pool_id"] != req.pool_id:
            raise FailedPrecondition(
                f"annotator {req.annotator_id} is not registered in pool {req.pool_id}",
                reason="ANNOTATOR_NOT_IN_POOL",
            )
        if not annotator["active"]:
            raise FailedPrecondition(
                f"annotator {req.annotator_id} is inactive", reason="ANNOTATOR_INACTIVE"
            )
        return pool, list(annotator["skills"])

    async def _lease(
        self,
        conn: asyncpg.Connection,
        req: pb.ClaimTasksRequest,
        pool: asyncpg.Record,
        project: asyncpg.Record,
        config: rpb.WorkflowConfig,
        picked: list[asyncpg.Record],
    ) -> tuple[list[pb.TaskOffer], list[StreamAppend]]:
        """One lease per picked task: assignment rows and task counters written; the offers
        and the TaskAssigned appends returned."""
        project_id, tenant = project["project_id"], project["tenant_id"]
        now = self.clock()
        expires = lease_expiry(now, config.lease_seconds)
        offers, appends, leases, counts = [], [], [], []
        for task in picked:
            aid = uuid7()
            counts.append(CountsUpdate(task["task_id"], counts_of(task).claimed()))
            assigned = ev.TaskAssigned(
                project_id=project_id,
                task_id=str(task["task_id"]),
                assignment_id=str(aid),
                annotator_id=req.annotator_id,
                pool_id=req.pool_id,
                vendor_id=pool["vendor_id"],
                lease_expire_time=timestamp(expires),
            )
            appends.append(
                StreamAppend(
                    task_stream(project_id, task["task_id"]),
                    task["stream_version"],
                    [NewEvent.of(assigned)],
                )
            )
            offer = _offer(task, project, config, aid, req.annotator_id, expires)
            # The model whose pre-labels this offer shows: LabelSubmitted credits it,
            # whatever reaches the task (or the project's config) while it is leased.
            shown = len(offer.prelabels) > 0
            leases.append(
                NewAssignment(
                    aid,
                    task["task_id"],
                    project_id,
                    req.annotator_id,
                    req.pool_id,
                    pool["vendor_id"],
                    expires,
                    now,
                    task["prelabel_model"] if shown else "",
                    task["prelabel_model_version"] if shown else "",
                    tenant,
                )
            )
            offers.append(offer)
        await self.rm.assignments.insert(conn, leases)
        await self.rm.tasks.write_counts(conn, tenant, counts, now)
        return offers, appends


def _offer(
    task: asyncpg.Record,
    project: asyncpg.Record,
    config: rpb.WorkflowConfig,
    assignment_id: object,
    annotator_id: str,
    expires: datetime,
) -> pb.TaskOffer:
    offer = pb.TaskOffer(
        assignment_id=str(assignment_id),
        task_id=str(task["task_id"]),
        project_id=project["project_id"],
        item_id=task["item_id"],
        item_uri=task["item_uri"],
        modality=task["modality"],
        item=label_pb2.ItemContext.FromString(task["context"]),
        ontology_id=project["ontology_id"],
        ontology_version=project["ontology_version"],
        lease_expire_time=timestamp(expires),
        annotator_id=annotator_id,
    )
    if config.prelabels_enabled and task["prelabels"]:
        offer.prelabels.extend(label_pb2.ItemLabels.FromString(task["prelabels"]).labels)
    return offer
