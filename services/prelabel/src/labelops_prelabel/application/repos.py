"""What the prelabel use cases work with: the event store, one adapter per table, the model
servers, and where a project's vectors live."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labelops_core.context import current_principal
from labelops_eventstore import EventStore

from ..adapters.embeddings import Embeddings
from ..adapters.labels import Labels, ProjectLabels
from ..adapters.model_server import ModelServers
from ..adapters.models import Models, ModelVersions, TrainedModels
from ..adapters.roi import ClassSwitches, RoiObservations
from ..adapters.tables import Tables
from ..adapters.tasks import Tasks
from ..domain.model import Model


@dataclass
class Repos:
    store: EventStore
    models: Models
    versions: ModelVersions
    trained: TrainedModels
    tasks: Tasks
    labels: Labels
    project_labels: ProjectLabels
    embeddings: Embeddings
    observations: RoiObservations
    switches: ClassSwitches
    servers: ModelServers

    @classmethod
    def of(cls, store: EventStore, servers: ModelServers) -> Repos:
        t = Tables.of(store.schema)
        versions = ModelVersions(t)
        return cls(
            store=store,
            models=Models(t),
            versions=versions,
            trained=TrainedModels(versions),
            tasks=Tasks(t),
            labels=Labels(t),
            project_labels=ProjectLabels(t),
            embeddings=Embeddings(t),
            observations=RoiObservations(t),
            switches=ClassSwitches(t),
            servers=servers,
        )

    @property
    def pool(self) -> Any:
        return self.store.pool

    async def vector_space(
        self,
        conn: Any,
        m: Model | None,
        tenant_id: str,
        project_id: str,
        *,
        or_open_tasks: bool = False,
    ) -> str | None:
        """The vector space to work in: the model's as registered (fixed at its first
        training), else the most common one among the project's labeled items, else (with
        ``or_open_tasks``, for scoring before any label) among its tasks' items."""
        if m is not None and m.vector_space:
            return m.vector_space
        for among in ("labels", "tasks") if or_open_tasks else ("labels",):
            space = await self.embeddings.most_common_space(conn, tenant_id, project_id, among)
            if space is not None:
                return space
        return None


#: Who the service's own loops act as (no request, no consumed event behind them).
SELF_ACTOR = {"actor_kind": "service", "actor_id": "prelabel"}


def acting(tenant_id: str) -> dict[str, str]:
    """Envelope fields of an event this service appends: always its tenant, explicitly; the
    actor is the bound principal (a request's caller, a consumed event's causing actor), or
    the service itself in its background loops."""
    if current_principal() is not None:
        return {"tenant_id": tenant_id}
    return {"tenant_id": tenant_id, **SELF_ACTOR}
