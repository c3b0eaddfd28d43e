"""The QA service's application layer: what it does with routing's events (projections) and
with QualityService commands.

Streaming path (one transaction per routing event, exactly once through libs/bus):
``TaskCreated`` registers the task (gold answer, high stakes); ``LabelSubmitted`` stores the
label, scores gold answers (``GoldScored``, drift → ``AnnotatorDriftDetected``) and, on the
label that completes the task, computes the live consensus (``ConsensusReached``) and decides
review: a review request (``ReviewRequested``) or the final label (``LabelAccepted`` with its
lineage). Reviews accept, fix-and-accept or reject (``LabelRejected`` → routing reopens the
task). Project-wide runs (``RunConsensus``) and label-issue detection read everything stored.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
import numpy as np
from labelops.labels.v1 import label_pb2 as L
from labelops.qa.v1 import events_pb2 as ev
from labelops.qa.v1 import qa_pb2 as pb
from labelops.routing.v1 import events_pb2 as rev
from labelops.routing.v1 import routing_pb2 as rpb
from labelops_bus.runner import MessageContext
from labelops_core.context import current_principal
from labelops_core.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from labelops_core.ids import new_id
from labelops_core.paging import decode_token, encode_token, filter_fingerprint, page_size
from labelops_eventstore import EventStore, NewEvent
from labelops_eventstore.store import StreamAppend, request_fingerprint
from labelops_ontologykit import OntologyVersions

from ..adapters.tables import Tables
from ..domain import agreement as agr
from ..domain.aggregation import (
    DEFAULT_ACCURACY,
    Annotations,
    DSModel,
    dawid_skene,
    weighted_vote,
)
from ..domain.label_errors import find_label_issues
from .consensus import primary_class, task_consensus

LIVE = "live"
METHODS = {
    pb.CONSENSUS_METHOD_MAJORITY_VOTE: "majority_vote",
    pb.CONSENSUS_METHOD_WEIGHTED_VOTE: "weighted_vote",
    pb.CONSENSUS_METHOD_DAWID_SKENE: "dawid_skene",
}
METHOD_PB = {v: k for k, v in METHODS.items()}
REVIEW_POLICIES = {
    rpb.REVIEW_POLICY_NONE: "none",
    rpb.REVIEW_POLICY_SAMPLED: "sampled",
    rpb.REVIEW_POLICY_TARGETED: "targeted",
    rpb.REVIEW_POLICY_ALL: "all",
}
DECISIONS = {
    pb.REVIEW_DECISION_ACCEPT: "accept",
    pb.REVIEW_DECISION_FIX_AND_ACCEPT: "fix_and_accept",
    pb.REVIEW_DECISION_REJECT: "reject",
}
DECISION_PB = {v: k for k, v in DECISIONS.items()}
STATES = {
    "labeling": pb.TASK_QUALITY_STATE_LABELING,
    "awaiting_project": pb.TASK_QUALITY_STATE_LABELING,
    "in_review": pb.TASK_QUALITY_STATE_IN_REVIEW,
    "accepted": pb.TASK_QUALITY_STATE_ACCEPTED,
    "rejected": pb.TASK_QUALITY_STATE_REJECTED,
}


def task_stream(project_id: str, task_id: uuid.UUID | str) -> str:
    return f"projects/{project_id}/tasks/{task_id}"


def quality_stream(project_id: str) -> str:
    return f"projects/{project_id}/quality"


def unit_hash(*parts: str) -> float:
    import hashlib

    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def require_reviewer() -> None:
    p = current_principal()
    if p is None:
        return
    if p.kind == "vendor" or not (p.has_role("reviewer") or p.has_role("manager")):
        raise PermissionDenied(
            f"{p.kind} {p.subject} may not review or run QA", reason="QA_REVIEWER_REQUIRED"
        )


class QaService:
    def __init__(
        self,
        store: EventStore,
        tables: Tables,
        *,
        drift_window: int = 20,
        drift_drop: float = 0.2,
        review_min_score: float = 0.7,
        box_iou: dict[str, float] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.pool = store.pool
        self.t = tables
        self.drift_window = drift_window
        self.drift_drop = drift_drop
        self.review_min_score = review_min_score
        self.box_iou: dict[str, float] = box_iou or {"*": 0.5}
        self.clock = clock
        #: Published versions (fed by the ontology consumer), to validate reviewers' fixes.
        self.ontologies = OntologyVersions(self.pool, tables.ontology_versions)
        #: Last Dawid-Skene fit per project (worker ids, class ids, model): the warm start of
        #: the next run. In memory: a restart costs one cold fit, nothing else.
        self._ds_models: dict[str, tuple[list[str], list[str], DSModel]] = {}

    # --- projections -----------------------------------------------------------------------

    async def on_routing_event(self, ctx: MessageContext, conn: asyncpg.Connection) -> None:
        env = ctx.envelope
        t = env.type
        if t == rev.ProjectCreated.DESCRIPTOR.full_name:
            await self._project(conn, rev.ProjectCreated.FromString(env.payload).project)
        elif t == rev.ProjectConfigUpdated.DESCRIPTOR.full_name:
            e = rev.ProjectConfigUpdated.FromString(env.payload)
            await conn.execute(
                f"UPDATE {self.t.projects} SET review_policy = $2, review_sample_rate = $3,"
                " high_stakes_classes = $4 WHERE project_id = $1",
                e.project_id,
                REVIEW_POLICIES.get(e.config.review_policy, "targeted"),
                e.config.review_sample_rate,
                list(e.config.high_stakes_classes),
            )
        elif t == rev.TaskCreated.DESCRIPTOR.full_name:
            await self._task_created(conn, rev.TaskCreated.FromString(env.payload))
        elif t == rev.TaskReopened.DESCRIPTOR.full_name:
            e = rev.TaskReopened.FromString(env.payload)
            await conn.execute(
                f"UPDATE {self.t.tasks} SET required = $2, state = 'labeling' WHERE task_id = $1",
                uuid.UUID(e.task_id),
                e.required_labels,
            )
        elif t == rev.LabelSubmitted.DESCRIPTOR.full_name:
            await self._label_submitted(
                conn, rev.LabelSubmitted.FromString(env.payload), env.event_id, env
            )

    async def _project(self, conn: asyncpg.Connection, p: rpb.Project) -> None:
        await conn.execute(
            f"INSERT INTO {self.t.projects} VALUES ($1, $2, $3, $4, $5, $6)"
            " ON CONFLICT (project_id) DO NOTHING",
            p.project_id,
            p.ontology_id,
            p.ontology_version,
            REVIEW_POLICIES.get(p.config.review_policy, "targeted"),
            p.config.review_sample_rate,
            list(p.config.high_stakes_classes),
        )
        project = await conn.fetchrow(
            f"SELECT * FROM {self.t.projects} WHERE project_id = $1", p.project_id
        )
        waiting = await conn.fetch(
            f"SELECT * FROM {self.t.tasks} WHERE project_id = $1 AND state = 'awaiting_project'"
            " ORDER BY created_at, task_id FOR UPDATE",
            p.project_id,
        )
        for task in waiting:
            consensus = await self._latest(conn, LIVE, task["task_id"])
            subs = await self._submissions(conn, task["task_id"])
            events = await self._decide(
                conn, project, task, consensus, primary_class(consensus.labels), subs
            )
            await self._append_task(conn, task, events)

    async def _task_created(self, conn: asyncpg.Connection, e: rev.TaskCreated) -> None:
        await conn.execute(
            f"INSERT INTO {self.t.tasks} (task_id, project_id, item_id, required, gold,"
            " gold_expected, high_stakes, context, state, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'labeling', $9)"
            " ON CONFLICT (task_id) DO NOTHING",
            uuid.UUID(e.task_id),
            e.project_id,
            e.item_id,
            e.required_labels,
            e.gold,
            e.gold_expected.SerializeToString() if e.gold else None,
            e.signals.high_stakes,
            e.context.SerializeToString(),
            self.clock(),
        )

    async def _label_submitted(
        self, conn: asyncpg.Connection, e: rev.LabelSubmitted, event_id: str, env: Any
    ) -> None:
        tid = uuid.UUID(e.task_id)
        at = env.occurred_at.ToDatetime(UTC) if env.HasField("occurred_at") else self.clock()
        await conn.execute(
            f"INSERT INTO {self.t.labels} VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            " ON CONFLICT (event_id) DO NOTHING",
            uuid.UUID(event_id),
            tid,
            e.project_id,
            e.item_id,
            e.annotator_id,
            e.labels.SerializeToString(),
            e.gold,
            at,
        )
        task = await conn.fetchrow(
            f"UPDATE {self.t.tasks} SET received = received + 1,"
            " prelabel_model = CASE WHEN $2 = '' THEN prelabel_model ELSE $2 END,"
            " prelabel_model_version = CASE WHEN $2 = '' THEN prelabel_model_version ELSE $3 END"
            " WHERE task_id = $1 RETURNING *",
            tid,
            e.prelabel_model,
            e.prelabel_model_version,
        )
        if task is None:
            raise FailedPrecondition(f"label for unknown task {tid}")  # retried, then DLQ
        if e.gold:
            await self._score_gold(conn, task, e, at)
        elif e.task_labeled:
            await self._complete(conn, task, e)

    # --- gold and drift --------------------------------------------------------------------

    async def _score_gold(
        self, conn: asyncpg.Connection, task: asyncpg.Record, e: rev.LabelSubmitted, at: datetime
    ) -> None:
        expected = L.ItemLabels.FromString(task["gold_expected"] or b"")
        want, got = primary_class(expected), primary_class(e.labels)
        correct = want == got
        if correct and _boxes(expected) and _boxes(e.labels):
            from ..domain.geometry import box_agreement

            correct = box_agreement([_boxes(expected), _boxes(e.labels)]) >= 0.5
        await conn.execute(
            f"INSERT INTO {self.t.gold_scores} VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT DO NOTHING",
            task["task_id"],
            e.annotator_id,
            e.project_id,
            want,
            got,
            correct,
            at,
        )
        events = [
            NewEvent.of(
                ev.GoldScored(
                    project_id=e.project_id,
                    task_id=e.task_id,
                    annotator_id=e.annotator_id,
                    expected_class=want,
                    given_class=got,
                    correct=correct,
                )
            )
        ]
        drift = await self._drift(conn, e.project_id, e.annotator_id)
        if drift is not None:
            events.append(NewEvent.of(drift))
        await self.store.append(quality_stream(e.project_id), None, events, conn=conn)

    async def _drift(
        self, conn: asyncpg.Connection, project_id: str, annotator_id: str
    ) -> ev.AnnotatorDriftDetected | None:
        """Recent window accuracy vs the annotator's earlier gold answers; flagged once per
        window of new answers."""
        rows = await conn.fetch(
            f"SELECT correct FROM {self.t.gold_scores} WHERE project_id = $1"
            " AND annotator_id = $2 ORDER BY at, task_id",
            project_id,
            annotator_id,
        )
        w = self.drift_window
        if len(rows) < 2 * w:
            return None
        flags = np.array([r["correct"] for r in rows], dtype=float)
        baseline, recent = float(flags[:-w].mean()), float(flags[-w:].mean())
        if baseline - recent < self.drift_drop:
            return None
        last = await conn.fetchval(
            f"SELECT answers_at FROM {self.t.drift_flags} WHERE project_id = $1"
            " AND annotator_id = $2",
            project_id,
            annotator_id,
        )
        if last is not None and len(rows) - last < w:
            return None
        await conn.execute(
            f"INSERT INTO {self.t.drift_flags} VALUES ($1, $2, $3) ON CONFLICT"
            " (project_id, annotator_id) DO UPDATE SET answers_at = EXCLUDED.answers_at",
            project_id,
            annotator_id,
            len(rows),
        )
        return ev.AnnotatorDriftDetected(
            project_id=project_id,
            annotator_id=annotator_id,
            baseline_accuracy=baseline,
            recent_accuracy=recent,
            recent_answers=w,
        )

    # --- consensus and review ----------------------------------------------------------------

    async def _submissions(
        self, conn: asyncpg.Connection | asyncpg.Pool, task_id: uuid.UUID
    ) -> list[tuple[str, L.ItemLabels, str]]:
        rows = await conn.fetch(
            f"SELECT annotator_id, labels, event_id FROM {self.t.labels} WHERE task_id = $1"
            " ORDER BY submitted_at, event_id",
            task_id,
        )
        return [
            (r["annotator_id"], L.ItemLabels.FromString(r["labels"]), str(r["event_id"]))
            for r in rows
        ]

    async def _complete(
        self, conn: asyncpg.Connection, task: asyncpg.Record, e: rev.LabelSubmitted
    ) -> None:
        subs = await self._submissions(conn, task["task_id"])
        result = task_consensus(
            task["item_id"], [(a, lab) for a, lab, _ in subs], box_iou=self.box_iou
        )
        consensus = await self._store_consensus(
            conn, LIVE, task, "majority_vote", result.labels, result.score, subs
        )
        events = [NewEvent.of(ev.ConsensusReached(project_id=e.project_id, consensus=consensus))]
        project = await conn.fetchrow(
            f"SELECT * FROM {self.t.projects} WHERE project_id = $1", e.project_id
        )
        if project is None:
            # The project's events travel on another partition than its tasks' and may arrive
            # later: the review decision waits for the project's policy (see _project).
            await conn.execute(
                f"UPDATE {self.t.tasks} SET state = 'awaiting_project' WHERE task_id = $1",
                task["task_id"],
            )
            await self._append_task(conn, task, events)
            return
        events += await self._decide(conn, project, task, consensus, result.class_id, subs)
        await self._append_task(conn, task, events)

    async def _decide(
        self,
        conn: asyncpg.Connection,
        project: asyncpg.Record,
        task: asyncpg.Record,
        consensus: pb.Consensus,
        class_id: str,
        subs: Sequence[tuple[str, L.ItemLabels, str]],
    ) -> list[NewEvent]:
        """Review or accept a task whose live consensus is ``consensus``."""
        reason = await self._review_reason(conn, project, task, class_id, consensus.score)
        if class_id:
            await conn.execute(
                f"INSERT INTO {self.t.class_stats} VALUES ($1, $2, 1, $3)"
                " ON CONFLICT (project_id, class_id) DO UPDATE SET"
                " tasks = class_stats.tasks + 1, score_sum = class_stats.score_sum + $3",
                task["project_id"],
                class_id,
                consensus.score,
            )
        if reason:
            await conn.execute(
                f"UPDATE {self.t.tasks} SET state = 'in_review', review_reason = $2,"
                " review_decision = '', reviewer = '' WHERE task_id = $1",
                task["task_id"],
                reason,
            )
            return [
                NewEvent.of(
                    ev.ReviewRequested(
                        project_id=task["project_id"],
                        task_id=str(task["task_id"]),
                        item_id=task["item_id"],
                        reason=reason,
                    )
                )
            ]
        accepted = self._accepted(project, task, consensus, subs, "", "")
        await conn.execute(
            f"UPDATE {self.t.tasks} SET state = 'accepted', accepted_labels = $2"
            " WHERE task_id = $1",
            task["task_id"],
            accepted.labels.SerializeToString(),
        )
        return [NewEvent.of(accepted)]

    async def _append_task(
        self, conn: asyncpg.Connection, task: asyncpg.Record, events: list[NewEvent]
    ) -> None:
        version = await conn.fetchval(
            f"UPDATE {self.t.tasks} SET stream_version = stream_version + $2"
            " WHERE task_id = $1 RETURNING stream_version - $2",
            task["task_id"],
            len(events),
        )
        await self.store.append(
            task_stream(task["project_id"], task["task_id"]), version, events, conn=conn
        )

    async def _store_consensus(
        self,
        conn: asyncpg.Connection,
        run_id: str,
        task: asyncpg.Record,
        method: str,
        labels: L.ItemLabels,
        score: float,
        subs: Sequence[tuple[str, L.ItemLabels, str]],
    ) -> pb.Consensus:
        now = self.clock()
        annotators = [a for a, _, _ in subs]
        await conn.execute(
            f"INSERT INTO {self.t.consensus} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            " ON CONFLICT DO NOTHING",
            run_id,
            task["task_id"],
            task["project_id"],
            task["item_id"],
            method,
            labels.SerializeToString(),
            score,
            annotators,
            len(subs),
            now,
        )
        c = pb.Consensus(
            run_id=run_id,
            task_id=str(task["task_id"]),
            item_id=task["item_id"],
            method=METHOD_PB[method],
            labels=labels,
            score=score,
            annotator_ids=annotators,
        )
        c.create_time.FromDatetime(now)
        return c

    async def _review_reason(
        self,
        conn: asyncpg.Connection,
        project: asyncpg.Record | None,
        task: asyncpg.Record,
        class_id: str,
        score: float,
    ) -> str:
        """Targeted review: always for high stakes, for disagreement, and at a per-class rate
        that grows with the class's measured ambiguity; sampled on easy classes."""
        policy = project["review_policy"] if project else "targeted"
        rate = float(project["review_sample_rate"]) if project else 0.1
        draw = unit_hash(str(task["task_id"]), "review")
        if policy == "none":
            return ""
        if policy == "all":
            return "review policy: all"
        if policy == "sampled":
            return f"sampled ({rate:.0%})" if draw < rate else ""
        stakes = set(project["high_stakes_classes"]) if project else set()
        if task["high_stakes"] or class_id in stakes:
            return "high stakes"
        if score < self.review_min_score:
            return f"annotators disagree (agreement {score:.2f})"
        stats = await conn.fetchrow(
            f"SELECT tasks, score_sum FROM {self.t.class_stats} WHERE project_id = $1"
            " AND class_id = $2",
            task["project_id"],
            class_id,
        )
        ambiguity = 1 - stats["score_sum"] / stats["tasks"] if stats and stats["tasks"] else 0.0
        class_rate = min(1.0, rate + ambiguity)
        if draw < class_rate:
            return (
                f"sampled ({class_rate:.0%} for class {class_id or '-'}: ambiguity {ambiguity:.2f})"
            )
        return ""

    def _accepted(
        self,
        project: asyncpg.Record | None,
        task: asyncpg.Record,
        consensus: pb.Consensus,
        subs: Sequence[tuple[str, L.ItemLabels, str]],
        decision: str,
        reviewer: str,
        ontology_version: str = "",
        labels: L.ItemLabels | None = None,
    ) -> ev.LabelAccepted:
        return ev.LabelAccepted(
            project_id=task["project_id"],
            task_id=str(task["task_id"]),
            item_id=task["item_id"],
            labels=labels if labels is not None else consensus.labels,
            lineage=ev.Lineage(
                annotator_ids=[a for a, _, _ in subs],
                label_event_ids=[i for _, _, i in subs],
                consensus_method=consensus.method,
                consensus_score=consensus.score,
                consensus_run_id=consensus.run_id,
                review_decision=DECISION_PB.get(decision, pb.REVIEW_DECISION_UNSPECIFIED),
                reviewer=reviewer,
                prelabel_model=task["prelabel_model"],
                prelabel_model_version=task["prelabel_model_version"],
                ontology_id=project["ontology_id"] if project else "",
                ontology_version=project["ontology_version"] if project else ontology_version,
            ),
        )

    async def submit_review(self, req: pb.SubmitReviewRequest) -> pb.SubmitReviewResponse:
        require_reviewer()
        decision = DECISIONS.get(req.decision)
        if decision is None:
            raise InvalidArgument(
                "a decision is required",
                [FieldViolation("decision", "ACCEPT, FIX_AND_ACCEPT or REJECT")],
            )
        tid = _task_uuid(req.task_id)
        fp = request_fingerprint("SubmitReview", req.SerializeToString(deterministic=True))
        earlier = await self.store.earlier_response(req.request_id, fp, pb.SubmitReviewResponse)
        if earlier is not None:
            return earlier
        p = current_principal()
        reviewer = p.subject if p else ""
        async with self.store.transaction() as conn:
            task = await conn.fetchrow(
                f"SELECT * FROM {self.t.tasks} WHERE task_id = $1 AND project_id = $2 FOR UPDATE",
                tid,
                req.project_id,
            )
            if task is None:
                raise NotFound(f"task {req.task_id} not found", reason="TASK_NOT_FOUND")
            if task["state"] != "in_review":
                raise FailedPrecondition(
                    f"task {req.task_id} is {task['state']}, not in review",
                    reason="TASK_NOT_IN_REVIEW",
                )
            project = await conn.fetchrow(
                f"SELECT * FROM {self.t.projects} WHERE project_id = $1", req.project_id
            )
            subs = await self._submissions(conn, tid)
            live = await self._latest(conn, LIVE, tid)
            fixed: L.ItemLabels | None = None
            if decision == "fix_and_accept":
                fixed = L.ItemLabels()
                fixed.CopyFrom(req.fixed_labels)
                fixed.item_id = task["item_id"]
                fixed.item.CopyFrom(L.ItemContext.FromString(task["context"]))
                if not fixed.labels:
                    raise InvalidArgument(
                        "fixed labels are required", [FieldViolation("fixed_labels", "empty")]
                    )
                if project is not None:
                    compiled = await self.ontologies.cache.get(
                        project["ontology_id"], project["ontology_version"]
                    )
                    if issues := compiled.validate_item(fixed):
                        raise InvalidArgument(
                            f"{len(issues)} invalid label field(s)",
                            [
                                FieldViolation(
                                    f"fixed_labels.labels[{i.label_index}].{i.field}"
                                    if i.label_index >= 0
                                    else f"fixed_labels.{i.field}",
                                    f"{i.reason}: {i.description}",
                                )
                                for i in issues
                            ],
                        )
            state = "rejected" if decision == "reject" else "accepted"
            await conn.execute(
                f"UPDATE {self.t.tasks} SET state = $2, review_decision = $3, reviewer = $4"
                " WHERE task_id = $1",
                tid,
                state,
                decision,
                reviewer,
            )
            if decision == "reject":
                event: Any = ev.LabelRejected(
                    project_id=req.project_id,
                    task_id=req.task_id,
                    item_id=task["item_id"],
                    reason=req.note or "rejected in review",
                    reviewer=reviewer,
                )
            else:
                event = self._accepted(project, task, live, subs, decision, reviewer, labels=fixed)
                await conn.execute(
                    f"UPDATE {self.t.tasks} SET accepted_labels = $2 WHERE task_id = $1",
                    tid,
                    event.labels.SerializeToString(),
                )
            updated = await conn.fetchrow(f"SELECT * FROM {self.t.tasks} WHERE task_id = $1", tid)
            resp = pb.SubmitReviewResponse(task=await self._task_pb(conn, updated))
            version = await conn.fetchval(
                f"UPDATE {self.t.tasks} SET stream_version = stream_version + 1"
                " WHERE task_id = $1 RETURNING stream_version - 1",
                tid,
            )
            await self.store.append(
                task_stream(req.project_id, tid),
                version,
                [NewEvent.of(event)],
                request_id=req.request_id or None,
                fingerprint=fp,
                response=resp.SerializeToString(),
                conn=conn,
            )
        return resp

    async def _latest(
        self, conn: asyncpg.Connection | asyncpg.Pool, run_id: str, tid: uuid.UUID
    ) -> pb.Consensus:
        row = await conn.fetchrow(
            f"SELECT * FROM {self.t.consensus} WHERE run_id = $1 AND task_id = $2"
            " ORDER BY labels_used DESC LIMIT 1",
            run_id,
            tid,
        )
        return _consensus_pb(row) if row else pb.Consensus()

    # --- project-wide consensus runs ---------------------------------------------------------

    async def run_consensus(self, req: pb.RunConsensusRequest) -> pb.RunConsensusResponse:
        require_reviewer()
        method = METHODS.get(req.method)
        if method is None:
            raise InvalidArgument(
                "unknown method", [FieldViolation("method", "one of ConsensusMethod")]
            )
        fp = request_fingerprint("RunConsensus", req.SerializeToString(deterministic=True))
        earlier = await self.store.earlier_response(req.request_id, fp, pb.RunConsensusResponse)
        if earlier is not None:
            return earlier
        tasks = await self.pool.fetch(
            f"SELECT * FROM {self.t.tasks} WHERE project_id = $1 AND NOT gold"
            " AND received >= required AND required > 0 ORDER BY task_id",
            req.project_id,
        )
        if not tasks:
            raise FailedPrecondition(
                f"project {req.project_id} has no labeled tasks", reason="NOTHING_TO_AGGREGATE"
            )
        labels = await self.pool.fetch(
            f"SELECT task_id, annotator_id, labels, event_id FROM {self.t.labels}"
            " WHERE project_id = $1 AND NOT gold ORDER BY submitted_at, event_id",
            req.project_id,
        )
        by_task: dict[uuid.UUID, list[tuple[str, L.ItemLabels, str]]] = defaultdict(list)
        for r in labels:
            by_task[r["task_id"]].append(
                (r["annotator_id"], L.ItemLabels.FromString(r["labels"]), str(r["event_id"]))
            )
        overrides = self._project_classification(req.project_id, method, tasks, by_task)
        run_id = new_id()
        live = {
            r["task_id"]: r["labels"]
            for r in await self.pool.fetch(
                f"SELECT DISTINCT ON (task_id) task_id, labels FROM {self.t.consensus}"
                " WHERE project_id = $1 AND run_id = $2 ORDER BY task_id, labels_used DESC",
                req.project_id,
                LIVE,
            )
        }
        changed = 0
        async with self.store.transaction() as conn:
            # One version per task stream for its ConsensusReached, reserved on the task rows
            # (locked in task-id order, so two runs cannot deadlock).
            versions = {
                r["task_id"]: r["version"]
                for r in await conn.fetch(
                    f"UPDATE {self.t.tasks} t SET stream_version = t.stream_version + 1"
                    f" FROM (SELECT task_id FROM {self.t.tasks} WHERE task_id = ANY($1::uuid[])"
                    " ORDER BY task_id FOR UPDATE) locked WHERE t.task_id = locked.task_id"
                    " RETURNING t.task_id, t.stream_version - 1 AS version",
                    [t["task_id"] for t in tasks],
                )
            }
            appends = []
            for task in tasks:
                subs = by_task.get(task["task_id"], [])
                result = task_consensus(
                    task["item_id"],
                    [(a, lab) for a, lab, _ in subs],
                    class_override=overrides.get(task["task_id"]),
                    box_iou=self.box_iou,
                )
                c = await self._store_consensus(
                    conn, run_id, task, method, result.labels, result.score, subs
                )
                if task["task_id"] in live and primary_class(
                    L.ItemLabels.FromString(live[task["task_id"]])
                ) != primary_class(result.labels):
                    changed += 1
                appends.append(
                    StreamAppend(
                        task_stream(req.project_id, task["task_id"]),
                        versions[task["task_id"]],
                        [NewEvent.of(ev.ConsensusReached(project_id=req.project_id, consensus=c))],
                    )
                )
            await conn.execute(
                f"INSERT INTO {self.t.runs} VALUES ($1, $2, $3, $4, $5)",
                run_id,
                req.project_id,
                method,
                len(tasks),
                self.clock(),
            )
            resp = pb.RunConsensusResponse(
                run_id=run_id, method=req.method, tasks=len(tasks), changed_vs_live=changed
            )
            # Run results are events on the task streams, appended at the versions reserved
            # above: the live path's next append expects the task row's stream_version.
            await self.store.append_streams(
                appends,
                request_id=req.request_id or None,
                fingerprint=fp,
                response=resp.SerializeToString(),
                conn=conn,
            )
        return resp

    def _warm_start(self, project_id: str, codebook: Any) -> DSModel | None:
        """The project's previous Dawid-Skene fit, re-indexed to this run's workers (labels keep
        arriving, so most workers are known): EM then starts near the answer. Workers new
        since get a diagonal-heavy default; a changed class set starts cold."""
        prev = self._ds_models.get(project_id)
        classes = [str(c) for c in codebook.class_ids]
        if prev is None or prev[1] != classes:
            return None
        old_workers, _, model = prev
        k = len(classes)
        default = np.full((k, k), (1 - DEFAULT_ACCURACY) / max(k - 1, 1))
        np.fill_diagonal(default, DEFAULT_ACCURACY)
        where = {w: i for i, w in enumerate(old_workers)}
        confusion = np.stack(
            [
                model.confusion[where[str(w)]] if str(w) in where else default
                for w in codebook.worker_ids
            ]
        )
        return replace(model, confusion=confusion)

    def _project_classification(
        self,
        project_id: str,
        method: str,
        tasks: Sequence[asyncpg.Record],
        by_task: dict[uuid.UUID, list[tuple[str, L.ItemLabels, str]]],
    ) -> dict[uuid.UUID, tuple[str, float]]:
        """Whole-item classes decided over the project's whole annotation matrix."""
        if method == "majority_vote":
            return {}
        items, workers, classes = [], [], []
        for task in tasks:
            for annotator, labels, _ in by_task.get(task["task_id"], []):
                if any(lab.WhichOneof("geometry") == "whole_item" for lab in labels.labels):
                    items.append(str(task["task_id"]))
                    workers.append(annotator)
                    classes.append(primary_class(labels))
        if not items:
            return {}
        annotations, codebook = Annotations.from_triples(items, workers, classes)
        if method == "dawid_skene":
            init = self._warm_start(project_id, codebook)
            consensus, model = dawid_skene(annotations, init=init)
            self._ds_models[project_id] = (
                [str(w) for w in codebook.worker_ids],
                [str(c) for c in codebook.class_ids],
                model,
            )
        else:
            consensus = weighted_vote(annotations)
        out = {}
        for code, task_id in enumerate(codebook.item_ids):
            k = int(consensus.labels[code])
            if k >= 0:
                out[uuid.UUID(str(task_id))] = (
                    str(codebook.class_ids[k]),
                    float(consensus.scores[code]),
                )
        return out

    # --- agreement -------------------------------------------------------------------------

    async def measure_agreement(
        self, req: pb.MeasureAgreementRequest
    ) -> pb.MeasureAgreementResponse:
        if req.window_seconds < 0:
            raise InvalidArgument(
                "bad window", [FieldViolation("window_seconds", "0 (no windows) or more")]
            )
        rows = await self.pool.fetch(
            f"SELECT item_id, annotator_id, labels, submitted_at FROM {self.t.labels}"
            " WHERE project_id = $1 AND NOT gold ORDER BY submitted_at",
            req.project_id,
        )
        level = "interval" if req.level == pb.MEASUREMENT_LEVEL_INTERVAL else "nominal"
        if level == "interval" and not req.classification_id:
            raise InvalidArgument(
                "interval agreement needs numbers",
                [FieldViolation("classification_id", "name a NUMBER classification")],
            )
        anns = []
        for r in rows:
            labels = L.ItemLabels.FromString(r["labels"])
            value: Any = (
                _answer(labels, req.classification_id, level)
                if req.classification_id
                else primary_class(labels)
            )
            if value is not None and value != "":
                anns.append(
                    agr.Annotation(
                        item_id=r["item_id"],
                        annotator_id=r["annotator_id"],
                        label=value,
                        class_id=str(value),
                        at=r["submitted_at"].timestamp(),
                    )
                )
        if req.class_id:
            # One class: agreement on "is it this class" (binary), over the items anyone gave it.
            items = {a.item_id for a in anns if a.label == req.class_id}
            anns = [
                agr.Annotation(
                    a.item_id, a.annotator_id, a.label == req.class_id, req.class_id, a.at
                )
                for a in anns
                if a.item_id in items
            ]
        if not anns:
            raise FailedPrecondition(
                f"project {req.project_id} has no labels to measure", reason="NO_LABELS"
            )
        windows: list[tuple[float | None, Any]]
        window_anns: dict[float | None, list[agr.Annotation]] = {}
        if req.window_seconds:
            w = float(req.window_seconds)
            windows = [(start, s) for start, s in agr.windowed(anns, w, level=level)]
            for a in anns:
                window_anns.setdefault(math.floor(a.at / w) * w, []).append(a)
        else:
            windows = [(None, agr.agreement_summary(anns, level=level))]
            window_anns[None] = anns
        reports = []
        for start, summary in windows:
            rep = pb.AgreementReport(
                project_id=req.project_id,
                class_id=req.class_id,
                items=summary.items,
                annotators=summary.annotators,
                krippendorff_alpha=summary.krippendorff_alpha,
                fleiss_kappa=(
                    summary.fleiss_kappa if summary.fleiss_kappa is not None else math.nan
                ),
                pairs=[
                    pb.PairAgreement(annotator_a=a, annotator_b=b, cohen_kappa=k, shared_items=n)
                    for (a, b), (k, n) in sorted(summary.pairwise.items())
                ],
                classes=(
                    [] if req.class_id or req.classification_id else _per_class(window_anns[start])
                ),
                classification_id=req.classification_id,
                level=pb.MEASUREMENT_LEVEL_INTERVAL
                if level == "interval"
                else pb.MEASUREMENT_LEVEL_NOMINAL,
            )
            if start is not None:
                rep.window_start.FromDatetime(datetime.fromtimestamp(start, UTC))
                rep.window_end.FromDatetime(datetime.fromtimestamp(start + req.window_seconds, UTC))
            reports.append(rep)
        await self.store.append(
            quality_stream(req.project_id),
            None,
            [NewEvent.of(ev.AgreementMeasured(report=r)) for r in reports],
        )
        return pb.MeasureAgreementResponse(reports=reports)

    # --- label issues ------------------------------------------------------------------------

    async def find_issues(self, req: pb.FindLabelIssuesRequest) -> pb.FindLabelIssuesResponse:
        require_reviewer()
        if not req.predictions:
            raise InvalidArgument(
                "no predictions", [FieldViolation("predictions", "give at least one")]
            )
        bad = []
        ids = []
        for i, p in enumerate(req.predictions):
            try:
                ids.append(uuid.UUID(p.task_id))
            except ValueError:
                bad.append(FieldViolation(f"predictions[{i}].task_id", "not a task id"))
            if not p.probabilities or any(
                not (0 <= v <= 1) or v != v for v in p.probabilities.values()
            ):
                bad.append(
                    FieldViolation(f"predictions[{i}].probabilities", "probabilities in [0, 1]")
                )
        if bad:
            raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
        # Judged: the accepted label (a reviewer's fix when there was one), not the consensus
        # it may have replaced.
        rows = await self.pool.fetch(
            f"SELECT DISTINCT ON (c.task_id) c.task_id, c.item_id,"
            " coalesce(t.accepted_labels, c.labels) AS labels FROM"
            f" {self.t.consensus} c JOIN {self.t.tasks} t USING (task_id)"
            " WHERE c.project_id = $1 AND c.run_id = $2 AND c.task_id = ANY($3::uuid[])"
            " AND t.state = 'accepted' ORDER BY c.task_id, c.labels_used DESC",
            req.project_id,
            LIVE,
            ids,
        )
        given = {
            r["task_id"]: (r["item_id"], primary_class(L.ItemLabels.FromString(r["labels"])))
            for r in rows
        }
        preds = {tid: p for tid, p in zip(ids, req.predictions, strict=True) if tid in given}
        classes = sorted(
            {c for p in preds.values() for c in p.probabilities} | {g for _, g in given.values()}
        )
        index = {c: k for k, c in enumerate(classes)}
        order = sorted(preds)
        if len(order) < 2 or len(classes) < 2:
            return pb.FindLabelIssuesResponse(examined=len(order))
        probs = np.zeros((len(order), len(classes)))
        for row, tid in enumerate(order):
            for c, v in preds[tid].probabilities.items():
                probs[row, index[c]] = v
        sums = probs.sum(axis=1, keepdims=True)
        probs = np.divide(probs, sums, out=np.full_like(probs, 1 / len(classes)), where=sums > 0)
        labels = np.array([index[given[tid][1]] for tid in order])
        found = find_label_issues(labels, probs)
        issues = [
            pb.LabelIssue(
                task_id=str(order[f.index]),
                item_id=given[order[f.index]][0],
                given_class=classes[f.given_label],
                suggested_class=classes[f.suggested_label],
                self_confidence=f.self_confidence,
            )
            for f in found
        ]
        resp = pb.FindLabelIssuesResponse(issues=issues, examined=len(order))
        if issues:
            async with self.store.transaction() as conn:
                appends = []
                for issue in sorted(issues, key=lambda i: i.task_id):
                    # The task row's stream_version is what every later append to the task's
                    # stream expects: an append here must move it too (or the next label of
                    # the re-opened task would conflict and be dead-lettered).
                    version = await conn.fetchval(
                        f"UPDATE {self.t.tasks} SET state = 'rejected', review_reason = $2,"
                        " stream_version = stream_version + 1 WHERE task_id = $1"
                        " RETURNING stream_version - 1",
                        uuid.UUID(issue.task_id),
                        f"label issue: model suggests {issue.suggested_class}",
                    )
                    appends.append(
                        StreamAppend(
                            task_stream(req.project_id, issue.task_id),
                            version,
                            [
                                NewEvent.of(
                                    ev.LabelIssueFlagged(
                                        project_id=req.project_id, issue=issue, model=req.model
                                    )
                                )
                            ],
                        )
                    )
                await self.store.append_streams(appends, conn=conn)
        return resp

    # --- queries ---------------------------------------------------------------------------

    async def _task_pb(
        self, conn: asyncpg.Connection | asyncpg.Pool, r: asyncpg.Record
    ) -> pb.TaskQuality:
        return pb.TaskQuality(
            project_id=r["project_id"],
            task_id=str(r["task_id"]),
            item_id=r["item_id"],
            state=STATES[r["state"]],
            required_labels=r["required"],
            labels_received=r["received"],
            consensus=await self._latest(conn, LIVE, r["task_id"]),
            review_reason=r["review_reason"],
            review_decision=DECISION_PB.get(r["review_decision"], pb.REVIEW_DECISION_UNSPECIFIED),
            reviewer=r["reviewer"],
        )

    async def get_task(self, req: pb.GetTaskQualityRequest) -> pb.GetTaskQualityResponse:
        r = await self.pool.fetchrow(
            f"SELECT * FROM {self.t.tasks} WHERE task_id = $1 AND project_id = $2",
            _task_uuid(req.task_id),
            req.project_id,
        )
        if r is None:
            raise NotFound(f"task {req.task_id} not found", reason="TASK_NOT_FOUND")
        return pb.GetTaskQualityResponse(task=await self._task_pb(self.pool, r))

    async def review_queue(self, req: pb.ListReviewQueueRequest) -> pb.ListReviewQueueResponse:
        rows = await self.pool.fetch(
            f"SELECT * FROM {self.t.tasks} WHERE project_id = $1 AND state = 'in_review'"
            " ORDER BY high_stakes DESC, created_at LIMIT $2",
            req.project_id,
            page_size(req.page_size),
        )
        return pb.ListReviewQueueResponse(tasks=[await self._task_pb(self.pool, r) for r in rows])

    async def list_consensus(self, req: pb.ListConsensusRequest) -> pb.ListConsensusResponse:
        run = req.run_id or LIVE
        size = page_size(req.page_size)
        bound = filter_fingerprint(req.project_id, run)
        after = decode_token(req.page_token, bound) if req.page_token else None
        rows = await self.pool.fetch(
            f"SELECT DISTINCT ON (task_id) * FROM {self.t.consensus} WHERE project_id = $1"
            " AND run_id = $2 AND ($3::uuid IS NULL OR task_id > $3)"
            " ORDER BY task_id, labels_used DESC LIMIT $4",
            req.project_id,
            run,
            uuid.UUID(after) if after else None,
            size + 1,
        )
        resp = pb.ListConsensusResponse(results=[_consensus_pb(r) for r in rows[:size]])
        if len(rows) > size:
            resp.next_page_token = encode_token(str(rows[size - 1]["task_id"]), bound)
        return resp

    async def annotator_quality(
        self, req: pb.GetAnnotatorQualityRequest
    ) -> pb.GetAnnotatorQualityResponse:
        rows = await self.pool.fetch(
            f"SELECT * FROM {self.t.gold_scores} WHERE project_id = $1"
            " AND ($2 = '' OR annotator_id = $2) ORDER BY annotator_id, at, task_id",
            req.project_id,
            req.annotator_id,
        )
        flagged = {
            r["annotator_id"]
            for r in await self.pool.fetch(
                f"SELECT annotator_id FROM {self.t.drift_flags} WHERE project_id = $1",
                req.project_id,
            )
        }
        by: dict[str, list[asyncpg.Record]] = defaultdict(list)
        for r in rows:
            by[r["annotator_id"]].append(r)
        out = []
        for annotator, rs in sorted(by.items()):
            correct = np.array([r["correct"] for r in rs], dtype=float)
            confusion: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
            for r in rs:
                confusion[r["expected_class"]][r["given_class"]] += 1
            recent = correct[-self.drift_window :]
            out.append(
                pb.AnnotatorQuality(
                    annotator_id=annotator,
                    gold_answered=len(rs),
                    gold_accuracy=float(correct.mean()),
                    recent_accuracy=float(recent.mean()),
                    drifting=annotator in flagged,
                    confusion=[
                        pb.ConfusionRow(true_class=t, given=dict(g))
                        for t, g in sorted(confusion.items())
                    ],
                )
            )
        return pb.GetAnnotatorQualityResponse(annotators=out)


