"""The routing service process: ``python -m labelops_routing``.

Runs RoutingService and WorkforceService (port 50053), the outbox relay, the curation and
ontology consumers and the lease sweeper in one asyncio loop; migrates the schema at startup
and stops gracefully on SIGTERM / SIGINT.
"""

from __future__ import annotations

import asyncio
import logging

from labelops_telemetry import configure_logging, setup_telemetry

from ..bootstrap import build_app
from ..config import Settings

log = logging.getLogger("labelops_routing")


async def run(settings: Settings) -> None:
    async with build_app(settings) as app:
        log.info(
            "routing service serving on port %d (schema %s, topic labelops.%s.events.v1)",
            app.port,
            settings.db_schema,
            settings.service_name,
        )
        await app.serve_until_signal()
    log.info("routing service stopped")


def main() -> None:
    settings = Settings()
    configure_logging("routing", level=settings.log_level)
    setup_telemetry("routing")
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
