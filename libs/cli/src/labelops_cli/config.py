"""What every command needs to know: where the services are and which credential to send.

Resolved once per invocation from the global options (``labelops --api-key ... <command>``),
which fall back to environment variables and then to the local stack's defaults.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from labelops_cli import stack

ENV_API_KEY = "LABELOPS_API_KEY"
ENV_RUN_DIR = "LABELOPS_RUN_DIR"
ENV_GATEWAY_URL = "LABELOPS_GATEWAY_URL"
ENV_KAFKA = "LABELOPS_KAFKA_BOOTSTRAP"
DEFAULT_KAFKA = "127.0.0.1:29092"


def target_env(service: str) -> str:
    """The environment variable naming a service's gRPC target (``LABELOPS_ROUTING_TARGET``)."""
    return f"LABELOPS_{service.upper()}_TARGET"


def default_target(service: str) -> str:
    """``$LABELOPS_<SVC>_TARGET``, else ``127.0.0.1:<the service's default port>``."""
    return os.environ.get(target_env(service)) or f"127.0.0.1:{stack.DEFAULT_PORTS[service]}"


def default_run_dir() -> Path:
    """``$LABELOPS_RUN_DIR``, else ``<repo>/.local/run`` (where ``labelops up`` keeps pids)."""
    env = os.environ.get(ENV_RUN_DIR)
    return Path(env).expanduser().resolve() if env else stack.default_run_dir()


@dataclass
class Config:
    """Global options of one ``labelops`` invocation."""

    targets: dict[str, str]
    run_dir: Path = field(default_factory=default_run_dir)
    api_key_option: str | None = None
    gateway_url: str = "http://127.0.0.1:8080"
    kafka_bootstrap: str = DEFAULT_KAFKA

    @property
    def api_key(self) -> str | None:
        """``--api-key`` / ``$LABELOPS_API_KEY``, else the dev admin key ``labelops up`` wrote."""
        if self.api_key_option:
            return self.api_key_option
        return stack.admin_key(self.run_dir / stack.API_KEYS_FILE)

    def target(self, service: str) -> str:
        """``host:port`` of a service."""
        return self.targets.get(service) or default_target(service)
