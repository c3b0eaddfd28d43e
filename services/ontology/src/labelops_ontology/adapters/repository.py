"""The ontology aggregate in the event store: one stream per (tenant, ontology id)
(``domain.events.stream_id``).

Loading replays the stream. Rebuilt states are kept in a small in-process LRU keyed by stream
version, so the next load of the same ontology only reads and applies the events appended since
(stored events never change, so a cached state is never wrong, only possibly behind).
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime

import asyncpg
from labelops_eventstore import AppendResult, EventStore, NewEvent, StoredEvent

from ..domain import events as ev
from ..domain.ontology import Ontology


def _copy(agg: Ontology) -> Ontology:
    # Apply never mutates what it shares: it assigns a new draft, appends to the versions list
    # and adds to the migrations dict. Copying those two containers is enough to keep the
    # cached state untouched by whoever evolves the copy.
    return dataclasses.replace(agg, versions=list(agg.versions), migrations=dict(agg.migrations))


class OntologyRepository:
    """Loads ontologies from their streams and appends decided events.

    Args:
        store: the service's event store.
        cache_size: rebuilt aggregates kept in memory (0 disables the cache).
    """

    def __init__(self, store: EventStore, *, cache_size: int = 256) -> None:
        self.store = store
        self._cache: OrderedDict[tuple[str, str], Ontology] = OrderedDict()
        self._cache_size = cache_size
        #: Ontologies of non-default tenants whose stream predates tenant-named streams.
        self._legacy_streams: dict[tuple[str, str], str] = {}

    async def load(self, tenant_id: str, ontology_id: str) -> Ontology:
        """The current state of ``tenant_id``'s ontology (a private copy the caller may
        evolve); ``exists`` is False for one that tenant never created (another tenant's
        ontology of the same id is a different stream, and only this tenant's events count)."""
        key = (tenant_id, ontology_id)
        cached = self._cache.get(key)
        agg = _copy(cached) if cached is not None else Ontology(ontology_id, tenant_id=tenant_id)
        stream = self._stream(tenant_id, ontology_id)
        stored = await self.store.read_stream(stream, agg.version + 1, tenant_id=tenant_id)
        if not stored and not agg.exists and stream != ev.stream_id(ontology_id):
            stored = await self._legacy(tenant_id, ontology_id)
        for e in stored:
            agg.apply(ev.decode(e.type, e.payload), ev.EventMeta(e.occurred_at, e.actor_id))
        if agg.exists and self._cache_size > 0 and (cached is None or stored):
            self._cache[key] = _copy(agg)
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return agg

    def _stream(self, tenant_id: str, ontology_id: str) -> str:
        return self._legacy_streams.get((tenant_id, ontology_id)) or ev.stream_id(
            ontology_id, tenant_id
        )

    async def _legacy(self, tenant_id: str, ontology_id: str) -> list[StoredEvent]:
        """Events of an ontology a non-default tenant created before streams named tenants:
        its stream is ``ontologies/{id}`` with that tenant's events (kept there, so nothing
        stored is rewritten)."""
        legacy = ev.stream_id(ontology_id)
        stored = await self.store.read_stream(legacy, 1, tenant_id=tenant_id)
        if stored and stored[0].stream_version == 1:
            self._legacy_streams[(tenant_id, ontology_id)] = legacy
            return stored
        return []

    async def append(
        self,
        conn: asyncpg.Connection,
        tenant_id: str,
        ontology_id: str,
        expected_version: int,
        events: Sequence[ev.Event],
        *,
        occurred_at: datetime,
        request_id: str | None,
        fingerprint: str,
        response: bytes,
    ) -> AppendResult:
        """Append ``events`` (as ``tenant_id``'s) to the ontology's stream if it is still at
        ``expected_version``, inside ``conn``'s transaction, recording the request id with its
        serialized response.

        Raises:
            ConcurrencyConflict: the stream moved on since it was loaded.
        """
        return await self.store.append(
            self._stream(tenant_id, ontology_id),
            expected_version,
            [NewEvent.of(e, occurred_at=occurred_at, tenant_id=tenant_id) for e in events],
            request_id=request_id or None,
            fingerprint=fingerprint,
            response=response,
            conn=conn,
        )
