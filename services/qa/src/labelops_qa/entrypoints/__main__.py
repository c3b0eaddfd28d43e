"""The QA service process: ``python -m labelops_qa``.

Runs QualityService (port 50055), the outbox relay and the routing / ontology consumers in one
asyncio loop; migrates the schema at startup and stops gracefully on SIGTERM / SIGINT.
"""

from __future__ import annotations

import asyncio
import logging

from labelops_telemetry import configure_logging, setup_telemetry

from ..bootstrap import build_app
from ..config import Settings

log = logging.getLogger("labelops_qa")


async def run(settings: Settings) -> None:
    async with build_app(settings) as app:
        log.info(
            "qa service serving on port %d (schema %s, topic labelops.%s.events.v1)",
            app.port,
            settings.db_schema,
            settings.service_name,
        )
        await app.serve_until_signal()
    log.info("qa service stopped")


def main() -> None:
    settings = Settings()
    configure_logging("qa", level=settings.log_level)
    setup_telemetry("qa")
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
