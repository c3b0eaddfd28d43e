"""``labelops.eventlog.v1.EventLogService`` over a service's own event store.

Every service mounts it next to its domain API, so operators and tools can read the history of
any stream (who changed this label, when, under which trace) without a database login.

Who may read: the interceptor requires ``events.read`` (``EVENTLOG_METHOD_ACTIONS``). Here a
caller sees only its own tenant's events (filtered in SQL; a stream without events of the
caller's tenant is NOT_FOUND, the same answer as a missing one), and a caller without
``gold.read`` gets gold answers and gold flags cleared (``redaction.GOLD_REDACTIONS``).
Without a principal (no authenticator: embedded use) nothing is filtered.
"""

from __future__ import annotations

import base64

from grpc import aio
from labelops.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from labelops.events.v1 import envelope_pb2
from labelops_core.authz import Action, can
from labelops_core.context import current_principal
from labelops_core.errors import FieldViolation, InvalidArgument, NotFound

from .events import StoredEvent
from .redaction import redact_envelope
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


def _reader() -> tuple[str | None, bool]:
    """(the tenant to filter by or None, whether gold must be stripped) for this caller."""
    p = current_principal()
    if p is None:
        return None, False
    return p.tenant_id, not can(p, Action.GOLD_READ)


def _envelopes(
    events: list[StoredEvent], source: str, strip_gold: bool
) -> list[envelope_pb2.EventEnvelope]:
    envs = [e.to_envelope(source) for e in events]
    if not strip_gold:
        return envs
    return [r for r in map(redact_envelope, envs) if r is not None]


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
        tenant, strip_gold = _reader()
        version = await self.store.stream_version(request.stream_id, tenant_id=tenant)
        if version == 0:
            raise NotFound(f"stream {request.stream_id} has no events", reason="STREAM_NOT_FOUND")
        events = await self.store.read_stream(
            request.stream_id, max(1, request.from_version), limit, tenant_id=tenant
        )
        return eventlog_pb2.ReadStreamResponse(
            events=_envelopes(events, self.source, strip_gold), stream_version=version
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
        tenant, strip_gold = _reader()
        events = await self.store.read_all(
            after, size, [request.type] if request.type else None, tenant_id=tenant
        )
        # The token follows what was read, so a page of withheld events still moves on.
        token = _encode_token(events[-1].position) if len(events) == size else ""
        return eventlog_pb2.ListEventsResponse(
            events=_envelopes(events, self.source, strip_gold), next_page_token=token
        )
