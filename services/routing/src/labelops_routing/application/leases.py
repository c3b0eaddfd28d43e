"""Leases after the claim: Heartbeat, SkipTask, and the sweeper that expires abandoned leases
so their tasks go to someone else (the annotator who let one lapse never gets it again).

Heartbeats and skips are of the caller's tenant and checked by ``domain.access`` (a vendor's
leases only by that vendor; an annotator principal's only its own). The sweeper serves every
tenant: each expiry is written under, and its event carries, the lease's tenant, with the
sweeper as the actor."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg
from labelops.routing.v1 import events_pb2 as ev
from labelops.routing.v1 import routing_pb2 as rpb
from labelops.routing.v1 import workforce_pb2 as pb
from labelops_core.clock import Clock, utc_now
from labelops_core.context import current_principal, current_tenant
from labelops_core.errors import FieldViolation, InvalidArgument
from labelops_eventstore import EventStore, NewEvent
from labelops_eventstore.store import StreamAppend

from ..adapters.read_models import ReadModels
from ..adapters.tasks import CountsUpdate, counts_of
from ..domain.access import (
    assignment_refusal,
    check_assignment_access,
    check_assignments_found,
    missing_assignment,
)
from ..domain.leases import lease_active, lease_expiry, skip_outcome
from .common import task_stream, timestamp

MAX_IDS = 1000
MAX_NOTE_CHARS = 2000
#: The actor of what the lease sweeper appends (no caller: the service's own clock).
SWEEPER = {"actor_kind": "service", "actor_id": "routing.lease-sweeper"}


def assignment_ids(ids: Sequence[str], field: str) -> list[uuid.UUID]:
    if len(ids) > MAX_IDS:
        raise InvalidArgument(
            "too many ids", [FieldViolation(field, f"at most {MAX_IDS} per call")]
        )
    out, bad = [], []
    for i, s in enumerate(ids):
        try:
            out.append(uuid.UUID(s))
        except ValueError:
            bad.append(FieldViolation(f"{field}[{i}]", "not an assignment id"))
    if bad:
        raise InvalidArgument(f"{len(bad)} invalid id(s)", bad)
    return out


def _check_skip(req: pb.SkipTaskRequest) -> uuid.UUID:
    aid = assignment_ids([req.assignment_id], "assignment_id")[0]
    if req.reason == pb.SKIP_REASON_UNSPECIFIED or req.reason not in pb.SkipReason.values():
        raise InvalidArgument(
            "a skip needs a reason", [FieldViolation("reason", "one of SkipReason")]
        )
    if len(req.note) > MAX_NOTE_CHARS:
        raise InvalidArgument(
            "note too long", [FieldViolation("note", f"at most {MAX_NOTE_CHARS} characters")]
        )
    return aid


class Leases:
    def __init__(
        self,
        store: EventStore,
        rm: ReadModels,
        clock: Clock = utc_now,
    ) -> None:
        self.store = store
        self.rm = rm
        self.clock = clock

    async def heartbeat(self, req: pb.HeartbeatRequest) -> pb.HeartbeatResponse:
        """Extends active, unexpired leases by the project's lease length. Heartbeats are not
        events: only what happens to a lease (assigned, expired, submitted, skipped) is."""
        ids = assignment_ids(req.assignment_ids, "assignment_ids")
        now = self.clock()
        principal, tenant = current_principal(), current_tenant()
        async with self.store.transaction() as conn:
            rows = await self.rm.assignments.with_config(conn, tenant, ids)
            found = {}
            for r in rows:
                refused = assignment_refusal(
                    principal, r["assignment_id"], r["vendor_id"], r["annotator_id"]
                )
                if refused is not None and refused.reason != "ASSIGNMENT_NOT_FOUND":
                    raise refused
                if refused is None:  # a vendor's lease is as missing to anyone else
                    found[r["assignment_id"]] = r
            check_assignments_found(principal, ids, len(found))
            out = []
            # One statement per lease length (a heartbeat's leases are mostly one project's).
            extend: dict[datetime, list[uuid.UUID]] = {}
            for aid in ids:
                r = found.get(aid)
                if r is None or not lease_active(r["state"], r["lease_expires"], now):
                    out.append(pb.LeaseStatus(assignment_id=str(aid), active=False))
                    continue
                config = rpb.WorkflowConfig.FromString(r["config"])
                expires = lease_expiry(now, config.lease_seconds)
                extend.setdefault(expires, []).append(aid)
                out.append(
                    pb.LeaseStatus(
                        assignment_id=str(aid), active=True, lease_expire_time=timestamp(expires)
                    )
                )
            for expires, extended in extend.items():
                await self.rm.assignments.extend(conn, tenant, extended, expires)
        return pb.HeartbeatResponse(leases=out)

    async def skip(self, req: pb.SkipTaskRequest) -> pb.SkipTaskResponse:
        aid = _check_skip(req)
        principal, tenant = current_principal(), current_tenant()
        async with self.store.transaction() as conn:
            rows = await self.rm.assignments.locked_with_tasks(conn, tenant, [aid])
            if not rows:
                raise missing_assignment(principal, aid)
            r = rows[0]
            check_assignment_access(principal, aid, r["vendor_id"], r["annotator_id"])
            state = skip_outcome(aid, r["a_state"], req.reason == pb.SKIP_REASON_RELEASE)
            await self.end_assignments(
                conn, tenant, rows, state.value, pb.SkipReason.Name(req.reason)
            )
            skipped = ev.TaskSkipped(
                project_id=r["project_id"],
                task_id=str(r["task_id"]),
                assignment_id=str(aid),
                annotator_id=r["annotator_id"],
                pool_id=r["a_pool_id"],
                reason=req.reason,
                note=req.note,
            )
            await self.store.append_streams(
                [
                    StreamAppend(
                        task_stream(r["project_id"], r["task_id"]),
                        r["stream_version"],
                        [NewEvent.of(skipped)],
                    )
                ],
                conn=conn,
            )
        return pb.SkipTaskResponse()

    async def end_assignments(
        self,
        conn: asyncpg.Connection,
        tenant: str,
        rows: Sequence[asyncpg.Record],
        state: str,
        reason: str,
    ) -> None:
        """Active → ``state`` (not submitted): the task needs that label from someone else.
        ``rows``: from ``locked_with_tasks``, one per task, all of ``tenant``."""
        await self.rm.assignments.end(
            conn, tenant, [r["assignment_id"] for r in rows], state, reason
        )
        await self.rm.tasks.write_counts(
            conn,
            tenant,
            [CountsUpdate(r["task_id"], counts_of(r).leases_ended()) for r in rows],
            self.clock(),
        )

    async def expire_leases(self, limit: int = 500) -> int:
        """Expire leases past their time; their tasks go back to the queue (for someone else:
        the annotator who let it lapse never gets the task again). Returns how many."""
        async with self.store.transaction() as conn:
            expired = await self.rm.assignments.expired_locked(conn, self.clock(), limit)
            if not expired:
                return 0
            per_tenant: dict[str, list[uuid.UUID]] = {}
            for tenant, aid in expired:
                per_tenant.setdefault(tenant, []).append(aid)
            appends: list[StreamAppend] = []
            for tenant, aids in sorted(per_tenant.items()):
                # One assignment per task per round keeps each task's stream version simple.
                by_task: dict[uuid.UUID, asyncpg.Record] = {}
                for r in await self.rm.assignments.locked_with_tasks(conn, tenant, aids):
                    by_task.setdefault(r["task_id"], r)
                rows = list(by_task.values())
                await self.end_assignments(conn, tenant, rows, "expired", "LEASE_EXPIRED")
                appends += [_expired(tenant, r) for r in rows]
            await self.store.append_streams(appends, conn=conn)
            return len(appends)

    async def queue_depth(self) -> dict[tuple[str, str, str], int]:
        """Open regular tasks per (tenant, pool, state), for the queue-depth gauge."""
        return await self.rm.tasks.queue_depth(self.store.pool)


def _expired(tenant: str, r: asyncpg.Record) -> StreamAppend:
    expired = ev.LeaseExpired(
        project_id=r["project_id"],
        task_id=str(r["task_id"]),
        assignment_id=str(r["assignment_id"]),
        annotator_id=r["annotator_id"],
        pool_id=r["a_pool_id"],
    )
    return StreamAppend(
        task_stream(r["project_id"], r["task_id"]),
        r["stream_version"],
        [NewEvent.of(expired, tenant_id=tenant, **SWEEPER)],
    )
