"""Bad input, rate limits and the action table, through a real grpc.aio server."""

from __future__ import annotations

import logging
from typing import Any

import grpc
import pytest
from grpckit_support import (
    ADMIN_KEY,
    EVENTLOG_SERVICE,
    VENDOR_KEY,
    WORKFORCE_SERVICE,
    DictEventLog,
    FakeWorkforce,
    make_server,
)
from labelops.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from labelops.labels.v1 import label_pb2
from labelops.routing.v1 import workforce_pb2, workforce_pb2_grpc
from labelops_core.audit import MemoryAuditSink
from labelops_core.authz import Action
from labelops_core.errors import FieldViolation
from labelops_grpckit import RejectedMessage, channel, error_details, per_message_errors
from labelops_grpckit.errors import retry_delay
from labelops_grpckit.ratelimit import RateLimit

READ_STREAM = f"/{EVENTLOG_SERVICE}/ReadStream"
SUBMIT = f"/{WORKFORCE_SERVICE}/SubmitLabels"
WORK = f"/{WORKFORCE_SERVICE}/Work"

GARBAGE = [
    b"\xff\xff\xff",  # a truncated varint tag
    b"\x0a\x05ab",  # a length running past the end
    b"\x0a\x02\xff\xfe",  # stream_id that is not UTF-8
    b"\x07",  # wire type 7 does not exist
]


