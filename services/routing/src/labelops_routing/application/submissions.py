"""SubmitLabels (WorkforceService, and the ``submit`` of the Work stream): the hot path.

All or nothing: every submission is checked (ownership, item, labels against the project's
ontology version, lease) before anything is written; one bad submission rejects the batch with
every problem. Everything is of the caller's tenant (another tenant's assignment is a missing
one); ownership is ``domain.access.submission_refusal`` (a vendor's assignments only by that
vendor, an annotator principal's only its own). A batch is one transaction of a few
statements whatever its size: the locked assignment + task rows in one read, the ontology
checks in-process, the assignments and task counters (``TaskCounts.labels_submitted``) in one
write, the events in one append.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
from labelops.labels.v1 import label_pb2
from labelops.routing.v1 import events_pb2 as ev
from labelops.routing.v1 import workforce_pb2 as pb
from labelops_core.clock import Clock, utc_now
from labelops_core.context import current_principal, current_tenant
from labelops_core.errors import FieldViolation, InvalidArgument, ResourceExhausted
from labelops_core.ids import uuid7
from labelops_eventstore import Command, EventStore, NewEvent
from labelops_eventstore.store import StreamAppend
from labelops_ontologykit import OntologyVersions

from ..adapters import metrics
from ..adapters.read_models import ReadModels
from ..adapters.tasks import CountsUpdate, counts_of
from ..domain.access import missing_submission, submission_refusal
from ..domain.leases import submit_refusal
from ..domain.tasks import TaskCounts
from .common import MAX_REQUEST_ID_CHARS, task_stream

MAX_NOTE_CHARS = 2000
MAX_TIME_SPENT_MS = 7 * 24 * 3600 * 1000


@dataclass
class _Batch:
    """A checked batch: its assignment ids, their locked rows, the labels to record."""

    tenant: str
    ids: list[uuid.UUID]
    rows: dict[uuid.UUID, asyncpg.Record]
    #: project id → (ontology id, version).
    projects: dict[str, tuple[str, str]] = field(default_factory=dict)
    items: list[label_pb2.ItemLabels] = field(default_factory=list)


@dataclass
class _TaskRound:
    """One task of the batch: its locked counts, its labels in this batch, its events."""

    row: asyncpg.Record
    before: TaskCounts
    #: This batch's annotators of the task, in submission order.
    annotators: list[str] = field(default_factory=list)
    events: list[NewEvent] = field(default_factory=list)
    #: Whether this batch completes the task (set once the batch is counted).
    completing: bool = False
    #: Who labeled it before this batch (tasks this batch completes, that had labels).
    earlier: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.annotators)


def _check_fields(req: pb.SubmitLabelsRequest) -> list[uuid.UUID]:
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
    return ids


class Submissions:
    def __init__(
        self,
        store: EventStore,
        rm: ReadModels,
        ontologies: OntologyVersions,
        *,
        max_submissions: int = 1000,
        max_batch_bytes: int = 8 * 1024 * 1024,
        clock: Clock = utc_now,
    ) -> None:
        self.store = store
        self.rm = rm
        self.ontologies = ontologies
        self.max_submissions = max_submissions
        self.max_batch_bytes = max_batch_bytes
        self.clock = clock
        #: (tenant, project id) → its ontology version: fixed at creation, so cached for the
        #: process.
        self._project_ontology: dict[tuple[str, str], tuple[str, str]] = {}

    async def submit(self, req: pb.SubmitLabelsRequest) -> pb.SubmitLabelsResponse:
        self._check_size(req)
        cmd = await self.store.command(
            "SubmitLabels", req, pb.SubmitLabelsResponse, max_chars=MAX_REQUEST_ID_CHARS
        )
        if cmd.earlier is not None:
            return cmd.earlier
        ids = _check_fields(req)
        now = self.clock()
        tenant = current_tenant()
        async with self.store.transaction() as conn:
            rows = {
                r["assignment_id"]: r
                for r in await self.rm.assignments.locked_with_tasks(conn, tenant, ids)
            }
            batch = _Batch(tenant, ids, rows)
            self._authorize(batch)
            await self._check_labels(conn, req, batch)
            # State last: a lease that ended cannot be submitted against.
            for i, aid in enumerate(ids):
                r = rows[aid]
                if refused := submit_refusal(i, aid, r["a_state"], r["lease_expires"], now):
                    raise refused
            resp = await self._write_labels(conn, req, cmd, batch, now)
        for pool_id, n in Counter(rows[a]["a_pool_id"] for a in ids).items():
            metrics.labels_accepted.add(n, {"pool": pool_id})
        return resp

    def _check_size(self, req: pb.SubmitLabelsRequest) -> None:
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

    @staticmethod
    def _authorize(batch: _Batch) -> None:
        """Authorization first, for the whole batch: another vendor's (or a missing)
        assignment is PERMISSION_DENIED for a vendor, NOT_FOUND for others (a vendor's
        assignment too); another annotator's is ANNOTATOR_MISMATCH for an annotator."""
        principal = current_principal()
        for i, aid in enumerate(batch.ids):
            r = batch.rows.get(aid)
            if r is None:
                raise missing_submission(principal, i, aid)
            refused = submission_refusal(principal, i, aid, r["vendor_id"], r["annotator_id"])
            if refused is not None:
                raise refused

    async def _check_labels(
        self, conn: asyncpg.Connection, req: pb.SubmitLabelsRequest, batch: _Batch
    ) -> None:
        """Content next: items and labels against the project's ontology version."""
        bad: list[FieldViolation] = []
        for i, (s, aid) in enumerate(zip(req.submissions, batch.ids, strict=True)):
            r = batch.rows[aid]
            if s.labels.item_id != r["item_id"]:
                bad.append(
                    FieldViolation(
                        f"submissions[{i}].labels.item_id", f"the task's item is {r['item_id']!r}"
                    )
                )
            labels = label_pb2.ItemLabels()
            labels.CopyFrom(s.labels)
            # Bounds are checked against what routing knows of the item, not the client.
            labels.item.CopyFrom(label_pb2.ItemContext.FromString(r["context"]))
            batch.items.append(labels)
            if r["project_id"] not in batch.projects:
                batch.projects[r["project_id"]] = await self._ontology_of(
                    conn, batch.tenant, r["project_id"]
                )
        by_version: dict[tuple[str, str], list[int]] = {}
        for i, aid in enumerate(batch.ids):
            by_version.setdefault(batch.projects[batch.rows[aid]["project_id"]], []).append(i)
        for (oid, version), idx in by_version.items():
            compiled = await self.ontologies.get(oid, version, tenant=batch.tenant)
            for issue in compiled.validate_items([batch.items[i] for i in idx]):
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

    async def _ontology_of(
        self, conn: asyncpg.Connection, tenant: str, project_id: str
    ) -> tuple[str, str]:
        if (hit := self._project_ontology.get((tenant, project_id))) is None:
            found = await self.rm.projects.ontology_of(conn, tenant, project_id)
            assert found is not None  # a task's project exists (foreign key)
            hit = self._project_ontology[(tenant, project_id)] = found
        return hit

    async def _write_labels(
        self,
        conn: asyncpg.Connection,
        req: pb.SubmitLabelsRequest,
        cmd: Command[pb.SubmitLabelsResponse],
        batch: _Batch,
        now: datetime,
    ) -> pb.SubmitLabelsResponse:
        tasks = await self._rounds(conn, batch)
        seen: Counter[uuid.UUID] = Counter()
        accepted = []
        for s, aid, labels in zip(req.submissions, batch.ids, batch.items, strict=True):
            r = batch.rows[aid]
            t = tasks[r["task_id"]]
            seen[r["task_id"]] += 1
            e = NewEvent.of(
                self._submitted(req, s, r, labels, batch, t, seen[r["task_id"]]), event_id=uuid7()
            )
            t.events.append(e)
            accepted.append(
                pb.AcceptedLabel(
                    assignment_id=str(aid), task_id=str(r["task_id"]), event_id=str(e.event_id)
                )
            )
        resp = pb.SubmitLabelsResponse(accepted=accepted)
        # Assignments and their tasks in one round trip.
        await self.rm.tasks.write_counts(
            conn,
            batch.tenant,
            [
                CountsUpdate(tid, t.before.labels_submitted(t.n), len(t.events))
                for tid, t in tasks.items()
            ],
            now,
            submitted=batch.ids,
        )
        await self.store.append_streams(
            [
                StreamAppend(
                    task_stream(t.row["project_id"], tid), t.row["stream_version"], t.events
                )
                for tid, t in tasks.items()
            ],
            conn=conn,
            **cmd.recording(resp),
        )
        return resp

    async def _rounds(self, conn: asyncpg.Connection, batch: _Batch) -> dict[uuid.UUID, _TaskRound]:
        """The batch per task, in first-submission order; for the tasks it completes that had
        labels before, who gave them (one round trip for the whole batch, before this batch's
        assignments are marked submitted)."""
        tasks: dict[uuid.UUID, _TaskRound] = {}
        for aid in batch.ids:
            r = batch.rows[aid]
            t = tasks.get(r["task_id"])
            if t is None:
                t = tasks[r["task_id"]] = _TaskRound(r, counts_of(r))
            t.annotators.append(r["annotator_id"])
        for t in tasks.values():
            t.completing = t.before.completed_by(t.n)
        if with_earlier := [
            tid for tid, t in tasks.items() if t.completing and t.before.submitted > 0
        ]:
            earlier = await self.rm.assignments.submitted_by(conn, batch.tenant, with_earlier)
            for tid in with_earlier:
                tasks[tid].earlier = earlier.get(tid, [])
        return tasks

    @staticmethod
    def _submitted(
        req: pb.SubmitLabelsRequest,
        s: pb.LabelSubmission,
        r: asyncpg.Record,
        labels: label_pb2.ItemLabels,
        batch: _Batch,
        t: _TaskRound,
        k: int,
    ) -> ev.LabelSubmitted:
        """The event of the ``k``-th label of task ``t`` in this batch."""
        ontology_id, ontology_version = batch.projects[r["project_id"]]
        done = t.completing and k == t.n
        # Everyone who labeled it, when this label completes it: earlier batches, then this
        # batch in submission order.
        annotators = t.earlier + t.annotators if done else []
        return ev.LabelSubmitted(
            project_id=r["project_id"],
            task_id=str(r["task_id"]),
            item_id=r["item_id"],
            assignment_id=str(r["assignment_id"]),
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
            labels_submitted=r["submitted"] + k,
            task_labeled=done,
            annotator_ids=annotators,
            prelabel_model=r["offered_model"],
            prelabel_model_version=r["offered_model_version"],
        )
