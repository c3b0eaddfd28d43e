"""The event store: append with optimistic concurrency and idempotency, read streams and the log.

Write path (ARCHITECTURE.md, "Event sourcing, precisely"): a command handler loads its aggregate
from a stream, decides, and appends new events with the version it read. The unique key
``(stream_id, tenant_id, stream_version)`` is the concurrency check (streams are per tenant: an
append goes to the stream of its events' tenant); a conflict raises
``ConcurrencyConflict`` (gRPC ABORTED). A ``request_id`` makes the append idempotent (AIP-155):
the first append records its result in the same transaction; a repeat returns that result and
writes nothing. Event ids are unique too, so re-appending the same events is a no-op.

Handlers that update read models pass their own connection (inside their transaction) so
events, read model and idempotency record commit together: an acknowledged command is durable.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
from labelops_core.context import DEFAULT_TENANT, Principal, current_principal
from labelops_core.errors import ConcurrencyConflict, FieldViolation, InvalidArgument
from labelops_telemetry.propagation import current_traceparent

from .events import (
    _COLUMNS,
    _EPOCH,
    ACTOR_KIND_NAMES,
    ACTOR_KINDS,
    ANY_VERSION,
    NO_STREAM,
    AppendResult,
    M,
    MultiAppendResult,
    NewEvent,
    StoredEvent,
    StreamAppend,
    _row_to_event,
    envelope_bytes,
)
from .idempotency import Command, fingerprint_of
from .idempotency import request_fingerprint as request_fingerprint  # re-exported
from .request_log import RequestLog
from .schema import check_identifier

# The values moved to events.py and the request log to request_log.py; every name this module
# had stays importable from here.
__all__ = [
    "ACTOR_KINDS",
    "ACTOR_KIND_NAMES",
    "ANY_VERSION",
    "NO_STREAM",
    "_COLUMNS",
    "_EPOCH",
    "AppendResult",
    "Command",
    "EventStore",
    "M",
    "MultiAppendResult",
    "NewEvent",
    "StoredEvent",
    "StreamAppend",
    "_check_appends",
    "_row_to_event",
    "_stream_conflict",
    "check_identifier",
    "envelope_bytes",
    "fingerprint_of",
    "request_fingerprint",
]


def _event_tenant(e: NewEvent, principal: Principal | None) -> str:
    """Never tenant-less: the event's own tenant, else the caller's, else the default."""
    return e.tenant_id or (principal.tenant_id if principal else "") or DEFAULT_TENANT


def _segment_tenant(events: Sequence[NewEvent], path: str) -> str:
    """The tenant whose stream ``events`` go to; all of one append belong to one tenant."""
    principal = current_principal()
    tenants = {_event_tenant(e, principal) for e in events}
    if len(tenants) != 1:
        raise InvalidArgument(
            "the events of one stream append belong to one tenant",
            [FieldViolation(f"{path}events.tenant_id", f"{len(tenants)} tenants in one stream")],
        )
    return tenants.pop()


def _check_appends(appends: Sequence[StreamAppend]) -> None:
    """InvalidArgument unless every part names a distinct stream and has events."""
    if not appends:
        raise InvalidArgument("no streams to append to", [FieldViolation("appends", "empty")])
    violations: list[FieldViolation] = []
    seen_streams: set[tuple[str, str]] = set()
    seen_events: set[uuid.UUID] = set()
    principal = current_principal()
    for i, a in enumerate(appends):
        # A stream is (tenant, stream id): two tenants' streams of one id may share a batch.
        key = (a.stream_id, _event_tenant(a.events[0], principal) if a.events else "")
        if not a.stream_id:
            violations.append(FieldViolation(f"appends[{i}].stream_id", "empty"))
        elif key in seen_streams:
            violations.append(FieldViolation(f"appends[{i}].stream_id", "duplicate in batch"))
        seen_streams.add(key)
        if not a.events:
            violations.append(FieldViolation(f"appends[{i}].events", "empty"))
        for j, e in enumerate(a.events):
            if e.event_id in seen_events:
                violations.append(
                    FieldViolation(f"appends[{i}].events[{j}].event_id", "duplicate in batch")
                )
            seen_events.add(e.event_id)
    if violations:
        raise InvalidArgument("invalid multi-stream append", violations)


def _stream_conflict(index: int, a: StreamAppend, current: int) -> ConcurrencyConflict:
    return ConcurrencyConflict(
        f"stream {a.stream_id} is at version {current}, expected {a.expected_version}"
        if a.expected_version is not None
        else f"stream {a.stream_id} was appended to concurrently",
        metadata={
            "stream_id": a.stream_id,
            "stream_index": str(index),
            "expected_version": str(a.expected_version),
            "actual_version": str(current),
        },
    )


class EventStore(RequestLog):
    """Append-only event store of one service, in that service's Postgres schema.

    Args:
        pool: asyncpg pool.
        schema: the service's schema (``migrate`` creates the tables).
    """

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool = pool
        self.schema = check_identifier(schema)
        self.notify_channel = f"labelops_events_{schema}"
        s = f'"{schema}"'
        self._t_events = f"{s}.events"
        self._t_requests = f"{s}.requests"

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection inside a transaction, for appends together with read-model writes."""
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn

    async def append(
        self,
        stream_id: str,
        expected_version: int | None,
        events: Sequence[NewEvent],
        *,
        request_id: str | None = None,
        fingerprint: str = "",
        response: bytes | None = None,
        conn: asyncpg.Connection | None = None,
    ) -> AppendResult:
        """Append ``events`` to ``stream_id`` if its current version is ``expected_version``.

        ``expected_version``: ``NO_STREAM`` (0) for a new stream, N for "the stream is at N",
        ``ANY_VERSION`` (None) to append after the current end.
        With ``request_id``, a repeat of the request returns the first result and writes
        nothing; a repeat with a different ``fingerprint`` is INVALID_ARGUMENT.
        ``response`` is stored with the request id and returned on a replay.
        With ``conn``, the caller owns the transaction and commits it.

        Raises:
            ConcurrencyConflict: the stream is not at ``expected_version``.
            InvalidArgument: empty batch, reused request id, or partly existing event ids.
        """
        if not events:
            raise InvalidArgument("no events to append", [FieldViolation("events", "empty")])
        if not stream_id:
            raise InvalidArgument("stream id is empty", [FieldViolation("stream_id", "empty")])
        if conn is None:
            async with self.pool.acquire() as c, c.transaction():
                return await self._append(
                    c, stream_id, expected_version, events, request_id, fingerprint, response
                )
        async with conn.transaction():  # a savepoint when the caller already has a transaction
            return await self._append(
                conn, stream_id, expected_version, events, request_id, fingerprint, response
            )

    async def append_streams(
        self,
        appends: Sequence[StreamAppend],
        *,
        request_id: str | None = None,
        fingerprint: str = "",
        response: bytes | None = None,
        conn: asyncpg.Connection | None = None,
    ) -> MultiAppendResult:
        """Append to several streams at once, all or nothing, in one transaction.

        Each ``StreamAppend`` is checked against its ``expected_version`` exactly like
        ``append``; if any stream is off, nothing is written. The current versions of all
        streams are read with one query and every event is written with one INSERT (a batch of
        1000 streams costs the same two round trips as one ``append``), then the request is
        recorded and the relay notified once.

        ``request_id``/``fingerprint``/``response`` work as for ``append``, but a replay returns
        ``MultiAppendResult(results=[], replayed=True, response=<stored bytes>)``: answer a
        retried batch from ``response``. The request row (see ``lookup_request``) holds the first
        stream's id and versions, all event ids in request order and their positions in the
        same order. Unlike ``append``, a stale ``expected_version`` is always a conflict (a
        retry is not recognised by its event ids; use ``request_id``). Appending events that
        are all stored already, each in its stream, is answered as a replay (per-stream
        ``results`` with ``replayed=True``; ``response`` is the one passed in).
        With ``conn``, the caller owns the transaction and commits it.

        Raises:
            ConcurrencyConflict: a stream is not at its ``expected_version`` (metadata names
                the first such stream and its ``stream_index``) or was appended to concurrently.
            InvalidArgument: no appends, an empty stream id or event list, a stream id or
                event id twice in the batch, a reused request id, or partly existing event ids.
        """
        _check_appends(appends)
        if conn is None:
            async with self.pool.acquire() as c, c.transaction():
                return await self._append_streams(c, appends, request_id, fingerprint, response)
        async with conn.transaction():  # a savepoint when the caller already has a transaction
            return await self._append_streams(conn, appends, request_id, fingerprint, response)

    async def _append(
        self,
        conn: asyncpg.Connection,
        stream_id: str,
        expected_version: int | None,
        events: Sequence[NewEvent],
        request_id: str | None,
        fingerprint: str,
        response: bytes | None,
    ) -> AppendResult:
        if request_id and not await self._claim_request(conn, request_id, stream_id, fingerprint):
            return await self._replay_request(conn, request_id, fingerprint)

        ids = [e.event_id for e in events]
        current = await conn.fetchval(
            f"SELECT coalesce(max(stream_version), 0) FROM {self._t_events}"
            " WHERE stream_id = $1 AND tenant_id = $2",
            stream_id,
            _segment_tenant(events, ""),
        )
        if expected_version is not None and current != expected_version:
            # A retry of an append that already happened carries a stale version: recognise
            # it by its event ids (checked only on this rare path, to keep appends cheap).
            if await conn.fetchval(f"SELECT 1 FROM {self._t_events} WHERE event_id = $1", ids[0]):
                replay = await self._existing(conn, stream_id, ids)
                if request_id:
                    await self._record_request(conn, request_id, replay, response)
                return replay
            raise ConcurrencyConflict(
                f"stream {stream_id} is at version {current}, expected {expected_version}",
                metadata={
                    "stream_id": stream_id,
                    "expected_version": str(expected_version),
                    "actual_version": str(current),
                },
            )
        first = current + 1
        rows = self._rows([(stream_id, first, events, "")], request_id)
        try:
            inserted = await self._insert(conn, rows)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "events_stream_version_key":
                raise ConcurrencyConflict(
                    f"stream {stream_id} was appended to concurrently",
                    metadata={"stream_id": stream_id, "expected_version": str(expected_version)},
                ) from exc
            # The event ids exist already: committed earlier, or by a transaction we waited on.
            # If the very same events are stored in this stream, the append already happened:
            # answer as a replay (idempotent by event id) and write nothing.
            replay = await self._existing(conn, stream_id, ids)
            if request_id:
                await self._record_request(conn, request_id, replay, response)
            return replay
        result = AppendResult(
            stream_id,
            ids,
            first,
            first + len(events) - 1,
            sorted(r["position"] for r in inserted),
            response=response,
        )
        if request_id:
            await self._record_request(conn, request_id, result, response)
        await self._notify(conn)
        return result

    async def _append_streams(
        self,
        conn: asyncpg.Connection,
        appends: Sequence[StreamAppend],
        request_id: str | None,
        fingerprint: str,
        response: bytes | None,
    ) -> MultiAppendResult:
        if request_id and not await self._claim_request(
            conn, request_id, appends[0].stream_id, fingerprint
        ):
            replay = await self._replay_request(conn, request_id, fingerprint)
            return MultiAppendResult([], replayed=True, response=replay.response)

        stream_ids = [a.stream_id for a in appends]
        tenants = [_segment_tenant(a.events, f"appends[{i}].") for i, a in enumerate(appends)]
        versions = await self._versions(conn, stream_ids, tenants)
        for i, (a, current) in enumerate(zip(appends, versions, strict=True)):
            if a.expected_version is not None and current != a.expected_version:
                raise _stream_conflict(i, a, current)
        firsts = [v + 1 for v in versions]

        # Rows go in stream id order (versions ascending within a stream): concurrent batches
        # then take the unique-index entries of shared streams in the same order, so the later
        # one waits and fails with a unique violation instead of both deadlocking.
        order = sorted(range(len(appends)), key=stream_ids.__getitem__)
        rows = self._rows(
            [(stream_ids[i], firsts[i], appends[i].events, f"appends[{i}].") for i in order],
            request_id,
        )
        ids_per_stream = [[e.event_id for e in a.events] for a in appends]
        try:
            inserted = await self._insert(conn, rows)
        except (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError) as exc:
            if (
                isinstance(exc, asyncpg.UniqueViolationError)
                and exc.constraint_name != "events_stream_version_key"
            ):
                # As in _append: if every event is stored already, each in its stream, the
                # batch was appended before; answer as a replay and write nothing.
                results = await self._existing_in(
                    conn, list(zip(stream_ids, ids_per_stream, strict=True))
                )
                if request_id:
                    await self._record_request_rows(conn, request_id, results, response)
                return MultiAppendResult(results, replayed=True, response=response)
            # A concurrent writer committed first (a deadlock only against writers that take
            # streams in another order). Name a stream that moved, if this snapshot shows one.
            moved = await self._versions(conn, stream_ids, tenants)
            for i, (a, current) in enumerate(zip(appends, moved, strict=True)):
                if current != versions[i]:
                    raise _stream_conflict(i, a, current) from exc
            raise ConcurrencyConflict(
                f"one of {len(appends)} streams was appended to concurrently",
                metadata={"streams": str(len(appends))},
            ) from exc

        position_of = {r["event_id"]: r["position"] for r in inserted}
        results = [
            AppendResult(
                a.stream_id,
                ids,
                first,
                first + len(ids) - 1,
                sorted(position_of[i] for i in ids),
            )
            for a, ids, first in zip(appends, ids_per_stream, firsts, strict=True)
        ]
        if request_id:
            await self._record_request_rows(conn, request_id, results, response)
        await self._notify(conn)
        return MultiAppendResult(results, response=response)

    async def _versions(
        self, conn: asyncpg.Connection, stream_ids: list[str], tenants: list[str]
    ) -> list[int]:
        """Current versions of ``stream_ids`` of ``tenants`` (0 for a new stream), in one round
        trip. Each max() is a backward scan of the ``(stream_id, tenant_id, stream_version)``
        unique index.
        """
        rows = await conn.fetch(
            f"SELECT coalesce((SELECT max(e.stream_version) FROM {self._t_events} e"
            " WHERE e.stream_id = s.stream_id AND e.tenant_id = s.tenant_id), 0) AS version"
            " FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS s(stream_id, tenant_id, n)"
            " ORDER BY s.n",
            stream_ids,
            tenants,
        )
        return [r["version"] for r in rows]

    async def _insert(
        self, conn: asyncpg.Connection, rows: list[list[Any]]
    ) -> list[asyncpg.Record]:
        """Insert the columns built by ``_rows`` in one statement, inside a savepoint.

        Returns ``(position, event_id)`` of each row.
        """
        async with conn.transaction():
            return await conn.fetch(
                f"INSERT INTO {self._t_events} (event_id, stream_id, stream_version, type,"
                " tenant_id, actor_kind, actor_id, occurred_at, correlation_id, causation_id,"
                " traceparent, request_id, payload)"
                " SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[],"
                " $5::text[], $6::smallint[], $7::text[], $8::timestamptz[], $9::text[],"
                " $10::text[], $11::text[], $12::text[], $13::bytea[])"
                " RETURNING position, event_id",
                *rows,
            )

    async def _notify(self, conn: asyncpg.Connection) -> None:
        # Delivered only at COMMIT: wakes the relay without polling delay.
        await conn.execute("SELECT pg_notify($1, '')", self.notify_channel)

    async def _existing(
        self, conn: asyncpg.Connection, stream_id: str, ids: list[uuid.UUID]
    ) -> AppendResult:
        return (await self._existing_in(conn, [(stream_id, ids)]))[0]

    async def _existing_in(
        self, conn: asyncpg.Connection, streams: Sequence[tuple[str, list[uuid.UUID]]]
    ) -> list[AppendResult]:
        """Replay results if every event id is stored, each in its stream; else EVENT_ID_REUSED."""
        all_ids = [i for _, ids in streams for i in ids]
        rows = await conn.fetch(
            f"SELECT event_id, stream_id, stream_version, position FROM {self._t_events}"
            " WHERE event_id = ANY($1::uuid[]) ORDER BY position",
            all_ids,
        )
        by_id = {r["event_id"]: r for r in rows}
        mine_per_stream = [
            sorted((by_id[i] for i in ids if i in by_id), key=lambda r: r["position"])
            for _, ids in streams
        ]
        if all(
            len(mine) == len(ids) and all(r["stream_id"] == stream_id for r in mine)
            for (stream_id, ids), mine in zip(streams, mine_per_stream, strict=True)
        ):
            return [
                AppendResult(
                    stream_id,
                    [r["event_id"] for r in mine],
                    mine[0]["stream_version"],
                    mine[-1]["stream_version"],
                    [r["position"] for r in mine],
                    replayed=True,
                )
                for (stream_id, _), mine in zip(streams, mine_per_stream, strict=True)
            ]
        raise InvalidArgument(
            "some of these event ids already exist",
            [FieldViolation("events.event_id", "already stored (partly, or in another stream)")],
            reason="EVENT_ID_REUSED",
        )

    def _rows(
        self,
        segments: Sequence[tuple[str, int, Sequence[NewEvent], str]],
        request_id: str | None,
    ) -> list[list[Any]]:
        """Column arrays for ``_insert``: per segment (stream id, first version, events, field
        path prefix for errors), the events in order with consecutive versions."""
        principal = current_principal()
        now = datetime.now(UTC)
        tp = current_traceparent()
        cols: list[list[Any]] = [[] for _ in range(13)]
        for stream_id, first, events, path in segments:
            for i, e in enumerate(events):
                tenant = _event_tenant(e, principal)
                kind = (
                    e.actor_kind
                    if e.actor_kind is not None
                    else (principal.kind if principal else "")
                )
                actor = (
                    e.actor_id
                    if e.actor_id is not None
                    else (principal.subject if principal else "")
                )
                if kind not in ACTOR_KINDS:
                    raise InvalidArgument(
                        f"unknown actor kind {kind!r}",
                        [FieldViolation(f"{path}events[{i}].actor_kind", "unknown")],
                    )
                values = (
                    e.event_id,
                    stream_id,
                    first + i,
                    e.type,
                    tenant,
                    ACTOR_KINDS[kind],
                    actor,
                    e.occurred_at or now,
                    e.correlation_id,
                    e.causation_id,
                    e.traceparent if e.traceparent is not None else tp,
                    request_id,
                    e.payload,
                )
                for col, v in zip(cols, values, strict=True):
                    col.append(v)
        return cols

    async def stream_version(
        self,
        stream_id: str,
        conn: asyncpg.Connection | None = None,
        *,
        tenant_id: str | None = None,
    ) -> int:
        """Current version of a stream (0 if it has no events). Streams are per tenant: with
        ``tenant_id``, that tenant's stream; without, the highest version of any tenant's
        stream of this id (admin tools only)."""
        q = f"SELECT coalesce(max(stream_version), 0) FROM {self._t_events} WHERE stream_id = $1"
        args: list[Any] = [stream_id]
        if tenant_id is not None:
            q += " AND tenant_id = $2"
            args.append(tenant_id)
        return int(await (conn.fetchval(q, *args) if conn else self.pool.fetchval(q, *args)))

    async def read_stream(
        self,
        stream_id: str,
        from_version: int = 1,
        limit: int | None = None,
        conn: asyncpg.Connection | None = None,
        *,
        tenant_id: str | None = None,
    ) -> list[StoredEvent]:
        """Events of a stream in version order, from ``from_version`` (1-based). Streams are
        per tenant: with ``tenant_id``, that tenant's stream; without, every tenant's stream of
        this id interleaved by version (admin tools only)."""
        args: list[Any] = [stream_id, from_version]
        tenant_sql = ""
        if tenant_id is not None:
            tenant_sql = " AND tenant_id = $3"
            args.append(tenant_id)
        q = (
            f"SELECT {_COLUMNS} FROM {self._t_events} WHERE stream_id = $1 AND stream_version >= $2"
            + tenant_sql
            + " ORDER BY stream_version"
            + (f" LIMIT {int(limit)}" if limit else "")
        )
        rows = await (conn.fetch(q, *args) if conn else self.pool.fetch(q, *args))
        return [_row_to_event(r) for r in rows]

    async def read_all(
        self,
        after_position: int = 0,
        limit: int = 1000,
        types: Sequence[str] | None = None,
        *,
        tenant_id: str | None = None,
    ) -> list[StoredEvent]:
        """Committed events in position order, after ``after_position``; with ``tenant_id``,
        only that tenant's.

        Only events of finished transactions are returned (tx below the snapshot xmin), but
        positions are not gap-free: a transaction still running may later commit a lower
        position. Use this for audits and rebuilds of a quiet store; live consumers read Kafka,
        which the relay feeds without gaps.
        """
        args: list[Any] = [after_position, limit]
        q = (
            f"SELECT {_COLUMNS} FROM {self._t_events} WHERE position > $1"
            " AND tx_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
        )
        if types:
            args.append(list(types))
            q += f" AND type = ANY(${len(args)}::text[])"
        if tenant_id is not None:
            args.append(tenant_id)
            q += f" AND tenant_id = ${len(args)}"
        q += " ORDER BY position LIMIT $2"
        rows = await self.pool.fetch(q, *args)
        return [_row_to_event(r) for r in rows]
