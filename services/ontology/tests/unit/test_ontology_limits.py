"""How large a decided change may be: given state and events →
allowed, or the error a caller sees (no Postgres, no Kafka)."""

from __future__ import annotations

import pytest
from labelops_core.errors import InvalidArgument, ResourceExhausted
from labelops_ontology.domain import commands as c
from labelops_ontology.domain import events as ev
from labelops_ontology.domain.limits import Limits, check_sizes
from labelops_ontology.domain.ontology import Ontology
from ontology_samples import add_class, at, vehicles

OID = "vehicles"


def decided(agg: Ontology, events: list[ev.Event]) -> Ontology:
    """``agg`` after ``events`` (what the handler checks before it appends)."""
    for e in events:
        agg.apply(e, ev.EventMeta(at(len(events)), "alice"))
    return agg


def created() -> Ontology:
    agg = Ontology(OID)
    return decided(agg, agg.create(c.CreateOntology(OID, "Vehicles", "", vehicles())))


# --- sizes -------------------------------------------------------------------------------------


def test_within_the_limits_nothing_is_refused() -> None:
    agg = Ontology(OID)
    cmd = c.CreateOntology(OID, "Vehicles", "", vehicles())
    events = agg.create(cmd)
    check_sizes(Limits(), cmd, decided(agg, events), events)


def test_a_definition_larger_than_a_draft_may_be_is_refused_on_the_definition() -> None:
    agg = Ontology(OID)
    cmd = c.CreateOntology(OID, "Vehicles", "", vehicles())
    events = agg.create(cmd)
    with pytest.raises(InvalidArgument) as info:
        check_sizes(
            Limits(max_event_bytes=10**6, max_draft_bytes=50), cmd, decided(agg, events), events
        )
    assert info.value.reason == "EVENT_TOO_LARGE"
    assert [v.field for v in info.value.violations] == ["definition"]
    assert "at most 50 bytes" in info.value.violations[0].description


def test_a_creation_event_over_the_event_limit_is_refused_on_the_definition() -> None:
    agg = Ontology(OID)
    cmd = c.CreateOntology(OID, "Vehicles", "", vehicles())
    events = agg.create(cmd)
    with pytest.raises(InvalidArgument) as info:
        check_sizes(
            Limits(max_event_bytes=100, max_draft_bytes=10**6), cmd, decided(agg, events), events
        )
    assert [v.field for v in info.value.violations] == ["definition"]
    assert "at most 100 bytes" in info.value.violations[0].description


def test_edits_over_the_event_limit_are_refused_on_the_edits() -> None:
    agg = created()
    cmd = c.UpdateOntologyDraft(OID, agg.draft_revision, [add_class("x" * 60)])
    events = agg.update_draft(cmd)
    with pytest.raises(InvalidArgument) as info:
        check_sizes(
            Limits(max_event_bytes=80, max_draft_bytes=10**6), cmd, decided(agg, events), events
        )
    assert info.value.reason == "EVENT_TOO_LARGE"
    assert [v.field for v in info.value.violations] == ["edits"]
    assert "split them" in info.value.violations[0].description


def test_a_draft_grown_past_the_draft_limit_is_refused_on_the_draft() -> None:
    agg = created()
    cmd = c.UpdateOntologyDraft(OID, agg.draft_revision, [add_class("bus")])
    events = agg.update_draft(cmd)
    limit = agg.draft.ByteSize() + 1  # room for the current draft, not for the added class
    with pytest.raises(InvalidArgument) as info:
        check_sizes(Limits(10**6, limit), cmd, decided(agg, events), events)
    assert [v.field for v in info.value.violations] == ["draft"]


def test_a_publication_over_the_event_limit_is_resource_exhausted() -> None:
    agg = created()
    cmd = c.PublishOntologyVersion(OID, agg.draft_revision)
    events = agg.publish(cmd)
    size = events[0].ByteSize()
    with pytest.raises(ResourceExhausted) as info:
        check_sizes(Limits(max_event_bytes=size - 1), cmd, decided(agg, events), events)
    assert info.value.reason == "EVENT_TOO_LARGE"
    assert info.value.metadata == {"size": str(size), "limit": str(size - 1)}


def test_the_draft_limit_is_reported_before_the_event_limit() -> None:
    """Both exceeded: the caller hears about the draft size, the number that leaves room for
    publishing."""
    agg = Ontology(OID)
    cmd = c.CreateOntology(OID, "Vehicles", "", vehicles())
    events = agg.create(cmd)
    with pytest.raises(InvalidArgument) as info:
        check_sizes(Limits(100, 100), cmd, decided(agg, events), events)
    assert "this deployment keeps drafts" in info.value.violations[0].description
