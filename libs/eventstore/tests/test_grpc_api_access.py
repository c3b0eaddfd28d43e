"""EventLogService access on real Postgres: the caller's tenant only, gold stripped without
``gold.read``, the role table enforced by the interceptor."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import descriptor as _descriptor
from google.protobuf.wrappers_pb2 import StringValue
from labelops.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from labelops.labels.v1 import label_pb2
from labelops.qa.v1 import events_pb2 as qev
from labelops.routing.v1 import events_pb2 as rev
from labelops_eventstore import ANY_VERSION, NO_STREAM, EventStore, NewEvent, migrate
from labelops_eventstore.grpc_api import EVENTLOG_METHOD_ACTIONS, EventLogServicer
from labelops_eventstore.redaction import GOLD_FIELDS_KEPT, GOLD_REDACTIONS, redact_envelope
from labelops_grpckit import Authenticator, GrpcServer, channel, error_details

KEYS = {
    "key-admin-a-0123456789": {"subject": "ada", "tenant_id": "tenant-a", "roles": ["admin"]},
    "key-admin-b-0123456789": {"subject": "bo", "tenant_id": "tenant-b", "roles": ["admin"]},
    "key-mle-a-01234567890": {"subject": "eve", "tenant_id": "tenant-a", "roles": ["ml_engineer"]},
    "key-svc-a-01234567890": {"subject": "qa", "tenant_id": "tenant-a", "kind": "service"},
    "key-vendor-a-01234567": {
        "subject": "vx",
        "tenant_id": "tenant-a",
        "kind": "vendor",
        "vendor_id": "vx",
    },
    "key-annot-a-012345678": {"subject": "ann", "tenant_id": "tenant-a", "roles": ["annotator"]},
}
ADMIN_A, ADMIN_B, MLE_A, SVC_A, VENDOR_A, ANNOT_A = KEYS

GOLD_ANSWER = label_pb2.ItemLabels(item_id="i1")
TASK = "projects/p1/tasks/t1"


def task_created() -> rev.TaskCreated:
    return rev.TaskCreated(
        project_id="p1", task_id="t1", item_id="i1", gold=True, gold_expected=GOLD_ANSWER
    )


@pytest.fixture
async def served(pg_pool, pg_schema):
    await migrate(pg_pool, pg_schema)
    store = EventStore(pg_pool, pg_schema)
    a = {"tenant_id": "tenant-a"}
    await store.append(TASK, NO_STREAM, [NewEvent.of(task_created(), **a)])
    await store.append(
        TASK,
        1,
        [
            NewEvent.of(rev.LabelSubmitted(task_id="t1", gold=True, required_labels=0), **a),
            NewEvent.of(qev.GoldScored(task_id="t1", expected_class="cat", correct=True), **a),
        ],
    )
    await store.append("a/only", NO_STREAM, [NewEvent.of(StringValue(value="A"), **a)])
    # The same stream id in tenant B: B's own stream (streams are per tenant), B sees only it.
    await store.append(
        TASK, ANY_VERSION, [NewEvent.of(StringValue(value="B's"), tenant_id="tenant-b")]
    )
    server = GrpcServer(
        host="127.0.0.1",
        authenticator=Authenticator(KEYS),
        method_actions=EVENTLOG_METHOD_ACTIONS,
    )
    server.add_service(
        eventlog_pb2_grpc.add_EventLogServiceServicer_to_server,
        EventLogServicer(store, "routing"),
        "labelops.eventlog.v1.EventLogService",
    )
    await server.start()
    yield server
    await server.stop(grace=0)


async def _list_all(target: str, key: str) -> list:
    async with channel(target, api_key=key) as ch:
        stub = eventlog_pb2_grpc.EventLogServiceStub(ch)
        seen, token = [], ""
        while True:
            page = await stub.ListEvents(
                eventlog_pb2.ListEventsRequest(page_size=1, page_token=token)
            )
            seen += list(page.events)
            token = page.next_page_token
            if not token:
                return seen


async def _read(target: str, key: str, stream: str) -> eventlog_pb2.ReadStreamResponse:
    async with channel(target, api_key=key) as ch:
        stub = eventlog_pb2_grpc.EventLogServiceStub(ch)
        return await stub.ReadStream(eventlog_pb2.ReadStreamRequest(stream_id=stream))


async def test_tenant_b_sees_none_of_tenant_a_events(served) -> None:
    listed = await _list_all(served.target, ADMIN_B)
    assert [(e.tenant_id, e.stream_version) for e in listed] == [("tenant-b", 1)]
    resp = await _read(served.target, ADMIN_B, TASK)
    assert [StringValue.FromString(e.payload).value for e in resp.events] == ["B's"]
    assert {e.tenant_id for e in resp.events} == {"tenant-b"}
    # A's own stream: the same answer as a stream that does not exist.
    for stream in ("a/only", "nothing/here"):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _read(served.target, ADMIN_B, stream)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        assert error_details(info.value).reason == "STREAM_NOT_FOUND"
    own = await _list_all(served.target, ADMIN_A)
    assert len(own) == 4 and {e.tenant_id for e in own} == {"tenant-a"}


async def test_gold_readers_get_gold_others_get_it_stripped(served) -> None:
    for key in (ADMIN_A, SVC_A):  # both hold gold.read
        resp = await _read(served.target, key, TASK)
        assert [e.type for e in resp.events] == [
            "labelops.routing.v1.TaskCreated",
            "labelops.routing.v1.LabelSubmitted",
            "labelops.qa.v1.GoldScored",
        ]
        created = rev.TaskCreated.FromString(resp.events[0].payload)
        assert created.gold and created.gold_expected == GOLD_ANSWER
    # ml_engineer reads events but holds no gold.read.
    for events in (
        (await _read(served.target, MLE_A, TASK)).events,
        await _list_all(served.target, MLE_A),
    ):
        types = [e.type for e in events]
        assert "labelops.qa.v1.GoldScored" not in types
        created = rev.TaskCreated.FromString(events[0].payload)
        assert created.task_id == "t1" and created.item_id == "i1"  # the rest is kept
        assert not created.gold and not created.HasField("gold_expected")
        submitted = rev.LabelSubmitted.FromString(events[1].payload)
        assert submitted.task_id == "t1" and not submitted.gold


async def test_vendor_and_annotator_keys_may_not_read_the_event_log(served) -> None:
    for key in (VENDOR_A, ANNOT_A):
        for stream in (TASK, "a/only"):
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await _read(served.target, key, stream)
            assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _list_all(served.target, key)
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED


def _gold_paths(desc: _descriptor.Descriptor, prefix: str = "", depth: int = 0) -> list[str]:
    """Dotted paths of every field whose name says gold, reachable from ``desc``."""
    if depth > 6:
        return []
    out = []
    for f in desc.fields:
        path = prefix + f.name
        if "gold" in f.name.lower() and f.full_name not in GOLD_FIELDS_KEPT:
            out.append(path)
        elif f.message_type is not None and not f.message_type.GetOptions().map_entry:
            out += _gold_paths(f.message_type, path + ".", depth + 1)
    return out


def test_every_gold_field_of_every_event_is_in_the_redaction_list() -> None:
    import importlib
    import pkgutil

    import labelops

    missing = []
    for info in pkgutil.walk_packages(labelops.__path__, "labelops."):
        if not info.name.endswith(".events_pb2"):
            continue
        module = importlib.import_module(info.name)
        for desc in module.DESCRIPTOR.message_types_by_name.values():
            redaction = GOLD_REDACTIONS.get(desc.full_name)
            if redaction is not None and redaction.withhold:
                continue
            listed = set(redaction.fields) if redaction else set()
            missing += [f"{desc.full_name}.{p}" for p in _gold_paths(desc) if p not in listed]
            if "gold" in desc.name.lower() and redaction is None:
                missing.append(desc.full_name)
    assert missing == []


def test_redaction_of_an_unparseable_payload_returns_nothing() -> None:
    from labelops.events.v1 import envelope_pb2

    env = envelope_pb2.EventEnvelope(type="labelops.routing.v1.TaskCreated", payload=b"\xff\xff")
    out = redact_envelope(env)
    assert out is not None and out.payload == b""
