"""The gateway's Postgres, for real: it accepts the keys an admin stores (``labelops keys``,
``CredentialService``) and stops accepting them when revoked, without a restart (it reads
``<auth_schema>.api_keys`` as the services do), and it records what it refuses itself in its
own hash-chained audit log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
from labelops_eventstore import migrate, verify
from labelops_gateway.bootstrap import create_app
from labelops_gateway.config import Settings
from labelops_servicekit.credentials import KeyRow, KeyStore, auth_migrations
from labelops_servicekit.credentials.keys import format_key, new_key_id, new_secret, secret_digest
from labelops_testkit.waiting import eventually


async def _audited(pool: asyncpg.Pool, schema: str, outcome: str, method: str) -> Any:
    return await pool.fetchrow(
        f'SELECT * FROM "{schema}".audit_log WHERE outcome = $1 AND method = $2'
        " AND hash IS NOT NULL",
        outcome,
        method,
    )


async def test_a_stored_key_works_at_once_and_a_revoked_one_stops(pg_dsn: str) -> None:
    schema = f"auth_{uuid.uuid4().hex[:10]}"
    audit = f"{schema}_gw"
    pool = await asyncpg.create_pool(pg_dsn, min_size=1, max_size=2)
    try:
        await migrate(pool, schema, auth_migrations(), include_eventstore=False)
        keys = KeyStore(pool, schema)
        key_id, secret = new_key_id(), new_secret()
        await keys.insert(
            KeyRow(
                key_id=key_id,
                tenant_id="acme",
                subject="lead",
                kind="user",
                roles=("annotator",),
                vendor_id=None,
                secret_sha256=secret_digest(secret),
                created_at=datetime.now(UTC),
                expires_at=None,
                revoked_at=None,
                rotated_from=None,
                created_by="test",
            )
        )
        key = format_key(key_id, secret)
        app = create_app(
            Settings(pg_dsn=pg_dsn, auth_schema=schema, audit_schema=audit, auth_refresh_s=0.1)
        )
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                who = await client.post("/v1/session", json={"api_key": key})
                assert who.status_code == 200, who.text
                assert who.json()["subject"] == "lead" and who.json()["tenant_id"] == "acme"
                wrong = await client.post("/v1/session", json={"api_key": key[:-1] + "x"})
                assert wrong.status_code == 401
                # An annotator may not write ontologies: refused by the gateway, never sent on.
                denied = await client.post(
                    "/v1/ontologies", json={"ontology_id": "x"}, headers={"x-api-key": key}
                )
                assert denied.status_code == 403, denied.text
                await keys.revoke("acme", key_id)

                async def refused() -> bool:
                    again = await client.post("/v1/session", json={"api_key": key})
                    return again.status_code == 401

                assert await eventually(refused, timeout=10)
            row = await eventually(
                lambda: _audited(pool, audit, "denied", "POST /v1/ontologies"), timeout=15
            )
            assert (row["tenant_id"], row["actor_id"], row["action"]) == (
                "acme",
                "lead",
                "ontology.write",
            )
            assert row["code"] == "PERMISSION_DENIED" and row["service"] == "gateway"
            bad = await eventually(
                lambda: _audited(pool, audit, "unauthenticated", "POST /v1/session"), timeout=15
            )
            assert bad["actor_id"] == "" and key not in str(dict(bad))  # never the key
        async with pool.acquire() as conn:
            assert await verify(conn, audit) == []
    finally:
        for name in (schema, audit):
            await pool.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        await pool.close()
