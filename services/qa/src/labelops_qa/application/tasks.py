"""What happens to a task once its labels are in: the live consensus, then review or
acceptance, appended to the task's stream in the transaction that decided it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import asyncpg
from labelops.labels.v1 import label_pb2 as L
from labelops.qa.v1 import events_pb2 as ev
from labelops.qa.v1 import qa_pb2 as pb
from labelops_eventstore import EventStore, NewEvent

from ..adapters.read_models import ReadModels
from ..domain import review
from ..domain.consensus import TaskConsensus, task_consensus
from ..domain.model import LIVE, Project, Submission, Task, consensus_result, pairs, task_stream
from .origin import Origin


class TaskDecisions:
    def __init__(
        self,
        store: EventStore,
        rm: ReadModels,
        *,
        review_min_score: float,
        box_iou: dict[str, float],
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.rm = rm
        self.review_min_score = review_min_score
        self.box_iou = box_iou
        self.clock = clock

    async def complete(
        self,
        conn: asyncpg.Connection,
        origin: Origin,
        project_id: str,
        task: Task,
        subs: Sequence[Submission],
    ) -> None:
        """The task's last label is in: its live consensus (``ConsensusReached``), then review
        or acceptance — or, when the project has not arrived yet, waiting for it."""
        result = self.consensus_of(task, subs)
        tenant = origin.tenant_id
        consensus = await self.store_consensus(
            conn, tenant, LIVE, task, "majority_vote", result.labels, result.score, subs
        )
        events = [origin.event(ev.ConsensusReached(project_id=project_id, consensus=consensus))]
        project = await self.rm.projects.get(conn, tenant, project_id)
        if project is None:
            # The project's events travel on another partition than its tasks' and may arrive
            # later: the review decision waits for the project's policy (project_created).
            await self.rm.tasks.await_project(conn, tenant, task.task_id)
        else:
            events += await self.decide(conn, origin, project, task, consensus, result, subs)
        await self.append(conn, tenant, task, events)

    def consensus_of(self, task: Task, subs: Sequence[Submission]) -> TaskConsensus:
        """The live consensus of ``task`` over ``subs`` (deterministic: recomputed for a task
        that waited for its project)."""
        return task_consensus(task.item_id, pairs(subs), box_iou=self.box_iou)

    async def decide(
        self,
        conn: asyncpg.Connection,
        origin: Origin,
        project: Project,
        task: Task,
        consensus: pb.Consensus,
        result: TaskConsensus,
        subs: Sequence[Submission],
    ) -> list[NewEvent]:
        """Review or accept a task whose live consensus is ``consensus`` (``result``: its
        classes and field agreements). Targeted review uses the classes of the consensus's
        objects (a box task's too), and each of them learns the task's score."""
        classes = result.classes
        reason = review.policy_reason(
            project,
            task,
            classes,
            consensus.score,
            min_score=self.review_min_score,
            disagreements=[f.describe() for f in result.disagreements],
        )
        tenant = origin.tenant_id
        if reason is None:
            stats = {}
            for c in classes:
                if (
                    s := await self.rm.class_stats.get(conn, tenant, task.project_id, c)
                ) is not None:
                    stats[c] = s
            reason = review.ambiguity_reason(project, task, classes, stats)
        for c in classes:
            await self.rm.class_stats.add(conn, tenant, task.project_id, c, consensus.score)
        outcome = review.completed(project, task, consensus, subs, reason)
        if outcome.accepted_labels is None:
            await self.rm.tasks.to_review(conn, tenant, outcome.task)
        else:
            await self.rm.tasks.accept(conn, tenant, task.task_id, outcome.accepted_labels)
        return [origin.event(outcome.event)]

    async def store_consensus(
        self,
        conn: asyncpg.Connection,
        tenant_id: str,
        run_id: str,
        task: Task,
        method: str,
        labels: L.ItemLabels,
        score: float,
        subs: Sequence[Submission],
    ) -> pb.Consensus:
        now = self.clock()
        c = consensus_result(run_id, task, method, labels, score, subs, now)
        await self.rm.consensus.insert(conn, tenant_id, task, c, len(subs), now)
        return c

    async def append(
        self, conn: asyncpg.Connection, tenant_id: str, task: Task, events: Sequence[NewEvent]
    ) -> None:
        """Append to the task's stream at the version reserved on its row (every append to a
        task stream does: the consumer's and the commands')."""
        version = await self.rm.tasks.reserve(conn, tenant_id, task.task_id, len(events))
        await self.store.append(
            task_stream(task.project_id, task.task_id), version, list(events), conn=conn
        )
