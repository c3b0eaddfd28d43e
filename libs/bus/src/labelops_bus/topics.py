"""Topic names and idempotent topic creation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from .security import kafka_security

#: Largest event record (a whole label batch can be big); the relay's producer allows it.
MAX_EVENT_MESSAGE_BYTES = 16 * 1024 * 1024
#: Topic settings of every events topic, whoever creates it first: the producing relay, or a
#: consumer that starts before its producer (the broker's defaults would cap records at 1 MiB).
EVENTS_TOPIC_CONFIGS = {"max.message.bytes": str(MAX_EVENT_MESSAGE_BYTES)}


def events_topic(service: str) -> str:
    """The topic a service's outbox relay publishes to: ``labelops.<service>.events.v1``."""
    return f"labelops.{service}.events.v1"


def dlq_topic(service: str) -> str:
    """The dead-letter topic of a consuming service: ``labelops.<service>.dlq.v1``."""
    return f"labelops.{service}.dlq.v1"


async def ensure_topics(
    bootstrap: str,
    names: Iterable[str],
    partitions: int = 3,
    replication: int = 1,
    *,
    timeout: float = 30.0,
    configs: Mapping[str, str] | None = None,
) -> None:
    """Create the topics that do not exist yet and wait until every partition has a leader.

    ``configs`` are topic-level settings for topics this call creates (for example
    ``max.message.bytes``).

    Topics that already exist are left as they are (their partition count is not changed).
    Waiting for leaders matters: a consumer that subscribes to a topic its metadata does not
    know yet gets no partitions for it until the next metadata refresh (minutes later), and a
    producer's first send would fail with LEADER_NOT_AVAILABLE.

    Raises:
        aiokafka.errors.KafkaError: creation failed for another reason than "already exists".
        TimeoutError: the partitions got no leader within ``timeout`` seconds.
    """
    wanted = sorted(set(names))
    if not wanted:
        return
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="labelops-bus-admin", **kafka_security()
    )
    await admin.start()
    try:
        # Only the missing ones: under ACLs (deploy/kafka) a service may not create topics, and
        # a create request for an existing topic it is not allowed to create is refused.
        missing = sorted(set(wanted) - set(await admin.list_topics()))
        response = (
            await admin.create_topics(
                [
                    NewTopic(
                        n,
                        num_partitions=partitions,
                        replication_factor=replication,
                        topic_configs=dict(configs or {}),
                    )
                    for n in missing
                ]
            )
            if missing
            else None
        )
        # create_topics reports failures per topic in the response instead of raising.
        for topic_error in response.topic_errors if response is not None else ():
            topic, code = topic_error[0], topic_error[1]
            if code not in (0, TopicAlreadyExistsError.errno):
                message = topic_error[2] if len(topic_error) > 2 else ""
                raise for_code(code)(f"creating topic {topic!r}: {message}")
        await _wait_for_leaders(admin, wanted, timeout)
    finally:
        await admin.close()


async def _wait_for_leaders(admin: AIOKafkaAdminClient, topics: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        described = await admin.describe_topics(topics)
        ready = {
            t["topic"]
            for t in described
            if t["error_code"] == 0
            and t["partitions"]
            and all(p["leader"] >= 0 for p in t["partitions"])
        }
        if ready >= set(topics):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics without leaders after {timeout}s: {set(topics) - ready}")
        await asyncio.sleep(0.1)
