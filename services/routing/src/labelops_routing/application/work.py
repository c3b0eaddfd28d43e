"""Commands of WorkforceService: claim (lease) tasks, heartbeat, submit labels, skip; and the
lease sweeper that expires abandoned leases so their tasks go to someone else.

Who may do what: a vendor principal (API key with ``vendor_id``) works only pools whose
vendor id is its own and only assignments leased through them; anything else is
PERMISSION_DENIED, without saying whether the other vendor's task exists. Users work in-house
pools; managers and services may work any pool (tools acting for a team).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from labelops.labels.v1 import label_pb2
from labelops.routing.v1 import events_pb2 as ev
from labelops.routing.v1 import routing_pb2 as rpb
from labelops.routing.v1 import workforce_pb2 as pb
from labelops_core.context import current_principal
from labelops_core.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
)
from labelops_core.ids import uuid7
from labelops_eventstore import EventStore, NewEvent
from labelops_eventstore.store import StreamAppend, request_fingerprint
from labelops_ontologykit import OntologyCache

from ..adapters import metrics
from ..adapters.tables import Tables
from ..domain.overlap import is_gold_slot
from ..domain.tasks import TaskState, task_state
from .handlers import MAX_REQUEST_ID_CHARS, task_stream

MAX_IDS = 1000
MAX_NOTE_CHARS = 2000
MAX_TIME_SPENT_MS = 7 * 24 * 3600 * 1000


def _ts(dt: datetime) -> Any:
    from google.protobuf.timestamp_pb2 import Timestamp

    t = Timestamp()
    t.FromDatetime(dt)
    return t


def _vendor() -> str | None:
    p = current_principal()
    return p.vendor_id if p is not None and p.kind == "vendor" else None


def _check_pool_access(pool: asyncpg.Record) -> None:
    p = current_principal()
    if p is None:
        return
    if p.kind == "vendor":
        if pool["kind"] != "vendor" or pool["vendor_id"] != p.vendor_id:
            raise PermissionDenied(
                f"pool {pool['pool_id']} is not worked by vendor {p.vendor_id}",
                reason="POOL_NOT_YOURS",
            )
    elif pool["kind"] == "vendor" and not (p.has_role("manager") or p.kind == "service"):
        raise PermissionDenied(
            f"pool {pool['pool_id']} belongs to a vendor", reason="POOL_NOT_YOURS"
        )


def _check_assignment_access(row: asyncpg.Record) -> None:
    vendor = _vendor()
    if vendor is not None and row["vendor_id"] != vendor:
        # Same answer whether the assignment exists or not: a vendor learns nothing about
        # another vendor's work.
        raise PermissionDenied(
            f"assignment {row['assignment_id']} is not leased to vendor {vendor}",
            reason="NOT_YOUR_TASK",
        )


class WorkHandlers:
    def __init__(
        self,
        store: EventStore,
        tables: Tables,
        ontologies: OntologyCache,
        *,
        max_submissions: int = 1000,
        max_batch_bytes: int = 8 * 1024 * 1024,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.pool = store.pool
        self.t = tables
        self.ontologies = ontologies
        self.max_submissions = max_submissions
        self.max_batch_bytes = max_batch_bytes
        self._project_ontology: dict[str, tuple[str, str]] = {}
        self.clock = clock

    # --- claim ---------------------------------------------------------------------------------

    async def claim(self, req: pb.ClaimTasksRequest) -> pb.ClaimTasksResponse:
        bad = []
        if not req.pool_id:
            bad.append(FieldViolation("pool_id", "required"))
        if not req.annotator_id:
            bad.append(FieldViolation("annotator_id", "required"))
        if req.max_tasks < 1:
            bad.append(FieldViolation("max_tasks", "at least 1"))
        if bad:
            raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
        async with self.store.transaction() as conn:
            pool = await conn.fetchrow(
                f"SELECT * FROM {self.t.pools} WHERE pool_id = $1", req.pool_id
            )
            if pool is None:
                if _vendor() is not None:
                    raise PermissionDenied(
                        f"pool {req.pool_id} is not worked by vendor {_vendor()}",
                        reason="POOL_NOT_YOURS",
                    )
                raise NotFound(f"pool {req.pool_id} not found", reason="POOL_NOT_FOUND")
            _check_pool_access(pool)
            if not pool["active"]:
                raise FailedPrecondition(f"pool {req.pool_id} is paused", reason="POOL_INACTIVE")
            annotator = await conn.fetchrow(
                f"SELECT * FROM {self.t.annotators} WHERE annotator_id = $1", req.annotator_id
            )
            if annotator is None or annotator["pool_id"] != req.pool_id:
                raise FailedPrecondition(
                    f"annotator {req.annotator_id} is not registered in pool {req.pool_id}",
                    reason="ANNOTATOR_NOT_IN_POOL",
                )
            if not annotator["active"]:
                raise FailedPrecondition(
                    f"annotator {req.annotator_id} is inactive", reason="ANNOTATOR_INACTIVE"
                )
            project_id = req.project_id or await conn.fetchval(
                f"SELECT project_id FROM {self.t.tasks} WHERE pool_id = $1 AND state = 'queued'"
                " AND NOT gold ORDER BY priority DESC, due_at NULLS LAST, created_at LIMIT 1",
                req.pool_id,
            )
            if not project_id:
                return pb.ClaimTasksResponse()
            project = await conn.fetchrow(
                f"SELECT * FROM {self.t.projects} WHERE project_id = $1", project_id
            )
            if project is None:
                raise NotFound(f"project {project_id} not found", reason="PROJECT_NOT_FOUND")
            config = rpb.WorkflowConfig.FromString(project["config"])
            n = min(req.max_tasks, config.max_tasks_per_claim)
            seq = (
                await conn.fetchval(
                    f"SELECT offers FROM {self.t.offer_counters}"
                    " WHERE project_id = $1 AND annotator_id = $2 FOR UPDATE",
                    project_id,
                    req.annotator_id,
                )
                or 0
            )
            gold_slots = [
                is_gold_slot(config.gold_rate, project_id, req.annotator_id, seq + i)
                for i in range(n)
            ]
            skills = list(annotator["skills"])
            regular = await conn.fetch(
                f"SELECT * FROM {self.t.tasks} t WHERE project_id = $1 AND pool_id = $2"
                " AND state = 'queued' AND NOT gold"
                " AND (cardinality($4::text[]) = 0 OR class_id = '' OR class_id = ANY($4))"
                f" AND NOT EXISTS (SELECT 1 FROM {self.t.assignments} a"
                "   WHERE a.task_id = t.task_id AND a.annotator_id = $3)"
                " ORDER BY priority DESC, due_at NULLS LAST, created_at"
                " LIMIT $5 FOR UPDATE SKIP LOCKED",
                project_id,
                req.pool_id,
                req.annotator_id,
                skills,
                n - sum(gold_slots),
            )
            gold = []
            if any(gold_slots):
                # Random order so workers cannot learn gold items by position.
                gold = await conn.fetch(
                    f"SELECT * FROM {self.t.tasks} t WHERE project_id = $1 AND gold"
                    f" AND NOT EXISTS (SELECT 1 FROM {self.t.assignments} a"
                    "   WHERE a.task_id = t.task_id AND a.annotator_id = $2)"
                    " ORDER BY random() LIMIT $3 FOR UPDATE SKIP LOCKED",
                    project_id,
                    req.annotator_id,
                    sum(gold_slots),
                )
            # Interleave at the drawn slots; a short supply of either kind is not filled with
            # the other (an all-gold claim on an empty queue would give gold away).
            picked: list[asyncpg.Record] = []
            ri, gi = iter(regular), iter(gold)
            for is_gold in gold_slots:
                task = next(gi if is_gold else ri, None)
                if task is not None:
                    picked.append(task)
            if not picked:
                return pb.ClaimTasksResponse()
            now = self.clock()
            expires = now + timedelta(seconds=config.lease_seconds)
            offers = []
            appends = []
            assignment_rows = []
            for task in picked:
                aid = uuid7()
                appends.append(
                    StreamAppend(
                        task_stream(project_id, task["task_id"]),
                        task["stream_version"],
                        [
                            NewEvent.of(
                                ev.TaskAssigned(
                                    project_id=project_id,
                                    task_id=str(task["task_id"]),
                                    assignment_id=str(aid),
                                    annotator_id=req.annotator_id,
                                    pool_id=req.pool_id,
                                    vendor_id=pool["vendor_id"],
                                    lease_expire_time=_ts(expires),
                                )
                            )
                        ],
                    )
                )
                offer = pb.TaskOffer(
                    assignment_id=str(aid),
                    task_id=str(task["task_id"]),
                    project_id=project_id,
                    item_id=task["item_id"],
                    item_uri=task["item_uri"],
                    modality=task["modality"],
                    item=label_pb2.ItemContext.FromString(task["context"]),
                    ontology_id=project["ontology_id"],
                    ontology_version=project["ontology_version"],
                    lease_expire_time=_ts(expires),
                    annotator_id=req.annotator_id,
                )
                if config.prelabels_enabled and task["prelabels"]:
                    offer.prelabels.extend(
                        label_pb2.ItemLabels.FromString(task["prelabels"]).labels
                    )
                # The model whose pre-labels this offer shows: LabelSubmitted credits it,
                # whatever reaches the task (or the project's config) while it is leased.
                shown = len(offer.prelabels) > 0
                assignment_rows.append(
                    (
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
                    )
                )
                offers.append(offer)
            await conn.executemany(
                f"INSERT INTO {self.t.assignments} (assignment_id, task_id, project_id,"
                " annotator_id, pool_id, vendor_id, state, lease_expires, created_at,"
                " prelabel_model, prelabel_model_version)"
                " VALUES ($1,$2,$3,$4,$5,$6,'active',$7,$8,$9,$10)",
                assignment_rows,
            )
            await conn.execute(
                f"UPDATE {self.t.tasks} SET active = active + 1,"
                " state = CASE WHEN gold THEN state WHEN submitted + active + 1 >= required"
                " THEN 'in_progress' ELSE 'queued' END,"
                " stream_version = stream_version + 1, updated_at = $2"
                " WHERE task_id = ANY($1::uuid[])",
                [t["task_id"] for t in picked],
                now,
            )
            await conn.execute(
                f"INSERT INTO {self.t.offer_counters} VALUES ($1, $2, $3)"
                " ON CONFLICT (project_id, annotator_id) DO UPDATE SET offers = EXCLUDED.offers",
                project_id,
                req.annotator_id,
                seq + n,
            )
            await self.store.append_streams(appends, conn=conn)
        metrics.tasks_offered.add(len(offers), {"pool": req.pool_id})
        return pb.ClaimTasksResponse(offers=offers)

    async def queue_depth(self) -> dict[tuple[str, str], int]:
        """Open regular tasks per (pool, state), for the queue-depth gauge."""
        rows = await self.pool.fetch(
            f"SELECT pool_id, state, count(*) AS n FROM {self.t.tasks}"
            " WHERE state IN ('queued', 'in_progress') AND NOT gold GROUP BY pool_id, state"
        )
        return {(r["pool_id"], r["state"]): r["n"] for r in rows}

    # --- heartbeat / skip ------------------------------------------------------------------------

    def _assignment_ids(self, ids: Sequence[str], field: str) -> list[uuid.UUID]:
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

    async def heartbeat(self, req: pb.HeartbeatRequest) -> pb.HeartbeatResponse:
        """Extends active, unexpired leases by the project's lease length. Heartbeats are not
        events: only what happens to a lease (assigned, expired, submitted, skipped) is."""
        ids = self._assignment_ids(req.assignment_ids, "assignment_ids")
        now = self.clock()
        async with self.store.transaction() as conn:
            rows = await conn.fetch(
                f"SELECT a.*, p.config FROM {self.t.assignments} a"
                f" JOIN {self.t.projects} p USING (project_id)"
                " WHERE assignment_id = ANY($1::uuid[])",
                ids,
            )
            for r in rows:
                _check_assignment_access(r)
            found = {r["assignment_id"]: r for r in rows}
            if _vendor() is not None and len(found) < len(set(ids)):
                raise PermissionDenied(
                    "some assignments are not leased to you", reason="NOT_YOUR_TASK"
                )
            out = []
            for aid in ids:
                r = found.get(aid)
                if r is None or r["state"] != "active" or r["lease_expires"] < now:
                    out.append(pb.LeaseStatus(assignment_id=str(aid), active=False))
                    continue
                lease = rpb.WorkflowConfig.FromString(r["config"]).lease_seconds
                expires = now + timedelta(seconds=lease)
                await conn.execute(
                    f"UPDATE {self.t.assignments} SET lease_expires = $2 WHERE assignment_id = $1",
                    aid,
                    expires,
                )
                out.append(
                    pb.LeaseStatus(
                        assignment_id=str(aid), active=True, lease_expire_time=_ts(expires)
                    )
                )
        return pb.HeartbeatResponse(leases=out)

    async def skip(self, req: pb.SkipTaskRequest) -> pb.SkipTaskResponse:
        aid = self._assignment_ids([req.assignment_id], "assignment_id")[0]
        if req.reason == pb.SKIP_REASON_UNSPECIFIED or req.reason not in pb.SkipReason.values():
            raise InvalidArgument(
                "a skip needs a reason", [FieldViolation("reason", "one of SkipReason")]
            )
        if len(req.note) > MAX_NOTE_CHARS:
            raise InvalidArgument(
                "note too long", [FieldViolation("note", f"at most {MAX_NOTE_CHARS} characters")]
            )
        async with self.store.transaction() as conn:
            row = await self._locked_assignments(conn, [aid])
            if not row:
                if _vendor() is not None:
                    raise PermissionDenied("assignment not leased to you", reason="NOT_YOUR_TASK")
                raise NotFound(f"assignment {aid} not found", reason="ASSIGNMENT_NOT_FOUND")
            r = row[0]
            _check_assignment_access(r)
            if r["a_state"] != "active":
                raise FailedPrecondition(
                    f"assignment {aid} is {r['a_state']}", reason="ASSIGNMENT_NOT_ACTIVE"
                )
            state = "released" if req.reason == pb.SKIP_REASON_RELEASE else "skipped"
            await self._end_assignments(conn, [r], state, reason=pb.SkipReason.Name(req.reason))
            await self.store.append_streams(
                [
                    StreamAppend(
                        task_stream(r["project_id"], r["task_id"]),
                        r["stream_version"],
                        [
                            NewEvent.of(
                                ev.TaskSkipped(
                                    project_id=r["project_id"],
                                    task_id=str(r["task_id"]),
                                    assignment_id=str(aid),
                                    annotator_id=r["annotator_id"],
                                    pool_id=r["a_pool_id"],
                                    reason=req.reason,
                                    note=req.note,
                                )
                            )
                        ],
                    )
                ],
                conn=conn,
            )
        return pb.SkipTaskResponse()

    async def _locked_assignments(
        self, conn: asyncpg.Connection, ids: Sequence[uuid.UUID]
    ) -> list[asyncpg.Record]:
        """Assignments with their tasks, both locked, in task order (no deadlocks between
        batches that share tasks)."""
        return list(
            await conn.fetch(
                f"SELECT a.assignment_id, a.annotator_id, a.pool_id AS a_pool_id, a.vendor_id,"
                " a.state AS a_state, a.lease_expires, a.prelabel_model AS offered_model,"
                " a.prelabel_model_version AS offered_model_version, t.*"
                f" FROM {self.t.assignments} a JOIN {self.t.tasks} t USING (task_id)"
                " WHERE a.assignment_id = ANY($1::uuid[])"
                " ORDER BY t.task_id, a.assignment_id FOR UPDATE",
                list(ids),
            )
        )

    async def _end_assignments(
        self,
        conn: asyncpg.Connection,
        rows: Sequence[asyncpg.Record],
        state: str,
        *,
        reason: str = "",
    ) -> None:
        """Active → ``state`` (not submitted): the task needs that label from someone else."""
        await conn.execute(
            f"UPDATE {self.t.assignments} SET state = $2, reason = $3"
            " WHERE assignment_id = ANY($1::uuid[])",
            [r["assignment_id"] for r in rows],
            state,
            reason,
        )
        await conn.execute(
            f"UPDATE {self.t.tasks} t SET active = t.active - x.n,"
            " state = CASE WHEN t.gold OR t.state IN ('labeled', 'canceled') THEN t.state"
            "   ELSE 'queued' END,"
            " stream_version = t.stream_version + x.n, updated_at = $2"
            " FROM (SELECT unnest($1::uuid[]) AS task_id, 1 AS n) x WHERE t.task_id = x.task_id",
            [r["task_id"] for r in rows],
            self.clock(),
        )

    # --- lease expiry --------------------------------------------------------------------------

    async def expire_leases(self, limit: int = 500) -> int:
        """Expire leases past their time; their tasks go back to the queue (for someone else:
        the annotator who let it lapse never gets the task again). Returns how many."""
        async with self.store.transaction() as conn:
            expired = await conn.fetch(
                f"SELECT a.assignment_id FROM {self.t.assignments} a"
                " WHERE a.state = 'active' AND a.lease_expires < $1"
                " ORDER BY a.task_id LIMIT $2 FOR UPDATE SKIP LOCKED",
                self.clock(),
                limit,
            )
            if not expired:
                return 0
            rows = await self._locked_assignments(conn, [r["assignment_id"] for r in expired])
            # One assignment per task per round keeps each task's stream version simple.
            by_task: dict[uuid.UUID, asyncpg.Record] = {}
            for r in rows:
                by_task.setdefault(r["task_id"], r)
            rows = list(by_task.values())
            await self._end_assignments(conn, rows, "expired", reason="LEASE_EXPIRED")
            await self.store.append_streams(
                [
                    StreamAppend(
                        task_stream(r["project_id"], r["task_id"]),
                        r["stream_version"],
                        [
                            NewEvent.of(
                                ev.LeaseExpired(
                                    project_id=r["project_id"],
                                    task_id=str(r["task_id"]),
                                    assignment_id=str(r["assignment_id"]),
                                    annotator_id=r["annotator_id"],
                                    pool_id=r["a_pool_id"],
                                )
                            )
                        ],
                    )
                    for r in rows
                ],
                conn=conn,
            )
            return len(rows)

    async def _ontology_of(self, conn: asyncpg.Connection, project_id: str) -> tuple[str, str]:
        """A project's ontology version; fixed at creation, so cached for the process."""
        if (hit := self._project_ontology.get(project_id)) is None:
            row = await conn.fetchrow(
                f"SELECT ontology_id, ontology_version FROM {self.t.projects}"
                " WHERE project_id = $1",
                project_id,
            )
            hit = self._project_ontology[project_id] = (row[0], row[1])
        return hit

    # --- submit --------------------------------------------------------------------------------

    async def submit(self, req: pb.SubmitLabelsRequest) -> pb.SubmitLabelsResponse:
        """All or nothing: every submission is checked (ownership, lease, item, ontology)
        before anything is written; one bad submission rejects the batch with every problem."""
        if (size := req.ByteSize()) > self.max_batch_bytes:
            raise ResourceExhausted(
                f"label batch of {size} bytes; at most {self.max_batch_bytes}: split it",
                reason="BATCH_TOO_LARGE",
                metadata={"max_batch_bytes": str(self.max_batch_bytes)},
            )
        if not req.request_id or len(req.request_id) > MAX_REQUEST_ID_CHARS:
            raise InvalidArgument(
                "a submission batch needs a request id",
                [FieldViolation("request_id", f"1..{MAX_REQUEST_ID_CHARS} characters")],
            )
        if not req.submissions:
            raise InvalidArgument(
                "no submissions", [FieldViolation("submissions", "give at least one")]
            )
        if len(req.submissions) > self.max_submissions:
            raise ResourceExhausted(
                f"{len(req.submissions)} submissions in one batch; at most {self.max_submissions}",
                reason="TOO_MANY_SUBMISSIONS",
            )
        fp = request_fingerprint("SubmitLabels", req.SerializeToString(deterministic=True))
        earlier = await self.store.earlier_response(req.request_id, fp, pb.SubmitLabelsResponse)
        if earlier is not None:
            return earlier
        bad: list[FieldViolation] = []
        ids: list[uuid.UUID] = []
        for i, s in enumerate(req.submissions):
            try:
                ids.append(uuid.UUID(s.assignment_id))
            except ValueError:
                bad.append(FieldViolation(f"submissions[{i}].assignment_id", "not an id"))
                ids.append(uuid.UUID(int=0))
            if s.time_spent_ms < 0 or s.time_spent_ms > MAX_TIME_SPENT_MS:
                bad.append(FieldViolation(f"submissions[{i}].time_spent_ms", "0..7 days"))
            if len(s.note) > MAX_NOTE_CHARS:
                bad.append(FieldViolation(f"submissions[{i}].note", "at most 2000 characters"))
            if s.prelabel_outcome not in pb.PrelabelOutcome.values():
                bad.append(FieldViolation(f"submissions[{i}].prelabel_outcome", "unknown"))
        seen: dict[uuid.UUID, int] = {}
        for i, aid in enumerate(ids):
            if aid in seen and aid.int:
                bad.append(
                    FieldViolation(
                        f"submissions[{i}].assignment_id",
                        f"same assignment as submissions[{seen[aid]}]",
                    )
                )
            seen.setdefault(aid, i)
        if bad:
            raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
        now = self.clock()
        async with self.store.transaction() as conn:
            rows = {r["assignment_id"]: r for r in await self._locked_assignments(conn, ids)}
            vendor = _vendor()
            # Authorization first, for the whole batch: another vendor's (or a missing)
            # assignment is PERMISSION_DENIED for a vendor, NOT_FOUND for others.
            for i, aid in enumerate(ids):
                r = rows.get(aid)
                if r is None:
                    if vendor is not None:
                        raise PermissionDenied(
                            f"submissions[{i}]: assignment not leased to vendor {vendor}",
                            reason="NOT_YOUR_TASK",
                            metadata={"submission_index": str(i)},
                        )
                    raise NotFound(
                        f"submissions[{i}]: assignment {aid} not found",
                        reason="ASSIGNMENT_NOT_FOUND",
                        metadata={"submission_index": str(i)},
                    )
                _check_assignment_access(r)
            # Content next: items and labels against the project's ontology version.
            projects: dict[str, tuple[str, str]] = {}
            items: list[label_pb2.ItemLabels] = []
            for i, (s, aid) in enumerate(zip(req.submissions, ids, strict=True)):
                r = rows[aid]
                if s.labels.item_id != r["item_id"]:
                    bad.append(
                        FieldViolation(
                            f"submissions[{i}].labels.item_id",
                            f"the task's item is {r['item_id']!r}",
                        )
                    )
                labels = label_pb2.ItemLabels()
                labels.CopyFrom(s.labels)
                # Bounds are checked against what routing knows of the item, not the client.
                labels.item.CopyFrom(label_pb2.ItemContext.FromString(r["context"]))
                items.append(labels)
                if r["project_id"] not in projects:
                    projects[r["project_id"]] = await self._ontology_of(conn, r["project_id"])
            by_version: dict[tuple[str, str], list[int]] = {}
            for i, aid in enumerate(ids):
                by_version.setdefault(projects[rows[aid]["project_id"]], []).append(i)
            for (oid, version), idx in by_version.items():
                compiled = await self.ontologies.get(oid, version)
                for issue in compiled.validate_items([items[i] for i in idx]):
                    i = idx[issue.item_index]
                    where = f"labels[{issue.label_index}]." if issue.label_index >= 0 else ""
                    bad.append(
                        FieldViolation(
                            f"submissions[{i}].labels.{where}{issue.field}",
                            f"{issue.reason}: {issue.description}",
                        )
                    )
            if bad:
                raise InvalidArgument(f"{len(bad)} invalid label field(s)", bad)
            # State last: a lease that ended cannot be submitted against.
            for i, aid in enumerate(ids):
                r = rows[aid]
                if r["a_state"] != "active" or r["lease_expires"] < now:
                    state = r["a_state"] if r["a_state"] != "active" else "expired"
                    raise FailedPrecondition(
                        f"submissions[{i}]: the lease of assignment {aid} is {state}",
                        reason="LEASE_EXPIRED" if state == "expired" else "ASSIGNMENT_NOT_ACTIVE",
                        metadata={"submission_index": str(i), "assignment_id": str(aid)},
                    )
            resp = await self._write_labels(conn, req, fp, ids, rows, projects, items, now)
        pools = Counter(rows[a]["a_pool_id"] for a in ids)
        for pool_id, n in pools.items():
            metrics.labels_accepted.add(n, {"pool": pool_id})
        return resp

    async def _write_labels(
        self,
        conn: asyncpg.Connection,
        req: pb.SubmitLabelsRequest,
        fp: str,
        ids: list[uuid.UUID],
        rows: dict[uuid.UUID, asyncpg.Record],
        projects: dict[str, tuple[str, str]],
        items: list[label_pb2.ItemLabels],
        now: datetime,
    ) -> pb.SubmitLabelsResponse:
        per_task: dict[uuid.UUID, list[NewEvent]] = {}
        task_rows: dict[uuid.UUID, asyncpg.Record] = {}
        submitted_now: dict[uuid.UUID, int] = {}
        for aid in ids:
            tid = rows[aid]["task_id"]
            task_rows[tid] = rows[aid]
            submitted_now[tid] = submitted_now.get(tid, 0) + 1
        # Tasks this batch completes; for those with earlier labels, who gave them (one round
        # trip for the whole batch, before this batch's assignments are marked submitted).
        completing = {
            tid
            for tid, n in submitted_now.items()
            if not task_rows[tid]["gold"]
            and task_rows[tid]["state"] != "labeled"
            and task_state(
                task_rows[tid]["required"],
                task_rows[tid]["submitted"] + n,
                task_rows[tid]["active"] - n,
            )
            is TaskState.LABELED
        }
        earlier_by: dict[uuid.UUID, list[str]] = {}
        if with_earlier := [t for t in completing if task_rows[t]["submitted"] > 0]:
            earlier_by = {
                r["task_id"]: list(r["annotators"])
                for r in await conn.fetch(
                    f"SELECT task_id, array_agg(annotator_id ORDER BY created_at) AS annotators"
                    f" FROM {self.t.assignments} WHERE task_id = ANY($1::uuid[])"
                    " AND state = 'submitted' GROUP BY task_id",
                    with_earlier,
                )
            }
        count: dict[uuid.UUID, int] = {}
        accepted = []
        for s, aid, labels in zip(req.submissions, ids, items, strict=True):
            r = rows[aid]
            ontology_id, ontology_version = projects[r["project_id"]]
            tid = r["task_id"]
            count[tid] = count.get(tid, 0) + 1
            n_now = r["submitted"] + count[tid]
            done = tid in completing and count[tid] == submitted_now[tid]
            annotators: list[str] = []
            if done:
                annotators = (
                    earlier_by.get(tid, [])
                    + [rows[a]["annotator_id"] for a in ids if rows[a]["task_id"] == tid]
                    if submitted_now[tid] > 1
                    else [*earlier_by.get(tid, []), r["annotator_id"]]
                )
            e = NewEvent.of(
                ev.LabelSubmitted(
                    project_id=r["project_id"],
                    task_id=str(tid),
                    item_id=r["item_id"],
                    assignment_id=str(aid),
                    annotator_id=r["annotator_id"],
                    pool_id=r["a_pool_id"],
                    vendor_id=r["vendor_id"],
                    ontology_id=ontology_id,
                    ontology_version=ontology_version,
                    labels=labels,
                    time_spent_ms=s.time_spent_ms,
                    prelabel_outcome=s.prelabel_outcome or pb.PRELABEL_OUTCOME_NONE,
                    note=s.note,
                    gold=r["gold"],
                    submit_request_id=req.request_id,
                    required_labels=r["required"],
                    labels_submitted=n_now,
                    task_labeled=done,
                    annotator_ids=annotators,
                    prelabel_model=r["offered_model"],
                    prelabel_model_version=r["offered_model_version"],
                ),
                event_id=uuid7(),
            )
            per_task.setdefault(tid, []).append(e)
            accepted.append(
                pb.AcceptedLabel(assignment_id=str(aid), task_id=str(tid), event_id=str(e.event_id))
            )
        resp = pb.SubmitLabelsResponse(accepted=accepted)
        tids = list(submitted_now)
        # Assignments and their tasks in one round trip.
        await conn.execute(
            f"WITH a AS (UPDATE {self.t.assignments} SET state = 'submitted'"
            " WHERE assignment_id = ANY($5::uuid[]))"
            f" UPDATE {self.t.tasks} t SET submitted = t.submitted + x.n,"
            " active = t.active - x.n,"
            " state = CASE WHEN t.gold THEN t.state"
            "   WHEN t.submitted + x.n >= t.required THEN 'labeled'"
            "   WHEN t.submitted + t.active >= t.required THEN 'in_progress' ELSE 'queued' END,"
            " stream_version = t.stream_version + x.e, updated_at = $4"
            " FROM unnest($1::uuid[], $2::int[], $3::int[]) AS x(task_id, n, e)"
            " WHERE t.task_id = x.task_id",
            tids,
            [submitted_now[t] for t in tids],
            [len(per_task[t]) for t in tids],
            now,
            ids,
        )
        await self.store.append_streams(
            [
                StreamAppend(
                    task_stream(task_rows[t]["project_id"], t),
                    task_rows[t]["stream_version"],
                    per_task[t],
                )
                for t in tids
            ],
            request_id=req.request_id,
            fingerprint=fp,
            response=resp.SerializeToString(),
            conn=conn,
        )
        return resp
