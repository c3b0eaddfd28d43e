"""The request log of the event store: request ids (AIP-155) claimed, recorded and replayed.

A mixin of ``EventStore`` (which owns ``pool`` and the ``requests`` table name): the first
append of a request id records its result and response in the append's transaction; a repeat
is answered from that row (see ``idempotency`` for the command helper built on it).

Request ids are scoped by tenant (the row's key is ``(tenant_id, request_id)``): every claim,
record and lookup uses the current tenant (``labelops_core.context.current_tenant()``), so
tenant B sending tenant A's request id is handled afresh and never sees A's answer.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence

import asyncpg
from google.protobuf.message import Message
from labelops_core.context import current_tenant
from labelops_core.errors import FieldViolation, InvalidArgument

from .events import AppendResult, M
from .idempotency import Command, fingerprint_of


class RequestLog:
    """The ``<schema>.requests`` side of ``EventStore``."""

    pool: asyncpg.Pool
    _t_requests: str

    async def _claim_request(
        self, conn: asyncpg.Connection, request_id: str, stream_id: str, fingerprint: str
    ) -> bool:
        """Insert the request row first; False if the request id was used already.

        A concurrent duplicate blocks on this key until the first commits, then sees the row
        and replays instead of appending twice.
        """
        claimed = await conn.fetchval(
            f"INSERT INTO {self._t_requests}(tenant_id, request_id, stream_id, fingerprint)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, request_id) DO NOTHING RETURNING 1",
            current_tenant(),
            request_id,
            stream_id,
            fingerprint,
        )
        return bool(claimed)

    async def _record_request(
        self,
        conn: asyncpg.Connection,
        request_id: str,
        result: AppendResult,
        response: bytes | None,
    ) -> None:
        await self._store_request(
            conn,
            request_id,
            result.event_ids,
            result.first_version,
            result.last_version,
            result.positions,
            response,
        )

    async def _record_request_rows(
        self,
        conn: asyncpg.Connection,
        request_id: str,
        results: Sequence[AppendResult],
        response: bytes | None,
    ) -> None:
        """Record a multi-stream append: first stream's versions; all ids, positions aligned."""
        event_ids: list[uuid.UUID] = []
        positions: list[int] = []
        for r in results:
            event_ids += r.event_ids
            positions += r.positions  # per stream, version order is position order
        await self._store_request(
            conn,
            request_id,
            event_ids,
            results[0].first_version,
            results[0].last_version,
            positions,
            response,
        )

    async def _store_request(
        self,
        conn: asyncpg.Connection,
        request_id: str,
        event_ids: list[uuid.UUID],
        first_version: int,
        last_version: int,
        positions: list[int],
        response: bytes | None,
    ) -> None:
        await conn.execute(
            f"UPDATE {self._t_requests} SET event_ids = $2, first_version = $3,"
            " last_version = $4, positions = $5, response = $6"
            " WHERE request_id = $1 AND tenant_id = $7",
            request_id,
            event_ids,
            first_version,
            last_version,
            positions,
            response,
            current_tenant(),
        )

    async def _replay_request(
        self, conn: asyncpg.Connection, request_id: str, fingerprint: str
    ) -> AppendResult:
        row = await conn.fetchrow(
            f"SELECT * FROM {self._t_requests} WHERE tenant_id = $1 AND request_id = $2",
            current_tenant(),
            request_id,
        )
        assert row is not None  # the conflicting insert proves it exists and is committed
        if row["fingerprint"] != fingerprint:
            raise InvalidArgument(
                "request id was already used for a different request",
                [FieldViolation("request_id", "reused with different content")],
                reason="REQUEST_ID_REUSED",
            )
        return AppendResult(
            row["stream_id"],
            list(row["event_ids"]),
            row["first_version"],
            row["last_version"],
            list(row["positions"]),
            replayed=True,
            response=row["response"],
        )

    async def earlier_response(
        self,
        request_id: str,
        fingerprint: str,
        response_type: builtins.type[M],
        *,
        max_chars: int = 128,
    ) -> M | None:
        """The stored answer of an earlier request with this id (AIP-155), or None.

        Handlers call it before deciding, so a retried command answers as the first time even
        when state has moved on since. Only the current tenant's requests are looked at. Raises
        INVALID_ARGUMENT when the id is too long, or was used for a request with another
        ``fingerprint`` (``REQUEST_ID_REUSED``).
        """
        if len(request_id) > max_chars:
            raise InvalidArgument(
                f"request_id is longer than {max_chars} characters",
                [FieldViolation("request_id", f"at most {max_chars} characters (a UUID)")],
            )
        if not request_id:
            return None
        found = await self.lookup_request(request_id)
        if found is None:
            return None
        if found.fingerprint != fingerprint:
            raise InvalidArgument(
                "request_id was already used for a different request; use a new request_id",
                [FieldViolation("request_id", "reused with different content")],
                reason="REQUEST_ID_REUSED",
            )
        return response_type.FromString(found.response or b"")

    async def command(
        self,
        method: str,
        request: Message,
        response_type: builtins.type[M],
        *,
        request_id: str | None = None,
        max_chars: int = 128,
    ) -> Command[M]:
        """Start handling ``request`` to ``method`` idempotently (see ``idempotency``).

        ``request_id`` defaults to the request's ``request_id`` field. The returned command
        carries the earlier answer when the id was seen before (``earlier``), and
        ``recording(resp)`` for the append that stores the new answer.

        Raises:
            InvalidArgument: the id is too long, or was used for another request
                (``REQUEST_ID_REUSED``).
        """
        rid = request_id if request_id is not None else getattr(request, "request_id", "")
        fp = fingerprint_of(method, request)
        earlier = await self.earlier_response(rid, fp, response_type, max_chars=max_chars)
        return Command(rid, fp, earlier)

    async def lookup_request(
        self,
        request_id: str,
        conn: asyncpg.Connection | None = None,
        *,
        tenant_id: str | None = None,
    ) -> AppendResult | None:
        """The stored result of an earlier request with this id of ``tenant_id`` (default: the
        current tenant), or None.

        Handlers call this before deciding, so a retried command returns its first answer even
        when the aggregate has moved on since; compare ``fingerprint`` to tell a retry from a
        request id reused for other content.
        """
        tenant = tenant_id if tenant_id is not None else current_tenant()
        q = f"SELECT * FROM {self._t_requests} WHERE tenant_id = $1 AND request_id = $2"
        row = await (
            conn.fetchrow(q, tenant, request_id)
            if conn
            else self.pool.fetchrow(q, tenant, request_id)
        )
        if row is None:
            return None
        return AppendResult(
            row["stream_id"],
            list(row["event_ids"]),
            row["first_version"],
            row["last_version"],
            list(row["positions"]),
            replayed=True,
            response=row["response"],
            fingerprint=row["fingerprint"],
        )
