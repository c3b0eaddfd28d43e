"""``run_service``: the process entry point every service shares (``python -m labelops_<x>``).

It reads the settings from the environment, sets up JSON logs with trace ids and OpenTelemetry
(switched on by ``OTEL_*``), builds the service, serves until SIGTERM / SIGINT (health
NOT_SERVING, in-flight calls finish, workers stop, the pool closes) and logs each step.

``python -m labelops_<x> --health`` instead asks the gRPC health service of a running instance
on this host (the port from the same settings) and exits 0 when it is SERVING: the container
image's HEALTHCHECK, for every service alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable
from typing import Any

from labelops_telemetry import configure_logging, setup_telemetry

from .settings import ServiceSettings

BuildApp = Callable[[Any], contextlib.AbstractAsyncContextManager[Any]]


async def serve(settings: ServiceSettings, build_app: BuildApp) -> None:
    """Build the service from ``settings`` and serve until a signal stops it."""
    log = logging.getLogger(f"labelops_{settings.default_service()}")
    async with build_app(settings) as app:
        log.info(
            "%s service serving on port %d (schema %s, topic labelops.%s.events.v1)",
            settings.default_service(),
            app.port,
            settings.db_schema,
            settings.service_name,
        )
        await app.serve_until_signal()
    log.info("%s service stopped", settings.default_service())


def probe_health(port: int, timeout: float = 3.0) -> bool:
    """Whether the gRPC health service on 127.0.0.1:``port`` answers SERVING."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        try:
            r = health_pb2_grpc.HealthStub(ch).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout
            )
        except grpc.RpcError:
            return False
    return bool(r.status == health_pb2.HealthCheckResponse.SERVING)


def run_service(
    settings_type: type[ServiceSettings], build_app: BuildApp, argv: list[str] | None = None
) -> None:
    """The ``main()`` of a service process (``--health``: probe a running one, see above)."""
    args = sys.argv[1:] if argv is None else argv
    settings = settings_type()
    if args == ["--health"]:
        sys.exit(0 if probe_health(settings.port) else 1)
    if args:
        sys.exit(f"usage: python -m labelops_{settings_type.default_service()} [--health]")
    name = settings_type.default_service()
    configure_logging(name, level=settings.log_level)
    setup_telemetry(name)
    asyncio.run(serve(settings, build_app))
