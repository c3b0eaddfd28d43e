"""The gateway process: ``python -m labelops_gateway`` (uvicorn on ``LABELOPS_GATEWAY_PORT``)."""

from __future__ import annotations

import logging

import uvicorn
from labelops_telemetry import configure_logging, setup_telemetry

from ..bootstrap import create_app
from ..config import Settings

log = logging.getLogger("labelops_gateway")


def main() -> None:
    settings = Settings()
    configure_logging("gateway", level=settings.log_level)
    setup_telemetry("gateway")
    app = create_app(settings)
    log.info(
        "gateway on %s:%d → %s",
        settings.host,
        settings.port,
        ", ".join(f"{k}={v}" for k, v in settings.targets.items()),
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        # Our JSON logging, not uvicorn's formatters.
        log_config=None,
        # Event streams never end by themselves: after SIGTERM give requests this long, then
        # cancel (which closes every stream's Kafka consumer).
        timeout_graceful_shutdown=settings.shutdown_grace_s,
    )


if __name__ == "__main__":
    main()
