"""The log of accepted labels in Postgres: ``accepted``, ``segments``, ``link_positions``.

``accepted`` holds one row per ``LabelAccepted`` at (topic, partition, offset), appended by the
projection (COPY) and linked (``superseded_offset``) before a version is made; ``segments``
says which log segments hold a project's labels; ``link_positions`` how far linking got. Every
statement on these tables is here; the callers hand in the connection (a projection batch or
the link runs in one transaction) or the pool. Every read of a project's rows is of one tenant
(``tenant_id``); the log positions (topic, partition, offset) are the tenant-free part.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TypeAlias

import asyncpg

from .tables import Tables

#: Columns of ``accepted`` a projected row fills, in ``AcceptedRow`` order.
ACCEPTED_COLUMNS = (
    "topic",
    "partition",
    "offset",
    "ts",
    "event_id",
    "project_id",
    "task_id",
    "payload",
    "tenant_id",
)

#: (topic, partition, offset, ts, event_id, project_id, task_id, payload, tenant_id): a
#: projected row (the tenant is the record's envelope's).
AcceptedRow = tuple[str, int, int, datetime, str, str, str, bytes, str]

Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool


class AcceptedLog:
    """Reads and writes of the accepted-labels history (see the module docstring)."""

    def __init__(self, tables: Tables, schema: str) -> None:
        self.t = tables
        self.schema = schema

    # ------------------------------------------------------------------ projection (appends)

    async def append(
        self,
        conn: asyncpg.Connection,
        rows: Sequence[AcceptedRow],
        segments: Collection[tuple[str, str, int, int]],
    ) -> None:
        """Append projected rows (COPY, no conflict check: each record is handed over once)
        and note their (tenant, project, partition, segment)s, all of ``rows[0]``'s topic."""
        # Derived state: a commit lost in a Postgres crash takes its positions with it, and the
        # batch is read again from Kafka. So the commit need not wait for the WAL flush.
        await conn.execute("SET LOCAL synchronous_commit = off")
        await conn.copy_records_to_table(
            "accepted", schema_name=self.schema, records=rows, columns=list(ACCEPTED_COLUMNS)
        )
        segs = list(segments)
        await conn.execute(
            f"INSERT INTO {self.t.segments} (tenant_id, project_id, topic, partition, segment)"
            " SELECT tn, p, $5, pt, s"
            " FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[]) AS x(tn, p, pt, s)"
            " ON CONFLICT DO NOTHING",
            [s[0] for s in segs],
            [s[1] for s in segs],
            [s[2] for s in segs],
            [s[3] for s in segs],
            rows[0][0],
        )

    # ------------------------------------------------------------------------------- link

    async def lock_link(self, conn: asyncpg.Connection) -> None:
        """One linker at a time (transaction-scoped advisory lock)."""
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"{self.schema}.link")

    async def linked(self, conn: Conn, topic: str) -> dict[int, int]:
        """partition → end offset linked so far."""
        rows = await conn.fetch(
            f"SELECT partition, linked_to FROM {self.t.link_positions} WHERE topic = $1", topic
        )
        return {r["partition"]: r["linked_to"] for r in rows}

    async def set_linked(
        self, conn: asyncpg.Connection, topic: str, linked: Mapping[int, int]
    ) -> None:
        await conn.executemany(
            f"INSERT INTO {self.t.link_positions} VALUES ($1, $2, $3)"
            " ON CONFLICT (topic, partition) DO UPDATE SET linked_to = EXCLUDED.linked_to",
            [(topic, p, o) for p, o in linked.items()],
        )

    async def analyze_if_grown(
        self, conn: asyncpg.Connection, topic: str, starts: Mapping[int, int], share: float
    ) -> None:
        """``ANALYZE accepted`` when the rows from ``starts`` (partition → first offset) on are
        at least 10k and ``share`` of the table (planner statistics for the link's queries).
        The total is the planner's own estimate, never a scan of the history."""
        total = await conn.fetchval(
            "SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = $1::regclass",
            self.t.accepted,
        )
        fresh = await conn.fetchval(
            f"SELECT count(*) FROM {self.t.accepted} a"
            " JOIN unnest($1::int[], $2::bigint[]) AS x(p, s)"
            ' ON a.topic = $3 AND a.partition = x.p AND a."offset" >= x.s',
            list(starts),
            list(starts.values()),
            topic,
        )
        if fresh >= 10_000 and fresh >= share * total:
            await conn.execute(f"ANALYZE {self.t.accepted}")

    async def chunk(
        self, conn: asyncpg.Connection, topic: str, partition: int, lo: int, end: int, limit: int
    ) -> list[asyncpg.Record]:
        """Up to ``limit`` rows (offset, tenant_id, project_id, task_id, payload) of [lo, end),
        in order (every tenant's: the link follows the log)."""
        rows: list[asyncpg.Record] = await conn.fetch(
            f'SELECT "offset", tenant_id, project_id, task_id, payload FROM {self.t.accepted}'
            ' WHERE topic = $1 AND partition = $2 AND "offset" >= $3 AND "offset" < $4'
            ' ORDER BY "offset" LIMIT $5',
            topic,
            partition,
            lo,
            end,
            limit,
        )
        return rows

    async def latest_before(
        self,
        conn: asyncpg.Connection,
        topic: str,
        partition: int,
        start: int,
        tasks: Iterable[tuple[str, ...]],
    ) -> dict[tuple[str, ...], int]:
        """(tenant, project, task) → the offset of its latest row below ``start`` (one index
        probe per task), for the tasks that have one."""
        keys = set(tasks)
        rows = await conn.fetch(
            f"SELECT DISTINCT ON (tenant_id, project_id, task_id) tenant_id, project_id,"
            f' task_id, "offset" FROM {self.t.accepted}'
            " JOIN unnest($1::text[], $2::text[]) AS x(tn, tk)"
            " ON tenant_id = x.tn AND task_id = x.tk"
            ' WHERE topic = $3 AND partition = $4 AND "offset" < $5'
            ' ORDER BY tenant_id, project_id, task_id, "offset" DESC',
            [k[0] for k in keys],
            [k[2] for k in keys],
            topic,
            partition,
            start,
        )
        found = {(r["tenant_id"], r["project_id"], r["task_id"]): r["offset"] for r in rows}
        return {k: o for k, o in found.items() if k in keys}

    async def set_superseded(
        self,
        conn: asyncpg.Connection,
        topic: str,
        partition: int,
        pairs: Sequence[tuple[int, int]],
    ) -> None:
        """Each (offset, superseded_offset) of ``pairs``."""
        await conn.executemany(
            f"UPDATE {self.t.accepted} SET superseded_offset = $4"
            ' WHERE topic = $1 AND partition = $2 AND "offset" = $3',
            [(topic, partition, old, new) for old, new in pairs],
        )

    async def delete(
        self, conn: asyncpg.Connection, topic: str, partition: int, offsets: Sequence[int]
    ) -> None:
        await conn.execute(
            f"DELETE FROM {self.t.accepted}"
            ' WHERE topic = $1 AND partition = $2 AND "offset" = ANY($3::bigint[])',
            topic,
            partition,
            list(offsets),
        )

    # ------------------------------------------------------------------------ versions

    async def first_after(self, pool: Conn, topic: str, at: datetime) -> dict[int, int]:
        """partition → the first offset whose Kafka timestamp is after ``at``."""
        rows = await pool.fetch(
            f'SELECT partition, min("offset") AS first_after FROM {self.t.accepted}'
            " WHERE topic = $1 AND ts > $2 GROUP BY partition",
            topic,
            at,
        )
        return {r["partition"]: r["first_after"] for r in rows}

    async def present_segments(
        self, pool: Conn, tenant_id: str, project_id: str, topic: str
    ) -> list[tuple[int, int]]:
        """The (partition, segment)s holding the project's labels, in order."""
        rows = await pool.fetch(
            f"SELECT partition, segment FROM {self.t.segments}"
            " WHERE tenant_id = $1 AND project_id = $2 AND topic = $3"
            " ORDER BY partition, segment",
            tenant_id,
            project_id,
            topic,
        )
        return [(r["partition"], r["segment"]) for r in rows]

    async def superseded_below(
        self, pool: Conn, tenant_id: str, project_id: str, topic: str, partition: int, end: int
    ) -> list[int]:
        """Offsets below ``end`` of the project's rows superseded below ``end``, in order."""
        rows = await pool.fetch(
            f'SELECT "offset" FROM {self.t.accepted} WHERE tenant_id = $1 AND project_id = $2'
            ' AND topic = $3 AND partition = $4 AND superseded_offset < $5 AND "offset" < $5'
            ' ORDER BY "offset"',
            tenant_id,
            project_id,
            topic,
            partition,
            end,
        )
        return [r["offset"] for r in rows]

    async def segment_rows(
        self,
        pool: Conn,
        tenant_id: str,
        project_id: str,
        topic: str,
        partition: int,
        lo: int,
        end: int,
        cut_end: int,
    ) -> list[asyncpg.Record]:
        """The project's rows (offset, event_id, payload) of [lo, end) in force at ``cut_end``
        (not superseded below it)."""
        rows: list[asyncpg.Record] = await pool.fetch(
            f'SELECT "offset", event_id, payload FROM {self.t.accepted}'
            " WHERE tenant_id = $1 AND project_id = $2 AND topic = $3 AND partition = $4"
            ' AND "offset" >= $5 AND "offset" < $6'
            " AND (superseded_offset IS NULL OR superseded_offset >= $7)",
            tenant_id,
            project_id,
            topic,
            partition,
            lo,
            end,
            cut_end,
        )
        return rows

    async def of_tasks(
        self, pool: Conn, tenant_id: str, project_id: str, topic: str, task_ids: Iterable[str]
    ) -> list[asyncpg.Record]:
        """Every row (task_id, partition, offset, ts, event_id, payload) of the tasks, in log
        order (a diff's blame)."""
        rows: list[asyncpg.Record] = await pool.fetch(
            f'SELECT task_id, partition, "offset", ts, event_id, payload FROM {self.t.accepted}'
            " WHERE tenant_id = $1 AND project_id = $2 AND topic = $3"
            ' AND task_id = ANY($4::text[]) ORDER BY partition, "offset"',
            tenant_id,
            project_id,
            topic,
            sorted(task_ids),
        )
        return rows

    # --------------------------------------------------------------------------- reset

    async def truncate(self, conn: asyncpg.Connection, *others: str) -> None:
        """Empty the history tables and ``others`` (qualified names) in one statement."""
        names = [self.t.accepted, self.t.link_positions, self.t.segments, *others]
        await conn.execute(f"TRUNCATE {', '.join(names)}")

    async def drop_positions(self, conn: asyncpg.Connection, consumers: Sequence[str]) -> None:
        """Forget where ``consumers`` got (their next start replays from offset 0)."""
        await conn.execute(
            f'DELETE FROM "{self.schema}".consumer_positions WHERE consumer = ANY($1::text[])',
            list(consumers),
        )
