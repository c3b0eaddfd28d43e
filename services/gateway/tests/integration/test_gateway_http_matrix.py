"""The HTTP half of the security matrix (tests/test_security_matrix.py is the gRPC half): every
route of the gateway's table, called by a vendor that does not work tenant A's project and by
tenant B's admin, with A's ids and with ids nobody has.

- The vendor's two answers are indistinguishable (status and reason), carry none of A's task,
  item or annotator ids and no gold flag or answer, and write nothing.
- Every refusal is audited: what the gateway refuses itself in the gateway's audit sink (actor,
  tenant, route, action, code), what reaches a service in that service's audit log.

(test_gateway_tenancy checks tenant B's answers route by route; here B's refused commands are
checked for their audit trail.) The routes come from ``access.ROUTE_ACTIONS``.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI
from gateway_support import ADMIN, OTHER, VENDOR
from labelops_core.audit import MemoryAuditSink
from labelops_demo.system import System
from labelops_testkit.waiting import eventually
from route_matrix import ROUTES, a_world, call_route, family_of, summary

#: The ids a vendor outside the project must not be able to tell from unknown ones; the
#: tenant's ontology, project and dataset ids it may know (it may read the ontology).
VENDOR_BLIND = ("task_id", "item_id")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(gateway: FastAPI, system: System) -> dict[str, str]:
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        return await a_world(client, system, f"m{uuid.uuid4().hex[:10]}")


def _gold(value: Any, path: str = "") -> list[str]:
    """Paths of set gold flags / gold answers anywhere in a JSON answer."""
    found: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            here = f"{path}.{k}"
            if (k == "gold" and v) or (k in ("gold_expected", "goldExpected") and v):
                found.append(here)
            found += _gold(v, here)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _gold(v, f"{path}[{i}]")
    return found


async def _events_by(system: System, actor: str) -> int:
    n = 0
    for app in system.apps.values():
        n += await app.pool.fetchval(
            f'SELECT count(*) FROM "{app.settings.db_schema}".events WHERE actor_id = $1', actor
        )
    return n


async def test_a_vendor_outside_the_project_learns_nothing_and_every_refusal_is_audited(
    gateway: FastAPI, client: httpx.AsyncClient, world: dict[str, str], system: System
) -> None:
    world = dict(world)
    secrets = world.pop("secrets").split()
    nobody = {k: (str(uuid.uuid4()) if k in VENDOR_BLIND else v) for k, v in world.items()}
    sink = MemoryAuditSink()
    saved, gateway.state.audit = gateway.state.audit, sink
    problems: list[str] = []
    refused: list[str] = []
    try:
        for method, path in ROUTES:
            url, theirs = await call_route(client, method, path, world, VENDOR)
            _, missing = await call_route(client, method, path, nobody, VENDOR)
            where = f"{method} {path}"
            if theirs.status_code >= 500:
                problems.append(f"{where}: {theirs.status_code} {theirs.text[:200]}")
            if summary(theirs) != summary(missing):
                problems.append(f"{where}: A's {summary(theirs)} != unknown {summary(missing)}")
            found = [s for s in secrets if s in theirs.text and s not in url]
            if found:
                problems.append(f"{where}: carries {found}")
            if theirs.headers.get("content-type", "").startswith("application/json"):
                gold = _gold(theirs.json())
                if gold:
                    problems.append(f"{where}: gold in the answer at {gold}")
            if theirs.status_code in (401, 403, 429):
                refused.append(where)
    finally:
        gateway.state.audit = saved
    assert problems == [], "\n".join(problems)
    assert refused, "the vendor was refused nothing: the matrix is vacuous"
    # The positive control: the secrets are real, A's admin reads them on the same route.
    _, own = await call_route(client, "GET", "/v1/projects/{project_id}/tasks", world, ADMIN)
    assert any(s in own.text for s in secrets)
    audited = {r.method for r in sink.records if r.actor_id == "vendor-bot"}
    assert sorted(set(refused) - audited) == []
    rec = next(r for r in sink.records if r.actor_id == "vendor-bot")
    assert (rec.tenant_id, rec.actor_kind, rec.service) == ("acme", "vendor", "gateway")
    assert rec.outcome == "denied" and rec.code == "PERMISSION_DENIED" and rec.action
    assert await _events_by(system, "vendor-bot") == 0


async def test_tenant_bs_commands_on_a_s_resources_are_audited_by_the_services(
    client: httpx.AsyncClient, world: dict[str, str], system: System
) -> None:
    world = dict(world)
    world.pop("secrets")
    families: set[str] = set()
    for method, path in ROUTES:
        if method == "GET":
            continue
        _, answer = await call_route(client, method, path, world, OTHER)
        assert answer.status_code in (400, 404), (method, path, answer.text[:200])
        families.add(family_of(path))

    async def audited(service: str) -> bool:
        app = system.apps[service]
        return bool(
            await app.pool.fetchval(
                f'SELECT count(*) FROM "{app.settings.db_schema}".audit_log'
                " WHERE actor_id = 'intruder' AND tenant_id = 'globex' AND outcome <> 'ok'"
            )
        )

    assert families
    for service in sorted(families):
        await eventually(lambda service=service: audited(service), timeout=15)
    assert await _events_by(system, "intruder") == 0
