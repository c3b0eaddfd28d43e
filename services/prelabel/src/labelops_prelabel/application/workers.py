"""The prelabel service's background loops, supervised by ``ServiceRuntime``.

- ``prelabel``: every ``poll_interval_s``, pre-label pending tasks with their project's serving
  model (one batch per model per round, rounds back to back while there is work).
- ``trainer``: trains the built-in models that ``LabelAccepted`` made due, then scores the
  project's open tasks (``PriorityScored``) with the new version.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from labelops_core.errors import FailedPrecondition

from ..adapters import metrics
from .service import PrelabelService

log = logging.getLogger(__name__)


class Loop:
    """Runs ``step`` until stopped; sleeps ``interval`` when a step found nothing to do."""

    def __init__(self, step: Callable[[], Awaitable[int]], interval: float) -> None:
        self.step = step
        self.interval = interval
        self._stop = asyncio.Event()

    async def run(self) -> None:
        self._stop.clear()
        while not self._stop.is_set():
            done = await self.step()
            if done == 0:
                try:
                    await asyncio.wait_for(self._stop.wait(), self.interval)
                except TimeoutError:
                    pass

    async def stop(self) -> None:
        self._stop.set()


def prelabel_loop(svc: PrelabelService, interval: float) -> Loop:
    async def step() -> int:
        done = await svc.prelabel_round()
        metrics.set_pending(svc.store.schema, await svc.pending_depth())
        return done

    return Loop(step, interval)


def trainer_loop(svc: PrelabelService, interval: float) -> Loop:
    async def step() -> int:
        trained = 0
        for model_id in await svc.due_models():
            try:
                await svc.train(model_id)
            except FailedPrecondition as exc:
                log.info("model %s not trained: %s", model_id, exc.message)
                continue
            trained += 1
            project = await svc.store.pool.fetchval(
                f"SELECT project_id FROM {svc.t.models} WHERE model_id = $1", model_id
            )
            await svc.score(project, "entropy", "k_center", 100)
        return trained

    return Loop(step, interval)
