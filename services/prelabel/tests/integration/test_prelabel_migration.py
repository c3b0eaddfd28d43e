"""Migration 0002 on a schema with rows from before tenants: a model takes the tenant of its
registration event, everything else 'default', and every key starts with the tenant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from labelops_eventstore import load_migrations, migrate

pytestmark = pytest.mark.asyncio(loop_scope="session")

MIGRATIONS = load_migrations(Path(__file__).resolve().parents[2] / "migrations")


async def test_rows_from_before_tenants_get_one(pg_pool: Any, pg_schema: str) -> None:
    first = [m for m in MIGRATIONS if m[0].startswith("0001")]
    await migrate(pg_pool, pg_schema, first)
    s = f'"{pg_schema}"'
    async with pg_pool.acquire() as c:
        for model_id in ("m-acme", "m-old"):
            await c.execute(
                f"INSERT INTO {s}.models (model_id, project_id, name, kind, classes,"
                " retrain_every, min_confidence, serving, created_at)"
                " VALUES ($1, 'p', 'n', 'logistic', '{a,b}', 50, 0, true, now())",
                model_id,
            )
            await c.execute(
                f"INSERT INTO {s}.model_versions VALUES ($1, 'v1', 1, ''::bytea, ''::bytea, now())",
                model_id,
            )
        await c.execute(
            f"INSERT INTO {s}.events (event_id, stream_id, stream_version, type, tenant_id,"
            " actor_kind, actor_id, occurred_at, correlation_id, causation_id, payload)"
            " VALUES (gen_random_uuid(), 'models/m-acme', 1, 'x', 'acme', 1, 'u', now(),"
            " '', '', ''::bytea)"
        )
        await c.execute(
            f"INSERT INTO {s}.tasks (task_id, project_id, item_id, item_uri, modality, context,"
            " gold, state, prelabel_state, created_at)"
            " VALUES ('t', 'p', 'i', '', '', ''::bytea, false, 'open', 'pending', now())"
        )
    assert await migrate(pg_pool, pg_schema, MIGRATIONS) == [
        m[0] for m in MIGRATIONS if not m[0].startswith("0001")
    ]
    async with pg_pool.acquire() as c:
        tenants = {
            r["model_id"]: r["tenant_id"]
            for r in await c.fetch(f"SELECT model_id, tenant_id FROM {s}.models")
        }
        assert tenants == {"m-acme": "acme", "m-old": "default"}
        versions = await c.fetch(f"SELECT model_id, tenant_id FROM {s}.model_versions")
        assert {(r["model_id"], r["tenant_id"]) for r in versions} == {
            ("m-acme", "acme"),
            ("m-old", "default"),
        }
        assert await c.fetchval(f"SELECT tenant_id FROM {s}.tasks") == "default"
        # The same task id in another tenant is another row.
        await c.execute(
            f"INSERT INTO {s}.tasks (tenant_id, task_id, project_id, item_id, item_uri, modality,"
            " context, gold, state, prelabel_state, created_at)"
            " VALUES ('acme', 't', 'p', 'i', '', '', ''::bytea, false, 'open', 'pending', now())"
        )
        assert await c.fetchval(f"SELECT count(*) FROM {s}.tasks WHERE task_id = 't'") == 2
