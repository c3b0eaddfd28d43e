"""Bad input over gRPC: the right status and field violations, nothing stored, still SERVING."""

from __future__ import annotations

import grpc
import pytest
from labelops.labels.v1 import label_pb2 as lb
from labelops.ontology.v1 import definition_pb2 as d
from labelops.ontology.v1 import ontology_pb2 as o
from labelops.ontology.v1 import ontology_pb2_grpc
from labelops_core.errors import ResourceExhausted
from labelops_grpckit import Authenticator, channel
from labelops_ontology.adapters.repository import OntologyRepository
from labelops_ontology.application.handlers import Limits, OntologyHandlers
from labelops_ontology.bootstrap import build_app
from labelops_ontology.domain import commands as c
from ontology_grpc_support import fails, ontology_settings, serving, stored
from ontology_samples import add_class, car_label, item, move, rename, vehicles

MIB = 1024 * 1024


@pytest.fixture
async def seeded(ontology_stub, pg_pool, pg_schema):
    """Ontology "vehicles" with version 1.0.0 published; yields a checker that asserts nothing
    was stored since and the server still serves."""
    await ontology_stub.CreateOntology(
        o.CreateOntologyRequest(
            ontology_id="vehicles", display_name="Vehicles", definition=vehicles()
        )
    )
    await ontology_stub.PublishOntologyVersion(
        o.PublishOntologyVersionRequest(ontology_id="vehicles", expected_revision=1)
    )
    before = await stored(pg_pool, pg_schema)
    assert before["events"] == 2

    async def unchanged(target: str) -> None:
        assert await stored(pg_pool, pg_schema) == before
        assert await serving(target)

    return unchanged


