"""Tenant and vendor isolation, tried from outside over gRPC, for every public method.

Two tenants, two vendors (X and Y, both working for tenant A). Tenant A's world is built
through the public APIs (security_support.seed_tenant_a). Then every method of every service
descriptor is called by tenant B's admin and by vendor Y with a request naming tenant A's (and
vendor X's) ids, and again with ids nobody has:

- the two answers are indistinguishable (same status code): no existence leak;
- no answer carries tenant A's content or any gold answer;
- tenant A's events got none of B's or Y's writes;
- every refusal is in the service's audit log, with the caller and the method.

The list of methods comes from the descriptors, so a method added tomorrow is in the matrix
without anyone remembering it.
"""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import labelops
import pytest
import pytest_asyncio
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from labelops_demo.system import SERVICES, System, local_system
from labelops_grpckit import Authenticator, channel
from security_support import (
    GOLD_MARK,
    MARK,
    VENDOR_IDS,
    Caller,
    Outcome,
    World,
    call,
    callers,
    random_ids,
    repeated,
    request_for,
    seed_tenant_a,
    services,
)

#: What tenant A wrote and no one else may read back (ids a caller sends are not content).
A_CONTENT = (
    f"{MARK}-car",
    f"{MARK}-wheel",
    f"{MARK} text",
    f"s3://{MARK}",
    f"{MARK} ontology",
    f"{MARK} items",
    GOLD_MARK,
)
#: What vendor X's work holds and vendor Y may not see (tenant A's ontology it may).
X_CONTENT = (GOLD_MARK, f"{MARK}-l-car", f"s3://{MARK}", "vx/worker")
INFRA_METHODS = ("grpc.health", "grpc.reflection")


@dataclass
class Secured:
    system: System
    world: World
    people: dict[str, Caller]
    schemas: dict[str, str]
    pg_dsn: str


@contextlib.asynccontextmanager
async def _schemas(pg_dsn: str) -> AsyncIterator[dict[str, str]]:
    import asyncpg

    names = {s: f"sec_{uuid.uuid4().hex[:10]}_{s}" for s in SERVICES}
    conn = await asyncpg.connect(pg_dsn)
    try:
        for name in names.values():
            await conn.execute(f'CREATE SCHEMA "{name}"')
        yield names
    finally:
        for name in names.values():
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        await conn.close()


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def secured(
    pg_dsn: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Secured]:
    people = callers()
    auth = Authenticator({c.key: dict(c.fields) for c in people.values()})
    tmp = tmp_path_factory.mktemp("security")
    async with (
        _schemas(pg_dsn) as schemas,
        local_system(
            kafka_bootstrap=kafka_bootstrap,
            pg_dsn=pg_dsn,
            data_dir=tmp / "data",
            schemas=schemas,
            prefix=f"sec{uuid.uuid4().hex[:8]}-",
            authenticator=auth,
        ) as system,
    ):
        world = await seed_tenant_a(system.targets, people["a_admin"].key, people["vendor_x"].key)
        yield Secured(system, world, people, schemas, pg_dsn)


def _all_descriptor_services() -> set[str]:
    """Every gRPC service any generated labelops module declares."""
    out: set[str] = set()
    for mod in pkgutil.walk_packages(labelops.__path__, "labelops."):
        if not mod.name.endswith("_pb2"):
            continue
        module = importlib.import_module(mod.name)
        out |= {s.full_name for s in module.DESCRIPTOR.services_by_name.values()}
    return out


def test_the_matrix_covers_every_service_of_every_descriptor() -> None:
    covered = {desc.full_name for _, desc in services()}
    # The credentials API of the scaffold is tested with its own tenant rules (libs/servicekit).
    missing = {
        s for s in _all_descriptor_services() - covered if not s.startswith("labelops.admin")
    }
    assert missing == set()


