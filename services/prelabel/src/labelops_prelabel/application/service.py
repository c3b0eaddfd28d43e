"""The prelabel service's application layer: models, pre-labels, ROI and active learning.

Streaming path (one transaction per event, exactly once through libs/bus):

- routing ``TaskCreated`` registers the task as *pending* a pre-label; ``TaskCanceled`` /
  ``TaskReopened`` follow its state; ``LabelSubmitted`` is one ROI observation (the seconds the
  annotator spent, and what they did with the pre-label) and, every few observations of a class,
  re-evaluates that class's switch (``PreLabelingDisabled`` / ``PreLabelingEnabled``);
- qa ``LabelAccepted`` is the item's label: training data, and the count that makes a built-in
  model due for retraining every N labels (model in the loop);
- curation ``ItemEmbedded`` stores the item's embedding (what built-in models learn from).

Loops (``workers.py``) pre-label pending tasks with the project's serving model
(``PreLabelProposed`` → routing attaches the labels to the task's offers) and train due models
(``ModelTrained``, then a ``PriorityScored`` round → routing orders its queues). A model server
that hangs or answers garbage only leaves tasks without pre-labels: routing offers every task
whether or not a pre-label ever arrives.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import numpy as np
from labelops.curation.v1 import events_pb2 as cev
from labelops.labels.v1 import label_pb2 as L
from labelops.prelabel.v1 import events_pb2 as ev
from labelops.prelabel.v1 import prelabel_pb2 as pb
from labelops.qa.v1 import events_pb2 as qev
from labelops.routing.v1 import events_pb2 as rev
from labelops.routing.v1 import workforce_pb2 as wpb
from labelops_bus.runner import MessageContext, PoisonMessage
from labelops_core.context import current_principal
from labelops_core.errors import (
    ConcurrencyConflict,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from labelops_core.ids import new_id
from labelops_eventstore import ANY_VERSION, NO_STREAM, EventStore, NewEvent
from labelops_eventstore.store import StreamAppend, request_fingerprint

from ..adapters import metrics
from ..adapters.model_server import ItemRef, ModelServerClient, PredictionResult
from ..adapters.tables import Tables
from ..config import Settings
from ..domain import active
from ..domain.models import RetrainPolicy, TrainedModel, out_of_sample_proba, train
from ..domain.roi import Observation, Outcome, RoiPolicy, class_roi, decide
from .convert import (
    BUILTIN,
    DIVERSITIES,
    KIND_PB,
    KINDS,
    STRATEGIES,
    metrics_pb,
    primary_class,
    roi_pb,
    vector_bytes,
    vector_of,
)

log = logging.getLogger(__name__)

TASKS = ("classify", "detect", "segment", "spans")
OUTCOMES = {
    wpb.PRELABEL_OUTCOME_NONE: None,
    wpb.PRELABEL_OUTCOME_ACCEPTED: Outcome.ACCEPTED,
    wpb.PRELABEL_OUTCOME_EDITED: Outcome.EDITED,
    wpb.PRELABEL_OUTCOME_REPLACED: Outcome.REPLACED,
}
DEFAULT_RETRAIN_EVERY = 50
DEFAULT_BATCH = 100
#: One PriorityScored event carries at most this many tasks (Kafka's default 1 MiB record).
PRIORITIES_PER_EVENT = 5000
#: Open tasks one scoring round looks at, and labeled items it uses as k-center anchors.
MAX_SCORED = 50_000
MAX_ANCHORS = 5_000
SCORERS = {
    "least_confidence": active.least_confidence,
    "margin": active.margin,
    "entropy": active.entropy,
}


def model_stream(model_id: str) -> str:
    return f"models/{model_id}"


def task_stream(project_id: str, task_id: str) -> str:
    return f"projects/{project_id}/tasks/{task_id}/prelabels"


def project_stream(project_id: str) -> str:
    return f"projects/{project_id}/prelabeling"


def priorities_stream(project_id: str) -> str:
    return f"projects/{project_id}/priorities"


def deny_vendor() -> None:
    """Models, priorities and ROI are for the organisation's people and services."""
    p = current_principal()
    if p is not None and p.kind == "vendor":
        raise PermissionDenied(
            f"vendor {p.subject} may not use the prelabel service", reason="VENDOR_NOT_ALLOWED"
        )


def require_manager() -> None:
    """Registering models, training and switching pre-labels: managers and services."""
    deny_vendor()
    p = current_principal()
    if p is not None and not (p.has_role("manager") or p.kind == "service"):
        raise PermissionDenied(
            f"{p.kind} {p.subject} may not manage pre-labeling", reason="PRELABEL_ADMIN_REQUIRED"
        )


def _actor() -> str:
    p = current_principal()
    return p.subject if p is not None else "operator"


def _explored(task_id: str, rate: float) -> bool:
    """Deterministic sample of ``rate`` of the tasks (the same answer on every replay)."""
    h = int.from_bytes(hashlib.sha256(task_id.encode()).digest()[:8], "big")
    return h / 2**64 < rate


@dataclass
class Pending:
    task_id: str
    project_id: str
    item_id: str
    item_uri: str
    context: L.ItemContext
    attempts: int


@dataclass
class Proposal:
    """What one model call decided for one pending task."""

    task_id: str
    state: str  # proposed | skipped | failed | pending (try again)
    reason: str = ""
    predicted_class: str = ""
    confidence: float = 0.0
    labels: Sequence[L.Label] = ()
    probabilities: dict[str, float] | None = None


