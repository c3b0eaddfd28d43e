"""Tasks made and changed in a caller's transaction: routed (domain.planning), written to the
read models, and returned as the appends the caller writes with its own bookkeeping.

Shared by the commands (CreateProject, CreateTasks, AddGoldTasks, UpdateTaskSignals) and the
consumers (an included curation item, a pre-label, a priority round). The tenant is the
project row's (the caller read it under its own tenant): every statement and every event of
the plan carries it.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
from labelops.labels.v1 import label_pb2
from labelops.routing.v1 import events_pb2 as ev
from labelops.routing.v1 import routing_pb2 as pb
from labelops_core.clock import Clock, utc_now
from labelops_core.errors import FailedPrecondition
from labelops_eventstore import NewEvent
from labelops_eventstore.store import NO_STREAM, StreamAppend

from ..adapters.read_models import ReadModels
from ..adapters.tasks import NewTask, SignalsUpdate, counts_of
from ..domain.overlap import required_labels
from ..domain.planning import overflow, reroute, route_new
from ..domain.rules import NoPoolAvailable, PoolInfo, RouteDecision, RuleSet
from ..domain.tasks import TaskCounts
from .common import task_id_for, task_stream
from .convert import config_from_pb, rules_from_pb, signals_from_pb

log = logging.getLogger(__name__)

#: Curation item metadata keys that carry routing hints.
META_CLASS = "labelops.class"
META_HIGH_STAKES = "labelops.high_stakes"
META_PRIORITY = "labelops.priority"
#: The route reason's prefix (and the queue stats' flag) of a task nobody may label.
NO_ELIGIBLE_ANNOTATOR = "NO_ELIGIBLE_ANNOTATOR"


@dataclass
class TaskSpec:
    """One task to create (from CreateTasks, AddGoldTasks or an included curation item)."""

    item_id: str
    uri: str
    modality: str
    context: label_pb2.ItemContext
    signals: pb.TaskSignals
    prelabels: Sequence[label_pb2.Label] = ()
    gold_expected: label_pb2.ItemLabels | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class TaskChange:
    """New signals for one task (UpdateTaskSignals, a pre-label or a priority from the
    pre-label service), and optionally new pre-labels.

    ``signals`` replace the task's signals whole (callers merge when they change only some).
    ``prelabels`` None keeps the task's pre-labels; given, they replace them, and
    ``prelabel_model`` / ``prelabel_model_version`` name the model that made them ("" when
    they came without one).
    """

    signals: pb.TaskSignals
    prelabels: label_pb2.ItemLabels | None = None
    prelabel_model: str = ""
    prelabel_model_version: str = ""


@dataclass
class TaskChanges:
    """What ``TaskPlanner.change_tasks`` did: the events to append in the caller's
    transaction, and how many tasks it updated and moved to another pool."""

    appends: list[StreamAppend]
    updated: int = 0
    rerouted: int = 0


@dataclass
class _Project:
    """What routing a project's tasks needs from its row."""

    project_id: str
    config: pb.WorkflowConfig
    ruleset: RuleSet
    ontology_id: str
    ontology_version: str
    tenant_id: str

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> _Project:
        return cls(
            row["project_id"],
            pb.WorkflowConfig.FromString(row["config"]),
            rules_from_pb(pb.RoutingRules.FromString(row["rules"])),
            row["ontology_id"],
            row["ontology_version"],
            row["tenant_id"],
        )

    def signals(self, given: pb.TaskSignals) -> pb.TaskSignals:
        """The task's signals: a class the project calls high-stakes makes it high-stakes."""
        signals = pb.TaskSignals()
        signals.CopyFrom(given)
        if signals.class_id in self.config.high_stakes_classes:
            signals.high_stakes = True
        return signals


def spec_from_item(row: asyncpg.Record) -> TaskSpec:
    """A task spec from a curation item: routing hints come from its metadata."""
    meta = row["metadata"]
    if isinstance(meta, str):
        meta = json.loads(meta)
    signals = pb.TaskSignals(class_id=str(meta.get(META_CLASS, "")))
    signals.high_stakes = str(meta.get(META_HIGH_STAKES, "")).lower() in ("1", "true", "yes")
    try:
        signals.priority = float(meta.get(META_PRIORITY, 0) or 0)
    except ValueError:
        signals.priority = 0.0
    return TaskSpec(
        item_id=row["item_id"],
        uri=row["uri"],
        modality=row["modality"],
        context=label_pb2.ItemContext.FromString(row["context"]),
        signals=signals,
    )


def _due(signals: pb.TaskSignals) -> datetime | None:
    return signals.due_time.ToDatetime(UTC) if signals.HasField("due_time") else None


