"""Fixtures of the top-level tests.

``cli_system``: the six services in-process (``labelops_demo.system.local_system``) for the
CLI tests (``test_cli_*.py``); the CLI is a lib and its own tests (``libs/cli/tests``) start no
service.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from cli_support import KEYS, CliSystem, cli_env, make_invoke
from labelops_demo.system import SERVICES, local_system
from labelops_grpckit import Authenticator


@contextlib.asynccontextmanager
async def _schemas(pg_dsn: str, n: int) -> AsyncIterator[list[str]]:
    import asyncpg

    names = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(n)]
    conn = await asyncpg.connect(pg_dsn)
    try:
        for name in names:
            await conn.execute(f'CREATE SCHEMA "{name}"')
        yield names
    finally:
        for name in names:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        await conn.close()


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def cli_system(
    pg_dsn: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[CliSystem]:
    """All six services (fresh schemas, topics ``labelops.t<hex>-<svc>.events.v1``) for the
    tests of one module, and ``invoke(*args)`` running ``labelops`` against them."""
    tmp = tmp_path_factory.mktemp("cli-system")
    prefix = f"t{uuid.uuid4().hex[:10]}-"
    async with _schemas(pg_dsn, len(SERVICES)) as names:
        schemas = dict(zip(SERVICES, names, strict=True))
        async with local_system(
            kafka_bootstrap=kafka_bootstrap,
            pg_dsn=pg_dsn,
            data_dir=tmp / "data",
            schemas=schemas,
            prefix=prefix,
            authenticator=Authenticator(KEYS),
        ) as system:
            env = cli_env(system, kafka_bootstrap, tmp / "run")
            yield CliSystem(system, env, make_invoke(env), schemas, pg_dsn)
