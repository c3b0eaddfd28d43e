"""Tenant B over HTTP against tenant A's resources, through the six real services.

Tenant A (acme) labels a dataset and cuts a version through the public APIs. Tenant B's admin
(globex: every action, in its own tenant) then calls every route of the gateway's table with
A's ids, and again with ids nobody has: the two answers must be the same (404, or an empty
200: no existence leak, never a 403), and none may carry A's content (task, item, annotator
ids, the version's digest). The routes come from ``access.ROUTE_ACTIONS``: a new route cannot
be left out. B's creates with A's ids are B's own (no 409 that would say A's exist), and A's
resources are unchanged. Run per route family (the service behind it).
"""

from __future__ import annotations

import uuid

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from gateway_support import (
    ADMIN,
    ANSWERS,
    OTHER,
    ontology_body,
)
from labelops_demo.system import System
from route_matrix import FAMILIES, ROUTES, a_world, call_route, family_of, summary


def test_every_route_belongs_to_a_family() -> None:
    assert {family_of(p) for _, p in ROUTES} == set(FAMILIES)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(gateway: FastAPI, system: System) -> dict[str, str]:
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        return await a_world(client, system, f"t{uuid.uuid4().hex[:10]}")


@pytest.mark.parametrize("family", sorted(FAMILIES))
async def test_another_tenant_cannot_tell_a_tenants_resources_exist(
    client: httpx.AsyncClient, world: dict[str, str], family: str
) -> None:
    world = dict(world)
    name = world["project_id"]
    secrets = world.pop("secrets").split()
    nobody = {k: f"nobody-{uuid.uuid4().hex[:8]}" for k in world}
    nobody |= {
        "version": "7",
        "ontology_version": "9.9.9",
        "task_id": str(uuid.uuid4()),
        "item_id": str(uuid.uuid4()),
    }
    leaks: list[str] = []
    for method, path in (r for r in ROUTES if family_of(r[1]) == family):
        url, theirs = await call_route(client, method, path, world, OTHER)
        _, missing = await call_route(client, method, path, nobody, OTHER)
        where = f"{method} {path}"
        if theirs.status_code not in (200, 404):
            leaks.append(f"{where}: {theirs.status_code} {theirs.text[:200]}")
        if summary(theirs) != summary(missing):
            leaks.append(f"{where}: A's ids {summary(theirs)} != unknown ids {summary(missing)}")
        # A's ids B named itself may be echoed ("task ... not found"); nothing else of A's.
        found = [s for s in secrets if s in theirs.text and s not in url]
        if found:
            leaks.append(f"{where}: carries A's {found}")
        if "{" not in path and name in theirs.text:
            leaks.append(f"{where}: lists A's {name}")
    assert leaks == [], "\n".join(leaks)


async def test_another_tenants_ontology_of_the_same_id_is_its_own(
    client: httpx.AsyncClient, world: dict[str, str]
) -> None:
    name = world["ontology_id"]
    # B's creates live in B's tenant: the same id as A's is no conflict (no existence leak),
    # and A's ontology is untouched.
    mine = await client.post("/v1/ontologies", json=ontology_body(name), headers=OTHER)
    assert mine.status_code == 201, mine.text
    assert mine.json()["ontology"]["versions"] == []
    theirs = await client.get(f"/v1/ontologies/{name}", headers=ADMIN)
    assert theirs.json()["ontology"]["versions"] == ["1.0.0"]


async def test_another_tenants_project_of_the_same_id_says_nothing_of_a(
    client: httpx.AsyncClient, world: dict[str, str]
) -> None:
    name = world["project_id"]
    project = {"project_id": name, "ontology_id": name, "ontology_version": "1.0.0"}
    taken = await client.post("/v1/projects", json=project, headers=OTHER)
    # B has no published 1.0.0 of that ontology (A's is not B's): refused for that, never a
    # 409 about A's project.
    assert taken.status_code in (400, 404), taken.text
    listed = await client.get(f"/v1/projects/{name}/tasks", headers=ADMIN)
    assert len(listed.json()["tasks"]) == len(ANSWERS)
