"""Fixtures of the routing service tests.

The integration fixtures run the real service (``build_app``) on an ephemeral port, in the
test's own Postgres schema, event topic and consumed topics (the test plays the curation,
ontology, QA and pre-label services by publishing their events to Kafka).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from labelops.routing.v1 import routing_pb2_grpc, workforce_pb2_grpc
from labelops_grpckit import Authenticator, channel
from labelops_routing.bootstrap import App, build_app
from labelops_routing.config import Settings
from routing_support import (
    ADMIN_KEY,
    BETA_ADMIN_KEY,
    IH1_KEY,
    IH2_KEY,
    KEYS,
    TOOL_KEY,
    VENDOR_A_KEY,
    VENDOR_B_KEY,
    eventually,
    ontology_published,
    publish,
)


@dataclass
class Routing:
    app: App
    admin: routing_pb2_grpc.RoutingServiceStub
    work_admin: workforce_pb2_grpc.WorkforceServiceStub
    vendor_a: workforce_pb2_grpc.WorkforceServiceStub
    vendor_b: workforce_pb2_grpc.WorkforceServiceStub
    tool: workforce_pb2_grpc.WorkforceServiceStub
    #: RoutingService as vendor A (which may not manage anything).
    vendor_a_routing: routing_pb2_grpc.RoutingServiceStub
    vendor_b_routing: routing_pb2_grpc.RoutingServiceStub
    #: In-house annotators ih-1 and ih-2, each acting as itself.
    ih1: workforce_pb2_grpc.WorkforceServiceStub
    ih2: workforce_pb2_grpc.WorkforceServiceStub
    ih1_routing: routing_pb2_grpc.RoutingServiceStub
    #: RoutingService / WorkforceService as the admin of another tenant (beta).
    beta_admin: routing_pb2_grpc.RoutingServiceStub
    beta_work: workforce_pb2_grpc.WorkforceServiceStub
    settings: Settings


def routing_settings(pg_schema: str, name: str, kafka: str, **over: Any) -> Settings:
    return Settings(
        db_schema=pg_schema,
        service_name=name,
        kafka_bootstrap=kafka,
        curation_topic=f"{name}.curation-in",
        ontology_topic=f"{name}.ontology-in",
        qa_topic=f"{name}.qa-in",
        prelabel_topic=f"{name}.prelabel-in",
        host="127.0.0.1",
        port=0,
        grace_period_s=1.0,
        lease_sweep_interval_s=0.2,
        **over,
    )


@pytest.fixture
def routing_overrides() -> dict[str, Any]:
    """Settings a test module changes (override this fixture)."""
    return {}


@pytest_asyncio.fixture(loop_scope="session")
async def routing(
    pg_pool: Any,
    pg_schema: str,
    kafka_bootstrap: str,
    unique_name: str,
    routing_overrides: dict[str, Any],
) -> AsyncIterator[Routing]:
    """The routing service (tenant acme) with an admin key, two vendor keys (va, vb), an
    annotator key that is no registered annotator (label-tool), the in-house annotators ih-1
    and ih-2, and the admin of another tenant (beta); the ontology version street@1.0.0 has
    been published to it."""
    settings = routing_settings(pg_schema, unique_name, kafka_bootstrap, **routing_overrides)
    auth = Authenticator(KEYS)
    async with build_app(settings, pool=pg_pool, authenticator=auth) as app:
        await publish(kafka_bootstrap, settings.ontology_topic, [ontology_published()])
        await eventually(
            lambda: pg_pool.fetchval(f'SELECT count(*) FROM "{pg_schema}".ontology_versions')
        )
        async with contextlib.AsyncExitStack() as stack:
            stubs = {
                name: await stack.enter_async_context(channel(app.target, api_key=key))
                for name, key in (
                    ("admin", ADMIN_KEY),
                    ("a", VENDOR_A_KEY),
                    ("b", VENDOR_B_KEY),
                    ("tool", TOOL_KEY),
                    ("ih1", IH1_KEY),
                    ("ih2", IH2_KEY),
                    ("beta", BETA_ADMIN_KEY),
                )
            }
            yield Routing(
                app=app,
                admin=routing_pb2_grpc.RoutingServiceStub(stubs["admin"]),
                work_admin=workforce_pb2_grpc.WorkforceServiceStub(stubs["admin"]),
                vendor_a=workforce_pb2_grpc.WorkforceServiceStub(stubs["a"]),
                vendor_b=workforce_pb2_grpc.WorkforceServiceStub(stubs["b"]),
                tool=workforce_pb2_grpc.WorkforceServiceStub(stubs["tool"]),
                vendor_a_routing=routing_pb2_grpc.RoutingServiceStub(stubs["a"]),
                vendor_b_routing=routing_pb2_grpc.RoutingServiceStub(stubs["b"]),
                ih1=workforce_pb2_grpc.WorkforceServiceStub(stubs["ih1"]),
                ih2=workforce_pb2_grpc.WorkforceServiceStub(stubs["ih2"]),
                ih1_routing=routing_pb2_grpc.RoutingServiceStub(stubs["ih1"]),
                beta_admin=routing_pb2_grpc.RoutingServiceStub(stubs["beta"]),
                beta_work=workforce_pb2_grpc.WorkforceServiceStub(stubs["beta"]),
                settings=settings,
            )
