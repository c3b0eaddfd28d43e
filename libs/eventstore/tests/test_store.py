"""Event store against real Postgres: concurrency, idempotency, reads."""

from __future__ import annotations

import asyncio

import pytest
from google.protobuf.wrappers_pb2 import StringValue
from labelops_core.errors import ConcurrencyConflict, ErrorCode, InvalidArgument
from labelops_core.ids import uuid7
from labelops_eventstore import NO_STREAM, EventStore, NewEvent, migrate, request_fingerprint


def ev(text: str) -> NewEvent:
    return NewEvent.of(StringValue(value=text), tenant_id="acme", actor_kind="user", actor_id="u1")


@pytest.fixture
async def store(pg_pool, pg_schema) -> EventStore:
    await migrate(pg_pool, pg_schema)
    return EventStore(pg_pool, pg_schema)


async def test_append_and_read_stream(store: EventStore) -> None:
    r1 = await store.append("s/1", NO_STREAM, [ev("a"), ev("b")])
    r2 = await store.append("s/1", 2, [ev("c")])
    assert (r1.first_version, r1.last_version) == (1, 2)
    assert (r2.first_version, r2.last_version) == (3, 3)
    events = await store.read_stream("s/1")
    assert [StringValue.FromString(e.payload).value for e in events] == ["a", "b", "c"]
    assert [e.stream_version for e in events] == [1, 2, 3]
    assert events[0].type == "google.protobuf.StringValue"
    env = events[0].to_envelope("test")
    assert env.tenant_id == "acme" and env.actor.id == "u1" and env.stream_version == 1
    assert await store.stream_version("s/1") == 3
    assert await store.stream_version("nothing") == 0


async def test_same_expected_version_one_wins_one_aborted(store: EventStore) -> None:
    await store.append("s/race", NO_STREAM, [ev("created")])
    results = await asyncio.gather(
        store.append("s/race", 1, [ev("left")]),
        store.append("s/race", 1, [ev("right")]),
        return_exceptions=True,
    )
    ok = [r for r in results if not isinstance(r, BaseException)]
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(ok) == 1 and len(errors) == 1
    assert isinstance(errors[0], ConcurrencyConflict)
    assert errors[0].code is ErrorCode.ABORTED
    assert await store.stream_version("s/race") == 2


async def test_stale_expected_version_is_aborted(store: EventStore) -> None:
    await store.append("s/x", NO_STREAM, [ev("a")])
    with pytest.raises(ConcurrencyConflict) as info:
        await store.append("s/x", NO_STREAM, [ev("b")])
    assert info.value.metadata["actual_version"] == "1"


async def test_same_request_id_twice_returns_same_result_and_writes_nothing(
    store: EventStore, pg_pool, pg_schema
) -> None:
    fp = request_fingerprint("label", "payload-1")
    first = await store.append(
        "s/req", NO_STREAM, [ev("a")], request_id="req-1", fingerprint=fp, response=b"answer"
    )
    # The retry carries new event ids (a client cannot know the server's) and a stale version.
    again = await store.append("s/req", NO_STREAM, [ev("a")], request_id="req-1", fingerprint=fp)
    assert again.replayed and not first.replayed
    assert again.event_ids == first.event_ids
    assert (again.first_version, again.last_version) == (first.first_version, first.last_version)
    assert again.response == b"answer"
    count = await pg_pool.fetchval(f"SELECT count(*) FROM {pg_schema}.events")
    assert count == 1
    looked = await store.lookup_request("req-1")
    assert looked is not None and looked.event_ids == first.event_ids
    assert looked.fingerprint == fp


