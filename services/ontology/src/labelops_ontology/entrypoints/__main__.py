"""The ontology service process: ``python -m labelops_ontology``.

Runs the gRPC API (port 50051) and the outbox relay in one asyncio loop, migrates the schema at
startup, and stops gracefully on SIGTERM / SIGINT (health NOT_SERVING, in-flight calls finish,
the relay publishes its current set, the pool closes).
"""

from __future__ import annotations

import asyncio
import logging

from labelops_telemetry import configure_logging, setup_telemetry

from ..bootstrap import build_app
from ..config import Settings

log = logging.getLogger("labelops_ontology")


async def run(settings: Settings) -> None:
    async with build_app(settings) as app:
        log.info(
            "ontology service serving on port %d (schema %s, topic labelops.%s.events.v1)",
            app.port,
            settings.db_schema,
            settings.service_name,
        )
        await app.serve_until_signal()
    log.info("ontology service stopped")


def main() -> None:
    settings = Settings()
    configure_logging("ontology", level=settings.log_level)
    setup_telemetry("ontology")
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