def _definition_of(nbytes: int) -> d.OntologyDefinition:
    """About ``nbytes`` of valid definition, in classes whose descriptions stay within the
    generic per-string cap (a single huge string is refused before the service sees it)."""
    definition = vehicles()
    chunk = 8000
    for i in range(nbytes // chunk + 1):
        definition.classes.add(
            id=f"filler-{i}",
            name=f"filler {i}",
            geometry=d.GEOMETRY_KIND_BOUNDING_BOX,
            description="x" * chunk,
        )
    return definition


async def test_malformed_definition_on_create_lists_every_problem(
    ontology_stub, ontology_app, seeded
) -> None:
    definition = vehicles()
    definition.classes[0].classifications[0].kind = d.CLASSIFICATION_KIND_TEXT  # has options
    definition.classes[1].id = "Person!"
    definition.relationships[0].to_class_id = "plane"
    err, fields = await fails(
        ontology_stub.CreateOntology(
            o.CreateOntologyRequest(ontology_id="broken", display_name="B", definition=definition)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_DEFINITION",
    )
    assert fields == [
        "definition.classes[0].classifications[0].options",
        "definition.classes[1].id",
        "definition.relationships[0].from_class_id",
        "definition.relationships[0].to_class_id",
    ]
    assert "cannot be created" in err.details()
    await seeded(ontology_app.target)


async def test_bad_ids_and_duplicates_on_create(ontology_stub, ontology_app, seeded) -> None:
    _, fields = await fails(
        ontology_stub.CreateOntology(
            o.CreateOntologyRequest(ontology_id="Bad_Id", display_name="x", definition=vehicles())
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert fields == ["ontology_id"]
    await fails(
        ontology_stub.CreateOntology(
            o.CreateOntologyRequest(ontology_id="vehicles", display_name="again")
        ),
        grpc.StatusCode.ALREADY_EXISTS,
        "ONTOLOGY_ALREADY_EXISTS",
    )
    await fails(
        ontology_stub.GetOntology(o.GetOntologyRequest(ontology_id="nope")),
        grpc.StatusCode.NOT_FOUND,
        "ONTOLOGY_NOT_FOUND",
    )
    _, fields = await fails(
        ontology_stub.GetOntology(o.GetOntologyRequest()), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert fields == ["ontology_id"]
    await seeded(ontology_app.target)


async def test_10_mb_definition_is_invalid_argument_about_the_size_limit(
    ontology_stub, ontology_app, seeded
) -> None:
    err, fields = await fails(
        ontology_stub.CreateOntology(
            o.CreateOntologyRequest(
                ontology_id="huge", display_name="Huge", definition=_definition_of(10 * MIB)
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_DEFINITION",
    )
    assert fields == ["definition"]
    assert "the limit is 2097152" in err.details()
    await seeded(ontology_app.target)


async def test_definition_too_large_for_one_event_is_refused_before_it_is_stored(
    ontology_stub, ontology_app, seeded
) -> None:
    # Valid for ontologykit (< 2 MiB) but larger than an event of this deployment may be: the
    # outbox relay could never publish it, so it must not be stored.
    err, fields = await fails(
        ontology_stub.CreateOntology(
            o.CreateOntologyRequest(
                ontology_id="big", display_name="Big", definition=_definition_of(MIB)
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "EVENT_TOO_LARGE",
    )
    assert fields == ["definition"]
    assert "LABELOPS_ONTOLOGY_MAX_EVENT_BYTES" in err.details()
    await seeded(ontology_app.target)


async def test_request_over_16_mib_is_resource_exhausted_from_grpc(
    ontology_stub, ontology_app, seeded
) -> None:
    await fails(
        ontology_stub.CreateOntology(
            o.CreateOntologyRequest(
                ontology_id="giant", display_name="Giant", definition=_definition_of(17 * MIB)
            )
        ),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    )
    await seeded(ontology_app.target)


async def test_draft_edits_that_cannot_apply_or_leave_an_invalid_draft(
    ontology_stub, ontology_app, seeded
) -> None:
    async def update(*edits: o.DraftEdit, revision: int = 1):
        return await fails(
            ontology_stub.UpdateOntologyDraft(
                o.UpdateOntologyDraftRequest(
                    ontology_id="vehicles", expected_revision=revision, edits=edits
                )
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )

    err, fields = await update(add_class("bus"), rename("bus", "coach"), move("occluded", "red"))
    assert fields == ["edits[2].move.new_parent_id"]
    assert "an attribute belongs to a class" in err.details()
    # Each edit is fine on its own; together they give two classes the same name.
    err, fields = await update(add_class("bus"), rename("bus", "Person"))
    assert fields == ["draft.classes[3].name"]
    assert "nothing was changed" in err.details()
    _, fields = await update()
    assert fields == ["edits"]
    _, fields = await update(add_class("bus"), revision=0)
    assert fields == ["expected_revision"]
    await fails(
        ontology_stub.UpdateOntologyDraft(
            o.UpdateOntologyDraftRequest(
                ontology_id="vehicles", expected_revision=7, edits=[add_class("bus")]
            )
        ),
        grpc.StatusCode.ABORTED,
        "DRAFT_REVISION_MISMATCH",
    )
    await seeded(ontology_app.target)


async def test_bad_labels_are_violations_in_the_answer_not_errors(
    ontology_stub, ontology_app, seeded
) -> None:
    labels = [
        car_label("ok"),
        lb.Label(label_id="u", class_id="plane", box=lb.BoundingBox(x=1, y=1, width=2, height=2)),
        lb.Label(label_id="g", class_id="person", point=lb.Point2D(x=1, y=1)),
        car_label("oob", x=600, width=100),
        lb.Label(label_id="m", class_id="car", box=lb.BoundingBox(x=1, y=1, width=2, height=2)),
        lb.Label(
            label_id="n",
            class_id="car",
            box=lb.BoundingBox(x=1, y=1, width=2, height=2),
            answers=[
                lb.Answer(classification_id="color", option_id="red"),
                lb.Answer(classification_id="shade", option_id="dark"),
            ],
        ),
    ]
    resp = await ontology_stub.ValidateLabels(
        o.ValidateLabelsRequest(
            ontology_id="vehicles", version="latest", items=[item(car_label()), item(*labels)]
        )
    )
    assert (resp.version, resp.valid_labels, resp.invalid_labels) == ("1.0.0", 2, 5)
    assert [(v.item_index, v.label_index, v.reason, v.field) for v in resp.violations] == [
        (1, 1, "UNKNOWN_CLASS", "class_id"),
        (1, 2, "GEOMETRY_MISMATCH", "geometry.point"),
        (1, 3, "OUT_OF_BOUNDS", "geometry.box.width"),
        (1, 4, "MISSING_REQUIRED", "answers"),
        (1, 5, "ILLEGAL_NESTING", "answers[1].classification_id"),
    ]
    assert all(v.description for v in resp.violations)
    await fails(
        ontology_stub.ValidateLabels(
            o.ValidateLabelsRequest(ontology_id="vehicles", version="3.0.0", items=[item()])
        ),
        grpc.StatusCode.NOT_FOUND,
        "VERSION_NOT_FOUND",
    )
    await fails(
        ontology_stub.ValidateLabels(o.ValidateLabelsRequest(ontology_id="ghost")),
        grpc.StatusCode.NOT_FOUND,
        "ONTOLOGY_NOT_FOUND",
    )
    await seeded(ontology_app.target)


async def test_publish_and_migration_errors_store_nothing(
    ontology_stub, ontology_app, seeded
) -> None:
    stub = ontology_stub
    await fails(
        stub.PublishOntologyVersion(
            o.PublishOntologyVersionRequest(ontology_id="vehicles", expected_revision=1)
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "NO_CHANGES",
    )
    await fails(
        stub.PublishOntologyVersion(
            o.PublishOntologyVersionRequest(
                ontology_id="vehicles", expected_revision=1, version="1.0.0"
            )
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "VERSION_IMMUTABLE",
    )
    _, fields = await fails(
        stub.PublishOntologyVersion(o.PublishOntologyVersionRequest(ontology_id="vehicles")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert fields == ["expected_revision"]
    await fails(
        stub.CreateOntologyMigration(
            o.CreateOntologyMigrationRequest(
                ontology_id="vehicles", from_version="1.0.0", to_version="1.1.0"
            )
        ),
        grpc.StatusCode.NOT_FOUND,
        "VERSION_NOT_FOUND",
    )
    await fails(
        stub.DiffOntologyVersions(
            o.DiffOntologyVersionsRequest(ontology_id="vehicles", from_version="0.9.0")
        ),
        grpc.StatusCode.NOT_FOUND,
        "VERSION_NOT_FOUND",
    )
    await seeded(ontology_app.target)


async def test_calls_without_credentials_are_unauthenticated(ontology_app, seeded) -> None:

    async with channel(ontology_app.target) as ch:
        stub = ontology_pb2_grpc.OntologyServiceStub(ch)
        await fails(
            stub.CreateOntology(o.CreateOntologyRequest(display_name="x")),
            grpc.StatusCode.UNAUTHENTICATED,
            "CREDENTIALS_MISSING",
        )
    await seeded(ontology_app.target)


async def test_vendor_and_model_credentials_are_read_only(
    pg_pool, pg_schema, kafka_bootstrap, unique_name
) -> None:
    keys = {
        "editor-key-0123456789": {
            "subject": "alice",
            "tenant_id": "acme",
            "roles": ["ml_engineer"],
        },
        "vendor-key-0123456789": {
            "subject": "v1",
            "tenant_id": "acme",
            "kind": "vendor",
            "vendor_id": "v1",
        },
        "model-key-01234567890": {"subject": "sam", "tenant_id": "acme", "kind": "model"},
    }
    settings = ontology_settings(pg_schema, unique_name, kafka_bootstrap)
    async with build_app(settings, pool=pg_pool, authenticator=Authenticator(keys)) as app:
        async with channel(app.target, api_key="editor-key-0123456789") as ch:
            editor = ontology_pb2_grpc.OntologyServiceStub(ch)
            await editor.CreateOntology(
                o.CreateOntologyRequest(
                    ontology_id="vehicles", display_name="V", definition=vehicles()
                )
            )
            await editor.PublishOntologyVersion(
                o.PublishOntologyVersionRequest(ontology_id="vehicles", expected_revision=1)
            )
        before = await stored(pg_pool, pg_schema)
        for key in ("vendor-key-0123456789", "model-key-01234567890"):
            async with channel(app.target, api_key=key) as ch:
                stub = ontology_pb2_grpc.OntologyServiceStub(ch)
                await fails(
                    stub.DeprecateOntology(o.DeprecateOntologyRequest(ontology_id="vehicles")),
                    grpc.StatusCode.PERMISSION_DENIED,
                    "PERMISSION_DENIED_BY_ROLE",
                )
                checked = await stub.ValidateLabels(
                    o.ValidateLabelsRequest(ontology_id="vehicles", items=[item(car_label())])
                )
                assert checked.valid_labels == 1
        assert await stored(pg_pool, pg_schema) == before


async def test_the_draft_is_not_a_published_version(ontology_stub, ontology_app, seeded) -> None:
    for call in (
        ontology_stub.GetOntologyVersion(
            o.GetOntologyVersionRequest(ontology_id="vehicles", version="draft")
        ),
        ontology_stub.ValidateLabels(
            o.ValidateLabelsRequest(ontology_id="vehicles", version="draft", items=[item()])
        ),
    ):
        _, fields = await fails(call, grpc.StatusCode.INVALID_ARGUMENT)
        assert fields == ["version"]
    # ...but it can be diffed against.
    diff = await ontology_stub.DiffOntologyVersions(
        o.DiffOntologyVersionsRequest(
            ontology_id="vehicles", from_version="1.0.0", to_version="draft"
        )
    )
    assert list(diff.changes) == [] and not diff.breaking
    await seeded(ontology_app.target)


async def test_publication_larger_than_one_event_is_resource_exhausted(
    ontology_app, seeded
) -> None:

    app = ontology_app
    # A deployment whose drafts may be as large as its events: the definition fits, the
    # publication (definition + changes) does not.
    size = vehicles().ByteSize() + 40
    handlers = OntologyHandlers(
        app.store,
        OntologyRepository(app.store),
        app.parts.handlers.read_model,
        limits=Limits(max_event_bytes=size, max_draft_bytes=size),
    )
    await handlers.create_ontology(c.CreateOntology("tight", "Tight", "", vehicles()))
    with pytest.raises(ResourceExhausted) as info:
        await handlers.publish_ontology_version(c.PublishOntologyVersion("tight", 1))
    assert info.value.reason == "EVENT_TOO_LARGE"
    assert "LABELOPS_ONTOLOGY_MAX_EVENT_BYTES" in info.value.message
    ontology = (await app.parts.queries.get_ontology("tight")).ontology
    assert list(ontology.versions) == []
