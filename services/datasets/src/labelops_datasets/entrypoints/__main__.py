"""The datasets service process: ``python -m labelops_datasets``.

Runs DatasetService (port 50056), the outbox relay and the accepted-label, item and ontology
projections in one asyncio loop; migrates the schema at startup and stops gracefully on
SIGTERM / SIGINT.
"""

from __future__ import annotations

import asyncio
import logging

from labelops_telemetry import configure_logging, setup_telemetry

from ..bootstrap import build_app
from ..config import Settings

log = logging.getLogger("labelops_datasets")


async def run(settings: Settings) -> None:
    async with build_app(settings) as app:
        log.info(
            "datasets service serving on port %d (schema %s, topic labelops.%s.events.v1)",
            app.port,
            settings.db_schema,
            settings.service_name,
        )
        await app.serve_until_signal()
    log.info("datasets service stopped")


def main() -> None:
    settings = Settings()
    configure_logging("datasets", level=settings.log_level)
    setup_telemetry("datasets")
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
