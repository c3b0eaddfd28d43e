"""pytest plugin (entry point ``labelops``): real Kafka + PostgreSQL for tests, started lazily.

Options:
  --infra=auto|local|external|containers   (default: $LABELOPS_INFRA or auto)
  --keep-infra                             leave servers this session started running

Fixtures: infra, kafka_bootstrap, pg_dsn (session); pg_pool, pg_schema (async, function);
unique_name (function); kafka_control (session, local mode only, else the test is skipped).

Tests that use any of the infra fixtures (directly or through other fixtures) are marked ``infra``
automatically, so ``pytest -m 'not infra'`` runs the unit tests without starting anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

from labelops_testkit.infra import Infra, InfraSession

INFRA_FIXTURES = frozenset(
    {"infra", "kafka_bootstrap", "pg_dsn", "pg_pool", "pg_schema", "kafka_control"}
)
ENV_INFRA = "LABELOPS_INFRA"
ENV_ALLOW_RESTART = "LABELOPS_ALLOW_KAFKA_RESTART"

_session_key = pytest.StashKey[InfraSession]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("labelops", "labelops infrastructure (Kafka + PostgreSQL)")
    group.addoption(
        "--infra",
        action="store",
        default=os.environ.get(ENV_INFRA, "auto"),
        choices=("auto", "local", "external", "containers"),
        help=(
            "where Kafka/PostgreSQL come from: local stack under .local/, external "
            "(LABELOPS_KAFKA_BOOTSTRAP + LABELOPS_PG_DSN), containers (testcontainers), or auto "
            "(running local stack, else containers when Docker answers, else start the local "
            "stack). Default: $LABELOPS_INFRA or auto."
        ),
    )
    group.addoption(
        "--keep-infra",
        action="store_true",
        default=False,
        help="do not stop local servers this session started",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "infra: needs the real Kafka + Postgres stack")
    config.addinivalue_line(
        "markers", "kafka_restart: stops and restarts the local Kafka broker (local infra only)"
    )


@pytest.hookimpl(tryfirst=True)  # before -m deselection looks at the markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & INFRA_FIXTURES:
            item.add_marker(pytest.mark.infra)
        if "kafka_control" in names:
            item.add_marker(pytest.mark.kafka_restart)


def pytest_runtest_teardown(item: pytest.Item) -> None:
    """A test that stopped the local broker and failed before restarting it: restart it now."""
    if "kafka_control" not in getattr(item, "fixturenames", ()):
        return
    session = item.config.stash.get(_session_key, None)
    infra_obj = session.infra if session is not None else None
    if infra_obj is not None and infra_obj.mode == "local" and infra_obj.local is not None:
        kafka = infra_obj.local.kafka
        if not kafka.running() and not kafka.foreign():
            infra_obj.start_kafka()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    session = config.stash.get(_session_key, None)
    if session is not None and session.summary:
        terminalreporter.write_line(f"labelops infra: {session.summary}")


# --------------------------------------------------------------------------------------------------
# Session fixtures
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def infra(request: pytest.FixtureRequest) -> Iterator[Infra]:
    """The infrastructure for this session (started on first use; see --infra)."""
    config = request.config
    session = InfraSession(config.getoption("--infra"), keep=config.getoption("--keep-infra"))
    config.stash[_session_key] = session
    try:
        yield session.start()
    finally:
        session.close()


@pytest.fixture(scope="session")
def kafka_bootstrap(infra: Infra) -> str:
    return infra.kafka_bootstrap


@pytest.fixture(scope="session")
def pg_dsn(infra: Infra) -> str:
    return infra.pg_dsn


@pytest.fixture(scope="session")
def kafka_control(infra: Infra, request: pytest.FixtureRequest) -> Iterator[Infra]:
    """``infra`` for tests that stop/start the broker: local mode only (others are skipped).

    Also skipped when other pytest sessions use the same local broker (restarting it would break
    them) unless LABELOPS_ALLOW_KAFKA_RESTART=1. After the tests the broker is running again.
    """
    if infra.mode != "local" or infra.local is None:
        pytest.skip(f"needs --infra=local to stop/start Kafka (mode is {infra.mode})")
    others = infra.local.other_sessions()
    if others and os.environ.get(ENV_ALLOW_RESTART) != "1":
        pytest.skip(
            f"other pytest sessions (pids {others}) use the local broker; not restarting it "
            f"(set {ENV_ALLOW_RESTART}=1 to force)"
        )
    if not infra.local.kafka.running():
        pytest.skip("the broker on the Kafka port was not started from this checkout")
    yield infra
    if not infra.local.kafka.running():
        infra.start_kafka()


# --------------------------------------------------------------------------------------------------
# Function fixtures
# --------------------------------------------------------------------------------------------------


@pytest_asyncio.fixture(loop_scope="session", scope="function")
async def pg_pool(pg_dsn: str) -> AsyncIterator[Any]:
    """An asyncpg pool (1..10 connections) to ``pg_dsn``, closed after the test."""
    import asyncpg

    pool = await asyncpg.create_pool(pg_dsn, min_size=1, max_size=10)
    try:
        yield pool
    finally:
        try:
            await asyncio.wait_for(pool.close(), timeout=10)
        except Exception:
            pool.terminate()


@contextlib.asynccontextmanager
async def _fresh_schema(pg_dsn: str) -> AsyncIterator[str]:
    import asyncpg

    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(f'CREATE SCHEMA "{name}"')
    finally:
        await conn.close()
    try:
        yield name
    finally:
        conn = await asyncpg.connect(pg_dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        finally:
            await conn.close()


@pytest_asyncio.fixture(loop_scope="session", scope="function")
async def pg_schema(pg_dsn: str) -> AsyncIterator[str]:
    """A fresh schema ``t_<12 hex>`` in the database, dropped (CASCADE) after the test."""
    async with _fresh_schema(pg_dsn) as name:
        yield name


@pytest_asyncio.fixture(loop_scope="session", scope="function")
async def second_schema(pg_dsn: str) -> AsyncIterator[str]:
    """Another fresh schema, for a second service in the same test (each service owns one)."""
    async with _fresh_schema(pg_dsn) as name:
        yield name


@pytest.fixture
def unique_name() -> str:
    """A short unique lowercase name (``t<10 hex>``) for services, topics, groups."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest_asyncio.fixture(loop_scope="session", scope="function")
async def fresh_schemas(pg_dsn: str) -> AsyncIterator[Any]:
    """``await fresh_schemas(n)``: n more fresh schemas (one per service of a whole-system
    test), all dropped (CASCADE) after the test."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(n: int) -> list[str]:
            return [await stack.enter_async_context(_fresh_schema(pg_dsn)) for _ in range(n)]

        yield make
