"""EventStore.append_streams against real Postgres: one batch over many streams, all or nothing."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import asyncpg
import pytest
from google.protobuf.wrappers_pb2 import StringValue
from labelops_core.errors import ConcurrencyConflict, ErrorCode, InvalidArgument
from labelops_eventstore import (
    ANY_VERSION,
    NO_STREAM,
    EventStore,
    MultiAppendResult,
    NewEvent,
    OutboxRelay,
    StreamAppend,
    events_topic,
    migrate,
    request_fingerprint,
)
from labelops_testkit.kafka import read_envelopes


def ev(text: str) -> NewEvent:
    return NewEvent.of(StringValue(value=text), tenant_id="acme", actor_kind="user", actor_id="u1")


def task(t: int) -> str:
    return f"projects/p1/tasks/t{t}"


def texts(events) -> list[str]:
    return [StringValue.FromString(e.payload).value for e in events]


@pytest.fixture
async def store(pg_pool, pg_schema) -> EventStore:
    await migrate(pg_pool, pg_schema)
    return EventStore(pg_pool, pg_schema)


async def count_events(pg_pool, pg_schema) -> int:
    return int(await pg_pool.fetchval(f"SELECT count(*) FROM {pg_schema}.events"))


async def test_new_and_existing_streams_in_one_call(store: EventStore) -> None:
    await store.append(task(1), NO_STREAM, [ev("t1-1"), ev("t1-2")])
    # Not in stream-id order on purpose: results follow the request order.
    batch = [
        StreamAppend(task(9), NO_STREAM, [ev("t9-1")]),
        StreamAppend(task(1), 2, [ev("t1-3"), ev("t1-4")]),
        StreamAppend(task(5), ANY_VERSION, [ev("t5-1"), ev("t5-2"), ev("t5-3")]),
        StreamAppend(task(3), NO_STREAM, [ev("t3-1")]),
    ]
    out = await store.append_streams(batch)

    assert isinstance(out, MultiAppendResult) and not out.replayed and out.response is None
    assert [r.stream_id for r in out.results] == [a.stream_id for a in batch]
    assert [(r.first_version, r.last_version) for r in out.results] == [
        (1, 1),
        (3, 4),
        (1, 3),
        (1, 1),
    ]
    for a, r in zip(batch, out.results, strict=True):
        assert r.event_ids == [e.event_id for e in a.events]
        assert r.positions == sorted(r.positions) and not r.replayed
        stored = await store.read_stream(a.stream_id, from_version=r.first_version)
        assert [e.event_id for e in stored] == r.event_ids
        assert [e.position for e in stored] == r.positions
        assert [e.stream_version for e in stored] == list(
            range(r.first_version, r.last_version + 1)
        )
        assert {(e.tenant_id, e.actor_id) for e in stored} == {("acme", "u1")}
        # Within a stream, version order is position order (the relay relies on it).
    assert texts(await store.read_stream(task(1))) == ["t1-1", "t1-2", "t1-3", "t1-4"]
    assert await store.stream_version(task(5)) == 3

    log = await store.read_all()
    assert len(log) == 2 + 7
    written = {p for r in out.results for p in r.positions}
    assert written <= {e.position for e in log}
    # All events of the batch came from one transaction.
    assert len({e.tx_id for e in log if e.position in written}) == 1


async def test_stale_expected_version_on_one_stream_writes_nothing(
    store: EventStore, pg_pool, pg_schema
) -> None:
    await store.append(task(1), NO_STREAM, [ev("a")])
    await store.append(task(2), NO_STREAM, [ev("a"), ev("b")])
    with pytest.raises(ConcurrencyConflict) as info:
        await store.append_streams(
            [
                StreamAppend(task(3), NO_STREAM, [ev("new")]),
                StreamAppend(task(1), 1, [ev("ok")]),
                StreamAppend(task(2), 1, [ev("stale")]),  # task 2 is at version 2
                StreamAppend(task(4), ANY_VERSION, [ev("any")]),
            ],
            request_id="batch-stale",
        )
    assert info.value.code is ErrorCode.ABORTED
    assert info.value.metadata == {
        "stream_id": task(2),
        "stream_index": "2",
        "expected_version": "1",
        "actual_version": "2",
    }
    assert await count_events(pg_pool, pg_schema) == 3
    assert [await store.stream_version(task(t)) for t in (1, 2, 3, 4)] == [1, 2, 0, 0]
    # The request claim rolled back too: the request id is still free for a retry.
    assert await store.lookup_request("batch-stale") is None


async def test_same_request_id_replays_stored_response_and_writes_nothing(
    store: EventStore, pg_pool, pg_schema
) -> None:
    fp = request_fingerprint("SubmitLabels", "batch-1 payload")
    await store.append(task(2), NO_STREAM, [ev("old")])

    def batch() -> list[StreamAppend]:  # a client retry: same content, fresh event ids
        return [
            StreamAppend(task(2), 1, [ev("x"), ev("y")]),
            StreamAppend(task(1), NO_STREAM, [ev("z")]),
        ]

    first = await store.append_streams(
        batch(), request_id="req-b1", fingerprint=fp, response=b"labels accepted"
    )
    assert not first.replayed and first.response == b"labels accepted"
    again = await store.append_streams(batch(), request_id="req-b1", fingerprint=fp)
    assert again == MultiAppendResult([], replayed=True, response=b"labels accepted")
    assert await count_events(pg_pool, pg_schema) == 4

    looked = await store.lookup_request("req-b1")
    assert looked is not None and looked.fingerprint == fp
    assert looked.stream_id == task(2)  # the first stream of the batch
    assert (looked.first_version, looked.last_version) == (2, 3)
    assert looked.event_ids == [i for r in first.results for i in r.event_ids]
    # positions line up with event_ids
    rows = await pg_pool.fetch(f"SELECT event_id, position FROM {pg_schema}.events")
    position_of = {r["event_id"]: r["position"] for r in rows}
    assert looked.positions == [position_of[i] for i in looked.event_ids]
    assert looked.response == b"labels accepted"
    # Every event row carries the request id.
    assert await pg_pool.fetchval(
        f"SELECT count(*) FROM {pg_schema}.events WHERE request_id = 'req-b1'"
    ) == len(looked.event_ids)


async def test_request_id_reused_with_other_content_is_invalid(store: EventStore) -> None:
    await store.append_streams(
        [StreamAppend(task(1), NO_STREAM, [ev("a")])], request_id="r", fingerprint="one"
    )
    with pytest.raises(InvalidArgument) as info:
        await store.append_streams(
            [StreamAppend(task(2), NO_STREAM, [ev("b")])], request_id="r", fingerprint="two"
        )
    assert info.value.reason == "REQUEST_ID_REUSED"
    assert await store.stream_version(task(2)) == 0


async def test_request_id_of_a_single_stream_append_is_shared(store: EventStore) -> None:
    await store.append(task(1), NO_STREAM, [ev("a")], request_id="r1", response=b"one")
    again = await store.append_streams(
        [StreamAppend(task(1), 1, [ev("a")]), StreamAppend(task(2), 0, [ev("b")])],
        request_id="r1",
    )
    assert again == MultiAppendResult([], replayed=True, response=b"one")
    assert await store.stream_version(task(2)) == 0


@pytest.mark.parametrize(
    ("appends", "field"),
    [
        ([], "appends"),
        ([StreamAppend("", NO_STREAM, [ev("a")])], "appends[0].stream_id"),
        (
            [StreamAppend("s/1", NO_STREAM, [ev("a")]), StreamAppend("s/2", NO_STREAM, [])],
            "appends[1].events",
        ),
        (
            [
                StreamAppend("s/1", NO_STREAM, [ev("a")]),
                StreamAppend("s/2", NO_STREAM, [ev("b")]),
                StreamAppend("s/3", NO_STREAM, [ev("c")]),
                StreamAppend("s/2", ANY_VERSION, [ev("d")]),
            ],
            "appends[3].stream_id",
        ),
    ],
    ids=["no-appends", "empty-stream-id", "empty-events", "duplicate-stream"],
)
async def test_invalid_batches_are_rejected(
    store: EventStore, pg_pool, pg_schema, appends: list[StreamAppend], field: str
) -> None:
    with pytest.raises(InvalidArgument) as info:
        await store.append_streams(appends, request_id="bad")
    assert field in [v.field for v in info.value.violations]
    assert await count_events(pg_pool, pg_schema) == 0
    assert await store.lookup_request("bad") is None


async def test_event_id_twice_in_batch_is_invalid(store: EventStore) -> None:
    e = ev("same")
    with pytest.raises(InvalidArgument) as info:
        await store.append_streams(
            [StreamAppend("s/1", NO_STREAM, [e]), StreamAppend("s/2", NO_STREAM, [e])]
        )
    assert [v.field for v in info.value.violations] == ["appends[1].events[0].event_id"]


async def test_unknown_actor_kind_names_its_batch_entry(store: EventStore) -> None:
    bad = NewEvent.of(StringValue(value="x"), actor_kind="robot")
    with pytest.raises(InvalidArgument) as info:
        await store.append_streams(
            [StreamAppend("s/1", NO_STREAM, [ev("a")]), StreamAppend("s/2", NO_STREAM, [bad])]
        )
    assert [v.field for v in info.value.violations] == ["appends[1].events[0].actor_kind"]


async def test_same_events_again_are_a_replay_by_event_id(
    store: EventStore, pg_pool, pg_schema
) -> None:
    batch = [
        StreamAppend(task(1), ANY_VERSION, [ev("a"), ev("b")]),
        StreamAppend(task(2), ANY_VERSION, [ev("c")]),
    ]
    first = await store.append_streams(batch)
    again = await store.append_streams(batch, request_id="late-id", response=b"r")
    assert again.replayed and again.response == b"r"
    assert [(r.stream_id, r.event_ids, r.positions) for r in again.results] == [
        (r.stream_id, r.event_ids, r.positions) for r in first.results
    ]
    assert all(r.replayed for r in again.results)
    assert await count_events(pg_pool, pg_schema) == 3
    looked = await store.lookup_request("late-id")
    assert looked is not None and looked.response == b"r"
    assert looked.event_ids == [i for r in first.results for i in r.event_ids]

    # One of the events stored, the other new: not a replay.
    with pytest.raises(InvalidArgument) as info:
        await store.append_streams(
            [
                StreamAppend(task(1), ANY_VERSION, [batch[0].events[0]]),
                StreamAppend(task(3), ANY_VERSION, [ev("new")]),
            ]
        )
    assert info.value.reason == "EVENT_ID_REUSED"
    # Stored, but in another stream: not a replay either.
    with pytest.raises(InvalidArgument) as info:
        await store.append_streams([StreamAppend(task(4), ANY_VERSION, list(batch[1].events))])
    assert info.value.reason == "EVENT_ID_REUSED"
    assert await count_events(pg_pool, pg_schema) == 3


async def test_in_caller_transaction_rolls_back_with_it(
    store: EventStore, pg_pool, pg_schema
) -> None:
    await pg_pool.execute(f"CREATE TABLE {pg_schema}.task_view(id text primary key)")
    with pytest.raises(RuntimeError):
        async with store.transaction() as conn:
            await store.append_streams(
                [
                    StreamAppend(task(1), NO_STREAM, [ev("a")]),
                    StreamAppend(task(2), NO_STREAM, [ev("b")]),
                ],
                request_id="tx-1",
                conn=conn,
            )
            await conn.execute(f"INSERT INTO {pg_schema}.task_view VALUES ('t1'), ('t2')")
            raise RuntimeError("handler failed after deciding")
    assert await count_events(pg_pool, pg_schema) == 0
    assert await pg_pool.fetchval(f"SELECT count(*) FROM {pg_schema}.task_view") == 0
    assert await store.lookup_request("tx-1") is None


async def test_conflict_in_caller_transaction_leaves_it_usable(
    store: EventStore, pg_pool, pg_schema
) -> None:
    await store.append(task(1), NO_STREAM, [ev("a")])
    await pg_pool.execute(f"CREATE TABLE {pg_schema}.task_view(id text primary key)")
    async with store.transaction() as conn:
        await conn.execute(f"INSERT INTO {pg_schema}.task_view VALUES ('before')")
        with pytest.raises(ConcurrencyConflict):
            await store.append_streams(
                [
                    StreamAppend(task(2), NO_STREAM, [ev("b")]),
                    StreamAppend(task(1), NO_STREAM, [ev("c")]),
                ],
                request_id="tx-c",
                conn=conn,
            )
        out = await store.append_streams(
            [
                StreamAppend(task(2), NO_STREAM, [ev("b")]),
                StreamAppend(task(1), 1, [ev("c")]),
            ],
            request_id="tx-c",
            conn=conn,
        )
    assert not out.replayed
    assert await pg_pool.fetchval(f"SELECT count(*) FROM {pg_schema}.task_view") == 1
    assert texts(await store.read_stream(task(1))) == ["a", "c"]
    assert texts(await store.read_stream(task(2))) == ["b"]


async def test_any_version_batches_in_turn_get_consecutive_versions(store: EventStore) -> None:
    for round_ in range(3):
        await store.append_streams(
            [
                StreamAppend(task(1), ANY_VERSION, [ev(f"{round_}-a"), ev(f"{round_}-b")]),
                StreamAppend(task(round_ + 2), ANY_VERSION, [ev(f"{round_}-c")]),
                StreamAppend(task(9), ANY_VERSION, [ev(f"{round_}-d")]),
            ]
        )
    assert [e.stream_version for e in await store.read_stream(task(1))] == list(range(1, 7))
    assert [e.stream_version for e in await store.read_stream(task(9))] == [1, 2, 3]


async def test_two_concurrent_batches_one_wins_one_aborted(
    store: EventStore, pg_pool, pg_schema
) -> None:
    """Overlapping streams, given in opposite orders: never a deadlock, never a partial write."""
    shared = [task(i) for i in range(60)]
    await store.append_streams([StreamAppend(s, NO_STREAM, [ev("created")]) for s in shared])
    for round_ in range(30):
        # Both writers read the versions before either writes.
        rows = await pg_pool.fetch(
            f"SELECT stream_id, max(stream_version) AS v FROM {pg_schema}.events GROUP BY 1"
        )
        versions = {r["stream_id"]: r["v"] for r in rows}
        left = [StreamAppend(s, versions[s], [ev(f"L{round_}")]) for s in shared[:-1]]
        right = [
            StreamAppend(s, versions.get(s, NO_STREAM), [ev(f"R{round_}")])
            for s in [*reversed(shared[1:]), task(100 + round_)]
        ]
        results = await asyncio.gather(
            store.append_streams(left), store.append_streams(right), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        assert len(errors) == 1, results
        assert isinstance(errors[0], ConcurrencyConflict)
        assert not isinstance(errors[0].__cause__, asyncpg.DeadlockDetectedError)
        winner, loser = (left, right) if results[1] is errors[0] else (right, left)
        for a in winner:
            stored = await store.read_stream(a.stream_id)
            assert stored[-1].event_id == a.events[0].event_id
            assert stored[-1].stream_version == (a.expected_version or 0) + 1
        loser_ids = [a.events[0].event_id for a in loser]
        assert not await pg_pool.fetchval(
            f"SELECT count(*) FROM {pg_schema}.events WHERE event_id = ANY($1::uuid[])", loser_ids
        )
    for s in shared:  # gap-free per stream
        stored = await store.read_stream(s)
        assert [e.stream_version for e in stored] == list(range(1, len(stored) + 1))


async def test_writer_committing_during_the_insert_makes_it_a_conflict(
    store: EventStore, pg_pool, pg_schema
) -> None:
    """The version check passed, then the unique key catches the concurrent writer."""
    await store.append(task(1), NO_STREAM, [ev("created")])
    async with pg_pool.acquire() as first:
        tx = first.transaction()
        await tx.start()
        await store.append_streams(
            [StreamAppend(task(2), NO_STREAM, [ev("first")]), StreamAppend(task(1), 1, [ev("f")])],
            conn=first,
        )
        # Same expected versions (what the second writer read), streams in the other order.
        second = asyncio.create_task(
            store.append_streams(
                [
                    StreamAppend(task(1), ANY_VERSION, [ev("s")]),
                    StreamAppend(task(2), NO_STREAM, [ev("second")]),
                    StreamAppend(task(3), NO_STREAM, [ev("second")]),
                ],
                request_id="second",
            )
        )
        for _ in range(200):  # until the second writer waits on the first one's keys
            waiting = await pg_pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE $1",
                f"INSERT INTO %{pg_schema}%",
            )
            if waiting:
                break
            await asyncio.sleep(0.02)
        assert waiting, "the second writer never blocked"
        assert not second.done()
        await tx.commit()
    with pytest.raises(ConcurrencyConflict) as info:
        await second
    assert isinstance(info.value.__cause__, asyncpg.UniqueViolationError)
    assert info.value.metadata["stream_id"] in (task(1), task(2))
    assert texts(await store.read_stream(task(1))) == ["created", "f"]
    assert texts(await store.read_stream(task(2))) == ["first"]
    assert await store.stream_version(task(3)) == 0
    assert await store.lookup_request("second") is None


async def test_statement_count_does_not_grow_with_the_batch(store: EventStore) -> None:
    """Two data statements (versions, insert) whatever the number of streams."""

    seen: list[str] = []

    def log(record) -> None:
        seen.append(record.query)

    async def statements(conn, n: int, offset: int) -> list[str]:
        seen.clear()
        out = await store.append_streams(
            [StreamAppend(task(offset + i), ANY_VERSION, [ev(str(i))]) for i in range(n)],
            request_id=f"count-{offset}",
            response=b"ok",
            conn=conn,
        )
        assert len(out.results) == n
        await asyncio.sleep(0)  # query loggers are called soon after, not during, the query
        control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK")
        return [q for q in seen if not q.startswith(control)]

    async with store.pool.acquire() as conn:
        await statements(conn, 1, 50_000)  # warm-up: asyncpg introspects the array types once
        conn.add_query_logger(log)
        try:
            small = await statements(conn, 3, 0)
            big = await statements(conn, 1000, 10_000)
        finally:
            conn.remove_query_logger(log)
    # claim the request id, read the versions, insert, record the request, notify the relay
    assert len(big) == len(small) == 5
    assert sum("max(e.stream_version)" in q for q in big) == 1
    assert sum(q.startswith(f"INSERT INTO {store._t_events}") for q in big) == 1
    assert await store.stream_version(task(10_999)) == 1


async def test_relay_publishes_a_batch_in_stream_order(
    store: EventStore, pg_pool, pg_schema, kafka_bootstrap, unique_name
) -> None:
    await store.append(task(1), NO_STREAM, [ev("a")])
    out = await store.append_streams(
        [
            StreamAppend(task(1), 1, [ev("b"), ev("c")]),
            StreamAppend(task(2), NO_STREAM, [ev("d"), ev("e")]),
            StreamAppend(task(0), NO_STREAM, [ev("f")]),
        ]
    )
    await OutboxRelay(pg_pool, pg_schema, unique_name, kafka_bootstrap).drain()
    envelopes = await read_envelopes(kafka_bootstrap, events_topic(unique_name))
    stored = await pg_pool.fetch(f"SELECT event_id FROM {pg_schema}.events")
    assert {e.event_id for e in envelopes} == {str(r["event_id"]) for r in stored}
    versions: dict[str, list[int]] = defaultdict(list)
    for env in envelopes:
        versions[env.stream_id].append(env.stream_version)
    assert versions == {task(1): [1, 2, 3], task(2): [1, 2], task(0): [1]}
    assert sum(len(r.event_ids) for r in out.results) == 5
