"""Tables ``models`` and ``model_versions`` (asyncpg), and the trained estimators in memory.

Every method takes ``conn``: the pool for a read on its own, the command's connection inside
its transaction (next to the event append).
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
    )


class Models:
    """The registered models of every project."""

    def __init__(self, tables: Tables) -> None:
        self.t = tables.models
        self.tasks = tables.tasks

    async def add_serving(self, conn: Conn, m: Model) -> Model:
        """Register ``m`` as its project's serving model (the previous one stops serving)."""
        await conn.execute(
            f"UPDATE {self.t} SET serving = false WHERE project_id = $1", m.project_id
        )
        row = await conn.fetchrow(
            f"INSERT INTO {self.t} (model_id, project_id, name, kind, classes, url,"
            " task, vector_space, retrain_every, min_confidence, serving, stream_version,"
            " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
            " RETURNING *",
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

    async def get(self, conn: Conn, model_id: str) -> Model:
        row = await conn.fetchrow(f"SELECT * FROM {self.t} WHERE model_id = $1", model_id)
        if row is None:
            raise NotFound(f"model {model_id} not found", reason="MODEL_NOT_FOUND")
        return _model(row)

    async def serving(self, conn: Conn, project_id: str) -> Model | None:
        row = await conn.fetchrow(
            f"SELECT * FROM {self.t} WHERE project_id = $1 AND serving", project_id
        )
        return _model(row) if row is not None else None

    async def of_project(self, conn: Conn, project_id: str) -> list[Model]:
        """Newest first; every project's with ``project_id`` ""."""
        rows = await conn.fetch(
            f"SELECT * FROM {self.t} WHERE ($1 = '' OR project_id = $1)"
            " ORDER BY created_at DESC, model_id",
            project_id,
        )
        return [_model(r) for r in rows]

    async def project_of(self, conn: Conn, model_id: str) -> str | None:
        project: str | None = await conn.fetchval(
            f"SELECT project_id FROM {self.t} WHERE model_id = $1", model_id
        )
        return project

    async def ready_with_pending(self, conn: Conn) -> list[Model]:
        """Serving models that can pre-label (external, or trained) and whose project has
        open tasks pending a pre-label."""
        rows = await conn.fetch(
            f"SELECT m.* FROM {self.t} m WHERE m.serving"
            " AND (m.kind = 'external' OR m.current_version <> '')"
            f" AND EXISTS (SELECT 1 FROM {self.tasks} t WHERE t.project_id = m.project_id"
            " AND t.prelabel_state = 'pending' AND t.state = 'open')"
        )
        return [_model(r) for r in rows]

    # --- training ---------------------------------------------------------------------------

    async def due(self, conn: Conn) -> list[str]:
        """Serving models flagged for training, oldest first."""
        rows = await conn.fetch(
            f"SELECT model_id FROM {self.t} WHERE train_due AND serving ORDER BY created_at"
        )
        return [r["model_id"] for r in rows]

    async def mark_due(self, conn: Conn, model_id: str) -> None:
        await conn.execute(f"UPDATE {self.t} SET train_due = true WHERE model_id = $1", model_id)

    async def clear_due(self, conn: Conn, model_id: str) -> None:
        await conn.execute(f"UPDATE {self.t} SET train_due = false WHERE model_id = $1", model_id)

    async def trained(self, conn: Conn, model_id: str, labels: int, vector_space: str) -> None:
        """A training ran at ``labels`` accepted labels, in ``vector_space`` (fixed from now)."""
        await conn.execute(
            f"UPDATE {self.t} SET train_due = false, trained_on = $2,"
            " vector_space = $3 WHERE model_id = $1",
            model_id,
            labels,
            vector_space,
        )

    async def set_current(self, conn: Conn, model_id: str, version: str) -> None:
        """``version`` serves now (one more event on the model's stream)."""
        await conn.execute(
            f"UPDATE {self.t} SET current_version = $2,"
            " stream_version = stream_version + 1 WHERE model_id = $1",
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
        model_id: str,
        version: pb.ModelVersion,
        trained: TrainedModel,
        created_at: datetime,
    ) -> None:
        await conn.execute(
            f"INSERT INTO {self.t} (model_id, version, trained_on, metrics,"
            " blob, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            model_id,
            version.version,
            version.trained_on,
            version.metrics.SerializeToString(),
            trained.to_bytes(),
            created_at,
        )

    async def of_model(self, conn: Conn, model_id: str) -> list[pb.ModelVersion]:
        """Newest first."""
        rows = await conn.fetch(
            f"SELECT * FROM {self.t} WHERE model_id = $1 ORDER BY created_at DESC, version",
            model_id,
        )
        return [_version(r) for r in rows]

    async def current(self, conn: Conn, m: Model) -> pb.ModelVersion | None:
        if not m.current_version:
            return None
        row = await conn.fetchrow(
            f"SELECT * FROM {self.t} WHERE model_id = $1 AND version = $2",
            m.model_id,
            m.current_version,
        )
        return _version(row) if row is not None else None

    async def blob(self, conn: Conn, model_id: str, version: str) -> bytes | None:
        blob: bytes | None = await conn.fetchval(
            f"SELECT blob FROM {self.t} WHERE model_id = $1 AND version = $2", model_id, version
        )
        return blob


class TrainedModels:
    """The estimators of trained versions, loaded once (the latest version per model)."""

    def __init__(self, versions: ModelVersions) -> None:
        self.versions = versions
        self._cache: dict[tuple[str, str], TrainedModel] = {}

    async def get(self, conn: Conn, model_id: str, version: str) -> TrainedModel:
        key = (model_id, version)
        m = self._cache.get(key)
        if m is None:
            blob = await self.versions.blob(conn, model_id, version)
            if blob is None:
                raise NotFound(f"model {model_id} has no version {version}")
            m = TrainedModel.from_bytes(blob)
            self.put(model_id, version, m)
        return m

    def put(self, model_id: str, version: str, m: TrainedModel) -> None:
        self._cache = {k: v for k, v in self._cache.items() if k[0] != model_id}
        self._cache[(model_id, version)] = m