def _answer(labels: L.ItemLabels, classification_id: str, level: str) -> Any:
    """An annotator's answer to ``classification_id`` (first label that answers it): the
    number for interval agreement; option id / text / sorted checklist for nominal."""
    for lab in labels.labels:
        for ans in lab.answers:
            if ans.classification_id != classification_id:
                continue
            kind = ans.WhichOneof("value")
            if level == "interval":
                return ans.number if kind == "number" else None
            if kind == "option_id":
                return ans.option_id
            if kind == "checklist":
                return ",".join(sorted(ans.checklist.option_ids))
            if kind == "text":
                return ans.text
            if kind == "number":
                return repr(ans.number)
    return None


def _per_class(anns: Sequence[agr.Annotation]) -> list[pb.ClassAgreement]:
    """Alpha per class, one-vs-rest: "is it this class?" over the items anyone gave it."""
    out = []
    for c in sorted({str(a.label) for a in anns}):
        items = {a.item_id for a in anns if a.label == c}
        binary = [
            agr.Annotation(a.item_id, a.annotator_id, a.label == c, c, a.at)
            for a in anns
            if a.item_id in items
        ]
        alpha = agr.agreement_summary(binary).krippendorff_alpha
        out.append(pb.ClassAgreement(class_id=c, krippendorff_alpha=alpha))
    return out


def _boxes(labels: L.ItemLabels) -> list[Any]:
    from ..domain.geometry import Box

    return [
        Box(lab.class_id, lab.box.x, lab.box.y, lab.box.width, lab.box.height)
        for lab in labels.labels
        if lab.WhichOneof("geometry") == "box"
    ]


def _task_uuid(task_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(task_id)
    except ValueError:
        raise InvalidArgument("bad task id", [FieldViolation("task_id", "not a task id")]) from None


def _consensus_pb(r: asyncpg.Record) -> pb.Consensus:
    c = pb.Consensus(
        run_id=r["run_id"],
        task_id=str(r["task_id"]),
        item_id=r["item_id"],
        method=METHOD_PB[r["method"]],
        labels=L.ItemLabels.FromString(r["labels"]),
        score=r["score"],
        annotator_ids=list(r["annotator_ids"]),
    )
    c.create_time.FromDatetime(r["created_at"])
    return c
