"""OntologyCache: one fetch per version under concurrency, failures not cached, LRU."""

from __future__ import annotations

import asyncio

import pytest
from labelops.ontology.v1 import definition_pb2 as D
from labelops_core.errors import InvalidArgument
from labelops_ontologykit import CompiledOntology, OntologyCache
from ontologykit_fixtures import definition


class Fetcher:
    """A fake GetOntologyVersion: counts calls, can be held open or made to fail."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.fail_next: Exception | None = None
        self.definition = definition()

    async def __call__(self, ontology_id: str, version: str) -> D.OntologyDefinition:
        self.calls.append((ontology_id, version))
        await self.release.wait()
        if self.fail_next is not None:
            e, self.fail_next = self.fail_next, None
            raise e
        return self.definition


async def test_concurrent_misses_for_one_version_fetch_once() -> None:
    fetch = Fetcher()
    fetch.release.clear()
    cache = OntologyCache(fetch)
    waiters = [asyncio.create_task(cache.get("o1", "1.0.0")) for _ in range(50)]
    await asyncio.sleep(0.01)
    assert fetch.calls == [("o1", "1.0.0")]
    fetch.release.set()
    results = await asyncio.gather(*waiters)
    assert all(r is results[0] for r in results)
    assert isinstance(results[0], CompiledOntology)
    assert await cache.get("o1", "1.0.0") is results[0]
    assert fetch.calls == [("o1", "1.0.0")] and cache.fetches == 1


async def test_each_version_and_ontology_is_its_own_entry() -> None:
    fetch = Fetcher()
    cache = OntologyCache(fetch)
    a, b, c = await asyncio.gather(
        cache.get("o1", "1.0.0"), cache.get("o1", "1.1.0"), cache.get("o2", "1.0.0")
    )
    assert len({id(a), id(b), id(c)}) == 3
    assert sorted(fetch.calls) == [("o1", "1.0.0"), ("o1", "1.1.0"), ("o2", "1.0.0")]


async def test_a_failed_fetch_reaches_every_waiter_and_is_retried_later() -> None:
    fetch = Fetcher()
    fetch.release.clear()
    fetch.fail_next = ConnectionError("ontology service down")
    cache = OntologyCache(fetch)
    waiters = [asyncio.create_task(cache.get("o1", "1.0.0")) for _ in range(5)]
    await asyncio.sleep(0.01)
    fetch.release.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert len(cache) == 0
    assert isinstance(await cache.get("o1", "1.0.0"), CompiledOntology)
    assert len(fetch.calls) == 2


async def test_an_invalid_definition_is_not_cached() -> None:
    fetch = Fetcher()
    fetch.definition = D.OntologyDefinition(classes=[D.OntologyClass(id="x", name="X")])
    cache = OntologyCache(fetch)
    with pytest.raises(InvalidArgument):
        await cache.get("o1", "1.0.0")
    fetch.definition = definition()
    assert isinstance(await cache.get("o1", "1.0.0"), CompiledOntology)
    assert len(fetch.calls) == 2


async def test_a_cancelled_waiter_does_not_cancel_the_shared_fetch() -> None:
    fetch = Fetcher()
    fetch.release.clear()
    cache = OntologyCache(fetch)
    first = asyncio.create_task(cache.get("o1", "1.0.0"))
    second = asyncio.create_task(cache.get("o1", "1.0.0"))
    await asyncio.sleep(0.01)
    first.cancel()
    fetch.release.set()
    assert isinstance(await second, CompiledOntology)
    assert first.cancelled()
    assert len(fetch.calls) == 1


async def test_least_recently_used_entries_are_evicted() -> None:
    fetch = Fetcher()
    cache = OntologyCache(fetch, max_entries=2)
    await cache.get("o", "1.0.0")
    await cache.get("o", "2.0.0")
    await cache.get("o", "1.0.0")  # 2.0.0 is now the least recently used
    await cache.get("o", "3.0.0")
    assert len(cache) == 2
    await cache.get("o", "1.0.0")
    assert fetch.calls.count(("o", "1.0.0")) == 1
    await cache.get("o", "2.0.0")
    assert fetch.calls.count(("o", "2.0.0")) == 2


@pytest.mark.parametrize("version", ["latest", "", "draft", "1.0"])
async def test_only_exact_versions_are_cached(version: str) -> None:
    cache = OntologyCache(Fetcher())
    with pytest.raises(ValueError):
        await cache.get("o1", version)


def test_max_entries_must_be_positive() -> None:
    with pytest.raises(ValueError):
        OntologyCache(Fetcher(), max_entries=0)


async def test_scopes_keep_the_same_id_apart_and_the_fetch_sees_the_callers_context() -> None:
    import contextvars

    tenant: contextvars.ContextVar[str] = contextvars.ContextVar("tenant", default="")
    seen: list[str] = []

    async def fetch(ontology_id: str, version: str) -> D.OntologyDefinition:
        seen.append(tenant.get())
        return definition()

    cache = OntologyCache(fetch)

    async def as_tenant(t: str) -> CompiledOntology:
        tenant.set(t)
        return await cache.get("animals", "1.0.0", scope=t)

    a = await asyncio.create_task(as_tenant("acme"))
    b = await asyncio.create_task(as_tenant("beta"))
    assert a is not b and seen == ["acme", "beta"] and len(cache) == 2
    assert await asyncio.create_task(as_tenant("acme")) is a and seen == ["acme", "beta"]


async def test_a_scoped_cache_passes_the_scope_of_the_miss_to_its_fetch() -> None:
    calls: list[tuple[str, str, str]] = []

    async def fetch(ontology_id: str, version: str, scope: str) -> D.OntologyDefinition:
        calls.append((ontology_id, version, scope))
        return definition()

    cache = OntologyCache.scoped(fetch, max_entries=4)
    a, b = await asyncio.gather(
        cache.get("animals", "1.0.0", scope="acme"), cache.get("animals", "1.0.0", scope="beta")
    )
    assert a is not b and await cache.get("animals", "1.0.0", scope="acme") is a
    assert sorted(calls) == [("animals", "1.0.0", "acme"), ("animals", "1.0.0", "beta")]
    with pytest.raises(ValueError):
        OntologyCache.scoped(fetch, max_entries=0)
