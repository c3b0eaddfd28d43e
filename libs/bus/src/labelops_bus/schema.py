"""The consumer bookkeeping table ``<schema>.processed_events``."""

from __future__ import annotations

import re

import asyncpg

# Statuses a row can have. 'applied': the handler's effects committed with the row.
# 'dead_lettered': the record went to the DLQ; the row only stops a redelivery from
# dead-lettering it a second time.
STATUS_APPLIED = "applied"
STATUS_DEAD_LETTERED = "dead_lettered"

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def quote_schema(schema: str) -> str:
    """``schema`` as a quoted SQL identifier; rejects anything but a plain identifier.

    Schema names end up inside SQL text (identifiers cannot be bind parameters), so only
    letters, digits and underscores are accepted.
    """
    if not _IDENTIFIER.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    return f'"{schema}"'


def processed_events_ddl(schema: str) -> str:
    """The idempotent DDL of ``<schema>.processed_events`` (safe to run on every start)."""
    s = quote_schema(schema)
    return f"""
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.processed_events (
    consumer      text        NOT NULL,
    event_id      text        NOT NULL,
    topic         text        NOT NULL,
    partition     integer     NOT NULL,
    "offset"      bigint      NOT NULL,
    status        text        NOT NULL
                  CHECK (status IN ('{STATUS_APPLIED}', '{STATUS_DEAD_LETTERED}')),
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
"""


async def ensure_processed_events(conn: asyncpg.Connection, schema: str) -> None:
    """Create ``<schema>.processed_events`` if it does not exist.

    Serialized with a transaction-scoped advisory lock: two processes running
    ``CREATE ... IF NOT EXISTS`` at the same moment can otherwise both pass the existence
    check and one fails with a unique violation on the catalog.
    """
    async with conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1))", f"labelops_bus.schema.{schema}"
        )
        await conn.execute(processed_events_ddl(schema))
