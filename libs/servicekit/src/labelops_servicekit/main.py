"""``run_service``: the process entry point every service shares (``python -m labelops_<x>``).

It reads the settings from the environment, sets up JSON logs with trace ids and OpenTelemetry
(switched on by ``OTEL_*``), builds the service, serves until SIGTERM / SIGINT (health
NOT_SERVING, in-flight calls finish, workers stop, the pool closes) and logs each step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
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


def run_service(settings_type: type[ServiceSettings], build_app: BuildApp) -> None:
    """The ``main()`` of a service process."""
    settings = settings_type()
    name = settings_type.default_service()
    configure_logging(name, level=settings.log_level)
    setup_telemetry(name)
    asyncio.run(serve(settings, build_app))
