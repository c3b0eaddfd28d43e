"""Workforce commands of RoutingService: pools (in-house teams, vendors) and annotators.

A create that finds exactly what it would create answers as the first time (a retried create);
anything else under the same id is ALREADY_EXISTS. Pools are the caller's tenant's: another
tenant's pool is NOT_FOUND (update, register an annotator into it), and pool ids are per tenant
(so are the pools' event streams): creating a pool of an id another tenant holds creates the
caller's own.
"""

from __future__ import annotations

from labelops.routing.v1 import events_pb2 as ev
from labelops.routing.v1 import routing_pb2 as pb
from labelops_core.context import current_tenant
from labelops_core.errors import AlreadyExists, FieldViolation, InvalidArgument, NotFound
from labelops_eventstore import EventStore, NewEvent
from labelops_eventstore.store import NO_STREAM

from ..adapters.read_models import ReadModels
from ..domain.project import validate_id
from .convert import POOL_KINDS, pool_to_pb


def pool_violations(pool: pb.Pool, *, create: bool) -> list[FieldViolation]:
    bad = validate_id("pool.pool_id", pool.pool_id)
    if create and pool.kind not in POOL_KINDS:
        bad.append(FieldViolation("pool.kind", "POOL_KIND_IN_HOUSE or POOL_KIND_VENDOR"))
    if create and pool.kind == pb.POOL_KIND_VENDOR and not pool.vendor_id:
        bad.append(FieldViolation("pool.vendor_id", "required for a vendor pool"))
    if create and pool.kind == pb.POOL_KIND_IN_HOUSE and pool.vendor_id:
        bad.append(FieldViolation("pool.vendor_id", "must be empty for an in-house pool"))
    if pool.capacity < 0:
        bad.append(FieldViolation("pool.capacity", "0 (unlimited) or more"))
    if pool.cost_per_task < 0 or pool.cost_per_task != pool.cost_per_task:
        bad.append(FieldViolation("pool.cost_per_task", "a number >= 0"))
    if len(pool.display_name) > 200:
        bad.append(FieldViolation("pool.display_name", "at most 200 characters"))
    return bad


def annotator_violations(a: pb.Annotator) -> list[FieldViolation]:
    bad = []
    if not a.annotator_id or len(a.annotator_id) > 200:
        bad.append(FieldViolation("annotator.annotator_id", "1..200 characters"))
    if not a.pool_id:
        bad.append(FieldViolation("annotator.pool_id", "required"))
    return bad


class WorkforceCommands:
    def __init__(self, store: EventStore, rm: ReadModels) -> None:
        self.store = store
        self.rm = rm

    async def create_pool(self, req: pb.CreatePoolRequest) -> pb.CreatePoolResponse:
        p = req.pool
        if bad := pool_violations(p, create=True):
            raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
        tenant = current_tenant()
        async with self.store.transaction() as conn:
            exists = await self.rm.pools.get(conn, tenant, p.pool_id)
            stored = pb.Pool()
            stored.CopyFrom(p)
            if exists is not None and pool_to_pb(exists) == stored:  # a retried create
                return pb.CreatePoolResponse(pool=pool_to_pb(exists))
            if exists is not None:
                raise AlreadyExists(f"pool {p.pool_id} exists", reason="POOL_ALREADY_EXISTS")
            await self.rm.pools.insert(
                conn,
                tenant,
                pool_id=p.pool_id,
                display_name=p.display_name,
                kind=POOL_KINDS[p.kind],
                vendor_id=p.vendor_id,
                capacity=p.capacity,
                cost_per_task=p.cost_per_task,
                qualified_classes=p.qualified_classes,
                active=p.active,
            )
            await self.store.append(
                f"pools/{p.pool_id}",
                NO_STREAM,
                [NewEvent.of(ev.PoolCreated(pool=stored))],
                conn=conn,
            )
        return pb.CreatePoolResponse(pool=stored)

    async def update_pool(self, req: pb.UpdatePoolRequest) -> pb.UpdatePoolResponse:
        p = req.pool
        if bad := pool_violations(p, create=False):
            raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
        tenant = current_tenant()
        async with self.store.transaction() as conn:
            if await self.rm.pools.get(conn, tenant, p.pool_id, lock=True) is None:
                raise NotFound(f"pool {p.pool_id} not found", reason="POOL_NOT_FOUND")
            row = await self.rm.pools.update(
                conn,
                tenant,
                pool_id=p.pool_id,
                display_name=p.display_name,
                capacity=p.capacity,
                cost_per_task=p.cost_per_task,
                qualified_classes=p.qualified_classes,
                active=p.active,
            )
            open_tasks = await self.rm.pools.open_tasks(conn, tenant)
            updated = pool_to_pb(row, open_tasks.get(p.pool_id, 0))
            await self.store.append(
                f"pools/{p.pool_id}",
                row["stream_version"] - 1,
                [NewEvent.of(ev.PoolUpdated(pool=updated))],
                conn=conn,
            )
        return pb.UpdatePoolResponse(pool=updated)

    async def register_annotator(
        self, req: pb.RegisterAnnotatorRequest
    ) -> pb.RegisterAnnotatorResponse:
        a = req.annotator
        if bad := annotator_violations(a):
            raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
        tenant = current_tenant()
        async with self.store.transaction() as conn:
            pool = await self.rm.pools.get(conn, tenant, a.pool_id, lock=True)
            if pool is None:
                raise NotFound(f"pool {a.pool_id} not found", reason="POOL_NOT_FOUND")
            existing = await self.rm.annotators.get(conn, tenant, a.annotator_id)
            if existing is not None:
                same = (
                    existing["pool_id"] == a.pool_id
                    and list(existing["skills"]) == list(a.skills)
                    and existing["active"] == a.active
                    and existing["display_name"] == a.display_name
                )
                if same:
                    return pb.RegisterAnnotatorResponse(annotator=a)
                raise AlreadyExists(
                    f"annotator {a.annotator_id} exists", reason="ANNOTATOR_ALREADY_EXISTS"
                )
            await self.rm.annotators.insert(
                conn,
                tenant,
                annotator_id=a.annotator_id,
                pool_id=a.pool_id,
                display_name=a.display_name,
                skills=a.skills,
                active=a.active,
            )
            await self.rm.pools.bump_version(conn, tenant, a.pool_id)
            await self.store.append(
                f"pools/{a.pool_id}",
                pool["stream_version"],
                [NewEvent.of(ev.AnnotatorRegistered(annotator=a))],
                conn=conn,
            )
        return pb.RegisterAnnotatorResponse(annotator=a)
