"""The keys stored by ``CredentialService`` (``labelops keys``), read by the gateway.

The services accept keys from ``<auth_schema>.api_keys`` (libs/servicekit/credentials); the
gateway authenticates every caller itself (route table, rate limit, event stream), so it reads
the same table through the same ``PgKeySource``: a key created, rotated or revoked by an admin
is accepted or refused here within ``auth_refresh_s``, without a restart. Read only: the
gateway never writes keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
from labelops_grpckit import Authenticator
from labelops_servicekit.credentials import KeyStore, PgKeySource

from ..config import Settings

log = logging.getLogger(__name__)


class StoredKeys:
    """A ``PgKeySource`` with its own small pool and refresh task."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.source: PgKeySource | None = None
        self._pool: asyncpg.Pool | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> Authenticator:
        """Take the first snapshot (a gateway that cannot read the keys fails at start) and
        return the authenticator over the environment's credentials and the stored keys."""
        s = self.settings
        self._pool = await asyncpg.create_pool(s.auth_pg_dsn, min_size=1, max_size=2)
        self.source = PgKeySource(
            KeyStore(self._pool, s.auth_schema),
            refresh_s=s.auth_refresh_s,
            max_staleness_s=max(s.auth_max_staleness_s, s.auth_refresh_s),
        )
        try:
            await self.source.refresh()
        except BaseException:
            await self.close()
            raise
        self._task = asyncio.create_task(self.source.run(), name="gateway-stored-keys")
        return Authenticator.from_env(key_source=self.source)

    async def close(self) -> None:
        if self.source is not None and self._task is not None:
            await self.source.stop()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, timeout=5)
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
