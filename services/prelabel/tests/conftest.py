"""Fixtures of the prelabel service tests.

The integration fixture runs the real service (``build_app``) in the test's own Postgres schema
and topics; the test plays routing, QA and curation by publishing their events to Kafka. Its
model servers run on 127.0.0.1, so the fixture allow-lists that address for outbound calls
(``outbound_allow``); ``prelabel_settings`` + ``started`` run the service with other settings
(no allow list, a restart on the same schema).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from labelops.prelabel.v1 import prelabel_pb2_grpc
from labelops_grpckit import Authenticator, channel
from labelops_prelabel.bootstrap import App, build_app
from labelops_prelabel.config import Settings
from labelops_testkit.kafka import publish
from prelabel_support import ENGINEER_KEY, KEYS


@dataclass
class Prelabel:
    app: App
    stub: prelabel_pb2_grpc.PrelabelServiceStub
    settings: Settings
    kafka: str

    async def routing(self, envelopes: list[Any]) -> None:
        await publish(self.kafka, self.settings.routing_topic, envelopes)

    async def qa(self, envelopes: list[Any]) -> None:
        await publish(self.kafka, self.settings.qa_topic, envelopes)

    async def curation(self, envelopes: list[Any]) -> None:
        await publish(self.kafka, self.settings.curation_topic, envelopes)

    async def events(self, message: Any) -> list[Any]:
        """This service's stored events of one type, decoded, in position order.

        Straight from the events table: ``EventStore.read_all`` hides events above the
        cluster-wide snapshot xmin, which another test's open transaction can hold back."""
        rows = await self.app.pool.fetch(
            f'SELECT payload FROM "{self.settings.db_schema}".events WHERE type = $1'
            " ORDER BY position",
            message.DESCRIPTOR.full_name,
        )
        return [message.FromString(r["payload"]) for r in rows]

    async def envelopes(self, message: Any) -> list[tuple[str, int, str]]:
        """``(tenant_id, actor_kind, actor_id)`` of this service's stored events of one type."""
        rows = await self.app.pool.fetch(
            f'SELECT tenant_id, actor_kind, actor_id FROM "{self.settings.db_schema}".events'
            " WHERE type = $1 ORDER BY position",
            message.DESCRIPTOR.full_name,
        )
        return [(r["tenant_id"], r["actor_kind"], r["actor_id"]) for r in rows]

    async def count(self, sql: str, *args: Any) -> int:
        """A count over the service's read models ({t} = the schema)."""
        n: int = await self.app.pool.fetchval(sql.format(t=f'"{self.settings.db_schema}"'), *args)
        return n


@pytest.fixture
def prelabel_settings(pg_schema: str, kafka_bootstrap: str, unique_name: str) -> Settings:
    """The test's settings, model servers on 127.0.0.1 allowed."""
    return Settings(
        db_schema=pg_schema,
        service_name=unique_name,
        kafka_bootstrap=kafka_bootstrap,
        routing_topic=f"{unique_name}.routing-in",
        qa_topic=f"{unique_name}.qa-in",
        curation_topic=f"{unique_name}.curation-in",
        host="127.0.0.1",
        port=0,
        grace_period_s=1.0,
        poll_interval_s=0.1,
        model_timeout_s=0.5,
        model_retries=0,
        # The breaker is unit-tested (test_prelabel_model_server.py). Here the failed calls of
        # one test's phases would add up to its threshold, how soon depending on how the tasks
        # happen to fall into pre-label rounds (a hung server fails 2 to 3 calls for 3 tasks).
        model_breaker_failures=20,
        roi_n_boot=500,
        outbound_allow=["127.0.0.1/32"],
    )


@contextlib.asynccontextmanager
async def started(
    settings: Settings, pool: Any, key: str = ENGINEER_KEY
) -> AsyncIterator[Prelabel]:
    """The service with ``settings`` (on the borrowed ``pool``), and a stub with ``key``."""
    async with build_app(settings, pool=pool, authenticator=Authenticator(KEYS)) as app:
        async with channel(app.target, api_key=key) as ch:
            yield Prelabel(
                app,
                prelabel_pb2_grpc.PrelabelServiceStub(ch),
                settings,
                settings.kafka_bootstrap,
            )


@pytest.fixture
def start() -> Any:
    """``started``: run the service with other settings within a test."""
    return started


@pytest_asyncio.fixture(loop_scope="session")
async def prelabel(pg_pool: Any, prelabel_settings: Settings) -> AsyncIterator[Prelabel]:
    async with started(prelabel_settings, pg_pool) as p:
        yield p
