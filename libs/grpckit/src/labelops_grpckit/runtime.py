"""A service process: one gRPC server plus supervised background workers, in one asyncio loop.

Every labelops service runs the same shape: the gRPC API, the outbox relay, and sometimes more
workers (curation's vector indexer, consumers). Commands never wait for a background worker
(their results are safe in Postgres), so a worker that fails must not take the API down: it is
logged and restarted with exponential backoff while the API keeps serving.

Stopping: the server stops first (health NOT_SERVING, in-flight calls get the grace period),
then each worker's ``stop`` is called and its task is awaited (cancelled after a timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from labelops_grpckit.server import GrpcServer

log = logging.getLogger(__name__)

#: Delay before restarting a worker that failed (doubles up to the maximum).
RESTART_BASE_S = 1.0
RESTART_MAX_S = 30.0
#: Time a worker gets to finish after ``stop`` before it is cancelled.
STOP_TIMEOUT_S = 15.0


@dataclass
class Worker:
    """A background loop: ``run`` returns when ``stop`` was called (or raises on failure)."""

    name: str
    run: Callable[[], Awaitable[None]]
    stop: Callable[[], Awaitable[None]]


@dataclass
class ServiceRuntime:
    """Starts / stops a gRPC server and its workers together."""

    server: GrpcServer
    workers: list[Worker] = field(default_factory=list)
    restart_base_s: float = RESTART_BASE_S
    restart_max_s: float = RESTART_MAX_S
    _tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict, repr=False)
    _stopping: bool = field(default=False, repr=False)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def target(self) -> str:
        """``host:port`` a local client can dial."""
        return self.server.target

    async def start(self) -> None:
        await self.server.start()
        for w in self.workers:
            self._tasks[w.name] = asyncio.create_task(self._supervise(w), name=w.name)

    async def _supervise(self, worker: Worker) -> None:
        delay = self.restart_base_s
        while not self._stopping:
            try:
                await worker.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "%s stopped with an error; restarting in %.0f s (the API keeps serving)",
                    worker.name,
                    delay,
                )
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(delay)
            delay = min(delay * 2, self.restart_max_s)

    async def stop(self) -> None:
        """Stop serving (in-flight calls get the grace period), then stop the workers."""
        self._stopping = True
        await self.server.stop()
        for w in self.workers:
            task = self._tasks.pop(w.name, None)
            if task is None:
                continue
            await w.stop()
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=STOP_TIMEOUT_S)
            except TimeoutError:
                log.warning("%s did not stop in %.0f s; cancelling it", w.name, STOP_TIMEOUT_S)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def serve_until_signal(self) -> None:
        """Block until SIGTERM / SIGINT has stopped the gRPC server."""
        remove = self.server.install_signal_handlers()
        try:
            await self.server.wait()
        finally:
            remove()