def _leaks(body: bytes, request: Message, marks: tuple[str, ...]) -> list[str]:
    sent = request.SerializeToString()
    return [m for m in marks if m.encode() in body and m.encode() not in sent]


async def _tenant_a_events(s: Secured, actors: tuple[str, ...]) -> int:
    import asyncpg

    conn = await asyncpg.connect(s.pg_dsn)
    try:
        n = 0
        for schema in s.schemas.values():
            n += await conn.fetchval(
                f'SELECT count(*) FROM "{schema}".events'
                " WHERE tenant_id = 'tenant-a' AND actor_id = ANY($1::text[])",
                list(actors),
            )
        return n
    finally:
        await conn.close()


async def _audited(s: Secured, service: str, actor: str, path: str) -> bool:
    import asyncpg

    conn = await asyncpg.connect(s.pg_dsn)
    try:
        return bool(
            await conn.fetchval(
                f'SELECT count(*) FROM "{s.schemas[service]}".audit_log'
                " WHERE actor_id = $1 AND method = $2 AND outcome <> 'ok'",
                actor,
                path,
            )
        )
    finally:
        await conn.close()


async def _matrix(
    s: Secured, who: str, marks: tuple[str, ...], only: tuple[str, ...] | None = None
) -> list[str]:
    problems: list[str] = []
    a_ids = s.world.ids
    # One set of unknown ids for the whole run, so both sides evolve alike: when B's create
    # with A's id makes B's own resource, B's create with the unknown id makes one too, and
    # the calls after them meet B's own resources on both sides.
    unknown = random_ids(a_ids, only)
    caller = s.people[who]
    for service, desc in services():
        async with channel(s.system.targets[service], api_key=caller.key) as ch:
            for method in desc.methods:
                path = f"/{desc.full_name}/{method.name}"
                req_a = request_for(method, a_ids, service)
                req_r = request_for(method, unknown, service)
                got_a: Outcome = await call(ch, method, req_a)
                got_r: Outcome = await call(ch, method, req_r)
                if got_a.code != got_r.code:
                    problems.append(
                        f"{who} {path}: A's ids -> {got_a.code.name} ({got_a.details}),"
                        f" unknown ids -> {got_r.code.name}: existence leaks"
                    )
                leaked = _leaks(got_a.body, req_a, marks)
                if leaked:
                    problems.append(f"{who} {path}: the answer carries {leaked}")
                if got_a.code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
                    problems.append(f"{who} {path}: {got_a.code.name} {got_a.details}")
    return problems


async def test_tenant_b_gets_nothing_of_tenant_a_from_any_method(secured: Secured) -> None:
    before = await _tenant_a_events(secured, ("b-lead",))
    problems = await _matrix(secured, "b_admin", A_CONTENT)
    assert problems == [], "\n".join(problems)
    assert await _tenant_a_events(secured, ("b-lead",)) == before == 0


async def test_vendor_y_gets_nothing_of_vendor_x_from_any_method(secured: Secured) -> None:
    problems = await _matrix(secured, "vendor_y", X_CONTENT, VENDOR_IDS)
    assert problems == [], "\n".join(problems)
    assert await _tenant_a_events(secured, ("vy-bot",)) == 0


async def test_refusals_of_tenant_b_are_audited(secured: Secured) -> None:
    people, world = secured.people, secured.world
    probes = [
        ("ontology", "/labelops.ontology.v1.OntologyService/GetOntology"),
        ("ontology", "/labelops.ontology.v1.OntologyService/DeprecateOntology"),
        ("routing", "/labelops.routing.v1.RoutingService/GetTask"),
        ("routing", "/labelops.routing.v1.WorkforceService/SubmitLabels"),
    ]
    for service, path in probes:
        desc = next(d for svc, d in services() if d.full_name == path.split("/")[1])
        method = desc.methods_by_name[path.rsplit("/", 1)[1]]
        async with channel(secured.system.targets[service], api_key=people["b_admin"].key) as ch:
            out = await call(ch, method, request_for(method, world.ids, service))
        assert out.code != grpc.StatusCode.OK, path

    from labelops_testkit.waiting import eventually

    for service, path in probes:

        async def seen(service: str = service, path: str = path) -> bool:
            return await _audited(secured, service, "b-lead", path)

        await eventually(seen, timeout=15)


