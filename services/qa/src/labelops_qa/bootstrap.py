"""Composition root: builds the QA service from ``Settings``. No I/O at import time.

One process serves QualityService (port 50055) and runs, supervised by ``ServiceRuntime``: the
outbox relay and the consumers of routing's and the ontology service's events.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
from labelops.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from labelops.qa.v1 import qa_pb2_grpc
from labelops_bus import service_consumers
from labelops_eventstore import EventStore, OutboxRelay, load_migrations, migrate
from labelops_eventstore.grpc_api import EventLogServicer
from labelops_grpckit import Authenticator, GrpcServer, ServiceRuntime, Worker

from .adapters.tables import Tables
from .application.service import QaService
from .config import Settings
from .entrypoints.grpc_api import QUALITY_SERVICE, QualityServicer

log = logging.getLogger(__name__)

EVENTLOG_SERVICE_NAME = eventlog_pb2.DESCRIPTOR.services_by_name["EventLogService"].full_name


@dataclass
class App:
    """A running QA service."""

    settings: Settings
    pool: asyncpg.Pool
    store: EventStore
    qa: QaService
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
        qa = QaService(
            store,
            Tables.of(settings.db_schema),
            drift_window=settings.drift_window,
            drift_drop=settings.drift_drop,
            review_min_score=settings.review_min_score,
            box_iou=dict(settings.box_iou_thresholds),
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
            qa_pb2_grpc.add_QualityServiceServicer_to_server,
            QualityServicer(qa),
            QUALITY_SERVICE,
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
                    ("routing-labels", settings.routing_topic, qa.on_routing_event),
                    ("ontology-versions", settings.ontology_topic, qa.ontologies.on_event),
                ),
                bootstrap=settings.kafka_bootstrap,
                service=settings.service_name,
                schema=settings.db_schema,
                pool=pool,
            )
            workers += [Worker(f"consumer-{n}", c.run, c.stop) for n, c in consumers]
        runtime = ServiceRuntime(server, workers)
        app = App(settings, pool, store, qa, runtime)
        await runtime.start()
        try:
            yield app
        finally:
            await runtime.stop()
    finally:
        if own_pool:
            await pool.close()
