"""Per-service schema migrations.

Each service owns one Postgres schema. ``migrate`` applies the event store's own migrations and
then the service's ``migrations/*.sql`` files in name order, each once, recorded in
``<schema>.schema_migrations``. A transaction-scoped advisory lock serialises concurrent
migrators (two replicas starting at once).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import asyncpg

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_identifier(name: str) -> str:
    """Return ``name`` if it is a safe lowercase SQL identifier, else raise ValueError."""
    if not _IDENT.match(name):
        raise ValueError(f"not a valid schema/identifier name: {name!r}")
    return name


def eventstore_migrations() -> list[tuple[str, str]]:
    """The event store's own migrations as (name, sql) pairs."""
    root = resources.files("labelops_eventstore") / "migrations"
    files = sorted((p for p in root.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name)
    return [(f"eventstore/{p.name}", p.read_text()) for p in files]


def load_migrations(directory: str | Path) -> list[tuple[str, str]]:
    """Migrations of a service: every ``*.sql`` file of ``directory`` in name order."""
    d = Path(directory)
    return [(p.name, p.read_text()) for p in sorted(d.glob("*.sql"))]


async def migrate(
    pool_or_conn: asyncpg.Pool | asyncpg.Connection,
    schema: str,
    migrations: Iterable[tuple[str, str]] = (),
    *,
    include_eventstore: bool = True,
) -> list[str]:
    """Create ``schema`` if needed and apply pending migrations; returns the names applied."""
    check_identifier(schema)
    todo = (eventstore_migrations() if include_eventstore else []) + list(migrations)
    if isinstance(pool_or_conn, asyncpg.Pool):
        async with pool_or_conn.acquire() as conn:
            return await _migrate(conn, schema, todo)
    return await _migrate(pool_or_conn, schema, todo)


async def _migrate(conn: asyncpg.Connection, schema: str, todo: list[tuple[str, str]]) -> list[str]:
    applied: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"migrate:{schema}")
        # A least-privilege service role owns its schema but may not create schemas (no
        # CREATE on the database, deploy/postgres/roles.sql); Postgres checks that privilege
        # even for IF NOT EXISTS, so create only a schema that is missing.
        if not await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(f'SET LOCAL search_path TO "{schema}"')
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        for name, sql in todo:
            if name in done:
                continue
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_migrations(name) VALUES ($1)", name)
            applied.append(name)
    return applied