def _gold_fields(msg: Message, path: str = "") -> list[str]:
    """Paths of set gold flags / gold answers anywhere in ``msg``."""
    found = []
    for f, value in msg.ListFields():
        here = f"{path}.{f.name}" if path else f.name
        if f.name.startswith("gold") and f.type != FieldDescriptor.TYPE_MESSAGE and value:
            if f.name not in ("gold_rate", "gold_answered", "gold_accuracy"):
                found.append(here)
        if f.name == "gold_expected":
            found.append(here)
        if f.type == FieldDescriptor.TYPE_MESSAGE and not f.message_type.GetOptions().map_entry:
            items = value if repeated(f) else [value]
            for i, item in enumerate(items):
                found += _gold_fields(item, f"{here}[{i}]")
    return found


async def test_a_vendor_key_never_obtains_a_gold_answer_or_flag(secured: Secured) -> None:
    """Vendor X works the pool that holds the gold task: every read it can make, incl. the
    event log and claims, is free of gold flags and gold answers."""
    from google.protobuf import message_factory

    world, key = secured.world, secured.people["vendor_x"].key
    seen_ok = 0
    for service, desc in services():
        async with channel(secured.system.targets[service], api_key=key) as ch:
            for method in desc.methods:
                if method.client_streaming and not method.server_streaming:
                    continue
                req = request_for(method, world.ids, service)
                out = await call(ch, method, req)
                assert GOLD_MARK.encode() not in out.body, method.full_name
                if out.code != grpc.StatusCode.OK or not out.body:
                    continue
                seen_ok += 1
                resp = message_factory.GetMessageClass(method.output_type)()
                with contextlib.suppress(Exception):
                    resp.ParseFromString(out.body)
                    assert _gold_fields(resp) == [], method.full_name
    assert seen_ok > 0  # the vendor did read something: the test is not vacuous
    list_events = next(d for _, d in services() if d.name == "EventLogService").methods_by_name[
        "ListEvents"
    ]
    async with channel(secured.system.targets["routing"], api_key=key) as ch:
        out = await call(ch, list_events, request_for(list_events, {}, "routing"))
    assert out.code == grpc.StatusCode.PERMISSION_DENIED


async def test_tenant_a_sees_its_own_world(secured: Secured) -> None:
    """The positive control: the ids the matrix uses are real, A's admin reads them."""
    world, key = secured.world, secured.people["a_admin"].key
    ok: list[str] = []
    for service, desc in services():
        async with channel(secured.system.targets[service], api_key=key) as ch:
            for name in ("GetOntology", "GetDataset", "GetProject", "GetTask", "ListPools"):
                if name in desc.methods_by_name:
                    method = desc.methods_by_name[name]
                    out = await call(ch, method, request_for(method, world.ids, service))
                    assert out.code == grpc.StatusCode.OK, (name, out.details)
                    ok.append(name)
    assert sorted(ok) == sorted(("GetOntology", "GetDataset", "GetProject", "GetTask", "ListPools"))
    # A's dataset version is real too (a label accepted by QA, projected, cut): the datasets
    # rows of the matrix attack a version that exists.
    assert "dataset_id.datasets" in world.ids
    desc = next(d for svc, d in services() if svc == "datasets" and d.name == "DatasetService")
    method = desc.methods_by_name["GetDatasetVersion"]
    async with channel(secured.system.targets["datasets"], api_key=key) as ch:
        out = await call(ch, method, request_for(method, world.ids, "datasets"))
    assert out.code == grpc.StatusCode.OK, out.details
