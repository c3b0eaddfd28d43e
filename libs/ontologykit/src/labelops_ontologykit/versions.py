"""``OntologyVersions``: a service's copy of the published ontology versions, fed by the
ontology service's events.

Services that validate labels (routing, qa) consume ``OntologyVersionPublished`` from
``labelops.ontology.events.v1`` into a table of their own schema, and compile versions from it
through ``OntologyCache``, so validation never waits on the ontology service. Ontology ids are
per tenant (two tenants may each publish "animals" 1.0.0, with different definitions), so
rows are keyed by the event's tenant and every read names the tenant it reads for. The table
(in the service's migrations) is::

    CREATE TABLE ontology_versions (
        tenant_id text NOT NULL, ontology_id text NOT NULL, version text NOT NULL,
        definition bytea NOT NULL,
        PRIMARY KEY (tenant_id, ontology_id, version));
"""

from __future__ import annotations

from typing import Any

import asyncpg
from labelops.ontology.v1 import definition_pb2
from labelops.ontology.v1 import events_pb2 as oev
from labelops_core.context import DEFAULT_TENANT, current_tenant
from labelops_core.errors import FailedPrecondition

from .cache import OntologyCache
from .compiled import CompiledOntology

_PUBLISHED = oev.OntologyVersionPublished.DESCRIPTOR.full_name


class OntologyVersions:
    """Published versions in ``table`` (schema-qualified, e.g. ``"routing".ontology_versions``)
    and a compiled-version cache over them, keyed by tenant.

    ``known``, ``fetch`` and ``get`` read the versions of ``tenant`` (default: the tenant of
    the request or event being handled, ``labelops_core.context.current_tenant()``); another
    tenant's version of the same id is never seen."""

    def __init__(self, pool: asyncpg.Pool, table: str, *, max_entries: int = 256) -> None:
        self.pool = pool
        self.table = table
        #: Compiled versions by (tenant, ontology id, version); ``get`` is the way in.
        self.cache = OntologyCache.scoped(self._fetch_of, max_entries=max_entries)

    async def on_event(self, ctx: Any, conn: asyncpg.Connection) -> None:
        """Consumer handler (libs/bus): store each published version once, under the event's
        tenant; ignore the rest."""
        env = ctx.envelope
        if env.type != _PUBLISHED:
            return
        e = oev.OntologyVersionPublished.FromString(env.payload)
        await conn.execute(
            f"INSERT INTO {self.table} (tenant_id, ontology_id, version, definition)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            env.tenant_id or DEFAULT_TENANT,
            e.ontology_id,
            e.version,
            e.definition.SerializeToString(),
        )

    async def known(self, ontology_id: str, version: str, *, tenant: str | None = None) -> bool:
        """Whether this service has received ``ontology_id`` ``version`` of ``tenant``."""
        return bool(
            await self.pool.fetchval(
                f"SELECT 1 FROM {self.table}"
                " WHERE tenant_id = $1 AND ontology_id = $2 AND version = $3",
                _tenant(tenant),
                ontology_id,
                version,
            )
        )

    async def fetch(
        self, ontology_id: str, version: str, *, tenant: str | None = None
    ) -> definition_pb2.OntologyDefinition:
        """The published definition of ``tenant``'s ontology; FAILED_PRECONDITION
        ``ONTOLOGY_VERSION_UNKNOWN`` when this service has not received it (not published in
        that tenant, or its event has not arrived yet)."""
        raw = await self.pool.fetchval(
            f"SELECT definition FROM {self.table}"
            " WHERE tenant_id = $1 AND ontology_id = $2 AND version = $3",
            _tenant(tenant),
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

    async def get(
        self, ontology_id: str, version: str, *, tenant: str | None = None
    ) -> CompiledOntology:
        """The compiled version of ``tenant``'s ontology (cached; errors as ``fetch``, and
        ``ValueError`` for a version that is not MAJOR.MINOR.PATCH)."""
        return await self.cache.get(ontology_id, version, scope=_tenant(tenant))

    async def _fetch_of(
        self, ontology_id: str, version: str, tenant: str
    ) -> definition_pb2.OntologyDefinition:
        return await self.fetch(ontology_id, version, tenant=tenant)


def _tenant(tenant: str | None) -> str:
    return tenant if tenant is not None else current_tenant()
