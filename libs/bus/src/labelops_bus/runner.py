"""ConsumerRunner: Kafka → one Postgres transaction per record, deduplicated, dead-lettered.

Delivery model (see ARCHITECTURE.md, "Consumers"): Kafka delivers at least once; the effect is
applied exactly once because each record's handler runs in the same Postgres transaction as the
insert of its ``processed_events`` row, keyed by (consumer, event_id). Kafka offsets are
committed only after that transaction commits, so a crash in between causes a redelivery that
the row turns into a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from labelops.events.v1 import envelope_pb2
from labelops_core.errors import Unavailable
from labelops_telemetry.propagation import context_from_traceparent
from opentelemetry import trace
from opentelemetry.metrics import MeterProvider, Observation
from opentelemetry.trace import SpanKind, Status, StatusCode, TracerProvider

from ._metrics import instruments_for
from .schema import STATUS_APPLIED, STATUS_DEAD_LETTERED, ensure_processed_events, quote_schema
from .topics import dlq_topic as dlq_topic_for
from .topics import ensure_topics

EventEnvelope = envelope_pb2.EventEnvelope

log = logging.getLogger("labelops.bus")

APPLIED = "applied"
DUPLICATE = "duplicate"
DEAD_LETTERED = "dead_lettered"

# Prefix of every header the runner adds to a dead-lettered record.
DLQ_HEADER_PREFIX = "dlq."
_MAX_ERROR_BYTES = 4000


class PoisonMessage(ValueError):
    """A record whose value is not a usable event (goes to the DLQ without retries)."""


@dataclass(frozen=True)
class MessageContext:
    """One Kafka record as the handler sees it.

    ``envelope`` is the decoded EventEnvelope (or what a custom ``decode`` returned);
    ``event_id`` is the deduplication key: the envelope's event id, or
    ``kafka:<topic>:<partition>:<offset>`` when a custom decoder leaves it empty.
    ``attempt`` counts from 1; a handler can use it to log retries.
    """

    envelope: Any
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Mapping[str, bytes]
    timestamp: datetime
    consumer: str
    event_id: str
    attempt: int = 1


Handler = Callable[[MessageContext, asyncpg.Connection], Awaitable[None]]
Decoder = Callable[[ConsumerRecord], Any]
Predicate = Callable[[], bool | Awaitable[bool]]
OffsetHook = Callable[[Mapping[TopicPartition, int]], Awaitable[None]]


def decode_envelope(record: ConsumerRecord) -> Any:
    """The default decoder: the record value as an EventEnvelope with an event id and type.

    Protobuf parsing is lenient (empty or unrelated bytes may parse), so an envelope without
    ``event_id`` or ``type`` is rejected too: it could neither be deduplicated nor routed.

    Raises:
        PoisonMessage: the value is missing, not an envelope, or lacks event_id/type.
    """
    if record.value is None:
        raise PoisonMessage("record has no value (tombstone)")
    try:
        envelope = EventEnvelope.FromString(record.value)
    except Exception as exc:  # protobuf's DecodeError; its module path varies by backend
        raise PoisonMessage(f"value is not an EventEnvelope: {exc}") from exc
    if not envelope.event_id or not envelope.type:
        raise PoisonMessage("envelope has no event_id or no type")
    return envelope


async def start_clients(
    bootstrap: str, group_id: str, client_id: str, **consumer_options: Any
) -> tuple[AIOKafkaProducer, AIOKafkaConsumer]:
    """A started DLQ producer (idempotent, acks=all) and a started group consumer that never
    auto-commits, reads committed records only and starts at the earliest offset."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=f"{client_id}-dlq",
        acks="all",
        enable_idempotence=True,
    )
    await producer.start()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        **consumer_options,
    )
    try:
        await consumer.start()
    except BaseException:
        await producer.stop()
        raise
    return producer, consumer


def dlq_headers(
    record: ConsumerRecord,
    headers: Sequence[tuple[str, bytes]],
    error: BaseException,
    *,
    consumer: str,
    group: str,
    reason: str,
    attempts: int,
    event_id: str,
) -> list[tuple[str, bytes]]:
    """The original headers (minus earlier ``dlq.*`` ones) plus where the record came from,
    who gave up on it and why: what every dead-lettered record carries."""
    out = [(k, v) for k, v in headers if not k.startswith(DLQ_HEADER_PREFIX)]
    out += [
        ("dlq.error", _error_text(error)),
        ("dlq.reason", reason.encode()),
        ("dlq.topic", record.topic.encode()),
        ("dlq.partition", str(record.partition).encode()),
        ("dlq.offset", str(record.offset).encode()),
        ("dlq.consumer", consumer.encode()),
        ("dlq.group", group.encode()),
        ("dlq.attempts", str(attempts).encode()),
        ("dlq.event_id", event_id.encode()),
    ]
    return out


