"""``labelops events tail``: the events of the services, decoded, as they are published.

Each Kafka record is a ``labelops.events.v1.EventEnvelope``; its payload is decoded by the
envelope's ``type`` (the payload's full protobuf name) from the default descriptor pool, which
holds every labelops message once the generated ``*_pb2`` modules are imported.
"""

from __future__ import annotations

import asyncio
import base64
import importlib
import json
import logging
import pkgutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any

import typer
from google.protobuf import json_format, message_factory, symbol_database
from google.protobuf.message import DecodeError, Message
from labelops.events.v1 import envelope_pb2
from rich.text import Text

from labelops_cli import stack
from labelops_cli.config import Config
from labelops_cli.grpc import CliError, run
from labelops_cli.output import console, print_json_line, warn

if TYPE_CHECKING:
    # Imported when a tail starts: the other commands need no Kafka client.
    from aiokafka import AIOKafkaConsumer

app = typer.Typer(help="The event log: decoded events from Kafka.")

#: Colour of each producing service in the human-readable output.
COLOURS = {
    "ontology": "magenta",
    "curation": "blue",
    "routing": "green",
    "prelabel": "yellow",
    "qa": "red",
    "datasets": "cyan",
}


def default_topics() -> list[str]:
    """``labelops.<service>.events.v1`` of the six services."""
    return [f"labelops.{s}.events.v1" for s in stack.SERVICES]


@cache
def register_all_messages() -> int:
    """Import every generated ``labelops.*_pb2`` module so its messages are in the default
    descriptor pool; returns how many modules were imported."""
    import labelops

    count = 0
    for info in pkgutil.walk_packages(labelops.__path__, "labelops."):
        if info.name.endswith("_pb2"):
            importlib.import_module(info.name)
            count += 1
    return count


def message_class(type_name: str) -> type[Message] | None:
    """The generated class of a full protobuf name, or None when unknown."""
    register_all_messages()
    try:
        descriptor = symbol_database.Default().pool.FindMessageTypeByName(type_name)
    except KeyError:
        return None
    cls: type[Message] = message_factory.GetMessageClass(descriptor)
    return cls


def decode(value: bytes) -> dict[str, Any]:
    """One record value as a dict: the envelope's fields and the decoded ``payload``
    (``payload_b64`` and ``decode_error`` instead when the type is unknown or bad)."""
    try:
        env = envelope_pb2.EventEnvelope.FromString(value)
    except DecodeError as exc:
        return {
            "time": "",
            "type": "",
            "stream_id": "",
            "stream_version": 0,
            "decode_error": f"not an EventEnvelope: {exc}",
            "payload_b64": base64.b64encode(value).decode(),
        }
    out: dict[str, Any] = {
        "time": env.occurred_at.ToDatetime(tzinfo=UTC).isoformat(timespec="milliseconds")
        if env.HasField("occurred_at")
        else "",
        "type": env.type,
        "stream_id": env.stream_id,
        "stream_version": env.stream_version,
        "event_id": env.event_id,
        "source": env.source,
        "tenant_id": env.tenant_id,
        "actor": {
            "kind": envelope_pb2.ActorKind.Name(env.actor.kind).removeprefix("ACTOR_KIND_").lower(),
            "id": env.actor.id,
        },
        "correlation_id": env.correlation_id,
        "causation_id": env.causation_id,
    }
    cls = message_class(env.type)
    if cls is None:
        out["decode_error"] = f"unknown type {env.type}"
        out["payload_b64"] = base64.b64encode(env.payload).decode()
        return out
    try:
        payload = cls.FromString(env.payload)
    except DecodeError as exc:
        out["decode_error"] = str(exc)
        out["payload_b64"] = base64.b64encode(env.payload).decode()
        return out
    out["payload"] = json_format.MessageToDict(payload, preserving_proto_field_name=True)
    return out


def type_matches(type_name: str, wanted: Sequence[str]) -> bool:
    """``--type`` filters: a full name, or the message name alone (``LabelSubmitted``)."""
    if not wanted:
        return True
    short = type_name.rsplit(".", 1)[-1]
    return any(w in (type_name, short) for w in wanted)


def render(event: dict[str, Any], max_payload: int) -> Text:
    """One human-readable line: local time, type, stream@version, compact payload."""
    line = Text(no_wrap=False)
    try:
        when = datetime.fromisoformat(event["time"]).astimezone()
        line.append(when.strftime("%H:%M:%S.%f")[:-3] + " ", style="dim")
    except (KeyError, ValueError):
        line.append("--:--:--.--- ", style="dim")
    type_name: str = event["type"]
    parts = type_name.split(".")
    area = parts[1] if len(parts) > 2 and parts[0] == "labelops" else ""
    line.append(type_name.removeprefix("labelops."), style=f"bold {COLOURS.get(area, 'white')}")
    line.append(f"  {event['stream_id']}", style="cyan")
    line.append(f"@{event['stream_version']}  ", style="dim")
    if "payload" in event:
        payload = json.dumps(event["payload"], separators=(",", ":"), ensure_ascii=False)
    else:
        payload = f"<{event.get('decode_error', 'undecodable')}>"
    if max_payload and len(payload) > max_payload:
        payload = payload[: max_payload - 1] + "…"
    line.append(payload)
    return line


