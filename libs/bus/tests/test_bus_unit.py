"""ConsumerRunner pieces that need no Kafka or Postgres."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka import ConsumerRecord
from labelops.events.v1 import envelope_pb2
from labelops_bus import (
    PoisonMessage,
    decode_envelope,
    dlq_topic,
    events_topic,
    is_transient_error,
    processed_events_ddl,
)
from labelops_core.errors import InvalidArgument, Unavailable


def _record(value: bytes | None) -> ConsumerRecord:
    return ConsumerRecord(
        topic="t",
        partition=0,
        offset=7,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=value,
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=len(value or b""),
        headers=(),
    )


def test_decode_envelope_accepts_a_complete_envelope() -> None:
    env = envelope_pb2.EventEnvelope(event_id="e1", type="labelops.test.v1.Happened")
    assert decode_envelope(_record(env.SerializeToString())).event_id == "e1"


@pytest.mark.parametrize(
    "value",
    [
        None,  # tombstone
        b"",  # parses as an empty envelope: no event id to deduplicate on
        b"\xff\xff\xff not protobuf",
        envelope_pb2.EventEnvelope(type="labelops.test.v1.Happened").SerializeToString(),
        envelope_pb2.EventEnvelope(event_id="e1").SerializeToString(),
    ],
)
def test_decode_envelope_rejects_poison(value: bytes | None) -> None:
    with pytest.raises(PoisonMessage):
        decode_envelope(_record(value))


def test_outages_are_transient_but_bugs_are_not() -> None:
    assert is_transient_error(ConnectionRefusedError())
    assert is_transient_error(asyncpg.exceptions.ConnectionDoesNotExistError("gone"))
    assert is_transient_error(asyncpg.exceptions.SerializationError("40001"))
    assert is_transient_error(Unavailable("qdrant down"))
    assert not is_transient_error(RuntimeError("boom"))
    assert not is_transient_error(InvalidArgument("bad payload"))
    assert not is_transient_error(asyncpg.exceptions.UniqueViolationError("dup"))
    assert not is_transient_error(asyncpg.exceptions.QueryCanceledError("timeout"))


def test_topic_names() -> None:
    assert events_topic("routing") == "labelops.routing.events.v1"
    assert dlq_topic("qa") == "labelops.qa.dlq.v1"


def test_schema_names_cannot_inject_sql() -> None:
    assert '"svc_routing".processed_events' in processed_events_ddl("svc_routing")
    with pytest.raises(ValueError):
        processed_events_ddl('x"; DROP TABLE y; --')
