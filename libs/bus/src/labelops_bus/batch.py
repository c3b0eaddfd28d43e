"""BatchProjector: Kafka → Postgres in batches, positions kept in Postgres (exactly-once effect).

``ConsumerRunner`` runs one transaction per record and deduplicates by event id: right for
command-like handlers. A *projection* that only appends what each record says (the datasets
service's history of accepted labels) can go much faster: one transaction per fetched batch,
in which the handler writes every record of the batch and the projector advances
``<schema>.consumer_positions`` (consumer, topic, partition → next offset). The positions, not
Kafka's committed offsets, say where to resume: on every assignment the projector seeks each
partition to its stored position, and records below it are dropped. So:

- a crash before the transaction commits: nothing of the batch is visible; it is fetched again;
- a crash after the commit but before Kafka's offset commit: the restart seeks to the stored
  position, and the batch is not applied twice (handlers should still be idempotent, e.g.
  keyed by (topic, partition, offset), which also makes a replay after a reset harmless).

Kafka offsets are still committed after each batch, so lag tools see the group's progress.
Records that cannot be decoded go to the DLQ (``dlq.*`` headers as ``ConsumerRunner``) and are
skipped; handler errors classified transient are retried with backoff until they clear; any
other handler error stops the projector (its supervisor restarts it from the stored positions).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from labelops_telemetry.propagation import context_from_traceparent
from opentelemetry import trace
from opentelemetry.metrics import MeterProvider, Observation
from opentelemetry.trace import Link, SpanKind, TracerProvider

from ._metrics import instruments_for
from .runner import (
    PoisonMessage,
    decode_envelope,
    dlq_headers,
    is_transient_error,
    start_clients,
)
from .schema import quote_schema
from .topics import dlq_topic as dlq_topic_for
from .topics import ensure_topics

log = logging.getLogger("labelops.bus")

# Span links per batch span: enough to follow a sample of the producers' traces.
_MAX_LINKS = 32


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """One decoded Kafka record of a batch."""

    envelope: Any
    topic: str
    partition: int
    offset: int
    timestamp: datetime
    key: bytes | None


BatchHandler = Callable[[Any, asyncpg.Connection], Awaitable[None]]
Prepare = Callable[[Sequence[BatchRecord]], Any]


@dataclass
class _Job:
    epoch: int
    count: int
    prepared: Any
    ends: dict[TopicPartition, tuple[int, datetime]]
    links: list[Link]


OffsetHook = Callable[[Mapping[TopicPartition, int]], Awaitable[None]]


def positions_ddl(schema: str) -> str:
    s = quote_schema(schema)
    return (
        f"CREATE TABLE IF NOT EXISTS {s}.consumer_positions ("
        " consumer text NOT NULL, topic text NOT NULL, partition int NOT NULL,"
        " next_offset bigint NOT NULL, last_timestamp timestamptz,"
        " updated_at timestamptz NOT NULL DEFAULT now(),"
        " PRIMARY KEY (consumer, topic, partition))"
    )


async def read_positions(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, consumer: str, topic: str
) -> dict[int, int]:
    """partition → next offset the projection will apply (what it has consumed so far)."""
    rows = await conn.fetch(
        f"SELECT partition, next_offset FROM {quote_schema(schema)}.consumer_positions"
        " WHERE consumer = $1 AND topic = $2",
        consumer,
        topic,
    )
    return {r["partition"]: r["next_offset"] for r in rows}


class _Listener(ConsumerRebalanceListener):
    def __init__(self, projector: BatchProjector) -> None:
        self.projector = projector

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.projector._epoch += 1

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.projector._seek_to_positions(assigned)


class BatchProjector:
    """Consumes ``topics`` as ``group_id``; ``handler(records, conn)`` applies a batch.

    Args mirror ``ConsumerRunner`` where they overlap. ``max_batch`` bounds records per
    transaction. ``prepare(records)``, when given, turns a batch into what ``handler`` gets
    (instead of the records) and runs outside the transaction, overlapped with the previous
    batch's transaction: CPU work (parsing, building rows) there, only writes in the handler.
    ``before_offset_commit`` is a test hook awaited after the batch's transaction
    committed and before Kafka's offset commit; if it raises, the projector closes without
    committing to Kafka and the exception propagates (a simulated crash).
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
        handler: BatchHandler,
        service: str,
        decode: Callable[[ConsumerRecord], Any] | None = None,
        prepare: Prepare | None = None,
        max_batch: int = 5000,
        poll_timeout: float = 0.25,
        backoff_base: float = 0.1,
        backoff_max: float = 10.0,
        is_transient: Callable[[BaseException], bool] = is_transient_error,
        create_dlq_topic: bool = True,
        client_id: str | None = None,
        meter_provider: MeterProvider | None = None,
        tracer_provider: TracerProvider | None = None,
        before_offset_commit: OffsetHook | None = None,
    ) -> None:
        if not topics:
            raise ValueError("topics must not be empty")
        self.bootstrap_servers = bootstrap_servers
        self.group_id = group_id
        self.topics = list(topics)
        self.consumer = consumer
        self.schema = schema
        self.service = service
        self.dlq_topic = dlq_topic_for(service)
        self._pool = pool
        self._handler = handler
        self._decode = decode or decode_envelope
        self._prepare = prepare
        self._max_batch = max_batch
        self._poll_ms = max(1, int(poll_timeout * 1000))
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._is_transient = is_transient
        self._create_dlq_topic = create_dlq_topic
        self._client_id = client_id or f"labelops-{service}-{consumer}"
        self._before_offset_commit = before_offset_commit
        s = quote_schema(schema)
        self._sql_advance = (
            f"INSERT INTO {s}.consumer_positions"
            " (consumer, topic, partition, next_offset, last_timestamp, updated_at)"
            " SELECT $1, t, p, o, ts, now()"
            " FROM unnest($2::text[], $3::int[], $4::bigint[], $5::timestamptz[]) AS x(t, p, o, ts)"
            " ON CONFLICT (consumer, topic, partition) DO UPDATE SET"
            " next_offset = GREATEST(consumer_positions.next_offset, EXCLUDED.next_offset),"
            " last_timestamp = EXCLUDED.last_timestamp, updated_at = now()"
        )
        self._instruments = instruments_for(meter_provider)
        self._instruments.runners.add(self)
        self._tracer = trace.get_tracer("labelops.bus", tracer_provider=tracer_provider)
        self._kafka: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._stop = asyncio.Event()
        self._assigned = asyncio.Event()
        self._epoch = 0
        self._started = False
        self._closed = False
        # Next offset applied per partition (what the stored positions say, once known).
        self._applied: dict[TopicPartition, int] = {}
        self._lag: dict[TopicPartition, int] = {}
        #: Counts of this instance: applied records, dead-lettered records, batches.
        self.stats: dict[str, int] = {"applied": 0, "dead_lettered": 0, "batches": 0}

    # ------------------------------------------------------------------------- lifecycle

    async def ensure_schema(self) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(positions_ddl(self.schema))

    async def start(self, *, assign_timeout: float = 30.0) -> None:
        if self._started:
            return
        if self._closed:
            raise RuntimeError("a stopped BatchProjector cannot be restarted; create a new one")
        self._started = True
        try:
            await self.ensure_schema()
            if self._create_dlq_topic:
                await ensure_topics(self.bootstrap_servers, [self.dlq_topic], 3)
            self._producer, self._kafka = await start_clients(
                self.bootstrap_servers,
                self.group_id,
                self._client_id,
                max_poll_records=self._max_batch,
                fetch_max_bytes=64 * 1024 * 1024,
                max_partition_fetch_bytes=16 * 1024 * 1024,
            )
            self._kafka.subscribe(self.topics, listener=_Listener(self))
            await asyncio.wait_for(self._assigned.wait(), assign_timeout)
        except BaseException:
            await self._close(commit=False)
            raise

    async def run(self) -> None:
        """Project until ``stop()``; starts the projector if needed."""
        await self.start()
        assert self._kafka is not None
        # One batch in flight: while its transaction runs (Postgres working on the other
        # core), the next batch is fetched, decoded and prepared here.
        inflight: asyncio.Task[None] | None = None
        try:
            while not self._stop.is_set():
                batch = await self._kafka.getmany(
                    timeout_ms=self._poll_ms, max_records=self._max_batch
                )
                job = await self._collect(batch) if batch else None
                if inflight is not None and (job is not None or not batch):
                    await inflight
                    inflight = None
                if job is not None:
                    inflight = asyncio.create_task(self._finish(job))
                self._update_lag()
            if inflight is not None:
                await inflight
                inflight = None
        finally:
            if inflight is not None and not inflight.done():
                # Leaving on an error: the batch in flight either commits or not, atomically.
                with contextlib.suppress(BaseException):
                    await inflight
            await self._close(commit=True)

    async def stop(self) -> None:
        self._stop.set()
        if not self._started:
            self._closed = True

    async def run_until(self, predicate: Callable[[], Awaitable[bool]], timeout: float) -> None:
        """Project until ``await predicate()`` is true (tests, rebuilds), then stop."""

        async def watch() -> None:
            deadline = time.monotonic() + timeout
            while not await predicate():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"projection {self.consumer!r} did not catch up in time")
                await asyncio.sleep(0.05)
            await self.stop()

        runner = asyncio.create_task(self.run())
        watcher = asyncio.create_task(watch())
        done, _ = await asyncio.wait({runner, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if watcher in done and watcher.exception() is not None:
            await self.stop()
            with contextlib.suppress(BaseException):
                await runner
            raise watcher.exception()  # type: ignore[misc]
        await runner
        watcher.cancel()

    # ---------------------------------------------------------------------- internals

    async def _seek_to_positions(self, assigned: set[TopicPartition]) -> None:
        assert self._kafka is not None
        stored: dict[tuple[str, int], int] = {}
        async with self._pool.acquire() as conn:
            for r in await conn.fetch(
                f"SELECT topic, partition, next_offset FROM {quote_schema(self.schema)}"
                ".consumer_positions WHERE consumer = $1",
                self.consumer,
            ):
                stored[(r["topic"], r["partition"])] = r["next_offset"]
        for tp in assigned:
            offset = stored.get((tp.topic, tp.partition))
            if offset is None:
                await self._kafka.seek_to_beginning(tp)
                self._applied[tp] = 0
            else:
                self._kafka.seek(tp, offset)
                self._applied[tp] = offset
        self._assigned.set()

    async def _collect(self, batch: Mapping[TopicPartition, list[ConsumerRecord]]) -> _Job | None:
        """Decode a fetched batch (poison → DLQ) and run ``prepare`` on it; None if empty."""
        records: list[BatchRecord] = []
        ends: dict[TopicPartition, tuple[int, datetime]] = {}
        links: list[Link] = []
        for tp, recs in batch.items():
            floor = self._applied.get(tp, 0)
            for rec in recs:
                if rec.offset < floor:
                    continue  # applied before (a fetch that raced the seek)
                ts = datetime.fromtimestamp(rec.timestamp / 1000, UTC)
                ends[tp] = (rec.offset + 1, ts)
                try:
                    envelope = self._decode(rec)
                except PoisonMessage as exc:
                    await self._dead_letter(rec, exc)
                    continue
                records.append(
                    BatchRecord(envelope, rec.topic, rec.partition, rec.offset, ts, rec.key)
                )
                if len(links) < _MAX_LINKS:
                    ctx = _span_context(rec)
                    if ctx is not None:
                        links.append(Link(ctx))
        if not ends:
            return None
        prepared = self._prepare(records) if self._prepare is not None and records else records
        return _Job(self._epoch, len(records), prepared, ends, links)

    async def _finish(self, job: _Job) -> None:
        if job.epoch != self._epoch:
            return  # fetched before a rebalance; refetched from the stored positions
        with self._tracer.start_as_current_span(
            f"project {self.consumer}",
            kind=SpanKind.CONSUMER,
            links=job.links,
            attributes={"messaging.batch.message_count": job.count},
        ):
            await self._apply(job.prepared, job.count, job.ends)
        if job.epoch != self._epoch:
            return  # partitions were revoked meanwhile; positions in Postgres are what count
        for tp, (end, _) in job.ends.items():
            self._applied[tp] = end
        self.stats["applied"] += job.count
        self.stats["batches"] += 1
        self._instruments.processed.add(
            job.count, {"consumer": self.consumer, "outcome": "applied"}
        )
        offsets = {tp: end for tp, (end, _) in job.ends.items()}
        if self._before_offset_commit is not None:
            try:
                await self._before_offset_commit(offsets)
            except BaseException:
                await self._close(commit=False)
                raise
        assert self._kafka is not None
        with contextlib.suppress(Exception):
            # Only informative: the stored positions are the source of truth.
            await self._kafka.commit(offsets)

    async def _apply(
        self, prepared: Any, count: int, ends: Mapping[TopicPartition, tuple[int, datetime]]
    ) -> None:
        tps = list(ends)
        args = (
            self.consumer,
            [tp.topic for tp in tps],
            [tp.partition for tp in tps],
            [ends[tp][0] for tp in tps],
            [ends[tp][1] for tp in tps],
        )
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    if count:
                        await self._handler(prepared, conn)
                    await conn.execute(self._sql_advance, *args)
                self._instruments.handler_duration.record(
                    time.perf_counter() - started, {"consumer": self.consumer}
                )
                return
            except Exception as exc:
                if not self._is_transient(exc) or self._stop.is_set():
                    raise
                self._instruments.retries.add(1, {"consumer": self.consumer})
                delay = min(self._backoff_max, self._backoff_base * 2 ** (attempt - 1))
                log.warning(
                    "projection %s: transient error on a batch of %d (attempt %d), retrying "
                    "in %.1fs: %s",
                    self.consumer,
                    count,
                    attempt,
                    delay,
                    exc,
                )
                await asyncio.sleep(delay)

    async def _dead_letter(self, rec: ConsumerRecord, exc: BaseException) -> None:
        assert self._producer is not None
        headers = dlq_headers(
            rec,
            list(rec.headers or ()),
            exc,
            consumer=self.consumer,
            group=self.group_id,
            reason="decode",
            attempts=0,
            event_id=f"kafka:{rec.topic}:{rec.partition}:{rec.offset}",
        )
        await self._producer.send_and_wait(self.dlq_topic, rec.value, key=rec.key, headers=headers)
        self.stats["dead_lettered"] += 1
        self._instruments.processed.add(1, {"consumer": self.consumer, "outcome": "dead_lettered"})
        log.error(
            "projection %s: dead-lettered %s:%d@%d: %s",
            self.consumer,
            rec.topic,
            rec.partition,
            rec.offset,
            exc,
        )

    def _update_lag(self) -> None:
        if self._kafka is None:
            return
        for tp, applied in self._applied.items():
            high = self._kafka.highwater(tp)
            if high is not None:
                self._lag[tp] = max(0, high - applied)

    def _lag_observations(self) -> list[Observation]:
        return [
            Observation(
                lag,
                {"consumer": self.consumer, "topic": tp.topic, "partition": tp.partition},
            )
            for tp, lag in self._lag.items()
        ]

    async def _close(self, *, commit: bool) -> None:
        if self._closed:
            return
        self._closed = True
        if self._kafka is not None:
            with contextlib.suppress(Exception):
                await self._kafka.stop()
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()


def _span_context(rec: ConsumerRecord) -> Any:
    for k, v in rec.headers or ():
        if k == "traceparent" and v:
            ctx = context_from_traceparent(v.decode("ascii", "replace"))
            span_ctx = trace.get_current_span(ctx).get_span_context()
            return span_ctx if span_ctx.is_valid else None
    return None
