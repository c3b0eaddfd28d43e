"""What the QA service does with routing's events (one transaction per event, exactly once
through libs/bus): projects and tasks registered, labels stored, gold answers scored (drift),
and a task decided on its last label (``TaskDecisions``). Each event is handled within its
envelope's tenant (``Origin``), and what it causes carries that tenant and its actor."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
from labelops.labels.v1 import label_pb2 as L
from labelops.routing.v1 import events_pb2 as rev
from labelops_core.errors import FailedPrecondition
from labelops_eventstore import EventStore

from ..adapters.read_models import ReadModels
from ..domain import gold
from ..domain.model import (
    LIVE,
    Project,
    Submission,
    Task,
    quality_stream,
    review_policy,
    with_submission,
)
from .origin import Origin
from .tasks import TaskDecisions


class RoutingProjections:
    def __init__(
        self,
        store: EventStore,
        rm: ReadModels,
        tasks: TaskDecisions,
        drift: gold.Drift,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.rm = rm
        self.tasks = tasks
        self.drift = drift
        self.clock = clock

    async def project_created(
        self, conn: asyncpg.Connection, origin: Origin, e: rev.ProjectCreated
    ) -> None:
        """Store the project (the first one stays) and decide the tasks that waited for it."""
        tenant = origin.tenant_id
        project = Project.of(e.project)
        if not await self.rm.projects.insert(conn, tenant, project):
            project = await self.rm.projects.get(conn, tenant, project.project_id) or project
        for task in await self.rm.tasks.awaiting_project(conn, tenant, project.project_id):
            consensus = await self.rm.consensus.latest(conn, tenant, LIVE, task.task_id)
            subs = await self.rm.labels.of_task(conn, tenant, task.task_id)
            result = self.tasks.consensus_of(task, subs)
            events = await self.tasks.decide(conn, origin, project, task, consensus, result, subs)
            await self.tasks.append(conn, tenant, task, events)

    async def project_config_updated(
        self, conn: asyncpg.Connection, origin: Origin, e: rev.ProjectConfigUpdated
    ) -> None:
        await self.rm.projects.update_policy(
            conn,
            origin.tenant_id,
            e.project_id,
            review_policy(e.config),
            e.config.review_sample_rate,
            list(e.config.high_stakes_classes),
        )

    async def task_created(
        self, conn: asyncpg.Connection, origin: Origin, e: rev.TaskCreated
    ) -> None:
        task = Task(
            task_id=uuid.UUID(e.task_id),
            project_id=e.project_id,
            item_id=e.item_id,
            required=e.required_labels,
            received=0,
            gold=e.gold,
            gold_expected=e.gold_expected.SerializeToString() if e.gold else None,
            high_stakes=e.signals.high_stakes,
            context=e.context.SerializeToString(),
            state="labeling",
        )
        await self.rm.tasks.insert(conn, origin.tenant_id, task, self.clock())

    async def task_reopened(
        self, conn: asyncpg.Connection, origin: Origin, e: rev.TaskReopened
    ) -> None:
        await self.rm.tasks.reopen(conn, origin.tenant_id, uuid.UUID(e.task_id), e.required_labels)

    async def label_submitted(
        self, conn: asyncpg.Connection, e: rev.LabelSubmitted, env: Any
    ) -> None:
        """Store the label; score a gold answer; decide the task on its last label, over the
        labels stored before and this one (not read back)."""
        origin = Origin.of_envelope(env)
        tenant = origin.tenant_id
        tid, event_id = uuid.UUID(e.task_id), uuid.UUID(env.event_id)
        at = env.occurred_at.ToDatetime(UTC) if env.HasField("occurred_at") else self.clock()
        await self.rm.labels.insert(
            conn,
            tenant,
            event_id,
            tid,
            e.project_id,
            e.item_id,
            e.annotator_id,
            e.labels,
            e.gold,
            at,
        )
        task = await self.rm.tasks.count_label(
            conn, tenant, tid, e.prelabel_model, e.prelabel_model_version
        )
        if task is None:
            raise FailedPrecondition(f"label for unknown task {tid}")  # retried, then DLQ
        if e.gold:
            await self._score_gold(conn, origin, task, e, at)
        elif e.task_labeled:
            earlier = await self.rm.labels.of_task(conn, tenant, tid, besides=event_id)
            this = Submission(e.annotator_id, e.labels, str(event_id), at)
            await self.tasks.complete(
                conn, origin, e.project_id, task, with_submission(earlier, this)
            )

    async def _score_gold(
        self,
        conn: asyncpg.Connection,
        origin: Origin,
        task: Task,
        e: rev.LabelSubmitted,
        at: datetime,
    ) -> None:
        tenant = origin.tenant_id
        expected = L.ItemLabels.FromString(task.gold_expected or b"")
        score = gold.score(e.annotator_id, expected, e.labels)
        answers = gold.with_answer(
            await self.rm.gold_scores.answers(conn, tenant, e.project_id, e.annotator_id),
            gold.Answer(task.task_id, at, score.correct),
        )
        await self.rm.gold_scores.insert(conn, tenant, task.task_id, e.project_id, score, at)
        events = [origin.event(gold.scored(e.project_id, e.task_id, score))]
        accuracies = self.drift.accuracies(answers)
        if accuracies is not None:
            flagged_at = await self.rm.drift_flags.flagged_at(
                conn, tenant, e.project_id, e.annotator_id
            )
            if self.drift.due(len(answers), flagged_at):
                await self.rm.drift_flags.flag(
                    conn, tenant, e.project_id, e.annotator_id, len(answers)
                )
                events.append(
                    origin.event(self.drift.detected(e.project_id, e.annotator_id, *accuracies))
                )
        await self.store.append(quality_stream(e.project_id), None, events, conn=conn)
