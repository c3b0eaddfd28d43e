"""Composition root: builds the prelabel service from ``Settings``. No I/O at import time.

One process serves PrelabelService (port 50054) and runs, supervised by ``ServiceRuntime``: the
outbox relay, the consumers of routing's, QA's and curation's events, and the pre-label and
training loops.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import asyncpg
from labelops.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from labelops.prelabel.v1 import prelabel_pb2_grpc
from labelops_bus import service_consumers
from labelops_eventstore import EventStore, OutboxRelay, load_migrations, migrate
from labelops_eventstore.grpc_api import EventLogServicer
from labelops_grpckit import Authenticator, GrpcServer, ServiceRuntime, Worker

from .adapters.model_server import ModelServerClient
from .adapters.tables import Tables
from .application.service import PrelabelService
from .application.workers import prelabel_loop, trainer_loop
from .config import Settings
from .entrypoints.grpc_api import PRELABEL_SERVICE, PrelabelServicer

log = logging.getLogger(__name__)

EVENTLOG_SERVICE_NAME = eventlog_pb2.DESCRIPTOR.services_by_name["EventLogService"].full_name


@dataclass
class App:
    """A running prelabel service."""

    settings: Settings
    pool: asyncpg.Pool
    store: EventStore
    prelabel: PrelabelService
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
    client_factory: Callable[[str], ModelServerClient] | None = None,
) -> AsyncIterator[App]:
    """Build, migrate and start the service; stop it on exit."""
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
        svc = PrelabelService(
            store, Tables.of(settings.db_schema), settings, client_factory=client_factory
        )
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
            prelabel_pb2_grpc.add_PrelabelServiceServicer_to_server,
            PrelabelServicer(svc),
            PRELABEL_SERVICE,
        )
        server.add_service(
            eventlog_pb2_grpc.add_EventLogServiceServicer_to_server,
            EventLogServicer(store, settings.service_name),
            EVENTLOG_SERVICE_NAME,
        )
        workers: list[Worker] = []
        if settings.relay_enabled:
            relay = OutboxRelay(
                pool, settings.db_schema, settings.service_name, settings.kafka_bootstrap
            )
            workers.append(Worker("outbox-relay", relay.run, relay.stop))
        if settings.consumers_enabled:
            consumers = service_consumers(
                (
                    ("routing-tasks", settings.routing_topic, svc.on_routing_event),
                    ("qa-labels", settings.qa_topic, svc.on_qa_event),
                    ("curation-embeddings", settings.curation_topic, svc.on_curation_event),
                ),
                bootstrap=settings.kafka_bootstrap,
                service=settings.service_name,
                schema=settings.db_schema,
                pool=pool,
            )
            workers += [Worker(f"consumer-{n}", c.run, c.stop) for n, c in consumers]
        if settings.workers_enabled:
            for name, loop in (
                ("prelabel", prelabel_loop(svc, settings.poll_interval_s)),
                ("trainer", trainer_loop(svc, settings.poll_interval_s)),
            ):
                workers.append(Worker(name, loop.run, loop.stop))
        runtime = ServiceRuntime(server, workers)
        app = App(settings, pool, store, svc, runtime)
        await runtime.start()
        try:
            yield app
        finally:
            await runtime.stop()
            await svc.close()
    finally:
        if own_pool:
            await pool.close()
