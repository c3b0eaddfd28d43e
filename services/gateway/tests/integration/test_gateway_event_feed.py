"""The event stream's Kafka consumer against a real broker: what "latest" means, topics that
appear after the subscription, records that are no events."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from labelops.ontology.v1 import events_pb2 as oev
from labelops_bus import ensure_topics
from labelops_gateway.adapters.events import Event, EventFeed
from labelops_testkit.kafka import envelope, publish


def published(version: str) -> oev.OntologyVersionPublished:
    return oev.OntologyVersionPublished(ontology_id="pets", version=version)


async def collect(feed: EventFeed, want: int, timeout: float = 20.0) -> list[Event]:
    got: list[Event] = []

    async def read() -> None:
        async for events in feed.batches(timeout_s=0.2):
            got.extend(events)
            if len(got) >= want:
                return

    await asyncio.wait_for(read(), timeout)
    return got


async def test_latest_starts_at_the_subscription_and_new_topics_are_read_from_the_start(
    kafka_bootstrap: str, unique_name: str
) -> None:
    existing, later = f"{unique_name}.existing", f"{unique_name}.later"
    await ensure_topics(kafka_bootstrap, [existing], 3)
    await publish(kafka_bootstrap, existing, [envelope(published("0.0.1"), "ontologies/old")])

    async with EventFeed(kafka_bootstrap, [existing, later], refresh_s=0.3) as feed:
        # Only the existing topic's partitions; asking for `later` by name would have made
        # Kafka auto-create it.
        assert {tp.topic for tp in feed.assignment} == {existing}
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(existing, b"\x00 not an envelope", key=b"junk")
        finally:
            await producer.stop()
        await publish(kafka_bootstrap, existing, [envelope(published("1.0.0"), "ontologies/a")])
        # A topic created after the subscription: everything in it is new.
        await publish(kafka_bootstrap, later, [envelope(published("2.0.0"), "ontologies/b")])
        got = await collect(feed, 2)

    assert sorted(e.data["payload"]["version"] for e in got) == ["1.0.0", "2.0.0"]
    assert {e.data["kafka"]["topic"] for e in got} == {existing, later}
    assert all(e.type == "labelops.ontology.v1.OntologyVersionPublished" for e in got)

    # From the earliest offsets the event before the subscription is there too.
    async with EventFeed(kafka_bootstrap, [existing, later], from_earliest=True) as feed:
        again = await collect(feed, 3)
    assert sorted(e.data["payload"]["version"] for e in again) == ["0.0.1", "1.0.0", "2.0.0"]