class TaskPlanner:
    def __init__(self, rm: ReadModels, clock: Clock = utc_now) -> None:
        self.rm = rm
        self.clock = clock

    async def plan_tasks(
        self,
        conn: asyncpg.Connection,
        project: asyncpg.Record,
        specs: Sequence[TaskSpec],
        pools: dict[str, PoolInfo],
        *,
        gold: bool = False,
    ) -> tuple[list[StreamAppend], int]:
        """Route and insert tasks for ``specs`` (existing ones are skipped); returns the
        TaskCreated appends for the caller's transaction and how many tasks are new.

        ``pools`` must have been read under lock in this transaction: outstanding counts are
        updated as tasks are routed, so overflow within one batch is exact.
        """
        if not specs:
            return [], 0
        p = _Project.of(project)
        ids = [task_id_for(p.tenant_id, p.project_id, s.item_id, gold) for s in specs]
        skip = await self.rm.tasks.existing(conn, p.tenant_id, ids)
        now = self.clock()
        appends: list[StreamAppend] = []
        rows: list[NewTask] = []
        for spec, tid in zip(specs, ids, strict=True):
            if tid in skip:
                continue
            skip.add(tid)
            append, row = self._new_task(p, spec, tid, pools, gold, now)
            appends.append(append)
            rows.append(row)
        if rows:
            await self.rm.tasks.insert(conn, rows)
            if not gold:
                await self.rm.projects.add_tasks(conn, p.tenant_id, p.project_id, len(rows))
        return appends, len(rows)

    def _new_task(
        self,
        p: _Project,
        spec: TaskSpec,
        tid: uuid.UUID,
        pools: dict[str, PoolInfo],
        gold: bool,
        now: datetime,
    ) -> tuple[StreamAppend, NewTask]:
        signals = p.signals(spec.signals)
        if gold:
            # Gold tasks are served to any pool's workers; they never fill a pool.
            d = RouteDecision(
                pool_id="", rule="gold", candidates=(), overflowed=False, reason="gold task"
            )
            required = 0
        else:
            try:
                d = route_new(signals_from_pb(signals), p.ruleset, pools)
            except NoPoolAvailable as exc:
                raise FailedPrecondition(str(exc), reason="NO_POOL_AVAILABLE") from exc
            overlap = config_from_pb(p.config).overlap
            required = required_labels(overlap, p.project_id, spec.item_id, signals.class_id)
        counts = TaskCounts.new(required, gold=gold)
        event = ev.TaskCreated(
            project_id=p.project_id,
            task_id=str(tid),
            item_id=spec.item_id,
            item_uri=spec.uri,
            modality=spec.modality,
            context=spec.context,
            required_labels=counts.required,
            signals=signals,
            pool_id=d.pool_id,
            route_rule=d.rule,
            route_reason=d.reason,
            overflowed=d.overflowed,
            rules_version=p.ruleset.version,
            gold=gold,
            ontology_id=p.ontology_id,
            ontology_version=p.ontology_version,
        )
        if spec.gold_expected is not None:
            event.gold_expected.CopyFrom(spec.gold_expected)
        prelabels = label_pb2.ItemLabels(item_id=spec.item_id, labels=list(spec.prelabels))
        row = NewTask(
            tid,
            p.project_id,
            spec.item_id,
            spec.uri,
            spec.modality,
            spec.context.SerializeToString(),
            counts.state.value,
            counts.required,
            d.pool_id,
            d.rule,
            d.reason,
            signals.SerializeToString(),
            signals.class_id,
            signals.priority,
            _due(signals),
            gold,
            prelabels.SerializeToString() if spec.prelabels else None,
            now,
            p.tenant_id,
        )
        created = NewEvent.of(event, tenant_id=p.tenant_id)
        return StreamAppend(task_stream(p.project_id, tid), NO_STREAM, [created]), row

    async def change_tasks(
        self,
        conn: asyncpg.Connection,
        project: Mapping[str, Any],
        changes: Sequence[tuple[Mapping[str, Any], TaskChange]],
        pools: dict[str, PoolInfo] | None,
        *,
        keep_pool_when_unroutable: bool = False,
    ) -> TaskChanges:
        """Apply ``changes`` to their tasks (rows read ``FOR UPDATE`` in this transaction, in
        task-id order) and re-route the tasks nobody has started; returns the TaskRerouted
        appends for the caller to write with its own bookkeeping.

        Labeled, canceled and gold tasks are left alone. A task is re-routed (under the
        project's current rules) only while no one holds a lease on it or has labeled it: a
        lease or a label ties it to its pool. The exception is an *exhausted* task (leased
        before, still needing a label, and no active annotator of its pool left who may label
        it, e.g. re-opened after every one of them labeled it): it moves by the rules'
        overflow (``domain.planning.overflow``), or, when no pool can take it, stays and is
        marked ``NO_ELIGIBLE_ANNOTATOR`` (never an error: the queue stats flag it).
        ``pools`` must have been read under lock in this transaction (outstanding counts
        follow the moves, so capacity is exact within a batch); ``None`` updates signals
        without re-routing (rules never look at priority or due time). When no pool can take
        a task nobody started, a command fails (``FAILED_PRECONDITION NO_POOL_AVAILABLE``); a
        consumer passes ``keep_pool_when_unroutable``: the task keeps its pool, because
        failing would only dead-letter an event that is not at fault.
        """
        p = _Project.of(project)
        out = TaskChanges(appends=[])
        updates: list[SignalsUpdate] = []
        # A task listed twice gets its last change (one row update and one append per task).
        latest = {row["task_id"]: (row, change) for row, change in changes}
        stuck = await self.exhausted(conn, project, latest.values()) if pools is not None else {}
        for row, change in latest.values():
            counts = counts_of(row)
            if not counts.changeable:
                continue
            signals = p.signals(change.signals)
            pool_id, rule, reason = row["pool_id"], row["route_rule"], row["route_reason"]
            events: list[NewEvent] = []
            d: RouteDecision | None = None
            if pools is not None and row["task_id"] in stuck:
                d, reason = self._overflow(p, row, signals, pools, stuck[row["task_id"]])
            elif pools is not None and counts.movable:
                d = self._reroute(p, row, signals, pools, keep_pool_when_unroutable)
            if d is not None:
                out.rerouted += 1
                events.append(NewEvent.of(_rerouted(p, row, d, signals), tenant_id=p.tenant_id))
                pool_id, rule, reason = d.pool_id, d.rule, d.reason
            given = change.prelabels is not None
            updates.append(
                SignalsUpdate(
                    row["task_id"],
                    signals.SerializeToString(),
                    signals.class_id,
                    signals.priority,
                    _due(signals),
                    pool_id,
                    rule,
                    reason,
                    change.prelabels.SerializeToString() if change.prelabels is not None else None,
                    change.prelabel_model if given else None,
                    change.prelabel_model_version if given else None,
                    len(events),
                )
            )
            out.updated += 1
            if events:
                out.appends.append(
                    StreamAppend(
                        task_stream(p.project_id, row["task_id"]), row["stream_version"], events
                    )
                )
        await self.rm.tasks.write_signals(conn, p.tenant_id, updates, self.clock())
        return out

    async def exhausted(
        self,
        conn: asyncpg.Connection,
        project: Mapping[str, Any],
        changes: Iterable[tuple[Mapping[str, Any], TaskChange]],
    ) -> dict[uuid.UUID, set[str]]:
        """The exhausted tasks among ``changes`` (see ``change_tasks``), each with the pools
        that have an annotator who may still label it."""
        p = _Project.of(project)
        changes = list(changes)
        open_ = {
            row["task_id"]: p.signals(change.signals).class_id
            for row, change in changes
            if counts_of(row).changeable and counts_of(row).offerable
        }
        if not open_:
            return {}
        leased = await self.rm.assignments.leased_tasks(conn, p.tenant_id, list(open_))
        wanted = [(tid, cls) for tid, cls in open_.items() if tid in leased]
        eligible = await self.rm.annotators.eligible_pools(conn, p.tenant_id, wanted)
        pool_of = {row["task_id"]: row["pool_id"] for row, _ in changes}
        return {
            tid: eligible.get(tid, set())
            for tid, _ in wanted
            if pool_of[tid] not in eligible.get(tid, set())
        }

    @staticmethod
    def _overflow(
        p: _Project,
        row: Mapping[str, Any],
        signals: pb.TaskSignals,
        pools: dict[str, PoolInfo],
        eligible: set[str],
    ) -> tuple[RouteDecision | None, str]:
        """An exhausted task's move by the rules' overflow, or None and the reason it stays."""
        pool_id = row["pool_id"]
        try:
            d = overflow(signals_from_pb(signals), p.ruleset, pools, pool_id, eligible)
        except NoPoolAvailable as exc:
            log.warning("task %s: no eligible annotator left in pool %s", row["task_id"], pool_id)
            reason = (
                f"{NO_ELIGIBLE_ANNOTATOR}: no active annotator of pool {pool_id} may still"
                f" label it and no overflow pool has one ({exc})"
            )
            return None, reason[:500]
        why = f"{d.reason}; overflow: no active annotator of pool {pool_id} may still label it"
        return replace(d, reason=why[:500]), why[:500]

    @staticmethod
    def _reroute(
        p: _Project,
        row: Mapping[str, Any],
        signals: pb.TaskSignals,
        pools: dict[str, PoolInfo],
        keep_pool_when_unroutable: bool,
    ) -> RouteDecision | None:
        try:
            return reroute(signals_from_pb(signals), p.ruleset, pools, row["pool_id"])
        except NoPoolAvailable as exc:
            if not keep_pool_when_unroutable:
                raise FailedPrecondition(str(exc), reason="NO_POOL_AVAILABLE") from exc
            log.warning("task %s stays in pool %s: %s", row["task_id"], row["pool_id"], exc)
            return None


def _rerouted(
    p: _Project, row: Mapping[str, Any], d: RouteDecision, signals: pb.TaskSignals
) -> ev.TaskRerouted:
    return ev.TaskRerouted(
        project_id=p.project_id,
        task_id=str(row["task_id"]),
        from_pool_id=row["pool_id"],
        pool_id=d.pool_id,
        route_rule=d.rule,
        route_reason=d.reason,
        signals=signals,
        rules_version=p.ruleset.version,
    )
