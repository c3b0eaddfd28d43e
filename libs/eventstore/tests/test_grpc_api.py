"""EventLogService over a real event store, served by grpckit."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.wrappers_pb2 import StringValue
from labelops.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from labelops_eventstore import NO_STREAM, EventStore, NewEvent, migrate
from labelops_eventstore.grpc_api import EventLogServicer
from labelops_grpckit import Authenticator, GrpcServer, channel, error_details

KEY = "eventlog-test-key-0123456789"


@pytest.fixture
async def served(pg_pool, pg_schema):
    await migrate(pg_pool, pg_schema)
    store = EventStore(pg_pool, pg_schema)
    for i in range(5):
        await store.append(
            f"items/{i}", NO_STREAM, [NewEvent.of(StringValue(value=f"v{i}"), tenant_id="acme")]
        )
    await store.append("items/0", 1, [NewEvent.of(StringValue(value="second"), tenant_id="acme")])
    server = GrpcServer(
        host="127.0.0.1",
        authenticator=Authenticator({KEY: {"subject": "ops", "tenant_id": "acme"}}),
    )
    server.add_service(
        eventlog_pb2_grpc.add_EventLogServiceServicer_to_server,
        EventLogServicer(store, "curation"),
        "labelops.eventlog.v1.EventLogService",
    )
    await server.start()
    yield server
    await server.stop(grace=0)


async def test_read_stream_and_page_through_all(served) -> None:
    async with channel(served.target, api_key=KEY) as ch:
        stub = eventlog_pb2_grpc.EventLogServiceStub(ch)
        resp = await stub.ReadStream(eventlog_pb2.ReadStreamRequest(stream_id="items/0"))
        assert resp.stream_version == 2
        assert [StringValue.FromString(e.payload).value for e in resp.events] == ["v0", "second"]
        assert resp.events[0].source == "curation"
        seen, token = [], ""
        while True:
            page = await stub.ListEvents(
                eventlog_pb2.ListEventsRequest(page_size=2, page_token=token)
            )
            seen += [e.position for e in page.events]
            token = page.next_page_token
            if not token:
                break
        assert len(seen) == 6 and seen == sorted(seen)


async def test_errors_map_to_status_codes(served) -> None:
    async with channel(served.target, api_key=KEY) as ch:
        stub = eventlog_pb2_grpc.EventLogServiceStub(ch)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.ReadStream(eventlog_pb2.ReadStreamRequest(stream_id="items/404"))
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        assert error_details(info.value).reason == "STREAM_NOT_FOUND"
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.ListEvents(eventlog_pb2.ListEventsRequest(page_token="garbage!"))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in error_details(info.value).violations] == ["page_token"]


async def test_without_credentials_unauthenticated(served) -> None:
    async with channel(served.target) as ch:
        stub = eventlog_pb2_grpc.EventLogServiceStub(ch)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.ReadStream(eventlog_pb2.ReadStreamRequest(stream_id="items/0"))
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
