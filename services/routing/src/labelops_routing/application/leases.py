"""Leases after the claim: Heartbeat, SkipTask, and the sweeper that expires abandoned leases
so their tasks go to someone else (the annotator who let one lapse never gets it again)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg
from labelops.routing.v1 import events_pb2 as ev
from labelops.routing.v1 import routing_pb2 as rpb
from labelops.routing.v1 import workforce_pb2 as pb
from labelops_core.clock import Clock, utc_now
from labelops_core.context import current_principal
from labelops_core.errors import FieldViolation, InvalidArgument
from labelops_eventstore import EventStore, NewEvent
from labelops_eventstore.store import StreamAppend

from ..adapters.read_models import ReadModels
from ..adapters.tasks import CountsUpdate, counts_of
from ..domain.access import check_assignment_access, check_assignments_found, missing_assignment
from ..domain.leases import lease_active, lease_expiry, skip_outcome
from .common import task_stream, timestamp

MAX_IDS = 1000
MAX_NOTE_CHARS = 2000


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
        principal = current_principal()
        async with self.store.transaction() as conn:
            rows = await self.rm.assignments.with_config(conn, ids)
            for r in rows:
                check_assignment_access(principal, r["assignment_id"], r["vendor_id"])
            found = {r["assignment_id"]: r for r in rows}
            check_assignments_found(principal, ids, len(found))
            out = []
            for aid in ids:
                r = found.get(aid)
                if r is None or not lease_active(r["state"], r["lease_expires"], now):
                    out.append(pb.LeaseStatus(assignment_id=str(aid), active=False))
                    continue
                config = rpb.WorkflowConfig.FromString(r["config"])
                expires = lease_expiry(now, config.lease_seconds)
                await self.rm.assignments.extend(conn, aid, expires)
                out.append(
                    pb.LeaseStatus(
                        assignment_id=str(aid), active=True, lease_expire_time=timestamp(expires)
                    )
                )
        return pb.HeartbeatResponse(leases=out)

    async def skip(self, req: pb.SkipTaskRequest) -> pb.SkipTaskResponse:
        aid = _check_skip(req)
        principal = current_principal()
        async with self.store.transaction() as conn:
            rows = await self.rm.assignments.locked_with_tasks(conn, [aid])
            if not rows:
                raise missing_assignment(principal, aid)
            r = rows[0]
            check_assignment_access(principal, aid, r["vendor_id"])
            state = skip_outcome(aid, r["a_state"], req.reason == pb.SKIP_REASON_RELEASE)
            await self.end_assignments(conn, rows, state.value, pb.SkipReason.Name(req.reason))
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
        self, conn: asyncpg.Connection, rows: Sequence[asyncpg.Record], state: str, reason: str
    ) -> None:
        """Active → ``state`` (not submitted): the task needs that label from someone else.
        ``rows``: from ``locked_with_tasks``, one per task."""
        await self.rm.assignments.end(conn, [r["assignment_id"] for r in rows], state, reason)
        await self.rm.tasks.write_counts(
            conn,
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
            # One assignment per task per round keeps each task's stream version simple.
            by_task: dict[uuid.UUID, asyncpg.Record] = {}
            for r in await self.rm.assignments.locked_with_tasks(conn, expired):
                by_task.setdefault(r["task_id"], r)
            rows = list(by_task.values())
            await self.end_assignments(conn, rows, "expired", "LEASE_EXPIRED")
            await self.store.append_streams([_expired(r) for r in rows], conn=conn)
            return len(rows)

    async def queue_depth(self) -> dict[tuple[str, str], int]:
        """Open regular tasks per (pool, state), for the queue-depth gauge."""
        return await self.rm.tasks.queue_depth(self.store.pool)


def _expired(r: asyncpg.Record) -> StreamAppend:
    expired = ev.LeaseExpired(
        project_id=r["project_id"],
        task_id=str(r["task_id"]),
        assignment_id=str(r["assignment_id"]),
        annotator_id=r["annotator_id"],
        pool_id=r["a_pool_id"],
    )
    return StreamAppend(
        task_stream(r["project_id"], r["task_id"]), r["stream_version"], [NewEvent.of(expired)]
    )
