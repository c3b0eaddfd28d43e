"""The gateway process: ``python -m labelops_gateway`` (uvicorn on ``LABELOPS_GATEWAY_PORT``).

``python -m labelops_gateway --health`` asks a running gateway on this host for ``/healthz``
and exits 0 when it answers 200 (the container image's HEALTHCHECK, as for every service).
"""

from __future__ import annotations

import logging
import sys
import urllib.request

import uvicorn
from labelops_telemetry import configure_logging, setup_telemetry

from ..bootstrap import create_app
from ..config import Settings

log = logging.getLogger("labelops_gateway")


def healthy(port: int, timeout: float = 3.0) -> bool:
    """Whether the gateway on 127.0.0.1:``port`` answers ``/healthz`` with 200."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def main() -> None:
    settings = Settings()
    if sys.argv[1:] == ["--health"]:
        sys.exit(0 if healthy(settings.port) else 1)
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
