"""The Kafka clients both runners start, and the headers of a dead-lettered record."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from .security import kafka_security

# Prefix of every header the runner adds to a dead-lettered record.
DLQ_HEADER_PREFIX = "dlq."
_MAX_ERROR_BYTES = 4000


async def start_clients(
    bootstrap: str, group_id: str, client_id: str, **consumer_options: Any
) -> tuple[AIOKafkaProducer, AIOKafkaConsumer]:
    """A started DLQ producer (idempotent, acks=all) and a started group consumer that never
    auto-commits, reads committed records only and starts at the earliest offset."""
    security = kafka_security()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        **security,
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
        **security,
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


def _error_text(exc: BaseException) -> bytes:
    cls = type(exc)
    name = cls.__qualname__
    if cls.__module__ != "builtins":
        name = f"{cls.__module__}.{name}"
    return f"{name}: {exc}".encode()[:_MAX_ERROR_BYTES]