@app.command()
def tail(
    ctx: typer.Context,
    topic: Annotated[
        list[str] | None,
        typer.Option(
            "--topic",
            "-t",
            help="Topic to read (repeatable) (default: the six services' events topics).",
            show_default=False,
        ),
    ] = None,
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="Start at the oldest retained event.")
    ] = False,
    type_: Annotated[
        list[str] | None,
        typer.Option(
            "--type",
            help="Only events of this type: full name or message name (repeatable).",
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=0, help="Stop after N events (0 = never).")] = 0,
    timeout: Annotated[
        float, typer.Option(min=0, help="Stop after this many seconds (0 = never).")
    ] = 0.0,
    json_out: Annotated[
        bool, typer.Option("--json", help="JSON lines: envelope fields + decoded payload.")
    ] = False,
    max_payload: Annotated[
        int, typer.Option(help="Truncate payloads to this many characters (0 = full).")
    ] = 300,
) -> None:
    """Print events as they arrive, decoded (one line each), until Ctrl-C / --limit / --timeout."""
    cfg: Config = ctx.obj
    opts = TailOptions(
        topics=list(topic or default_topics()),
        wanted=list(type_ or []),
        from_beginning=from_beginning,
        limit=limit,
        timeout=timeout,
        json_out=json_out,
        max_payload=max_payload,
    )
    run(follow(cfg, opts))


@dataclass(frozen=True)
class TailOptions:
    """What ``events tail`` reads and how it prints."""

    topics: list[str]
    wanted: list[str]
    from_beginning: bool = False
    limit: int = 0
    timeout: float = 0.0
    json_out: bool = False
    max_payload: int = 300


async def start_consumer(cfg: Config, from_beginning: bool) -> AIOKafkaConsumer:
    """A started consumer without a group (CliError when Kafka does not answer)."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.errors import KafkaError
    from labelops_bus.security import kafka_security

    consumer = AIOKafkaConsumer(
        bootstrap_servers=cfg.kafka_bootstrap,
        # No group: nothing is committed and every partition is read; a tail never
        # disturbs the services' consumer groups.
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
        client_id="labelops-cli",
        **kafka_security(),
    )
    try:
        await asyncio.wait_for(consumer.start(), timeout=15)
    except (KafkaError, TimeoutError, OSError) as exc:
        await consumer.stop()
        raise CliError(
            f"Kafka at {cfg.kafka_bootstrap} is not reachable ({exc or type(exc).__name__});"
            " is it running? see `labelops status`"
        ) from None
    return consumer


class Subscription:
    """Only topics that exist are subscribed: asking the broker for a missing topic's metadata
    would auto-create it with default settings (1 MiB messages), before the service's relay
    creates it properly. Missing ones are looked for every ``CHECK_S`` seconds."""

    CHECK_S = 2.0

    def __init__(self, consumer: AIOKafkaConsumer, topics: list[str]) -> None:
        self.consumer = consumer
        self.topics = topics
        self.subscribed: set[str] = set()
        self.missing = list(topics)
        self.next_check = time.monotonic() + self.CHECK_S

    async def refresh(self) -> None:
        existing = await self.consumer.topics()
        present = {t for t in self.topics if t in existing}
        self.missing = [t for t in self.topics if t not in existing]
        if present != self.subscribed:
            self.consumer.subscribe(topics=sorted(present))
            self.subscribed = present

    async def refresh_when_due(self) -> None:
        if self.missing and time.monotonic() >= self.next_check:
            await self.refresh()
            self.next_check = time.monotonic() + self.CHECK_S


async def follow(cfg: Config, opts: TailOptions) -> None:
    """Print the events of ``opts.topics`` until ``--limit`` / ``--timeout`` (or Ctrl-C)."""
    register_all_messages()
    # aiokafka logs every missing topic on each metadata refresh; we say it once below.
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    consumer = await start_consumer(cfg, opts.from_beginning)
    try:
        sub = Subscription(consumer, opts.topics)
        await sub.refresh()
        if sub.missing:
            warn(f"no such topic yet (waiting for it): {', '.join(sub.missing)}")
        await _print_until_done(consumer, sub, opts)
    finally:
        await consumer.stop()


async def _print_until_done(
    consumer: AIOKafkaConsumer, sub: Subscription, opts: TailOptions
) -> None:
    printed = 0
    deadline = time.monotonic() + opts.timeout if opts.timeout else None
    out = console()
    while True:
        wait_ms = 500
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            wait_ms = max(1, min(wait_ms, int(left * 1000)))
        await sub.refresh_when_due()
        if not sub.subscribed:
            await asyncio.sleep(wait_ms / 1000)
            continue
        batches = await consumer.getmany(timeout_ms=wait_ms, max_records=500)
        records = sorted((r for rs in batches.values() for r in rs), key=lambda r: r.timestamp)
        for record in records:
            if record.value is None:
                continue
            event = decode(record.value)
            if not type_matches(event["type"], opts.wanted):
                continue
            if opts.json_out:
                print_json_line(
                    {
                        "topic": record.topic,
                        "partition": record.partition,
                        "offset": record.offset,
                        **event,
                    }
                )
            else:
                out.print(render(event, opts.max_payload), soft_wrap=True)
            printed += 1
            if opts.limit and printed >= opts.limit:
                return
