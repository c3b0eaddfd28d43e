"""Tenants and roles over gRPC, as an outsider would try them: another tenant's admin against
acme's ontology (NOT_FOUND / empty, nothing written), the same id in two tenants, vendor and
model keys (read, never write), hostile strings (INVALID_ARGUMENT)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
import pytest_asyncio
from labelops.ontology.v1 import ontology_pb2 as o
from labelops.ontology.v1 import ontology_pb2_grpc
from labelops_eventstore import NewEvent
from labelops_grpckit import Authenticator, channel
from labelops_ontology.adapters.repository import OntologyRepository
from labelops_ontology.bootstrap import App, build_app
from labelops_ontology.domain import events as ev
from ontology_grpc_support import fails, ontology_settings, serving, stored
from ontology_samples import add_class, car_label, item, vehicles

KEYS: dict[str, dict[str, Any]] = {
    "acme-admin-0123456789": {"subject": "alice", "tenant_id": "acme", "roles": ["admin"]},
    "acme-mle-012345678901": {"subject": "erin", "tenant_id": "acme", "roles": ["ml_engineer"]},
    "beta-admin-0123456789": {"subject": "bob", "tenant_id": "beta", "roles": ["admin"]},
    "acme-vendor-012345678": {
        "subject": "v1",
        "tenant_id": "acme",
        "kind": "vendor",
        "vendor_id": "v1",
        "roles": ["admin"],  # a vendor key claiming admin still holds only the vendor row
    },
    "acme-model-0123456789": {"subject": "sam", "tenant_id": "acme", "kind": "model"},
    "acme-reviewer-0123456": {"subject": "rita", "tenant_id": "acme", "roles": ["reviewer"]},
}

Stub = ontology_pb2_grpc.OntologyServiceStub


@pytest_asyncio.fixture(loop_scope="session")
async def app(pg_pool: Any, pg_schema: str, kafka_bootstrap: str, unique_name: str) -> Any:
    settings = ontology_settings(pg_schema, unique_name, kafka_bootstrap)
    async with build_app(settings, pool=pg_pool, authenticator=Authenticator(KEYS)) as app:
        yield app


@pytest_asyncio.fixture(loop_scope="session")
async def stubs(app: App) -> AsyncIterator[dict[str, Stub]]:
    channels = {k: channel(app.target, api_key=k) for k in KEYS}
    opened = {k: await c.__aenter__() for k, c in channels.items()}
    try:
        yield {k.rsplit("-", 1)[0]: Stub(ch) for k, ch in opened.items()}
    finally:
        for c in channels.values():
            await c.__aexit__(None, None, None)


async def _seed(acme: Stub) -> o.Ontology:
    """acme's "animals" with 1.0.0 and 1.1.0 published and a pending draft edit."""
    await acme.CreateOntology(
        o.CreateOntologyRequest(ontology_id="animals", display_name="A", definition=vehicles())
    )
    await acme.PublishOntologyVersion(
        o.PublishOntologyVersionRequest(ontology_id="animals", expected_revision=1)
    )
    await acme.UpdateOntologyDraft(
        o.UpdateOntologyDraftRequest(
            ontology_id="animals", expected_revision=1, edits=[add_class("bus")]
        )
    )
    await acme.PublishOntologyVersion(
        o.PublishOntologyVersionRequest(ontology_id="animals", expected_revision=2)
    )
    got = await acme.GetOntology(o.GetOntologyRequest(ontology_id="animals"))
    return got.ontology


