"""Composition root: builds the datasets service from ``Settings``. No I/O at import time.

One process serves DatasetService (port 50056) and runs, supervised by ``ServiceRuntime``: the
outbox relay and three batch projections (libs/bus ``BatchProjector``): accepted labels from
qa, item metadata from curation, ontology versions and migrations from the ontology service.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from labelops.datasets.v1 import datasets_pb2_grpc
from labelops.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from labelops_bus import BatchProjector, RestartableConsumer, positions_ddl, read_positions
from labelops_eventstore import EventStore, OutboxRelay, load_migrations, migrate
from labelops_eventstore.grpc_api import EventLogServicer
from labelops_grpckit import Authenticator, GrpcServer, ServiceRuntime, Worker

from .adapters.object_store import ObjectStore
from .adapters.tables import Tables
from .application.projection import (
    CURATION_CONSUMER,
    ONTOLOGY_CONSUMER,
    QA_CONSUMER,
    Projection,
)
from .application.versions import DatasetVersions
from .config import Settings
from .entrypoints.grpc_api import DATASET_SERVICE, DatasetServicer

log = logging.getLogger(__name__)

EVENTLOG_SERVICE_NAME = eventlog_pb2.DESCRIPTOR.services_by_name["EventLogService"].full_name


@dataclass
class App:
    """A running datasets service."""

    settings: Settings
    pool: asyncpg.Pool
    store: EventStore
    projection: Projection
    versions: DatasetVersions
    runtime: ServiceRuntime

    @property
    def port(self) -> int:
        return self.runtime.port

    @property
    def target(self) -> str:
        return self.runtime.target

    async def serve_until_signal(self) -> None:
        await self.runtime.serve_until_signal()

    async def caught_up(self, ends: dict[int, int]) -> bool:
        """Whether the accepted-labels projection has consumed up to ``ends`` (partition →
        end offset) of the qa topic."""
        positions = await read_positions(
            self.pool, self.settings.db_schema, QA_CONSUMER, self.settings.qa_topic
        )
        return all(positions.get(p, 0) >= o for p, o in ends.items())


def projector_factory(
    settings: Settings,
    pool: asyncpg.Pool,
    name: str,
    topic: str,
    handler: Callable[..., Awaitable[None]],
    **kw: Any,
) -> Callable[[], BatchProjector]:
    """A factory of the projection ``name`` over ``topic`` (for ``RestartableConsumer``)."""
    return functools.partial(
        BatchProjector,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=f"{settings.service_name}.{name}",
        topics=[topic],
        pool=pool,
        consumer=name,
        schema=settings.db_schema,
        handler=handler,
        service=settings.service_name,
        max_batch=settings.projection_batch,
        **kw,
    )


@contextlib.asynccontextmanager
async def build_app(
    settings: Settings,
    *,
    pool: asyncpg.Pool | None = None,
    authenticator: Authenticator | None = None,
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
        await pool.execute(positions_ddl(settings.db_schema))
        store = EventStore(pool, settings.db_schema)
        tables = Tables.of(settings.db_schema)
        projection = Projection(tables, segment_span=settings.segment_span)
        versions = DatasetVersions(
            store,
            tables,
            ObjectStore(settings.store_url),
            schema=settings.db_schema,
            qa_topic=settings.qa_topic,
            segment_span=settings.segment_span,
            chunk_bytes=settings.stream_chunk_bytes,
            projection=projection,
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
            datasets_pb2_grpc.add_DatasetServiceServicer_to_server,
            DatasetServicer(versions),
            DATASET_SERVICE,
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
            for name, topic, handler, prepare in (
                (QA_CONSUMER, settings.qa_topic, projection.apply_qa, projection.prepare_qa),
                (CURATION_CONSUMER, settings.curation_topic, projection.on_curation_batch, None),
                (ONTOLOGY_CONSUMER, settings.ontology_topic, projection.on_ontology_batch, None),
            ):
                consumer = RestartableConsumer(
                    projector_factory(settings, pool, name, topic, handler, prepare=prepare),
                    settings.kafka_bootstrap,
                    [topic],
                )
                workers.append(Worker(f"projection-{name}", consumer.run, consumer.stop))
        runtime = ServiceRuntime(server, workers)
        app = App(settings, pool, store, projection, versions, runtime)
        await runtime.start()
        try:
            yield app
        finally:
            await runtime.stop()
    finally:
        if own_pool:
            await pool.close()
