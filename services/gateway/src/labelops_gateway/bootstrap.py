"""Composition root: ``create_app(settings) -> FastAPI``.

Nothing here does I/O: gRPC channels open on the first request that needs them (inside the
serving event loop), Kafka consumers per event stream. The lifespan closes them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from labelops_grpckit import Authenticator, RateLimiter

from . import dashboard
from .adapters.backends import Backends
from .adapters.events import load_proto_registry
from .adapters.postgres import GatewayPostgres, LogAuditSink
from .config import Settings
from .dashboard import summary as dashboard_summary
from .entrypoints import errors, event_stream, health, http_api, logredact, session
from .entrypoints.access import authorize
from .entrypoints.proto_schema import REF_PREFIX, SchemaRegistry

log = logging.getLogger("labelops_gateway")

TITLE = "labelops gateway"
VERSION = "1"
DESCRIPTION = """HTTP/JSON over the labelops gRPC services, for internal tools.

Send `x-api-key: <key>` or `Authorization: Bearer <API key or JWT>`, or log in once with
`POST /v1/session` (an HttpOnly cookie); never a key in the URL. The gateway checks each
route's action (docs/security.md, "Gateway routes") and a per-caller rate limit (429 with
`Retry-After`), then forwards the caller's own credential to the services, which decide.
Bodies and replies are the services' protobuf messages in the proto3 JSON mapping (`.proto`
field names, 64-bit integers as strings, enums by name).
Errors: `{"error": {"code", "message", "reason", "field_violations", "metadata"}}` with the
HTTP status of the gRPC code (docs: services/gateway/README.md).
"""

_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "gRPC status name"},
                "message": {"type": "string"},
                "reason": {"type": "string", "description": "google.rpc.ErrorInfo reason"},
                "field_violations": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "field": {"type": "string"},
                            "description": {"type": "string"},
                        },
                    },
                },
                "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
    },
}


def create_app(
    settings: Settings | None = None, *, authenticator: Authenticator | None = None
) -> FastAPI:
    """The gateway application.

    ``authenticator`` resolves each caller for the route table, the rate limit and the event
    stream (the services authenticate the forwarded credential again); default:
    ``Authenticator.from_env()``, the services' own configuration, plus the keys stored in
    Postgres when ``pg_dsn`` is set (read at start-up, refreshed while serving). With
    ``pg_dsn`` the gateway's own denials go to its audit log there, else to the log.
    """
    settings = settings if settings is not None else Settings()
    database = GatewayPostgres(settings) if settings.pg_dsn else None
    explicit_authenticator = authenticator is not None
    if authenticator is None:
        authenticator = Authenticator.from_env()
    if not authenticator.configured and database is None:
        log.warning(
            "no API keys or JWT secret configured: every route but the probes will refuse"
            " every caller (set LABELOPS_API_KEYS as for the services)"
        )
    # Event payloads are decoded through the default descriptor pool.
    load_proto_registry()
    backends = Backends(settings)
    streams = event_stream.OpenStreams(
        settings.sse_max_streams, settings.sse_max_streams_per_principal
    )
    logredact.install(settings.session_cookie_name)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if database is not None:
            stored_keys, app.state.audit = await database.start()
            if not explicit_authenticator:
                app.state.authenticator = stored_keys
        try:
            yield
        finally:
            await streams.close_all()
            await backends.close()
            if database is not None:
                await database.close()

    app = FastAPI(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.backends = backends
    app.state.authenticator = authenticator
    app.state.audit = LogAuditSink()  # the Postgres audit log replaces it at start-up
    app.state.streams = streams
    app.state.rate_limiter, app.state.login_limiter = _limiters(settings)

    errors.install(app)
    app.include_router(health.router)
    app.include_router(session.router)
    # Every other route: authenticated, rate limited, its action required (access.py).
    protected = [Depends(authorize)]
    app.include_router(http_api.build_router(), dependencies=protected)
    app.include_router(event_stream.router, dependencies=protected)
    # The dashboard (static files + its summary route) has its own package.
    app.include_router(dashboard_summary.router, dependencies=protected)
    dashboard.mount(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["authorization", "x-api-key", "content-type"],
        )
    app.openapi = _openapi(app, http_api.SCHEMAS)  # type: ignore[method-assign]
    return app


def _limiters(settings: Settings) -> tuple[RateLimiter | None, RateLimiter | None]:
    """grpckit's token buckets (the services' own): per principal (tenant, subject) on every
    authenticated route, and per client address on the login; None = no limit."""
    per_principal = (
        RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
        if settings.rate_limit_per_s > 0
        else None
    )
    login = (
        RateLimiter(settings.login_rate_per_s, settings.login_burst)
        if settings.login_rate_per_s > 0
        else None
    )
    return per_principal, login


def _openapi(app: FastAPI, schemas: SchemaRegistry) -> Any:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = doc.setdefault("components", {}).setdefault("schemas", {})
        components.update(schemas.components)
        components["Error"] = _ERROR_SCHEMA
        # FastAPI documents its 422; the gateway answers validation errors with 400 (the
        # conventions table), in the one error shape.
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        for path_item in doc.get("paths", {}).values():
            for operation in path_item.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                responses["default"] = {
                    "description": "an error (status per the gRPC code)",
                    "content": {"application/json": {"schema": {"$ref": REF_PREFIX + "Error"}}},
                }
        app.openapi_schema = doc
        return doc

    return build
