"""One record of ``ConsumerRunner``: decode, dedup + handler in one transaction, retry, DLQ.

A mixin of the runner (which owns the state declared below); see ``ConsumerRunner`` for the
delivery model.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import KafkaError
from labelops_telemetry.propagation import context_from_traceparent
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ._metrics import Instruments
from .clients import dlq_headers
from .messages import APPLIED, DEAD_LETTERED, DUPLICATE, Decoder, Handler, MessageContext
from .principal import acting_as_envelope
from .schema import STATUS_APPLIED, STATUS_DEAD_LETTERED

log = logging.getLogger("labelops.bus")


class _Stopped(Exception):
    """Internal: stop() interrupted an endless transient retry; the record stays unprocessed."""


class _HandlerFailed(Exception):
    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


class RecordProcessing:
    """How ``ConsumerRunner`` finishes one record: applied, duplicate or dead-lettered."""

    consumer: str
    group_id: str
    dlq_topic: str
    stats: Counter[str]
    _pool: asyncpg.Pool
    _producer: AIOKafkaProducer | None
    _handler: Handler
    _decode: Decoder
    _tracer: trace.Tracer
    _sql_insert: str
    _sql_exists: str
    _is_transient: Callable[[BaseException], bool]
    _max_attempts: int
    _backoff_base: float
    _backoff_max: float
    _stop_requested: asyncio.Event
    _instruments: Instruments

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
                    # Events the handler appends carry the causing event's tenant and actor.
                    with acting_as_envelope(ctx.envelope):
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


def _with_attempt(ctx: MessageContext, attempt: int) -> MessageContext:
    return replace(ctx, attempt=attempt)


def _where(record: ConsumerRecord) -> str:
    return f"{record.topic}[{record.partition}]@{record.offset}"
