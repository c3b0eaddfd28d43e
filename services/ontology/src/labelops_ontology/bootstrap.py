"""Composition root: builds the ontology service from ``Settings``. No I/O at import time.

``build_app`` is an async context manager: it connects (or borrows a pool), migrates the schema,
wires repository → handlers / queries → gRPC servicers, starts the gRPC server and the outbox
relay, and on exit stops both and closes what it opened::

    async with build_app(Settings()) as app:
        await app.serve_until_signal()  # SIGTERM / SIGINT → graceful stop

Tests pass their own schema, service name (→ topic) and pool, and port 0::

    settings = Settings(db_schema=pg_schema, service_name=unique_name, port=0)
    async with build_app(settings, pool=pg_pool, authenticator=auth) as app:
        channel(app.target, api_key=KEY)
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
from labelops.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from labelops.ontology.v1 import ontology_pb2_grpc
from labelops_eventstore import EventStore, OutboxRelay, load_migrations, migrate
from labelops_eventstore.grpc_api import EventLogServicer
from labelops_grpckit import Authenticator, GrpcServer, ServiceRuntime, Worker

from .adapters.read_model import OntologyReadModel
from .adapters.repository import OntologyRepository
from .application.handlers import Limits, OntologyHandlers
from .application.queries import OntologyQueries
from .config import Settings
from .entrypoints.grpc_api import SERVICE_NAME, OntologyServicer

log = logging.getLogger(__name__)

EVENTLOG_SERVICE_NAME = eventlog_pb2.DESCRIPTOR.services_by_name["EventLogService"].full_name


@dataclass
class App:
    """A running ontology service: the gRPC server and the outbox relay (``runtime``)."""

    settings: Settings
    pool: asyncpg.Pool
    store: EventStore
    handlers: OntologyHandlers
    queries: OntologyQueries
    runtime: ServiceRuntime
    relay: OutboxRelay | None

    @property
    def server(self) -> GrpcServer:
        return self.runtime.server

    @property
    def port(self) -> int:
        return self.runtime.port

    @property
    def target(self) -> str:
        """``host:port`` a local client can dial."""
        return self.runtime.target

    async def serve_until_signal(self) -> None:
        """Block until SIGTERM / SIGINT has stopped the gRPC server."""
        await self.runtime.serve_until_signal()


@contextlib.asynccontextmanager
async def build_app(
    settings: Settings,
    *,
    pool: asyncpg.Pool | None = None,
    authenticator: Authenticator | None = None,
) -> AsyncIterator[App]:
    """Build, migrate and start the service; stop it on exit.

    ``pool``: use this pool (not closed on exit) instead of opening one from ``pg_dsn``.
    ``authenticator``: credentials; from ``LABELOPS_API_KEYS`` / ``LABELOPS_JWT_*`` when None.
    """
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
        read_model = OntologyReadModel(pool, settings.db_schema)
        handlers = OntologyHandlers(
            store,
            OntologyRepository(store, cache_size=settings.aggregate_cache_size),
            read_model,
            limits=Limits.for_event_bytes(settings.max_event_bytes),
        )
        queries = OntologyQueries(read_model, compiled_cache_size=settings.compiled_cache_size)
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
            ontology_pb2_grpc.add_OntologyServiceServicer_to_server,
            OntologyServicer(handlers, queries),
            SERVICE_NAME,
        )
        server.add_service(
            eventlog_pb2_grpc.add_EventLogServiceServicer_to_server,
            EventLogServicer(store, settings.service_name),
            EVENTLOG_SERVICE_NAME,
        )
        relay = (
            OutboxRelay(pool, settings.db_schema, settings.service_name, settings.kafka_bootstrap)
            if settings.relay_enabled
            else None
        )
        workers = [Worker("outbox-relay", relay.run, relay.stop)] if relay is not None else []
        runtime = ServiceRuntime(server, workers)
        app = App(settings, pool, store, handlers, queries, runtime, relay)
        await runtime.start()
        try:
            yield app
        finally:
            await runtime.stop()
    finally:
        if own_pool:
            await pool.close()
