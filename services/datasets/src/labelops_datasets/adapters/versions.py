"""Dataset versions in Postgres: ``datasets`` (a dataset's project), ``versions`` (the records)
and ``segment_files`` (segment files already written, by fingerprint). Every statement on these
tables is here. Every statement is of one tenant: another tenant's dataset is not found.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TypeAlias

import asyncpg
from labelops.datasets.v1 import datasets_pb2 as pb

from ..domain.manifest import canonical
from ..domain.materialize import FileEntry
from .tables import Tables

Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool


class VersionRepository:
    """Reads and writes of the version tables (see the module docstring)."""

    def __init__(self, tables: Tables) -> None:
        self.t = tables

    async def project_of(self, pool: Conn, tenant_id: str, dataset_id: str) -> str | None:
        """The project a dataset holds, None before its first version."""
        project: str | None = await pool.fetchval(
            f"SELECT project_id FROM {self.t.datasets} WHERE tenant_id = $1 AND dataset_id = $2",
            tenant_id,
            dataset_id,
        )
        return project

    async def latest_number(self, pool: Conn, tenant_id: str, dataset_id: str) -> int:
        """The dataset's newest version number (0: none yet)."""
        return int(
            await pool.fetchval(
                f"SELECT coalesce(max(version), 0) FROM {self.t.versions}"
                " WHERE tenant_id = $1 AND dataset_id = $2",
                tenant_id,
                dataset_id,
            )
        )

    async def record(
        self, pool: Conn, tenant_id: str, dataset_id: str, version: int
    ) -> pb.DatasetVersion | None:
        """A version's record (``version`` 0: the newest), None if there is none."""
        if version == 0:
            raw = await pool.fetchval(
                f"SELECT record FROM {self.t.versions} WHERE tenant_id = $1 AND dataset_id = $2"
                " ORDER BY version DESC LIMIT 1",
                tenant_id,
                dataset_id,
            )
        else:
            raw = await pool.fetchval(
                f"SELECT record FROM {self.t.versions} WHERE tenant_id = $1 AND dataset_id = $2"
                " AND version = $3",
                tenant_id,
                dataset_id,
                version,
            )
        return None if raw is None else pb.DatasetVersion.FromString(raw)

    async def page(
        self, pool: Conn, tenant_id: str, dataset_id: str, after: int, limit: int
    ) -> list[pb.DatasetVersion]:
        """Up to ``limit`` records of versions after number ``after``, in order."""
        rows = await pool.fetch(
            f"SELECT version, record FROM {self.t.versions}"
            " WHERE tenant_id = $1 AND dataset_id = $2 AND version > $3 ORDER BY version LIMIT $4",
            tenant_id,
            dataset_id,
            after,
            limit,
        )
        return [pb.DatasetVersion.FromString(r["record"]) for r in rows]

    async def add(
        self, conn: asyncpg.Connection, tenant_id: str, record: pb.DatasetVersion
    ) -> None:
        """The version (and its dataset, on its first version), in the caller's transaction;
        ``UniqueViolationError`` when the number was taken meanwhile."""
        await conn.execute(
            f"INSERT INTO {self.t.datasets} (tenant_id, dataset_id, project_id)"
            " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            tenant_id,
            record.dataset_id,
            record.project_id,
        )
        await conn.execute(
            f"INSERT INTO {self.t.versions} (tenant_id, dataset_id, version, record,"
            " manifest_sha256) VALUES ($1, $2, $3, $4, $5)",
            tenant_id,
            record.dataset_id,
            record.version,
            record.SerializeToString(),
            record.manifest_sha256,
        )

    # --- segment files -----------------------------------------------------------------------

    async def segment_files(
        self, pool: Conn, tenant_id: str, fingerprints: Sequence[str]
    ) -> dict[str, FileEntry]:
        """fingerprint → the file written for it (for the tenant), for those written before."""
        rows = await pool.fetch(
            f"SELECT * FROM {self.t.segment_files}"
            " WHERE tenant_id = $1 AND fingerprint = ANY($2::text[])",
            tenant_id,
            list(fingerprints),
        )
        return {
            r["fingerprint"]: FileEntry(r["sha256"], r["rows"], r["bytes"], json.loads(r["stats"]))
            for r in rows
        }

    async def add_segment_file(
        self, pool: Conn, tenant_id: str, fingerprint: str, entry: FileEntry
    ) -> None:
        await pool.execute(
            f"INSERT INTO {self.t.segment_files} (tenant_id, fingerprint, sha256, rows, bytes,"
            " stats) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            tenant_id,
            fingerprint,
            entry.sha256,
            entry.rows,
            entry.bytes,
            canonical(entry.stats).decode(),
        )
