"""The gateway's Postgres (``pg_dsn``, optional): the stored keys it reads and the audit log of
its own denials.

- Stored keys: the services accept keys from ``<auth_schema>.api_keys``
  (libs/servicekit/credentials); the gateway authenticates every caller itself (route table,
  rate limit, event stream), so it reads the same table through the same ``PgKeySource``: a key
  created, rotated or revoked by an admin is accepted or refused here within
  ``auth_refresh_s``, without a restart. Read only.
- Audit: what the gateway refuses itself (no or a bad credential, a role without the route's
  action, the rate limit) never reaches a service, so the gateway records it: the event store's
  ``AuditLog`` in ``<audit_schema>.audit_log`` and its ``ChainWorker`` (per-tenant hash chain,
  ``labelops audit verify --schema <audit_schema>``). What a service refuses is in that
  service's audit log.

Without ``pg_dsn``, ``LogAuditSink`` writes each record as one JSON line to the
``labelops.audit`` logger (no chain).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable

import asyncpg
from labelops_core.audit import AuditRecord, AuditSink
from labelops_eventstore import migrate
from labelops_eventstore.audit import AuditLog
from labelops_eventstore.chain import ChainWorker
from labelops_grpckit import Authenticator
from labelops_servicekit.credentials import KeyStore, PgKeySource

from ..config import Settings

log = logging.getLogger(__name__)
audit_log = logging.getLogger("labelops.audit")


class LogAuditSink:
    """Audit records as JSON lines on the ``labelops.audit`` logger (no Postgres)."""

    def record(self, rec: AuditRecord) -> None:
        fields = dataclasses.asdict(rec)
        fields["at"] = rec.at.isoformat()
        audit_log.info("%s", json.dumps(fields, sort_keys=True))


class GatewayPostgres:
    """The pool, the stored keys' snapshot and the audit writer, with their loops."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.source: PgKeySource | None = None
        self.audit: AuditLog | None = None
        self._pool: asyncpg.Pool | None = None
        self._loops: list[tuple[asyncio.Task[None], Callable[[], Awaitable[None]]]] = []

    async def start(self) -> tuple[Authenticator, AuditSink]:
        """Migrate the audit schema, take the first key snapshot (a gateway that cannot read
        the keys fails at start), start the loops; the authenticator over the environment's
        credentials and the stored keys, and the audit sink."""
        s = self.settings
        self._pool = pool = await asyncpg.create_pool(s.pg_dsn, min_size=1, max_size=4)
        try:
            await migrate(pool, s.audit_schema)
            self.source = PgKeySource(
                KeyStore(pool, s.auth_schema),
                refresh_s=s.auth_refresh_s,
                max_staleness_s=max(s.auth_max_staleness_s, s.auth_refresh_s),
            )
            await self.source.refresh()
        except BaseException:
            await self.close()
            raise
        self.audit = AuditLog(pool, s.audit_schema)
        chain = ChainWorker(pool, s.audit_schema)
        for name, run, stop in (
            ("keys", self.source.run, self.source.stop),
            ("audit", self.audit.run, self.audit.stop),
            ("chain", chain.run, chain.stop),
        ):
            self._loops.append((asyncio.create_task(run(), name=f"gateway-{name}"), stop))
        return Authenticator.from_env(key_source=self.source), self.audit

    async def close(self) -> None:
        """Stop the loops (the audit writer flushes what it holds), then close the pool."""
        for task, stop in reversed(self._loops):
            await stop()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=5)
        self._loops.clear()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
