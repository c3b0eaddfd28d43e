"""``labelops audit verify`` on real Postgres: records written and chained, then one modified,
deleted or reordered record per test (audit and event chains) -> exit 1 naming it; intact -> 0."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.wrappers_pb2 import StringValue
from labelops_cli.main import app
from labelops_core.audit import AuditRecord
from labelops_eventstore import NO_STREAM, EventStore, NewEvent, migrate
from labelops_eventstore.audit import AuditLog
from labelops_eventstore.chain import ChainWorker
from typer.testing import CliRunner, Result

T0 = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.fixture
async def chained(pg_pool, pg_schema) -> str:
    """Five audit rows and five events of tenant-a, two of each of tenant-b, all chained."""
    await migrate(pg_pool, pg_schema)
    log = AuditLog(pg_pool, pg_schema)
    store = EventStore(pg_pool, pg_schema)
    for tenant, n in (("tenant-a", 5), ("tenant-b", 2)):
        for i in range(n):
            log.record(
                AuditRecord(
                    tenant_id=tenant,
                    actor_kind="user",
                    actor_id=f"u{i}",
                    service="qa",
                    method="/labelops.qa.v1.QaService/RunConsensus",
                    action="quality.run",
                    outcome="denied" if i % 2 else "ok",
                    code="PERMISSION_DENIED" if i % 2 else "OK",
                    at=T0 + timedelta(seconds=i),
                )
            )
            await store.append(
                f"{tenant}/{i}",
                NO_STREAM,
                [NewEvent.of(StringValue(value=f"{tenant}-{i}"), tenant_id=tenant)],
            )
    await log.flush()
    await ChainWorker(pg_pool, pg_schema).drain()
    return pg_schema


async def verify_cli(pg_dsn: str, schema: str, *extra: str) -> Result:
    args = ["audit", "verify", "--dsn", pg_dsn, "--schema", schema, *extra]
    # The CLI runs its own asyncio.run: in a thread, off the test's loop.
    return await asyncio.to_thread(
        CliRunner().invoke, app, args, env={"COLUMNS": "200"}, catch_exceptions=False
    )


async def where(pg_pool, schema: str, table: str, seq: int) -> int:
    col = "id" if table == "audit_log" else "position"
    return await pg_pool.fetchval(
        f"SELECT {col} FROM {schema}.{table} WHERE tenant_id = 'tenant-a' AND seq = $1", seq
    )


async def test_untouched_chains_print_ok_and_exit_0(pg_dsn, chained) -> None:
    result = await verify_cli(pg_dsn, chained)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "OK"
    result = await verify_cli(pg_dsn, chained, "--json", "--tenant", "tenant-b")
    assert result.exit_code == 0
    assert json.loads(result.output) == {"ok": True, "problems": []}


async def test_modified_audit_record_exit_1_naming_it(pg_pool, pg_dsn, chained) -> None:
    rid = await where(pg_pool, chained, "audit_log", 2)
    await pg_pool.execute(
        f"UPDATE {chained}.audit_log SET outcome = 'ok', code = 'OK' WHERE id = $1", rid
    )
    result = await verify_cli(pg_dsn, chained)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"audit chain, tenant 'tenant-a', seq 2 (id {rid}): modified: content does not match"
        " its hash"
    ]
    # Tenant B's chain is not affected.
    assert (await verify_cli(pg_dsn, chained, "--tenant", "tenant-b")).exit_code == 0


async def test_deleted_audit_record_exit_1_naming_it(pg_pool, pg_dsn, chained) -> None:
    await pg_pool.execute(
        f"DELETE FROM {chained}.audit_log WHERE id = $1",
        await where(pg_pool, chained, "audit_log", 3),
    )
    result = await verify_cli(pg_dsn, chained, "--json")
    assert result.exit_code == 1
    out = json.loads(result.output)
    assert not out["ok"]
    assert [(p["chain"], p["tenant_id"], p["seq"], p["kind"]) for p in out["problems"]] == [
        ("audit", "tenant-a", 3, "deleted")
    ]


async def test_reordered_audit_records_exit_1_naming_both(pg_pool, pg_dsn, chained) -> None:
    a = await where(pg_pool, chained, "audit_log", 3)
    b = await where(pg_pool, chained, "audit_log", 4)
    t = f"{chained}.audit_log"
    await pg_pool.execute(f"UPDATE {t} SET seq = -1 WHERE id = $1", a)
    await pg_pool.execute(f"UPDATE {t} SET seq = 3 WHERE id = $1", b)
    await pg_pool.execute(f"UPDATE {t} SET seq = 4 WHERE id = $1", a)
    result = await verify_cli(pg_dsn, chained)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"audit chain, tenant 'tenant-a', seq 3 (id {b}): reordered: record belongs at seq 4",
        f"audit chain, tenant 'tenant-a', seq 4 (id {a}): reordered: record belongs at seq 3",
    ]


async def test_modified_event_exit_1_naming_it(pg_pool, pg_dsn, chained) -> None:
    pos = await where(pg_pool, chained, "event_chain", 1)
    await pg_pool.execute(
        f"UPDATE {chained}.events SET actor_id = 'forged' WHERE position = $1", pos
    )
    result = await verify_cli(pg_dsn, chained)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"events chain, tenant 'tenant-a', seq 1 (position {pos}): modified: content does not"
        " match its hash"
    ]


async def test_deleted_event_exit_1_naming_it(pg_pool, pg_dsn, chained) -> None:
    pos = await where(pg_pool, chained, "event_chain", 4)
    await pg_pool.execute(f"DELETE FROM {chained}.events WHERE position = $1", pos)
    result = await verify_cli(pg_dsn, chained)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"events chain, tenant 'tenant-a', seq 4 (position {pos}): deleted: record missing"
    ]


async def test_reordered_events_exit_1_naming_both(pg_pool, pg_dsn, chained) -> None:
    # Swap two events' places in the log (each keeps its content).
    a = await where(pg_pool, chained, "event_chain", 2)
    b = await where(pg_pool, chained, "event_chain", 3)
    t = f"{chained}.events"
    await pg_pool.execute(f"UPDATE {t} SET position = -1 WHERE position = $1", a)
    await pg_pool.execute(f"UPDATE {t} SET position = $2 WHERE position = $1", b, a)
    await pg_pool.execute(f"UPDATE {t} SET position = $1 WHERE position = -1", b)
    result = await verify_cli(pg_dsn, chained)
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [
        f"events chain, tenant 'tenant-a', seq 2 (position {a}): reordered: record belongs at"
        " seq 3",
        f"events chain, tenant 'tenant-a', seq 3 (position {b}): reordered: record belongs at"
        " seq 2",
    ]


async def test_bad_schema_or_unmigrated_schema_is_one_error_line(
    pg_dsn, pg_schema, second_schema
) -> None:
    result = await verify_cli(pg_dsn, "Robert'); DROP")
    assert result.exit_code == 1 and "not a valid schema" in result.output
    result = await verify_cli(pg_dsn, second_schema)
    assert result.exit_code == 1 and "not migrated" in result.output
    result = await verify_cli("postgresql://nobody@127.0.0.1:1/none", pg_schema)
    assert result.exit_code == 1 and "cannot connect" in result.output
