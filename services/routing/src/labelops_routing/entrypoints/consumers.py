"""What routing consumes, one dispatch table (libs/bus ``EventHandlers``): each row names the
consumer (group ``<service>.<consumer>``, dedup rows), the event type and why routing reads it;
each method only hands the decoded event to the application, with the envelope's tenant (the
bus's ``Dispatch`` runs each handler as the envelope's principal, ``principal_of_envelope``:
the events a handler derives carry the causing event's tenant and actor).

The consumer names are those of every deployment so far: renaming one would start a new
consumer group from the beginning of its topic, without its dedup rows.
"""

from __future__ import annotations

import asyncpg
from labelops.curation.v1 import events_pb2 as cev
from labelops.events.v1 import envelope_pb2
from labelops.ontology.v1 import events_pb2 as oev
from labelops.prelabel.v1 import events_pb2 as pev
from labelops.qa.v1 import events_pb2 as qev
from labelops_bus.dispatch import EventHandlers, handles
from labelops_bus.runner import MessageContext
from labelops_core.context import DEFAULT_TENANT
from labelops_ontologykit import OntologyVersions

from ..application.projections import Projections


def tenant_of(ctx: MessageContext) -> str:
    """The consumed event's tenant (as ``principal_of_envelope`` reads it)."""
    return str(ctx.envelope.tenant_id) or DEFAULT_TENANT


class RoutingConsumers(EventHandlers):
    def __init__(self, projections: Projections, ontologies: OntologyVersions) -> None:
        self.projections = projections
        self.ontologies = ontologies

    @handles("curation-items", cev.ItemRegistered, why="item URI and size for task offers")
    async def item_registered(
        self, e: cev.ItemRegistered, ctx: MessageContext, conn: asyncpg.Connection
    ) -> None:
        await self.projections.item_registered(conn, tenant_of(ctx), e)

    @handles(
        "curation-items",
        cev.ItemsCurated,
        why="only included items become tasks; an exclusion withdraws open tasks",
    )
    async def items_curated(
        self, e: cev.ItemsCurated, ctx: MessageContext, conn: asyncpg.Connection
    ) -> None:
        await self.projections.items_curated(conn, tenant_of(ctx), e)

    # Undecoded: OntologyVersions (libs/ontologykit) stores the envelope's payload as it is.
    @handles(
        "ontology-versions",
        oev.OntologyVersionPublished,
        why="published versions for label validation",
        decode=False,
    )
    async def ontology_version_published(
        self, e: envelope_pb2.EventEnvelope, ctx: MessageContext, conn: asyncpg.Connection
    ) -> None:
        await self.ontologies.on_event(ctx, conn)

    @handles("qa-relabel", qev.LabelRejected, why="reopens the task: TaskReopened")
    async def label_rejected(
        self, e: qev.LabelRejected, ctx: MessageContext, conn: asyncpg.Connection
    ) -> None:
        await self.projections.label_rejected(conn, tenant_of(ctx), e)

    @handles("qa-relabel", qev.LabelIssueFlagged, why="reopens the task: TaskReopened")
    async def label_issue_flagged(
        self, e: qev.LabelIssueFlagged, ctx: MessageContext, conn: asyncpg.Connection
    ) -> None:
        await self.projections.label_issue_flagged(conn, tenant_of(ctx), e)

    @handles(
        "prelabel-signals",
        pev.PreLabelProposed,
        why="pre-labels on the task's offers (when the project enables them); class hint and"
        " confidence as routing signals; the model version goes on LabelSubmitted",
    )
    async def prelabel_proposed(
        self, e: pev.PreLabelProposed, ctx: MessageContext, conn: asyncpg.Connection
    ) -> None:
        await self.projections.prelabel_proposed(conn, tenant_of(ctx), e)

    @handles("prelabel-signals", pev.PriorityScored, why="orders queues by priority")
    async def priority_scored(
        self, e: pev.PriorityScored, ctx: MessageContext, conn: asyncpg.Connection
    ) -> None:
        await self.projections.priority_scored(conn, tenant_of(ctx), e)