async def test_concurrent_same_request_id_appends_once(
    store: EventStore, pg_pool, pg_schema
) -> None:
    results = await asyncio.gather(
        *[store.append("s/conc", None, [ev("x")], request_id="req-c") for _ in range(8)]
    )
    assert len({tuple(r.event_ids) for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert await pg_pool.fetchval(f"SELECT count(*) FROM {pg_schema}.events") == 1


async def test_reused_request_id_with_other_content_is_invalid(store: EventStore) -> None:
    await store.append("s/r", NO_STREAM, [ev("a")], request_id="r", fingerprint="one")
    with pytest.raises(InvalidArgument) as info:
        await store.append("s/r", 1, [ev("b")], request_id="r", fingerprint="two")
    assert info.value.reason == "REQUEST_ID_REUSED"


async def test_idempotent_by_event_id(store: EventStore, pg_pool, pg_schema) -> None:
    e = NewEvent.of(StringValue(value="once"), event_id=uuid7())
    first = await store.append("s/e", NO_STREAM, [e])
    again = await store.append("s/e", None, [e])
    stale = await store.append("s/e", NO_STREAM, [e])
    assert again.replayed and again.event_ids == first.event_ids
    assert stale.replayed and stale.event_ids == first.event_ids
    assert await pg_pool.fetchval(f"SELECT count(*) FROM {pg_schema}.events") == 1


async def test_append_in_caller_transaction_rolls_back_with_it(
    store: EventStore, pg_pool, pg_schema
) -> None:
    await pg_pool.execute(f"CREATE TABLE {pg_schema}.readmodel(id text primary key)")
    with pytest.raises(RuntimeError):
        async with store.transaction() as conn:
            await store.append("s/tx", NO_STREAM, [ev("a")], conn=conn)
            await conn.execute(f"INSERT INTO {pg_schema}.readmodel VALUES ('a')")
            raise RuntimeError("handler failed after deciding")
    assert await store.stream_version("s/tx") == 0
    assert await pg_pool.fetchval(f"SELECT count(*) FROM {pg_schema}.readmodel") == 0


async def test_empty_append_is_invalid(store: EventStore) -> None:
    with pytest.raises(InvalidArgument):
        await store.append("s/empty", NO_STREAM, [])


async def test_read_all_in_position_order_with_type_filter(store: EventStore) -> None:
    await store.append("a", NO_STREAM, [ev("1"), ev("2")])
    await store.append("b", NO_STREAM, [ev("3"), ev("4")])
    all_events = await store.read_all()
    assert [e.position for e in all_events] == sorted(e.position for e in all_events)
    assert len(all_events) == 4
    page = await store.read_all(after_position=all_events[1].position, limit=1)
    assert [e.position for e in page] == [all_events[2].position]
    assert len(await store.read_all(types=["google.protobuf.StringValue"])) == 4
    assert await store.read_all(types=["labelops.Nope"]) == []


async def test_migrate_is_idempotent(pg_pool, pg_schema) -> None:
    first = await migrate(pg_pool, pg_schema)
    second = await migrate(pg_pool, pg_schema, [("0001_x.sql", "CREATE TABLE x(id int)")])
    third = await migrate(pg_pool, pg_schema, [("0001_x.sql", "CREATE TABLE x(id int)")])
    assert first and second == ["0001_x.sql"] and third == []


async def test_relay_fast_envelope_equals_stored_event_envelope(
    store: EventStore, pg_pool, pg_schema
) -> None:
    from labelops_eventstore.store import _COLUMNS, _row_to_event, envelope_bytes

    await store.append("s/env", NO_STREAM, [ev("a"), ev("b")])
    rows = await pg_pool.fetch(f"SELECT {_COLUMNS} FROM {pg_schema}.events ORDER BY position")
    for r in rows:
        assert envelope_bytes(r, "svc") == _row_to_event(r).to_envelope("svc").SerializeToString()


async def test_earlier_response_replays_the_stored_answer_or_refuses_reuse(
    store: EventStore,
) -> None:
    answer = StringValue(value="first answer")
    fp = request_fingerprint("Cmd", b"payload")
    assert await store.earlier_response("req-9", fp, StringValue) is None
    assert await store.earlier_response("", fp, StringValue) is None
    await store.append(
        "s-9",
        NO_STREAM,
        [NewEvent.of(StringValue(value="e"))],
        request_id="req-9",
        fingerprint=fp,
        response=answer.SerializeToString(),
    )
    assert await store.earlier_response("req-9", fp, StringValue) == answer
    with pytest.raises(InvalidArgument) as reused:
        await store.earlier_response("req-9", request_fingerprint("Other"), StringValue)
    assert reused.value.reason == "REQUEST_ID_REUSED"
    with pytest.raises(InvalidArgument) as too_long:
        await store.earlier_response("x" * 129, fp, StringValue)
    assert too_long.value.violations[0].field == "request_id"
