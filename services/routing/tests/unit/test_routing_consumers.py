"""The consumers' dispatch table: every event routing consumes, under the consumer names that
deployments' groups and dedup rows already carry, each reading its producer's topic."""

from __future__ import annotations

from labelops_bus.dispatch import Dispatch
from labelops_routing.entrypoints.consumers import RoutingConsumers

EXPECTED = {
    ("curation-items", "labelops.curation.v1.ItemRegistered"),
    ("curation-items", "labelops.curation.v1.ItemsCurated"),
    ("ontology-versions", "labelops.ontology.v1.OntologyVersionPublished"),
    ("qa-relabel", "labelops.qa.v1.LabelRejected"),
    ("qa-relabel", "labelops.qa.v1.LabelIssueFlagged"),
    ("prelabel-signals", "labelops.prelabel.v1.PreLabelProposed"),
    ("prelabel-signals", "labelops.prelabel.v1.PriorityScored"),
}


def test_the_table_names_every_event_routing_consumes() -> None:
    rows = list(RoutingConsumers.table())
    assert {(r.consumer, r.type_name) for r, _ in rows} == EXPECTED
    assert all(r.why and r.why == r.why.strip() and r.why[0].islower() for r, _ in rows)


def test_each_consumer_reads_its_producers_topic_one_record_at_a_time() -> None:
    dispatchers = RoutingConsumers(projections=None, ontologies=None).dispatchers()  # type: ignore[arg-type]
    assert {name: d.producer for name, d in dispatchers.items()} == {
        "curation-items": "curation",
        "ontology-versions": "ontology",
        "qa-relabel": "qa",
        "prelabel-signals": "prelabel",
    }
    assert all(isinstance(d, Dispatch) for d in dispatchers.values())


def test_ontology_versions_are_stored_as_published() -> None:
    # OntologyVersions stores the payload as it came: the table hands it the envelope.
    (row,) = [r for r, _ in RoutingConsumers.table() if r.consumer == "ontology-versions"]
    assert row.decode is False
