"""OntologyVersions on real Postgres: two tenants publish the same ontology id and version with
different definitions; each tenant's labels are validated against its own definition, never the
other's (before, the second tenant's version was dropped as a duplicate)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
import pytest_asyncio
from labelops.labels.v1 import label_pb2 as L
from labelops.ontology.v1 import definition_pb2 as D
from labelops.ontology.v1 import events_pb2 as oev
from labelops_core.context import Principal, reset_principal, set_principal
from labelops_core.errors import FailedPrecondition
from labelops_ontologykit import OntologyVersions
from labelops_testkit.kafka import envelope

OID, VERSION = "animals", "1.0.0"


def acme_definition() -> D.OntologyDefinition:
    """A cat box with a required mood (happy asks why: a nested text) and an indoor flag."""
    d = D.OntologyDefinition()
    cat = d.classes.add(id="cat", name="Cat", geometry=D.GEOMETRY_KIND_BOUNDING_BOX)
    mood = cat.classifications.add(
        id="mood", name="Mood", kind=D.CLASSIFICATION_KIND_RADIO, required=True
    )
    happy = mood.options.add(id="happy", name="Happy")
    happy.classifications.add(id="why", name="Why", kind=D.CLASSIFICATION_KIND_TEXT)
    mood.options.add(id="grumpy", name="Grumpy")
    cat.attributes.add(id="indoor", name="Indoor", type=D.ATTRIBUTE_TYPE_BOOL)
    d.classes.add(id="mouse", name="Mouse", geometry=D.GEOMETRY_KIND_BOUNDING_BOX)
    d.relationships.add(
        id="chases",
        name="chases",
        from_class_id="cat",
        to_class_id="mouse",
        cardinality=D.CARDINALITY_MANY_TO_MANY,
    )
    return d


def globex_definition() -> D.OntologyDefinition:
    """The same ids mean something else: a cat box with a required weight, nothing more."""
    d = D.OntologyDefinition()
    cat = d.classes.add(id="cat", name="Cat", geometry=D.GEOMETRY_KIND_BOUNDING_BOX)
    cat.attributes.add(id="weight", name="Weight", type=D.ATTRIBUTE_TYPE_FLOAT, required=True)
    return d


def acme_label() -> L.ItemLabels:
    """Valid for acme: nested answers, an attribute, a relation."""
    item = L.ItemLabels(item_id="img-1", item=L.ItemContext(width=100, height=100))
    cat = item.labels.add(
        label_id="c1", class_id="cat", box=L.BoundingBox(x=1, y=1, width=20, height=20)
    )
    cat.answers.add(classification_id="mood", option_id="happy")
    cat.answers.add(classification_id="why", text="sunbeam")
    cat.attributes["indoor"].bool_value = True
    item.labels.add(
        label_id="m1", class_id="mouse", box=L.BoundingBox(x=50, y=50, width=5, height=5)
    )
    item.relations.add(relationship_id="chases", from_label_id="c1", to_label_id="m1")
    return item


def globex_label() -> L.ItemLabels:
    item = L.ItemLabels(item_id="img-1", item=L.ItemContext(width=100, height=100))
    cat = item.labels.add(
        label_id="c1", class_id="cat", box=L.BoundingBox(x=1, y=1, width=20, height=20)
    )
    cat.attributes["weight"].float_value = 4.2
    return item


def published(tenant: str, definition: D.OntologyDefinition) -> Any:
    env = envelope(
        oev.OntologyVersionPublished(ontology_id=OID, version=VERSION, definition=definition),
        f"tenants/{tenant}/ontologies/{OID}" if tenant else f"ontologies/{OID}",
    )
    env.tenant_id = tenant
    return SimpleNamespace(envelope=env)


@pytest_asyncio.fixture(loop_scope="session")
async def versions(pg_pool: Any, pg_schema: str) -> AsyncIterator[OntologyVersions]:
    table = f'"{pg_schema}".ontology_versions'
    await pg_pool.execute(
        f"CREATE TABLE {table} (tenant_id text NOT NULL, ontology_id text NOT NULL,"
        " version text NOT NULL, definition bytea NOT NULL,"
        " PRIMARY KEY (tenant_id, ontology_id, version))"
    )
    v = OntologyVersions(pg_pool, table)
    async with pg_pool.acquire() as conn:
        await v.on_event(published("acme", acme_definition()), conn)
        # The same id and version in another tenant, published second: kept, as its own.
        await v.on_event(published("globex", globex_definition()), conn)
    yield v


def reasons(issues: Any) -> list[tuple[str, str]]:
    return sorted((i.reason, i.field) for i in issues)


async def test_each_tenant_validates_against_its_own_definition(
    versions: OntologyVersions,
) -> None:
    acme = await versions.get(OID, VERSION, tenant="acme")
    globex = await versions.get(OID, VERSION, tenant="globex")
    assert acme.validate_item(acme_label()) == []
    assert globex.validate_item(globex_label()) == []
    # Each tenant's label is wrong by the other's definition, field by field.
    assert reasons(globex.validate_item(acme_label())) == [
        ("ILLEGAL_RELATION", "relations[0].relationship_id"),
        ("MISSING_REQUIRED", "attributes[weight]"),
        ("UNKNOWN_ATTRIBUTE", "attributes[indoor]"),
        ("UNKNOWN_CLASS", "class_id"),
        ("UNKNOWN_CLASSIFICATION", "answers[0].classification_id"),
        ("UNKNOWN_CLASSIFICATION", "answers[1].classification_id"),
    ]
    assert reasons(acme.validate_item(globex_label())) == [
        ("MISSING_REQUIRED", "answers"),
        ("UNKNOWN_ATTRIBUTE", "attributes[weight]"),
    ]
    assert (await versions.fetch(OID, VERSION, tenant="globex")) == globex_definition()
    assert (await versions.fetch(OID, VERSION, tenant="acme")) == acme_definition()


async def test_the_tenant_defaults_to_the_callers(versions: OntologyVersions) -> None:
    token = set_principal(Principal(subject="gina", tenant_id="globex"))
    try:
        assert await versions.known(OID, VERSION)
        compiled = await versions.get(OID, VERSION)
        assert compiled.validate_item(globex_label()) == []
        assert compiled.validate_item(acme_label()) != []
    finally:
        reset_principal(token)
    # No principal: the default tenant, which has published nothing.
    assert not await versions.known(OID, VERSION)


async def test_another_tenants_version_is_unknown(versions: OntologyVersions) -> None:
    assert await versions.known(OID, VERSION, tenant="acme")
    assert not await versions.known(OID, VERSION, tenant="initech")
    for read in (versions.fetch, versions.get):
        with pytest.raises(FailedPrecondition) as raised:
            await read(OID, VERSION, tenant="initech")
        assert raised.value.reason == "ONTOLOGY_VERSION_UNKNOWN"
    # A miss is not cached: once initech publishes, it is found.
    async with versions.pool.acquire() as conn:
        await versions.on_event(published("initech", globex_definition()), conn)
    assert (await versions.get(OID, VERSION, tenant="initech")).validate_item(globex_label()) == []


async def test_a_version_is_stored_once_per_tenant_and_a_tenantless_event_is_defaults(
    versions: OntologyVersions, pg_pool: Any
) -> None:
    async with pg_pool.acquire() as conn:
        # A redelivered or re-published version of the same tenant changes nothing.
        await versions.on_event(published("acme", globex_definition()), conn)
        await versions.on_event(published("", acme_definition()), conn)
    assert (await versions.fetch(OID, VERSION, tenant="acme")) == acme_definition()
    assert (await versions.fetch(OID, VERSION, tenant="default")) == acme_definition()
    rows = await pg_pool.fetch(f"SELECT tenant_id FROM {versions.table} ORDER BY tenant_id")
    assert [r["tenant_id"] for r in rows] == ["acme", "default", "globex"]
