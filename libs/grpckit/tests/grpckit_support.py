"""Test-only servicers and helpers for the grpckit tests (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import jwt
from labelops.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from labelops.events.v1 import envelope_pb2
from labelops.routing.v1 import workforce_pb2, workforce_pb2_grpc
from labelops_core.context import Principal, current_principal
from labelops_core.errors import FieldViolation, InvalidArgument, NotFound
from labelops_grpckit import Authenticator, GrpcServer
from labelops_telemetry import current_traceparent

EVENTLOG_SERVICE = eventlog_pb2.DESCRIPTOR.services_by_name["EventLogService"].full_name
WORKFORCE_SERVICE = workforce_pb2.DESCRIPTOR.services_by_name["WorkforceService"].full_name
KINDS_SERVICE = "labelops.test.v1.KindsService"

ADMIN_KEY = "test-admin-key"
VENDOR_KEY = "test-vendor-key"
JWT_SECRET = "0123456789abcdef0123456789abcdef-test-secret"
JWT_ISSUER = "labelops-tests"

# Small so the oversized-request test needs no big allocation.
MAX_RECEIVE_BYTES = 256 * 1024
# Short so deadline tests run fast.
SERVER_DEFAULT_TIMEOUT_S = 0.3


def make_token(secret: str = JWT_SECRET, *, exp_in: float = 300, **claims: Any) -> str:
    """An HS256 token with the test issuer and sensible default claims."""
    payload: dict[str, Any] = {
        "sub": "bob",
        "tenant": "acme",
        "roles": ["labeler"],
        "iss": JWT_ISSUER,
        "iat": int(time.time()),
        "exp": int(time.time() + exp_in),
    }
    payload.update(claims)
    return jwt.encode(payload, secret, algorithm="HS256")


@dataclass
class Seen:
    """What a handler observed while serving one call."""

    principal: Principal | None
    traceparent: str


@dataclass
class DictEventLog(eventlog_pb2_grpc.EventLogServiceServicer):
    """Test-only EventLogService over a dict; certain stream ids trigger failures.

    ""            → InvalidArgument with field violations
    "boom..."     → RuntimeError carrying a "secret" that must not reach the client
    "slow"        → sleeps 1 s (longer than the server's default deadline)
    "unavailable" → a downstream call failing with UNAVAILABLE
    unknown id    → NotFound with reason STREAM_NOT_FOUND
    """

    streams: dict[str, list[envelope_pb2.EventEnvelope]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    async def ReadStream(
        self, request: eventlog_pb2.ReadStreamRequest, context: grpc.aio.ServicerContext
    ) -> eventlog_pb2.ReadStreamResponse:
        self.seen.append(Seen(current_principal(), current_traceparent()))
        stream_id = request.stream_id
        if not stream_id or request.max_events < 0:
            violations = []
            if not stream_id:
                violations.append(FieldViolation("stream_id", "must not be empty"))
            if request.max_events < 0:
                violations.append(FieldViolation("max_events", "must not be negative"))
            raise InvalidArgument("request has invalid fields", violations)
        if stream_id.startswith("boom"):
            raise RuntimeError("connection to postgres://admin:hunter2@db failed")
        if stream_id == "slow":
            await asyncio.sleep(1.0)
        if stream_id == "unavailable":
            raise grpc.aio.AioRpcError(
                grpc.StatusCode.UNAVAILABLE,
                grpc.aio.Metadata(),
                grpc.aio.Metadata(),
                details="routing-service:50051 connection refused",
            )
        events = self.streams.get(stream_id)
        if events is None:
            raise NotFound(
                f"stream {stream_id} not found",
                reason="STREAM_NOT_FOUND",
                metadata={"stream_id": stream_id},
            )
        return eventlog_pb2.ReadStreamResponse(events=events, stream_version=len(events))

    async def ListEvents(
        self, request: eventlog_pb2.ListEventsRequest, context: grpc.aio.ServicerContext
    ) -> eventlog_pb2.ListEventsResponse:
        self.seen.append(Seen(current_principal(), current_traceparent()))
        events = [e for stream in self.streams.values() for e in stream]
        return eventlog_pb2.ListEventsResponse(events=events)


@dataclass
class FakeWorkforce(workforce_pb2_grpc.WorkforceServiceServicer):
    """Test-only WorkforceService: counts what reached it; ``Work`` swallows every exception
    (as a per-message error handler does), so the interceptor must abort bad streams itself."""

    submitted: int = 0
    work_messages: int = 0

    async def SubmitLabels(
        self, request: workforce_pb2.SubmitLabelsRequest, context: grpc.aio.ServicerContext
    ) -> workforce_pb2.SubmitLabelsResponse:
        self.submitted += 1
        return workforce_pb2.SubmitLabelsResponse(
            accepted=[
                workforce_pb2.AcceptedLabel(assignment_id=s.assignment_id)
                for s in request.submissions
            ]
        )

    async def Work(
        self, request_iterator: AsyncIterator[workforce_pb2.WorkRequest], context: Any
    ) -> AsyncIterator[workforce_pb2.WorkResponse]:
        try:
            async for message in request_iterator:
                self.work_messages += 1
                yield workforce_pb2.WorkResponse(correlation_id=message.correlation_id)
        except Exception:  # the point: a handler that hides errors
            pass


def _subject() -> bytes:
    principal = current_principal()
    return principal.subject.encode() if principal else b"<none>"


async def _kinds_unary(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    if request == b"notfound":
        raise NotFound("nothing here", reason="THING_NOT_FOUND")
    return _subject()


async def _kinds_server_stream(
    request: bytes, context: grpc.aio.ServicerContext
) -> AsyncIterator[bytes]:
    if request == b"slow":
        # Longer than the server default deadline: streams must be exempt from it.
        await asyncio.sleep(SERVER_DEFAULT_TIMEOUT_S * 2)
    for _ in range(3):
        yield _subject()
    if request == b"fail-midway":
        raise RuntimeError("cursor closed: secret-cursor-id")


async def _kinds_write_stream(request: bytes, context: grpc.aio.ServicerContext) -> None:
    # The reader/writer style: a coroutine that writes and returns None.
    await context.write(_subject())
    await context.write(_subject())


async def _kinds_client_stream(
    request_iterator: AsyncIterator[bytes], context: grpc.aio.ServicerContext
) -> bytes:
    count = 0
    async for _ in request_iterator:
        count += 1
    return _subject() + b":" + str(count).encode()


async def _kinds_bidi(
    request_iterator: AsyncIterator[bytes], context: grpc.aio.ServicerContext
) -> AsyncIterator[bytes]:
    async for request in request_iterator:
        if request == b"notfound":
            raise NotFound("nothing here", reason="THING_NOT_FOUND")
        yield _subject() + b":" + request


def _add_kinds_service(_servicer: object, server: grpc.aio.Server) -> None:
    # Raw bytes (no serializers): a test-only service covering all four RPC kinds, which the
    # real protos (unary only so far) do not.
    handler = grpc.method_handlers_generic_handler(
        KINDS_SERVICE,
        {
            "Unary": grpc.unary_unary_rpc_method_handler(_kinds_unary),
            "ServerStream": grpc.unary_stream_rpc_method_handler(_kinds_server_stream),
            "WriteStream": grpc.unary_stream_rpc_method_handler(_kinds_write_stream),
            "ClientStream": grpc.stream_unary_rpc_method_handler(_kinds_client_stream),
            "Bidi": grpc.stream_stream_rpc_method_handler(_kinds_bidi),
        },
    )
    server.add_generic_rpc_handlers((handler,))


def make_authenticator() -> Authenticator:
    """API keys for an admin user and a vendor, plus a JWT secret with an issuer check."""
    return Authenticator(
        {
            ADMIN_KEY: {"subject": "alice", "tenant_id": "acme", "roles": ["admin"]},
            VENDOR_KEY: {
                "subject": "vendor-a",
                "tenant_id": "acme",
                "kind": "vendor",
                "vendor_id": "vendor-a",
                "roles": ["vendor"],
            },
        },
        jwt_secret=JWT_SECRET,
        jwt_issuer=JWT_ISSUER,
    )


def make_server(
    servicer: DictEventLog, workforce: FakeWorkforce | None = None, **kwargs: Any
) -> GrpcServer:
    """A GrpcServer on 127.0.0.1:<ephemeral> with the test services mounted."""
    server = GrpcServer(
        host="127.0.0.1",
        port=0,
        authenticator=make_authenticator(),
        default_timeout=SERVER_DEFAULT_TIMEOUT_S,
        max_receive_message_bytes=MAX_RECEIVE_BYTES,
        **kwargs,
    )
    server.add_service(
        eventlog_pb2_grpc.add_EventLogServiceServicer_to_server, servicer, EVENTLOG_SERVICE
    )
    server.add_service(_add_kinds_service, None, KINDS_SERVICE)
    server.add_service(
        workforce_pb2_grpc.add_WorkforceServiceServicer_to_server,
        workforce or FakeWorkforce(),
        WORKFORCE_SERVICE,
    )
    return server
