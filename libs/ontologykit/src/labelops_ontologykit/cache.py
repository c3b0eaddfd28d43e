"""``OntologyCache``: compiled published ontology versions for services, in-process.

Published versions are immutable, so an entry never goes stale and is only evicted for space
(least recently used). Concurrent misses for the same version share one fetch + compile.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from labelops.ontology.v1 import definition_pb2

from .compiled import CompiledOntology, compile_ontology
from .diff import parse_version

Fetch = Callable[[str, str], Awaitable[definition_pb2.OntologyDefinition]]
#: ``fetch(ontology_id, version, scope)``: a fetch that is told the scope it fetches for.
ScopedFetch = Callable[[str, str, str], Awaitable[definition_pb2.OntologyDefinition]]


class OntologyCache:
    """Compiled ontology versions by ``(scope, ontology_id, version)``.

    ``scope`` keeps apart what may share an id: a service whose ontology ids are per tenant
    passes the tenant, so one tenant never validates against another's "animals". The fetch
    runs in the context of the call that missed (its task copies the caller's context
    variables, e.g. the current principal), so it can read the same tenant.

    ``fetch(ontology_id, version)`` returns the published definition (for example a
    ``GetOntologyVersion`` call); a cache made with ``OntologyCache.scoped`` calls
    ``fetch(ontology_id, version, scope)`` instead, for a fetch that reads the scope's own
    copy (``OntologyVersions``: the tenant's rows).

    Only exact versions ("1.2.0") are accepted: "latest", "" or "draft" change over time and
    must be resolved by the caller first, or the cache would keep serving an old version
    forever.
    """

    def __init__(self, fetch: Fetch, max_entries: int = 256) -> None:
        """``max_entries`` compiled versions are kept (LRU); must be >= 1."""
        self._setup(lambda ontology_id, version, _scope: fetch(ontology_id, version), max_entries)

    @classmethod
    def scoped(cls, fetch: ScopedFetch, max_entries: int = 256) -> OntologyCache:
        """A cache whose misses call ``fetch(ontology_id, version, scope)``: the scope of the
        ``get`` that missed is passed on, not left to the caller's context."""
        cache = cls.__new__(cls)
        cache._setup(fetch, max_entries)
        return cache

    def _setup(self, fetch: ScopedFetch, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self._fetch = fetch
        self._max = max_entries
        self._entries: OrderedDict[tuple[str, str, str], asyncio.Task[CompiledOntology]] = (
            OrderedDict()
        )
        #: Fetches started (hits and shared misses do not count); for metrics and tests.
        self.fetches = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, ontology_id: str, version: str, *, scope: str = "") -> CompiledOntology:
        """The compiled version, fetching and compiling it on a miss.

        Concurrent calls for a missing key wait for the same fetch. A failed fetch or an
        invalid definition (``InvalidArgument`` from ``compile_ontology``) is raised to every
        waiter and not cached, so a later call tries again. ``ValueError`` for a version that
        is not MAJOR.MINOR.PATCH.
        """
        parse_version(version)
        key = (scope, ontology_id, version)
        task = self._entries.get(key)
        if task is None:
            self.fetches += 1
            task = asyncio.ensure_future(self._load(ontology_id, version, scope))
            self._entries[key] = task
            task.add_done_callback(lambda t: self._forget_failed(key, t))
            self._evict()
        else:
            self._entries.move_to_end(key)
        # shield: a caller cancelled while waiting must not cancel the fetch others share.
        return await asyncio.shield(task)

    async def _load(self, ontology_id: str, version: str, scope: str) -> CompiledOntology:
        definition = await self._fetch(ontology_id, version, scope)
        return compile_ontology(definition)

    def _forget_failed(
        self, key: tuple[str, str, str], task: asyncio.Task[CompiledOntology]
    ) -> None:
        if task.cancelled() or task.exception() is not None:
            if self._entries.get(key) is task:
                del self._entries[key]

    def _evict(self) -> None:
        # In-flight entries stay: evicting one would start a second fetch for its waiters' key.
        excess = len(self._entries) - self._max
        if excess <= 0:
            return
        for key in [k for k, t in self._entries.items() if t.done()][:excess]:
            del self._entries[key]
