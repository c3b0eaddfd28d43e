"""Migration 0004 on a schema with data from before it: ontology versions become per tenant,
and those stored without a tenant stay usable by the tenants whose projects name them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest
from labelops_eventstore import load_migrations, migrate

MIGRATIONS = load_migrations(Path(__file__).resolve().parents[2] / "migrations")


async def test_stored_versions_become_the_tenants_that_use_them(
    pg_pool: Any, pg_schema: str
) -> None:
    await migrate(pg_pool, pg_schema, [m for m in MIGRATIONS if m[0] < "0004"])
    async with pg_pool.acquire() as conn:
        await conn.execute(f'SET search_path TO "{pg_schema}"')
        await conn.execute(
            "INSERT INTO ontology_versions VALUES ('animals', '1.0.0', '\\x0a00'),"
            " ('animals', '2.0.0', '\\x')"
        )
        await conn.execute(
            "INSERT INTO projects (project_id, ontology_id, ontology_version, review_policy,"
            " review_sample_rate, high_stakes_classes, tenant_id) VALUES"
            " ('zoo', 'animals', '1.0.0', 'targeted', 0, '{}', 'acme'),"
            " ('zoo', 'animals', '1.0.0', 'targeted', 0, '{}', 'globex')"
        )
    assert "0004_tenant_ontology_versions.sql" in await migrate(pg_pool, pg_schema, MIGRATIONS)
    async with pg_pool.acquire() as conn:
        await conn.execute(f'SET search_path TO "{pg_schema}"')
        rows = await conn.fetch(
            "SELECT tenant_id, version, definition FROM ontology_versions ORDER BY 1, 2"
        )
        assert [(r[0], r[1]) for r in rows] == [
            ("acme", "1.0.0"),
            ("default", "1.0.0"),
            ("default", "2.0.0"),
            ("globex", "1.0.0"),
        ]
        assert {bytes(r[2]) for r in rows if r[1] == "1.0.0"} == {b"\x0a\x00"}
        # A tenant publishes its own definition of an id another tenant has; a second of the
        # same tenant's version is refused (OntologyVersions ignores it: versions are
        # immutable), and no row is without its tenant.
        await conn.execute(
            "INSERT INTO ontology_versions VALUES ('animals', '2.0.0', '\\x01', 'acme')"
        )
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                "INSERT INTO ontology_versions VALUES ('animals', '2.0.0', '\\x02', 'acme')"
            )
        with pytest.raises(asyncpg.NotNullViolationError):
            await conn.execute(
                "INSERT INTO ontology_versions (ontology_id, version, definition)"
                " VALUES ('birds', '1.0.0', '\\x')"
            )
