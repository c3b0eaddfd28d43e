"""The lag bookkeeping of ``ConsumerRunner`` (a mixin: the runner owns the state it reads)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import IllegalStateError
from opentelemetry.metrics import Observation


@dataclass
class _Batch:
    """Per-partition next offset still to process inside the batch being worked on."""

    next_offset: dict[TopicPartition, int] = field(default_factory=dict)


class LagTracking:
    """``lag()``, ``refresh_lag()`` and the ``labelops.consumer.lag`` observations."""

    consumer: str
    group_id: str
    _kafka: AIOKafkaConsumer | None
    _closed: bool
    _batch: _Batch
    _lag: dict[TopicPartition, int]
    _lag_local_at: float
    _lag_remote_at: float

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
