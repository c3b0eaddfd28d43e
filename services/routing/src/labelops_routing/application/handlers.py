"""Commands of RoutingService: projects, pools, annotators, routing rules, task creation.

Every command appends its events and updates the read models in one transaction. Decisions
that need shared state (pool capacity for overflow, a task's counters) read the read models
under row locks in that transaction, so concurrent commands cannot both take the last slot
of a pool or the last label of a task.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
from labelops.labels.v1 import label_pb2
from labelops.routing.v1 import events_pb2 as ev
from labelops.routing.v1 import routing_pb2 as pb
from labelops_core.context import current_principal
from labelops_core.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from labelops_eventstore import EventStore, NewEvent
from labelops_eventstore.store import NO_STREAM, StreamAppend, request_fingerprint
from labelops_ontologykit import OntologyVersions

from ..adapters.tables import Tables
from ..domain.overlap import required_labels
from ..domain.project import validate_config, validate_id
from ..domain.rules import (
    NoPoolAvailable,
    PoolInfo,
    RouteDecision,
    RuleSet,
    TaskSignals,
    hybrid_default,
    route,
    validate_rules,
)
from ..domain.tasks import TaskState
from .convert import (
    POOL_KINDS,
    config_from_pb,
    normalized_config,
    pool_info,
    pool_to_pb,
    rules_from_pb,
    rules_to_pb,
    signals_from_pb,
)

log = logging.getLogger(__name__)

TASK_NAMESPACE = uuid.UUID("7b0f3c1e-5a61-4f7c-9a55-2f8d6c0b9e21")
MAX_TASK_ITEMS = 5000
MAX_REQUEST_ID_CHARS = 128
#: Curation item metadata keys that carry routing hints.
META_CLASS = "labelops.class"
META_HIGH_STAKES = "labelops.high_stakes"
META_PRIORITY = "labelops.priority"


def task_id_for(project_id: str, item_id: str, gold: bool = False) -> uuid.UUID:
    """Deterministic: creating the task of an item twice finds the first one."""
    return uuid.uuid5(TASK_NAMESPACE, f"{project_id}\x1f{item_id}\x1f{'gold' if gold else ''}")


def task_stream(project_id: str, task_id: uuid.UUID | str) -> str:
    return f"projects/{project_id}/tasks/{task_id}"


def require_admin() -> None:
    """Project, pool and rule changes: users / services with the admin or manager role."""
    p = current_principal()
    if p is None:
        return  # no authenticator configured (embedded use, unit wiring)
    if p.kind == "vendor" or not (p.has_role("manager") or p.kind == "service"):
        raise PermissionDenied(
            f"{p.kind} {p.subject} may not manage routing", reason="ROUTING_ADMIN_REQUIRED"
        )


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
    """What ``RoutingHandlers.change_tasks`` did: the events to append in the caller's
    transaction, and how many tasks it updated and moved to another pool."""

    appends: list[StreamAppend]
    updated: int = 0
    rerouted: int = 0


class RoutingHandlers:
    def __init__(
        self,
        store: EventStore,
        tables: Tables,
        ontologies: OntologyVersions,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.pool = store.pool
        self.t = tables
        #: Published versions this service has received, compiled once (label validation).
        self.ontologies = ontologies
        self.clock = clock

    # --- idempotency ---------------------------------------------------------------------------

    # --- projects --------------------------------------------------------------------------------

    async def project_row(
        self, conn: asyncpg.Connection | asyncpg.Pool, project_id: str, *, lock: bool = False
    ) -> asyncpg.Record:
        row = await conn.fetchrow(
            f"SELECT p.*, (SELECT count(*) FROM {self.t.tasks} t WHERE t.project_id = p.project_id"
            " AND t.state = 'labeled' AND NOT t.gold) AS tasks_labeled"
            f" FROM {self.t.projects} p WHERE project_id = $1"
            + (" FOR UPDATE OF p" if lock else ""),
            project_id,
        )
        if row is None:
            raise NotFound(f"project {project_id} not found", reason="PROJECT_NOT_FOUND")
        return row

    async def pools(self, conn: asyncpg.Connection, *, lock: bool) -> dict[str, PoolInfo]:
        rows = await conn.fetch(
            f"SELECT * FROM {self.t.pools} ORDER BY pool_id" + (" FOR UPDATE" if lock else "")
        )
        open_tasks = await self.open_tasks(conn)
        return {r["pool_id"]: pool_info(r, open_tasks.get(r["pool_id"], 0)) for r in rows}

    async def open_tasks(self, conn: asyncpg.Connection | asyncpg.Pool) -> dict[str, int]:
        """Open (queued or in progress) regular tasks per pool: what counts against capacity."""
        rows = await conn.fetch(
            f"SELECT pool_id, count(*) AS n FROM {self.t.tasks}"
            " WHERE state IN ('queued', 'in_progress') AND NOT gold GROUP BY pool_id"
        )
        return {r["pool_id"]: r["n"] for r in rows}

    async def create_project(self, req: pb.CreateProjectRequest) -> pb.CreateProjectResponse:
        require_admin()
        fp = request_fingerprint("CreateProject", req.SerializeToString(deterministic=True))
        if (
            earlier := await self.store.earlier_response(
                req.request_id, fp, pb.CreateProjectResponse
            )
        ) is not None:
            return earlier
        bad = validate_id("project_id", req.project_id)
        if not req.ontology_id:
            bad.append(FieldViolation("ontology_id", "required"))
        if not req.ontology_version:
            bad.append(FieldViolation("ontology_version", "an exact published version, e.g. 1.0.0"))
        if len(req.display_name) > 200:
            bad.append(FieldViolation("display_name", "at most 200 characters"))
        config = normalized_config(req.config)
        bad += validate_config(config_from_pb(config))
        async with self.store.transaction() as conn:
            pools = await self.pools(conn, lock=True)
            rules = rules_from_pb(req.rules) if req.rules.rules or req.rules.default_pools else None
            ruleset = rules if rules is not None else hybrid_default(1)
            ruleset = type(ruleset)(
                version=1, rules=ruleset.rules, default_pools=ruleset.default_pools
            )
            bad += [
                FieldViolation(f"rules.{v.field}", v.description)
                for v in validate_rules(ruleset, pools)
            ]
            if bad:
                raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
            if not await self.ontologies.known(req.ontology_id, req.ontology_version):
                raise FailedPrecondition(
                    f"ontology {req.ontology_id} version {req.ontology_version} is not published"
                    " (or its OntologyVersionPublished event has not reached routing yet)",
                    reason="ONTOLOGY_VERSION_UNKNOWN",
                )
            if await conn.fetchval(
                f"SELECT 1 FROM {self.t.projects} WHERE project_id = $1", req.project_id
            ):
                raise AlreadyExists(
                    f"project {req.project_id} exists", reason="PROJECT_ALREADY_EXISTS"
                )
            now = self.clock()
            project = pb.Project(
                project_id=req.project_id,
                display_name=req.display_name,
                dataset_id=req.dataset_id,
                ontology_id=req.ontology_id,
                ontology_version=req.ontology_version,
                config=config,
                config_version=1,
                rules_version=1,
            )
            project.create_time.FromDatetime(now)
            rules_pb = rules_to_pb(ruleset)
            await conn.execute(
                f"INSERT INTO {self.t.projects} (project_id, display_name, dataset_id,"
                " ontology_id, ontology_version, config, config_version, rules, rules_version,"
                " stream_version, created_at) VALUES ($1,$2,$3,$4,$5,$6,1,$7,1,1,$8)",
                req.project_id,
                req.display_name,
                req.dataset_id,
                req.ontology_id,
                req.ontology_version,
                config.SerializeToString(),
                rules_pb.SerializeToString(),
                now,
            )
            created = 0
            appends = [
                StreamAppend(
                    f"projects/{req.project_id}",
                    NO_STREAM,
                    [NewEvent.of(ev.ProjectCreated(project=project, rules=rules_pb))],
                )
            ]
            if req.dataset_id:
                rows = await conn.fetch(
                    f"SELECT * FROM {self.t.items} WHERE dataset_id = $1 AND included"
                    " ORDER BY item_id",
                    req.dataset_id,
                )
                specs = [self.spec_from_item(r, config) for r in rows]
                row = await self.project_row(conn, req.project_id)
                task_appends, created = await self.plan_tasks(conn, row, specs, pools)
                appends += task_appends
            resp = pb.CreateProjectResponse(project=project, rules=rules_pb, tasks_created=created)
            resp.project.tasks_total = created
            await self.store.append_streams(
                appends,
                request_id=req.request_id or None,
                fingerprint=fp,
                response=resp.SerializeToString(),
                conn=conn,
            )
        return resp

    async def update_project_config(
        self, req: pb.UpdateProjectConfigRequest
    ) -> pb.UpdateProjectConfigResponse:
        require_admin()
        fp = request_fingerprint("UpdateProjectConfig", req.SerializeToString(deterministic=True))
        if (
            earlier := await self.store.earlier_response(
                req.request_id, fp, pb.UpdateProjectConfigResponse
            )
        ) is not None:
            return earlier
        config = normalized_config(req.config)
        if bad := validate_config(config_from_pb(config)):
            raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
        async with self.store.transaction() as conn:
            row = await self.project_row(conn, req.project_id, lock=True)
            if req.expected_config_version and req.expected_config_version != row["config_version"]:
                raise Aborted(
                    f"project {req.project_id} config is at version {row['config_version']}",
                    reason="CONFIG_VERSION_CONFLICT",
                )
            version = row["config_version"] + 1
            await conn.execute(
                f"UPDATE {self.t.projects} SET config = $2, config_version = $3,"
                " stream_version = stream_version + 1 WHERE project_id = $1",
                req.project_id,
                config.SerializeToString(),
                version,
            )
            project = self.project_to_pb(await self.project_row(conn, req.project_id))
            resp = pb.UpdateProjectConfigResponse(project=project)
            await self.store.append(
                f"projects/{req.project_id}",
                row["stream_version"],
                [
                    NewEvent.of(
                        ev.ProjectConfigUpdated(
                            project_id=req.project_id, config=config, config_version=version
                        )
                    )
                ],
                request_id=req.request_id or None,
                fingerprint=fp,
                response=resp.SerializeToString(),
                conn=conn,
            )
        return resp

    async def set_routing_rules(self, req: pb.SetRoutingRulesRequest) -> pb.SetRoutingRulesResponse:
        require_admin()
        fp = request_fingerprint("SetRoutingRules", req.SerializeToString(deterministic=True))
        if (
            earlier := await self.store.earlier_response(
                req.request_id, fp, pb.SetRoutingRulesResponse
            )
        ) is not None:
            return earlier
        async with self.store.transaction() as conn:
            row = await self.project_row(conn, req.project_id, lock=True)
            if req.expected_version and req.expected_version != row["rules_version"]:
                raise Aborted(
                    f"project {req.project_id} rules are at version {row['rules_version']}",
                    reason="RULES_VERSION_CONFLICT",
                )
            version = row["rules_version"] + 1
            given = rules_from_pb(req.rules)
            ruleset = type(given)(
                version=version, rules=given.rules, default_pools=given.default_pools
            )
            pools = await self.pools(conn, lock=False)
            if bad := [
                FieldViolation(f"rules.{v.field}", v.description)
                for v in validate_rules(ruleset, pools)
            ]:
                raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
            rules_pb = rules_to_pb(ruleset)
            await conn.execute(
                f"UPDATE {self.t.projects} SET rules = $2, rules_version = $3,"
                " stream_version = stream_version + 1 WHERE project_id = $1",
                req.project_id,
                rules_pb.SerializeToString(),
                version,
            )
            resp = pb.SetRoutingRulesResponse(rules=rules_pb)
            await self.store.append(
                f"projects/{req.project_id}",
                row["stream_version"],
                [NewEvent.of(ev.RoutingRulesSet(project_id=req.project_id, rules=rules_pb))],
                request_id=req.request_id or None,
                fingerprint=fp,
                response=resp.SerializeToString(),
                conn=conn,
            )
        return resp

    def project_to_pb(self, row: asyncpg.Record) -> pb.Project:
        p = pb.Project(
            project_id=row["project_id"],
            display_name=row["display_name"],
            dataset_id=row["dataset_id"],
            ontology_id=row["ontology_id"],
            ontology_version=row["ontology_version"],
            config=pb.WorkflowConfig.FromString(row["config"]),
            config_version=row["config_version"],
            rules_version=row["rules_version"],
            tasks_total=row["tasks_total"],
            tasks_labeled=row["tasks_labeled"],
        )
        p.create_time.FromDatetime(row["created_at"])
        return p

    # --- workforce -----------------------------------------------------------------------------

    def _pool_violations(self, pool: pb.Pool, *, create: bool) -> list[FieldViolation]:
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

    async def create_pool(self, req: pb.CreatePoolRequest) -> pb.CreatePoolResponse:
        require_admin()
        p = req.pool
        if bad := self._pool_violations(p, create=True):
            raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
        async with self.store.transaction() as conn:
            exists = await conn.fetchrow(
                f"SELECT * FROM {self.t.pools} WHERE pool_id = $1", p.pool_id
            )
            stored = pb.Pool()
            stored.CopyFrom(p)
            if exists is not None:
                if pool_to_pb(exists) == stored:  # a retried create
                    return pb.CreatePoolResponse(pool=pool_to_pb(exists))
                raise AlreadyExists(f"pool {p.pool_id} exists", reason="POOL_ALREADY_EXISTS")
            await conn.execute(
                f"INSERT INTO {self.t.pools} (pool_id, display_name, kind, vendor_id, capacity,"
                " cost_per_task, qualified_classes, active, stream_version)"
                " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,1)",
                p.pool_id,
                p.display_name,
                POOL_KINDS[p.kind],
                p.vendor_id,
                p.capacity,
                p.cost_per_task,
                list(p.qualified_classes),
                p.active,
            )
            await self.store.append(
                f"pools/{p.pool_id}",
                NO_STREAM,
                [NewEvent.of(ev.PoolCreated(pool=stored))],
                conn=conn,
            )
        return pb.CreatePoolResponse(pool=stored)

    async def update_pool(self, req: pb.UpdatePoolRequest) -> pb.UpdatePoolResponse:
        require_admin()
        p = req.pool
        if bad := self._pool_violations(p, create=False):
            raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
        async with self.store.transaction() as conn:
            row = await conn.fetchrow(
                f"SELECT * FROM {self.t.pools} WHERE pool_id = $1 FOR UPDATE", p.pool_id
            )
            if row is None:
                raise NotFound(f"pool {p.pool_id} not found", reason="POOL_NOT_FOUND")
            row = await conn.fetchrow(
                f"UPDATE {self.t.pools} SET display_name = $2, capacity = $3, cost_per_task = $4,"
                " qualified_classes = $5, active = $6, stream_version = stream_version + 1"
                " WHERE pool_id = $1 RETURNING *",
                p.pool_id,
                p.display_name,
                p.capacity,
                p.cost_per_task,
                list(p.qualified_classes),
                p.active,
            )
            updated = pool_to_pb(row, (await self.open_tasks(conn)).get(p.pool_id, 0))
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
        require_admin()
        a = req.annotator
        bad = []
        if not a.annotator_id or len(a.annotator_id) > 200:
            bad.append(FieldViolation("annotator.annotator_id", "1..200 characters"))
        if not a.pool_id:
            bad.append(FieldViolation("annotator.pool_id", "required"))
        if bad:
            raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
        async with self.store.transaction() as conn:
            pool = await conn.fetchrow(
                f"SELECT * FROM {self.t.pools} WHERE pool_id = $1 FOR UPDATE", a.pool_id
            )
            if pool is None:
                raise NotFound(f"pool {a.pool_id} not found", reason="POOL_NOT_FOUND")
            existing = await conn.fetchrow(
                f"SELECT * FROM {self.t.annotators} WHERE annotator_id = $1", a.annotator_id
            )
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
            await conn.execute(
                f"INSERT INTO {self.t.annotators} VALUES ($1,$2,$3,$4,$5)",
                a.annotator_id,
                a.pool_id,
                a.display_name,
                list(a.skills),
                a.active,
            )
            await conn.execute(
                f"UPDATE {self.t.pools} SET stream_version = stream_version + 1 WHERE pool_id = $1",
                a.pool_id,
            )
            await self.store.append(
                f"pools/{a.pool_id}",
                pool["stream_version"],
                [NewEvent.of(ev.AnnotatorRegistered(annotator=a))],
                conn=conn,
            )
        return pb.RegisterAnnotatorResponse(annotator=a)

    # --- tasks ---------------------------------------------------------------------------------

    def spec_from_item(self, row: asyncpg.Record, config: pb.WorkflowConfig) -> TaskSpec:
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
        pid = project["project_id"]
        ids = [task_id_for(pid, s.item_id, gold) for s in specs]
        existing = {
            r["task_id"]
            for r in await conn.fetch(
                f"SELECT task_id FROM {self.t.tasks} WHERE task_id = ANY($1::uuid[])", ids
            )
        }
        config = pb.WorkflowConfig.FromString(project["config"])
        ruleset = rules_from_pb(pb.RoutingRules.FromString(project["rules"]))
        high_stakes = set(config.high_stakes_classes)
        now = self.clock()
        appends: list[StreamAppend] = []
        rows: list[tuple[Any, ...]] = []
        added: dict[str, int] = {}
        seen: set[uuid.UUID] = set()
        for spec, tid in zip(specs, ids, strict=True):
            if tid in existing or tid in seen:
                continue
            seen.add(tid)
            signals = pb.TaskSignals()
            signals.CopyFrom(spec.signals)
            if signals.class_id in high_stakes:
                signals.high_stakes = True
            if gold:
                # Gold tasks are served to any pool's workers; they never fill a pool.
                pool_id, rule, reason, overflowed, required = "", "gold", "gold task", False, 0
            else:
                try:
                    decision = safe_route(signals_from_pb(signals), ruleset, pools)
                except NoPoolAvailable as exc:
                    raise FailedPrecondition(str(exc), reason="NO_POOL_AVAILABLE") from exc
                pool_id, rule, reason = decision.pool_id, decision.rule, decision.reason
                overflowed = decision.overflowed
                required = required_labels(
                    config_from_pb(config).overlap, pid, spec.item_id, signals.class_id
                )
                pools[pool_id] = _bump(pools[pool_id])
                added[pool_id] = added.get(pool_id, 0) + 1
            prelabels = label_pb2.ItemLabels(item_id=spec.item_id, labels=list(spec.prelabels))
            event = ev.TaskCreated(
                project_id=pid,
                task_id=str(tid),
                item_id=spec.item_id,
                item_uri=spec.uri,
                modality=spec.modality,
                context=spec.context,
                required_labels=required,
                signals=signals,
                pool_id=pool_id,
                route_rule=rule,
                route_reason=reason,
                overflowed=overflowed,
                rules_version=ruleset.version,
                gold=gold,
                ontology_id=project["ontology_id"],
                ontology_version=project["ontology_version"],
            )
            if spec.gold_expected is not None:
                event.gold_expected.CopyFrom(spec.gold_expected)
            appends.append(StreamAppend(task_stream(pid, tid), NO_STREAM, [NewEvent.of(event)]))
            rows.append(
                (
                    tid,
                    pid,
                    spec.item_id,
                    spec.uri,
                    spec.modality,
                    spec.context.SerializeToString(),
                    TaskState.QUEUED.value,
                    required,
                    pool_id,
                    rule,
                    reason,
                    signals.SerializeToString(),
                    signals.class_id,
                    signals.priority,
                    signals.due_time.ToDatetime(UTC) if signals.HasField("due_time") else None,
                    gold,
                    prelabels.SerializeToString() if spec.prelabels else None,
                    now,
                )
            )
        if rows:
            await conn.executemany(
                f"INSERT INTO {self.t.tasks} (task_id, project_id, item_id, item_uri, modality,"
                " context, state, required, pool_id, route_rule, route_reason, signals, class_id,"
                " priority, due_at, gold, prelabels, stream_version, created_at, updated_at)"
                " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,1,$18,$18)",
                rows,
            )
            if not gold:
                await conn.execute(
                    f"UPDATE {self.t.projects} SET tasks_total = tasks_total + $2"
                    " WHERE project_id = $1",
                    pid,
                    len(rows),
                )
        return appends, len(rows)

    def _task_specs(self, items: Sequence[pb.TaskItem], prefix: str) -> list[TaskSpec]:
        if not items:
            raise InvalidArgument("no items", [FieldViolation(prefix, "give at least one item")])
        if len(items) > MAX_TASK_ITEMS:
            raise InvalidArgument(
                "too many items", [FieldViolation(prefix, f"at most {MAX_TASK_ITEMS} per call")]
            )
        bad: list[FieldViolation] = []
        specs = []
        for i, it in enumerate(items):
            if not it.item_id or len(it.item_id) > 200:
                bad.append(FieldViolation(f"{prefix}[{i}].item_id", "1..200 characters"))
            if not it.uri:
                bad.append(FieldViolation(f"{prefix}[{i}].uri", "required"))
            s = it.signals
            if s.HasField("confidence") and not 0.0 <= s.confidence <= 1.0:
                bad.append(FieldViolation(f"{prefix}[{i}].signals.confidence", "in [0, 1]"))
            if not 0.0 <= s.ambiguity <= 1.0:
                bad.append(FieldViolation(f"{prefix}[{i}].signals.ambiguity", "in [0, 1]"))
            specs.append(
                TaskSpec(
                    item_id=it.item_id,
                    uri=it.uri,
                    modality=it.modality or "image",
                    context=it.context,
                    signals=it.signals,
                    prelabels=list(it.prelabels),
                )
            )
        if bad:
            raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
        return specs

    async def create_tasks(self, req: pb.CreateTasksRequest) -> pb.CreateTasksResponse:
        require_admin()
        fp = request_fingerprint("CreateTasks", req.SerializeToString(deterministic=True))
        earlier = await self.store.earlier_response(req.request_id, fp, pb.CreateTasksResponse)
        if earlier is not None:
            return earlier
        specs = self._task_specs(req.items, "items")
        async with self.store.transaction() as conn:
            project = await self.project_row(conn, req.project_id, lock=True)
            pools = await self.pools(conn, lock=True)
            appends, created = await self.plan_tasks(conn, project, specs, pools)
            resp = pb.CreateTasksResponse(
                tasks_created=created,
                tasks_existing=len({s.item_id for s in specs}) - created,
                task_ids=[str(task_id_for(req.project_id, s.item_id)) for s in specs],
            )
            if appends:
                await self.store.append_streams(
                    appends,
                    request_id=req.request_id or None,
                    fingerprint=fp,
                    response=resp.SerializeToString(),
                    conn=conn,
                )
        return resp

    async def add_gold_tasks(self, req: pb.AddGoldTasksRequest) -> pb.AddGoldTasksResponse:
        require_admin()
        fp = request_fingerprint("AddGoldTasks", req.SerializeToString(deterministic=True))
        if (
            earlier := await self.store.earlier_response(
                req.request_id, fp, pb.AddGoldTasksResponse
            )
        ) is not None:
            return earlier
        specs = self._task_specs([g.item for g in req.items], "items")
        project = await self.project_row(self.pool, req.project_id)
        compiled = await self.ontologies.cache.get(
            project["ontology_id"], project["ontology_version"]
        )
        bad = []
        for i, (g, spec) in enumerate(zip(req.items, specs, strict=True)):
            if g.expected.item_id != spec.item_id:
                bad.append(FieldViolation(f"items[{i}].expected.item_id", "must be the item's id"))
            expected = label_pb2.ItemLabels()
            expected.CopyFrom(g.expected)
            expected.item.CopyFrom(spec.context)
            for issue in compiled.validate_item(expected):
                where = f"labels[{issue.label_index}]." if issue.label_index >= 0 else ""
                bad.append(
                    FieldViolation(f"items[{i}].expected.{where}{issue.field}", issue.description)
                )
            spec.gold_expected = expected
        if bad:
            raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
        async with self.store.transaction() as conn:
            project = await self.project_row(conn, req.project_id, lock=True)
            pools = await self.pools(conn, lock=False)
            appends, _ = await self.plan_tasks(conn, project, specs, pools, gold=True)
            resp = pb.AddGoldTasksResponse(
                task_ids=[str(task_id_for(req.project_id, s.item_id, True)) for s in specs]
            )
            if appends:
                await self.store.append_streams(
                    appends,
                    request_id=req.request_id or None,
                    fingerprint=fp,
                    response=resp.SerializeToString(),
                    conn=conn,
                )
        return resp

    async def update_task_signals(
        self, req: pb.UpdateTaskSignalsRequest
    ) -> pb.UpdateTaskSignalsResponse:
        require_admin()
        fp = request_fingerprint("UpdateTaskSignals", req.SerializeToString(deterministic=True))
        if (
            earlier := await self.store.earlier_response(
                req.request_id, fp, pb.UpdateTaskSignalsResponse
            )
        ) is not None:
            return earlier
        bad = []
        ids: list[uuid.UUID] = []
        for i, u in enumerate(req.updates):
            try:
                ids.append(uuid.UUID(u.task_id))
            except ValueError:
                bad.append(FieldViolation(f"updates[{i}].task_id", "not a task id"))
        if not req.updates:
            bad.append(FieldViolation("updates", "give at least one update"))
        if bad:
            raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
        async with self.store.transaction() as conn:
            project = await self.project_row(conn, req.project_id, lock=True)
            pools = await self.pools(conn, lock=True)
            rows = {
                r["task_id"]: r
                for r in await conn.fetch(
                    f"SELECT * FROM {self.t.tasks} WHERE task_id = ANY($1::uuid[])"
                    " AND project_id = $2 ORDER BY task_id FOR UPDATE",
                    ids,
                    req.project_id,
                )
            }
            changes: list[tuple[asyncpg.Record, TaskChange]] = []
            for i, (u, tid) in enumerate(zip(req.updates, ids, strict=True)):
                row = rows.get(tid)
                if row is None:
                    raise NotFound(
                        f"updates[{i}]: task {tid} not found in project {req.project_id}",
                        reason="TASK_NOT_FOUND",
                    )
                changes.append(
                    (
                        row,
                        TaskChange(
                            signals=u.signals,
                            # Pre-labels given here come from the caller, not from a model.
                            prelabels=(
                                label_pb2.ItemLabels(item_id=row["item_id"], labels=u.prelabels)
                                if len(u.prelabels)
                                else None
                            ),
                        ),
                    )
                )
            done = await self.change_tasks(conn, project, changes, pools)
            appends = done.appends
            resp = pb.UpdateTaskSignalsResponse(
                tasks_updated=done.updated, tasks_rerouted=done.rerouted
            )
            if appends:
                await self.store.append_streams(
                    appends,
                    request_id=req.request_id or None,
                    fingerprint=fp,
                    response=resp.SerializeToString(),
                    conn=conn,
                )
        return resp

    async def change_tasks(
        self,
        conn: asyncpg.Connection,
        project: asyncpg.Record,
        changes: Sequence[tuple[asyncpg.Record, TaskChange]],
        pools: dict[str, PoolInfo] | None,
        *,
        keep_pool_when_unroutable: bool = False,
    ) -> TaskChanges:
        """Apply ``changes`` to their tasks (rows read ``FOR UPDATE`` in this transaction, in
        task-id order) and re-route the tasks nobody has started; returns the TaskRerouted
        appends for the caller to write with its own bookkeeping.

        Labeled, canceled and gold tasks are left alone. A task is re-routed (under the
        project's current rules) only while no one holds a lease on it or has labeled it: a
        lease or a label ties it to its pool. ``pools`` must have been read under lock in this
        transaction (outstanding counts follow the moves, so capacity is exact within a
        batch); ``None`` updates signals without re-routing (rules never look at priority or
        due time). When no pool can take a task, a command fails (``FAILED_PRECONDITION
        NO_POOL_AVAILABLE``); a consumer passes ``keep_pool_when_unroutable``: the task keeps
        its pool, because failing would only dead-letter an event that is not at fault.
        """
        pid = project["project_id"]
        config = pb.WorkflowConfig.FromString(project["config"])
        ruleset = rules_from_pb(pb.RoutingRules.FromString(project["rules"]))
        high_stakes = set(config.high_stakes_classes)
        out = TaskChanges(appends=[])
        cols: list[tuple[Any, ...]] = []
        # A task listed twice gets its last change (one row update and one append per task).
        latest = {row["task_id"]: (row, change) for row, change in changes}
        for row, change in latest.values():
            if row["state"] in ("labeled", "canceled") or row["gold"]:
                continue
            tid = row["task_id"]
            signals = pb.TaskSignals()
            signals.CopyFrom(change.signals)
            if signals.class_id in high_stakes:
                signals.high_stakes = True
            pool_id, rule, reason = row["pool_id"], row["route_rule"], row["route_reason"]
            events: list[NewEvent] = []
            if pools is not None and row["active"] == 0 and row["submitted"] == 0:
                try:
                    d: RouteDecision | None = safe_route(
                        signals_from_pb(signals), ruleset, _without(pools, pool_id)
                    )
                except NoPoolAvailable as exc:
                    if not keep_pool_when_unroutable:
                        raise FailedPrecondition(str(exc), reason="NO_POOL_AVAILABLE") from exc
                    log.warning("task %s stays in pool %s: %s", tid, pool_id, exc)
                    d = None
                if d is not None and d.pool_id != pool_id:
                    out.rerouted += 1
                    if pool_id in pools:
                        pools[pool_id] = _bump(pools[pool_id], -1)
                    pools[d.pool_id] = _bump(pools[d.pool_id])
                    events.append(
                        NewEvent.of(
                            ev.TaskRerouted(
                                project_id=pid,
                                task_id=str(tid),
                                from_pool_id=pool_id,
                                pool_id=d.pool_id,
                                route_rule=d.rule,
                                route_reason=d.reason,
                                signals=signals,
                                rules_version=ruleset.version,
                            )
                        )
                    )
                    pool_id, rule, reason = d.pool_id, d.rule, d.reason
            given = change.prelabels is not None
            cols.append(
                (
                    tid,
                    signals.SerializeToString(),
                    signals.class_id,
                    signals.priority,
                    signals.due_time.ToDatetime(UTC) if signals.HasField("due_time") else None,
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
                    StreamAppend(task_stream(pid, tid), row["stream_version"], events)
                )
        if cols:
            # One statement for the batch (a priority round can touch thousands of tasks).
            # NULL pre-labels / model keep the task's own.
            await conn.execute(
                f"UPDATE {self.t.tasks} t SET signals = x.signals, class_id = x.class_id,"
                " priority = x.priority, due_at = x.due_at, pool_id = x.pool_id,"
                " route_rule = x.route_rule, route_reason = x.route_reason,"
                " prelabels = coalesce(x.prelabels, t.prelabels),"
                " prelabel_model = coalesce(x.model, t.prelabel_model),"
                " prelabel_model_version = coalesce(x.model_version, t.prelabel_model_version),"
                " stream_version = t.stream_version + x.events, updated_at = $13"
                " FROM unnest($1::uuid[], $2::bytea[], $3::text[], $4::float8[],"
                " $5::timestamptz[], $6::text[], $7::text[], $8::text[], $9::bytea[], $10::text[],"
                " $11::text[], $12::int[]) AS x(task_id, signals, class_id, priority, due_at,"
                " pool_id, route_rule, route_reason, prelabels, model, model_version, events)"
                " WHERE t.task_id = x.task_id",
                *(list(c) for c in zip(*cols, strict=True)),
                self.clock(),
            )
        return out


def safe_route(signals: TaskSignals, ruleset: RuleSet, pools: dict[str, PoolInfo]) -> RouteDecision:
    """``route``, plus the one guarantee rules cannot express by order alone: high-stakes work
    never reaches a vendor pool unless a rule written for high-stakes work sends it there
    (when no in-house pool can take it, the rule engine falls through to the vendor defaults).
    """
    decision = route(signals, ruleset, pools)
    if signals.high_stakes and pools[decision.pool_id].kind == "vendor":
        rule = next((r for r in ruleset.rules if r.name == decision.rule), None)
        if rule is None or rule.when.high_stakes is not True:
            raise NoPoolAvailable(
                f"high-stakes task (class {signals.class_id!r}) has no active in-house pool"
                " qualified for it; add one, or a rule for high_stakes that names vendor pools"
            )
    return decision


def _bump(p: PoolInfo, by: int = 1) -> PoolInfo:
    return replace(p, outstanding=p.outstanding + by)


def _without(pools: dict[str, PoolInfo], pool_id: str) -> dict[str, PoolInfo]:
    """Pools as if the task were not counted in its current pool (re-routing it)."""
    out = dict(pools)
    if pool_id in out:
        out[pool_id] = _bump(out[pool_id], -1)
    return out
