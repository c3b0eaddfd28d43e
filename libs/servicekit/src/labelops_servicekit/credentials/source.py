"""``PgKeySource``: API keys from Postgres for the gRPC authenticator, without a restart.

``lookup`` is synchronous and never touches the database: it reads an in-memory snapshot of
``api_keys`` that ``refresh`` replaces (the scaffold's ``auth-keys`` worker calls it every
``refresh_s``, about a second). A key created, rotated or revoked on any service therefore
takes effect everywhere within about ``refresh_s``; expiry is judged at lookup time against
the stored ``expires_at``, so it is exact.

Fail closed: when the snapshot is older than ``max_staleness_s`` (Postgres unreachable for that
long) a lookup raises ``Unavailable``: a revoked key must not keep working through an outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from labelops_core.context import Principal
from labelops_core.errors import Unauthenticated, Unavailable

from .keys import parse_key, secret_matches
from .store import KeyRow, KeyStore

log = logging.getLogger("labelops.servicekit.credentials")

REASON_API_KEY_REVOKED = "API_KEY_REVOKED"
REASON_API_KEY_EXPIRED = "API_KEY_EXPIRED"

#: Revoked / expired keys kept in the snapshot this long, to answer why they fail.
RECENT_S = 7 * 24 * 3600.0


class PgKeySource:
    """A ``labelops_grpckit.KeySource`` over ``KeyStore`` (see the module docstring).

    Args:
        store: the ``api_keys`` table.
        refresh_s: seconds between two snapshots (``run``).
        max_staleness_s: a snapshot older than this makes lookups UNAVAILABLE.
        clock: ``() -> aware datetime`` (tests).
    """

    def __init__(
        self,
        store: KeyStore,
        *,
        refresh_s: float = 1.0,
        max_staleness_s: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if refresh_s <= 0 or max_staleness_s < refresh_s:
            raise ValueError("need 0 < refresh_s <= max_staleness_s")
        self.store = store
        self.refresh_s = refresh_s
        self.max_staleness_s = max_staleness_s
        self._clock = clock
        self._keys: dict[str, KeyRow] = {}
        self._loaded_at: float | None = None  # monotonic time of the last snapshot
        self._stop = asyncio.Event()

    @property
    def loaded(self) -> bool:
        """Whether a snapshot was taken at all."""
        return self._loaded_at is not None

    async def refresh(self) -> int:
        """Replace the snapshot with the table's current keys; returns how many it holds."""
        rows = await self.store.load(RECENT_S)
        self._keys = {r.key_id: r for r in rows}
        self._loaded_at = time.monotonic()
        return len(rows)

    def lookup(self, api_key: str) -> Principal | None:
        """The key's Principal; None when it is not a stored key (or the secret is wrong).

        Raises:
            Unauthenticated: the key is revoked (``API_KEY_REVOKED``) or expired
                (``API_KEY_EXPIRED``); said only to a caller who holds the right secret.
            Unavailable: no fresh snapshot (see the module docstring).
        """
        if self._loaded_at is None or time.monotonic() - self._loaded_at > self.max_staleness_s:
            raise Unavailable("credentials store unreachable", reason="CREDENTIALS_UNAVAILABLE")
        parsed = parse_key(api_key)
        if parsed is None:
            return None
        key_id, secret = parsed
        row = self._keys.get(key_id)
        if row is None or not secret_matches(secret, row.secret_sha256):
            return None
        if row.revoked_at is not None:
            raise Unauthenticated("API key revoked", reason=REASON_API_KEY_REVOKED)
        if row.expires_at is not None and row.expires_at <= self._clock():
            raise Unauthenticated("API key expired", reason=REASON_API_KEY_EXPIRED)
        return row.principal

    async def run(self) -> None:
        """Refresh every ``refresh_s`` until ``stop``; a failed refresh is logged and retried
        (lookups fail closed once the snapshot is too old)."""
        self._stop.clear()
        failing = False
        while not self._stop.is_set():
            try:
                await self.refresh()
                if failing:
                    log.info("credentials: key snapshot refreshed again")
                failing = False
            except Exception as exc:  # an outage: keep the last snapshot, try again
                if not failing:
                    log.warning("credentials: key refresh failed: %r", exc)
                failing = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.refresh_s)

    async def stop(self) -> None:
        """End ``run``."""
        self._stop.set()
