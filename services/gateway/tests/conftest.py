"""Fixtures of the gateway tests.

``system``: the six services in this event loop (``labelops_demo.system.local_system``), each in
a fresh Postgres schema with its own topics, started once per test module. ``gateway``: the
gateway app against their targets (lifespan entered), ``client``: an httpx client over ASGI.
Modules that need a real socket (the event stream) start uvicorn themselves.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from gateway_support import KEYS, gateway_settings
from labelops_demo.system import SERVICES, System, local_system
from labelops_gateway.bootstrap import create_app
from labelops_grpckit import Authenticator


@contextlib.asynccontextmanager
async def _schemas(pg_dsn: str, n: int) -> AsyncIterator[list[str]]:
    # The plugin's fresh_schemas is per test; these live as long as the module's system.
    names = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(n)]
    conn = await asyncpg.connect(pg_dsn)
    try:
        for name in names:
            await conn.execute(f'CREATE SCHEMA "{name}"')
    finally:
        await conn.close()
    try:
        yield names
    finally:
        conn = await asyncpg.connect(pg_dsn)
        try:
            for name in names:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        finally:
            await conn.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def system(
    pg_dsn: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[System]:
    data_dir: Path = tmp_path_factory.mktemp("system")
    async with _schemas(pg_dsn, len(SERVICES)) as names:
        async with local_system(
            kafka_bootstrap=kafka_bootstrap,
            pg_dsn=pg_dsn,
            data_dir=data_dir,
            schemas=dict(zip(SERVICES, names, strict=True)),
            prefix=f"g{uuid.uuid4().hex[:8]}-",
            authenticator=Authenticator(KEYS),
        ) as system:
            yield system


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gateway(system: System, kafka_bootstrap: str) -> AsyncIterator[FastAPI]:
    app = create_app(
        gateway_settings(system, kafka_bootstrap, sse_heartbeat_s=0.5, sse_topic_refresh_s=0.5),
        authenticator=Authenticator(KEYS),
    )
    async with app.router.lifespan_context(app):
        yield app


@pytest_asyncio.fixture(loop_scope="session")
async def client(gateway: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
        yield c
