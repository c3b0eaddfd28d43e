"""Per-tenant hash chains over a service's audit log and events table.

``ChainWorker`` links what was written: per tenant, contiguous ``seq`` 1, 2, ... and
``hash = sha256(prev_hash || canonical bytes)`` with a 32-zero-byte ``prev_hash`` before seq 1.

- audit rows (``audit_log``): chained in id order among the rows not chained yet (a row whose
  transaction commits late gets the next seq when it shows up; none is skipped), into the
  row's own ``seq`` / ``prev_hash`` / ``hash`` columns;
- events (``events``): chained in ``(tx_id, position)`` order of finished transactions (the
  outbox relay's order, so no event is skipped however commits interleave), into
  ``event_chain(tenant_id, seq, position, hash)``; ``chain_progress`` holds the last one.

The canonical bytes (``audit_bytes`` / ``event_bytes``) are every field, each length-prefixed,
so no two records share them. ``verify`` (``verify.py``) recomputes both chains.

Caveat: a row is chained within about ``interval_s`` of being written (an event only once
every older transaction of the database has finished: a long transaction delays it); a row
changed or deleted before it is chained is not detected. Deleting the newest rows of a chain
*together with* their chain entries is not detected either unless the heads (``chain_heads``)
are kept elsewhere: export them periodically (e.g. to the log shipper) to anchor the chains.

Several instances may run: each round takes a transaction-scoped advisory lock per schema and
a round that does not get it does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import struct
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

import asyncpg

from .schema import check_identifier

log = logging.getLogger(__name__)

ZERO_HASH = bytes(32)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Rows chained per transaction (per chain).
CHAIN_BATCH = 5000

AUDIT_FIELDS = (
    "id",
    "at",
    "tenant_id",
    "actor_kind",
    "actor_id",
    "service",
    "method",
    "action",
    "resource",
    "outcome",
    "code",
    "reason",
    "trace_id",
)
EVENT_FIELDS = (
    "event_id",
    "stream_id",
    "stream_version",
    "type",
    "tenant_id",
    "actor_kind",
    "actor_id",
    "occurred_at",
    "payload",
)


def _micros(t: datetime) -> int:
    d = t - _EPOCH
    return (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds


def _encode(values: Iterable[object]) -> bytes:
    """Each value as tag + 4-byte length + bytes (ints as 8-byte signed, times as micros)."""
    out = bytearray()
    for v in values:
        if isinstance(v, bool | int):
            b, tag = struct.pack(">q", int(v)), b"i"
        elif isinstance(v, datetime):
            b, tag = struct.pack(">q", _micros(v)), b"t"
        elif isinstance(v, uuid.UUID):
            b, tag = v.bytes, b"u"
        elif isinstance(v, bytes | bytearray | memoryview):
            b, tag = bytes(v), b"b"
        elif v is None:
            b, tag = b"", b"n"
        else:
            b, tag = str(v).encode(), b"s"
        out += tag + struct.pack(">I", len(b)) + b
    return bytes(out)


def audit_bytes(row: asyncpg.Record | dict[str, object]) -> bytes:
    """The canonical bytes of an ``audit_log`` row (not its chain columns)."""
    return _encode(row[f] for f in AUDIT_FIELDS)


def event_bytes(row: asyncpg.Record | dict[str, object]) -> bytes:
    """The canonical bytes of an ``events`` row: event_id, stream_id, stream_version, type,
    tenant, actor (kind, id), occurred_at, payload."""
    return _encode(row[f] for f in EVENT_FIELDS)


def link(prev_hash: bytes, canonical: bytes) -> bytes:
    """``sha256(prev_hash || canonical)``."""
    return hashlib.sha256(prev_hash + canonical).digest()


class ChainWorker:
    """Chains a service schema's audit rows and events (see the module docstring).

    Args:
        pool: asyncpg pool.
        schema: the service's schema (migration ``eventstore/0003_audit_chain.sql``).
        interval_s: pause between rounds when there was nothing to chain.
    """

    def __init__(self, pool: asyncpg.Pool, schema: str, *, interval_s: float = 1.0) -> None:
        self.pool = pool
        self.schema = check_identifier(schema)
        self.interval_s = interval_s
        self._s = f'"{schema}"'
        self._stopping = asyncio.Event()

    async def run_once(self) -> tuple[int, int]:
        """One round; returns (audit rows, events) chained (0, 0 when another instance holds
        the lock)."""
        async with self.pool.acquire() as conn, conn.transaction():
            got = await conn.fetchval(
                "SELECT pg_try_advisory_xact_lock(hashtext($1))", f"chain:{self.schema}"
            )
            if not got:
                return 0, 0
            audits = await self._chain_audit(conn)
            events = await self._chain_events(conn)
        return audits, events

    async def backlog(self) -> int:
        """Audit rows and events not chained yet (including those of running transactions)."""
        return int(
            await self.pool.fetchval(
                f"SELECT (SELECT count(*) FROM {self._s}.audit_log WHERE hash IS NULL)"
                f" + (SELECT count(*) FROM {self._s}.events e WHERE (e.tx_id, e.position) > ("
                f"coalesce((SELECT last_tx_id FROM {self._s}.chain_progress"
                " WHERE chain = 'events'), 0),"
                f" coalesce((SELECT last_position FROM {self._s}.chain_progress"
                " WHERE chain = 'events'), 0)))"
            )
        )

    async def drain(self, timeout: float = 30.0) -> None:
        """Chain until nothing is left (tests, shutdown). Events wait for every older
        transaction of the database to finish (the snapshot xmin is database-wide).

        Raises:
            TimeoutError: rows are still unchained after ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if any(await self.run_once()):
                continue
            left = await self.backlog()
            if left == 0:
                return
            if loop.time() > deadline:
                raise TimeoutError(f"{left} rows still unchained after {timeout}s")
            await asyncio.sleep(0.05)

    async def _heads(
        self, conn: asyncpg.Connection, table: str, tenants: list[str]
    ) -> dict[str, tuple[int, bytes]]:
        rows = await conn.fetch(
            f"SELECT DISTINCT ON (tenant_id) tenant_id, seq, hash FROM {self._s}.{table}"
            " WHERE tenant_id = ANY($1::text[]) AND seq IS NOT NULL"
            " ORDER BY tenant_id, seq DESC",
            tenants,
        )
        return {r["tenant_id"]: (r["seq"], r["hash"]) for r in rows}

    async def _chain_audit(self, conn: asyncpg.Connection) -> int:
        rows = await conn.fetch(
            f"SELECT {', '.join(AUDIT_FIELDS)} FROM {self._s}.audit_log"
            " WHERE hash IS NULL ORDER BY id LIMIT $1",
            CHAIN_BATCH,
        )
        if not rows:
            return 0
        heads = await self._heads(conn, "audit_log", sorted({r["tenant_id"] for r in rows}))
        ids, seqs, prevs, hashes = [], [], [], []
        for r in rows:
            seq, prev = heads.get(r["tenant_id"], (0, ZERO_HASH))
            h = link(prev, audit_bytes(r))
            heads[r["tenant_id"]] = (seq + 1, h)
            ids.append(r["id"])
            seqs.append(seq + 1)
            prevs.append(prev)
            hashes.append(h)
        await conn.execute(
            f"UPDATE {self._s}.audit_log a SET seq = u.seq, prev_hash = u.prev, hash = u.hash"
            " FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[])"
            " AS u(id, seq, prev, hash) WHERE a.id = u.id",
            ids,
            seqs,
            prevs,
            hashes,
        )
        return len(rows)

    async def _chain_events(self, conn: asyncpg.Connection) -> int:
        progress = await conn.fetchrow(
            f"SELECT last_tx_id, last_position FROM {self._s}.chain_progress WHERE chain = 'events'"
        )
        last_tx, last_pos = (
            (progress["last_tx_id"], progress["last_position"]) if progress else (0, 0)
        )
        rows = await conn.fetch(
            f"SELECT tx_id, position, {', '.join(EVENT_FIELDS)} FROM {self._s}.events"
            " WHERE (tx_id, position) > ($1, $2)"
            " AND tx_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
            " ORDER BY tx_id, position LIMIT $3",
            last_tx,
            last_pos,
            CHAIN_BATCH,
        )
        if not rows:
            return 0
        heads = await self._heads(conn, "event_chain", sorted({r["tenant_id"] for r in rows}))
        tenants, seqs, positions, hashes = [], [], [], []
        for r in rows:
            seq, prev = heads.get(r["tenant_id"], (0, ZERO_HASH))
            h = link(prev, event_bytes(r))
            heads[r["tenant_id"]] = (seq + 1, h)
            tenants.append(r["tenant_id"])
            seqs.append(seq + 1)
            positions.append(r["position"])
            hashes.append(h)
        await conn.execute(
            f"INSERT INTO {self._s}.event_chain (tenant_id, seq, position, hash)"
            " SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bytea[])",
            tenants,
            seqs,
            positions,
            hashes,
        )
        await conn.execute(
            f"INSERT INTO {self._s}.chain_progress (chain, last_tx_id, last_position)"
            " VALUES ('events', $1, $2) ON CONFLICT (chain) DO UPDATE"
            " SET last_tx_id = $1, last_position = $2, updated_at = now()",
            rows[-1]["tx_id"],
            rows[-1]["position"],
        )
        return len(rows)

    async def run(self) -> None:
        """Chain until ``stop()``; database errors are logged and the round retried."""
        while not self._stopping.is_set():
            try:
                audits, events = await self.run_once()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("chaining failed, retrying: %r", exc)
                audits = events = 0
            if audits < CHAIN_BATCH and events < CHAIN_BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=self.interval_s)

    async def stop(self) -> None:
        """Ask ``run()`` to return after its current round."""
        self._stopping.set()


async def chain_heads(conn: asyncpg.Connection, schema: str) -> list[dict[str, object]]:
    """The newest (seq, hash) of every tenant's audit and event chain, to anchor elsewhere."""
    s = f'"{check_identifier(schema)}"'
    rows = await conn.fetch(
        f"SELECT 'audit' AS chain, tenant_id, max(seq) AS seq FROM {s}.audit_log"
        " WHERE seq IS NOT NULL GROUP BY tenant_id"
        f" UNION ALL SELECT 'events', tenant_id, max(seq) FROM {s}.event_chain GROUP BY tenant_id"
        " ORDER BY 1, 2"
    )
    out: list[dict[str, object]] = []
    for r in rows:
        table = "audit_log" if r["chain"] == "audit" else "event_chain"
        h = await conn.fetchval(
            f"SELECT hash FROM {s}.{table} WHERE tenant_id = $1 AND seq = $2",
            r["tenant_id"],
            r["seq"],
        )
        out.append(
            {"chain": r["chain"], "tenant_id": r["tenant_id"], "seq": r["seq"], "hash": h.hex()}
        )
    return out
