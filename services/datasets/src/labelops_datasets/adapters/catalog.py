"""What the datasets service knows besides labels: ``items`` (curation), ``ontology_versions``
and ``ontology_migrations`` (the ontology service), ``project_ontologies`` (which ontology
versions a project's labels were made under, found while linking). Every statement on these
tables is here. Every row is of one tenant (the consumed event's, or the caller's for reads):
two tenants' items, ontologies and projects never mix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TypeAlias

import asyncpg

from ..domain.build import ItemMeta
from .tables import Tables

Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool


class Catalog:
    """Reads and writes of the reference tables (see the module docstring)."""

    def __init__(self, tables: Tables) -> None:
        self.t = tables

    # --- projections (inside a batch's transaction) ----------------------------------------

    async def add_items(
        self, conn: asyncpg.Connection, rows: Sequence[tuple[str, str, str, int, int, str]]
    ) -> None:
        """(item_id, dataset_id, uri, width, height, tenant_id) rows; write-once: the first
        registration of an item (of its tenant) wins (offset order)."""
        await conn.executemany(
            f"INSERT INTO {self.t.items} (item_id, dataset_id, uri, width, height, tenant_id)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            rows,
        )

    async def add_ontology_version(
        self,
        conn: asyncpg.Connection,
        tenant_id: str,
        ontology_id: str,
        version: str,
        definition: bytes,
    ) -> None:
        await conn.execute(
            f"INSERT INTO {self.t.ontology_versions} (tenant_id, ontology_id, version,"
            " definition) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            tenant_id,
            ontology_id,
            version,
            definition,
        )

    async def add_migration(
        self,
        conn: asyncpg.Connection,
        tenant_id: str,
        ontology_id: str,
        from_version: str,
        to_version: str,
        event: bytes,
    ) -> None:
        """A migration, stored as its serialized ``OntologyMigrationCreated``."""
        await conn.execute(
            f"INSERT INTO {self.t.ontology_migrations} (tenant_id, ontology_id, from_version,"
            " to_version, rules) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            tenant_id,
            ontology_id,
            from_version,
            to_version,
            event,
        )

    # --- link --------------------------------------------------------------------------------

    async def note_ontologies(
        self,
        conn: asyncpg.Connection,
        topic: str,
        partition: int,
        first_offsets: Mapping[tuple[str, ...], int],
    ) -> None:
        """(tenant, project, ontology, version) → first offset seen in the partition (the
        lowest wins)."""
        await conn.executemany(
            f"INSERT INTO {self.t.project_ontologies} (tenant_id, project_id, ontology_id,"
            " ontology_version, topic, partition, first_offset)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT"
            " (tenant_id, project_id, ontology_id, ontology_version, topic, partition)"
            " DO UPDATE SET first_offset ="
            " LEAST(project_ontologies.first_offset, EXCLUDED.first_offset)",
            [(tn, p, o, v, topic, partition, f) for (tn, p, o, v), f in first_offsets.items()],
        )

    # --- versions ----------------------------------------------------------------------------

    async def project_ontologies(
        self, pool: Conn, tenant_id: str, project_id: str, topic: str
    ) -> list[tuple[str, str, int, int]]:
        """(ontology_id, ontology_version, partition, first_offset) of the project's labels."""
        rows = await pool.fetch(
            f"SELECT ontology_id, ontology_version, partition, first_offset"
            f" FROM {self.t.project_ontologies}"
            " WHERE tenant_id = $1 AND project_id = $2 AND topic = $3",
            tenant_id,
            project_id,
            topic,
        )
        return [
            (r["ontology_id"], r["ontology_version"], r["partition"], r["first_offset"])
            for r in rows
        ]

    async def items(
        self, pool: Conn, tenant_id: str, item_ids: Iterable[str]
    ) -> dict[str, ItemMeta]:
        """The tenant's registered items among ``item_ids``."""
        rows = await pool.fetch(
            f"SELECT item_id, uri, width, height FROM {self.t.items}"
            " WHERE tenant_id = $1 AND item_id = ANY($2::text[])",
            tenant_id,
            list(item_ids),
        )
        return {r["item_id"]: ItemMeta(r["uri"], r["width"], r["height"]) for r in rows}

    async def migrations(
        self, pool: Conn, tenant_id: str, ontology_id: str
    ) -> list[tuple[str, str, bytes]]:
        """(from_version, to_version, serialized OntologyMigrationCreated) of the ontology."""
        rows = await pool.fetch(
            f"SELECT from_version, to_version, rules FROM {self.t.ontology_migrations}"
            " WHERE tenant_id = $1 AND ontology_id = $2 ORDER BY from_version, to_version",
            tenant_id,
            ontology_id,
        )
        return [(r["from_version"], r["to_version"], r["rules"]) for r in rows]

    async def definition(
        self, pool: Conn, tenant_id: str, ontology_id: str, version: str
    ) -> bytes | None:
        """The serialized definition of a published version (of the tenant), None if the
        projection has not seen it."""
        raw: bytes | None = await pool.fetchval(
            f"SELECT definition FROM {self.t.ontology_versions}"
            " WHERE tenant_id = $1 AND ontology_id = $2 AND version = $3",
            tenant_id,
            ontology_id,
            version,
        )
        return raw

    def tables(self) -> list[str]:
        """The qualified names of these tables (a reset truncates them)."""
        t = self.t
        return [t.project_ontologies, t.items, t.ontology_versions, t.ontology_migrations]
