"""Audit log, hash chains and verify on real Postgres."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.wrappers_pb2 import StringValue
from labelops_core.audit import AuditRecord
from labelops_eventstore import NO_STREAM, EventStore, NewEvent, migrate
from labelops_eventstore.audit import AuditLog
from labelops_eventstore.chain import ZERO_HASH, ChainWorker, audit_bytes, chain_heads, link
from labelops_eventstore.verify import DELETED, MODIFIED, REORDERED, verify

T0 = datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def rec(i: int, tenant: str = "tenant-a", **kw: str) -> AuditRecord:
    fields = {
        "tenant_id": tenant,
        "actor_kind": "user",
        "actor_id": f"u{i}",
        "service": "routing",
        "method": "/labelops.routing.v1.RoutingService/CreateProject",
        "action": "project.manage",
        "outcome": "ok",
        "code": "OK",
        "resource": f"projects/p{i}",
        "at": T0 + timedelta(seconds=i),
    }
    fields.update(kw)
    return AuditRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture
async def schema(pg_pool, pg_schema) -> str:
    await migrate(pg_pool, pg_schema)
    return pg_schema


async def write_audit(pg_pool, schema: str, records: list[AuditRecord]) -> AuditLog:
    log = AuditLog(pg_pool, schema)
    for r in records:
        log.record(r)
    await log.flush()
    return log


async def test_records_are_buffered_then_written_in_order(pg_pool, schema) -> None:
    log = AuditLog(pg_pool, schema, flush_interval_s=0.05)
    task = asyncio.create_task(log.run())
    log.record(rec(1, reason="x\x00y"))  # a NUL from a request must not lose the row
    log.record(rec(2, tenant="tenant-b", outcome="denied", code="PERMISSION_DENIED"))
    for _ in range(100):
        if await pg_pool.fetchval(f"SELECT count(*) FROM {schema}.audit_log") == 2:
            break
        await asyncio.sleep(0.05)
    log.record(rec(3))
    await log.stop()
    await asyncio.wait_for(task, 10)
    rows = await pg_pool.fetch(f"SELECT * FROM {schema}.audit_log ORDER BY id")
    assert [(r["tenant_id"], r["actor_id"], r["outcome"]) for r in rows] == [
        ("tenant-a", "u1", "ok"),
        ("tenant-b", "u2", "denied"),
        ("tenant-a", "u3", "ok"),  # written by stop()
    ]
    assert rows[0]["at"] == T0 + timedelta(seconds=1) and rows[0]["reason"] == "x\\0y"
    assert all(r["hash"] is None and r["seq"] is None for r in rows)  # not chained yet
    assert log.pending == 0 and log.dropped == 0


async def test_a_full_buffer_drops_counts_and_warns_but_never_raises(
    pg_pool, schema, caplog
) -> None:
    log = AuditLog(pg_pool, schema, max_buffer=3)
    with caplog.at_level(logging.WARNING, logger="labelops_eventstore.audit"):
        for i in range(5):
            log.record(rec(i))
        log.record(None)  # type: ignore[arg-type]  # garbage is not the caller's problem
    assert log.pending == 3 and log.dropped == 3
    assert "dropped" in caplog.text
    assert await log.flush() == 3


async def test_a_failed_flush_keeps_the_records(pg_pool, schema) -> None:
    log = AuditLog(pg_pool, schema)
    log.record(rec(1))
    await pg_pool.execute(f"ALTER TABLE {schema}.audit_log RENAME TO audit_log_x")
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises
        await log.flush()
    assert log.pending == 1
    await pg_pool.execute(f"ALTER TABLE {schema}.audit_log_x RENAME TO audit_log")
    assert await log.flush() == 1


async def test_chain_per_tenant_contiguous_and_recomputable(pg_pool, schema) -> None:
    await write_audit(
        pg_pool, schema, [rec(i, "tenant-a" if i % 3 else "tenant-b") for i in range(9)]
    )
    worker = ChainWorker(pg_pool, schema)
    assert await worker.run_once() == (9, 0)
    await write_audit(pg_pool, schema, [rec(10), rec(11, "tenant-b")])
    await worker.drain()
    rows = await pg_pool.fetch(f"SELECT * FROM {schema}.audit_log ORDER BY id")
    for tenant in ("tenant-a", "tenant-b"):
        mine = [r for r in rows if r["tenant_id"] == tenant]
        assert [r["seq"] for r in mine] == list(range(1, len(mine) + 1))
        prev = ZERO_HASH
        for r in mine:
            assert r["prev_hash"] == prev and r["hash"] == link(prev, audit_bytes(r))
            prev = r["hash"]
    async with pg_pool.acquire() as conn:
        assert await verify(conn, schema) == []
        heads = await chain_heads(conn, schema)
    assert {(h["chain"], h["tenant_id"], h["seq"]) for h in heads} == {
        ("audit", "tenant-a", 7),
        ("audit", "tenant-b", 4),
    }


async def test_several_chain_workers_at_once_chain_each_row_once(pg_pool, schema) -> None:
    store = EventStore(pg_pool, schema)
    for i in range(20):
        await store.append(
            f"s/{i}", NO_STREAM, [NewEvent.of(StringValue(value=str(i)), tenant_id="t")]
        )
    workers = [ChainWorker(pg_pool, schema, interval_s=0.01) for _ in range(3)]
    for round_ in range(4):
        await write_audit(pg_pool, schema, [rec(round_ * 10 + i) for i in range(10)])
        await asyncio.gather(*(w.run_once() for w in workers))
    await workers[0].drain()
    seqs = await pg_pool.fetch(f"SELECT seq FROM {schema}.audit_log ORDER BY seq")
    assert [r["seq"] for r in seqs] == list(range(1, 41))
    chained = await pg_pool.fetch(f"SELECT seq FROM {schema}.event_chain ORDER BY seq")
    assert [r["seq"] for r in chained] == list(range(1, 21))
    tasks = [asyncio.create_task(w.run()) for w in workers]
    await write_audit(pg_pool, schema, [rec(99)])
    for _ in range(200):
        if (
            await pg_pool.fetchval(f"SELECT count(*) FROM {schema}.audit_log WHERE seq IS NULL")
            == 0
        ):
            break
        await asyncio.sleep(0.02)
    for w in workers:
        await w.stop()
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    async with pg_pool.acquire() as conn:
        assert await verify(conn, schema) == []


async def test_events_written_by_a_transaction_that_commits_late_are_chained(
    pg_pool, schema
) -> None:
    store = EventStore(pg_pool, schema)
    worker = ChainWorker(pg_pool, schema)
    async with store.transaction() as slow:
        # This transaction takes a position first and commits after a later one.
        await store.append("s/slow", NO_STREAM, [NewEvent.of(StringValue(value="slow"))], conn=slow)
        await store.append("s/fast", NO_STREAM, [NewEvent.of(StringValue(value="fast"))])
        await worker.run_once()  # the fast one is not chained past the running transaction
        assert await pg_pool.fetchval(f"SELECT count(*) FROM {schema}.event_chain") == 0
    await worker.drain()
    rows = await pg_pool.fetch(f"SELECT tenant_id, seq FROM {schema}.event_chain ORDER BY seq")
    assert [(r["tenant_id"], r["seq"]) for r in rows] == [("default", 1), ("default", 2)]
    async with pg_pool.acquire() as conn:
        assert await verify(conn, schema) == []


# --- tampering: one test each per chain --------------------------------------------------


async def chained(pg_pool, schema) -> None:
    """Six audit rows and six events of tenant-a, three of tenant-b, all chained."""
    await write_audit(pg_pool, schema, [rec(i) for i in range(6)] + [rec(9, "tenant-b")] * 3)
    store = EventStore(pg_pool, schema)
    for i in range(6):
        await store.append(
            f"s/{i}", NO_STREAM, [NewEvent.of(StringValue(value=f"e{i}"), tenant_id="tenant-a")]
        )
    for i in range(3):
        await store.append(
            f"b/{i}", NO_STREAM, [NewEvent.of(StringValue(value=f"b{i}"), tenant_id="tenant-b")]
        )
    await ChainWorker(pg_pool, schema).drain()


async def problems(pg_pool, schema, tenant: str | None = None) -> list[tuple[str, str, int, str]]:
    async with pg_pool.acquire() as conn:
        return [(p.chain, p.tenant_id, p.seq, p.kind) for p in await verify(conn, schema, tenant)]


async def audit_id(pg_pool, schema, seq: int) -> int:
    return await pg_pool.fetchval(
        f"SELECT id FROM {schema}.audit_log WHERE tenant_id = 'tenant-a' AND seq = $1", seq
    )


async def event_position(pg_pool, schema, seq: int) -> int:
    return await pg_pool.fetchval(
        f"SELECT position FROM {schema}.event_chain WHERE tenant_id = 'tenant-a' AND seq = $1",
        seq,
    )


async def test_untouched_chains_verify(pg_pool, schema) -> None:
    await chained(pg_pool, schema)
    assert await problems(pg_pool, schema) == []
    assert await problems(pg_pool, schema, "tenant-b") == []


async def test_a_modified_audit_record_is_named(pg_pool, schema) -> None:
    await chained(pg_pool, schema)
    await pg_pool.execute(
        f"UPDATE {schema}.audit_log SET outcome = 'ok', code = 'OK', actor_id = 'someone-else'"
        " WHERE id = $1",
        await audit_id(pg_pool, schema, 3),
    )
    assert await problems(pg_pool, schema) == [("audit", "tenant-a", 3, MODIFIED)]
    assert await problems(pg_pool, schema, "tenant-b") == []


async def test_a_modified_audit_record_with_its_hash_recomputed_is_named(pg_pool, schema) -> None:
    await chained(pg_pool, schema)
    rid = await audit_id(pg_pool, schema, 3)
    await pg_pool.execute(f"UPDATE {schema}.audit_log SET actor_id = 'forged' WHERE id = $1", rid)
    row = await pg_pool.fetchrow(f"SELECT * FROM {schema}.audit_log WHERE id = $1", rid)
    await pg_pool.execute(
        f"UPDATE {schema}.audit_log SET hash = $2 WHERE id = $1",
        rid,
        link(row["prev_hash"], audit_bytes(row)),
    )
    assert await problems(pg_pool, schema) == [("audit", "tenant-a", 3, MODIFIED)]


async def test_a_deleted_audit_record_is_named(pg_pool, schema) -> None:
    await chained(pg_pool, schema)
    await pg_pool.execute(
        f"DELETE FROM {schema}.audit_log WHERE id = $1", await audit_id(pg_pool, schema, 4)
    )
    assert await problems(pg_pool, schema) == [("audit", "tenant-a", 4, DELETED)]


async def test_two_reordered_audit_records_are_named(pg_pool, schema) -> None:
    await chained(pg_pool, schema)
    a, b = await audit_id(pg_pool, schema, 2), await audit_id(pg_pool, schema, 3)
    t = f"{schema}.audit_log"
    # Swap their places in the chain (each row keeps its own content and hashes).
    await pg_pool.execute(f"UPDATE {t} SET seq = -1 WHERE id = $1", a)
    await pg_pool.execute(f"UPDATE {t} SET seq = 2 WHERE id = $1", b)
    await pg_pool.execute(f"UPDATE {t} SET seq = 3 WHERE id = $1", a)
    assert await problems(pg_pool, schema) == [
        ("audit", "tenant-a", 2, REORDERED),
        ("audit", "tenant-a", 3, REORDERED),
    ]


async def test_two_audit_records_with_swapped_content_are_named(pg_pool, schema) -> None:
    await chained(pg_pool, schema)
    a, b = await audit_id(pg_pool, schema, 4), await audit_id(pg_pool, schema, 5)
    t = f"{schema}.audit_log"
    await pg_pool.execute(
        f"UPDATE {t} x SET at = y.at, actor_id = y.actor_id, resource = y.resource"
        f" FROM {t} y WHERE (x.id, y.id) IN (($1, $2), ($2, $1))",
        a,
        b,
    )
    found = await problems(pg_pool, schema)
    assert [(c, s) for c, _, s, _ in found] == [("audit", 4), ("audit", 5)]
    assert all(k in (REORDERED, MODIFIED) for *_, k in found)


async def test_a_modified_event_is_named(pg_pool, schema) -> None:
    await chained(pg_pool, schema)
    await pg_pool.execute(
        f"UPDATE {schema}.events SET payload = $2 WHERE position = $1",
        await event_position(pg_pool, schema, 2),
        StringValue(value="rewritten").SerializeToString(),
    )
    assert await problems(pg_pool, schema) == [("events", "tenant-a", 2, MODIFIED)]


async def test_a_deleted_event_is_named(pg_pool, schema) -> None:
    await chained(pg_pool, schema)
    await pg_pool.execute(
        f"DELETE FROM {schema}.events WHERE position = $1", await event_position(pg_pool, schema, 5)
    )
    assert await problems(pg_pool, schema) == [("events", "tenant-a", 5, DELETED)]


async def test_a_deleted_event_chain_entry_is_named(pg_pool, schema) -> None:
    await chained(pg_pool, schema)
    await pg_pool.execute(
        f"DELETE FROM {schema}.event_chain WHERE tenant_id = 'tenant-a' AND seq = 3"
    )
    assert await problems(pg_pool, schema) == [("events", "tenant-a", 3, DELETED)]


async def test_two_reordered_events_are_named(pg_pool, schema) -> None:
    await chained(pg_pool, schema)
    a, b = await event_position(pg_pool, schema, 3), await event_position(pg_pool, schema, 4)
    t = f"{schema}.event_chain"
    await pg_pool.execute(f"UPDATE {t} SET position = -1 WHERE position = $1", a)
    await pg_pool.execute(f"UPDATE {t} SET position = $2 WHERE position = $1", b, a)
    await pg_pool.execute(f"UPDATE {t} SET position = $1 WHERE position = -1", b)
    assert await problems(pg_pool, schema) == [
        ("events", "tenant-a", 3, REORDERED),
        ("events", "tenant-a", 4, REORDERED),
    ]
