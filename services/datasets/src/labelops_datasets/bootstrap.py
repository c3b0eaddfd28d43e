"""Composition root of the datasets service: what is its own, on the shared scaffold.

``build_app`` (``labelops_servicekit.build_service``) connects or borrows a pool, migrates the
schema, runs ``wire`` below, serves DatasetService + EventLogService and runs the outbox relay
and the three batch projections of ``entrypoints/consumers.py`` (accepted labels from qa, item
metadata from curation, ontology versions and migrations); no I/O at import time::

    async with build_app(Settings()) as app:
        await app.serve_until_signal()  # SIGTERM / SIGINT → graceful stop

Tests pass their own schema, service name, topics, store, pool and authenticator, and port 0,
and reach the service's objects as ``app.parts.versions`` / ``.queries`` / ``.projection``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

import asyncpg
from labelops.datasets.v1 import datasets_pb2_grpc
from labelops_bus import BatchProjector, positions_ddl
from labelops_bus.dispatch import BatchDispatch
from labelops_servicekit import ServiceApp, ServiceContext, Servicer, Wiring, build_service

from .adapters.accepted import AcceptedLog
from .adapters.catalog import Catalog
from .adapters.object_store import ObjectStore
from .adapters.tables import Tables
from .adapters.versions import VersionRepository
from .application.builder import VersionBuilder
from .application.projection import Projection
from .application.queries import DatasetQueries
from .application.versions import DatasetVersions
from .config import Settings
from .entrypoints.access import METHOD_ACTIONS
from .entrypoints.consumers import DatasetsConsumers
from .entrypoints.grpc_api import DatasetServicer


@dataclass
class Parts:
    """The datasets service's own objects (``app.parts``)."""

    projection: Projection
    versions: DatasetVersions
    queries: DatasetQueries
    consumers: DatasetsConsumers
    pool: asyncpg.Pool

    async def caught_up(self, ends: dict[int, int]) -> bool:
        """Whether the accepted-labels projection has consumed up to ``ends`` (partition →
        end offset) of the qa topic (``App.caught_up`` before the scaffold)."""
        return await self.projection.caught_up(self.pool, ends)


App: TypeAlias = ServiceApp[Settings, Parts]


def projection_of(settings: Settings) -> Projection:
    """The projection over the service's schema (also what a test or bench drives alone)."""
    tables = Tables.of(settings.db_schema)
    return Projection(
        AcceptedLog(tables, settings.db_schema),
        Catalog(tables),
        segment_span=settings.segment_span,
        qa_topic=settings.qa_topic,
    )


def parts_of(settings: Settings, pool: asyncpg.Pool, store: Any) -> Parts:
    tables = Tables.of(settings.db_schema)
    accepted = AcceptedLog(tables, settings.db_schema)
    catalog = Catalog(tables)
    repo = VersionRepository(tables)
    objects = ObjectStore(settings.store_url)
    projection = projection_of(settings)
    queries = DatasetQueries(
        pool,
        repo,
        accepted,
        objects,
        qa_topic=settings.qa_topic,
        chunk_bytes=settings.stream_chunk_bytes,
    )
    builder = VersionBuilder(
        pool,
        accepted,
        catalog,
        repo,
        objects,
        qa_topic=settings.qa_topic,
        segment_span=settings.segment_span,
    )
    versions = DatasetVersions(
        store,
        repo,
        accepted,
        catalog,
        objects,
        projection=projection,
        builder=builder,
        queries=queries,
        qa_topic=settings.qa_topic,
    )
    return Parts(projection, versions, queries, DatasetsConsumers(projection), pool)


def wire(ctx: ServiceContext[Settings]) -> Wiring[Parts]:
    s = ctx.settings
    parts = parts_of(s, ctx.pool, ctx.store)
    return Wiring(
        parts=parts,
        servicers=[
            Servicer(
                datasets_pb2_grpc.add_DatasetServiceServicer_to_server,
                DatasetServicer(parts.versions, parts.queries),
            )
        ],
        consumers=parts.consumers,
        method_actions=METHOD_ACTIONS,
        consumer_options={
            name: {"max_batch": s.projection_batch} for name in parts.consumers.dispatchers()
        },
        ddl=[positions_ddl(s.db_schema)],
    )


def build_app(settings: Settings, **kw: Any) -> contextlib.AbstractAsyncContextManager[App]:
    """Build, migrate and start the service; stop it on exit (``pool``, ``authenticator``:
    see ``labelops_servicekit.build_service``)."""
    return build_service(settings, wire, **kw)


def projector(
    settings: Settings,
    pool: asyncpg.Pool,
    consumer: str,
    /,
    *,
    projection: Projection | None = None,
    **kw: Any,
) -> Callable[[], BatchProjector]:
    """A factory of one projection of the dispatch table as the scaffold runs it (group
    ``<service>.<consumer>``, ``max_batch``): for tests and benches that drive a projector
    themselves (``before_offset_commit``, ``handler``, another ``consumer`` name, ...:
    keyword arguments of ``BatchProjector``, which replace the scaffold's)."""
    consumers = DatasetsConsumers(projection or projection_of(settings))
    dispatch = consumers.dispatchers()[consumer]
    assert isinstance(dispatch, BatchDispatch)
    options: dict[str, Any] = {  # the scaffold's (labelops_servicekit.consumer_workers)
        "bootstrap_servers": settings.kafka_bootstrap,
        "group_id": f"{settings.service_name}.{consumer}",
        "topics": [settings.topic_of(dispatch.producer)],
        "pool": pool,
        "consumer": consumer,
        "schema": settings.db_schema,
        "service": settings.service_name,
        "handler": dispatch,
        "decode": dispatch.decode,
        "prepare": dispatch.prepare,
        "max_batch": settings.projection_batch,
    }
    options.update(kw)
    return functools.partial(BatchProjector, **options)
