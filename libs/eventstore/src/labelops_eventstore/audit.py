"""``AuditLog``: the audit sink of a service, written to ``<schema>.audit_log`` in batches.

The server kit hands every command and every denial to ``record`` while the call runs, so
``record`` must never block or raise: it appends to an in-memory buffer. ``run`` (a scaffold
worker) flushes the buffer every ``flush_interval_s`` (sooner when a batch is full) with one
COPY per batch; ``stop`` flushes what is left. When the buffer is full (the database is down
for long), new records are dropped, counted in ``dropped`` and warned about: the service keeps
serving rather than failing calls for want of an audit row. A failed flush keeps the records
for the next attempt (as far as the buffer has room).

The ``ChainWorker`` (``chain``) links the rows per tenant afterwards.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging

import asyncpg
from labelops_core.audit import AuditRecord

from .schema import check_identifier

log = logging.getLogger(__name__)

#: The columns written from an ``AuditRecord``, in COPY order.
AUDIT_COLUMNS = (
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
#: Most records one COPY writes.
BATCH = 1000


def _row(rec: AuditRecord) -> tuple[object, ...]:
    # NUL cannot be stored in a Postgres text column; an attacker's NUL must not lose the row.
    def clean(s: str) -> str:
        return s.replace("\x00", "\\0") if "\x00" in s else s

    return (
        rec.at,
        clean(rec.tenant_id),
        clean(rec.actor_kind),
        clean(rec.actor_id),
        clean(rec.service),
        clean(rec.method),
        clean(rec.action),
        clean(rec.resource),
        clean(rec.outcome),
        clean(rec.code),
        clean(rec.reason),
        clean(rec.trace_id),
    )


class AuditLog:
    """The audit sink (``labelops_core.audit.AuditSink``) of one service schema.

    Args:
        pool: asyncpg pool.
        schema: the service's schema (migration ``eventstore/0003_audit_chain.sql``).
        flush_interval_s: longest a record waits in the buffer while ``run`` is running.
        max_buffer: records held at most; beyond, new ones are dropped and counted.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        schema: str,
        *,
        flush_interval_s: float = 0.2,
        max_buffer: int = 10000,
    ) -> None:
        self.pool = pool
        self.schema = check_identifier(schema)
        self.flush_interval_s = flush_interval_s
        self.max_buffer = max_buffer
        self.dropped = 0
        self.written = 0
        self._buffer: collections.deque[AuditRecord] = collections.deque()
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._flush_lock = asyncio.Lock()

    @property
    def pending(self) -> int:
        """Records waiting to be written."""
        return len(self._buffer)

    def record(self, rec: AuditRecord) -> None:
        """Buffer ``rec``; never blocks, never raises (a full buffer drops and counts)."""
        try:
            if len(self._buffer) >= self.max_buffer:
                self.dropped += 1
                # Warn on the first drop and then at every power of two: visible, not a flood.
                if self.dropped & (self.dropped - 1) == 0:
                    log.warning(
                        "audit buffer full (%d records): %d audit records dropped so far",
                        self.max_buffer,
                        self.dropped,
                    )
                return
            self._buffer.append(rec)
            if len(self._buffer) >= BATCH:
                self._wakeup.set()
        except Exception:  # the sink must never fail the call it audits
            with contextlib.suppress(Exception):
                log.exception("audit record lost")

    async def flush(self) -> int:
        """Write every buffered record now (in batches); returns how many were written.

        Raises the database error of a failed batch after putting its records back.
        """
        written = 0
        async with self._flush_lock:
            while self._buffer:
                batch = [self._buffer.popleft() for _ in range(min(BATCH, len(self._buffer)))]
                try:
                    async with self.pool.acquire() as conn:
                        await conn.copy_records_to_table(
                            "audit_log",
                            schema_name=self.schema,
                            columns=AUDIT_COLUMNS,
                            records=[_row(r) for r in batch],
                        )
                except BaseException:
                    room = self.max_buffer - len(self._buffer)
                    keep = batch[:room] if room > 0 else []
                    self._buffer.extendleft(reversed(keep))
                    self.dropped += len(batch) - len(keep)
                    raise
                written += len(batch)
        self.written += written
        return written

    async def run(self) -> None:
        """Flush every ``flush_interval_s`` until ``stop()``; a failed flush is retried."""
        backoff = self.flush_interval_s
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=backoff)
            self._wakeup.clear()
            try:
                await self.flush()
                backoff = self.flush_interval_s
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("audit flush failed (%d pending), retrying: %r", self.pending, exc)
                backoff = min(max(backoff * 2, 0.1), 5.0)
        await self.flush()

    async def stop(self) -> None:
        """Ask ``run()`` to write what is buffered and return."""
        self._stopping.set()
        self._wakeup.set()
