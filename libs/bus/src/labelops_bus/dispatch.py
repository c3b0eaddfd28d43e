"""Dispatch tables: which handler applies which event type, declared once per service.

A service's ``entrypoints/consumers.py`` is a class whose methods carry ``@handles``::

    class RoutingConsumers(EventHandlers):
        @handles("curation-items", cev.ItemRegistered, why="item URI and size for task offers")
        async def item_registered(self, e: cev.ItemRegistered, ctx: MessageContext, conn) -> None:
            await self.projections.item_registered(conn, e)

``consumer`` names the Kafka consumer (group ``<service>.<consumer>``, dedup rows, positions);
every method of one consumer reads the same topic: the producer's, taken from the event's
protobuf package (``labelops.curation.v1.ItemRegistered`` → ``curation``). The table is
static, so docs/events.md's consumer column is generated from it (``handled_events``), and at
run time ``EventHandlers.dispatchers`` turns it into one handler per consumer:

- ``Dispatch`` (``ConsumerRunner``, one transaction per record): decodes the payload as the
  registered type (undecodable → ``PoisonMessage``, dead-lettered) and calls the method with
  the envelope's principal bound (``labelops_bus.principal``: what it appends gets the event's
  tenant and actor); types the table does not name are skipped — a consumer sees every event
  of the producer's topic.
- ``BatchDispatch`` (``BatchProjector``, one transaction per batch): ``decode`` parses each
  record (poison → dead letter, alone), ``prepare`` groups consecutive records of one type off
  the transaction; the handler calls
  each group's method with ``[(event, record), ...]`` in log order. ``decode=False`` hands the
  method the undecoded ``(envelope, record)`` pairs (a projection that stores payloads as they
  are and decodes them later, once). ``BatchDispatch.prepare_with`` gives a method a function
  that turns its run into what it gets, also off the transaction (rows built there, only the
  writes inside). Nothing is bound around a batch (its records may be of several tenants):
  a batch method passes ``tenant_id`` / ``actor_kind`` / ``actor_id`` per record.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

import asyncpg
from aiokafka import ConsumerRecord
from google.protobuf.message import Message

from .batch import BatchRecord
from .principal import acting_as_envelope
from .runner import MessageContext, PoisonMessage, decode_envelope

F = TypeVar("F", bound=Callable[..., Awaitable[None]])

_ATTR = "__labelops_handles__"


@dataclass(frozen=True)
class Handles:
    """One row of a dispatch table."""

    consumer: str
    event: type[Message]
    why: str
    batch: bool = False
    decode: bool = True

    @property
    def type_name(self) -> str:
        return self.event.DESCRIPTOR.full_name

    @property
    def producer(self) -> str:
        """The producing service: ``labelops.<producer>.v1.<Event>``."""
        return producer_of(self.type_name)


def producer_of(type_name: str) -> str:
    """``labelops.curation.v1.ItemRegistered`` → ``curation``."""
    parts = type_name.split(".")
    if len(parts) < 4 or parts[0] != "labelops":
        raise ValueError(f"{type_name} is not a labelops.<service>.<version>.<Event> type")
    return parts[1]


def handles(
    consumer: str,
    event: type[Message],
    *,
    why: str,
    batch: bool = False,
    decode: bool = True,
) -> Callable[[F], F]:
    """Register the decorated method as the handler of ``event`` in ``consumer``.

    ``why``: what the consuming service does with the event (one line; docs/events.md).
    ``batch``: the consumer is a ``BatchProjector``. Stackable: one method may handle several
    types.
    """

    def mark(fn: F) -> F:
        rows = list(getattr(fn, _ATTR, ()))
        rows.append(Handles(consumer, event, why, batch, decode))
        setattr(fn, _ATTR, tuple(rows))
        return fn

    return mark


def dispatch_table(cls: type) -> list[tuple[Handles, str]]:
    """Every ``(row, method name)`` of a consumers class, in definition order."""
    out: list[tuple[Handles, str]] = []
    seen: set[tuple[str, str]] = set()
    for name, fn in inspect.getmembers(cls, predicate=inspect.isfunction):
        for row in getattr(fn, _ATTR, ()):
            key = (row.consumer, row.type_name)
            if key in seen:
                raise TypeError(f"{cls.__name__}: {row.type_name} handled twice in {row.consumer}")
            seen.add(key)
            out.append((row, name))
    out.sort(key=lambda r: (r[0].consumer, inspect.getsourcelines(getattr(cls, r[1]))[1]))
    _check_consumers(cls, [r for r, _ in out])
    return out


def _check_consumers(cls: type, rows: Sequence[Handles]) -> None:
    producers: dict[str, str] = {}
    kinds: dict[str, bool] = {}
    for r in rows:
        if producers.setdefault(r.consumer, r.producer) != r.producer:
            raise TypeError(
                f"{cls.__name__}: consumer {r.consumer} reads {producers[r.consumer]}'s topic,"
                f" not {r.producer}'s ({r.type_name})"
            )
        if kinds.setdefault(r.consumer, r.batch) != r.batch:
            raise TypeError(f"{cls.__name__}: consumer {r.consumer} mixes batch and per-record")


def handled_events(cls: type) -> Iterator[Handles]:
    """The rows of ``cls``'s dispatch table (for docs and tests)."""
    for row, _ in dispatch_table(cls):
        yield row


Handler = Callable[[Any, MessageContext, asyncpg.Connection], Awaitable[None]]
BatchGroupHandler = Callable[[list[tuple[Any, BatchRecord]], asyncpg.Connection], Awaitable[None]]


