"""``labelops.eventlog.v1.EventLogService`` over a service's own event store.

Every service mounts it next to its domain API, so operators and tools can read the history of
any stream (who changed this label, when, under which trace) without a database login.
"""

from __future__ import annotations

import base64

from grpc import aio
from labelops.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from labelops_core.authz import Action
from labelops_core.errors import FieldViolation, InvalidArgument, NotFound

from .store import EventStore

MAX_PAGE = 1000

_EVENTLOG = eventlog_pb2.DESCRIPTOR.services_by_name["EventLogService"]
#: The event log's methods in the roles x actions table (the scaffold adds them to a service's).
EVENTLOG_METHOD_ACTIONS: dict[str, Action] = {
    f"/{_EVENTLOG.full_name}/{m.name}": Action.EVENTS_READ for m in _EVENTLOG.methods
}


def _encode_token(position: int) -> str:
    return base64.urlsafe_b64encode(f"p:{position}".encode()).decode()


def _decode_token(token: str) -> int:
    try:
        kind, _, value = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind != "p":
            raise ValueError(kind)
        return int(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument(
            "page token is not one this server issued",
            [FieldViolation("page_token", "malformed")],
        ) from exc


class EventLogServicer(eventlog_pb2_grpc.EventLogServiceServicer):
    """Reads of one event store. ``source`` is the owning service's name (envelope.source)."""

    def __init__(self, store: EventStore, source: str) -> None:
        self.store = store
        self.source = source

    async def ReadStream(
        self, request: eventlog_pb2.ReadStreamRequest, context: aio.ServicerContext
    ) -> eventlog_pb2.ReadStreamResponse:
        if not request.stream_id:
            raise InvalidArgument("stream_id is required", [FieldViolation("stream_id", "empty")])
        if request.max_events < 0:
            raise InvalidArgument(
                "max_events must not be negative", [FieldViolation("max_events", "negative")]
            )
        limit = min(request.max_events or MAX_PAGE, MAX_PAGE)
        version = await self.store.stream_version(request.stream_id)
        if version == 0:
            raise NotFound(f"stream {request.stream_id} has no events", reason="STREAM_NOT_FOUND")
        events = await self.store.read_stream(
            request.stream_id, max(1, request.from_version), limit
        )
        return eventlog_pb2.ReadStreamResponse(
            events=[e.to_envelope(self.source) for e in events], stream_version=version
        )

    async def ListEvents(
        self, request: eventlog_pb2.ListEventsRequest, context: aio.ServicerContext
    ) -> eventlog_pb2.ListEventsResponse:
        if request.page_size < 0:
            raise InvalidArgument(
                "page_size must not be negative", [FieldViolation("page_size", "negative")]
            )
        size = min(request.page_size or 100, MAX_PAGE)
        after = _decode_token(request.page_token) if request.page_token else 0
        events = await self.store.read_all(after, size, [request.type] if request.type else None)
        token = _encode_token(events[-1].position) if len(events) == size else ""
        return eventlog_pb2.ListEventsResponse(
            events=[e.to_envelope(self.source) for e in events], next_page_token=token
        )
