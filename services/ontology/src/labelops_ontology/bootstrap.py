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

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
from labelops.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from labelops.ontology.v1 import ontology_pb2_grpc
from labelops_eventstore import EventStore, OutboxRelay, load_migrations, migrate
from labelops_eventstore.grpc_api import EventLogServicer
from labelops_grpckit import Authenticator, GrpcServer

from .adapters.read_model import OntologyReadModel
from .adapters.repository import OntologyRepository
from .application.handlers import Limits, OntologyHandlers
from .application.queries import OntologyQueries
from .config import Settings
from .entrypoints.grpc_api import SERVICE_NAME, OntologyServicer

log = logging.getLogger(__name__)

EVENTLOG_SERVICE_NAME = eventlog_pb2.DESCRIPTOR.services_by_name["EventLogService"].full_name

#: Delay before restarting a relay that failed (doubles up to the maximum).
RELAY_RESTART_BASE_S = 1.0
RELAY_RESTART_MAX_S = 30.0


@dataclass
class App:
    """A running ontology service."""

    settings: Settings
    pool: asyncpg.Pool
    store: EventStore
    handlers: OntologyHandlers
    queries: OntologyQueries
    server: GrpcServer
    relay: OutboxRelay | None
    _relay_task: asyncio.Task[None] | None = field(default=None, repr=False)
    _stopping: bool = field(default=False, repr=False)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def target(self) -> str:
        """``host:port`` a local client can dial."""
        return self.server.target

    async def start(self) -> None:
        await self.server.start()
        if self.relay is not None:
            self._relay_task = asyncio.create_task(self._run_relay(self.relay), name="relay")

    async def _run_relay(self, relay: OutboxRelay) -> None:
        # Commands never wait for Kafka (events are safe in Postgres), so a relay failure must
        # not take the API down: log it and start again; events wait in the store meanwhile.
        delay = RELAY_RESTART_BASE_S
        while not self._stopping:
            try:
                await relay.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "outbox relay stopped with an error; restarting in %.0f s "
                    "(committed events wait in the store)",
                    delay,
                )
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(delay)
            delay = min(delay * 2, RELAY_RESTART_MAX_S)

    async def stop(self) -> None:
        """Stop serving (in-flight calls get the grace period), then stop the relay."""
        self._stopping = True
        await self.server.stop()
        if self.relay is not None and self._relay_task is not None:
            await self.relay.stop()
            try:
                await asyncio.wait_for(asyncio.shield(self._relay_task), timeout=15)
            except TimeoutError:
                log.warning("outbox relay did not stop in 15 s; cancelling it")
                self._relay_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._relay_task

    async def serve_until_signal(self) -> None:
        """Block until SIGTERM / SIGINT has stopped the gRPC server."""
        remove = self.server.install_signal_handlers()
        try:
            await self.server.wait()
        finally:
            remove()


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
        app = App(settings, pool, store, handlers, queries, server, relay)
        await app.start()
        try:
            yield app
        finally:
            await app.stop()
    finally:
        if own_pool:
            await pool.close()
