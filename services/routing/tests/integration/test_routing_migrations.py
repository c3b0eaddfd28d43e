"""Migrations 0004 and 0005 on a schema with data from before them: project and pool ids become
per tenant (keys, foreign keys), and the ontology versions stored without a tenant stay usable by
the tenants whose projects name them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest
from labelops_eventstore import load_migrations, migrate

MIGRATIONS = load_migrations(Path(__file__).resolve().parents[2] / "migrations")
BEFORE = [m for m in MIGRATIONS if m[0] < "0004"]


async def _legacy_rows(conn: Any) -> None:
    """What 0001-0003 left: acme's project on "street" 1.0.0, a pool with an annotator, a task;
    the one stored version of "street" 1.0.0 (kept without a tenant), and one nobody uses."""
    await conn.execute(
        "INSERT INTO ontology_versions VALUES ('street', '1.0.0', '\\x0a00'),"
        " ('unused', '1.0.0', '\\x')"
    )
    await conn.execute(
        "INSERT INTO pools (pool_id, display_name, kind, vendor_id, capacity, cost_per_task,"
        " qualified_classes, active, stream_version, tenant_id)"
        " VALUES ('ih', '', 'in_house', '', 0, 0, '{}', true, 1, 'acme')"
    )
    await conn.execute(
        "INSERT INTO annotators (annotator_id, pool_id, display_name, skills, active, tenant_id)"
        " VALUES ('ih-1', 'ih', '', '{}', true, 'acme')"
    )
    await conn.execute(
        "INSERT INTO projects (project_id, display_name, dataset_id, ontology_id,"
        " ontology_version, config, config_version, rules, rules_version, stream_version,"
        " created_at, tenant_id) VALUES ('p1', '', '', 'street', '1.0.0', '', 1, '', 1, 1,"
        " now(), 'acme')"
    )
    await conn.execute(
        "INSERT INTO tasks (task_id, project_id, item_id, item_uri, modality, context, state,"
        " required, pool_id, route_rule, route_reason, signals, class_id, priority, gold,"
        " stream_version, created_at, updated_at, tenant_id) VALUES"
        " (gen_random_uuid(), 'p1', 'img-1', '', '', '', 'queued', 1, 'ih', '', '', '', '', 0,"
        " false, 1, now(), now(), 'acme')"
    )


async def test_ids_become_per_tenant_and_stored_versions_stay_usable(
    pg_pool: Any, pg_schema: str
) -> None:
    await migrate(pg_pool, pg_schema, BEFORE)
    async with pg_pool.acquire() as conn:
        await conn.execute(f'SET search_path TO "{pg_schema}"')
        await _legacy_rows(conn)
    assert "0005_tenant_ids.sql" in await migrate(pg_pool, pg_schema, MIGRATIONS)
    async with pg_pool.acquire() as conn:
        await conn.execute(f'SET search_path TO "{pg_schema}"')
        versions = await conn.fetch(
            "SELECT tenant_id, ontology_id FROM ontology_versions ORDER BY 1, 2"
        )
        # Kept as the default tenant's; acme, whose project names "street", has its copy.
        assert [tuple(r) for r in versions] == [
            ("acme", "street"),
            ("default", "street"),
            ("default", "unused"),
        ]
        # beta may now hold the same project, pool, annotator and item ids as acme.
        await conn.execute(
            "INSERT INTO pools (pool_id, display_name, kind, vendor_id, capacity,"
            " cost_per_task, qualified_classes, active, stream_version, tenant_id)"
            " VALUES ('ih', '', 'in_house', '', 0, 0, '{}', true, 1, 'beta')"
        )
        await conn.execute(
            "INSERT INTO annotators (annotator_id, pool_id, display_name, skills, active,"
            " tenant_id) VALUES ('ih-1', 'ih', '', '{}', true, 'beta')"
        )
        await conn.execute(
            "INSERT INTO projects SELECT project_id, display_name, dataset_id, ontology_id,"
            " ontology_version, config, config_version, rules, rules_version, stream_version,"
            " tasks_total, created_at, 'beta' FROM projects WHERE tenant_id = 'acme'"
        )
        await conn.execute(
            "INSERT INTO tasks SELECT gen_random_uuid(), project_id, item_id, item_uri,"
            " modality, context, state, required, submitted, active, pool_id, route_rule,"
            " route_reason, signals, class_id, priority, due_at, gold, prelabels,"
            " stream_version, created_at, updated_at, prelabel_model, prelabel_model_version,"
            " 'beta' FROM tasks"
        )
        assert await conn.fetchval("SELECT count(*) FROM projects WHERE project_id = 'p1'") == 2
        # Still one task per item of a tenant's project, and a task needs its tenant's
        # project, an annotator its tenant's pool (the foreign keys lead with the tenant).
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                "INSERT INTO tasks SELECT gen_random_uuid(), project_id, item_id, item_uri,"
                " modality, context, state, required, submitted, active, pool_id, route_rule,"
                " route_reason, signals, class_id, priority, due_at, gold, prelabels,"
                " stream_version, created_at, updated_at, prelabel_model,"
                " prelabel_model_version, tenant_id FROM tasks WHERE tenant_id = 'beta'"
            )
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await conn.execute("UPDATE tasks SET tenant_id = 'initech' WHERE tenant_id = 'beta'")
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await conn.execute(
                "INSERT INTO annotators (annotator_id, pool_id, display_name, skills, active,"
                " tenant_id) VALUES ('ih-1', 'ih', '', '{}', true, 'initech')"
            )
