"""``GET /v1/events/stream``: the services' events as Server-Sent Events, for browsers.

One Kafka consumer per connection (``adapters.events.EventFeed``): ``event:`` is the event type
(its full proto name, e.g. ``labelops.routing.v1.LabelSubmitted``), ``id:`` the event id,
``data:`` the envelope as JSON with the payload decoded. A comment line goes out at once (the
subscription is in place: anything produced from now on is delivered) and then whenever the
stream was idle for ``sse_heartbeat_s``.

Unlike the other routes this one reads Kafka, not a service, so the gateway's own checks are
the only ones: the route needs ``events.read`` (vendors, annotators and reviewers are refused:
``access.ROUTE_ACTIONS``); a caller sees only events whose envelope names its tenant (an event
without a tenant goes to nobody); without ``gold.read`` every gold field of a payload is
removed (``gold``, ``gold_expected``, anything named ``*gold*``) and events about gold answers
(``GoldScored``) are not sent at all. Each principal may hold ``sse_max_streams_per_principal``
streams at once, the gateway ``sse_max_streams``; more → 429.
"""

from __future__ import annotations

import enum
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from dataclasses import replace
from typing import Annotated, Any

import anyio
from aiokafka.errors import KafkaError
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from labelops_core.authz import Action, can
from labelops_core.context import Principal
from labelops_core.errors import Unavailable
from starlette.types import Receive, Scope, Send

from ..adapters.events import Event, EventFeed
from ..config import Settings
from .access import Caller, principal_key
from .errors import RateLimited

log = logging.getLogger("labelops_gateway.events")


class StreamStart(enum.StrEnum):
    latest = "latest"
    earliest = "earliest"


class OpenStreams:
    """The event streams open now (each holds a Kafka consumer), and whose they are."""

    def __init__(self, limit: int, per_principal: int = 2) -> None:
        self.limit = limit
        self.per_principal = per_principal
        self.feeds: set[EventFeed] = set()
        self._owner: dict[EventFeed, Hashable] = {}
        self._held: Counter[Hashable] = Counter()

    def __len__(self) -> int:
        return len(self.feeds)

    def held(self, owner: Hashable) -> int:
        return self._held[owner]

    def add(self, feed: EventFeed, owner: Hashable) -> None:
        """Take a slot for ``owner``'s ``feed``, or RateLimited (429) when none is free."""
        if len(self.feeds) >= self.limit:
            raise RateLimited(
                f"{self.limit} event streams are open; try again later",
                retry_after_s=5,
                reason="TOO_MANY_STREAMS",
            )
        if self._held[owner] >= self.per_principal:
            raise RateLimited(
                f"you have {self.per_principal} event streams open; close one first",
                retry_after_s=5,
                reason="TOO_MANY_STREAMS_FOR_PRINCIPAL",
            )
        self.feeds.add(feed)
        self._owner[feed] = owner
        self._held[owner] += 1

    def discard(self, feed: EventFeed) -> None:
        self.feeds.discard(feed)
        owner = self._owner.pop(feed, None)
        if owner is not None:
            self._held[owner] -= 1
            if self._held[owner] <= 0:
                del self._held[owner]

    async def close_all(self) -> None:
        feeds = list(self.feeds)
        for feed in feeds:
            self.discard(feed)
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


def _without_gold(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_gold(v) for k, v in value.items() if "gold" not in k.lower()}
    if isinstance(value, list):
        return [_without_gold(v) for v in value]
    return value


def is_gold_event(event_type: str) -> bool:
    """Events that exist only because a task is gold (their fields name the gold answer)."""
    return event_type.rsplit(".", 1)[-1].lower().startswith("gold")


def visible(event: Event, principal: Principal) -> Event | None:
    """``event`` as ``principal`` may see it: None for another tenant's (or no tenant's)
    event and, without ``gold.read``, for a gold event; else with gold fields removed."""
    if not event.tenant_id or event.tenant_id != principal.tenant_id:
        return None
    if can(principal, Action.GOLD_READ):
        return event
    if is_gold_event(event.type):
        return None
    payload = event.data.get("payload")
    if payload is None:
        # An event type this gateway cannot decode: it cannot strip what it cannot read.
        return None
    return replace(event, data={**event.data, "payload": _without_gold(payload)})


async def sse_lines(
    feed: EventFeed, *, principal: Principal, types: frozenset[str], heartbeat_s: float
) -> AsyncIterator[bytes]:
    """The stream's bytes: a comment now, then events (filtered), heartbeats when idle."""
    yield b": subscribed\n\n"
    last = time.monotonic()
    try:
        async for events in feed.batches(timeout_s=heartbeat_s):
            shown = (visible(e, principal) for e in events if not types or e.type in types)
            chunk = b"".join(format_event(e) for e in shown if e is not None)
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
    principal: Caller,
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
    streams: OpenStreams = request.app.state.streams
    feed = EventFeed(
        settings.kafka_bootstrap,
        settings.event_topics,
        from_earliest=start is StreamStart.earliest,
        refresh_s=settings.sse_topic_refresh_s,
    )
    streams.add(feed, principal_key(principal))
    try:
        await feed.start()
    except (KafkaError, OSError) as exc:
        streams.discard(feed)
        log.warning("event stream: Kafka unavailable: %r", exc)
        raise Unavailable("the event bus is unavailable", reason="KAFKA_UNAVAILABLE") from None
    except BaseException:
        streams.discard(feed)
        raise

    async def close() -> None:
        streams.discard(feed)
        await feed.stop()

    lines = sse_lines(
        feed,
        principal=principal,
        types=frozenset(event_type or ()),
        heartbeat_s=settings.sse_heartbeat_s,
    )
    return EventStreamResponse(lines, close)
