"""``GET /v1/events/stream``: the services' events as Server-Sent Events, for browsers.

One Kafka consumer per connection (``adapters.events.EventFeed``): ``event:`` is the event type
(its full proto name, e.g. ``labelops.routing.v1.LabelSubmitted``), ``id:`` the event id,
``data:`` the envelope as JSON with the payload decoded. A comment line goes out at once (the
subscription is in place: anything produced from now on is delivered) and then whenever the
stream was idle for ``sse_heartbeat_s``.

Unlike the other routes this one reads Kafka, not a service, so the gateway authenticates the
credential itself (same keys / JWT secret as the services): a vendor credential is refused,
and a caller sees only its own tenant's events (and events that name no tenant).
"""

from __future__ import annotations

import enum
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

import anyio
from aiokafka.errors import KafkaError
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from labelops_core.errors import ResourceExhausted, Unavailable
from labelops_grpckit import Authenticator
from starlette.types import Receive, Scope, Send

from ..adapters.events import Event, EventFeed
from ..config import Settings
from .credentials import Creds, authenticate, require_internal

log = logging.getLogger("labelops_gateway.events")


class StreamStart(enum.StrEnum):
    latest = "latest"
    earliest = "earliest"


class OpenStreams:
    """The event streams open now (each holds a Kafka consumer)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.feeds: set[EventFeed] = set()

    def __len__(self) -> int:
        return len(self.feeds)

    async def close_all(self) -> None:
        feeds, self.feeds = list(self.feeds), set()
        for feed in feeds:
            await feed.stop()


class EventStreamResponse(StreamingResponse):
    """A StreamingResponse that runs ``on_close`` however the stream ends: exhausted, failed,
    or cancelled because the client went away (the common case — streams never end)."""

    media_type = "text/event-stream"

    def __init__(
        self, content: AsyncIterator[bytes], on_close: Callable[[], Awaitable[None]]
    ) -> None:
        super().__init__(
            content,
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # A disconnect arrives as cancellation: without the shield the consumer's stop
            # would be cancelled too, and its connections and fetch task would leak.
            with anyio.CancelScope(shield=True), anyio.move_on_after(10):
                await self._on_close()


def _single_line(value: str) -> str:
    return value.replace("\r", " ").replace("\n", " ")


def format_event(event: Event) -> bytes:
    """One event in the SSE wire format."""
    data = json.dumps(event.data, separators=(",", ":"), allow_nan=False)
    return (
        f"event: {_single_line(event.type)}\nid: {_single_line(event.event_id)}\ndata: {data}\n\n"
    ).encode()


async def sse_lines(
    feed: EventFeed, *, tenant_id: str, types: frozenset[str], heartbeat_s: float
) -> AsyncIterator[bytes]:
    """The stream's bytes: a comment now, then events (filtered), heartbeats when idle."""
    yield b": subscribed\n\n"
    last = time.monotonic()
    try:
        async for events in feed.batches(timeout_s=heartbeat_s):
            chunk = b"".join(
                format_event(e)
                for e in events
                if (not types or e.type in types) and e.tenant_id in ("", tenant_id)
            )
            now = time.monotonic()
            if chunk:
                yield chunk
                last = now
            elif now - last >= heartbeat_s:
                yield b": heartbeat\n\n"
                last = now
    except KafkaError as exc:
        # End the response cleanly: a browser's EventSource reconnects by itself (and gets a
        # 503 while Kafka stays away).
        log.warning("event stream ended: Kafka failed: %r", exc)
        yield b": kafka unavailable, reconnect\n\n"


router = APIRouter()


@router.get(
    "/v1/events/stream",
    tags=["events"],
    summary="Server-Sent Events: the services' events as they happen",
    response_class=EventStreamResponse,
    status_code=200,
    responses={
        200: {
            "description": "text/event-stream; `event:` = event type (full proto name), "
            "`id:` = event id, `data:` = the envelope as JSON with its payload decoded",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def stream_events(
    request: Request,
    creds: Creds,
    start: Annotated[
        StreamStart,
        Query(
            alias="from",
            description="latest: events after the subscription; earliest: everything "
            "the topics still hold, then live",
        ),
    ] = StreamStart.latest,
    event_type: Annotated[
        list[Annotated[str, Query(max_length=256)]] | None,
        Query(alias="type", description="only these event types (full proto names)"),
    ] = None,
) -> EventStreamResponse:
    settings: Settings = request.app.state.settings
    authenticator: Authenticator = request.app.state.authenticator
    streams: OpenStreams = request.app.state.streams
    principal = authenticate(authenticator, creds)
    require_internal(principal)
    if len(streams) >= streams.limit:
        raise ResourceExhausted(
            f"{streams.limit} event streams are open; try again later",
            reason="TOO_MANY_STREAMS",
        )
    feed = EventFeed(
        settings.kafka_bootstrap,
        settings.event_topics,
        from_earliest=start is StreamStart.earliest,
        refresh_s=settings.sse_topic_refresh_s,
    )
    streams.feeds.add(feed)
    try:
        await feed.start()
    except (KafkaError, OSError) as exc:
        streams.feeds.discard(feed)
        log.warning("event stream: Kafka unavailable: %r", exc)
        raise Unavailable("the event bus is unavailable", reason="KAFKA_UNAVAILABLE") from None
    except BaseException:
        streams.feeds.discard(feed)
        raise

    async def close() -> None:
        streams.feeds.discard(feed)
        await feed.stop()

    lines = sse_lines(
        feed,
        tenant_id=principal.tenant_id,
        types=frozenset(event_type or ()),
        heartbeat_s=settings.sse_heartbeat_s,
    )
    return EventStreamResponse(lines, close)
