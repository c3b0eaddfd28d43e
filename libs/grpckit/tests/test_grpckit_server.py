"""GrpcServer + interceptors against a real grpc.aio server on localhost."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import signal
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpckit_support import (
    ADMIN_KEY,
    EVENTLOG_SERVICE,
    JWT_SECRET,
    KINDS_SERVICE,
    MAX_RECEIVE_BYTES,
    VENDOR_KEY,
    DictEventLog,
    make_server,
    make_token,
)
from labelops.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from labelops_core.context import Principal
from labelops_core.errors import FieldViolation
from labelops_grpckit import GrpcServer, channel, error_details, error_info
from labelops_telemetry import trace_id_of
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

STREAM = "projects/p1/tasks/t1"
REPO_ROOT = Path(__file__).resolve().parents[3]


def _read(stream_id: str = STREAM, **fields: int) -> eventlog_pb2.ReadStreamRequest:
    return eventlog_pb2.ReadStreamRequest(stream_id=stream_id, **fields)


async def _expect_error(call: object, code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as excinfo:
        await call  # type: ignore[misc]
    assert excinfo.value.code() == code, excinfo.value
    return excinfo.value


# --- authentication -------------------------------------------------------------------------


async def test_call_without_credentials_is_unauthenticated(anon_channel, eventlog):
    before = len(eventlog.seen)
    stub = eventlog_pb2_grpc.EventLogServiceStub(anon_channel)
    err = await _expect_error(stub.ReadStream(_read()), grpc.StatusCode.UNAUTHENTICATED)
    assert error_details(err).reason == "CREDENTIALS_MISSING"
    assert len(eventlog.seen) == before, "handler must not run for an unauthenticated call"


async def test_bad_api_key_is_unauthenticated(server):
    async with channel(server.target, api_key="not-a-key") as ch:
        stub = eventlog_pb2_grpc.EventLogServiceStub(ch)
        err = await _expect_error(stub.ReadStream(_read()), grpc.StatusCode.UNAUTHENTICATED)
    assert error_details(err).reason == "API_KEY_INVALID"


async def test_valid_api_key_binds_principal_for_handler(admin_channel, eventlog):
    stub = eventlog_pb2_grpc.EventLogServiceStub(admin_channel)
    response = await stub.ReadStream(_read())
    assert [e.event_id for e in response.events] == ["e1", "e2"]
    assert eventlog.seen[-1].principal == Principal(
        subject="alice", tenant_id="acme", kind="user", roles=frozenset({"admin"})
    )


async def test_vendor_api_key_carries_vendor_id(server, eventlog):
    async with channel(server.target, api_key=VENDOR_KEY) as ch:
        await eventlog_pb2_grpc.EventLogServiceStub(ch).ReadStream(_read())
    principal = eventlog.seen[-1].principal
    assert principal is not None
    assert (principal.kind, principal.vendor_id) == ("vendor", "vendor-a")


async def test_jwt_bearer_binds_claims_as_principal(server, eventlog):
    token = make_token(sub="carol", tenant="globex", roles=["reviewer"], kind="user")
    async with channel(server.target, bearer_token=token) as ch:
        await eventlog_pb2_grpc.EventLogServiceStub(ch).ReadStream(_read())
    assert eventlog.seen[-1].principal == Principal(
        subject="carol", tenant_id="globex", kind="user", roles=frozenset({"reviewer"})
    )


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (make_token(exp_in=-600), "TOKEN_EXPIRED"),
        (make_token("a-different-secret-of-at-least-32-bytes!"), "TOKEN_INVALID"),
        (make_token(iss="someone-else"), "TOKEN_INVALID"),
        (make_token(kind="vendor"), "TOKEN_INVALID"),  # vendor without vendor_id
        ("not.a.jwt", "TOKEN_INVALID"),
    ],
    ids=["expired", "wrong-secret", "wrong-issuer", "vendor-without-id", "garbage"],
)
async def test_bad_jwt_is_unauthenticated(server, token, reason):
    async with channel(server.target, bearer_token=token) as ch:
        stub = eventlog_pb2_grpc.EventLogServiceStub(ch)
        err = await _expect_error(stub.ReadStream(_read()), grpc.StatusCode.UNAUTHENTICATED)
    assert error_details(err).reason == reason
    assert JWT_SECRET not in (err.details() or "")


async def test_two_credentials_are_refused(anon_channel):
    stub = eventlog_pb2_grpc.EventLogServiceStub(anon_channel)
    metadata = (("x-api-key", ADMIN_KEY), ("authorization", f"Bearer {make_token()}"))
    err = await _expect_error(
        stub.ReadStream(_read(), metadata=metadata), grpc.StatusCode.UNAUTHENTICATED
    )
    assert error_details(err).reason == "CREDENTIALS_AMBIGUOUS"


async def test_per_call_bearer_overrides_channel_api_key(admin_channel, eventlog):
    stub = eventlog_pb2_grpc.EventLogServiceStub(admin_channel)
    token = make_token(sub="dave")
    await stub.ReadStream(_read(), metadata=(("authorization", f"Bearer {token}"),))
    assert eventlog.seen[-1].principal.subject == "dave"


# --- error mapping --------------------------------------------------------------------------


async def test_not_found_maps_to_not_found_with_error_info(admin_channel):
    stub = eventlog_pb2_grpc.EventLogServiceStub(admin_channel)
    err = await _expect_error(
        stub.ReadStream(_read("projects/p1/tasks/nope")), grpc.StatusCode.NOT_FOUND
    )
    assert err.details() == "stream projects/p1/tasks/nope not found"
    assert error_details(err).reason == "STREAM_NOT_FOUND"
    info = error_info(err)
    assert info is not None
    assert info.domain == "labelops"
    assert dict(info.metadata) == {"stream_id": "projects/p1/tasks/nope"}


async def test_invalid_argument_carries_field_violations(admin_channel):
    stub = eventlog_pb2_grpc.EventLogServiceStub(admin_channel)
    err = await _expect_error(
        stub.ReadStream(_read("", max_events=-1)), grpc.StatusCode.INVALID_ARGUMENT
    )
    reason, violations, _ = error_details(err)
    assert reason == "INVALID_ARGUMENT"
    assert violations == [
        FieldViolation("stream_id", "must not be empty"),
        FieldViolation("max_events", "must not be negative"),
    ]


async def test_unexpected_exception_is_internal_and_scrubbed(admin_channel, caplog):
    stub = eventlog_pb2_grpc.EventLogServiceStub(admin_channel)
    with caplog.at_level(logging.ERROR, logger="labelops_grpckit"):
        err = await _expect_error(stub.ReadStream(_read("boom")), grpc.StatusCode.INTERNAL)
    details = err.details() or ""
    assert "hunter2" not in details and "RuntimeError" not in details
    match = re.fullmatch(r"internal error \(trace_id=([0-9a-f]{32})\)", details)
    assert match, details
    assert error_details(err).reason == "INTERNAL"
    # The real exception is in the log, findable by the id the caller was given.
    logged = [r for r in caplog.records if match.group(1) in r.getMessage()]
    assert logged and logged[0].exc_info is not None
    assert "hunter2" in str(logged[0].exc_info[1])


async def test_downstream_unavailable_maps_to_unavailable(admin_channel):
    stub = eventlog_pb2_grpc.EventLogServiceStub(admin_channel)
    err = await _expect_error(stub.ReadStream(_read("unavailable")), grpc.StatusCode.UNAVAILABLE)
    assert "routing-service" not in (err.details() or "")
    assert error_details(err).reason == "DEPENDENCY_UNAVAILABLE"


# --- deadlines ------------------------------------------------------------------------------


async def test_unary_call_without_deadline_gets_server_default(server):
    async with channel(server.target, api_key=ADMIN_KEY, default_timeout=None) as ch:
        stub = eventlog_pb2_grpc.EventLogServiceStub(ch)
        err = await _expect_error(stub.ReadStream(_read("slow")), grpc.StatusCode.DEADLINE_EXCEEDED)
    assert error_details(err).reason == "DEADLINE_EXCEEDED"


async def test_client_deadline_overrides_server_default(server):
    async with channel(server.target, api_key=ADMIN_KEY, default_timeout=None) as ch:
        stub = eventlog_pb2_grpc.EventLogServiceStub(ch)
        err = await _expect_error(
            stub.ReadStream(_read("slow"), timeout=5.0), grpc.StatusCode.NOT_FOUND
        )
    assert error_details(err).reason == "STREAM_NOT_FOUND"  # ran to completion after 1 s


async def test_channel_default_timeout_applies_to_unary_calls(server):
    async with channel(server.target, api_key=ADMIN_KEY, default_timeout=0.1) as ch:
        stub = eventlog_pb2_grpc.EventLogServiceStub(ch)
        err = await _expect_error(stub.ReadStream(_read("slow")), grpc.StatusCode.DEADLINE_EXCEEDED)
    assert error_details(err).reason == "", "the client's own deadline, not the server's"


async def test_streams_are_exempt_from_default_deadline(admin_channel):
    call = admin_channel.unary_stream(f"/{KINDS_SERVICE}/ServerStream")(b"slow")
    assert [m async for m in call] == [b"alice"] * 3


# --- all four RPC kinds ---------------------------------------------------------------------


async def test_every_rpc_kind_sees_the_principal(admin_channel):
    base = f"/{KINDS_SERVICE}"
    assert await admin_channel.unary_unary(f"{base}/Unary")(b"x") == b"alice"
    server_stream = admin_channel.unary_stream(f"{base}/ServerStream")(b"x")
    assert [m async for m in server_stream] == [b"alice"] * 3
    write_stream = admin_channel.unary_stream(f"{base}/WriteStream")(b"x")
    assert [m async for m in write_stream] == [b"alice"] * 2
    assert await admin_channel.stream_unary(f"{base}/ClientStream")(iter([b"a", b"b"])) == (
        b"alice:2"
    )
    bidi = admin_channel.stream_stream(f"{base}/Bidi")(iter([b"a", b"b"]))
    assert [m async for m in bidi] == [b"alice:a", b"alice:b"]


async def test_streams_require_credentials(anon_channel):
    call = anon_channel.stream_stream(f"/{KINDS_SERVICE}/Bidi")(iter([b"a"]))
    with pytest.raises(grpc.aio.AioRpcError) as excinfo:
        _ = [m async for m in call]
    assert excinfo.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_stream_errors_are_mapped(admin_channel):
    bidi = admin_channel.stream_stream(f"/{KINDS_SERVICE}/Bidi")(iter([b"a", b"notfound"]))
    received = []
    with pytest.raises(grpc.aio.AioRpcError) as excinfo:
        async for message in bidi:
            received.append(message)
    assert received == [b"alice:a"]
    assert excinfo.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_details(excinfo.value).reason == "THING_NOT_FOUND"

    midway = admin_channel.unary_stream(f"/{KINDS_SERVICE}/ServerStream")(b"fail-midway")
    with pytest.raises(grpc.aio.AioRpcError) as excinfo:
        _ = [m async for m in midway]
    assert excinfo.value.code() == grpc.StatusCode.INTERNAL
    assert "secret-cursor-id" not in (excinfo.value.details() or "")


# --- health, size limits, reflection --------------------------------------------------------


async def test_health_is_serving_without_credentials(anon_channel):
    stub = health_pb2_grpc.HealthStub(anon_channel)
    for service in ("", EVENTLOG_SERVICE, KINDS_SERVICE):
        response = await stub.Check(health_pb2.HealthCheckRequest(service=service))
        assert response.status == health_pb2.HealthCheckResponse.SERVING, service


async def test_oversized_request_is_resource_exhausted_and_server_survives(server):
    # The client may send more than the server accepts, so the server's limit is what trips.
    async with channel(
        server.target, api_key=ADMIN_KEY, max_send_message_bytes=4 * MAX_RECEIVE_BYTES
    ) as ch:
        stub = eventlog_pb2_grpc.EventLogServiceStub(ch)
        await _expect_error(
            stub.ReadStream(_read("x" * (2 * MAX_RECEIVE_BYTES))),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
        )
        response = await stub.ReadStream(_read())
    assert len(response.events) == 2


def _grpcurl() -> str:
    found = shutil.which("grpcurl") or str(REPO_ROOT / ".local/bin/grpcurl")
    if not os.access(found, os.X_OK):
        message = "grpcurl not found on PATH or in .local/bin (run: make tools)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


async def _run(*argv: str) -> str:
    # A subprocess, awaited: the server lives on this very event loop and must keep serving.
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, stderr.decode()
    return stdout.decode()


async def test_reflection_lists_services_for_grpcurl(server):
    grpcurl = _grpcurl()
    listed = (await _run(grpcurl, "-plaintext", server.target, "list")).split()
    assert {
        EVENTLOG_SERVICE,
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    } <= set(listed)
    described = await _run(grpcurl, "-plaintext", server.target, "describe", EVENTLOG_SERVICE)
    assert "rpc ReadStream" in described
    # Reflection is public, real methods are not: the same tool needs the key to call one.
    response = await _run(
        grpcurl, "-plaintext", "-H", f"x-api-key: {ADMIN_KEY}",
        "-d", f'{{"stream_id": "{STREAM}"}}',
        server.target, f"{EVENTLOG_SERVICE}/ReadStream",
    )  # fmt: skip
    assert json.loads(response)["stream_version"] == "2"  # uint64 is a JSON string


# --- tracing --------------------------------------------------------------------------------


async def test_trace_flows_from_client_span_into_handler(admin_channel, eventlog, spans):
    stub = eventlog_pb2_grpc.EventLogServiceStub(admin_channel)
    await stub.ListEvents(eventlog_pb2.ListEventsRequest())
    handler_traceparent = eventlog.seen[-1].traceparent
    trace_id = trace_id_of(handler_traceparent)
    assert trace_id, "no span active inside the handler"

    in_trace = [s for s in spans.get_finished_spans() if f"{s.context.trace_id:032x}" == trace_id]
    client = [s for s in in_trace if s.kind == SpanKind.CLIENT]
    server_spans = [s for s in in_trace if s.kind == SpanKind.SERVER]
    assert [s.name for s in client] == [f"/{EVENTLOG_SERVICE}/ListEvents"]
    assert [s.name for s in server_spans] == [f"/{EVENTLOG_SERVICE}/ListEvents"]
    assert server_spans[0].parent.span_id == client[0].context.span_id
    # The handler ran inside the server span.
    assert handler_traceparent.split("-")[2] == f"{server_spans[0].context.span_id:016x}"
    assert server_spans[0].attributes["enduser.id"] == "alice"


async def test_health_checks_are_not_traced(anon_channel, spans: InMemorySpanExporter):
    spans.clear()
    await health_pb2_grpc.HealthStub(anon_channel).Check(health_pb2.HealthCheckRequest())
    assert not [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER]


# --- lifecycle ------------------------------------------------------------------------------


async def test_stop_reports_not_serving_to_watchers_before_shutdown(spans):
    server = make_server(DictEventLog())
    await server.start()
    async with channel(server.target, default_timeout=None) as ch:
        watch = health_pb2_grpc.HealthStub(ch).Watch(
            health_pb2.HealthCheckRequest(service=EVENTLOG_SERVICE)
        )
        first = await watch.read()
        assert first.status == health_pb2.HealthCheckResponse.SERVING
        stopping = asyncio.create_task(server.stop(grace=1.0))
        second = await asyncio.wait_for(watch.read(), timeout=5)
        assert second.status == health_pb2.HealthCheckResponse.NOT_SERVING
        await stopping
    await server.stop()  # idempotent


async def test_sigterm_stops_the_server(spans):
    server = make_server(DictEventLog(), grace_period=0.5)
    await server.start()
    serving = asyncio.create_task(server.serve())
    await asyncio.sleep(0.05)  # let serve() install its handlers
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(serving, timeout=10)
    async with channel(server.target, default_timeout=2) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as excinfo:
            await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest())
    assert excinfo.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_ephemeral_port_is_reported(spans):
    async with make_server(DictEventLog()) as server:
        assert isinstance(server, GrpcServer)
        assert server.port > 0
        assert server.target == f"127.0.0.1:{server.port}"
