"""What the consumed events change, one transaction per event (exactly once through libs/bus):

- routing ``TaskCreated`` registers the task as *pending* a pre-label; ``TaskCanceled`` /
  ``TaskReopened`` follow its state; ``LabelSubmitted`` is one ROI observation (``switches``);
- qa ``LabelAccepted`` is the item's label: training data, and the count that makes a built-in
  model due for retraining every N labels (model in the loop);
- curation ``ItemEmbedded`` stores the item's embedding (what built-in models learn from).

Every row is written under the consumed envelope's tenant (``origin["tenant_id"]``, "default"
for an envelope without one); events derived here carry that tenant and the envelope's actor.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from labelops.curation.v1 import events_pb2 as cev
from labelops.qa.v1 import events_pb2 as qev
from labelops.routing.v1 import events_pb2 as rev
from labelops_bus.runner import PoisonMessage

from ..domain import prelabels
from ..domain.convert import primary_class, primary_geometry
from .repos import Repos
from .switches import RoiSwitches
from .training import Trainer


class Projections:
    def __init__(self, repos: Repos, trainer: Trainer, switches: RoiSwitches) -> None:
        self.r = repos
        self.trainer = trainer
        self.switches = switches

    async def task_created(self, conn: Any, tenant: str, e: rev.TaskCreated, at: datetime) -> None:
        state, reason = prelabels.initial_state(e.gold)
        await self.r.tasks.created(conn, tenant, e, state, reason, at)

    async def task_canceled(self, conn: Any, tenant: str, e: rev.TaskCanceled) -> None:
        await self.r.tasks.set_state(conn, tenant, e.task_id, "canceled")

    async def task_reopened(self, conn: Any, tenant: str, e: rev.TaskReopened) -> None:
        await self.r.tasks.set_state(conn, tenant, e.task_id, "open")

    async def label_submitted(
        self, conn: Any, origin: dict[str, str], e: rev.LabelSubmitted, at: datetime
    ) -> None:
        await self.switches.observe(conn, origin, e, at)

    async def label_accepted(
        self, conn: Any, tenant: str, e: qev.LabelAccepted, at: datetime
    ) -> None:
        class_id = primary_class(e.labels)
        if not e.project_id or not e.item_id:
            raise PoisonMessage("LabelAccepted without project or item")
        await self.r.tasks.labeled(conn, tenant, e.task_id, e.project_id, e.item_id, at)
        if not class_id:
            return
        labels = self.r.labels
        geometry = primary_geometry(e.labels, class_id)
        if await labels.accept(
            conn, tenant, e.project_id, e.item_id, e.task_id, class_id, at, geometry
        ):
            await self.r.project_labels.add_one(conn, tenant, e.project_id)
        await self.trainer.mark_due(conn, tenant, e.project_id)

    async def item_embedded(self, conn: Any, tenant: str, e: cev.ItemEmbedded) -> None:
        if not e.item_id or not e.vector:
            raise PoisonMessage("ItemEmbedded without item or vector")
        await self.r.embeddings.put(conn, tenant, e.item_id, e.vector_space, e.vector)
