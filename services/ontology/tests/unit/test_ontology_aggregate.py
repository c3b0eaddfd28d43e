"""The ontology aggregate: given events / when command / then events (or error)."""

from __future__ import annotations

import pytest
from labelops.ontology.v1 import definition_pb2 as d
from labelops.ontology.v1 import events_pb2 as e
from labelops.ontology.v1 import ontology_pb2 as o
from labelops_core.errors import (
    Aborted,
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from labelops_ontology.domain import commands as c
from labelops_ontology.domain import events as ev
from labelops_ontology.domain.errors import ReplayError
from labelops_ontology.domain.ontology import DEPRECATED, Ontology
from labelops_ontologykit import fingerprint
from ontology_samples import add_class, at, remove, rename, vehicles

OID = "vehicles"


def given(*events: ev.Event) -> Ontology:
    """The aggregate after ``events``, one minute apart, by alice."""
    return Ontology.rebuild(OID, ((x, ev.EventMeta(at(i), "alice")) for i, x in enumerate(events)))


def created(definition: d.OntologyDefinition | None = None) -> e.OntologyCreated:
    return ev.ontology_created(OID, "Vehicles", "road scenes", definition or vehicles())


def updated(revision: int, *edits: o.DraftEdit) -> e.OntologyDraftUpdated:
    return ev.draft_updated(OID, list(edits), revision)


def published(agg: Ontology, version: str | None = None) -> e.OntologyVersionPublished:
    """What publishing the current draft of ``agg`` decides."""
    (event,) = agg.publish(c.PublishOntologyVersion(OID, agg.draft_revision, version or ""))
    assert isinstance(event, e.OntologyVersionPublished)
    return event


def raised(exc_type: type[DomainError], fn, *args) -> DomainError:  # type: ignore[no-untyped-def]
    with pytest.raises(exc_type) as info:
        fn(*args)
    return info.value


def fields(err: DomainError) -> list[str]:
    assert isinstance(err, InvalidArgument)
    return [v.field for v in err.violations]


# --- create -----------------------------------------------------------------------------------


def test_create_decides_ontology_created() -> None:
    cmd = c.CreateOntology(OID, " Vehicles ", "road scenes", vehicles())
    assert given().create(cmd) == [created()]


def test_create_existing_id_is_already_exists() -> None:
    err = raised(AlreadyExists, given(created()).create, c.CreateOntology(OID, "X", "", vehicles()))
    assert err.reason == "ONTOLOGY_ALREADY_EXISTS"


@pytest.mark.parametrize("bad_id", ["ab", "Vehicles", "-cars", "cars-", "cars_1", "x" * 64])
def test_create_checks_the_id_format(bad_id: str) -> None:
    agg = Ontology(bad_id)
    err = raised(InvalidArgument, agg.create, c.CreateOntology(bad_id, "X", "", vehicles()))
    assert fields(err) == ["ontology_id"]


def test_create_accepts_uuid_and_slug_ids() -> None:
    for ok in ("0190d6b2-9a1f-7cc4-8a3e-5b1f2e3d4c5b", "road-scenes-2", "abc"):
        assert Ontology(ok).create(c.CreateOntology(ok, "X", "", vehicles()))


def test_create_reports_every_bad_field_with_paths_into_the_request() -> None:
    definition = vehicles()
    definition.classes[1].geometry = d.GEOMETRY_KIND_UNSPECIFIED
    definition.classes[2].name = "CAR"
    err = raised(InvalidArgument, given().create, c.CreateOntology(OID, "", "", definition))
    assert err.reason == "INVALID_DEFINITION"
    assert fields(err) == [
        "display_name",
        "definition.classes[1].geometry",
        "definition.classes[2].name",
    ]


def test_create_with_a_10_mb_definition_names_the_size_limit() -> None:
    definition = vehicles()
    definition.classes[0].description = "x" * (10 * 1024 * 1024)
    err = raised(InvalidArgument, given().create, c.CreateOntology(OID, "X", "", definition))
    assert fields(err) == ["definition"]
    assert "limit is 2097152" in err.violations[0].description  # type: ignore[attr-defined]


# --- update draft -----------------------------------------------------------------------------


def test_update_draft_decides_the_next_revision_with_the_edits() -> None:
    agg = given(created(), updated(2, add_class("bus")))
    cmd = c.UpdateOntologyDraft(OID, 2, [rename("bus", "coach")])
    assert agg.update_draft(cmd) == [updated(3, rename("bus", "coach"))]


def test_rebuilt_state_replays_the_edits() -> None:
    agg = given(created(), updated(2, add_class("bus")), updated(3, remove("lane")))
    assert [x.id for x in agg.draft.classes] == ["car", "person", "bus"]
    assert (agg.draft_revision, agg.version, agg.update_time) == (3, 3, at(2))
    view = agg.to_proto()
    assert view.name == "ontologies/vehicles"
    assert view.create_time.ToDatetime().replace(tzinfo=at(0).tzinfo) == at(0)


def test_update_with_a_stale_revision_is_aborted() -> None:
    agg = given(created(), updated(2, add_class("bus")))
    err = raised(Aborted, agg.update_draft, c.UpdateOntologyDraft(OID, 1, [add_class("van")]))
    assert err.reason == "DRAFT_REVISION_MISMATCH"
    assert err.metadata == {
        "ontology_id": OID,
        "expected_revision": "1",
        "current_revision": "2",
    }


def test_update_needs_a_revision_and_edits() -> None:
    agg = given(created())
    err = raised(InvalidArgument, agg.update_draft, c.UpdateOntologyDraft(OID, 0, []))
    assert fields(err) == ["expected_revision", "edits"]


def test_update_whose_result_is_invalid_is_refused_with_draft_paths() -> None:
    agg = given(created())
    err = raised(
        InvalidArgument, agg.update_draft, c.UpdateOntologyDraft(OID, 1, [rename("lane", "Car")])
    )
    assert err.reason == "INVALID_DEFINITION"
    assert fields(err) == ["draft.classes[2].name"]


def test_update_with_an_edit_that_cannot_apply_names_the_edit() -> None:
    agg = given(created())
    cmd = c.UpdateOntologyDraft(OID, 1, [add_class("bus"), remove("ghost")])
    assert fields(raised(InvalidArgument, agg.update_draft, cmd)) == ["edits[1].remove.item_id"]


def test_update_of_unknown_or_deprecated_ontology() -> None:
    cmd = c.UpdateOntologyDraft(OID, 1, [add_class("bus")])
    assert raised(NotFound, given().update_draft, cmd).reason == "ONTOLOGY_NOT_FOUND"
    agg = given(created(), ev.ontology_deprecated(OID, "replaced"))
    assert raised(FailedPrecondition, agg.update_draft, cmd).reason == "ONTOLOGY_DEPRECATED"


# --- publish ----------------------------------------------------------------------------------


def test_first_publication_is_1_0_0_with_the_full_definition() -> None:
    agg = given(created())
    (event,) = agg.publish(c.PublishOntologyVersion(OID, 1, notes="first"))
    assert event == e.OntologyVersionPublished(
        ontology_id=OID,
        version="1.0.0",
        definition=vehicles(),
        fingerprint=fingerprint(vehicles()),
        notes="first",
        draft_revision=1,
    )


def test_publishing_without_changes_is_no_changes() -> None:
    history: list[ev.Event] = [created()]
    history.append(published(given(*history)))
    err = raised(FailedPrecondition, given(*history).publish, c.PublishOntologyVersion(OID, 1))
    assert err.reason == "NO_CHANGES"
    assert err.metadata["latest_version"] == "1.0.0"
    # Edits that cancel out are no change either.
    history += [updated(2, add_class("x")), updated(3, remove("x"))]
    err = raised(FailedPrecondition, given(*history).publish, c.PublishOntologyVersion(OID, 3))
    assert err.reason == "NO_CHANGES"


def test_version_numbers_follow_the_semantic_diff() -> None:
    history: list[ev.Event] = [created()]

    def step(*edits: o.DraftEdit) -> e.OntologyVersionPublished:
        agg = given(*history)
        if edits:
            (upd,) = agg.update_draft(c.UpdateOntologyDraft(OID, agg.draft_revision, list(edits)))
            history.append(upd)
            agg = given(*history)
        event = published(agg)
        history.append(event)
        return event

    assert step().version == "1.0.0"
    renamed = step(rename("car", "automobile"))
    assert (renamed.version, renamed.breaking, renamed.previous_version) == (
        "1.0.1",
        False,
        "1.0.0",
    )
    assert [x.change for x in renamed.changes] == [o.CHANGE_KIND_RENAMED]
    assert step(add_class("bus")).version == "1.1.0"
    removed = step(remove("lane"))
    assert (removed.version, removed.breaking) == ("2.0.0", True)
    agg = given(*history)
    assert agg.version_names == ["1.0.0", "1.0.1", "1.1.0", "2.0.0"]
    assert agg.latest is not None and agg.latest.published_by == "alice"


def _published_once() -> list[ev.Event]:
    history: list[ev.Event] = [created()]
    history.append(published(given(*history)))
    history.append(updated(2, remove("lane")))
    return history


def test_explicit_version_must_not_exist_already() -> None:
    agg = given(*_published_once())
    err = raised(FailedPrecondition, agg.publish, c.PublishOntologyVersion(OID, 2, "1.0.0"))
    assert err.reason == "VERSION_IMMUTABLE"
    assert "never changes" in err.message


def test_explicit_version_is_checked_against_the_changes() -> None:
    agg = given(*_published_once())
    err = raised(InvalidArgument, agg.publish, c.PublishOntologyVersion(OID, 2, "1.1.0"))
    assert err.reason == "INVALID_VERSION"
    assert fields(err) == ["version"]
    assert "breaking" in err.violations[0].description  # type: ignore[attr-defined]
    assert fields(raised(InvalidArgument, agg.publish, c.PublishOntologyVersion(OID, 2, "v3")))
    (event,) = agg.publish(c.PublishOntologyVersion(OID, 2, "3.0.0"))
    assert isinstance(event, e.OntologyVersionPublished) and event.version == "3.0.0"


def test_publish_with_stale_revision_or_alias_version_or_deprecated() -> None:
    agg = given(*_published_once())
    assert (
        raised(Aborted, agg.publish, c.PublishOntologyVersion(OID, 1)).reason
        == "DRAFT_REVISION_MISMATCH"
    )
    assert fields(raised(InvalidArgument, agg.publish, c.PublishOntologyVersion(OID, 2, "latest")))
    assert fields(raised(InvalidArgument, agg.publish, c.PublishOntologyVersion(OID, 0))) == [
        "expected_revision"
    ]
    agg = given(*_published_once(), ev.ontology_deprecated(OID, ""))
    err = raised(FailedPrecondition, agg.publish, c.PublishOntologyVersion(OID, 2))
    assert err.reason == "ONTOLOGY_DEPRECATED"


def test_a_published_version_keeps_its_definition_while_the_draft_moves_on() -> None:
    agg = given(*_published_once(), updated(3, add_class("bus")))
    assert [x.id for x in agg.find_version("1.0.0").definition.classes] == ["car", "person", "lane"]
    assert [x.id for x in agg.draft.classes] == ["car", "person", "bus"]
    assert agg.find_version("latest").version == "1.0.0"
    err = raised(NotFound, agg.find_version, "9.9.9")
    assert err.reason == "VERSION_NOT_FOUND" and "published: 1.0.0" in err.message


# --- migrations -------------------------------------------------------------------------------


def _two_versions() -> list[ev.Event]:
    history = _published_once()
    history.append(published(given(*history)))  # 2.0.0 without "lane"
    return history


DROP_LANE = [o.MigrationRule(drop_class=o.DropClassRule(class_id="lane"))]


def test_create_migration_decides_migration_created() -> None:
    agg = given(*_two_versions())
    cmd = c.CreateOntologyMigration(OID, "1.0.0", "2.0.0", DROP_LANE)
    assert agg.create_migration(cmd) == [ev.migration_created(OID, "1.0.0", "2.0.0", DROP_LANE)]


def test_same_migration_again_is_no_event_other_rules_are_immutable() -> None:
    history = _two_versions()
    history.append(ev.migration_created(OID, "1.0.0", "2.0.0", DROP_LANE))
    agg = given(*history)
    assert agg.create_migration(c.CreateOntologyMigration(OID, "1.0.0", "2.0.0", DROP_LANE)) == []
    other = [o.MigrationRule(map_class=o.MapClassRule(from_class_id="lane", to_class_id="car"))]
    err = raised(
        FailedPrecondition,
        agg.create_migration,
        c.CreateOntologyMigration(OID, "1.0.0", "2.0.0", other),
    )
    assert err.reason == "MIGRATION_IMMUTABLE"
    assert agg.migrations[("1.0.0", "2.0.0")].to_proto(OID).name == (
        "ontologies/vehicles/migrations/1.0.0..2.0.0"
    )


def test_migration_versions_must_exist_and_go_forward() -> None:
    agg = given(*_two_versions())
    err = raised(
        NotFound, agg.create_migration, c.CreateOntologyMigration(OID, "1.0.0", "7.0.0", [])
    )
    assert err.reason == "VERSION_NOT_FOUND"
    err = raised(
        InvalidArgument,
        agg.create_migration,
        c.CreateOntologyMigration(OID, "2.0.0", "1.0.0", DROP_LANE),
    )
    assert fields(err) == ["to_version"]
    err = raised(InvalidArgument, agg.create_migration, c.CreateOntologyMigration(OID, "", "", []))
    assert fields(err) == ["from_version", "to_version"]


def test_migration_must_cover_removed_classes() -> None:
    agg = given(*_two_versions())
    err = raised(
        InvalidArgument, agg.create_migration, c.CreateOntologyMigration(OID, "1.0.0", "2.0.0", [])
    )
    assert err.reason == "INVALID_MIGRATION"
    assert fields(err) == ["rules"]
    assert "'lane'" in err.violations[0].description  # type: ignore[attr-defined]


# --- deprecate --------------------------------------------------------------------------------


def test_deprecate_once() -> None:
    agg = given(created())
    cmd = c.DeprecateOntology(OID, "replaced by vehicles-v2")
    assert agg.deprecate(cmd) == [ev.ontology_deprecated(OID, "replaced by vehicles-v2")]
    agg = given(created(), ev.ontology_deprecated(OID, "replaced by vehicles-v2"))
    assert agg.state == DEPRECATED
    assert raised(FailedPrecondition, agg.deprecate, cmd).reason == "ONTOLOGY_DEPRECATED"
    assert raised(NotFound, given().deprecate, cmd).reason == "ONTOLOGY_NOT_FOUND"


def test_deprecated_ontology_still_takes_migrations() -> None:
    agg = given(*_two_versions(), ev.ontology_deprecated(OID, ""))
    cmd = c.CreateOntologyMigration(OID, "1.0.0", "2.0.0", DROP_LANE)
    assert len(agg.create_migration(cmd)) == 1


# --- replay -----------------------------------------------------------------------------------


def test_replaying_a_broken_stream_is_an_internal_error_not_a_user_error() -> None:
    with pytest.raises(ReplayError):
        given(created(), updated(2, remove("ghost")))
    with pytest.raises(ReplayError):
        given(created(), created())


def test_events_round_trip_through_their_type_names() -> None:
    for event in (created(), updated(2, add_class("bus")), ev.ontology_deprecated(OID, "x")):
        assert ev.decode(ev.event_type(event), event.SerializeToString()) == event
    assert ev.event_type(created()) == "labelops.ontology.v1.OntologyCreated"
    assert ev.stream_id(OID) == "ontologies/vehicles"
