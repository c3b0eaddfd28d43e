"""The prelabel service's consumers: which event of which producer changes what.

One consumer per producer's topic, named as before the dispatch tables (its consumer group
``<service>.<consumer>`` and its dedup rows keep their names): ``routing-tasks``,
``qa-labels``, ``curation-embeddings``. Each record runs in its own transaction, in the tenant
of its envelope ("default" for an envelope without one); what it derives carries that tenant
and the envelope's actor (``origin``).
"""

from __future__ import annotations

from typing import Any

from labelops.curation.v1 import events_pb2 as cev
from labelops.qa.v1 import events_pb2 as qev
from labelops.routing.v1 import events_pb2 as rev
from labelops_bus.dispatch import EventHandlers, handles
from labelops_bus.runner import MessageContext
from labelops_core.context import principal_of_envelope
from labelops_eventstore.events import ACTOR_KIND_NAMES

from ..application.projections import Projections


def origin(ctx: MessageContext) -> dict[str, str]:
    """The consumed envelope's tenant and actor, as ``NewEvent`` fields."""
    env = ctx.envelope
    p = principal_of_envelope(env.tenant_id, ACTOR_KIND_NAMES.get(env.actor.kind, ""), env.actor.id)
    return {"tenant_id": p.tenant_id, "actor_kind": p.kind, "actor_id": p.subject}


def tenant(ctx: MessageContext) -> str:
    return origin(ctx)["tenant_id"]


class PrelabelConsumers(EventHandlers):
    def __init__(self, projections: Projections) -> None:
        self.projections = projections

    @handles("routing-tasks", rev.TaskCreated, why="tasks to pre-label / score")
    async def task_created(self, e: rev.TaskCreated, ctx: MessageContext, conn: Any) -> None:
        await self.projections.task_created(conn, tenant(ctx), e, ctx.timestamp)

    @handles("routing-tasks", rev.TaskCanceled, why="no pre-label for it any more")
    async def task_canceled(self, e: rev.TaskCanceled, ctx: MessageContext, conn: Any) -> None:
        await self.projections.task_canceled(conn, tenant(ctx), e)

    @handles("routing-tasks", rev.TaskReopened, why="open again for priorities")
    async def task_reopened(self, e: rev.TaskReopened, ctx: MessageContext, conn: Any) -> None:
        await self.projections.task_reopened(conn, tenant(ctx), e)

    @handles(
        "routing-tasks",
        rev.LabelSubmitted,
        why="one pre-label ROI observation per label: class, seconds, outcome",
    )
    async def label_submitted(self, e: rev.LabelSubmitted, ctx: MessageContext, conn: Any) -> None:
        await self.projections.label_submitted(conn, origin(ctx), e, ctx.timestamp)

    @handles(
        "qa-labels",
        qev.LabelAccepted,
        why="training data; every N labels a built-in model retrains",
    )
    async def label_accepted(self, e: qev.LabelAccepted, ctx: MessageContext, conn: Any) -> None:
        await self.projections.label_accepted(conn, tenant(ctx), e, ctx.timestamp)

    @handles(
        "curation-embeddings",
        cev.ItemEmbedded,
        why="features for built-in models, kNN propagation and active-learning diversity",
    )
    async def item_embedded(self, e: cev.ItemEmbedded, ctx: MessageContext, conn: Any) -> None:
        await self.projections.item_embedded(conn, tenant(ctx), e)