def decode_payload(event: type[Message], payload: bytes) -> Any:
    """``event.FromString(payload)``, or ``PoisonMessage`` (dead-lettered) when it does not
    parse."""
    try:
        return event.FromString(payload)
    except Exception as exc:  # protobuf's DecodeError; its module path varies by backend
        raise PoisonMessage(f"payload is not a {event.DESCRIPTOR.full_name}: {exc}") from exc


class Dispatch:
    """A ``ConsumerRunner`` handler that routes each record by its envelope's type."""

    def __init__(self, consumer: str, producer: str, routes: dict[str, tuple[Handles, Handler]]):
        self.consumer = consumer
        self.producer = producer
        self.routes = routes

    async def __call__(self, ctx: MessageContext, conn: asyncpg.Connection) -> None:
        route = self.routes.get(ctx.envelope.type)
        if route is None:
            return  # another event of the producer's topic: not this consumer's
        row, fn = route
        event = decode_payload(row.event, ctx.envelope.payload) if row.decode else ctx.envelope
        # The runner binds it too; bound here as well, a Dispatch called on its own (a
        # service's unit test, a replay) acts as the event's tenant and actor all the same.
        with acting_as_envelope(ctx.envelope):
            await fn(event, ctx, conn)


@dataclass
class _Group:
    fn: BatchGroupHandler
    items: Any  # [(event, record), ...], or what the method's ``prepare_with`` made of them
    prepare: Callable[[list[tuple[Any, BatchRecord]]], Any] | None = None


class _Routed(NamedTuple):
    envelope: Any
    event: Any  # None unless the route decodes the payload
    route: tuple[Handles, BatchGroupHandler] | None  # None: not this consumer's


_PREPARE = "__labelops_batch_prepare__"
_new_tuple = tuple.__new__


class BatchDispatch:
    """A ``BatchProjector`` handler (``decode`` + ``prepare`` + ``__call__``) that routes runs
    of records. Give the projector all three: ``decode`` parses each record's payload, so one
    that does not parse is dead-lettered alone; ``prepare`` groups off the transaction.

    A batch method may also name a ``prepare`` of its own (``BatchDispatch.prepare_with``):
    ``prepare`` then hands each of the method's runs to it, still off the transaction (the
    projector overlaps it with the previous batch's writes), and the method gets what it
    returned instead of the ``[(event, record), ...]`` run: CPU work (building rows) there,
    only the writes in the transaction."""

    def __init__(
        self, consumer: str, producer: str, routes: dict[str, tuple[Handles, BatchGroupHandler]]
    ):
        self.consumer = consumer
        self.producer = producer
        self.routes = routes
        self._prepares: dict[str, Callable[[list[tuple[Any, BatchRecord]]], Any] | None] = {}
        for type_name, (_, fn) in routes.items():
            prepare = getattr(fn, _PREPARE, None)
            owner = getattr(fn, "__self__", None)
            self._prepares[type_name] = (
                prepare.__get__(owner) if prepare is not None and owner is not None else prepare
            )

    @staticmethod
    def prepare_with(
        prepare: Callable[..., Any],
    ) -> Callable[[F], F]:
        """Mark a batch method: ``prepare`` (a method of the same class, or a function of the
        run) turns each run of ``[(event, record), ...]`` into what the method gets, off the
        transaction. Stack it under ``@handles``."""

        def mark(fn: F) -> F:
            setattr(fn, _PREPARE, prepare)
            return fn

        return mark

    def decode(self, record: ConsumerRecord) -> _Routed:
        envelope = decode_envelope(record)
        route = self.routes.get(envelope.type)
        # tuple.__new__: a NamedTuple's own __new__ is a Python call, per record.
        if route is None or not route[0].decode:
            return _new_tuple(_Routed, (envelope, None, route))
        event = decode_payload(route[0].event, envelope.payload)
        return _new_tuple(_Routed, (envelope, event, route))

    def prepare(self, records: Sequence[BatchRecord]) -> list[_Group]:
        """Group consecutive records of one type (records of other types are dropped), then
        run each group's ``prepare_with`` on it.

        The records are the projector's own, made for this batch and not used after
        ``prepare``: each one's ``_Routed`` from ``decode`` is swapped for its envelope in
        place (a new record per record would cost several times as much)."""
        groups: list[_Group] = []
        items: list[tuple[Any, BatchRecord]] = []
        last: tuple[Handles, BatchGroupHandler] | None = None
        for r in records:
            envelope, event, route = r.envelope
            if route is None:
                continue  # not this consumer's: the run goes on
            if route is not last:  # one route per type: a new run
                items, last = [], route
                groups.append(_Group(route[1], items, self._prepares[route[0].type_name]))
            object.__setattr__(r, "envelope", envelope)
            items.append((envelope if event is None else event, r))
        for g in groups:
            if g.prepare is not None:
                g.items = g.prepare(g.items)
        return groups

    async def __call__(self, groups: list[_Group], conn: asyncpg.Connection) -> None:
        for g in groups:
            await g.fn(g.items, conn)


class EventHandlers:
    """Base of a service's consumers class (see the module docstring)."""

    @classmethod
    def table(cls) -> list[tuple[Handles, str]]:
        return dispatch_table(cls)

    def dispatchers(self) -> dict[str, Dispatch | BatchDispatch]:
        """consumer name → its handler, bound to this instance."""
        per: dict[str, dict[str, tuple[Handles, Any]]] = {}
        for row, name in self.table():
            per.setdefault(row.consumer, {})[row.type_name] = (row, getattr(self, name))
        out: dict[str, Dispatch | BatchDispatch] = {}
        for consumer, routes in per.items():
            first = next(iter(routes.values()))[0]
            kind = BatchDispatch if first.batch else Dispatch
            out[consumer] = kind(consumer, first.producer, routes)
        return out