class PrelabelService:
    def __init__(
        self,
        store: EventStore,
        tables: Tables,
        settings: Settings,
        *,
        client_factory: Callable[[str], ModelServerClient] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.t = tables
        self.s = settings
        self.clock = clock
        self.policy = RoiPolicy(
            min_samples_each=settings.roi_min_samples,
            min_saving_s=settings.roi_min_saving_s,
            hysteresis_s=settings.roi_hysteresis_s,
            n_boot=settings.roi_n_boot,
        )
        self._client_factory = client_factory or self._default_client
        self._clients: dict[str, ModelServerClient] = {}
        self._trained: dict[tuple[str, str], TrainedModel] = {}
        #: The version an external server last reported (what its pre-labels carry).
        self._external_versions: dict[str, str] = {}

    # --- model servers and trained versions ---------------------------------------------------

    def _default_client(self, url: str) -> ModelServerClient:
        return ModelServerClient(
            url,
            timeout_s=self.s.model_timeout_s,
            retries=self.s.model_retries,
            breaker_failures=self.s.model_breaker_failures,
            breaker_reset_s=self.s.model_breaker_reset_s,
        )

    def client(self, url: str) -> ModelServerClient:
        """One client (and circuit breaker) per model server URL."""
        c = self._clients.get(url)
        if c is None:
            c = self._clients[url] = self._client_factory(url)
        return c

    async def close(self) -> None:
        for c in self._clients.values():
            await c.close()
        self._clients.clear()

    async def trained(self, model_id: str, version: str) -> TrainedModel:
        key = (model_id, version)
        m = self._trained.get(key)
        if m is None:
            blob = await self.store.pool.fetchval(
                f"SELECT blob FROM {self.t.model_versions} WHERE model_id = $1 AND version = $2",
                model_id,
                version,
            )
            if blob is None:
                raise NotFound(f"model {model_id} has no version {version}")
            m = TrainedModel.from_bytes(blob)
            self._trained = {k: v for k, v in self._trained.items() if k[0] != model_id}
            self._trained[key] = m
        return m

    # --- registry -------------------------------------------------------------------------------

    def _model_pb(self, r: asyncpg.Record, current: asyncpg.Record | None = None) -> pb.Model:
        m = pb.Model(
            model_id=r["model_id"],
            project_id=r["project_id"],
            name=r["name"],
            kind=KIND_PB[r["kind"]],
            classes=list(r["classes"]),
            url=r["url"],
            task=r["task"],
            vector_space=r["vector_space"],
            retrain_every=r["retrain_every"],
            min_confidence=r["min_confidence"],
            serving=r["serving"],
        )
        m.create_time.FromDatetime(r["created_at"])
        if current is not None:
            m.current.CopyFrom(_version_pb(current))
        return m

    async def register_model(self, req: pb.RegisterModelRequest) -> pb.RegisterModelResponse:
        require_manager()
        fp = request_fingerprint("RegisterModel", req.SerializeToString(deterministic=True))
        if (
            earlier := await self.store.earlier_response(
                req.request_id, fp, pb.RegisterModelResponse
            )
        ) is not None:
            return earlier
        bad: list[FieldViolation] = []
        if not req.project_id:
            bad.append(FieldViolation("project_id", "required"))
        if not req.name or len(req.name) > 200:
            bad.append(FieldViolation("name", "required, at most 200 characters"))
        kind = KINDS.get(req.kind)
        if kind is None:
            bad.append(FieldViolation("kind", "choose LOGISTIC, KNN_PROPAGATION or EXTERNAL"))
        classes = list(req.classes)
        if not classes:
            bad.append(FieldViolation("classes", "give the classes the model predicts"))
        elif len(set(classes)) != len(classes) or any(not c for c in classes):
            bad.append(FieldViolation("classes", "class ids must be unique and non-empty"))
        if kind == "external":
            try:
                url = httpx.URL(req.url)
                if url.scheme not in ("http", "https") or not url.host:
                    raise ValueError("not http(s)")
            except (httpx.InvalidURL, ValueError):
                bad.append(FieldViolation("url", "an http(s):// URL of the model server"))
            if req.task not in TASKS:
                bad.append(FieldViolation("task", f"one of {', '.join(TASKS)}"))
        elif req.url:
            bad.append(FieldViolation("url", "only external models have a URL"))
        if req.retrain_every < 0:
            bad.append(FieldViolation("retrain_every", "must be >= 0 (0 = default 50)"))
        if not 0.0 <= req.min_confidence <= 1.0:
            bad.append(FieldViolation("min_confidence", "must lie in [0, 1]"))
        if bad:
            raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
        assert kind is not None
        model_id = new_id()
        now = self.clock()
        async with self.store.transaction() as conn:
            await conn.execute(
                f"UPDATE {self.t.models} SET serving = false WHERE project_id = $1",
                req.project_id,
            )
            row = await conn.fetchrow(
                f"INSERT INTO {self.t.models} (model_id, project_id, name, kind, classes, url,"
                " task, vector_space, retrain_every, min_confidence, serving, stream_version,"
                " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, true, 1, $11)"
                " RETURNING *",
                model_id,
                req.project_id,
                req.name,
                kind,
                classes,
                req.url,
                req.task if kind == "external" else "classify",
                req.vector_space,
                req.retrain_every or DEFAULT_RETRAIN_EVERY,
                req.min_confidence,
                now,
            )
            model = self._model_pb(row)
            resp = pb.RegisterModelResponse(model=model)
            await self.store.append(
                model_stream(model_id),
                NO_STREAM,
                [NewEvent.of(ev.ModelRegistered(model=model))],
                request_id=req.request_id or None,
                fingerprint=fp,
                response=resp.SerializeToString(),
                conn=conn,
            )
            if kind != "external":
                await self._mark_due(conn, req.project_id)
        return resp

    async def _model_row(self, conn: Any, model_id: str) -> asyncpg.Record:
        row = await conn.fetchrow(f"SELECT * FROM {self.t.models} WHERE model_id = $1", model_id)
        if row is None:
            raise NotFound(f"model {model_id} not found", reason="MODEL_NOT_FOUND")
        return row

    async def _current(self, conn: Any, r: asyncpg.Record) -> asyncpg.Record | None:
        if not r["current_version"]:
            return None
        row: asyncpg.Record | None = await conn.fetchrow(
            f"SELECT * FROM {self.t.model_versions} WHERE model_id = $1 AND version = $2",
            r["model_id"],
            r["current_version"],
        )
        return row

    async def get_model(self, req: pb.GetModelRequest) -> pb.GetModelResponse:
        deny_vendor()
        pool = self.store.pool
        r = await self._model_row(pool, req.model_id)
        versions = await pool.fetch(
            f"SELECT * FROM {self.t.model_versions} WHERE model_id = $1"
            " ORDER BY created_at DESC, version",
            req.model_id,
        )
        return pb.GetModelResponse(
            model=self._model_pb(r, await self._current(pool, r)),
            versions=[_version_pb(v) for v in versions],
        )

    async def list_models(self, req: pb.ListModelsRequest) -> pb.ListModelsResponse:
        deny_vendor()
        pool = self.store.pool
        rows = await pool.fetch(
            f"SELECT * FROM {self.t.models} WHERE ($1 = '' OR project_id = $1)"
            " ORDER BY created_at DESC, model_id",
            req.project_id,
        )
        return pb.ListModelsResponse(
            models=[self._model_pb(r, await self._current(pool, r)) for r in rows]
        )

    async def serving(self, conn: Any, project_id: str) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await conn.fetchrow(
            f"SELECT * FROM {self.t.models} WHERE project_id = $1 AND serving", project_id
        )
        return row

    # --- training ------------------------------------------------------------------------------

    async def _mark_due(self, conn: Any, project_id: str) -> None:
        """Flag the project's serving built-in model when enough new labels arrived."""
        m = await self.serving(conn, project_id)
        if m is None or m["kind"] == "external" or m["train_due"]:
            return
        n = await conn.fetchval(
            f"SELECT labels FROM {self.t.project_labels} WHERE project_id = $1", project_id
        )
        policy = RetrainPolicy(
            every_n_labels=m["retrain_every"], min_labels=self.s.min_labels_to_train
        )
        if policy.due(int(n or 0), m["trained_on"]):
            await conn.execute(
                f"UPDATE {self.t.models} SET train_due = true WHERE model_id = $1", m["model_id"]
            )

    async def due_models(self) -> list[str]:
        rows = await self.store.pool.fetch(
            f"SELECT model_id FROM {self.t.models} WHERE train_due AND serving ORDER BY created_at"
        )
        return [r["model_id"] for r in rows]

    async def _space(
        self,
        conn: Any,
        m: asyncpg.Record | None,
        project_id: str,
        *,
        or_open_tasks: bool = False,
    ) -> str | None:
        """The vector space to work in: the model's as registered (fixed at its first
        training), else the most common one among the project's labeled items, else (with
        ``or_open_tasks``, for scoring before any label) among its tasks' items."""
        if m is not None and m["vector_space"]:
            return str(m["vector_space"])
        among = [self.t.labels] + ([self.t.tasks] if or_open_tasks else [])
        for table in among:
            space: str | None = await conn.fetchval(
                f"SELECT e.vector_space FROM {self.t.embeddings} e JOIN {table} x"
                " ON x.item_id = e.item_id WHERE x.project_id = $1"
                " GROUP BY e.vector_space ORDER BY count(*) DESC, e.vector_space LIMIT 1",
                project_id,
            )
            if space is not None:
                return space
        return None

    async def train_model(self, req: pb.TrainModelRequest) -> pb.TrainModelResponse:
        require_manager()
        fp = request_fingerprint("TrainModel", req.SerializeToString(deterministic=True))
        if (
            earlier := await self.store.earlier_response(req.request_id, fp, pb.TrainModelResponse)
        ) is not None:
            return earlier
        version = await self.train(req.model_id, request_id=req.request_id or None, fp=fp)
        return pb.TrainModelResponse(version=version)

    async def train(
        self, model_id: str, *, request_id: str | None = None, fp: str = ""
    ) -> pb.ModelVersion:
        """Train a new version of a built-in model on the project's accepted labels."""
        pool = self.store.pool
        m = await self._model_row(pool, model_id)
        kind = BUILTIN.get(m["kind"])
        if kind is None:
            raise FailedPrecondition(
                f"model {model_id} is served by {m['url']}; only built-in models train here",
                reason="MODEL_NOT_TRAINABLE",
            )
        space = await self._space(pool, m, m["project_id"])
        classes = list(m["classes"])
        rows = (
            await pool.fetch(
                f"SELECT l.item_id, l.class_id, e.vector FROM {self.t.labels} l"
                f" JOIN {self.t.embeddings} e ON e.item_id = l.item_id AND e.vector_space = $2"
                " WHERE l.project_id = $1 AND l.class_id = ANY($3::text[]) ORDER BY l.item_id",
                m["project_id"],
                space,
                classes,
            )
            if space is not None
            else []
        )
        if len(rows) < 2:
            await pool.execute(
                f"UPDATE {self.t.models} SET train_due = false WHERE model_id = $1", model_id
            )
            raise FailedPrecondition(
                f"model {model_id}: {len(rows)} accepted label(s) with embeddings in the model's"
                " classes; at least 2 are needed",
                reason="NOT_ENOUGH_LABELS",
            )
        X = np.vstack([vector_of(r["vector"]) for r in rows])
        y = [r["class_id"] for r in rows]
        Xu = None
        if kind.value == "knn_propagation":
            unl = await pool.fetch(
                f"SELECT e.vector FROM {self.t.tasks} t JOIN {self.t.embeddings} e"
                " ON e.item_id = t.item_id AND e.vector_space = $2"
                " WHERE t.project_id = $1 AND t.state = 'open' ORDER BY t.task_id LIMIT $3",
                m["project_id"],
                space,
                MAX_SCORED,
            )
            if unl:
                Xu = np.vstack([vector_of(r["vector"]) for r in unl])
        n_labels = await pool.fetchval(
            f"SELECT labels FROM {self.t.project_labels} WHERE project_id = $1", m["project_id"]
        )
        started = asyncio.get_running_loop().time()
        trained = await asyncio.to_thread(train, kind, X, y, classes=classes, X_unlabeled=Xu)
        metrics.trainings.record(asyncio.get_running_loop().time() - started, {"kind": m["kind"]})
        now = self.clock()
        held_out = metrics_pb(trained.metrics)
        version = pb.ModelVersion(version=trained.version, trained_on=len(rows), metrics=held_out)
        version.create_time.FromDatetime(now)
        async with self.store.transaction() as conn:
            cur = await self._model_row(conn, model_id)
            await conn.execute(
                f"UPDATE {self.t.models} SET train_due = false, trained_on = $2,"
                " vector_space = $3 WHERE model_id = $1",
                model_id,
                int(n_labels or len(rows)),
                space,
            )
            if cur["current_version"] == trained.version:
                return version  # same labels, same embeddings: the same model
            await conn.execute(
                f"INSERT INTO {self.t.model_versions} (model_id, version, trained_on, metrics,"
                " blob, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                model_id,
                trained.version,
                len(rows),
                held_out.SerializeToString(),
                trained.to_bytes(),
                now,
            )
            await conn.execute(
                f"UPDATE {self.t.models} SET current_version = $2,"
                " stream_version = stream_version + 1 WHERE model_id = $1",
                model_id,
                trained.version,
            )
            await self.store.append(
                model_stream(model_id),
                cur["stream_version"],
                [
                    NewEvent.of(
                        ev.ModelTrained(
                            model_id=model_id,
                            project_id=m["project_id"],
                            version=version,
                            kind=KIND_PB[m["kind"]],
                            classes=classes,
                        )
                    )
                ],
                request_id=request_id,
                fingerprint=fp,
                response=pb.TrainModelResponse(version=version).SerializeToString(),
                conn=conn,
            )
        self._trained[(model_id, trained.version)] = trained
        log.info(
            "model %s (%s) trained version %s on %d labels: held-out accuracy %s",
            model_id,
            m["kind"],
            trained.version,
            len(rows),
            trained.metrics.accuracy,
        )
        return version

    # --- consumers -----------------------------------------------------------------------------

    async def on_routing_event(self, ctx: MessageContext, conn: asyncpg.Connection) -> None:
        env = ctx.envelope
        if env.type == rev.TaskCreated.DESCRIPTOR.full_name:
            e = rev.TaskCreated.FromString(env.payload)
            await conn.execute(
                f"INSERT INTO {self.t.tasks} (task_id, project_id, item_id, item_uri, modality,"
                " context, gold, state, prelabel_state, prelabel_reason, created_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $10)"
                # Already there: QA's topic was read ahead of routing's and the task is labeled.
                " ON CONFLICT (task_id) DO NOTHING",
                e.task_id,
                e.project_id,
                e.item_id,
                e.item_uri,
                e.modality,
                e.context.SerializeToString(),
                e.gold,
                "skipped" if e.gold else "pending",
                "gold task" if e.gold else "",
                ctx.timestamp,
            )
        elif env.type == rev.TaskCanceled.DESCRIPTOR.full_name:
            c = rev.TaskCanceled.FromString(env.payload)
            await conn.execute(
                f"UPDATE {self.t.tasks} SET state = 'canceled' WHERE task_id = $1", c.task_id
            )
        elif env.type == rev.TaskReopened.DESCRIPTOR.full_name:
            o = rev.TaskReopened.FromString(env.payload)
            await conn.execute(
                f"UPDATE {self.t.tasks} SET state = 'open' WHERE task_id = $1", o.task_id
            )
        elif env.type == rev.LabelSubmitted.DESCRIPTOR.full_name:
            await self._observe(conn, rev.LabelSubmitted.FromString(env.payload), ctx.timestamp)

    async def _observe(self, conn: asyncpg.Connection, e: Any, at: datetime) -> None:
        if e.prelabel_outcome not in OUTCOMES:
            return  # the worker did not say whether a pre-label was shown: no evidence
        class_id = primary_class(e.labels)
        if not class_id or e.time_spent_ms < 0:
            return
        outcome = OUTCOMES[e.prelabel_outcome]
        await conn.execute(
            f"INSERT INTO {self.t.roi_observations} (project_id, class_id, prelabeled, outcome,"
            " seconds, observed_at) VALUES ($1, $2, $3, $4, $5, $6)",
            e.project_id,
            class_id,
            outcome is not None,
            outcome.value if outcome is not None else None,
            e.time_spent_ms / 1000.0,
            at,
        )
        row = await conn.fetchrow(
            f"INSERT INTO {self.t.class_switches} AS s (project_id, class_id, since_eval)"
            " VALUES ($1, $2, 1) ON CONFLICT (project_id, class_id)"
            " DO UPDATE SET since_eval = s.since_eval + 1 RETURNING since_eval, enabled",
            e.project_id,
            class_id,
        )
        if row["since_eval"] >= self.s.roi_eval_every:
            await self._evaluate(conn, e.project_id, class_id, row["enabled"])

    async def _stats(self, conn: Any, project_id: str, class_id: str) -> Any:
        rows = await conn.fetch(
            f"(SELECT prelabeled, outcome, seconds FROM {self.t.roi_observations}"
            " WHERE project_id = $1 AND class_id = $2 AND prelabeled ORDER BY id DESC LIMIT $3)"
            f" UNION ALL (SELECT prelabeled, outcome, seconds FROM {self.t.roi_observations}"
            " WHERE project_id = $1 AND class_id = $2 AND NOT prelabeled"
            " ORDER BY id DESC LIMIT $3)",
            project_id,
            class_id,
            self.s.roi_window,
        )
        obs = [
            Observation(
                class_id,
                r["prelabeled"],
                Outcome(r["outcome"]) if r["outcome"] else None,
                r["seconds"],
            )
            for r in rows
        ]
        pol = self.policy
        return class_roi(class_id, obs, confidence=pol.confidence, n_boot=pol.n_boot, seed=pol.seed)

    async def _evaluate(
        self, conn: asyncpg.Connection, project_id: str, class_id: str, enabled: bool
    ) -> None:
        stats = await self._stats(conn, project_id, class_id)
        d = decide(stats, enabled, self.policy)
        await conn.execute(
            f"UPDATE {self.t.class_switches} SET since_eval = 0, enabled = $3,"
            " reason = CASE WHEN $4 THEN $5 ELSE reason END"
            " WHERE project_id = $1 AND class_id = $2",
            project_id,
            class_id,
            d.enabled,
            d.changed,
            d.reason,
        )
        if not d.changed:
            return
        evidence = roi_pb(stats, d.enabled, d.reason)
        event: Any = (ev.PreLabelingEnabled if d.enabled else ev.PreLabelingDisabled)(
            project_id=project_id, class_id=class_id, reason=d.reason, evidence=evidence
        )
        log.info(
            "project %s class %s: pre-labeling %s: %s",
            project_id,
            class_id,
            "on" if d.enabled else "off",
            d.reason,
        )
        await self.store.append(
            project_stream(project_id), ANY_VERSION, [NewEvent.of(event)], conn=conn
        )

    async def on_qa_event(self, ctx: MessageContext, conn: asyncpg.Connection) -> None:
        env = ctx.envelope
        if env.type != qev.LabelAccepted.DESCRIPTOR.full_name:
            return
        e = qev.LabelAccepted.FromString(env.payload)
        class_id = primary_class(e.labels)
        if not e.project_id or not e.item_id:
            raise PoisonMessage("LabelAccepted without project or item")
        # An upsert, not an UPDATE: consumers of different topics run concurrently, and an
        # UPDATE racing routing's TaskCreated insert would miss it (each transaction blind to
        # the other's row) and leave a labeled task open for pre-labels. Both sides insert
        # the same key, so the unique index orders them.
        await conn.execute(
            f"INSERT INTO {self.t.tasks} (task_id, project_id, item_id, item_uri, modality,"
            " context, gold, state, prelabel_state, prelabel_reason, created_at)"
            " VALUES ($1, $2, $3, '', '', ''::bytea, false, 'labeled', 'skipped',"
            " 'labeled before its TaskCreated arrived', $4)"
            " ON CONFLICT (task_id) DO UPDATE SET state = 'labeled'",
            e.task_id,
            e.project_id,
            e.item_id,
            ctx.timestamp,
        )
        if not class_id:
            return
        new = await conn.fetchval(
            f"INSERT INTO {self.t.labels} AS l (project_id, item_id, task_id, class_id,"
            " accepted_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (project_id, item_id)"
            " DO UPDATE SET task_id = $3, class_id = $4, accepted_at = $5"
            " RETURNING (xmax = 0)",
            e.project_id,
            e.item_id,
            e.task_id,
            class_id,
            ctx.timestamp,
        )
        if new:
            await conn.execute(
                f"INSERT INTO {self.t.project_labels} AS p (project_id, labels) VALUES ($1, 1)"
                " ON CONFLICT (project_id) DO UPDATE SET labels = p.labels + 1",
                e.project_id,
            )
        await self._mark_due(conn, e.project_id)

    async def on_curation_event(self, ctx: MessageContext, conn: asyncpg.Connection) -> None:
        env = ctx.envelope
        if env.type != cev.ItemEmbedded.DESCRIPTOR.full_name:
            return
        e = cev.ItemEmbedded.FromString(env.payload)
        if not e.item_id or not e.vector:
            raise PoisonMessage("ItemEmbedded without item or vector")
        await conn.execute(
            f"INSERT INTO {self.t.embeddings} (item_id, vector_space, dim, vector)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (item_id, vector_space)"
            " DO UPDATE SET dim = $3, vector = $4",
            e.item_id,
            e.vector_space,
            len(e.vector),
            vector_bytes(e.vector),
        )

    # --- pre-labels ----------------------------------------------------------------------------

    async def prelabel_round(self) -> int:
        """Pre-label one batch of pending tasks per serving model; returns tasks decided."""
        pool = self.store.pool
        models = await pool.fetch(
            f"SELECT m.* FROM {self.t.models} m WHERE m.serving"
            " AND (m.kind = 'external' OR m.current_version <> '')"
            f" AND EXISTS (SELECT 1 FROM {self.t.tasks} t WHERE t.project_id = m.project_id"
            " AND t.prelabel_state = 'pending' AND t.state = 'open')"
        )
        done = 0
        for m in models:
            rows = await pool.fetch(
                f"SELECT t.* FROM {self.t.tasks} t WHERE t.project_id = $1"
                " AND t.prelabel_state = 'pending' AND t.state = 'open'"
                f" AND ($2 OR EXISTS (SELECT 1 FROM {self.t.embeddings} e"
                " WHERE e.item_id = t.item_id AND e.vector_space = $3))"
                " ORDER BY t.created_at, t.task_id LIMIT $4",
                m["project_id"],
                m["kind"] == "external",
                m["vector_space"],
                self.s.prelabel_batch,
            )
            if not rows:
                continue
            tasks = [
                Pending(
                    r["task_id"],
                    r["project_id"],
                    r["item_id"],
                    r["item_uri"],
                    L.ItemContext.FromString(r["context"]),
                    r["attempts"],
                )
                for r in rows
            ]
            if m["kind"] == "external":
                proposals = await self._external(m, tasks)
            else:
                proposals = await self._builtin(m, tasks)
            switches = await self._switches(pool, m["project_id"])
            decided = [self._gate(m, p, switches) for p in proposals]
            done += await self._commit(m, tasks, decided)
        return done

    async def _builtin(self, m: asyncpg.Record, tasks: list[Pending]) -> list[Proposal]:
        trained = await self.trained(m["model_id"], m["current_version"])
        vecs = await self._vectors(self.store.pool, [t.item_id for t in tasks], m["vector_space"])
        out: list[Proposal] = []
        usable = [
            t for t in tasks if t.item_id in vecs and len(vecs[t.item_id]) == trained.n_features
        ]
        for t in tasks:
            if t not in usable:
                out.append(Proposal(t.task_id, "skipped", "embedding does not fit the model"))
        if usable:
            P = trained.predict_proba(np.vstack([vecs[t.item_id] for t in usable]))
            classes = [str(c) for c in trained.classes]
            for t, row in zip(usable, P, strict=True):
                j = int(np.argmax(row))
                probs = {c: float(p) for c, p in zip(classes, row, strict=True)}
                label = L.Label(
                    label_id="prelabel-0",
                    class_id=classes[j],
                    whole_item=L.WholeItem(),
                    confidence=float(row[j]),
                )
                out.append(
                    Proposal(t.task_id, "proposed", "", classes[j], float(row[j]), [label], probs)
                )
        return out

    async def _external(self, m: asyncpg.Record, tasks: list[Pending]) -> list[Proposal]:
        items = [
            ItemRef(
                t.item_id,
                t.item_uri,
                width=max(0, int(t.context.width)),
                height=max(0, int(t.context.height)),
            )
            for t in tasks
        ]
        result: PredictionResult = await self.client(m["url"]).predict(
            m["name"], items, list(m["classes"]), m["task"]
        )
        out: list[Proposal] = []
        for t in tasks:
            pred = result.predictions.get(t.item_id)
            if pred is None:
                reason = _text(result.no_prediction_reason(t.item_id) or "no prediction")
                # A failed call is tried once more in a later round; then the task goes on
                # without a pre-label (routing offers it either way).
                retry = result.error is not None and t.attempts + 1 < self.s.prelabel_attempts
                out.append(Proposal(t.task_id, "pending" if retry else "failed", reason[:500]))
                continue
            labels = pred.to_label_protos()
            top = pred.top_class
            if top is None and pred.labels:
                best = max(pred.labels, key=lambda lbl: lbl.confidence)
                top = (best.class_id, best.confidence)
            if top is None:
                out.append(Proposal(t.task_id, "skipped", "the server proposed nothing"))
                continue
            if not labels:
                labels = [
                    L.Label(
                        label_id="prelabel-0",
                        class_id=top[0],
                        whole_item=L.WholeItem(),
                        confidence=top[1],
                    )
                ]
            out.append(
                Proposal(
                    t.task_id,
                    "proposed",
                    "",
                    top[0],
                    float(top[1]),
                    labels,
                    dict(pred.class_probabilities),
                )
            )
        version = result.model_version
        if version:
            self._external_versions[m["model_id"]] = version
        return out

    async def _switches(self, conn: Any, project_id: str) -> dict[str, bool]:
        rows = await conn.fetch(
            f"SELECT class_id, enabled FROM {self.t.class_switches} WHERE project_id = $1",
            project_id,
        )
        return {r["class_id"]: r["enabled"] for r in rows}

    def _gate(self, m: asyncpg.Record, p: Proposal, switches: dict[str, bool]) -> Proposal:
        """Apply the model's confidence floor and the class's ROI switch."""
        if p.state != "proposed":
            return p
        if p.confidence < m["min_confidence"]:
            return Proposal(p.task_id, "skipped", f"confidence {p.confidence:.2f} below floor")
        if not switches.get(p.predicted_class, True) and not _explored(
            p.task_id, self.s.roi_explore_rate
        ):
            return Proposal(
                p.task_id, "skipped", f"pre-labeling is off for class {p.predicted_class}"
            )
        return p

    async def _commit(
        self, m: asyncpg.Record, tasks: list[Pending], proposals: list[Proposal]
    ) -> int:
        by_id = {t.task_id: t for t in tasks}
        version = (
            m["current_version"]
            if m["kind"] != "external"
            else self._external_versions.get(m["model_id"], "")
        )
        async with self.store.transaction() as conn:
            rows = {
                r["task_id"]: r
                for r in await conn.fetch(
                    f"SELECT task_id, prelabel_state, state, stream_version FROM {self.t.tasks}"
                    " WHERE task_id = ANY($1::text[]) ORDER BY task_id FOR UPDATE",
                    [p.task_id for p in proposals],
                )
            }
            appends: list[StreamAppend] = []
            decided = 0
            for p in proposals:
                r = rows.get(p.task_id)
                if r is None or r["prelabel_state"] != "pending" or r["state"] != "open":
                    continue  # decided meanwhile (another replica, or the task was labeled)
                t = by_id[p.task_id]
                proposed = p.state == "proposed"
                await conn.execute(
                    f"UPDATE {self.t.tasks} SET prelabel_state = $2, prelabel_reason = $3,"
                    " prelabel_class = $4, attempts = attempts + 1,"
                    " stream_version = stream_version + $5 WHERE task_id = $1",
                    p.task_id,
                    p.state,
                    p.reason,
                    p.predicted_class,
                    1 if proposed else 0,
                )
                metrics.prelabels.add(1, {"outcome": p.state})
                if p.state != "pending":
                    decided += 1
                if not proposed:
                    continue
                e = ev.PreLabelProposed(
                    project_id=t.project_id,
                    task_id=t.task_id,
                    item_id=t.item_id,
                    model_id=m["model_id"],
                    model_version=version,
                    labels=list(p.labels),
                    predicted_class=p.predicted_class,
                    confidence=p.confidence,
                )
                for c, v in (p.probabilities or {}).items():
                    e.probabilities[c] = v
                appends.append(
                    StreamAppend(
                        task_stream(t.project_id, t.task_id), r["stream_version"], [NewEvent.of(e)]
                    )
                )
            if appends:
                await self.store.append_streams(appends, conn=conn)
        return decided

    async def _vectors(
        self, conn: Any, item_ids: Sequence[str], space: str
    ) -> dict[str, np.ndarray]:
        rows = await conn.fetch(
            f"SELECT item_id, vector FROM {self.t.embeddings}"
            " WHERE item_id = ANY($1::text[]) AND vector_space = $2",
            list(item_ids),
            space,
        )
        return {r["item_id"]: vector_of(r["vector"]) for r in rows}

    async def pending_depth(self) -> int:
        n: int = await self.store.pool.fetchval(
            f"SELECT count(*) FROM {self.t.tasks}"
            " WHERE prelabel_state = 'pending' AND state = 'open'"
        )
        return n

    # --- queries / commands over predictions ---------------------------------------------------

    async def _probabilities(
        self, m: asyncpg.Record | None, item_ids: list[str], space: str
    ) -> tuple[str, dict[str, dict[str, float]], dict[str, str]]:
        """The serving model's probabilities for items: (version, by item, missing reasons)."""
        missing: dict[str, str] = {}
        out: dict[str, dict[str, float]] = {}
        if m is None:
            return "", out, dict.fromkeys(item_ids, "the project has no model")
        if m["kind"] == "external":
            result = await self.client(m["url"]).predict(
                m["name"], [ItemRef(i) for i in item_ids], list(m["classes"]), m["task"]
            )
            for i in item_ids:
                pred = result.predictions.get(i)
                if pred is None or not pred.class_probabilities:
                    missing[i] = result.no_prediction_reason(i) or "no class probabilities"
                else:
                    out[i] = {c: float(pred.class_probabilities.get(c, 0.0)) for c in m["classes"]}
            return result.model_version, out, missing
        if not m["current_version"]:
            return "", out, dict.fromkeys(item_ids, "the model is not trained yet")
        trained = await self.trained(m["model_id"], m["current_version"])
        vecs = await self._vectors(self.store.pool, item_ids, space)
        ok = [i for i in item_ids if i in vecs and len(vecs[i]) == trained.n_features]
        for i in item_ids:
            if i not in ok:
                missing[i] = "no embedding in the model's vector space"
        if ok:
            P = trained.predict_proba(np.vstack([vecs[i] for i in ok]))
            classes = [str(c) for c in trained.classes]
            for i, row in zip(ok, P, strict=True):
                out[i] = {c: float(p) for c, p in zip(classes, row, strict=True)}
        return m["current_version"], out, missing

    async def predict_items(self, req: pb.PredictItemsRequest) -> pb.PredictItemsResponse:
        deny_vendor()
        bad = []
        if not req.project_id:
            bad.append(FieldViolation("project_id", "required"))
        if not req.item_ids or len(req.item_ids) > 1000:
            bad.append(FieldViolation("item_ids", "give 1 to 1000 item ids"))
        if bad:
            raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
        m = await self.serving(self.store.pool, req.project_id)
        if m is None:
            raise FailedPrecondition(f"project {req.project_id} has no model", reason="NO_MODEL")
        ids = list(dict.fromkeys(req.item_ids))
        version, probs, missing = await self._probabilities(m, ids, m["vector_space"])
        resp = pb.PredictItemsResponse(model_id=m["model_id"], model_version=version)
        for i in ids:
            if i in probs:
                resp.predictions.add(item_id=i, probabilities=probs[i])
        for i, why in missing.items():
            resp.missing[i] = why
        return resp

    async def score_priorities(self, req: pb.ScorePrioritiesRequest) -> pb.ScorePrioritiesResponse:
        deny_vendor()
        bad = []
        if not req.project_id:
            bad.append(FieldViolation("project_id", "required"))
        if req.strategy not in STRATEGIES:
            bad.append(FieldViolation("strategy", "unknown strategy"))
        if req.diversity not in DIVERSITIES:
            bad.append(FieldViolation("diversity", "unknown diversity"))
        if req.batch_size < 0 or req.batch_size > 10_000:
            bad.append(FieldViolation("batch_size", "must lie in [0, 10000] (0 = 100)"))
        if bad:
            raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
        fp = request_fingerprint("ScorePriorities", req.SerializeToString(deterministic=True))
        if (
            earlier := await self.store.earlier_response(
                req.request_id, fp, pb.ScorePrioritiesResponse
            )
        ) is not None:
            return earlier
        return await self.score(
            req.project_id,
            STRATEGIES[req.strategy],
            DIVERSITIES[req.diversity],
            req.batch_size or DEFAULT_BATCH,
            request_id=req.request_id or None,
            fp=fp,
        )

    async def score(
        self,
        project_id: str,
        strategy: str,
        diversity: str,
        batch: int,
        *,
        request_id: str | None = None,
        fp: str = "",
    ) -> pb.ScorePrioritiesResponse:
        """Score the project's open tasks and publish the priorities (``PriorityScored``)."""
        pool = self.store.pool
        m = await self.serving(pool, project_id)
        space = await self._space(pool, m, project_id, or_open_tasks=True)
        rows = await pool.fetch(
            f"SELECT t.task_id, t.item_id, e.vector FROM {self.t.tasks} t"
            f" JOIN {self.t.embeddings} e ON e.item_id = t.item_id AND e.vector_space = $2"
            " WHERE t.project_id = $1 AND t.state = 'open' AND NOT t.gold"
            " ORDER BY t.task_id LIMIT $3",
            project_id,
            space or "",
            MAX_SCORED,
        )
        resp = pb.ScorePrioritiesResponse()
        if not rows:
            return resp
        item_ids = [r["item_id"] for r in rows]
        version, probs, _ = await self._probabilities(m, list(dict.fromkeys(item_ids)), space or "")
        n_classes = len(m["classes"]) if m is not None else 2
        uniform = [1.0 / n_classes] * n_classes
        P = np.array(
            [
                [probs[i][c] for c in m["classes"]] if m is not None and i in probs else uniform
                for i in item_ids
            ]
        )
        X = np.vstack([vector_of(r["vector"]) for r in rows]).astype(np.float64)
        anchors = await pool.fetch(
            f"SELECT e.vector FROM {self.t.labels} l JOIN {self.t.embeddings} e"
            " ON e.item_id = l.item_id AND e.vector_space = $2 WHERE l.project_id = $1"
            " ORDER BY l.accepted_at DESC LIMIT $3",
            project_id,
            space or "",
            MAX_ANCHORS,
        )
        labeled_X = (
            np.vstack([vector_of(a["vector"]) for a in anchors]).astype(np.float64)
            if anchors and len(anchors[0]["vector"]) // 4 == X.shape[1]
            else None
        )
        k = min(batch, len(rows))
        chosen, unc = await asyncio.to_thread(_select, P, X, k, strategy, diversity, labeled_X)
        composite = _rank01(unc)
        for pick, idx in enumerate(chosen):
            composite[idx] = 2.0 + (k - pick) / k
        prio = active.priorities(composite)
        resp.model_version = version
        for i, r in enumerate(rows):
            resp.priorities.add(
                task_id=r["task_id"],
                item_id=r["item_id"],
                priority=float(prio[i]),
                uncertainty=float(unc[i]) if m is not None and r["item_id"] in probs else 0.0,
            )
        ordered = sorted(resp.priorities, key=lambda p: -p.priority)
        del resp.priorities[:]
        resp.priorities.extend(ordered)
        strategy_pb = next(k for k, v in STRATEGIES.items() if v == strategy and k)
        diversity_pb = next(k for k, v in DIVERSITIES.items() if v == diversity and k)
        events = [
            NewEvent.of(
                ev.PriorityScored(
                    project_id=project_id,
                    model_id=m["model_id"] if m is not None else "",
                    model_version=version,
                    strategy=strategy_pb,
                    diversity=diversity_pb,
                    priorities=ordered[i : i + PRIORITIES_PER_EVENT],
                )
            )
            for i in range(0, len(ordered), PRIORITIES_PER_EVENT)
        ]
        # Rounds from the trainer and from callers may meet on the stream: an append after
        # the current end that loses the race is simply made again (the round is the same).
        for attempt in range(5):
            try:
                await self.store.append(
                    priorities_stream(project_id),
                    ANY_VERSION,
                    events,
                    request_id=request_id,
                    fingerprint=fp,
                    response=resp.SerializeToString(),
                )
                break
            except ConcurrencyConflict:
                if attempt == 4:
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))
        return resp

    # --- ROI --------------------------------------------------------------------------------------

    async def get_class_roi(self, req: pb.GetClassRoiRequest) -> pb.GetClassRoiResponse:
        deny_vendor()
        if not req.project_id:
            raise InvalidArgument(
                "project_id is required", [FieldViolation("project_id", "required")]
            )
        pool = self.store.pool
        switches = await pool.fetch(
            f"SELECT class_id, enabled, reason FROM {self.t.class_switches}"
            " WHERE project_id = $1 ORDER BY class_id",
            req.project_id,
        )
        resp = pb.GetClassRoiResponse()
        for s in switches:
            stats = await self._stats(pool, req.project_id, s["class_id"])
            d = decide(stats, s["enabled"], self.policy)
            resp.classes.append(roi_pb(stats, s["enabled"], s["reason"] or d.reason))
        return resp

    async def set_prelabeling(self, req: pb.SetPreLabelingRequest) -> pb.SetPreLabelingResponse:
        require_manager()
        bad = []
        if not req.project_id:
            bad.append(FieldViolation("project_id", "required"))
        if not req.class_id:
            bad.append(FieldViolation("class_id", "required"))
        if bad:
            raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
        fp = request_fingerprint("SetPreLabeling", req.SerializeToString(deterministic=True))
        if (
            earlier := await self.store.earlier_response(
                req.request_id, fp, pb.SetPreLabelingResponse
            )
        ) is not None:
            return earlier
        who = _actor()
        reason = req.reason or f"switched {'on' if req.enabled else 'off'} by {who}"
        async with self.store.transaction() as conn:
            await conn.execute(
                f"INSERT INTO {self.t.class_switches} AS s (project_id, class_id, enabled, reason)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (project_id, class_id)"
                " DO UPDATE SET enabled = $3, reason = $4, since_eval = 0",
                req.project_id,
                req.class_id,
                req.enabled,
                reason,
            )
            stats = await self._stats(conn, req.project_id, req.class_id)
            evidence = roi_pb(stats, req.enabled, reason)
            event: Any = (ev.PreLabelingEnabled if req.enabled else ev.PreLabelingDisabled)(
                project_id=req.project_id,
                class_id=req.class_id,
                reason=reason,
                evidence=evidence,
                switched_by=who,
            )
            resp = pb.SetPreLabelingResponse(class_roi=evidence)
            await self.store.append(
                project_stream(req.project_id),
                ANY_VERSION,
                [NewEvent.of(event)],
                request_id=req.request_id or None,
                fingerprint=fp,
                response=resp.SerializeToString(),
                conn=conn,
            )
        return resp

    # --- out-of-sample probabilities -------------------------------------------------------------

    async def out_of_sample(
        self, req: pb.GetOutOfSampleProbabilitiesRequest
    ) -> pb.GetOutOfSampleProbabilitiesResponse:
        deny_vendor()
        bad = []
        if not req.project_id:
            bad.append(FieldViolation("project_id", "required"))
        if req.folds != 0 and not 2 <= req.folds <= 20:
            bad.append(FieldViolation("folds", "must lie in [2, 20] (0 = 5)"))
        if bad:
            raise InvalidArgument(f"{len(bad)} invalid field(s)", bad)
        folds = req.folds or 5
        pool = self.store.pool
        m = await self.serving(pool, req.project_id)
        kind = BUILTIN.get(m["kind"]) if m is not None else None
        space = await self._space(pool, m, req.project_id)
        rows = await pool.fetch(
            f"SELECT l.item_id, l.task_id, l.class_id, e.vector FROM {self.t.labels} l"
            f" JOIN {self.t.embeddings} e ON e.item_id = l.item_id AND e.vector_space = $2"
            " WHERE l.project_id = $1 ORDER BY l.item_id",
            req.project_id,
            space or "",
        )
        if len(rows) < 2:
            raise FailedPrecondition(
                f"project {req.project_id} has {len(rows)} accepted label(s) with embeddings;"
                " at least 2 are needed",
                reason="NOT_ENOUGH_LABELS",
            )
        present = sorted({r["class_id"] for r in rows})
        classes = list(m["classes"]) if m is not None else present
        classes += [c for c in present if c not in classes]
        X = np.vstack([vector_of(r["vector"]) for r in rows])
        y = [r["class_id"] for r in rows]
        # An external model cannot be cross-validated here: the built-in logistic model on the
        # same embeddings stands in (what QA needs is probabilities blind to each label).
        use = kind if kind is not None else BUILTIN["logistic"]
        P = await asyncio.to_thread(out_of_sample_proba, use, X, y, classes=classes, folds=folds)
        name = m["name"] if m is not None else "builtin"
        resp = pb.GetOutOfSampleProbabilitiesResponse(
            model=f"{name}@oos-{use.value}-{folds}fold-{len(rows)}"
        )
        for r, row in zip(rows, P, strict=True):
            resp.predictions.add(
                item_id=r["item_id"],
                task_id=r["task_id"],
                probabilities={c: float(p) for c, p in zip(classes, row, strict=True)},
            )
        return resp


def _text(s: str) -> str:
    """What a model server said, safe for Postgres text (never a NUL)."""
    return s.replace("\x00", "\\x00")


def _version_pb(r: asyncpg.Record) -> pb.ModelVersion:
    v = pb.ModelVersion(
        version=r["version"],
        trained_on=r["trained_on"],
        metrics=pb.HeldOutMetrics.FromString(r["metrics"]),
    )
    v.create_time.FromDatetime(r["created_at"])
    return v


def _select(
    P: np.ndarray,
    X: np.ndarray,
    k: int,
    strategy: str,
    diversity: str,
    labeled_X: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    unc = SCORERS[strategy](P)
    chosen = active.select_batch(
        P,
        X,
        k,
        strategy=strategy,  # type: ignore[arg-type]
        diversity=diversity,  # type: ignore[arg-type]
        labeled_X=labeled_X,
    )
    return chosen, unc


def _rank01(scores: np.ndarray) -> np.ndarray:
    """Scores mapped to their rank in [0, 1) (ties by index), so the batch ranks above all."""
    n = scores.shape[0]
    out = np.zeros(n)
    if n:
        order = np.lexsort((np.arange(n), scores))
        out[order] = np.arange(n) / n
    return out
