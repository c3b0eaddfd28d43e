"""Who may call OntologyService: every method of the descriptor names an action (a new method
cannot be forgotten: the interceptor would refuse it), who holds each one, and whose stream an
ontology is."""

from __future__ import annotations

from labelops.ontology.v1 import ontology_pb2
from labelops_core.authz import Action, can, method_table
from labelops_core.context import Principal
from labelops_ontology.domain.events import stream_id
from labelops_ontology.entrypoints.access import METHOD_ACTIONS

SERVICE = ontology_pb2.DESCRIPTOR.services_by_name["OntologyService"]
WRITES = {
    "CreateOntology",
    "UpdateOntologyDraft",
    "PublishOntologyVersion",
    "CreateOntologyMigration",
    "DeprecateOntology",
}


def test_every_method_of_the_service_names_an_action() -> None:
    methods = [f"/{SERVICE.full_name}/{m.name}" for m in SERVICE.methods]
    assert method_table(METHOD_ACTIONS, methods) == []
    assert set(METHOD_ACTIONS) == set(methods)
    for m in SERVICE.methods:
        want = Action.ONTOLOGY_WRITE if m.name in WRITES else Action.ONTOLOGY_READ
        assert METHOD_ACTIONS[f"/{SERVICE.full_name}/{m.name}"] is want, m.name


def _p(kind: str = "user", *roles: str) -> Principal:
    return Principal("x", "acme", kind=kind, roles=frozenset(roles), vendor_id="v1")


def test_who_may_read_and_change_ontologies() -> None:
    # Workforces, models and tools label or check against ontologies: they read them.
    for reader in (_p("vendor"), _p("model"), _p("service"), _p("user"), _p("user", "reviewer")):
        assert can(reader, Action.ONTOLOGY_READ)
        assert not can(reader, Action.ONTOLOGY_WRITE)
    # Even a vendor / model key claiming admin holds only its kind's row.
    assert not can(_p("vendor", "admin"), Action.ONTOLOGY_WRITE)
    assert not can(_p("model", "admin"), Action.ONTOLOGY_WRITE)
    for writer in (_p("user", "admin"), _p("user", "ml_engineer")):
        assert can(writer, Action.ONTOLOGY_WRITE)


def test_an_ontologys_stream_is_its_tenants() -> None:
    assert stream_id("animals") == "ontologies/animals"  # the default tenant's, as before
    assert stream_id("animals", "acme") != stream_id("animals", "globex")
    assert stream_id("animals", "acme") != stream_id("animals")
