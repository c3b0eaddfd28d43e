"""A real grpc.aio server on an ephemeral localhost port, shared by the grpckit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from grpckit_support import ADMIN_KEY, DictEventLog, FakeWorkforce, make_server
from labelops.events.v1 import envelope_pb2
from labelops_grpckit import GrpcServer, channel
from labelops_telemetry import setup_telemetry
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    """Every span finished in this process (telemetry set up the way services do it)."""
    exporter = InMemorySpanExporter()
    setup_telemetry("grpckit-tests", span_exporter=exporter)
    return exporter


@pytest.fixture(scope="session")
def eventlog() -> DictEventLog:
    """The test servicer, with one stream of two events."""
    envelopes = [
        envelope_pb2.EventEnvelope(
            event_id=f"e{v}",
            type="labelops.test.v1.Happened",
            stream_id="projects/p1/tasks/t1",
            stream_version=v,
            tenant_id="acme",
        )
        for v in (1, 2)
    ]
    return DictEventLog(streams={"projects/p1/tasks/t1": envelopes})


@pytest.fixture(scope="session")
def workforce() -> FakeWorkforce:
    """The test WorkforceService (counts the calls that reached it)."""
    return FakeWorkforce()


@pytest.fixture(scope="session")
async def server(
    spans: InMemorySpanExporter, eventlog: DictEventLog, workforce: FakeWorkforce
) -> AsyncIterator[GrpcServer]:
    """The shared, started server."""
    server = make_server(eventlog, workforce)
    await server.start()
    yield server
    await server.stop(grace=0)


@pytest.fixture
async def admin_channel(server: GrpcServer) -> AsyncIterator[grpc.aio.Channel]:
    """A channel authenticated with the admin API key."""
    async with channel(server.target, api_key=ADMIN_KEY) as ch:
        yield ch


@pytest.fixture
async def anon_channel(server: GrpcServer) -> AsyncIterator[grpc.aio.Channel]:
    """A channel without credentials and without a client default timeout."""
    async with channel(server.target, default_timeout=None) as ch:
        yield ch
