"""The ontology service over gRPC against real Postgres and Kafka: the whole lifecycle."""

from __future__ import annotations

import uuid

import grpc
from labelops.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from labelops.labels.v1 import label_pb2 as lb
from labelops.ontology.v1 import events_pb2
from labelops.ontology.v1 import ontology_pb2 as o
from labelops_grpckit import channel
from ontology_grpc_support import API_KEY, fails, wait_for_envelopes
from ontology_samples import add_class, car_label, item, remove, rename, vehicles

LANE_GONE = [o.MigrationRule(drop_class=o.DropClassRule(class_id="lane"))]


async def test_ontology_full_lifecycle_create_edit_publish_diff_migrate_validate(
    ontology_stub, ontology_app, kafka_bootstrap, unique_name
) -> None:
    stub = ontology_stub
    # Create without an id: the service assigns a UUIDv7.
    created = (
        await stub.CreateOntology(
            o.CreateOntologyRequest(display_name="Road scenes", definition=vehicles())
        )
    ).ontology
    oid = created.ontology_id
    assert uuid.UUID(oid).version == 7
    assert created.name == f"ontologies/{oid}"
    assert (created.state, created.draft_revision, list(created.versions)) == (
        o.ONTOLOGY_STATE_ACTIVE,
        1,
        [],
    )
    assert (await stub.GetOntology(o.GetOntologyRequest(ontology_id=oid))).ontology == created

    async def edit(revision: int, *edits: o.DraftEdit) -> o.Ontology:
        resp = await stub.UpdateOntologyDraft(
            o.UpdateOntologyDraftRequest(ontology_id=oid, expected_revision=revision, edits=edits)
        )
        return resp.ontology

    async def publish(revision: int, version: str = "") -> o.OntologyVersion:
        resp = await stub.PublishOntologyVersion(
            o.PublishOntologyVersionRequest(
                ontology_id=oid, expected_revision=revision, version=version, notes=f"r{revision}"
            )
        )
        return resp.version

    draft = await edit(1, add_class("bus"))
    assert draft.draft_revision == 2
    assert [c.id for c in draft.draft.classes] == ["car", "person", "lane", "bus"]

    v1 = await publish(2)
    assert (v1.version, v1.name, v1.published_by) == (
        "1.0.0",
        f"ontologies/{oid}/versions/1.0.0",
        "alice",
    )
    assert list(v1.changes) == [] and len(v1.fingerprint) == 64

    # Publishing again without a change is refused.
    await fails(
        stub.PublishOntologyVersion(
            o.PublishOntologyVersionRequest(ontology_id=oid, expected_revision=2)
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "NO_CHANGES",
    )

    # A rename is not breaking: a patch release.
    await edit(2, rename("car", "automobile"))
    v101 = await publish(3)
    assert v101.version == "1.0.1"
    assert [(c.change, c.breaking) for c in v101.changes] == [(o.CHANGE_KIND_RENAMED, False)]

    # Removing a class is breaking: a major release.
    await edit(3, remove("lane"))
    v2 = await publish(4)
    assert v2.version == "2.0.0"
    assert any(c.change == o.CHANGE_KIND_REMOVED and c.breaking for c in v2.changes)

    # An existing version number never gets a second definition.
    await edit(4, add_class("van"))
    await fails(publish(5, "2.0.0"), grpc.StatusCode.FAILED_PRECONDITION, "VERSION_IMMUTABLE")

    got = await stub.GetOntologyVersion(o.GetOntologyVersionRequest(ontology_id=oid))
    assert got.version == v2
    old = await stub.GetOntologyVersion(
        o.GetOntologyVersionRequest(ontology_id=oid, version="1.0.0")
    )
    assert old.version == v1
    assert [c.id for c in old.version.definition.classes] == ["car", "person", "lane", "bus"]
    await fails(
        stub.GetOntologyVersion(o.GetOntologyVersionRequest(ontology_id=oid, version="1.0")),
        grpc.StatusCode.NOT_FOUND,
        "VERSION_NOT_FOUND",
    )

    # Diff between any two versions, or against the draft.
    diff = await stub.DiffOntologyVersions(
        o.DiffOntologyVersionsRequest(ontology_id=oid, from_version="1.0.0", to_version="2.0.0")
    )
    assert diff.breaking
    assert {c.change for c in diff.changes} == {o.CHANGE_KIND_RENAMED, o.CHANGE_KIND_REMOVED}
    pending = await stub.DiffOntologyVersions(o.DiffOntologyVersionsRequest(ontology_id=oid))
    assert not pending.breaking
    assert [(c.change, c.item_id) for c in pending.changes] == [(o.CHANGE_KIND_ADDED, "van")]

    # Migration 1.0.0 → 2.0.0; asking again returns the same one; other rules are refused.
    req = o.CreateOntologyMigrationRequest(
        ontology_id=oid, from_version="1.0.0", to_version="2.0.0", rules=LANE_GONE
    )
    mig = (await stub.CreateOntologyMigration(req)).migration
    assert mig.name == f"ontologies/{oid}/migrations/1.0.0..2.0.0"
    assert (await stub.CreateOntologyMigration(req)).migration == mig
    other = o.CreateOntologyMigrationRequest(
        ontology_id=oid,
        from_version="1.0.0",
        to_version="2.0.0",
        rules=[*LANE_GONE, o.MigrationRule(drop_class=o.DropClassRule(class_id="bus"))],
    )
    await fails(
        stub.CreateOntologyMigration(other),
        grpc.StatusCode.FAILED_PRECONDITION,
        "MIGRATION_IMMUTABLE",
    )
    backwards = o.CreateOntologyMigrationRequest(
        ontology_id=oid, from_version="2.0.0", to_version="1.0.0"
    )
    _, fields = await fails(
        stub.CreateOntologyMigration(backwards), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert fields == ["to_version"]
    uncovered = o.CreateOntologyMigrationRequest(
        ontology_id=oid, from_version="1.0.1", to_version="2.0.0"
    )
    _, fields = await fails(
        stub.CreateOntologyMigration(uncovered),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_MIGRATION",
    )
    assert fields == ["rules"]

    # Labels: validated against the latest (2.0.0) and an older version.
    lane = lb.Label(
        label_id="l2",
        class_id="lane",
        polyline=lb.Polyline(points=[lb.Point2D(x=1, y=1), lb.Point2D(x=5, y=5)]),
    )
    latest = await stub.ValidateLabels(
        o.ValidateLabelsRequest(ontology_id=oid, items=[item(car_label(), lane)])
    )
    assert (latest.version, latest.valid_labels, latest.invalid_labels) == ("2.0.0", 1, 1)
    assert [(v.label_index, v.reason) for v in latest.violations] == [(1, "UNKNOWN_CLASS")]
    older = await stub.ValidateLabels(
        o.ValidateLabelsRequest(ontology_id=oid, version="1.0.0", items=[item(car_label(), lane)])
    )
    assert (older.version, older.valid_labels, older.invalid_labels) == ("1.0.0", 2, 0)

    # The stream on Kafka: every event, in order, with the right types.
    topic = f"labelops.{unique_name}.events.v1"
    envelopes = await wait_for_envelopes(kafka_bootstrap, topic, 9)
    mine = [e for e in envelopes if e.stream_id == f"tenants/acme/ontologies/{oid}"]
    assert [(e.stream_version, e.type.rsplit(".", 1)[1]) for e in mine] == [
        (1, "OntologyCreated"),
        (2, "OntologyDraftUpdated"),
        (3, "OntologyVersionPublished"),
        (4, "OntologyDraftUpdated"),
        (5, "OntologyVersionPublished"),
        (6, "OntologyDraftUpdated"),
        (7, "OntologyVersionPublished"),
        (8, "OntologyDraftUpdated"),
        (9, "OntologyMigrationCreated"),
    ]
    assert {(e.source, e.tenant_id, e.actor.id) for e in mine} == {(unique_name, "acme", "alice")}
    published = events_pb2.OntologyVersionPublished.FromString(mine[6].payload)
    assert (published.version, published.previous_version, published.breaking) == (
        "2.0.0",
        "1.0.1",
        True,
    )
    assert published.definition == v2.definition and published.fingerprint == v2.fingerprint

    # The same history through the EventLogService every labelops service mounts.
    async with channel(ontology_app.target, api_key=API_KEY) as ch:
        log = eventlog_pb2_grpc.EventLogServiceStub(ch)
        stream = await log.ReadStream(
            eventlog_pb2.ReadStreamRequest(stream_id=f"tenants/acme/ontologies/{oid}")
        )
    assert [e.event_id for e in stream.events] == [e.event_id for e in mine]


async def test_ontology_deprecation_hides_it_from_listing_but_keeps_versions(
    ontology_stub,
) -> None:
    stub = ontology_stub
    for oid in ("alpha", "beta", "gamma"):
        await stub.CreateOntology(
            o.CreateOntologyRequest(
                ontology_id=oid, display_name=oid.title(), definition=vehicles()
            )
        )
    await stub.PublishOntologyVersion(
        o.PublishOntologyVersionRequest(ontology_id="beta", expected_revision=1)
    )
    dep = await stub.DeprecateOntology(
        o.DeprecateOntologyRequest(ontology_id="beta", reason="replaced by gamma")
    )
    assert dep.ontology.state == o.ONTOLOGY_STATE_DEPRECATED

    async def all_pages(show_deprecated: bool) -> list[str]:
        ids, token = [], ""
        while True:
            page = await stub.ListOntologies(
                o.ListOntologiesRequest(
                    page_size=1, page_token=token, show_deprecated=show_deprecated
                )
            )
            assert len(page.ontologies) <= 1
            assert all(not x.HasField("draft") for x in page.ontologies)
            ids += [x.ontology_id for x in page.ontologies]
            token = page.next_page_token
            if not token:
                return ids

    assert await all_pages(False) == ["alpha", "gamma"]
    assert await all_pages(True) == ["alpha", "beta", "gamma"]
    first = await stub.ListOntologies(o.ListOntologiesRequest(page_size=1))
    _, fields = await fails(
        stub.ListOntologies(
            o.ListOntologiesRequest(page_token=first.next_page_token, show_deprecated=True)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert fields == ["page_token"]

    # A deprecated ontology takes no edits or versions, but its versions stay usable.
    await fails(
        stub.UpdateOntologyDraft(
            o.UpdateOntologyDraftRequest(
                ontology_id="beta", expected_revision=1, edits=[add_class("bus")]
            )
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ONTOLOGY_DEPRECATED",
    )
    await fails(
        stub.PublishOntologyVersion(
            o.PublishOntologyVersionRequest(
                ontology_id="beta", expected_revision=1, version="1.1.0"
            )
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ONTOLOGY_DEPRECATED",
    )
    await fails(
        stub.DeprecateOntology(o.DeprecateOntologyRequest(ontology_id="beta")),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ONTOLOGY_DEPRECATED",
    )
    checked = await stub.ValidateLabels(
        o.ValidateLabelsRequest(ontology_id="beta", items=[item(car_label())])
    )
    assert (checked.version, checked.valid_labels) == ("1.0.0", 1)
