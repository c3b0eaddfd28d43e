"""The gateway accepts the keys an admin stores (``labelops keys``, ``CredentialService``) and
stops accepting them when revoked, without a restart: it reads ``<auth_schema>.api_keys`` on real
Postgres as the services do."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
from labelops_eventstore import migrate
from labelops_gateway.bootstrap import create_app
from labelops_gateway.config import Settings
from labelops_servicekit.credentials import KeyRow, KeyStore, auth_migrations
from labelops_servicekit.credentials.keys import format_key, new_key_id, new_secret, secret_digest
from labelops_testkit.waiting import eventually


async def test_a_stored_key_works_at_once_and_a_revoked_one_stops(pg_dsn: str) -> None:
    schema = f"auth_{uuid.uuid4().hex[:10]}"
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
                roles=("manager",),
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
        app = create_app(Settings(auth_pg_dsn=pg_dsn, auth_schema=schema, auth_refresh_s=0.1))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                who = await client.post("/v1/session", json={"api_key": key})
                assert who.status_code == 200, who.text
                assert who.json()["subject"] == "lead" and who.json()["tenant_id"] == "acme"
                wrong = await client.post("/v1/session", json={"api_key": key[:-1] + "x"})
                assert wrong.status_code == 401
                await keys.revoke("acme", key_id)

                async def refused() -> bool:
                    again = await client.post("/v1/session", json={"api_key": key})
                    return again.status_code == 401

                assert await eventually(refused, timeout=10)
    finally:
        await pool.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await pool.close()
