"""Composition root of the ontology service: what is its own, on the shared scaffold.

``build_app`` (``labelops_servicekit.build_service``) connects or borrows a pool, migrates the
schema, runs ``wire`` below, serves OntologyService + EventLogService and runs the outbox
relay; no I/O at import time::

    async with build_app(Settings()) as app:
        await app.serve_until_signal()  # SIGTERM / SIGINT → graceful stop

Tests pass their own schema, service name (→ topic), pool and authenticator, and port 0::

    settings = Settings(db_schema=pg_schema, service_name=unique_name, port=0)
    async with build_app(settings, pool=pg_pool, authenticator=auth) as app:
        channel(app.target, api_key=KEY); app.parts.handlers ...
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, TypeAlias

from labelops.ontology.v1 import ontology_pb2_grpc
from labelops_servicekit import ServiceApp, ServiceContext, Servicer, Wiring, build_service

from .adapters.read_model import OntologyReadModel
from .adapters.repository import OntologyRepository
from .application.handlers import Limits, OntologyHandlers
from .application.queries import OntologyQueries
from .config import Settings
from .entrypoints.access import METHOD_ACTIONS
from .entrypoints.grpc_api import OntologyServicer


@dataclass
class Parts:
    """The ontology service's own objects (``app.parts``)."""

    handlers: OntologyHandlers
    queries: OntologyQueries


App: TypeAlias = ServiceApp[Settings, Parts]


def wire(ctx: ServiceContext[Settings]) -> Wiring[Parts]:
    s = ctx.settings
    read_model = OntologyReadModel(ctx.pool, s.db_schema)
    handlers = OntologyHandlers(
        ctx.store,
        OntologyRepository(ctx.store, cache_size=s.aggregate_cache_size),
        read_model,
        limits=Limits.for_event_bytes(s.max_event_bytes),
    )
    queries = OntologyQueries(read_model, compiled_cache_size=s.compiled_cache_size)
    return Wiring(
        parts=Parts(handlers, queries),
        servicers=[
            Servicer(
                ontology_pb2_grpc.add_OntologyServiceServicer_to_server,
                OntologyServicer(handlers, queries),
            )
        ],
        method_actions=METHOD_ACTIONS,
    )


def build_app(settings: Settings, **kw: Any) -> contextlib.AbstractAsyncContextManager[App]:
    """Build, migrate and start the service; stop it on exit (``pool``, ``authenticator``:
    see ``labelops_servicekit.build_service``)."""
    return build_service(settings, wire, **kw)
