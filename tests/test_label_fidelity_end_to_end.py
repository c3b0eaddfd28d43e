"""A whole label through the six real services, at overlap 1, 2 and 3 (issue 18).

A box with a nested answer (occluded → yes → where: front), an enum attribute, a second box and
a relation between them (wheel part-of car) is submitted by one, two or three annotators on the
vendor API; QA fuses it (review off: what comes out is the consensus itself), the datasets
service projects it and cuts a version. The version's rows hold, field by field, what the
annotators agreed on: the classes and boxes, every answer, the attribute and the relation. At
overlap 3 the third annotator disagrees on the nested answer and the attribute, and the
majority wins.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from labelops.curation.v1 import curation_pb2 as cpb
from labelops.curation.v1 import curation_pb2_grpc
from labelops.datasets.v1 import datasets_pb2 as dpb
from labelops.datasets.v1 import datasets_pb2_grpc
from labelops.labels.v1 import label_pb2 as L
from labelops.ontology.v1 import ontology_pb2 as opb
from labelops.ontology.v1 import ontology_pb2_grpc
from labelops.routing.v1 import routing_pb2 as rpb
from labelops.routing.v1 import routing_pb2_grpc, workforce_pb2_grpc
from labelops.routing.v1 import workforce_pb2 as wpb
from labelops_client import Client
from labelops_demo.system import SERVICES, System, local_system
from labelops_grpckit import Authenticator, channel
from labelops_testkit.waiting import eventually
from security_support import MARK, definition, rich_label

KEY = "fidelity-admin-key-0123456789"
KEYS = {KEY: {"subject": "lead", "tenant_id": "acme", "roles": ["admin"]}}
ONT = f"{MARK}-ont"
ANNOTATORS = ("ann-1", "ann-2", "ann-3")


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def system(
    pg_dsn: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[System]:
    names = {s: f"fid_{uuid.uuid4().hex[:10]}_{s}" for s in SERVICES}
    conn = await asyncpg.connect(pg_dsn)
    for name in names.values():
        await conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        async with local_system(
            kafka_bootstrap=kafka_bootstrap,
            pg_dsn=pg_dsn,
            data_dir=tmp_path_factory.mktemp("fidelity"),
            schemas=names,
            prefix=f"fid{uuid.uuid4().hex[:8]}-",
            authenticator=Authenticator(KEYS),
        ) as system:
            await _ontology_and_team(system)
            yield system
    finally:
        for name in names.values():
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        await conn.close()


async def _ontology_and_team(system: System) -> None:
    async with channel(system.targets["ontology"], api_key=KEY) as och:
        onto = ontology_pb2_grpc.OntologyServiceStub(och)
        made = await onto.CreateOntology(
            opb.CreateOntologyRequest(
                ontology_id=ONT, display_name="street", definition=definition()
            )
        )
        await onto.PublishOntologyVersion(
            opb.PublishOntologyVersionRequest(
                ontology_id=ONT, version="1.0.0", expected_revision=made.ontology.draft_revision
            )
        )
    async with channel(system.targets["routing"], api_key=KEY) as rch:
        routing = routing_pb2_grpc.RoutingServiceStub(rch)
        await routing.CreatePool(
            rpb.CreatePoolRequest(
                pool=rpb.Pool(pool_id="team", kind=rpb.POOL_KIND_IN_HOUSE, active=True)
            )
        )
        for who in ANNOTATORS:
            await routing.RegisterAnnotator(
                rpb.RegisterAnnotatorRequest(
                    annotator=rpb.Annotator(annotator_id=who, pool_id="team", active=True)
                )
            )


def _dissent(labels: L.ItemLabels) -> L.ItemLabels:
    """The same objects, another nested answer (back, not front) and another colour."""
    out = L.ItemLabels()
    out.CopyFrom(labels)
    car = out.labels[0]
    for a in car.answers:
        if a.classification_id == f"{MARK}-where":
            a.option_id = f"{MARK}-back"
    car.attributes[f"{MARK}-color"].string_value = f"{MARK}-blue"
    return out


async def _item(system: System, name: str) -> str:
    async with channel(system.targets["curation"], api_key=KEY) as cch:
        cur = curation_pb2_grpc.CurationServiceStub(cch)
        await cur.CreateDataset(cpb.CreateDatasetRequest(dataset_id=name))

        async def one() -> Any:
            yield cpb.RegisterItemsRequest(
                dataset_id=name,
                items=[
                    cpb.ItemSpec(
                        external_id="street-1",
                        uri=f"data:text/plain,{name}",
                        modality=cpb.MODALITY_TEXT,
                    )
                ],
            )

        await cur.RegisterItems(one())
        listed = await cur.ListItems(cpb.ListItemsRequest(dataset_id=name))
        return str(listed.items[0].item_id)


async def _label(system: System, name: str, item_id: str, overlap: int) -> None:
    async with channel(system.targets["routing"], api_key=KEY) as rch:
        routing = routing_pb2_grpc.RoutingServiceStub(rch)
        work = workforce_pb2_grpc.WorkforceServiceStub(rch)
        await routing.CreateProject(
            rpb.CreateProjectRequest(
                project_id=name,
                ontology_id=ONT,
                ontology_version="1.0.0",
                config=rpb.WorkflowConfig(
                    # Overlap 1 = no task sampled for overlap (the policy's annotators >= 2).
                    overlap=rpb.OverlapPolicy(
                        default_sample_rate=1.0 if overlap > 1 else 0.0,
                        default_annotators=max(overlap, 2),
                    ),
                    review_policy=rpb.REVIEW_POLICY_NONE,
                ),
                rules=rpb.RoutingRules(default_pools=["team"]),
            )
        )
        await routing.CreateTasks(
            rpb.CreateTasksRequest(
                project_id=name,
                items=[rpb.TaskItem(item_id=item_id, uri="s3://street/1.jpg", modality="image")],
            )
        )
        for i, who in enumerate(ANNOTATORS[:overlap]):
            offers = (
                await work.ClaimTasks(
                    wpb.ClaimTasksRequest(
                        pool_id="team", annotator_id=who, max_tasks=1, project_id=name
                    )
                )
            ).offers
            assert len(offers) == 1, (who, offers)
            labels = rich_label(item_id)
            await work.SubmitLabels(
                wpb.SubmitLabelsRequest(
                    request_id=f"{name}-{who}",
                    submissions=[
                        wpb.LabelSubmission(
                            assignment_id=offers[0].assignment_id,
                            labels=_dissent(labels) if i == 2 else labels,
                        )
                    ],
                )
            )


async def _version_rows(system: System, name: str) -> Any:
    async with channel(system.targets["datasets"], api_key=KEY) as dch:
        datasets = datasets_pb2_grpc.DatasetServiceStub(dch)

        async def cut() -> Any:
            try:
                made = await datasets.CreateDatasetVersion(
                    dpb.CreateDatasetVersionRequest(
                        dataset_id=name, project_id=name, cut=dpb.Cut(latest=True), version=1
                    )
                )
            except Exception:
                return None
            return made.version if made.version.rows == 2 else None

        await eventually(cut, timeout=60)
    with Client(system.targets["datasets"], api_key=KEY) as client:
        return await asyncio.to_thread(lambda: client.dataset(name).version(1).to_arrow())


@pytest.mark.parametrize("overlap", [1, 2, 3])
async def test_every_field_of_the_agreed_label_reaches_the_dataset_version(
    system: System, overlap: int
) -> None:
    name = f"fid-{overlap}-{uuid.uuid4().hex[:6]}"
    item_id = await _item(system, name)
    await _label(system, name, item_id, overlap)
    table = await _version_rows(system, name)
    rows = table.to_pylist()
    by_class = {r["class_id"]: r for r in rows}
    assert set(by_class) == {f"{MARK}-car", f"{MARK}-wheel"}
    expected = rich_label(item_id)
    car_row, wheel_row = by_class[f"{MARK}-car"], by_class[f"{MARK}-wheel"]
    car = L.Label.FromString(car_row["label_proto"])
    wheel = L.Label.FromString(wheel_row["label_proto"])
    want_car, want_wheel = expected.labels[0], expected.labels[1]
    # Geometry: every annotator drew the same boxes.
    assert (car.box.x, car.box.y, car.box.width, car.box.height) == (10, 20, 100, 50)
    assert (wheel.box.x, wheel.box.y, wheel.box.width, wheel.box.height) == (15, 50, 20, 20)
    # The nested answer and the attribute: the majority's (the third annotator dissented).
    assert [(a.classification_id, a.option_id) for a in car.answers] == [
        (a.classification_id, a.option_id) for a in want_car.answers
    ]
    assert dict(car.attributes) == dict(want_car.attributes)
    assert not wheel.answers and not wheel.attributes
    # The relation, between the labels as the version names them.
    relations = [
        (r["relationship_id"], r["from_label_id"], r["to_label_id"])
        for row in rows
        for r in (row["relations"] or [])
    ]
    assert relations == [(f"{MARK}-part-of", wheel.label_id, car.label_id)]
    assert want_wheel.label_id and car.label_id and wheel.label_id != car.label_id
    assert sorted(row["label_id"] for row in rows) == sorted((car.label_id, wheel.label_id))
