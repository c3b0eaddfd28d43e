"""Datasets across tenants and roles, over real Kafka and Postgres: tenant B's version of "the
same" dataset and project holds none of tenant A's labels or items (and A's holds its label
whole, field by field); B reading A's versions gets NOT_FOUND / empty and writes nothing; a
vendor or annotator key is refused every method; a reviewer reads but does not cut."""

from __future__ import annotations

import json
from collections.abc import Callable
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
from labelops_grpckit import channel, error_details
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
        # A project only A has labels in is, to B, a project nobody has.
        await fails(
            create(b, "b-of-zoo-a", "zoo-a"), grpc.StatusCode.NOT_FOUND, "PROJECT_NOT_FOUND"
        )
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
    assert [(e["tenant_id"]) for e in events] == [TENANT, OTHER_TENANT]


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


async def outcome(call: Any) -> tuple[str, str]:
    """(status code, ErrorInfo reason) of a call ("OK", "" when it answers)."""
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        return exc.code().name, error_details(exc).reason
    return "OK", ""


def reads(dataset_id: str, version: int) -> list[tuple[str, Callable[[Any], Any]]]:
    """Every read of a dataset's version, as (method, call on a stub)."""
    return [
        (
            "GetDatasetVersion",
            lambda s: s.GetDatasetVersion(
                pb.GetDatasetVersionRequest(dataset_id=dataset_id, version=version)
            ),
        ),
        (
            "StreamDatasetVersion",
            lambda s: drain(
                s.StreamDatasetVersion(
                    pb.StreamDatasetVersionRequest(dataset_id=dataset_id, version=version)
                )
            ),
        ),
        (
            "DiffDatasetVersions",
            lambda s: s.DiffDatasetVersions(
                pb.DiffDatasetVersionsRequest(
                    dataset_id=dataset_id, from_version=version, to_version=version
                )
            ),
        ),
        (
            "ExportDatasetVersion",
            lambda s: drain(
                s.ExportDatasetVersion(
                    pb.ExportDatasetVersionRequest(
                        dataset_id=dataset_id, version=version, format=pb.EXPORT_FORMAT_COCO
                    )
                )
            ),
        ),
    ]


async def test_tenant_b_naming_tenant_a_s_ids_is_answered_as_ids_nobody_has(ds: Ds) -> None:
    """What the security matrix does: B first cuts a version of A's dataset id and project
    (then of ids nobody has), then reads A's dataset. Both answer alike: B learns nothing."""
    await _publish(ds)
    for _ in range(2):
        await create(ds.stub, "a-only", "zoo-a")
    before = await _counts(ds)
    async with channel(ds.app.target, api_key=OTHER_MLOPS_KEY) as ch:
        b = datasets_pb2_grpc.DatasetServiceStub(ch)
        # A cut of A's dataset and project = a cut of a project nobody has: NOT_FOUND.
        a_s = await outcome(create(b, "a-only", "zoo-a"))
        nobody = await outcome(create(b, "nobody-ds", "nobody-project"))
        assert a_s == nobody == ("NOT_FOUND", "PROJECT_NOT_FOUND")
        for version in (0, 1, 2):
            for (method, a_call), (_, n_call) in zip(
                reads("a-only", version), reads("nobody-ds", version), strict=True
            ):
                got_a, got_n = await outcome(a_call(b)), await outcome(n_call(b))
                assert got_a == got_n, (method, version, got_a, got_n)
                assert got_a[0] == "NOT_FOUND", (method, version, got_a)
        for dataset_id in ("a-only", "nobody-ds"):
            listed = await b.ListDatasetVersions(
                pb.ListDatasetVersionsRequest(dataset_id=dataset_id)
            )
            assert list(listed.versions) == []
    assert await _counts(ds) == before
    # A still reads its own.
    for method, call in reads("a-only", 2):
        assert await outcome(call(ds.stub)) == ("OK", ""), method


async def test_two_tenants_number_versions_of_one_dataset_id_each_for_itself(ds: Ds) -> None:
    await _publish(ds)
    a1 = await create(ds.stub)
    async with channel(ds.app.target, api_key=OTHER_MLOPS_KEY) as ch:
        b = datasets_pb2_grpc.DatasetServiceStub(ch)
        # B's first version of A's dataset id is B's version 1 (no ALREADY_EXISTS, no
        # VERSION_EXISTS), and B's request id equal to A's is B's own request.
        b1 = (
            await b.CreateDatasetVersion(
                pb.CreateDatasetVersionRequest(
                    dataset_id=DS, project_id=P, cut=pb.Cut(latest=True), version=1
                )
            )
        ).version
        assert (b1.version, b1.rows) == (1, 1)
        await ds.qa(
            [
                accepted(P, "task-a3", "img-1", [box("cow", label_id="cow-a")]),
                accepted(
                    P, "task-b2", "img-1", [box("fox", label_id="fox-b")], tenant=OTHER_TENANT
                ),
            ]
        )
        await ds.caught_up()
        same_request = "version-2-of-zoo-train"
        a2 = (
            await ds.stub.CreateDatasetVersion(
                pb.CreateDatasetVersionRequest(
                    dataset_id=DS, cut=pb.Cut(latest=True), request_id=same_request
                )
            )
        ).version
        b2 = (
            await b.CreateDatasetVersion(
                pb.CreateDatasetVersionRequest(
                    dataset_id=DS, cut=pb.Cut(latest=True), request_id=same_request
                )
            )
        ).version
        assert (a2.version, b2.version) == (2, 2) and a2.manifest_sha256 != b2.manifest_sha256
        # Each tenant reads its own version 1 and 2 under the same names.
        expected = {
            "a": (ds.stub, {1: {"cat-a", "dog-a"}, 2: {"cat-a", "dog-a", "cow-a"}}, (a1, a2)),
            "b": (b, {1: {"bird-b"}, 2: {"bird-b", "fox-b"}}, (b1, b2)),
        }
        for who, (stub, labels, made) in expected.items():
            for version, want in labels.items():
                got = await stub.GetDatasetVersion(
                    pb.GetDatasetVersionRequest(dataset_id=DS, version=version)
                )
                assert got.version == made[version - 1], (who, version)
                rows = (await table_of(stub, DS, version)).to_pylist()
                assert {r["label_id"] for r in rows} == want, (who, version)
            diff = await stub.DiffDatasetVersions(
                pb.DiffDatasetVersionsRequest(dataset_id=DS, from_version=1, to_version=2)
            )
            assert [c.label_id for c in diff.changes] == sorted(labels[2] - labels[1]), who
            listed = await stub.ListDatasetVersions(pb.ListDatasetVersionsRequest(dataset_id=DS))
            assert list(listed.versions) == list(made), who
        # Each tenant's versions are its own event stream's 1 and 2.
        events = await ds.app.pool.fetch(
            f'SELECT tenant_id, stream_version FROM "{ds.settings.db_schema}".events'
            " ORDER BY tenant_id, stream_version"
        )
        assert [tuple(e) for e in events] == [
            (TENANT, 1),
            (TENANT, 2),
            (OTHER_TENANT, 1),
            (OTHER_TENANT, 2),
        ]
        # Version 3 exists for neither: each answers as for a dataset nobody has.
        for method, call in reads(DS, 3):
            for stub in (ds.stub, b):
                assert await outcome(call(stub)) == await outcome(
                    dict(reads("nobody-ds", 3))[method](stub)
                ), method
