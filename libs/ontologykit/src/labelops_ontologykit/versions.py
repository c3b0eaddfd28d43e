"""``OntologyVersions``: a service's copy of the published ontology versions, fed by the
ontology service's events.

Services that validate labels (routing, qa, datasets) consume ``OntologyVersionPublished``
from ``labelops.ontology.events.v1`` into a table of their own schema, and compile versions
from it through ``OntologyCache``, so validation never waits on the ontology service. The
table (in the service's migrations) is::

    CREATE TABLE ontology_versions (
        ontology_id text NOT NULL, version text NOT NULL, definition bytea NOT NULL,
        PRIMARY KEY (ontology_id, version));
"""

from __future__ import annotations

from typing import Any

import asyncpg
from labelops.ontology.v1 import definition_pb2
from labelops.ontology.v1 import events_pb2 as oev
from labelops_core.errors import FailedPrecondition

from .cache import OntologyCache

_PUBLISHED = oev.OntologyVersionPublished.DESCRIPTOR.full_name


class OntologyVersions:
    """Published versions in ``table`` (schema-qualified, e.g. ``"routing".ontology_versions``)
    and a compiled-version cache over them."""

    def __init__(self, pool: asyncpg.Pool, table: str, *, max_entries: int = 256) -> None:
        self.pool = pool
        self.table = table
        self.cache = OntologyCache(self.fetch, max_entries=max_entries)

    async def on_event(self, ctx: Any, conn: asyncpg.Connection) -> None:
        """Consumer handler (libs/bus): store each published version once; ignore the rest."""
        env = ctx.envelope
        if env.type != _PUBLISHED:
            return
        e = oev.OntologyVersionPublished.FromString(env.payload)
        await conn.execute(
            f"INSERT INTO {self.table} VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            e.ontology_id,
            e.version,
            e.definition.SerializeToString(),
        )

    async def known(self, ontology_id: str, version: str) -> bool:
        """Whether this service has received ``ontology_id`` ``version``."""
        return bool(
            await self.pool.fetchval(
                f"SELECT 1 FROM {self.table} WHERE ontology_id = $1 AND version = $2",
                ontology_id,
                version,
            )
        )

    async def fetch(self, ontology_id: str, version: str) -> definition_pb2.OntologyDefinition:
        """The published definition; FAILED_PRECONDITION ``ONTOLOGY_VERSION_UNKNOWN`` when this
        service has not received it (not published, or its event has not arrived yet)."""
        raw = await self.pool.fetchval(
            f"SELECT definition FROM {self.table} WHERE ontology_id = $1 AND version = $2",
            ontology_id,
            version,
        )
        if raw is None:
            raise FailedPrecondition(
                f"ontology {ontology_id} version {version} is not known to this service (not"
                " published, or its OntologyVersionPublished event has not arrived yet)",
                reason="ONTOLOGY_VERSION_UNKNOWN",
            )
        return definition_pb2.OntologyDefinition.FromString(raw)
