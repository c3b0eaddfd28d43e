"""ConsumerRunner: Kafka → one Postgres transaction per record, deduplicated, dead-lettered.

Delivery model (see ARCHITECTURE.md, "Consumers"): Kafka delivers at least once; the effect is
applied exactly once because each record's handler runs in the same Postgres transaction as the
insert of its ``processed_events`` row, keyed by (consumer, event_id). Kafka offsets are
committed only after that transaction commits, so a crash in between causes a redelivery that
the row turns into a no-op.

This module holds the loop (lifecycle, batches, offsets, rebalances); one record's way through
it is in ``_runner_record``, the lag in ``_runner_lag``, what a handler sees in ``messages``.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from opentelemetry import trace
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider

from ._metrics import instruments_for
from ._runner_lag import LagTracking, _Batch
from ._runner_record import (
    RecordProcessing,
    _HandlerFailed,
    _Stopped,
    _where,
    _with_attempt,
    log,
)
from .clients import _MAX_ERROR_BYTES, DLQ_HEADER_PREFIX, _error_text, dlq_headers, start_clients
from .messages import (
    APPLIED,
    DEAD_LETTERED,
    DUPLICATE,
    Decoder,
    EventEnvelope,
    Handler,
    MessageContext,
    OffsetHook,
    PoisonMessage,
    Predicate,
    decode_envelope,
    is_transient_error,
)
from .schema import STATUS_APPLIED, STATUS_DEAD_LETTERED, ensure_processed_events, quote_schema
from .topics import dlq_topic as dlq_topic_for
from .topics import ensure_topics

# Parts of this module live in messages.py, clients.py, _runner_lag.py and _runner_record.py;
# every name it had stays importable from here.
__all__ = [
    "APPLIED",
    "DEAD_LETTERED",
    "DLQ_HEADER_PREFIX",
    "DUPLICATE",
    "STATUS_APPLIED",
    "STATUS_DEAD_LETTERED",
    "_MAX_ERROR_BYTES",
    "ConsumerRunner",
    "Decoder",
    "EventEnvelope",
    "Handler",
    "MessageContext",
    "OffsetHook",
    "PoisonMessage",
    "Predicate",
    "_Batch",
    "_HandlerFailed",
    "_Listener",
    "_Stopped",
    "_error_text",
    "_evaluate",
    "_where",
    "_with_attempt",
    "decode_envelope",
    "dlq_headers",
    "is_transient_error",
    "log",
    "start_clients",
]


class _Listener(ConsumerRebalanceListener):
    def __init__(self, runner: ConsumerRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._runner._on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._runner._on_assigned(set(assigned))


class ConsumerRunner(LagTracking, RecordProcessing):
    """Consumes ``topics`` as ``group_id`` and applies each record exactly once to Postgres.

    Per record: one transaction inserts ``(consumer, event_id)`` into
    ``<schema>.processed_events`` (ON CONFLICT DO NOTHING); a conflict means the record was
    already applied or dead-lettered and it is skipped, otherwise ``handler(ctx, conn)`` runs on
    the same connection and transaction. Kafka offsets are committed after each batch, only for
    records whose transaction committed.

    A handler exception rolls back and is retried ``max_attempts`` times with exponential
    backoff (``backoff_base * 2**(n-1)``, capped at ``backoff_max``); then the original key,
    value and headers go to the DLQ topic with ``dlq.*`` headers, and a 'dead_lettered' row is
    written. A value that cannot be decoded goes to the DLQ at once. Errors classified by
    ``is_transient`` (default: :func:`is_transient_error`) are retried until they clear or
    ``stop()`` is called and are never dead-lettered. Errors of the runner's own bookkeeping
    that are not transient (e.g. a missing table) propagate out of ``run()``.

    Args:
        bootstrap_servers: Kafka bootstrap, e.g. "127.0.0.1:9092".
        group_id: Kafka consumer group.
        topics: topics to subscribe to.
        pool: asyncpg pool for the bookkeeping table and the handler.
        consumer: name of this projection; the dedup namespace in processed_events.
        schema: Postgres schema of ``processed_events`` (usually the service's schema).
        handler: ``async def handle(ctx, conn)``; runs inside the record's transaction.
        service: the consuming service; names the DLQ topic ``labelops.<service>.dlq.v1``.
        dlq_topic: overrides the derived DLQ topic name.
        decode: ``decode(record) -> envelope``; raise to mark the record as poison.
        before_offset_commit: test hook awaited with the offsets about to be committed; if it
            raises, the runner simulates a crash: it closes without committing and the
            exception propagates out of ``run()``/``run_until()``/``stop()``.
    """

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        group_id: str,
        topics: Sequence[str],
        pool: asyncpg.Pool,
        consumer: str,
        schema: str,
        handler: Handler,
        service: str,
        dlq_topic: str | None = None,
        decode: Decoder | None = None,
        max_attempts: int = 3,
        backoff_base: float = 0.1,
        backoff_max: float = 30.0,
        is_transient: Callable[[BaseException], bool] = is_transient_error,
        max_batch: int = 100,
        poll_timeout: float = 0.25,
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 3_000,
        max_poll_interval_ms: int = 300_000,
        create_schema: bool = True,
        create_dlq_topic: bool = True,
        dlq_partitions: int = 3,
        lag_refresh_interval: float = 30.0,
        client_id: str | None = None,
        meter_provider: MeterProvider | None = None,
        tracer_provider: TracerProvider | None = None,
        before_offset_commit: OffsetHook | None = None,
    ) -> None:
        if not topics:
            raise ValueError("topics must not be empty")
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        quote_schema(schema)  # fail fast on a bad name
        self.bootstrap_servers = bootstrap_servers
        self.group_id = group_id
        self.topics = list(topics)
        self.consumer = consumer
        self.schema = schema
        self.service = service
        self.dlq_topic = dlq_topic or dlq_topic_for(service)
        self._pool = pool
        self._handler = handler
        self._decode: Decoder = decode or decode_envelope
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._is_transient = is_transient
        self._max_batch = max_batch
        self._poll_ms = max(1, int(poll_timeout * 1000))
        self._session_timeout_ms = session_timeout_ms
        self._heartbeat_interval_ms = heartbeat_interval_ms
        self._max_poll_interval_ms = max_poll_interval_ms
        self._create_schema = create_schema
        self._create_dlq_topic = create_dlq_topic
        self._dlq_partitions = dlq_partitions
        self._lag_refresh_interval = lag_refresh_interval
        self._client_id = client_id or f"labelops-{service}-{consumer}"
        self._before_offset_commit = before_offset_commit
        self._init_state(meter_provider, tracer_provider)

    def _init_state(
        self, meter_provider: MeterProvider | None, tracer_provider: TracerProvider | None
    ) -> None:
        """The SQL of the bookkeeping table, the instruments and the run state."""
        t = quote_schema(self.schema) + ".processed_events"
        self._sql_insert = (
            f'INSERT INTO {t} (consumer, event_id, topic, partition, "offset", status)'
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (consumer, event_id) DO NOTHING"
            " RETURNING true"
        )
        self._sql_exists = f"SELECT true FROM {t} WHERE consumer = $1 AND event_id = $2"

        self._instruments = instruments_for(meter_provider)
        self._instruments.runners.add(self)
        self._tracer = trace.get_tracer("labelops.bus", tracer_provider=tracer_provider)

        self._kafka: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._started = False
        self._closed = False
        self._stop_requested = asyncio.Event()
        self._assigned = asyncio.Event()
        self._running: asyncio.Future[None] | None = None
        self._run_task: asyncio.Task[Any] | None = None
        # Held while one record is processed, so a rebalance commits only finished records
        # and never hands a partition over in the middle of a transaction.
        self._record_lock = asyncio.Lock()
        # Bumped on every revocation: the rest of a batch fetched before it is dropped (after
        # the rebalance the fetch restarts from the committed offsets).
        self._epoch = 0
        self._batch = _Batch()
        # Next offset per partition whose transaction committed but whose offset is not yet
        # committed to Kafka.
        self._pending: dict[TopicPartition, int] = {}
        self._lag: dict[TopicPartition, int] = {}
        self._lag_local_at = 0.0
        self._lag_remote_at = 0.0
        #: Outcomes of this runner instance: applied, duplicate, dead_lettered.
        self.stats: Counter[str] = Counter()

    # ----------------------------------------------------------------------- lifecycle

    async def ensure_schema(self) -> None:
        """Create ``<schema>.processed_events`` if it does not exist (idempotent)."""
        async with self._pool.acquire() as conn:
            await ensure_processed_events(conn, self.schema)

    async def start(self, *, assign_timeout: float = 30.0) -> None:
        """Create the bookkeeping table and DLQ topic (unless disabled), connect, subscribe,
        and wait until the group has assigned partitions to this member.

        Waiting for the assignment lets a caller (a test) produce right after ``start()``
        and know this runner takes part in the group. If ``start()`` fails, the runner is
        closed; create a new one to try again.
        """
        if self._started:
            return
        if self._closed:
            raise RuntimeError("a stopped ConsumerRunner cannot be restarted; create a new one")
        self._started = True
        try:
            if self._create_schema:
                await self.ensure_schema()
            if self._create_dlq_topic:
                await ensure_topics(self.bootstrap_servers, [self.dlq_topic], self._dlq_partitions)
            self._producer, self._kafka = await start_clients(
                self.bootstrap_servers,
                self.group_id,
                self._client_id,
                session_timeout_ms=self._session_timeout_ms,
                heartbeat_interval_ms=self._heartbeat_interval_ms,
                max_poll_interval_ms=self._max_poll_interval_ms,
                max_poll_records=self._max_batch,
            )
            self._kafka.subscribe(self.topics, listener=_Listener(self))
            await self.wait_assigned(assign_timeout)
        except BaseException:
            # Leave nothing half-open behind (the producer, a group membership).
            await self._close(commit=False)
            raise

    async def wait_assigned(self, timeout: float = 30.0) -> None:
        """Wait until the group coordinator has given this member its partitions (possibly
        none, when the group has more members than partitions).

        Raises:
            TimeoutError: no assignment within ``timeout`` seconds.
        """
        try:
            await asyncio.wait_for(self._assigned.wait(), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"consumer {self.consumer!r} (group {self.group_id!r}) got no partition "
                f"assignment within {timeout}s"
            ) from None

    def assignment(self) -> set[TopicPartition]:
        """The partitions currently assigned to this runner."""
        return set(self._kafka.assignment()) if self._kafka is not None else set()

    async def run(self) -> None:
        """Process records until ``stop()``. Starts the runner if needed."""
        await self._run(None, None)

    async def run_until(self, predicate: Predicate, timeout: float = 30.0) -> None:
        """Process records until ``predicate()`` (sync or async) is true, commit the processed
        offsets, and return; the runner stays started (call ``stop()`` when done).

        The predicate is checked before the first poll and after every batch or empty poll.

        Raises:
            TimeoutError: the predicate was still false after ``timeout`` seconds (processed
                offsets are committed anyway).
        """
        await self._run(predicate, timeout)

    async def stop(self) -> None:
        """Graceful shutdown: the record in flight finishes, processed offsets are committed,
        then the consumer (leaving the group) and the DLQ producer are closed. Idempotent."""
        self._stop_requested.set()
        if self._running is not None:
            if asyncio.current_task() is self._run_task:
                # Called by a handler: waiting for the loop would wait for ourselves. The loop
                # closes the runner itself once the current record is done.
                return
            # The loop notices the flag after its current record, commits and closes.
            await asyncio.shield(self._running)
        await self._close(commit=True)

    async def __aenter__(self) -> ConsumerRunner:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------------ the loop

    async def _run(self, predicate: Predicate | None, timeout: float | None) -> None:
        if self._running is not None:
            raise RuntimeError("this ConsumerRunner is already running")
        if self._closed:
            raise RuntimeError("this ConsumerRunner is stopped")
        await self.start()
        assert self._kafka is not None
        self._running = asyncio.get_running_loop().create_future()
        self._run_task = asyncio.current_task()
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while not self._stop_requested.is_set():
                if predicate is not None and await _evaluate(predicate):
                    break
                if deadline is not None and time.monotonic() > deadline:
                    await self._commit()
                    raise TimeoutError(f"run_until: predicate still false after {timeout}s")
                batch = await self._kafka.getmany(
                    timeout_ms=self._poll_ms, max_records=self._max_batch
                )
                if batch:
                    await self._process_batch(batch)
                    await self._commit()
                if time.monotonic() - self._lag_remote_at > self._lag_refresh_interval:
                    await self.refresh_lag()
                else:
                    await self._update_lag_local()
            await self._commit()
            if predicate is not None:
                await self.refresh_lag()
        finally:
            try:
                if self._stop_requested.is_set():
                    await self._close(commit=True)
            finally:
                self._running.set_result(None)
                self._running = None
                self._run_task = None

    async def _process_batch(self, batch: Mapping[TopicPartition, list[ConsumerRecord]]) -> None:
        epoch = self._epoch
        self._batch = _Batch({tp: records[0].offset for tp, records in batch.items() if records})
        try:
            for tp, records in batch.items():
                for record in records:
                    if self._stop_requested.is_set() or self._epoch != epoch:
                        return
                    async with self._record_lock:
                        if self._epoch != epoch:
                            return
                        try:
                            await self._process_record(record)
                        except _Stopped:
                            return
                        self._pending[tp] = record.offset + 1
                        self._batch.next_offset[tp] = record.offset + 1
                # Every record the fetch returned for tp is done, so the consumer's position is
                # ours; it can be past the last record (transaction markers, aborted records)
                # and committing it keeps the committed lag at 0.
                if self._epoch == epoch:
                    position = await self._position_now(tp)
                    if position is not None and position > self._pending.get(tp, -1):
                        self._pending[tp] = position
                    self._batch.next_offset.pop(tp, None)
        finally:
            self._batch = _Batch()

    async def _position_now(self, tp: TopicPartition) -> int | None:
        assert self._kafka is not None
        try:
            return await asyncio.wait_for(self._kafka.position(tp), 0.05)
        except (TimeoutError, IllegalStateError):
            return None

    # ------------------------------------------------------------------------- offsets

    async def _commit(self, only: set[TopicPartition] | None = None, *, hook: bool = True) -> None:
        kafka = self._kafka
        if kafka is None or self._closed:
            return
        assigned = kafka.assignment()
        offsets = {
            tp: offset
            for tp, offset in self._pending.items()
            if tp in assigned and (only is None or tp in only)
        }
        if not offsets:
            return
        if hook and self._before_offset_commit is not None:
            try:
                await self._before_offset_commit(dict(offsets))
            except BaseException:
                await self._close(commit=False)
                raise
        try:
            await kafka.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # The group rebalanced under us; whoever owns the partitions now gets these records
            # again and skips them via processed_events.
            log.warning("consumer %s: offset commit failed (rebalance): %r", self.consumer, exc)
            return
        except KafkaError as exc:
            log.warning("consumer %s: offset commit failed, will retry: %r", self.consumer, exc)
            return
        for tp, offset in offsets.items():
            if self._pending.get(tp) == offset:
                del self._pending[tp]

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        # Wait for the record in flight, then hand over a committed position so the next owner
        # does not even see our finished records again.
        async with self._record_lock:
            self._epoch += 1
            self._assigned.clear()
            if revoked:
                await self._commit(revoked, hook=False)
            for tp in revoked:
                self._pending.pop(tp, None)
                self._lag.pop(tp, None)

    def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("consumer %s: assigned %s", self.consumer, sorted(assigned))
        self._lag = {tp: v for tp, v in self._lag.items() if tp in assigned}
        self._assigned.set()

    async def _close(self, *, commit: bool) -> None:
        if self._closed:
            return
        try:
            if commit and self._kafka is not None:
                await self._commit()
        finally:
            self._closed = True
            self._stop_requested.set()
            self._instruments.runners.discard(self)
            kafka, producer = self._kafka, self._producer
            self._kafka = self._producer = None
            if kafka is not None:
                await kafka.stop()
            if producer is not None:
                await producer.stop()


async def _evaluate(predicate: Predicate) -> bool:
    result = predicate()
    if asyncio.iscoroutine(result) or isinstance(result, Awaitable):
        result = await result
    return bool(result)
