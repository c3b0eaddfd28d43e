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
from .prelabeling import Prelabeler
from .scoring import Scorer
from .training import Trainer

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


def prelabel_loop(prelabeler: Prelabeler, schema: str, interval: float) -> Loop:
    async def step() -> int:
        done = await prelabeler.round()
        metrics.set_pending(schema, await prelabeler.pending_depth())
        return done

    return Loop(step, interval)


def trainer_loop(trainer: Trainer, scorer: Scorer, interval: float) -> Loop:
    async def step() -> int:
        trained = 0
        for tenant, model_id in await trainer.due_models():
            try:
                await trainer.train(tenant, model_id)
            except FailedPrecondition as exc:
                log.info("model %s not trained: %s", model_id, exc.message)
                continue
            trained += 1
            project = await trainer.project_of(tenant, model_id)
            if project is not None:
                await scorer.score(tenant, project, "entropy", "k_center", 100)
        return trained

    return Loop(step, interval)
