"""The prelabel service process: ``python -m labelops_prelabel``.

Runs PrelabelService (port 50054), the outbox relay, the routing / qa / curation consumers and
the pre-label and training loops in one asyncio loop; migrates the schema at startup and stops
gracefully on SIGTERM / SIGINT.
"""

from __future__ import annotations

import asyncio
import logging

from labelops_telemetry import configure_logging, setup_telemetry

from ..bootstrap import build_app
from ..config import Settings

log = logging.getLogger("labelops_prelabel")


async def run(settings: Settings) -> None:
    async with build_app(settings) as app:
        log.info(
            "prelabel service serving on port %d (schema %s, topic labelops.%s.events.v1)",
            app.port,
            settings.db_schema,
            settings.service_name,
        )
        await app.serve_until_signal()
    log.info("prelabel service stopped")


def main() -> None:
    settings = Settings()
    configure_logging("prelabel", level=settings.log_level)
    setup_telemetry("prelabel")
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
