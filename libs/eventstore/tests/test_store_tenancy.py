"""Tenancy of the event store on real Postgres: request ids per tenant, no tenant-less event."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import asyncpg
import pytest
from google.protobuf.wrappers_pb2 import StringValue
from labelops_core.context import DEFAULT_TENANT, Principal, reset_principal, set_principal
from labelops_core.errors import ConcurrencyConflict, InvalidArgument
from labelops_eventstore import ANY_VERSION, NO_STREAM, EventStore, NewEvent, StreamAppend, migrate
from labelops_eventstore.idempotency import fingerprint_of

ALICE = Principal(subject="alice", tenant_id="tenant-a", kind="user", roles=frozenset({"admin"}))
BOB = Principal(subject="bob", tenant_id="tenant-b", kind="user", roles=frozenset({"admin"}))


@contextlib.contextmanager
def acting_as(p: Principal | None) -> Iterator[None]:
    token = set_principal(p)
    try:
        yield
    finally:
        reset_principal(token)


@pytest.fixture
async def store(pg_pool, pg_schema) -> EventStore:
    await migrate(pg_pool, pg_schema)
    return EventStore(pg_pool, pg_schema)


def ev(text: str) -> NewEvent:
    return NewEvent.of(StringValue(value=text))


async def test_another_tenant_replaying_a_request_id_is_handled_afresh(store: EventStore) -> None:
    req = StringValue(value="create")  # same method, same content, same request id
    fp = fingerprint_of("Create", req)
    with acting_as(ALICE):
        cmd = await store.command("Create", req, StringValue, request_id="rid-1")
        assert cmd.earlier is None
        await store.append(
            "a/1", NO_STREAM, [ev("by alice")], **cmd.recording(StringValue(value="A's answer"))
        )
        again = await store.command("Create", req, StringValue, request_id="rid-1")
        assert again.earlier == StringValue(value="A's answer")
    with acting_as(BOB):
        cmd_b = await store.command("Create", req, StringValue, request_id="rid-1")
        assert cmd_b.earlier is None  # never A's stored answer
        assert await store.lookup_request("rid-1") is None
        result = await store.append(
            "b/1", NO_STREAM, [ev("by bob")], **cmd_b.recording(StringValue(value="B's answer"))
        )
        assert not result.replayed  # B's events were written, not A's result replayed
        # B's own retry now replays B's answer; a retry with other content is refused.
        assert (
            await store.command("Create", req, StringValue, request_id="rid-1")
        ).earlier == StringValue(value="B's answer")
        replay = await store.append(
            "b/1", NO_STREAM, [ev("by bob")], request_id="rid-1", fingerprint=fp
        )
        assert replay.replayed and replay.event_ids == result.event_ids
    with acting_as(ALICE):
        looked = await store.lookup_request("rid-1")
        assert looked is not None and looked.stream_id == "a/1"
    assert (await store.lookup_request("rid-1", tenant_id="tenant-b")).stream_id == "b/1"  # type: ignore[union-attr]
    events = await store.read_all()
    assert [(e.stream_id, e.tenant_id) for e in events] == [
        ("a/1", "tenant-a"),
        ("b/1", "tenant-b"),
    ]


async def test_multi_stream_requests_are_per_tenant_too(store: EventStore) -> None:
    from labelops_eventstore import StreamAppend

    with acting_as(ALICE):
        first = await store.append_streams(
            [StreamAppend("a/x", NO_STREAM, [ev("x")])], request_id="batch", response=b"A"
        )
        assert not first.replayed
    with acting_as(BOB):
        other = await store.append_streams(
            [StreamAppend("b/x", NO_STREAM, [ev("x")])], request_id="batch", response=b"B"
        )
        assert not other.replayed and other.response == b"B"
        again = await store.append_streams(
            [StreamAppend("b/x", NO_STREAM, [ev("x")])], request_id="batch"
        )
        assert again.replayed and again.response == b"B"


async def test_an_event_without_tenant_or_principal_gets_the_default_tenant(
    store: EventStore, pg_pool, pg_schema
) -> None:
    with acting_as(None):
        await store.append(
            "s/none",
            NO_STREAM,
            [ev("no tenant"), NewEvent.of(StringValue(value="empty tenant"), tenant_id="")],
        )
    with acting_as(BOB):
        await store.append("s/bob", NO_STREAM, [ev("bob's")])
        await store.append("s/explicit", NO_STREAM, [NewEvent.of(ev_msg(), tenant_id="tenant-c")])
    rows = await pg_pool.fetch(
        f"SELECT stream_id, tenant_id FROM {pg_schema}.events ORDER BY position"
    )
    assert [(r["stream_id"], r["tenant_id"]) for r in rows] == [
        ("s/none", DEFAULT_TENANT),
        ("s/none", DEFAULT_TENANT),
        ("s/bob", "tenant-b"),
        ("s/explicit", "tenant-c"),
    ]
    # The table itself refuses a tenant-less row (the column's default is 'default' too).
    with pytest.raises(asyncpg.CheckViolationError):
        await pg_pool.execute(
            f"INSERT INTO {pg_schema}.events (event_id, stream_id, stream_version, type,"
            " tenant_id, occurred_at, payload) VALUES (gen_random_uuid(), 's/raw', 1, 't', '',"
            " now(), '')"
        )


def ev_msg() -> StringValue:
    return StringValue(value="explicit")


async def test_migration_moves_old_requests_to_their_events_tenant(pg_pool, pg_schema) -> None:
    from labelops_eventstore.schema import eventstore_migrations

    first, *rest = eventstore_migrations()
    await migrate(pg_pool, pg_schema, [first], include_eventstore=False)
    t = f'"{pg_schema}"'
    await pg_pool.execute(
        f"INSERT INTO {t}.events (event_id, stream_id, stream_version, type, tenant_id,"
        " occurred_at, payload) VALUES ('00000000-0000-0000-0000-000000000001', 's', 1, 't',"
        " 'tenant-a', now(), ''), ('00000000-0000-0000-0000-000000000002', 'u', 1, 't', '',"
        " now(), '')"
    )
    await pg_pool.execute(
        f"INSERT INTO {t}.requests (request_id, stream_id, event_ids) VALUES"
        " ('r1', 's', '{00000000-0000-0000-0000-000000000001}'),"
        " ('r2', 'u', '{00000000-0000-0000-0000-000000000002}')"
    )
    await migrate(pg_pool, pg_schema, rest, include_eventstore=False)
    rows = await pg_pool.fetch(f"SELECT request_id, tenant_id FROM {t}.requests ORDER BY 1")
    assert [(r["request_id"], r["tenant_id"]) for r in rows] == [
        ("r1", "tenant-a"),
        ("r2", "default"),
    ]
    assert await pg_pool.fetchval(f"SELECT tenant_id FROM {t}.events WHERE stream_id = 'u'") == (
        "default"
    )


async def test_streams_are_per_tenant(store: EventStore) -> None:
    """B creating a stream of the id of one of A's gets its own stream at version 1: no
    "already exists" that would tell B about A's, and A's stream is untouched."""
    with acting_as(ALICE):
        await store.append("projects/p1", NO_STREAM, [ev("A's project")])
        await store.append("projects/p1", 1, [ev("A's change")])
    with acting_as(BOB):
        made = await store.append("projects/p1", NO_STREAM, [ev("B's project")])
        assert (made.first_version, made.last_version) == (1, 1)
        with pytest.raises(ConcurrencyConflict):  # B's own stream is at 1, not at A's 2
            await store.append("projects/p1", 2, [ev("B's stale write")])
        await store.append("projects/p1", 1, [ev("B's change")])
    assert await store.stream_version("projects/p1", tenant_id="tenant-a") == 2
    assert await store.stream_version("projects/p1", tenant_id="tenant-b") == 2
    for tenant, who in (("tenant-a", "A"), ("tenant-b", "B")):
        texts = [
            StringValue.FromString(e.payload).value
            for e in await store.read_stream("projects/p1", tenant_id=tenant)
        ]
        assert texts == [f"{who}'s project", f"{who}'s change"]


async def test_two_tenants_streams_of_one_id_share_a_batch(store: EventStore) -> None:
    """A projection appends per event's tenant: one batch may hold A's and B's `p1`."""
    a = NewEvent.of(StringValue(value="a"), tenant_id="tenant-a")
    b = NewEvent.of(StringValue(value="b"), tenant_id="tenant-b")
    done = await store.append_streams(
        [StreamAppend("tasks/t1", NO_STREAM, [a]), StreamAppend("tasks/t1", NO_STREAM, [b])]
    )
    assert [(r.first_version, r.last_version) for r in done.results] == [(1, 1), (1, 1)]
    # The same batch again is a replay, each event in its tenant's stream.
    again = await store.append_streams(
        [StreamAppend("tasks/t1", ANY_VERSION, [a]), StreamAppend("tasks/t1", ANY_VERSION, [b])]
    )
    assert again.replayed
    with pytest.raises(InvalidArgument) as err:  # one tenant's stream twice is still refused
        await store.append_streams(
            [
                StreamAppend("tasks/t2", NO_STREAM, [ev("x")]),
                StreamAppend("tasks/t2", NO_STREAM, [ev("y")]),
            ]
        )
    assert err.value.violations[0].field == "appends[1].stream_id"


async def test_one_append_never_mixes_tenants(store: EventStore) -> None:
    a = NewEvent.of(StringValue(value="a"), tenant_id="tenant-a")
    b = NewEvent.of(StringValue(value="b"), tenant_id="tenant-b")
    with pytest.raises(InvalidArgument) as err:
        await store.append("tasks/t3", NO_STREAM, [a, b])
    assert err.value.violations[0].field == "events.tenant_id"
    assert await store.stream_version("tasks/t3") == 0
