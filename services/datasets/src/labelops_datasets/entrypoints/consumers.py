"""What the datasets service consumes: the dispatch table of its three batch projections.

Each consumer is a ``BatchProjector`` (one transaction per fetched batch, positions in
``consumer_positions``), run by the scaffold with the group ``<service>.<consumer>``:

- ``accepted-labels`` (qa): every ``LabelAccepted``, undecoded: the rows are built from the
  envelope off the transaction and appended as they are (the payload is parsed when a version
  is made, once);
- ``items`` (curation): item URI and size from the first ``ItemRegistered`` of each item;
- ``ontologies`` (ontology): published versions and migration rules.

Every row is stored with its record's envelope's tenant (in the batch, no round trip).
"""

from __future__ import annotations

from typing import Any

import asyncpg
from labelops.curation.v1 import events_pb2 as cev
from labelops.ontology.v1 import events_pb2 as oev
from labelops.qa.v1 import events_pb2 as qev
from labelops_bus import BatchRecord
from labelops_bus.dispatch import BatchDispatch, EventHandlers, handles
from labelops_core.context import DEFAULT_TENANT

from ..application.projection import (
    CURATION_CONSUMER,
    ONTOLOGY_CONSUMER,
    QA_CONSUMER,
    Projection,
    QaBatch,
)

Run = list[tuple[Any, BatchRecord]]


def tenant_of(r: BatchRecord) -> str:
    """The tenant a consumed record is of (its envelope's; ``default`` when unnamed)."""
    return r.envelope.tenant_id or DEFAULT_TENANT


class DatasetsConsumers(EventHandlers):
    def __init__(self, projection: Projection) -> None:
        self.projection = projection

    def prepare_accepted(self, run: Run) -> QaBatch:
        return self.projection.prepare_accepted(run)

    @handles(
        QA_CONSUMER,
        qev.LabelAccepted,
        why="projected with its (topic, partition, offset); versions are cut from it",
        batch=True,
        decode=False,
    )
    @BatchDispatch.prepare_with(prepare_accepted)
    async def label_accepted(self, batch: QaBatch, conn: asyncpg.Connection) -> None:
        await self.projection.append_accepted(batch, conn)

    @handles(
        CURATION_CONSUMER,
        cev.ItemRegistered,
        why="item metadata for dataset rows",
        batch=True,
    )
    async def item_registered(self, run: Run, conn: asyncpg.Connection) -> None:
        await self.projection.items_registered([(e, tenant_of(r)) for e, r in run], conn)

    @handles(
        ONTOLOGY_CONSUMER,
        oev.OntologyVersionPublished,
        why="ontology versions",
        batch=True,
    )
    async def version_published(self, run: Run, conn: asyncpg.Connection) -> None:
        await self.projection.versions_published([(e, tenant_of(r)) for e, r in run], conn)

    @handles(
        ONTOLOGY_CONSUMER,
        oev.OntologyMigrationCreated,
        why="migrating labels between versions",
        batch=True,
    )
    async def migration_created(self, run: Run, conn: asyncpg.Connection) -> None:
        await self.projection.migrations_created(
            [(e, r.envelope.payload, tenant_of(r)) for e, r in run], conn
        )
