"""Composition root: builds the routing service from ``Settings``. No I/O at import time.

One process serves RoutingService and WorkforceService (port 50053) and runs, supervised by
``ServiceRuntime``: the outbox relay, the curation, ontology, QA and pre-label consumers, and
the lease sweeper.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
from labelops.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from labelops.routing.v1 import routing_pb2_grpc, workforce_pb2_grpc
from labelops_bus import service_consumers
from labelops_eventstore import EventStore, OutboxRelay, load_migrations, migrate
from labelops_eventstore.grpc_api import EventLogServicer
from labelops_grpckit import Authenticator, GrpcServer, ServiceRuntime, Worker
from labelops_ontologykit import OntologyVersions

from .adapters import metrics
from .adapters.tables import Tables
from .application.handlers import RoutingHandlers
from .application.projections import Projections
from .application.queries import RoutingQueries
from .application.work import WorkHandlers
from .config import Settings
from .entrypoints.grpc_api import (
    ROUTING_SERVICE,
    WORKFORCE_SERVICE,
    RoutingServicer,
    WorkforceServicer,
)

log = logging.getLogger(__name__)

EVENTLOG_SERVICE_NAME = eventlog_pb2.DESCRIPTOR.services_by_name["EventLogService"].full_name


class LeaseSweeper:
    """Expires leases past their time, every ``interval`` seconds (and at once while a round
    finds a full batch)."""

    def __init__(self, work: WorkHandlers, interval: float, schema: str) -> None:
        self.work = work
        self.interval = interval
        self.schema = schema
        self._stop = asyncio.Event()

    async def run(self) -> None:
        self._stop.clear()
        while not self._stop.is_set():
            n = await self.work.expire_leases()
            if n:
                log.info("expired %d lease(s)", n)
                metrics.leases_expired.add(n)
            metrics.set_queue_depth(self.schema, await self.work.queue_depth())
            if n < 500:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.interval)

    async def stop(self) -> None:
        self._stop.set()


@dataclass
class App:
    """A running routing service."""

    settings: Settings
    pool: asyncpg.Pool
    store: EventStore
    handlers: RoutingHandlers
    work: WorkHandlers
    queries: RoutingQueries
    runtime: ServiceRuntime

    @property
    def port(self) -> int:
        return self.runtime.port

    @property
    def target(self) -> str:
        return self.runtime.target

    async def serve_until_signal(self) -> None:
        await self.runtime.serve_until_signal()


@contextlib.asynccontextmanager
async def build_app(
    settings: Settings,
    *,
    pool: asyncpg.Pool | None = None,
    authenticator: Authenticator | None = None,
) -> AsyncIterator[App]:
    """Build, migrate and start the service; stop it on exit. ``pool``: use this pool (not
    closed on exit)."""
    own_pool = pool is None
    if pool is None:
        pool = await asyncpg.create_pool(
            settings.pg_dsn,
            min_size=settings.pg_pool_min_size,
            max_size=settings.pg_pool_max_size,
        )
    try:
        applied = await migrate(pool, settings.db_schema, load_migrations(settings.migrations_dir))
        if applied:
            log.info("schema %s: applied migrations %s", settings.db_schema, applied)
        store = EventStore(pool, settings.db_schema)
        tables = Tables.of(settings.db_schema)
        ontologies = OntologyVersions(pool, tables.ontology_versions)
        handlers = RoutingHandlers(store, tables, ontologies)
        work = WorkHandlers(
            store,
            tables,
            ontologies.cache,
            max_submissions=settings.max_submissions,
            max_batch_bytes=settings.max_batch_bytes,
        )
        queries = RoutingQueries(pool, tables, handlers)
        projections = Projections(handlers)
        server = GrpcServer(
            host=settings.host,
            port=settings.port,
            authenticator=authenticator,
            default_timeout=settings.default_timeout_s,
            max_receive_message_bytes=settings.max_message_bytes,
            max_send_message_bytes=settings.max_message_bytes,
            grace_period=settings.grace_period_s,
        )
        server.add_service(
            routing_pb2_grpc.add_RoutingServiceServicer_to_server,
            RoutingServicer(handlers, queries),
            ROUTING_SERVICE,
        )
        server.add_service(
            workforce_pb2_grpc.add_WorkforceServiceServicer_to_server,
            WorkforceServicer(work),
            WORKFORCE_SERVICE,
        )
        server.add_service(
            eventlog_pb2_grpc.add_EventLogServiceServicer_to_server,
            EventLogServicer(store, settings.service_name),
            EVENTLOG_SERVICE_NAME,
        )
        sweeper = LeaseSweeper(work, settings.lease_sweep_interval_s, settings.db_schema)
        workers = [Worker("lease-sweeper", sweeper.run, sweeper.stop)]
        if settings.relay_enabled:
            relay = OutboxRelay(
                pool, settings.db_schema, settings.service_name, settings.kafka_bootstrap
            )
            workers.append(Worker("outbox-relay", relay.run, relay.stop))
        if settings.consumers_enabled:
            consumers = service_consumers(
                (
                    ("curation-items", settings.curation_topic, projections.on_curation_event),
                    ("ontology-versions", settings.ontology_topic, ontologies.on_event),
                    ("qa-relabel", settings.qa_topic, projections.on_qa_event),
                    ("prelabel-signals", settings.prelabel_topic, projections.on_prelabel_event),
                ),
                bootstrap=settings.kafka_bootstrap,
                service=settings.service_name,
                schema=settings.db_schema,
                pool=pool,
            )
            workers += [Worker(f"consumer-{n}", c.run, c.stop) for n, c in consumers]
        runtime = ServiceRuntime(server, workers)
        app = App(settings, pool, store, handlers, work, queries, runtime)
        await runtime.start()
        try:
            yield app
        finally:
            await runtime.stop()
    finally:
        if own_pool:
            await pool.close()
