"""Helpers of the CLI tests (``test_cli_*.py``): keys of the in-process system, the CLI's
environment, and ``invoke`` running ``labelops`` in a worker thread."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from click.testing import Result
from labelops_cli.main import app
from labelops_demo.system import SERVICES, System
from typer.testing import CliRunner

ADMIN_KEY = "cli-admin-key-0123456789"
VENDOR_KEY = "cli-vendor-key-0123456789"
KEYS = {
    ADMIN_KEY: {"subject": "lead", "tenant_id": "acme", "roles": ["admin"]},
    VENDOR_KEY: {
        "subject": "bot",
        "tenant_id": "acme",
        "kind": "vendor",
        "vendor_id": "vendor-a",
    },
}

Invoke = Callable[..., Awaitable[Result]]


@dataclass
class CliSystem:
    system: System
    env: dict[str, str]
    invoke: Invoke
    #: Postgres schema per service.
    schemas: dict[str, str]
    pg_dsn: str


def cli_env(system: System, kafka_bootstrap: str, run_dir: Path) -> dict[str, str]:
    """Environment pointing the CLI at ``system`` with the admin key (wide, uncoloured output)."""
    env = {f"LABELOPS_{s.upper()}_TARGET": system.targets[s] for s in SERVICES}
    env.update(
        LABELOPS_API_KEY=ADMIN_KEY,
        LABELOPS_KAFKA_BOOTSTRAP=kafka_bootstrap,
        LABELOPS_RUN_DIR=str(run_dir),
        COLUMNS="220",
    )
    return env


def make_invoke(env: dict[str, str]) -> Invoke:
    # The CLI is synchronous (each command has its own asyncio.run) while the services serve
    # on the test's loop: each invocation runs in a worker thread so the loop keeps serving.
    runner = CliRunner()

    async def invoke(*args: str, env_extra: dict[str, str | None] | None = None) -> Result:
        merged: dict[str, str | None] = {**env, **(env_extra or {})}
        return await asyncio.to_thread(
            runner.invoke, app, list(args), env=merged, catch_exceptions=False
        )

    return invoke