async def _error(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as excinfo:
        await call  # type: ignore[misc]
    return excinfo.value


def _no_error_logs(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert not bad, [r.getMessage() for r in bad]
    assert "Exception deserializing" not in caplog.text


def _submission(**label: object) -> workforce_pb2.SubmitLabelsRequest:
    labels = label_pb2.ItemLabels(
        item_id="i1",
        labels=[
            label_pb2.Label(
                label_id="l1",
                class_id="car",
                answers=[
                    label_pb2.Answer(classification_id="color", option_id="red"),
                    label_pb2.Answer(classification_id="notes", text="fine"),
                ],
                **label,  # type: ignore[arg-type]
            )
        ],
    )
    return workforce_pb2.SubmitLabelsRequest(
        request_id="r1",
        submissions=[workforce_pb2.LabelSubmission(assignment_id="a1", labels=labels)],
    )


# --- decode errors --------------------------------------------------------------------------


@pytest.mark.parametrize("garbage", GARBAGE, ids=["varint", "overrun", "utf8", "wiretype"])
@pytest.mark.parametrize("credentials", [True, False], ids=["authenticated", "anonymous"])
async def test_malformed_request_is_invalid_argument_before_auth(
    server, eventlog, caplog, garbage, credentials
):
    before = len(eventlog.seen)
    caplog.set_level(logging.INFO)
    async with channel(server.target, api_key=ADMIN_KEY if credentials else None) as ch:
        err = await _error(ch.unary_unary(READ_STREAM)(garbage))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err
        reason, violations, _ = error_details(err)
        assert reason == "MALFORMED_REQUEST"
        assert [v.field for v in violations] == ["request"]
        # the server is fine afterwards
        if credentials:
            ok = await eventlog_pb2_grpc.EventLogServiceStub(ch).ReadStream(
                eventlog_pb2.ReadStreamRequest(stream_id="projects/p1/tasks/t1")
            )
            assert len(ok.events) == 2
    assert len(eventlog.seen) == before + (1 if credentials else 0)
    _no_error_logs(caplog)


async def test_malformed_message_aborts_request_stream(admin_channel, workforce, caplog):
    caplog.set_level(logging.INFO)
    before = workforce.work_messages
    good = workforce_pb2.WorkRequest(correlation_id="c1").SerializeToString()
    call = admin_channel.stream_stream(WORK)(iter([good, b"\xff\xff", good]))
    received = []
    with pytest.raises(grpc.aio.AioRpcError) as excinfo:
        async for message in call:
            received.append(message)
    assert excinfo.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(excinfo.value).reason == "MALFORMED_REQUEST"
    assert workforce.work_messages == before + 1, "only the first message reached the handler"
    assert len(received) == 1
    _no_error_logs(caplog)


# --- the generic validator ------------------------------------------------------------------


async def test_nul_in_nested_field_is_a_field_violation(admin_channel, workforce, caplog):
    caplog.set_level(logging.INFO)
    before = workforce.submitted
    request = _submission()
    request.submissions[0].labels.labels[0].answers[1].text = "bad\x00text"
    request.submissions[0].labels.labels[0].attributes["note\x1b"].string_value = "ok"
    stub = workforce_pb2_grpc.WorkforceServiceStub(admin_channel)
    err = await _error(stub.SubmitLabels(request))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    reason, violations, _ = error_details(err)
    assert reason == "REQUEST_LIMITS"
    assert [v.field for v in violations] == [
        "submissions[0].labels.labels[0].answers[1].text",
        'submissions[0].labels.labels[0].attributes["note\\u001b"]',
    ]
    assert workforce.submitted == before
    _no_error_logs(caplog)
    # Tabs and newlines are text, not control characters.
    request.submissions[0].labels.labels[0].answers[1].text = "line one\n\tline two\r\n"
    del request.submissions[0].labels.labels[0].attributes["note\x1b"]
    response = await stub.SubmitLabels(request)
    assert [a.assignment_id for a in response.accepted] == ["a1"]


async def test_huge_repeated_and_long_string_are_refused(admin_channel, workforce):
    before = workforce.submitted
    request = _submission(polygon=label_pb2.Polygon(points=[label_pb2.Point2D()] * 10_001))
    request.submissions[0].note = "x" * 8193
    err = await _error(workforce_pb2_grpc.WorkforceServiceStub(admin_channel).SubmitLabels(request))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(err).violations == [
        FieldViolation("submissions[0].labels.labels[0].polygon.points", "at most 10000 entries"),
        FieldViolation("submissions[0].note", "string longer than 8192 characters"),
    ]
    assert workforce.submitted == before


async def test_uint64_above_bigint_is_invalid_argument(admin_channel, eventlog):
    before = len(eventlog.seen)
    stub = eventlog_pb2_grpc.EventLogServiceStub(admin_channel)
    err = await _error(
        stub.ReadStream(eventlog_pb2.ReadStreamRequest(stream_id="s", from_version=2**64 - 1))
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in error_details(err).violations] == ["from_version"]
    assert len(eventlog.seen) == before
    ok = await stub.ReadStream(
        eventlog_pb2.ReadStreamRequest(stream_id="projects/p1/tasks/t1", from_version=2**63 - 1)
    )
    assert ok.stream_version == 2


async def test_unknown_enum_value_is_invalid_argument(admin_channel):
    request = _submission()
    request.submissions[0].prelabel_outcome = 99  # type: ignore[assignment]
    err = await _error(workforce_pb2_grpc.WorkforceServiceStub(admin_channel).SubmitLabels(request))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(err).violations == [
        FieldViolation("submissions[0].prelabel_outcome", "99 is not a defined enum value")
    ]


async def test_bad_message_aborts_work_stream_even_if_handler_swallows(admin_channel, workforce):
    before = workforce.work_messages
    stub = workforce_pb2_grpc.WorkforceServiceStub(admin_channel)
    messages = [
        workforce_pb2.WorkRequest(correlation_id="ok"),
        workforce_pb2.WorkRequest(correlation_id="bad\x00"),
        workforce_pb2.WorkRequest(correlation_id="never"),
    ]
    call = stub.Work(iter(messages))
    received = []
    with pytest.raises(grpc.aio.AioRpcError) as excinfo:
        async for message in call:
            received.append(message.correlation_id)
    assert excinfo.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in error_details(excinfo.value).violations] == ["correlation_id"]
    assert received == ["ok"]
    assert workforce.work_messages == before + 1


# --- rate limits ----------------------------------------------------------------------------


async def test_rate_limit_is_resource_exhausted_with_retry_info(spans):
    server = make_server(DictEventLog(), rate_limit=RateLimit(rate_per_s=1.0, burst=2))
    async with server:
        async with channel(server.target, api_key=ADMIN_KEY) as ch:
            stub = workforce_pb2_grpc.WorkforceServiceStub(ch)
            for _ in range(2):
                await stub.SubmitLabels(_submission())
            err = await _error(stub.SubmitLabels(_submission()))
            assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert error_details(err).reason == "RATE_LIMITED"
            delay = retry_delay(err)
            assert delay is not None and 0 < delay <= 1.0
            # A stream opened costs a token too.
            call = ch.stream_stream(WORK)(iter([]))
            with pytest.raises(grpc.aio.AioRpcError) as excinfo:
                _ = [m async for m in call]
            assert excinfo.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # Another principal has a bucket of its own.
        async with channel(server.target, api_key=VENDOR_KEY) as ch:
            await workforce_pb2_grpc.WorkforceServiceStub(ch).SubmitLabels(_submission())
        assert server.rate_limiter is not None and len(server.rate_limiter) == 2


async def test_rate_limit_off(spans):
    server = make_server(DictEventLog(), rate_limit=None)
    async with server:
        assert server.rate_limiter is None
        async with channel(server.target, api_key=ADMIN_KEY) as ch:
            stub = workforce_pb2_grpc.WorkforceServiceStub(ch)
            for _ in range(5):
                await stub.SubmitLabels(_submission())


# --- action table and audit -----------------------------------------------------------------


async def test_action_table_denies_unmapped_methods_and_audits(spans):
    audit = MemoryAuditSink()
    table = {READ_STREAM: Action.EVENTS_READ, SUBMIT: Action.TASK_WORK}
    server = make_server(
        DictEventLog(), method_actions=table, audit=audit, service_name="grpckit-test"
    )
    async with server:
        async with channel(server.target, api_key=VENDOR_KEY) as ch:
            workforce = workforce_pb2_grpc.WorkforceServiceStub(ch)
            await workforce.SubmitLabels(_submission())  # a command: audited as ok
            eventlog = eventlog_pb2_grpc.EventLogServiceStub(ch)
            denied = await _error(eventlog.ReadStream(eventlog_pb2.ReadStreamRequest()))
            assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
            assert error_details(denied).reason == "PERMISSION_DENIED_BY_ROLE"
        async with channel(server.target, api_key=ADMIN_KEY) as ch:
            # Even an admin cannot call a method the table does not name.
            unmapped = await _error(
                eventlog_pb2_grpc.EventLogServiceStub(ch).ListEvents(
                    eventlog_pb2.ListEventsRequest()
                )
            )
            assert unmapped.code() == grpc.StatusCode.PERMISSION_DENIED
            assert error_details(unmapped).reason == "METHOD_NOT_ALLOWED"
    got = [(r.actor_id, r.method, r.action, r.outcome, r.code, r.reason) for r in audit.records]
    assert got == [
        ("vendor-a", SUBMIT, "task.work", "ok", "OK", ""),
        (
            "vendor-a",
            READ_STREAM,
            "events.read",
            "denied",
            "PERMISSION_DENIED",
            "PERMISSION_DENIED_BY_ROLE",
        ),
        (
            "alice",
            f"/{EVENTLOG_SERVICE}/ListEvents",
            "",
            "denied",
            "PERMISSION_DENIED",
            "METHOD_NOT_ALLOWED",
        ),
    ]
    assert {(r.tenant_id, r.service) for r in audit.records} == {("acme", "grpckit-test")}


async def test_validation_failure_of_a_command_is_audited(spans):
    audit = MemoryAuditSink()
    server = make_server(
        DictEventLog(), FakeWorkforce(), method_actions={SUBMIT: Action.TASK_WORK}, audit=audit
    )
    async with server:
        async with channel(server.target, api_key=VENDOR_KEY) as ch:
            request = _submission()
            request.request_id = "\x00"
            await _error(workforce_pb2_grpc.WorkforceServiceStub(ch).SubmitLabels(request))
    assert [(r.outcome, r.code, r.reason) for r in audit.records] == [
        ("failed", "INVALID_ARGUMENT", "REQUEST_LIMITS")
    ]


class _AnsweringWorkforce(FakeWorkforce):
    """A Work handler marked ``per_message_errors``: it answers refused messages itself."""

    @per_message_errors
    async def Work(self, request_iterator: Any, context: Any) -> Any:
        async for message in request_iterator:
            if isinstance(message, RejectedMessage):
                yield workforce_pb2.WorkResponse(
                    correlation_id="" if message.message is None else "rejected",
                    error=workforce_pb2.StreamError(
                        code=message.error.code.value, reason=message.error.reason
                    ),
                )
                continue
            self.work_messages += 1
            yield workforce_pb2.WorkResponse(correlation_id=message.correlation_id)


async def test_a_marked_stream_answers_bad_messages_and_stays_open(eventlog) -> None:
    """``per_message_errors``: a NUL and undecodable bytes are answered on the stream with
    INVALID_ARGUMENT, never handed to the handler as messages; the messages after them are."""
    workforce = _AnsweringWorkforce()
    server = make_server(eventlog, workforce)
    await server.start()
    try:
        async with channel(server.target, api_key=ADMIN_KEY) as ch:
            messages = [
                workforce_pb2.WorkRequest(correlation_id="ok").SerializeToString(),
                workforce_pb2.WorkRequest(correlation_id="bad\x00").SerializeToString(),
                b"\xff\xff",
                workforce_pb2.WorkRequest(correlation_id="after").SerializeToString(),
            ]
            call = ch.stream_stream(
                WORK, response_deserializer=workforce_pb2.WorkResponse.FromString
            )
            got = [
                (r.correlation_id, r.error.code, r.error.reason) async for r in call(iter(messages))
            ]
    finally:
        await server.stop(grace=0)
    assert got == [
        ("ok", "", ""),
        ("rejected", "INVALID_ARGUMENT", "REQUEST_LIMITS"),
        ("", "INVALID_ARGUMENT", "MALFORMED_REQUEST"),
        ("after", "", ""),
    ]
    assert workforce.work_messages == 2