def _every_call_on(oid: str) -> list[tuple[str, Any]]:
    """One request per method that names an ontology (all but Create and List)."""
    return [
        ("GetOntology", o.GetOntologyRequest(ontology_id=oid)),
        ("GetOntologyVersion", o.GetOntologyVersionRequest(ontology_id=oid, version="1.0.0")),
        ("GetOntologyVersion", o.GetOntologyVersionRequest(ontology_id=oid)),
        (
            "DiffOntologyVersions",
            o.DiffOntologyVersionsRequest(ontology_id=oid, from_version="1.0.0"),
        ),
        ("ValidateLabels", o.ValidateLabelsRequest(ontology_id=oid, items=[item(car_label())])),
        (
            "UpdateOntologyDraft",
            o.UpdateOntologyDraftRequest(
                ontology_id=oid, expected_revision=2, edits=[add_class("van")]
            ),
        ),
        (
            "PublishOntologyVersion",
            o.PublishOntologyVersionRequest(ontology_id=oid, expected_revision=2),
        ),
        (
            "CreateOntologyMigration",
            o.CreateOntologyMigrationRequest(
                ontology_id=oid, from_version="1.0.0", to_version="1.1.0"
            ),
        ),
        ("DeprecateOntology", o.DeprecateOntologyRequest(ontology_id=oid, reason="mine now")),
    ]


async def test_another_tenant_cannot_see_or_touch_an_ontology(
    app: App, stubs: dict[str, Stub], pg_pool: Any, pg_schema: str
) -> None:
    acme, beta = stubs["acme-admin"], stubs["beta-admin"]
    before = await _seed(acme)
    rows = await stored(pg_pool, pg_schema)
    for method, request in _every_call_on("animals"):
        err, _ = await fails(getattr(beta, method)(request), grpc.StatusCode.NOT_FOUND)
        # The same answer as for an id nobody has: nothing tells beta that acme has one.
        missing, _ = await fails(
            getattr(beta, method)(type(request)(**{**_fields(request), "ontology_id": "zebra"})),
            grpc.StatusCode.NOT_FOUND,
        )
        assert err.details().replace("animals", "zebra") == missing.details(), method
    listed = await beta.ListOntologies(o.ListOntologiesRequest(show_deprecated=True))
    assert list(listed.ontologies) == []
    assert await stored(pg_pool, pg_schema) == rows
    after = (await acme.GetOntology(o.GetOntologyRequest(ontology_id="animals"))).ontology
    assert after == before and after.state == o.ONTOLOGY_STATE_ACTIVE
    assert await serving(app.target)


def _fields(msg: Any) -> dict[str, Any]:
    return {f.name: v for f, v in msg.ListFields()}


async def test_two_tenants_may_each_have_the_same_ontology_id(stubs: dict[str, Stub]) -> None:
    acme, beta = stubs["acme-admin"], stubs["beta-admin"]
    await _seed(acme)
    # No ALREADY_EXISTS: beta's "animals" is beta's own, and learns nothing of acme's.
    mine = await beta.CreateOntology(
        o.CreateOntologyRequest(ontology_id="animals", display_name="B", definition=vehicles())
    )
    assert (mine.ontology.draft_revision, list(mine.ontology.versions)) == (1, [])
    await beta.DeprecateOntology(o.DeprecateOntologyRequest(ontology_id="animals"))
    theirs = (await acme.GetOntology(o.GetOntologyRequest(ontology_id="animals"))).ontology
    assert (theirs.display_name, theirs.state) == ("A", o.ONTOLOGY_STATE_ACTIVE)
    assert list(theirs.versions) == ["1.0.0", "1.1.0"]
    acme_list = await acme.ListOntologies(o.ListOntologiesRequest(show_deprecated=True))
    beta_list = await beta.ListOntologies(o.ListOntologiesRequest(show_deprecated=True))
    assert [x.display_name for x in acme_list.ontologies] == ["A"]
    assert [x.display_name for x in beta_list.ontologies] == ["B"]
    # beta validating against "animals" gets its own (no published version), never acme's.
    await fails(
        beta.ValidateLabels(o.ValidateLabelsRequest(ontology_id="animals", items=[item()])),
        grpc.StatusCode.NOT_FOUND,
    )


