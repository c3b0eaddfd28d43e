"""Migrated labels fit the target ontology version, over real Kafka and Postgres: a car labeled
under 1.0.0 (a colour radio, a body radio whose option opens a trunk radio whose option opens
a note, a checklist, two attributes) is migrated to 2.0.0, where the colour is a different
classification (``paint``, reached by ``map_option`` rules), the note and one checklist option
and attribute are gone: its row carries exactly what 2.0.0 has, field by field, and validates
against 2.0.0 (``labelops_ontologykit``); the version at 1.0.0 keeps every answer; a target
whose definition is unknown is refused; tenant B's own 2.0.0 of the same ontology id (which
keeps the colour) migrates B's car by B's definition."""

from __future__ import annotations

from typing import Any

import grpc
import pyarrow as pa
from conftest import Ds
from datasets_support import (
    OTHER_MLOPS_KEY,
    OTHER_TENANT,
    accepted,
    box,
    item_registered,
    migration,
    version_published,
)
from labelops.datasets.v1 import datasets_pb2 as pb
from labelops.datasets.v1 import datasets_pb2_grpc
from labelops.labels.v1 import label_pb2 as L
from labelops.ontology.v1 import definition_pb2 as d
from labelops.ontology.v1 import ontology_pb2 as opb
from labelops_grpckit import channel
from labelops_ontologykit import compile_ontology
from labelops_testkit.grpc import fails

P = "garage"
DS = "garage-train"
RADIO, CHECKLIST = d.CLASSIFICATION_KIND_RADIO, d.CLASSIFICATION_KIND_CHECKLIST
TEXT = d.CLASSIFICATION_KIND_TEXT


def radio(cid: str, *options: d.Option, kind: int = RADIO) -> d.Classification:
    return d.Classification(id=cid, name=cid, kind=kind, options=list(options))


def option(oid: str, *nested: d.Classification) -> d.Option:
    return d.Option(id=oid, name=oid, classifications=list(nested))


def attribute(aid: str, kind: int) -> d.Attribute:
    return d.Attribute(id=aid, name=aid, type=kind)


def car_class(*classifications: d.Classification, attributes: list[d.Attribute]) -> Any:
    return d.OntologyDefinition(
        classes=[
            d.OntologyClass(
                id="car",
                name="car",
                geometry=d.GEOMETRY_KIND_BOUNDING_BOX,
                classifications=list(classifications),
                attributes=attributes,
            )
        ]
    )


def body(*trunk_options: d.Option) -> d.Classification:
    trunk = radio("trunk", *trunk_options)
    return radio("body", option("sedan", trunk), option("coupe"))


V1 = car_class(
    radio("car_color", option("red"), option("blue")),
    body(option("big", d.Classification(id="trunk_note", name="note", kind=TEXT)), option("small")),
    radio("features", option("sunroof"), option("towbar"), kind=CHECKLIST),
    attributes=[
        attribute("plate", d.ATTRIBUTE_TYPE_STRING),
        attribute("vintage", d.ATTRIBUTE_TYPE_BOOL),
    ],
)
V2 = car_class(
    radio("paint", option("red_paint"), option("blue_paint")),
    body(option("big"), option("small")),
    radio("features", option("sunroof"), kind=CHECKLIST),
    attributes=[attribute("plate", d.ATTRIBUTE_TYPE_STRING)],
)
#: Tenant B's 2.0.0 keeps the colour and the vintage attribute.
V2_OF_B = car_class(
    radio("car_color", option("red"), option("blue")),
    body(option("big"), option("small")),
    attributes=[attribute("vintage", d.ATTRIBUTE_TYPE_BOOL)],
)
RULES = [
    opb.MigrationRule(map_option=opb.MapOptionRule(from_option_id="red", to_option_id="red_paint")),
    opb.MigrationRule(
        map_option=opb.MapOptionRule(from_option_id="blue", to_option_id="blue_paint")
    ),
]


def car_v1() -> L.Label:
    lb = box("car", label_id="car-1")
    lb.answers.add(classification_id="car_color", option_id="red")
    lb.answers.add(classification_id="body", option_id="sedan")
    lb.answers.add(classification_id="trunk", option_id="big")  # level 2
    lb.answers.add(classification_id="trunk_note", text="dented")  # level 3, gone in 2.0.0
    lb.answers.add(classification_id="features").checklist.option_ids.extend(["sunroof", "towbar"])
    lb.attributes["plate"].string_value = "AB-123"
    lb.attributes["vintage"].bool_value = True
    return lb


def car_at_v2() -> L.Label:
    """What 2.0.0 holds of car_v1: the colour moved to paint (map_option), the note, towbar
    and vintage gone, everything else as labeled."""
    lb = box("car", label_id="car-1")
    lb.answers.add(classification_id="paint", option_id="red_paint")
    lb.answers.add(classification_id="body", option_id="sedan")
    lb.answers.add(classification_id="trunk", option_id="big")
    lb.answers.add(classification_id="features").checklist.option_ids.extend(["sunroof"])
    lb.attributes["plate"].string_value = "AB-123"
    return lb


