"""The QA service's consumers: which routing and ontology events it applies, and how.

``routing-labels`` (routing's topic) keeps projects, tasks and labels and decides tasks;
``ontology-versions`` (the ontology service's topic) keeps the published definitions that
reviewers' fixes are validated against. Other events of those topics are skipped. Each
event is applied within its envelope's tenant (``Origin.of_envelope``).
"""

from __future__ import annotations

from typing import Any

import asyncpg
from labelops.ontology.v1 import events_pb2 as oev
from labelops.routing.v1 import events_pb2 as rev
from labelops_bus import MessageContext
from labelops_bus.dispatch import EventHandlers, handles
from labelops_ontologykit import OntologyVersions

from ..application.origin import Origin
from ..application.projections import RoutingProjections


class QaConsumers(EventHandlers):
    def __init__(self, projections: RoutingProjections, ontologies: OntologyVersions) -> None:
        self.projections = projections
        self.ontologies = ontologies

    @handles(
        "routing-labels",
        rev.ProjectCreated,
        why="ontology version and review policy; decides the tasks that waited for the project",
    )
    async def project_created(
        self, e: rev.ProjectCreated, ctx: MessageContext, conn: asyncpg.Connection
    ) -> None:
        await self.projections.project_created(conn, Origin.of_envelope(ctx.envelope), e)

    @handles(
        "routing-labels",
        rev.ProjectConfigUpdated,
        why="review policy, sample rate and high-stakes classes",
    )
    async def project_config_updated(
        self, e: rev.ProjectConfigUpdated, ctx: MessageContext, conn: asyncpg.Connection
    ) -> None:
        await self.projections.project_config_updated(conn, Origin.of_envelope(ctx.envelope), e)

    @handles(
        "routing-labels",
        rev.TaskCreated,
        why="the task to agree on: required labels, gold answer, high stakes, item context",
    )
    async def task_created(
        self, e: rev.TaskCreated, ctx: MessageContext, conn: asyncpg.Connection
    ) -> None:
        await self.projections.task_created(conn, Origin.of_envelope(ctx.envelope), e)

    @handles(
        "routing-labels", rev.TaskReopened, why="the task is labeling again, with its new overlap"
    )
    async def task_reopened(
        self, e: rev.TaskReopened, ctx: MessageContext, conn: asyncpg.Connection
    ) -> None:
        await self.projections.task_reopened(conn, Origin.of_envelope(ctx.envelope), e)

    @handles(
        "routing-labels",
        rev.LabelSubmitted,
        why="stores the label; gold scoring and drift; on the task's last label consensus,"
        " then review or acceptance",
    )
    async def label_submitted(
        self, e: rev.LabelSubmitted, ctx: MessageContext, conn: asyncpg.Connection
    ) -> None:
        await self.projections.label_submitted(conn, e, ctx.envelope)

    # Undecoded: OntologyVersions.on_event (libs/ontologykit, shared with routing)
    # decodes the envelope itself.
    @handles(
        "ontology-versions",
        oev.OntologyVersionPublished,
        why="published definitions, to validate reviewers' fixes",
        decode=False,
    )
    async def ontology_version_published(
        self, env: Any, ctx: MessageContext, conn: asyncpg.Connection
    ) -> None:
        await self.ontologies.on_event(ctx, conn)