@pytest.mark.parametrize("who", ["acme-vendor", "acme-model", "acme-reviewer"])
async def test_workforces_models_and_reviewers_read_but_never_write(
    who: str, stubs: dict[str, Stub], pg_pool: Any, pg_schema: str
) -> None:
    await _seed(stubs["acme-admin"])
    stub = stubs[who]
    rows = await stored(pg_pool, pg_schema)
    got = await stub.GetOntology(o.GetOntologyRequest(ontology_id="animals"))
    assert got.ontology.versions == ["1.0.0", "1.1.0"]
    listed = await stub.ListOntologies(o.ListOntologiesRequest())
    assert [x.ontology_id for x in listed.ontologies] == ["animals"]
    checked = await stub.ValidateLabels(
        o.ValidateLabelsRequest(ontology_id="animals", items=[item(car_label())])
    )
    assert checked.valid_labels == 1
    writes = [(m, r) for m, r in _every_call_on("animals") if m in _WRITES]
    writes.append(
        ("CreateOntology", o.CreateOntologyRequest(display_name="x", definition=vehicles()))
    )
    assert {m for m, _ in writes} == _WRITES | {"CreateOntology"}
    for method, request in writes:
        await fails(
            getattr(stub, method)(request),
            grpc.StatusCode.PERMISSION_DENIED,
            "PERMISSION_DENIED_BY_ROLE",
        )
    assert await stored(pg_pool, pg_schema) == rows


_WRITES = {
    "UpdateOntologyDraft",
    "PublishOntologyVersion",
    "CreateOntologyMigration",
    "DeprecateOntology",
}


async def test_an_ml_engineer_may_change_ontologies(stubs: dict[str, Stub]) -> None:
    mle = stubs["acme-mle"]
    await _seed(mle)
    migration = await mle.CreateOntologyMigration(
        o.CreateOntologyMigrationRequest(
            ontology_id="animals", from_version="1.0.0", to_version="1.1.0"
        )
    )
    assert migration.migration.name == "ontologies/animals/migrations/1.0.0..1.1.0"


@pytest.mark.parametrize(
    "request_",
    [
        o.GetOntologyRequest(ontology_id="ani\x00mals"),
        o.GetOntologyRequest(ontology_id="a" * 100_000),
        o.CreateOntologyRequest(ontology_id="x", display_name="nul\x00", definition=vehicles()),
        o.CreateOntologyRequest(ontology_id="x", display_name="d" * 100_000),
        o.DeprecateOntologyRequest(ontology_id="animals", reason="\x01\x02"),
        o.ListOntologiesRequest(page_token="\x00" * 10),
    ],
    ids=["nul-id", "huge-id", "nul-name", "huge-name", "control-reason", "nul-token"],
)
async def test_hostile_strings_are_invalid_argument(
    request_: Any, app: App, stubs: dict[str, Stub], pg_pool: Any, pg_schema: str
) -> None:
    method = type(request_).__name__.removesuffix("Request")
    rows = await stored(pg_pool, pg_schema)
    _, fields = await fails(
        getattr(stubs["acme-admin"], method)(request_), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert fields
    assert await stored(pg_pool, pg_schema) == rows
    assert await serving(app.target)


async def test_an_ontology_stored_before_tenant_named_streams_is_still_its_tenants(
    app: App, stubs: dict[str, Stub]
) -> None:
    """acme's ontology whose events are on the old stream name (``ontologies/{id}``) loads and
    takes new events there; another tenant does not see it."""
    created = ev.ontology_created("legacy", "Legacy", "", vehicles())
    await app.store.append(
        "ontologies/legacy", 0, [NewEvent.of(created, tenant_id="acme")], request_id=None
    )
    repo = OntologyRepository(app.store)
    agg = await repo.load("acme", "legacy")
    assert agg.exists and agg.version == 1
    assert not (await repo.load("beta", "legacy")).exists
    assert not (await repo.load("default", "legacy")).exists
