"""``RestartableConsumer``: a ``ConsumerRunner`` as a supervised background worker.

A stopped ``ConsumerRunner`` cannot run again, so a supervisor that restarts a failed worker
(``labelops_grpckit.ServiceRuntime``) needs a factory: each ``run()`` builds a fresh runner.
The consumed topics are created first, with the events-topic settings the producing relay would
use, so the group gets partitions even before the producing service has published anything
(otherwise its first events would wait for a metadata refresh, and a topic auto-created by the
broker would cap records at its 1 MiB default).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from .topics import EVENTS_TOPIC_CONFIGS, ensure_topics


class _Runner(Protocol):
    async def run(self) -> None: ...

    async def stop(self) -> None: ...


class RestartableConsumer:
    """``run()`` / ``stop()`` for ``Worker(name, consumer.run, consumer.stop)``.

    Args:
        factory: builds a new ``ConsumerRunner`` (e.g. ``functools.partial(ConsumerRunner,
            ...)``).
        bootstrap: Kafka bootstrap servers, to create ``topics``.
        topics: the consumed topics (created with ``partitions`` if missing).
    """

    def __init__(
        self,
        factory: Callable[[], _Runner],
        bootstrap: str,
        topics: Sequence[str],
        partitions: int = 3,
    ) -> None:
        self.factory = factory
        self.bootstrap = bootstrap
        self.topics = list(topics)
        self.partitions = partitions
        self.runner: _Runner | None = None

    async def run(self) -> None:
        """Create the topics, then consume with a new runner until stopped or failed."""
        # Created as events topics: a consumer often starts before the producing relay.
        await ensure_topics(
            self.bootstrap, self.topics, self.partitions, configs=EVENTS_TOPIC_CONFIGS
        )
        self.runner = self.factory()
        try:
            await self.runner.run()
        finally:
            await self.runner.stop()

    async def stop(self) -> None:
        """Stop the current runner (commits what it processed)."""
        if self.runner is not None:
            await self.runner.stop()
