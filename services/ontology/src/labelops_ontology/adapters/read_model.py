"""Read models (asyncpg): ``ontologies``, ``ontology_versions``, ``ontology_migrations``.

Every row belongs to one tenant and every statement filters by the tenant it is given (keys
lead with ``tenant_id``): another tenant's ontology of the same id is simply not there.

``save`` runs inside the command's transaction, next to the event append, so the tables always
match the committed events. Queries read them without touching the event streams.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from labelops.ontology.v1 import definition_pb2, events_pb2, ontology_pb2
from labelops_eventstore.schema import check_identifier

from ..domain import events as ev
from ..domain.ontology import DEPRECATED, Ontology, to_timestamp


@dataclass(frozen=True)
class PageCursor:
    """Position after the last ontology of a page (keyset pagination)."""

    create_time: datetime
    ontology_id: str


class OntologyReadModel:
    """The query side of the ontology service, in the service's schema."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool = pool
        s = f'"{check_identifier(schema)}"'
        self._t_ont = f"{s}.ontologies"
        self._t_ver = f"{s}.ontology_versions"
        self._t_mig = f"{s}.ontology_migrations"

    # --- writes (inside the command's transaction) ----------------------------------------------

    async def save(
        self,
        conn: asyncpg.Connection,
        tenant_id: str,
        agg: Ontology,
        events: Sequence[ev.Event],
    ) -> None:
        """Bring the rows of ``agg`` up to its state after ``events`` (just appended)."""
        await conn.execute(
            f"INSERT INTO {self._t_ont} (ontology_id, display_name, description, state, draft,"
            " draft_revision, versions, stream_version, tenant_id, create_time, update_time)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            " ON CONFLICT (tenant_id, ontology_id) DO UPDATE"
            " SET display_name = excluded.display_name,"
            " description = excluded.description, state = excluded.state,"
            " draft = excluded.draft, draft_revision = excluded.draft_revision,"
            " versions = excluded.versions, stream_version = excluded.stream_version,"
            " update_time = excluded.update_time",
            agg.ontology_id,
            agg.display_name,
            agg.description,
            agg.state,
            agg.draft.SerializeToString(),
            agg.draft_revision,
            agg.version_names,
            agg.version,
            tenant_id,
            agg.create_time,
            agg.update_time,
        )
        for e in events:
            if isinstance(e, events_pb2.OntologyVersionPublished):
                v = agg.find_version(e.version)
                await conn.execute(
                    f"INSERT INTO {self._t_ver} (tenant_id, ontology_id, version, seq, fingerprint,"
                    " breaking, publish_time, published_by, body)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    tenant_id,
                    agg.ontology_id,
                    v.version,
                    agg.version_names.index(v.version) + 1,
                    v.fingerprint,
                    v.breaking,
                    v.publish_time,
                    v.published_by,
                    v.to_proto(agg.ontology_id).SerializeToString(),
                )
            elif isinstance(e, events_pb2.OntologyMigrationCreated):
                m = agg.migrations[(e.from_version, e.to_version)]
                await conn.execute(
                    f"INSERT INTO {self._t_mig} (tenant_id, ontology_id, from_version,"
                    " to_version, create_time, body) VALUES ($1, $2, $3, $4, $5, $6)",
                    tenant_id,
                    agg.ontology_id,
                    m.from_version,
                    m.to_version,
                    m.create_time,
                    m.to_proto(agg.ontology_id).SerializeToString(),
                )

    # --- reads ----------------------------------------------------------------------------------

    @staticmethod
    def _ontology(r: asyncpg.Record, *, with_draft: bool) -> ontology_pb2.Ontology:
        msg = ontology_pb2.Ontology(
            name=f"ontologies/{r['ontology_id']}",
            ontology_id=r["ontology_id"],
            display_name=r["display_name"],
            description=r["description"],
            state=r["state"],
            draft_revision=r["draft_revision"],
            versions=list(r["versions"]),
            create_time=to_timestamp(r["create_time"]),
            update_time=to_timestamp(r["update_time"]),
        )
        if with_draft:
            msg.draft.ParseFromString(r["draft"])
        return msg

    async def get_ontology(self, tenant_id: str, ontology_id: str) -> ontology_pb2.Ontology | None:
        row = await self.pool.fetchrow(
            f"SELECT * FROM {self._t_ont} WHERE tenant_id = $1 AND ontology_id = $2",
            tenant_id,
            ontology_id,
        )
        return None if row is None else self._ontology(row, with_draft=True)

    async def get_draft(
        self, tenant_id: str, ontology_id: str
    ) -> tuple[definition_pb2.OntologyDefinition, list[str]] | None:
        """The draft and the published version numbers (oldest first)."""
        row = await self.pool.fetchrow(
            f"SELECT draft, versions FROM {self._t_ont} WHERE tenant_id = $1 AND ontology_id = $2",
            tenant_id,
            ontology_id,
        )
        if row is None:
            return None
        return definition_pb2.OntologyDefinition.FromString(row["draft"]), list(row["versions"])

    async def published_versions(self, tenant_id: str, ontology_id: str) -> list[str] | None:
        """Version numbers oldest first; None if the tenant has no such ontology."""
        row = await self.pool.fetchrow(
            f"SELECT versions FROM {self._t_ont} WHERE tenant_id = $1 AND ontology_id = $2",
            tenant_id,
            ontology_id,
        )
        return None if row is None else list(row["versions"])

    async def list_ontologies(
        self,
        tenant_id: str,
        *,
        after: PageCursor | None,
        limit: int,
        show_deprecated: bool,
    ) -> list[tuple[ontology_pb2.Ontology, PageCursor]]:
        """The tenant's ontologies (without drafts) ordered by creation, after ``after``."""
        conditions = ["tenant_id = $2"]
        args: list[object] = [limit, tenant_id]
        if not show_deprecated:
            conditions.append(f"state <> {int(DEPRECATED)}")
        if after is not None:
            args += [after.create_time, after.ontology_id]
            conditions.append("(create_time, ontology_id) > ($3, $4)")
        where = f" WHERE {' AND '.join(conditions)}"
        rows = await self.pool.fetch(
            "SELECT ontology_id, display_name, description, state, draft_revision, versions,"
            f" create_time, update_time FROM {self._t_ont}{where}"
            " ORDER BY create_time, ontology_id LIMIT $1",
            *args,
        )
        return [
            (self._ontology(r, with_draft=False), PageCursor(r["create_time"], r["ontology_id"]))
            for r in rows
        ]

    async def get_version(self, tenant_id: str, ontology_id: str, version: str) -> bytes | None:
        """The serialized OntologyVersion, or None."""
        body: bytes | None = await self.pool.fetchval(
            f"SELECT body FROM {self._t_ver}"
            " WHERE tenant_id = $1 AND ontology_id = $2 AND version = $3",
            tenant_id,
            ontology_id,
            version,
        )
        return body

    async def get_migration(
        self, tenant_id: str, ontology_id: str, from_version: str, to_version: str
    ) -> ontology_pb2.OntologyMigration | None:
        body = await self.pool.fetchval(
            f"SELECT body FROM {self._t_mig} WHERE tenant_id = $1 AND ontology_id = $2"
            " AND from_version = $3 AND to_version = $4",
            tenant_id,
            ontology_id,
            from_version,
            to_version,
        )
        return None if body is None else ontology_pb2.OntologyMigration.FromString(body)
