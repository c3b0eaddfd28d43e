"""A version's ``content_sha256`` over real Kafka and Postgres: the same cut, made twice (as the
next version of one dataset, and as a version of another dataset), has the same content hash
and a different manifest sha256 (the number is in the manifest); a different cut, a different
filter or more labels give a different content hash; tenant B cutting "the same" dataset gets
its own rows and its own hash."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from conftest import Ds
from datasets_support import OTHER_MLOPS_KEY, OTHER_TENANT, accepted, box, item_registered
from labelops.datasets.v1 import datasets_pb2 as pb
from labelops.datasets.v1 import datasets_pb2_grpc
from labelops_datasets.domain.manifest import canonical
from labelops_grpckit import channel

P = "zoo"


async def create(stub: Any, dataset_id: str, cut: pb.Cut, **kw: Any) -> pb.DatasetVersion:
    req = pb.CreateDatasetVersionRequest(dataset_id=dataset_id, project_id=P, cut=cut, **kw)
    return (await stub.CreateDatasetVersion(req)).version


def offsets(version: pb.DatasetVersion) -> pb.Cut:
    return pb.Cut(offsets=pb.Offsets(offsets=list(version.cut)))


async def manifest_of(stub: Any, dataset_id: str, version: int) -> dict[str, Any]:
    got = await stub.GetDatasetVersion(
        pb.GetDatasetVersionRequest(dataset_id=dataset_id, version=version)
    )
    return json.loads(got.manifest_json)


async def publish(ds: Ds, first: int, n: int, *, tenant: str | None = None) -> None:
    kw = {} if tenant is None else {"tenant": tenant}
    items = [item_registered(f"img-{i}", **kw) for i in range(first, first + n)]
    labels = [
        accepted(P, f"task-{i}", f"img-{i}", [box(("cat", "dog")[i % 2], x=i)], **kw)
        for i in range(first, first + n)
    ]
    await ds.curation(items)
    await ds.qa(labels)
    await ds.caught_up()


async def test_the_same_cut_has_the_same_content_hash_and_other_cuts_another(ds: Ds) -> None:
    await publish(ds, 0, 60)
    v1 = await create(ds.stub, "zoo-a", pb.Cut(latest=True))
    assert len(v1.content_sha256) == 64 and v1.rows == 60
    # The same cut again: version 2 of the same dataset, and version 1 of another one.
    v2 = await create(ds.stub, "zoo-a", offsets(v1))
    other = await create(ds.stub, "zoo-b", offsets(v1), description="same cut, other dataset")
    assert v2.content_sha256 == other.content_sha256 == v1.content_sha256
    assert len({v1.manifest_sha256, v2.manifest_sha256, other.manifest_sha256}) == 3
    m1, m2 = await manifest_of(ds.stub, "zoo-a", 1), await manifest_of(ds.stub, "zoo-a", 2)
    assert (m1["version"], m2["version"]) == (1, 2)
    assert m1["files"] == m2["files"] and m1["content_sha256"] == m2["content_sha256"]
    assert m1["content_sha256"] == v1.content_sha256
    # What it is: the data files' [sha256, rows] in manifest order (checkable by anyone).
    listed = [[f["sha256"], f["rows"]] for f in m1["files"]]
    assert hashlib.sha256(canonical(listed)).hexdigest() == v1.content_sha256
    # GetDatasetVersion and ListDatasetVersions give the record's hash.
    got = await ds.stub.GetDatasetVersion(pb.GetDatasetVersionRequest(dataset_id="zoo-a"))
    assert got.version.content_sha256 == v1.content_sha256
    listed_versions = await ds.stub.ListDatasetVersions(
        pb.ListDatasetVersionsRequest(dataset_id="zoo-a")
    )
    assert [v.content_sha256 for v in listed_versions.versions] == [v1.content_sha256] * 2

    # Different cuts: an earlier cut (one partition less), another filter, more labels.
    earlier = pb.Cut(offsets=pb.Offsets(offsets=list(v1.cut)[1:]))
    v3 = await create(ds.stub, "zoo-a", earlier)
    assert 0 < v3.rows < v1.rows
    v4 = await create(ds.stub, "zoo-a", offsets(v1), filter=pb.Filter(class_ids=["cat"]))
    assert v4.rows == 30
    await publish(ds, 60, 5)
    v5 = await create(ds.stub, "zoo-a", pb.Cut(latest=True))
    assert v5.rows == 65
    hashes = [v.content_sha256 for v in (v1, v3, v4, v5)]
    assert len(set(hashes)) == 4
    # The same cut as v1 made after more labels arrived still has v1's hash.
    v6 = await create(ds.stub, "zoo-a", offsets(v1))
    assert v6.content_sha256 == v1.content_sha256

    # Tenant B: "the same" dataset of "the same" project holds B's rows and B's hash; A's
    # dataset is not B's.
    await publish(ds, 0, 3, tenant=OTHER_TENANT)
    async with channel(ds.app.target, api_key=OTHER_MLOPS_KEY) as ch:
        b_stub = datasets_pb2_grpc.DatasetServiceStub(ch)
        b1 = await create(b_stub, "zoo-a", pb.Cut(latest=True))
        assert (b1.version, b1.rows) == (1, 3)
        assert b1.content_sha256 not in hashes
        b_again = await create(b_stub, "zoo-a", offsets(b1))
        assert b_again.content_sha256 == b1.content_sha256
    a_latest = await ds.stub.GetDatasetVersion(pb.GetDatasetVersionRequest(dataset_id="zoo-a"))
    assert (a_latest.version.version, a_latest.version.content_sha256) == (6, v1.content_sha256)