async def rows_of(stub: Any, version: int) -> dict[str, dict[str, Any]]:
    chunks = [
        m.arrow_ipc
        async for m in stub.StreamDatasetVersion(
            pb.StreamDatasetVersionRequest(dataset_id=DS, version=version)
        )
    ]
    table = pa.ipc.open_stream(pa.BufferReader(b"".join(chunks))).read_all()
    return {r["task_id"]: r for r in table.to_pylist()}


def create(stub: Any, version: str) -> Any:
    return stub.CreateDatasetVersion(
        pb.CreateDatasetVersionRequest(
            dataset_id=DS, project_id=P, cut=pb.Cut(latest=True), ontology_version=version
        )
    )


def issues(definition: Any, label: L.Label) -> list[str]:
    item = L.ItemLabels(item_id="img-1", labels=[label])
    return [i.reason for i in compile_ontology(definition).validate_item(item)]


async def test_migrated_labels_carry_only_what_the_target_version_has(ds: Ds) -> None:
    assert issues(V1, car_v1()) == [] and issues(V2, car_at_v2()) == []
    assert issues(V2, car_v1())  # as migrated before: invalid under 2.0.0
    await ds.ontology([version_published("1.0.0", V1)])
    await ds.curation([item_registered("img-1"), item_registered("img-2")])
    await ds.qa([accepted(P, "task-1", "img-1", [car_v1()])])
    await ds.caught_up()
    at_v1 = (await create(ds.stub, "1.0.0")).version
    assert L.Label.FromString((await rows_of(ds.stub, at_v1.version))["task-1"]["label_proto"]) == (
        car_v1()
    )

    fresh = box("car", label_id="car-2")
    fresh.answers.add(classification_id="paint", option_id="blue_paint")
    await ds.ontology([version_published("2.0.0", V2), migration("1.0.0", "2.0.0", RULES)])
    await ds.qa([accepted(P, "task-2", "img-2", [fresh], version="2.0.0")])
    await ds.caught_up()
    v = (await create(ds.stub, "2.0.0")).version
    rows = await rows_of(ds.stub, v.version)
    migrated = L.Label.FromString(rows["task-1"]["label_proto"])
    assert migrated == car_at_v2()
    assert [(a.classification_id, a.WhichOneof("value")) for a in migrated.answers] == [
        ("paint", "option_id"),
        ("body", "option_id"),
        ("trunk", "option_id"),
        ("features", "checklist"),
    ]
    assert dict(migrated.attributes) == {"plate": L.AttributeValue(string_value="AB-123")}
    assert (rows["task-1"]["labeled_ontology_version"], rows["task-1"]["ontology_version"]) == (
        "1.0.0",
        "2.0.0",
    )
    assert '"car_color"' not in rows["task-1"]["answers_json"]
    # Every row of the version validates against 2.0.0; a label made under it is untouched.
    for r in rows.values():
        assert issues(V2, L.Label.FromString(r["label_proto"])) == []
    assert L.Label.FromString(rows["task-2"]["label_proto"]) == fresh
    # The version at 1.0.0 still holds every answer (the log is not rewritten).
    old = await rows_of(ds.stub, at_v1.version)
    assert L.Label.FromString(old["task-1"]["label_proto"]) == car_v1()

    # A target whose definition the service has not received: refused, nothing stale made.
    await ds.ontology([migration("2.0.0", "3.0.0", [])])
    await ds.caught_up()
    await fails(
        create(ds.stub, "3.0.0"), grpc.StatusCode.FAILED_PRECONDITION, "ONTOLOGY_VERSION_UNKNOWN"
    )

    # Tenant B: its own definitions of the same ontology id and versions.
    b_car = box("car", label_id="car-b")
    b_car.answers.add(classification_id="car_color", option_id="blue")
    b_car.attributes["vintage"].bool_value = False
    await ds.ontology(
        [
            version_published("1.0.0", V1, tenant=OTHER_TENANT),
            version_published("2.0.0", V2_OF_B, tenant=OTHER_TENANT),
            migration("1.0.0", "2.0.0", [], tenant=OTHER_TENANT),
        ]
    )
    await ds.curation([item_registered("img-1", tenant=OTHER_TENANT)])
    await ds.qa([accepted(P, "task-1", "img-1", [b_car], tenant=OTHER_TENANT)])
    await ds.caught_up()
    async with channel(ds.app.target, api_key=OTHER_MLOPS_KEY) as ch:
        b = datasets_pb2_grpc.DatasetServiceStub(ch)
        bv = (await create(b, "2.0.0")).version
        (b_row,) = (await rows_of(b, bv.version)).values()
        assert L.Label.FromString(b_row["label_proto"]) == b_car  # valid under B's 2.0.0
        assert issues(V2_OF_B, b_car) == []
