"""Composition root of the curation service: what is its own, on the shared scaffold.

``build_app`` (``labelops_servicekit.build_service``) connects or borrows a pool, migrates the
schema, runs ``wire`` below (opens Qdrant, wires embedders → handlers / ingest / queries →
CurationService), serves it with EventLogService and runs the outbox relay and the Qdrant
indexer; on exit it stops them and closes Qdrant. No I/O at import time::

    async with build_app(Settings()) as app:
        await app.serve_until_signal()

Tests pass their own schema, service name (→ topic), pool, embedders and port 0, and reach the
service's objects as ``app.parts.<name>`` (``app.parts.index.count(...)``).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeAlias

import asyncpg
from labelops.curation.v1 import curation_pb2_grpc
from labelops_core.netguard import OutboundPolicy
from labelops_grpckit import Authenticator, Worker
from labelops_servicekit import ServiceApp, ServiceContext, Servicer, Wiring, build_service

from .adapters.content import ContentReader
from .adapters.embedders import build_embedder
from .adapters.read_model import CurationReadModel
from .adapters.vector_index import VectorIndex, VectorIndexer, open_qdrant
from .application.handlers import CurationHandlers
from .application.ingest import ItemIngest
from .application.queries import CurationQueries
from .config import Settings
from .domain.embedding import Embedder
from .entrypoints.access import METHOD_ACTIONS
from .entrypoints.grpc_api import CurationServicer


@dataclass
class Parts:
    """The curation service's own objects (``app.parts``)."""

    handlers: CurationHandlers
    ingest: ItemIngest
    queries: CurationQueries
    index: VectorIndex
    indexer: VectorIndexer


App: TypeAlias = ServiceApp[Settings, Parts]


def embedders_from_settings(settings: Settings) -> dict[str, Embedder]:
    """The embedders this deployment offers: built-ins (loaded lazily) plus external servers."""
    out: dict[str, Embedder] = {name: build_embedder(name) for name in settings.builtin_embedders}
    outbound = OutboundPolicy.of(settings.outbound_allow)
    for name, ext in settings.external_embedders.items():
        out[name] = build_embedder(
            "http",
            name=name,
            url=ext.url,
            dim=ext.dim,
            modalities=ext.modalities,
            api_key=ext.api_key,
            timeout_s=ext.timeout_s,
            outbound=outbound,
        )
    return out


def wire(
    ctx: ServiceContext[Settings], *, embedders: Mapping[str, Embedder] | None = None
) -> Wiring[Parts]:
    s = ctx.settings
    offered = dict(embedders) if embedders is not None else embedders_from_settings(s)
    # Opened last: nothing below can fail before the kit has the closer.
    index = VectorIndex(
        open_qdrant(s.qdrant_url or None, s.qdrant_path, s.qdrant_api_key), prefix=s.qdrant_prefix
    )
    read_model = CurationReadModel(ctx.pool, s.db_schema)
    indexer = VectorIndexer(ctx.pool, s.db_schema, index)
    handlers = CurationHandlers(ctx.store, read_model, offered)
    ingest = ItemIngest(
        ctx.store,
        read_model,
        handlers,
        offered,
        ContentReader(s.file_roots, max_bytes=s.max_content_bytes),
        indexer,
    )
    queries = CurationQueries(read_model, index, handlers, offered)
    return Wiring(
        parts=Parts(handlers, ingest, queries, index, indexer),
        servicers=[
            Servicer(
                curation_pb2_grpc.add_CurationServiceServicer_to_server,
                CurationServicer(handlers, ingest, queries),
            )
        ],
        workers=[Worker("qdrant-indexer", indexer.run, indexer.stop)],
        closers=[index.close],
        method_actions=METHOD_ACTIONS,
    )


def build_app(
    settings: Settings,
    *,
    pool: asyncpg.Pool | None = None,
    authenticator: Authenticator | None = None,
    embedders: Mapping[str, Embedder] | None = None,
) -> contextlib.AbstractAsyncContextManager[App]:
    """Build, migrate and start the service; stop it on exit.

    ``pool``: use this pool (not closed on exit). ``authenticator``: credentials (from
    ``LABELOPS_API_KEYS`` / ``LABELOPS_JWT_*`` when None). ``embedders``: replace the
    configured ones.
    """
    return build_service(
        settings,
        functools.partial(wire, embedders=embedders),
        pool=pool,
        authenticator=authenticator,
    )
