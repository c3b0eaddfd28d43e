"""Tables ``models`` and ``model_versions`` (asyncpg), and the trained estimators in memory.

Every method takes ``conn``: the pool for a read on its own, the command's connection inside
its transaction (next to the event append), and the tenant every statement filters by (a model
of another tenant is NOT_FOUND, the same answer as a missing one).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from labelops.prelabel.v1 import prelabel_pb2 as pb
from labelops_core.errors import NotFound

from ..domain.model import Model
from ..domain.models import TrainedModel
from .tables import Tables

#: A pool or a connection (asyncpg's are untyped).
Conn = Any


def _model(r: Any) -> Model:
    return Model(
        model_id=r["model_id"],
        project_id=r["project_id"],
        name=r["name"],
        kind=r["kind"],
        classes=tuple(r["classes"]),
        url=r["url"],
        task=r["task"],
        vector_space=r["vector_space"],
        retrain_every=r["retrain_every"],
        min_confidence=r["min_confidence"],
        serving=r["serving"],
        created_at=r["created_at"],
        trained_on=r["trained_on"],
        current_version=r["current_version"],
        train_due=r["train_due"],
        stream_version=r["stream_version"],
        tenant_id=r["tenant_id"],
    )


class Models:
    """The registered models of every project, per tenant."""

    def __init__(self, tables: Tables) -> None:
        self.t = tables.models
        self.tasks = tables.tasks

    async def add_serving(self, conn: Conn, m: Model) -> Model:
        """Register ``m`` as its project's serving model (the previous one stops serving)."""
        await conn.execute(
            f"UPDATE {self.t} SET serving = false WHERE tenant_id = $1 AND project_id = $2",
            m.tenant_id,
            m.project_id,
        )
        row = await conn.fetchrow(
            f"INSERT INTO {self.t} (tenant_id, model_id, project_id, name, kind, classes, url,"
            " task, vector_space, retrain_every, min_confidence, serving, stream_version,"
            " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
            " RETURNING *",
            m.tenant_id,
            m.model_id,
            m.project_id,
            m.name,
            m.kind,
            list(m.classes),
            m.url,
            m.task,
            m.vector_space,
            m.retrain_every,
            m.min_confidence,
            m.serving,
            m.stream_version,
            m.created_at,
        )
        return _model(row)

    async def get(self, conn: Conn, tenant_id: str, model_id: str) -> Model:
        row = await conn.fetchrow(
            f"SELECT * FROM {self.t} WHERE tenant_id = $1 AND model_id = $2", tenant_id, model_id
        )
        if row is None:
            raise NotFound(f"model {model_id} not found", reason="MODEL_NOT_FOUND")
        return _model(row)

    async def serving(self, conn: Conn, tenant_id: str, project_id: str) -> Model | None:
        row = await conn.fetchrow(
            f"SELECT * FROM {self.t} WHERE tenant_id = $1 AND project_id = $2 AND serving",
            tenant_id,
            project_id,
        )
        return _model(row) if row is not None else None

    async def of_project(self, conn: Conn, tenant_id: str, project_id: str) -> list[Model]:
        """Newest first; every project's (of the tenant) with ``project_id`` ""."""
        rows = await conn.fetch(
            f"SELECT * FROM {self.t} WHERE tenant_id = $1 AND ($2 = '' OR project_id = $2)"
            " ORDER BY created_at DESC, model_id",
            tenant_id,
            project_id,
        )
        return [_model(r) for r in rows]

    async def project_of(self, conn: Conn, tenant_id: str, model_id: str) -> str | None:
        project: str | None = await conn.fetchval(
            f"SELECT project_id FROM {self.t} WHERE tenant_id = $1 AND model_id = $2",
            tenant_id,
            model_id,
        )
        return project

    async def ready_with_pending(self, conn: Conn) -> list[Model]:
        """Serving models of every tenant that can pre-label (external, or trained) and whose
        project (of the same tenant) has open tasks pending a pre-label."""
        rows = await conn.fetch(
            f"SELECT m.* FROM {self.t} m WHERE m.serving"
            " AND (m.kind = 'external' OR m.current_version <> '')"
            f" AND EXISTS (SELECT 1 FROM {self.tasks} t WHERE t.tenant_id = m.tenant_id"
            " AND t.project_id = m.project_id"
            " AND t.prelabel_state = 'pending' AND t.state = 'open')"
        )
        return [_model(r) for r in rows]

    # --- training ---------------------------------------------------------------------------

    async def due(self, conn: Conn) -> list[tuple[str, str]]:
        """Serving models of every tenant flagged for training, oldest first:
        ``(tenant_id, model_id)``."""
        rows = await conn.fetch(
            f"SELECT tenant_id, model_id FROM {self.t} WHERE train_due AND serving"
            " ORDER BY created_at"
        )
        return [(r["tenant_id"], r["model_id"]) for r in rows]

    async def mark_due(self, conn: Conn, tenant_id: str, model_id: str) -> None:
        await conn.execute(
            f"UPDATE {self.t} SET train_due = true WHERE tenant_id = $1 AND model_id = $2",
            tenant_id,
            model_id,
        )

    async def clear_due(self, conn: Conn, tenant_id: str, model_id: str) -> None:
        await conn.execute(
            f"UPDATE {self.t} SET train_due = false WHERE tenant_id = $1 AND model_id = $2",
            tenant_id,
            model_id,
        )

    async def trained(
        self, conn: Conn, tenant_id: str, model_id: str, labels: int, vector_space: str
    ) -> None:
        """A training ran at ``labels`` accepted labels, in ``vector_space`` (fixed from now)."""
        await conn.execute(
            f"UPDATE {self.t} SET train_due = false, trained_on = $3,"
            " vector_space = $4 WHERE tenant_id = $1 AND model_id = $2",
            tenant_id,
            model_id,
            labels,
            vector_space,
        )

    async def set_current(self, conn: Conn, tenant_id: str, model_id: str, version: str) -> None:
        """``version`` serves now (one more event on the model's stream)."""
        await conn.execute(
            f"UPDATE {self.t} SET current_version = $3,"
            " stream_version = stream_version + 1 WHERE tenant_id = $1 AND model_id = $2",
            tenant_id,
            model_id,
            version,
        )


