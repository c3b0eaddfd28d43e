"""Composition root: builds the curation service from ``Settings``. No I/O at import time.

``build_app`` is an async context manager: it connects (or borrows a pool), migrates the schema,
opens Qdrant, wires embedders → handlers / queries → gRPC servicers, and runs the gRPC server,
the outbox relay and the Qdrant indexer (``ServiceRuntime``) until exit::

    async with build_app(Settings()) as app:
        await app.serve_until_signal()

Tests pass their own schema, service name (→ topic), pool, embedders and port 0.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import asyncpg
from labelops.curation.v1 import curation_pb2_grpc
from labelops.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from labelops_eventstore import EventStore, OutboxRelay, load_migrations, migrate
from labelops_eventstore.grpc_api import EventLogServicer
from labelops_grpckit import Authenticator, GrpcServer, ServiceRuntime, Worker

from .adapters.content import ContentReader
from .adapters.embedders import build_embedder
from .adapters.read_model import CurationReadModel
from .adapters.vector_index import VectorIndex, VectorIndexer, open_qdrant
from .application.handlers import CurationHandlers
from .application.queries import CurationQueries
from .config import Settings
from .domain.embedding import Embedder
from .entrypoints.grpc_api import SERVICE_NAME, CurationServicer

log = logging.getLogger(__name__)

EVENTLOG_SERVICE_NAME = eventlog_pb2.DESCRIPTOR.services_by_name["EventLogService"].full_name


@dataclass
class App:
    """A running curation service."""

    settings: Settings
    pool: asyncpg.Pool
    store: EventStore
    handlers: CurationHandlers
    queries: CurationQueries
    index: VectorIndex
    indexer: VectorIndexer
    runtime: ServiceRuntime

    @property
    def port(self) -> int:
        return self.runtime.port

    @property
    def target(self) -> str:
        return self.runtime.target

    async def serve_until_signal(self) -> None:
        await self.runtime.serve_until_signal()


def embedders_from_settings(settings: Settings) -> dict[str, Embedder]:
    """The embedders this deployment offers: built-ins (loaded lazily) plus external servers."""
    out: dict[str, Embedder] = {name: build_embedder(name) for name in settings.builtin_embedders}
    for name, ext in settings.external_embedders.items():
        out[name] = build_embedder(
            "http",
            name=name,
            url=ext.url,
            dim=ext.dim,
            modalities=ext.modalities,
            api_key=ext.api_key,
            timeout_s=ext.timeout_s,
        )
    return out


@contextlib.asynccontextmanager
async def build_app(
    settings: Settings,
    *,
    pool: asyncpg.Pool | None = None,
    authenticator: Authenticator | None = None,
    embedders: Mapping[str, Embedder] | None = None,
) -> AsyncIterator[App]:
    """Build, migrate and start the service; stop it on exit.

    ``pool``: use this pool (not closed on exit). ``embedders``: replace the configured ones.
    """
    own_pool = pool is None
    if pool is None:
        pool = await asyncpg.create_pool(
            settings.pg_dsn,
            min_size=settings.pg_pool_min_size,
            max_size=settings.pg_pool_max_size,
        )
    index: VectorIndex | None = None
    try:
        applied = await migrate(pool, settings.db_schema, load_migrations(settings.migrations_dir))
        if applied:
            log.info("schema %s: applied migrations %s", settings.db_schema, applied)
        index = VectorIndex(
            open_qdrant(settings.qdrant_url or None, settings.qdrant_path, settings.qdrant_api_key),
            prefix=settings.qdrant_prefix,
        )
        store = EventStore(pool, settings.db_schema)
        read_model = CurationReadModel(pool, settings.db_schema)
        indexer = VectorIndexer(pool, settings.db_schema, index)
        offered = dict(embedders) if embedders is not None else embedders_from_settings(settings)
        handlers = CurationHandlers(
            store,
            read_model,
            offered,
            ContentReader(settings.file_roots, max_bytes=settings.max_content_bytes),
            indexer,
        )
        queries = CurationQueries(read_model, index, handlers, offered)
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
            curation_pb2_grpc.add_CurationServiceServicer_to_server,
            CurationServicer(handlers, queries),
            SERVICE_NAME,
        )
        server.add_service(
            eventlog_pb2_grpc.add_EventLogServiceServicer_to_server,
            EventLogServicer(store, settings.service_name),
            EVENTLOG_SERVICE_NAME,
        )
        workers = [Worker("qdrant-indexer", indexer.run, indexer.stop)]
        if settings.relay_enabled:
            relay = OutboxRelay(
                pool, settings.db_schema, settings.service_name, settings.kafka_bootstrap
            )
            workers.append(Worker("outbox-relay", relay.run, relay.stop))
        runtime = ServiceRuntime(server, workers)
        app = App(settings, pool, store, handlers, queries, index, indexer, runtime)
        await runtime.start()
        try:
            yield app
        finally:
            await runtime.stop()
    finally:
        if index is not None:
            await index.close()
        if own_pool:
            await pool.close()
