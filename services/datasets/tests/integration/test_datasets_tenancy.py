"""Datasets across tenants and roles, over real Kafka and Postgres: tenant B's version of "the
same" dataset and project holds none of tenant A's labels or items (and A's holds its label
whole, field by field); B reading A's versions gets NOT_FOUND / empty and writes nothing; a
vendor or annotator key is refused every method; a reviewer reads but does not cut."""

from __future__ import annotations

import json
from typing import Any

import grpc
import pyarrow as pa
from conftest import Ds
from datasets_support import (
    ANNOTATOR_KEY,
    OTHER_MLOPS_KEY,
    OTHER_TENANT,
    REVIEWER_KEY,
    TENANT,
    VENDOR_KEY,
    accepted,
    box,
    item_registered,
)
from labelops.datasets.v1 import datasets_pb2 as pb
from labelops.datasets.v1 import datasets_pb2_grpc
from labelops.labels.v1 import label_pb2 as L
from labelops.qa.v1 import events_pb2 as qev
from labelops_grpckit import channel
from labelops_testkit.grpc import fails

P = "zoo"
DS = "zoo-train"


def rich_label() -> L.Label:
    """A box with answers (radio, checklist, text, number), attributes of every kind."""
    lb = box("cat", label_id="cat-a")
    lb.answers.add(classification_id="color", option_id="red")
    lb.answers.add(classification_id="traits").checklist.option_ids.extend(["fluffy", "tabby"])
    lb.answers.add(classification_id="note", text="asleep")
    lb.answers.add(classification_id="count", number=2.0)
    lb.attributes["occluded"].bool_value = True
    lb.attributes["pose"].string_value = "curled"
    lb.attributes["age"].int_value = 3
    lb.attributes["sharpness"].float_value = 0.5
    lb.confidence = 0.9
    return lb


async def table_of(stub: Any, dataset_id: str, version: int = 0) -> pa.Table:
    chunks = [
        m.arrow_ipc
        async for m in stub.StreamDatasetVersion(
            pb.StreamDatasetVersionRequest(dataset_id=dataset_id, version=version)
        )
    ]
    return pa.ipc.open_stream(pa.BufferReader(b"".join(chunks))).read_all()


async def drain(call: Any) -> None:
    async for _ in call:
        pass


async def create(stub: Any, dataset_id: str = DS, project_id: str = P) -> pb.DatasetVersion:
    req = pb.CreateDatasetVersionRequest(
        dataset_id=dataset_id, project_id=project_id, cut=pb.Cut(latest=True)
    )
    return (await stub.CreateDatasetVersion(req)).version


async def _publish(ds: Ds) -> None:
    a_label = rich_label()
    a = accepted(P, "task-a", "img-1", [a_label, box("dog", label_id="dog-a")])
    # The relation between A's two labels travels with the item's labels.
    e = qev.LabelAccepted.FromString(a.payload)
    e.labels.relations.add(relationship_id="chases", from_label_id="cat-a", to_label_id="dog-a")
    a.payload = e.SerializeToString()
    b = accepted(P, "task-b", "img-1", [box("bird", label_id="bird-b")], tenant=OTHER_TENANT)
    only_a = accepted("zoo-a", "task-a2", "img-2", [box("cat", label_id="cat-a2")])
    await ds.curation(
        [
            item_registered("img-1", 640, 480),
            item_registered("img-2", 320, 240),
            item_registered("img-1", 100, 50, tenant=OTHER_TENANT),
        ]
    )
    await ds.qa([a, b, only_a])
    await ds.caught_up()


async def test_a_tenants_version_holds_only_its_own_labels_and_items(ds: Ds) -> None:
    await _publish(ds)
    va = await create(ds.stub)
    ta = await table_of(ds.stub, DS)
    rows = {r["label_id"]: r for r in ta.to_pylist()}
    assert set(rows) == {"cat-a", "dog-a"} and {r["task_id"] for r in rows.values()} == {"task-a"}
    cat = rows["cat-a"]
    assert (cat["item_uri"], cat["width"], cat["height"]) == ("s3://raw/img-1.jpg", 640, 480)
    assert cat["class_id"] == "cat" and cat["bbox"] == [10.0, 20.0, 30.0, 40.0]
    # The whole label: answers and attributes, field by field, and the label itself.
    assert L.Label.FromString(cat["label_proto"]) == rich_label()
    assert json.loads(cat["answers_json"]) == {
        "answers": [
            {"classification_id": "color", "option_id": "red"},
            {"checklist": ["fluffy", "tabby"], "classification_id": "traits"},
            {"classification_id": "note", "text": "asleep"},
            {"classification_id": "count", "number": 2.0},
        ],
        "attributes": {"age": 3, "occluded": True, "pose": "curled", "sharpness": 0.5},
    }
    assert cat["annotators"] == ["ann-a", "ann-b"]

    async with channel(ds.app.target, api_key=OTHER_MLOPS_KEY) as ch:
        b = datasets_pb2_grpc.DatasetServiceStub(ch)
        # "The same" dataset id and project: B's own version 1, of B's label and item only.
        vb = await create(b)
        assert vb.version == 1 and vb.rows == 1 and vb.manifest_sha256 != va.manifest_sha256
        tb = (await table_of(b, DS)).to_pylist()
        assert [(r["task_id"], r["label_id"], r["class_id"]) for r in tb] == [
            ("task-b", "bird-b", "bird")
        ]
        assert (tb[0]["width"], tb[0]["height"]) == (100, 50)
        # A project only A has labels in: B's version of it is empty.
        assert (await create(b, "b-of-zoo-a", "zoo-a")).rows == 0
    # A's version is unchanged by B's.
    assert (await table_of(ds.stub, DS)).to_pylist() == ta.to_pylist()
    assert [r["task_id"] for r in (await table_of(ds.stub, DS, 1)).to_pylist()] == [
        "task-a",
        "task-a",
    ]
    # Each version's event is of its tenant.
    events = await ds.app.pool.fetch(
        f'SELECT tenant_id, stream_id FROM "{ds.settings.db_schema}".events ORDER BY position'
    )
    assert [(e["tenant_id"]) for e in events] == [TENANT, OTHER_TENANT, OTHER_TENANT]
    assert len({e["stream_id"] for e in events[:2]}) == 2


