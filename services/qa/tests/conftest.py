"""Fixtures of the QA service tests.

The integration fixture runs the real service (``build_app``) in the test's own Postgres schema
and topics; the test plays routing and the ontology service by publishing their events.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest_asyncio
from labelops.qa.v1 import qa_pb2_grpc
from labelops_grpckit import Authenticator, channel
from labelops_qa.bootstrap import App, build_app
from labelops_qa.config import Settings
from labelops_testkit.kafka import publish
from qa_support import KEYS, MANAGER_KEY, OTHER_TENANT, TENANT, ontology_published


@dataclass
class Qa:
    app: App
    stub: qa_pb2_grpc.QualityServiceStub
    settings: Settings
    kafka: str

    @contextlib.asynccontextmanager
    async def stub_of(self, api_key: str) -> AsyncIterator[qa_pb2_grpc.QualityServiceStub]:
        """A stub calling with ``api_key`` (another role, tenant or a vendor)."""
        async with channel(self.app.target, api_key=api_key) as ch:
            yield qa_pb2_grpc.QualityServiceStub(ch)

    async def routing(self, envelopes: list[Any]) -> None:
        """Publish routing events (as routing's relay would)."""
        await publish(self.kafka, self.settings.routing_topic, envelopes)


@pytest_asyncio.fixture(loop_scope="session")
async def qa(
    pg_pool: Any, pg_schema: str, kafka_bootstrap: str, unique_name: str
) -> AsyncIterator[Qa]:
    settings = Settings(
        db_schema=pg_schema,
        service_name=unique_name,
        kafka_bootstrap=kafka_bootstrap,
        routing_topic=f"{unique_name}.routing-in",
        ontology_topic=f"{unique_name}.ontology-in",
        host="127.0.0.1",
        port=0,
        grace_period_s=1.0,
    )
    async with build_app(settings, pool=pg_pool, authenticator=Authenticator(KEYS)) as app:
        # Both tenants publish "animals" 1.0.0, each its own definition.
        await publish(
            kafka_bootstrap,
            settings.ontology_topic,
            [ontology_published(TENANT), ontology_published(OTHER_TENANT)],
        )
        async with channel(app.target, api_key=MANAGER_KEY) as ch:
            yield Qa(app, qa_pb2_grpc.QualityServiceStub(ch), settings, kafka_bootstrap)
