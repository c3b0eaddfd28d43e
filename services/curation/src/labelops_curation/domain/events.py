"""The curation events (``labelops.curation.v1``) and how to decode them.

Stream: ``datasets/{dataset_id}``: one stream (and one Kafka key) per dataset, so every
consumer sees an item's registration before any decision about it, and decisions in the order
they were made. Events are published on ``labelops.curation.events.v1``; docs/events.md lists
their fields and consumers.
"""

from __future__ import annotations

from typing import Final, TypeAlias

from google.protobuf.message import Message
from labelops.curation.v1 import events_pb2

DatasetCreated = events_pb2.DatasetCreated
ItemRegistered = events_pb2.ItemRegistered
ItemEmbedded = events_pb2.ItemEmbedded
ItemsCurated = events_pb2.ItemsCurated
DuplicatesFound = events_pb2.DuplicatesFound
CoverageAnalyzed = events_pb2.CoverageAnalyzed

Event: TypeAlias = (
    events_pb2.DatasetCreated
    | events_pb2.ItemRegistered
    | events_pb2.ItemEmbedded
    | events_pb2.ItemsCurated
    | events_pb2.DuplicatesFound
    | events_pb2.CoverageAnalyzed
)

#: Event type (full protobuf name) → message class.
EVENT_TYPES: Final[dict[str, type[Message]]] = {
    m.DESCRIPTOR.full_name: m
    for m in (
        DatasetCreated,
        ItemRegistered,
        ItemEmbedded,
        ItemsCurated,
        DuplicatesFound,
        CoverageAnalyzed,
    )
}


def stream_id(dataset_id: str) -> str:
    """The event stream (and Kafka key) of one dataset."""
    return f"datasets/{dataset_id}"


def decode(type_name: str, payload: bytes) -> Event:
    """Parse a stored payload by its type; unknown types raise ``KeyError``."""
    msg = EVENT_TYPES[type_name]()
    msg.ParseFromString(payload)
    return msg  # type: ignore[return-value]