async def _counts(ds: Ds) -> tuple[int, int]:
    s = ds.settings.db_schema
    return (
        await ds.app.pool.fetchval(f'SELECT count(*) FROM "{s}".versions'),
        await ds.app.pool.fetchval(f'SELECT count(*) FROM "{s}".events'),
    )


async def test_tenant_b_reads_nothing_of_tenant_a_and_vendors_nothing_at_all(ds: Ds) -> None:
    await _publish(ds)
    await create(ds.stub, "a-only", "zoo-a")
    await create(ds.stub, "a-only", "zoo-a")
    before = await _counts(ds)
    nf = grpc.StatusCode.NOT_FOUND
    async with channel(ds.app.target, api_key=OTHER_MLOPS_KEY) as ch:
        b = datasets_pb2_grpc.DatasetServiceStub(ch)
        for version in (0, 1, 2):
            await fails(
                b.GetDatasetVersion(
                    pb.GetDatasetVersionRequest(dataset_id="a-only", version=version)
                ),
                nf,
                "VERSION_NOT_FOUND",
            )
            with_version = pb.StreamDatasetVersionRequest(dataset_id="a-only", version=version)
            await fails(drain(b.StreamDatasetVersion(with_version)), nf)
            export = pb.ExportDatasetVersionRequest(
                dataset_id="a-only", version=version, format=pb.EXPORT_FORMAT_COCO
            )
            await fails(drain(b.ExportDatasetVersion(export)), nf)
        listed = await b.ListDatasetVersions(pb.ListDatasetVersionsRequest(dataset_id="a-only"))
        assert list(listed.versions) == []
        await fails(
            b.DiffDatasetVersions(
                pb.DiffDatasetVersionsRequest(dataset_id="a-only", from_version=1, to_version=2)
            ),
            nf,
        )
    assert await _counts(ds) == before
    denied = grpc.StatusCode.PERMISSION_DENIED
    for key in (VENDOR_KEY, ANNOTATOR_KEY):
        async with channel(ds.app.target, api_key=key) as ch:
            s = datasets_pb2_grpc.DatasetServiceStub(ch)
            await fails(create(s, "a-only", "zoo-a"), denied, "PERMISSION_DENIED_BY_ROLE")
            await fails(
                s.GetDatasetVersion(pb.GetDatasetVersionRequest(dataset_id="a-only")), denied
            )
            await fails(
                s.ListDatasetVersions(pb.ListDatasetVersionsRequest(dataset_id="a-only")), denied
            )
            await fails(
                drain(s.StreamDatasetVersion(pb.StreamDatasetVersionRequest(dataset_id="a-only"))),
                denied,
            )
            await fails(
                s.DiffDatasetVersions(
                    pb.DiffDatasetVersionsRequest(dataset_id="a-only", from_version=1, to_version=2)
                ),
                denied,
            )
            await fails(
                drain(
                    s.ExportDatasetVersion(
                        pb.ExportDatasetVersionRequest(
                            dataset_id="a-only", format=pb.EXPORT_FORMAT_COCO
                        )
                    )
                ),
                denied,
            )
    async with channel(ds.app.target, api_key=REVIEWER_KEY) as ch:
        reviewer = datasets_pb2_grpc.DatasetServiceStub(ch)
        got = await reviewer.GetDatasetVersion(pb.GetDatasetVersionRequest(dataset_id="a-only"))
        assert got.version.version == 2
        await fails(create(reviewer, "a-only", "zoo-a"), denied, "PERMISSION_DENIED_BY_ROLE")
    assert await _counts(ds) == before
