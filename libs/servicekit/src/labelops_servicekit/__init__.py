"""labelops servicekit: the scaffold every event-sourced labelops service is built on.

- ``ServiceSettings`` / ``service_config``: the settings fields every service shares;
- ``build_service`` / ``Wiring`` / ``ServiceApp``: pool, migrations, event store, gRPC server
  (health, reflection, auth, EventLogService), outbox relay, consumers from the service's
  dispatch table, workers, shutdown;
- ``run_service``: the process entry point.

See docs/adding-a-service.md for the scaffold in use.
"""

from .app import (
    ServiceApp,
    ServiceContext,
    Servicer,
    Wiring,
    build_service,
    consumer_workers,
)
from .main import run_service, serve
from .settings import MIB, Port, SchemaName, ServiceName, ServiceSettings, service_config

__all__ = [
    "MIB",
    "Port",
    "SchemaName",
    "ServiceApp",
    "ServiceContext",
    "ServiceName",
    "ServiceSettings",
    "Servicer",
    "Wiring",
    "build_service",
    "consumer_workers",
    "run_service",
    "serve",
    "service_config",
]
