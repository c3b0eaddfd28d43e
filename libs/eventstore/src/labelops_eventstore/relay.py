"""Outbox relay: publishes committed events from a service's event store to Kafka, gap-free.

The classic trap: ``position`` is a bigserial, and with concurrent transactions a lower position
can become visible *after* a higher one. A relay that remembers "last position published" then
skips the late event forever. We never track positions. We track a transaction-id watermark W:
every transaction with ``tx_id < W`` has been published. Each round:

1. ``X = pg_snapshot_xmin(pg_current_snapshot())``: every transaction with an id below X has
   finished (committed or rolled back), so the set of events with ``W <= tx_id < X`` is final —
   nothing can be added to it later.
2. The set is capped to about ``batch_size`` events at a transaction boundary (a transaction is
   never split across rounds).
3. Per-stream order guard: a transaction can be given its xid *before* it reads a stream (for
   example when a handler writes a read model first), so version n+1 can carry a lower xid
   than version n. If an event in the set follows a version whose transaction is not below the
   cap, the cap is lowered to exclude it; it is published in a later round, after its
   predecessor. Positions within one set then respect stream order (n+1 is always inserted
   after n committed).
4. The set is published in position order (key = stream id, so one stream stays on one
   partition, in order), every ack awaited, and only then is W advanced to the cap in the same
   database as the events.

A crash after the Kafka ack but before W is stored re-publishes the set: Kafka may hold
duplicates, never gaps; consumers deduplicate by event id (libs/bus). Only one relay per schema
is active at a time (a session advisory lock); others wait as standbys.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import murmur2
from labelops_bus.security import kafka_security
from labelops_bus.topics import (
    EVENTS_TOPIC_CONFIGS,
    MAX_EVENT_MESSAGE_BYTES,
    ensure_topics,
    events_topic,
)
from opentelemetry import metrics, trace

from .schema import check_identifier
from .store import _COLUMNS, StoredEvent, _row_to_event, envelope_bytes

log = logging.getLogger(__name__)

#: Largest event (serialized envelope) the relay can publish. Kafka's default is 1 MiB; an event
#: above the topic's limit could never be published and would hold back every later event, so
#: event topics are created with this limit (it matches the gRPC servers' 16 MiB receive limit).
#: The backlog gauge is exact up to this many events beyond the current round, then saturates.
BACKLOG_COUNT_LIMIT = 100_000
_tracer = trace.get_tracer("labelops.eventstore.relay")
_meter = metrics.get_meter("labelops.eventstore.relay")
_published_counter = _meter.create_counter(
    "labelops.relay.published", unit="{event}", description="Events published to Kafka by the relay"
)


class OutboxRelay:
    """Publishes one service's events to ``labelops.<service>.events.v1``.

    Args:
        pool: asyncpg pool of the service's database.
        schema: the service's schema (with the event store tables).
        service: service name, used for the topic and the envelope's ``source``.
        bootstrap: Kafka bootstrap servers.
        batch_size: events per round (a larger transaction is published whole).
        poll_interval: seconds between rounds when no NOTIFY arrives.
        after_publish: test hook called after Kafka acked a set, before the watermark is
            stored; raising from it simulates a relay killed at that point.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        schema: str,
        service: str,
        bootstrap: str,
        *,
        topic: str | None = None,
        name: str = "kafka",
        batch_size: int = 2000,
        poll_interval: float = 0.5,
        partitions: int = 3,
        after_publish: Callable[[Sequence[StoredEvent]], Awaitable[None]] | None = None,
    ) -> None:
        self.pool = pool
        self.schema = check_identifier(schema)
        self.service = service
        self.bootstrap = bootstrap
        self.topic = topic or events_topic(service)
        self.name = name
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.partitions = partitions
        self.after_publish = after_publish
        self.published_total = 0
        self.backlog = 0
        self._producer: AIOKafkaProducer | None = None
        self._partition_cache: dict[bytes, int] = {}
        self._topic_ready = False
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._t_events = f'"{schema}".events'
        self._t_progress = f'"{schema}".outbox_progress'
        self._channel = f"labelops_events_{schema}"
        self._gauge = _meter.create_observable_gauge(
            "labelops.outbox.backlog",
            callbacks=[self._observe_backlog],
            unit="{event}",
            description="Committed events not yet published to Kafka",
        )

    def _observe_backlog(self, _options: metrics.CallbackOptions) -> list[metrics.Observation]:
        return [metrics.Observation(self.backlog, {"service": self.service})]

    async def _ensure_topic(self) -> None:
        if not self._topic_ready:
            await ensure_topics(
                self.bootstrap,
                [self.topic],
                self.partitions,
                configs=EVENTS_TOPIC_CONFIGS,
            )
            self._topic_ready = True

    async def _start_producer(self) -> AIOKafkaProducer:
        await self._ensure_topic()
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                enable_idempotence=True,
                acks="all",
                linger_ms=5,
                max_batch_size=1 << 20,
                # A batch holding one oversized event must still fit in a request.
                max_request_size=MAX_EVENT_MESSAGE_BYTES + (1 << 20),
                request_timeout_ms=15000,
                **kafka_security(),
            )
            await producer.start()
            self._producer = producer
        return self._producer

    async def _drop_producer(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            with contextlib.suppress(Exception):
                await producer.stop()

    async def watermark(self, conn: asyncpg.Connection | None = None) -> int:
        """The stored watermark W (every transaction below it is published)."""
        q = f"SELECT tx_watermark FROM {self._t_progress} WHERE relay = $1"
        v = await (conn.fetchval(q, self.name) if conn else self.pool.fetchval(q, self.name))
        return int(v) if v is not None else 0

    async def _select_set(
        self, conn: asyncpg.Connection, w: int
    ) -> tuple[int, list[asyncpg.Record]]:
        """The next final set of events ``[w, cap)`` in position order, and its cap."""
        xmin = int(
            await conn.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        )
        cap = xmin
        # Cap the round near batch_size events without splitting a transaction.
        boundary = await conn.fetchrow(
            f"SELECT tx_id FROM {self._t_events} WHERE tx_id >= $1 AND tx_id < $2"
            " ORDER BY tx_id, position OFFSET $3 LIMIT 1",
            w,
            cap,
            self.batch_size,
        )
        if boundary is not None:
            first_tx = await conn.fetchval(
                f"SELECT min(tx_id) FROM {self._t_events} WHERE tx_id >= $1", w
            )
            t = int(boundary["tx_id"])
            cap = t + 1 if t == first_tx else t
        # Per-stream order guard (see module docstring). An event whose predecessor lies beyond
        # the cap either pulls the predecessor's (finished) transaction into the set, or — when
        # that transaction is still running — pushes the cap below itself. ``hard`` only falls
        # and ``cap`` only rises below it, so this terminates.
        hard = xmin
        while True:
            offenders = await conn.fetch(
                f"SELECT e.tx_id AS e_tx, p.tx_id AS p_tx FROM {self._t_events} e"
                f" JOIN {self._t_events} p"
                " ON p.stream_id = e.stream_id AND p.tenant_id = e.tenant_id"
                " AND p.stream_version = e.stream_version - 1"
                " WHERE e.tx_id >= $1 AND e.tx_id < $2 AND p.tx_id >= $2",
                w,
                cap,
            )
            if not offenders:
                break
            blocked = [int(r["e_tx"]) for r in offenders if r["p_tx"] >= hard]
            if blocked:
                hard = min(blocked)
                cap = min(cap, hard)
            else:
                cap = max(int(r["p_tx"]) for r in offenders) + 1
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM {self._t_events} WHERE tx_id >= $1 AND tx_id < $2"
            " ORDER BY position",
            w,
            cap,
        )
        # Queue depth = this set + committed events beyond the cap (held back by a running
        # transaction or the batch size). Counted with a bound: an exact count of a million-event
        # backlog on every round would cost more than publishing the round.
        beyond = await conn.fetchval(
            f"SELECT count(*) FROM (SELECT 1 FROM {self._t_events} WHERE tx_id >= $1"
            f" LIMIT {BACKLOG_COUNT_LIMIT}) b",
            cap,
        )
        self.backlog = len(rows) + int(beyond)
        return cap, rows

    async def run_once(self) -> int:
        """Publish one set; returns how many events were published (0 when idle)."""
        async with self.pool.acquire() as conn:
            w = await self.watermark(conn)
            cap, events = await self._select_set(conn, w)
        if events:
            with _tracer.start_as_current_span(
                "relay publish",
                attributes={
                    "messaging.destination.name": self.topic,
                    "messaging.batch.message_count": len(events),
                },
            ):
                await self._publish(events)
            if self.after_publish is not None:
                await self.after_publish([_row_to_event(r) for r in events])
        if cap > w:
            async with self.pool.acquire() as conn:
                await conn.execute(
                    f"INSERT INTO {self._t_progress}(relay, tx_watermark, published, updated_at)"
                    " VALUES ($1, $2, $3, now()) ON CONFLICT (relay) DO UPDATE SET"
                    " tx_watermark = greatest(excluded.tx_watermark,"
                    f" {self._t_progress}.tx_watermark),"
                    f" published = {self._t_progress}.published + excluded.published,"
                    " updated_at = now()",
                    self.name,
                    cap,
                    len(events),
                )
        self.published_total += len(events)
        self.backlog = max(0, self.backlog - len(events))
        if events:
            _published_counter.add(len(events), {"service": self.service})
        return len(events)

    async def _publish(self, rows: Sequence[asyncpg.Record]) -> None:
        """Send a set and wait for every ack.

        Records are packed into one BatchBuilder per partition instead of one ``send()`` per
        event: the per-message cost of aiokafka's send path (future, partitioner in pure
        Python) dominated the relay's CPU. Partitions are chosen like Kafka's default
        partitioner (murmur2 of the key), cached per stream id, so one stream stays on one
        partition, in order.
        """
        producer = await self._start_producer()
        partitions = sorted(await producer.partitions_for(self.topic))
        n = len(partitions)
        builders: dict[int, Any] = {}
        futures = []
        source = self.service
        for r in rows:
            key = r["stream_id"].encode()
            part = self._partition_cache.get(key)
            if part is None or part >= n:
                part = partitions[(murmur2(key) & 0x7FFFFFFF) % n]
                if len(self._partition_cache) > 100_000:
                    self._partition_cache.clear()
                self._partition_cache[key] = part
            tp = r["traceparent"]
            headers = [("type", r["type"].encode()), ("event_id", str(r["event_id"]).encode())]
            if tp:
                headers.append(("traceparent", tp.encode()))
            value = envelope_bytes(r, source)
            builder = builders.get(part)
            if builder is None:
                builder = builders[part] = producer.create_batch()
            if builder.append(key=key, value=value, timestamp=None, headers=headers) is None:
                # Full: ship it, start the next batch of this partition (order is kept: batches
                # of one partition are queued in submission order).
                futures.append(await producer.send_batch(builder, self.topic, partition=part))
                builder = builders[part] = producer.create_batch()
                if builder.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    raise ValueError(f"event {r['event_id']} is larger than a Kafka batch")
        for part, builder in builders.items():
            if builder.record_count():
                futures.append(await producer.send_batch(builder, self.topic, partition=part))
        # Progress may only move after every event of the set is acknowledged (acks=all).
        await asyncio.gather(*futures)

    async def run(self, *, lock: bool = True) -> None:
        """Publish until ``stop()``; survives Kafka outages by retrying the same set.

        With ``lock`` only one relay per schema and name publishes at a time (advisory lock).
        """
        await self._ensure_topic()
        listener = await self.pool.acquire()
        try:
            if lock:
                while not await listener.fetchval(
                    "SELECT pg_try_advisory_lock(hashtext($1))", f"relay:{self.schema}:{self.name}"
                ):
                    if await self._sleep(self.poll_interval * 4):
                        return
            await listener.add_listener(self._channel, self._on_notify)
            backoff = 0.2
            while not self._stopping.is_set():
                try:
                    n = await self.run_once()
                    backoff = 0.2
                except (TimeoutError, KafkaError, OSError) as exc:
                    # Kafka down or slow: nothing was recorded, so the same set is retried.
                    log.warning("relay publish failed, retrying in %.1fs: %r", backoff, exc)
                    await self._drop_producer()
                    if await self._sleep(backoff):
                        break
                    backoff = min(backoff * 2, 5.0)
                    continue
                if n == 0:
                    self._wakeup.clear()
                    if await self._sleep(self.poll_interval, wake=True):
                        break
        finally:
            with contextlib.suppress(Exception):
                await listener.remove_listener(self._channel, self._on_notify)
            if lock:
                with contextlib.suppress(Exception):
                    await listener.execute("SELECT pg_advisory_unlock_all()")
            await self.pool.release(listener)
            await self._drop_producer()

    def _on_notify(self, *_args: object) -> None:
        self._wakeup.set()

    async def _sleep(self, seconds: float, *, wake: bool = False) -> bool:
        """Sleep up to ``seconds`` (shorter on NOTIFY when ``wake``); True if stopping."""
        waiters = [asyncio.ensure_future(self._stopping.wait())]
        if wake:
            waiters.append(asyncio.ensure_future(self._wakeup.wait()))
        _done, pending = await asyncio.wait(
            waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
        )
        for p in pending:
            p.cancel()
        return self._stopping.is_set()

    async def stop(self) -> None:
        """Ask ``run()`` to finish its current set and return."""
        self._stopping.set()

    async def drain(self, timeout: float = 30.0) -> None:
        """Publish until no committed event is left (for tests, benchmarks and shutdown)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            n = await self.run_once()
            if n == 0 and self.backlog == 0:
                return
            if loop.time() > deadline:
                raise TimeoutError(f"relay still has {self.backlog} events after {timeout}s")
            if n == 0:
                await asyncio.sleep(0.05)