def is_transient_error(exc: BaseException) -> bool:
    """Default classification of errors that are not the event's fault.

    These (Postgres unreachable or restarting, serialization failures and deadlocks, network
    errors, a dependency answering UNAVAILABLE) are retried until they go away and are never
    dead-lettered: an outage must not empty the topic into the DLQ.
    """
    if isinstance(exc, asyncpg.QueryCanceledError):
        return False  # statement_timeout: likely the event's own query; retries then DLQ.
    return isinstance(
        exc,
        asyncpg.PostgresConnectionError
        | asyncpg.exceptions.OperatorInterventionError
        | asyncpg.exceptions.InsufficientResourcesError
        | asyncpg.exceptions.TransactionRollbackError
        | OSError
        | Unavailable
        | KafkaError,
    )


class _Stopped(Exception):
    """Internal: stop() interrupted an endless transient retry; the record stays unprocessed."""


class _HandlerFailed(Exception):
    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


class _Listener(ConsumerRebalanceListener):
    def __init__(self, runner: ConsumerRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._runner._on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._runner._on_assigned(set(assigned))


@dataclass
class _Batch:
    """Per-partition next offset still to process inside the batch being worked on."""

    next_offset: dict[TopicPartition, int] = field(default_factory=dict)


class ConsumerRunner:
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

        t = quote_schema(schema) + ".processed_events"
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

    # ----------------------------------------------------------------------------- lag

    def lag(self) -> dict[TopicPartition, int]:
        """Last computed lag per assigned partition: end offset - next offset to process.

        Updated by the run loop from fetch responses (at most once a second) and by
        ``refresh_lag()``; the ``labelops.consumer.lag`` gauge reports the same values.
        """
        return dict(self._lag)

    async def refresh_lag(self) -> dict[TopicPartition, int]:
        """Ask the brokers for the end offsets of the assigned partitions and recompute the
        lag (works before anything was consumed); returns the new ``lag()``."""
        kafka = self._kafka
        if kafka is None or self._closed:
            return self.lag()
        tps = list(kafka.assignment())
        ends = await kafka.end_offsets(tps) if tps else {}
        lag: dict[TopicPartition, int] = {}
        for tp in tps:
            pos = await self._position(tp, wait=True)
            if pos is not None and tp in ends:
                lag[tp] = max(0, ends[tp] - pos)
        self._lag = lag
        self._lag_remote_at = time.monotonic()
        return self.lag()

    async def _update_lag_local(self, *, force: bool = False) -> None:
        # Cheap variant from the highwater/LSO the fetcher already knows; no broker round trip.
        now = time.monotonic()
        if not force and now - self._lag_local_at < 1.0:
            return
        self._lag_local_at = now
        kafka = self._kafka
        if kafka is None:
            return
        lag: dict[TopicPartition, int] = {}
        for tp in kafka.assignment():
            # Under read_committed the consumer can only read up to the last stable offset;
            # records of open transactions are not backlog yet (Java's records-lag does this).
            end = kafka.last_stable_offset(tp)
            if end is None or end < 0:
                end = kafka.highwater(tp)
            pos = await self._position(tp, wait=False)
            if end is not None and pos is not None:
                lag[tp] = max(0, end - pos)
            elif tp in self._lag:
                lag[tp] = self._lag[tp]
        self._lag = lag

    async def _position(self, tp: TopicPartition, *, wait: bool) -> int | None:
        if tp in self._batch.next_offset:
            # Mid-batch the consumer's position is already past the whole batch.
            return self._batch.next_offset[tp]
        assert self._kafka is not None
        try:
            # position() blocks until the partition's committed/reset offset is known.
            return await asyncio.wait_for(self._kafka.position(tp), 30.0 if wait else 0.05)
        except (TimeoutError, IllegalStateError):
            return None

    def _lag_observations(self) -> list[Observation]:
        return [
            Observation(
                value,
                {
                    "consumer": self.consumer,
                    "group": self.group_id,
                    "topic": tp.topic,
                    "partition": tp.partition,
                },
            )
            for tp, value in self._lag.items()
        ]

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

    # ---------------------------------------------------------------------- one record

    async def _process_record(self, record: ConsumerRecord) -> None:
        headers_list = [(k, v if v is not None else b"") for k, v in (record.headers or ())]
        headers = dict(headers_list)
        decode_error: Exception | None = None
        envelope: Any = None
        try:
            envelope = self._decode(record)
        except Exception as exc:
            decode_error = exc
        traceparent: str | bytes | None = headers.get("traceparent")
        if not traceparent and envelope is not None:
            traceparent = getattr(envelope, "traceparent", None)
        parent = context_from_traceparent(traceparent)
        envelope_id = getattr(envelope, "event_id", "") if envelope is not None else ""
        event_id = envelope_id or f"kafka:{record.topic}:{record.partition}:{record.offset}"
        attributes: dict[str, Any] = {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": record.topic,
            "messaging.destination.partition.id": str(record.partition),
            "messaging.kafka.offset": record.offset,
            "messaging.consumer.group.name": self.group_id,
            "messaging.message.id": event_id,
            "labelops.consumer": self.consumer,
        }
        event_type = getattr(envelope, "type", None)
        if isinstance(event_type, str) and event_type:
            attributes["labelops.event.type"] = event_type
        with self._tracer.start_as_current_span(
            f"process {record.topic}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=True,
        ) as span:
            if decode_error is not None:
                outcome = await self._dead_letter_poison(
                    record, event_id, headers_list, decode_error
                )
                span.record_exception(decode_error)
            else:
                ctx = MessageContext(
                    envelope=envelope,
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    key=record.key,
                    value=record.value,
                    headers=headers,
                    timestamp=datetime.fromtimestamp(record.timestamp / 1000, tz=UTC),
                    consumer=self.consumer,
                    event_id=event_id,
                )
                outcome = await self._apply(record, ctx, headers_list, span)
            span.set_attribute("labelops.consumer.outcome", outcome)
            if outcome == DEAD_LETTERED:
                span.set_status(Status(StatusCode.ERROR, "dead-lettered"))
        self.stats[outcome] += 1
        self._instruments.processed.add(
            1, {"consumer": self.consumer, "topic": record.topic, "outcome": outcome}
        )

    async def _apply(
        self,
        record: ConsumerRecord,
        ctx: MessageContext,
        headers_list: list[tuple[str, bytes]],
        span: trace.Span,
    ) -> str:
        failures = 0  # non-transient handler failures; only these count towards the DLQ
        transient_failures = 0
        attempt = 0
        while True:
            attempt += 1
            ctx_n = ctx if attempt == 1 else _with_attempt(ctx, attempt)
            try:
                return await self._apply_once(record, ctx_n)
            except _HandlerFailed as failed:
                exc = failed.original
                if self._is_transient(exc):
                    transient_failures += 1
                    await self._backoff_transient(record, exc, transient_failures)
                    continue
                failures += 1
                span.record_exception(exc)
                if failures >= self._max_attempts:
                    return await self._dead_letter(
                        record, ctx.event_id, headers_list, exc, attempts=attempt, reason="handler"
                    )
                self._count_retry(record, exc)
                log.warning(
                    "consumer %s: handler failed on %s (attempt %d/%d), retrying: %r",
                    self.consumer,
                    _where(record),
                    failures,
                    self._max_attempts,
                    exc,
                )
                await asyncio.sleep(self._delay(failures))
            except Exception as exc:
                # The runner's own bookkeeping failed: never the event's fault.
                if not self._is_transient(exc):
                    raise
                transient_failures += 1
                await self._backoff_transient(record, exc, transient_failures)

    async def _apply_once(self, record: ConsumerRecord, ctx: MessageContext) -> str:
        handler_done = False
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                inserted = await conn.fetchval(
                    self._sql_insert,
                    self.consumer,
                    ctx.event_id,
                    record.topic,
                    record.partition,
                    record.offset,
                    STATUS_APPLIED,
                )
                if not inserted:
                    return DUPLICATE
                started = time.perf_counter()
                error_type = None
                try:
                    await self._handler(ctx, conn)
                except Exception as exc:
                    error_type = type(exc).__qualname__
                    raise _HandlerFailed(exc) from exc
                finally:
                    attrs = {"consumer": self.consumer, "topic": record.topic}
                    if error_type:
                        attrs["error.type"] = error_type
                    self._instruments.handler_duration.record(time.perf_counter() - started, attrs)
                handler_done = True
        except _HandlerFailed:
            raise
        except Exception as exc:
            if handler_done:
                # COMMIT failed (a deferred constraint the handler violated, or the connection
                # dropped): judged like a handler error.
                raise _HandlerFailed(exc) from exc
            raise
        return APPLIED

    async def _dead_letter_poison(
        self,
        record: ConsumerRecord,
        event_id: str,
        headers_list: list[tuple[str, bytes]],
        error: Exception,
    ) -> str:
        # A redelivered poison record was dead-lettered before: don't publish it twice.
        async with self._pool.acquire() as conn:
            if await conn.fetchval(self._sql_exists, self.consumer, event_id):
                return DUPLICATE
        log.warning(
            "consumer %s: undecodable record %s goes to %s: %r",
            self.consumer,
            _where(record),
            self.dlq_topic,
            error,
        )
        return await self._dead_letter(
            record, event_id, headers_list, error, attempts=0, reason="decode"
        )

    async def _dead_letter(
        self,
        record: ConsumerRecord,
        event_id: str,
        headers_list: list[tuple[str, bytes]],
        error: BaseException,
        *,
        attempts: int,
        reason: str,
    ) -> str:
        """Publish the original record to the DLQ, wait for the ack, then write the
        'dead_lettered' row. A crash between the two publishes it again on redelivery
        (at-least-once into the DLQ); never zero times."""
        headers = dlq_headers(
            record,
            headers_list,
            error,
            consumer=self.consumer,
            group=self.group_id,
            reason=reason,
            attempts=attempts,
            event_id=event_id,
        )
        log.error(
            "consumer %s: dead-lettering %s (event %s) after %d attempt(s): %r",
            self.consumer,
            _where(record),
            event_id,
            attempts,
            error,
        )
        assert self._producer is not None
        failures = 0
        while True:
            try:
                await self._producer.send_and_wait(
                    self.dlq_topic, value=record.value, key=record.key, headers=headers
                )
                break
            except KafkaError as exc:
                # Without the DLQ ack the record must not be marked done; retry, don't skip.
                failures += 1
                await self._backoff_transient(record, exc, failures)
        failures = 0
        while True:
            try:
                async with self._pool.acquire() as conn:
                    await conn.execute(
                        self._sql_insert,
                        self.consumer,
                        event_id,
                        record.topic,
                        record.partition,
                        record.offset,
                        STATUS_DEAD_LETTERED,
                    )
                return DEAD_LETTERED
            except Exception as exc:
                if not self._is_transient(exc):
                    raise
                failures += 1
                await self._backoff_transient(record, exc, failures)

    async def _backoff_transient(self, record: ConsumerRecord, exc: BaseException, n: int) -> None:
        self._count_retry(record, exc)
        delay = self._delay(n)
        log.warning(
            "consumer %s: transient error on %s (attempt %d), retrying in %.2fs: %r",
            self.consumer,
            _where(record),
            n,
            delay,
            exc,
        )
        # stop() must not wait for an outage to end: give up on this record (rolled back,
        # offset not committed, so it is redelivered after the restart).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_requested.wait(), delay)
        if self._stop_requested.is_set():
            raise _Stopped

    def _delay(self, n: int) -> float:
        return min(self._backoff_max, self._backoff_base * 2 ** (n - 1))

    def _count_retry(self, record: ConsumerRecord, exc: BaseException) -> None:
        self._instruments.retries.add(
            1,
            {
                "consumer": self.consumer,
                "topic": record.topic,
                "error.type": type(exc).__qualname__,
            },
        )

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


def _with_attempt(ctx: MessageContext, attempt: int) -> MessageContext:
    return replace(ctx, attempt=attempt)


async def _evaluate(predicate: Predicate) -> bool:
    result = predicate()
    if asyncio.iscoroutine(result) or isinstance(result, Awaitable):
        result = await result
    return bool(result)


def _where(record: ConsumerRecord) -> str:
    return f"{record.topic}[{record.partition}]@{record.offset}"


def _error_text(exc: BaseException) -> bytes:
    cls = type(exc)
    name = cls.__qualname__
    if cls.__module__ != "builtins":
        name = f"{cls.__module__}.{name}"
    return f"{name}: {exc}".encode()[:_MAX_ERROR_BYTES]