def _version(r: Any) -> pb.ModelVersion:
    v = pb.ModelVersion(
        version=r["version"],
        trained_on=r["trained_on"],
        metrics=pb.HeldOutMetrics.FromString(r["metrics"]),
    )
    v.create_time.FromDatetime(r["created_at"])
    return v


class ModelVersions:
    """Trained versions of built-in models (the serialized estimator lives only here)."""

    def __init__(self, tables: Tables) -> None:
        self.t = tables.model_versions

    async def add(
        self,
        conn: Conn,
        m: Model,
        version: pb.ModelVersion,
        trained: TrainedModel,
        created_at: datetime,
    ) -> None:
        await conn.execute(
            f"INSERT INTO {self.t} (tenant_id, model_id, version, trained_on, metrics,"
            " blob, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            m.tenant_id,
            m.model_id,
            version.version,
            version.trained_on,
            version.metrics.SerializeToString(),
            trained.to_bytes(),
            created_at,
        )

    async def of_model(self, conn: Conn, m: Model) -> list[pb.ModelVersion]:
        """Newest first."""
        rows = await conn.fetch(
            f"SELECT * FROM {self.t} WHERE tenant_id = $1 AND model_id = $2"
            " ORDER BY created_at DESC, version",
            m.tenant_id,
            m.model_id,
        )
        return [_version(r) for r in rows]

    async def current(self, conn: Conn, m: Model) -> pb.ModelVersion | None:
        if not m.current_version:
            return None
        row = await conn.fetchrow(
            f"SELECT * FROM {self.t} WHERE tenant_id = $1 AND model_id = $2 AND version = $3",
            m.tenant_id,
            m.model_id,
            m.current_version,
        )
        return _version(row) if row is not None else None

    async def blob(self, conn: Conn, m: Model, version: str) -> bytes | None:
        blob: bytes | None = await conn.fetchval(
            f"SELECT blob FROM {self.t} WHERE tenant_id = $1 AND model_id = $2 AND version = $3",
            m.tenant_id,
            m.model_id,
            version,
        )
        return blob


class TrainedModels:
    """The estimators of trained versions, loaded once (the latest version per model), keyed
    by tenant too (a model id is only an id within its tenant)."""

    def __init__(self, versions: ModelVersions) -> None:
        self.versions = versions
        self._cache: dict[tuple[str, str, str], TrainedModel] = {}

    async def get(self, conn: Conn, m: Model, version: str) -> TrainedModel:
        key = (m.tenant_id, m.model_id, version)
        trained = self._cache.get(key)
        if trained is None:
            blob = await self.versions.blob(conn, m, version)
            if blob is None:
                raise NotFound(f"model {m.model_id} has no version {version}")
            trained = TrainedModel.from_bytes(blob)
            self.put(m, version, trained)
        return trained

    def put(self, m: Model, version: str, trained: TrainedModel) -> None:
        mine = (m.tenant_id, m.model_id)
        self._cache = {k: v for k, v in self._cache.items() if k[:2] != mine}
        self._cache[(m.tenant_id, m.model_id, version)] = trained
