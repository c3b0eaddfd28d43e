"""Composition root of the routing service: what is its own, on the shared scaffold.

``build_app`` (``labelops_servicekit.build_service``) connects or borrows a pool, migrates the
schema, runs ``wire`` below and serves RoutingService + WorkforceService (port 50053) +
EventLogService; supervised in the same loop: the outbox relay, the consumers of
``entrypoints/consumers.py`` (curation items and decisions, ontology versions, QA re-labels,
pre-label signals) and the lease sweeper. No I/O at import time::

    async with build_app(Settings()) as app:
        await app.serve_until_signal()  # SIGTERM / SIGINT → graceful stop

Tests reach the service's objects through ``app.parts`` (``app.parts.submissions`` ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TypeAlias

import asyncpg
from labelops.routing.v1 import routing_pb2_grpc, workforce_pb2_grpc
from labelops_grpckit import Authenticator, Worker
from labelops_ontologykit import OntologyVersions
from labelops_servicekit import ServiceApp, ServiceContext, Servicer, Wiring, build_service

from .adapters import metrics
from .adapters.read_models import ReadModels
from .application.claims import Claims
from .application.leases import Leases
from .application.planning import TaskPlanner
from .application.projections import Projections
from .application.projects import ProjectCommands
from .application.queries import RoutingQueries
from .application.submissions import Submissions
from .application.tasks import TaskCommands
from .application.workforce import WorkforceCommands
from .config import Settings
from .entrypoints.access import METHOD_ACTIONS
from .entrypoints.consumers import RoutingConsumers
from .entrypoints.grpc_api import MessageLimit, RoutingServicer, WorkforceServicer

log = logging.getLogger(__name__)


class LeaseSweeper:
    """Expires leases past their time, every ``interval`` seconds (and at once while a round
    finds a full batch); refreshes the queue-depth gauge each round."""

    def __init__(self, leases: Leases, interval: float, schema: str) -> None:
        self.leases = leases
        self.interval = interval
        self.schema = schema
        self._stop = asyncio.Event()

    async def run(self) -> None:
        self._stop.clear()
        while not self._stop.is_set():
            n = await self.leases.expire_leases()
            if n:
                log.info("expired %d lease(s)", n)
                metrics.leases_expired.add(n)
            metrics.set_queue_depth(self.schema, await self.leases.queue_depth())
            if n < 500:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.interval)

    async def stop(self) -> None:
        self._stop.set()


@dataclass
class Parts:
    """The routing service's own objects (``app.parts``)."""

    projects: ProjectCommands
    workforce: WorkforceCommands
    tasks: TaskCommands
    claims: Claims
    leases: Leases
    submissions: Submissions
    queries: RoutingQueries
    projections: Projections
    read_models: ReadModels
    #: What each ``Work`` stream message is charged to (the server's rate limiter).
    work_limit: MessageLimit


App: TypeAlias = ServiceApp[Settings, Parts]


def wire(ctx: ServiceContext[Settings]) -> Wiring[Parts]:
    s, store = ctx.settings, ctx.store
    rm = ReadModels.of(s.db_schema)
    ontologies = OntologyVersions(ctx.pool, rm.tables.ontology_versions)
    planner = TaskPlanner(rm)
    leases = Leases(store, rm)
    parts = Parts(
        projects=ProjectCommands(store, rm, planner, ontologies),
        workforce=WorkforceCommands(store, rm),
        tasks=TaskCommands(store, rm, planner, ontologies),
        claims=Claims(store, rm),
        leases=leases,
        submissions=Submissions(
            store,
            rm,
            ontologies,
            max_submissions=s.max_submissions,
            max_batch_bytes=s.max_batch_bytes,
        ),
        queries=RoutingQueries(ctx.pool, rm),
        projections=Projections(store, rm, planner),
        read_models=rm,
        work_limit=MessageLimit(),
    )
    sweeper = LeaseSweeper(leases, s.lease_sweep_interval_s, s.db_schema)
    return Wiring(
        parts=parts,
        servicers=[
            Servicer(
                routing_pb2_grpc.add_RoutingServiceServicer_to_server,
                RoutingServicer(parts.projects, parts.workforce, parts.tasks, parts.queries),
            ),
            Servicer(
                workforce_pb2_grpc.add_WorkforceServiceServicer_to_server,
                WorkforceServicer(parts.claims, leases, parts.submissions, parts.work_limit),
            ),
        ],
        consumers=RoutingConsumers(parts.projections, ontologies),
        workers=[Worker("lease-sweeper", sweeper.run, sweeper.stop)],
        method_actions=METHOD_ACTIONS,
    )


@contextlib.asynccontextmanager
async def build_app(
    settings: Settings,
    *,
    pool: asyncpg.Pool | None = None,
    authenticator: Authenticator | None = None,
) -> AsyncIterator[App]:
    """Build, migrate and start the service; stop it on exit. ``pool``: use this pool (not
    closed on exit); ``authenticator``: credentials (from the environment when None)."""
    async with build_service(settings, wire, pool=pool, authenticator=authenticator) as app:
        # Work messages are charged to the same per-principal buckets as calls.
        app.parts.work_limit.limiter = app.server.rate_limiter
        yield app
