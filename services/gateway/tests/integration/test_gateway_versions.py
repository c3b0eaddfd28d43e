"""A labeled dataset read through the gateway: items from curation, tasks and their quality,
and a dataset version's record, manifest, files (streamed from the store) and diff."""

from __future__ import annotations

import hashlib
import io

import httpx
import pyarrow.parquet as pq
from gateway_support import ADMIN, ANSWERS, KEY, VENDOR, error, label_a_dataset, projected
from labelops.datasets.v1 import datasets_pb2 as dst
from labelops.datasets.v1 import datasets_pb2_grpc
from labelops_demo.system import System
from labelops_grpckit import channel
from labelops_testkit.waiting import eventually


async def test_dataset_version_read_through_the_gateway(
    client: httpx.AsyncClient, system: System, unique_name: str
) -> None:
    name = await label_a_dataset(client, system, unique_name)
    listed_items = await client.get(
        f"/v1/curation/datasets/{name}/items", params={"state": "included"}, headers=ADMIN
    )
    assert listed_items.status_code == 200
    assert {i["external_id"] for i in listed_items.json()["items"]} == set(ANSWERS)
    one = await client.get(f"/v1/curation/datasets/{name}/items/external:a", headers=ADMIN)
    assert one.json()["item"]["text"] == "a cat"

    tasks = (await client.get(f"/v1/projects/{name}/tasks", headers=ADMIN)).json()["tasks"]

    async def accepted() -> bool:
        for t in tasks:
            r = await client.get(f"/v1/projects/{name}/tasks/{t['task_id']}/quality", headers=ADMIN)
            if r.status_code != 200 or r.json()["task"]["state"] != "TASK_QUALITY_STATE_ACCEPTED":
                return False
        return True

    await eventually(accepted)
    await projected(system, name, len(ANSWERS))

    async with channel(system.targets["datasets"], api_key=KEY) as ch:
        datasets = datasets_pb2_grpc.DatasetServiceStub(ch)

        async def version() -> dst.DatasetVersion | None:
            # Until the projection has both accepted labels (and the items) there is nothing
            # worth a version; an early attempt is refused or comes out short.
            try:
                made = await datasets.CreateDatasetVersion(
                    dst.CreateDatasetVersionRequest(
                        dataset_id=name, project_id=name, cut=dst.Cut(latest=True), version=1
                    )
                )
            except Exception:
                return None
            return made.version if made.version.rows == len(ANSWERS) else None

        made = await eventually(version)

    listed = (await client.get(f"/v1/datasets/{name}/versions", headers=ADMIN)).json()
    assert [v["version"] for v in listed["versions"]] == ["1"]
    record = (await client.get(f"/v1/datasets/{name}/versions/0", headers=ADMIN)).json()
    assert record["version"]["manifest_sha256"] == made.manifest_sha256
    assert record["version"]["rows"] == "2"

    manifest_response = await client.get(f"/v1/datasets/{name}/versions/1/manifest", headers=ADMIN)
    assert manifest_response.status_code == 200
    assert hashlib.sha256(manifest_response.content).hexdigest() == made.manifest_sha256
    manifest = manifest_response.json()
    assert manifest["files"], manifest

    rows = 0
    for entry in manifest["files"]:
        async with client.stream(
            "GET", f"/v1/datasets/{name}/versions/1/files/{entry['path']}", headers=ADMIN
        ) as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["etag"] == f'"{entry["sha256"]}"'
            data = await response.aread()
        assert len(data) == entry["bytes"]
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        if entry["path"].endswith(".parquet"):
            rows += pq.read_table(io.BytesIO(data)).num_rows
    assert rows == len(ANSWERS)

    missing = await client.get(f"/v1/datasets/{name}/versions/1/files/nope.parquet", headers=ADMIN)
    assert missing.status_code == 404 and error(missing)["reason"] == "FILE_NOT_FOUND"
    vendor = await client.get(
        f"/v1/datasets/{name}/versions/1/files/{manifest['files'][0]['path']}", headers=VENDOR
    )
    assert vendor.status_code == 403

    diff = await client.get(
        f"/v1/datasets/{name}/diff", params={"from_version": 1, "to_version": 1}, headers=ADMIN
    )
    assert diff.status_code == 200, diff.text
    assert diff.json()["summary"] == {
        "added": "0",
        "removed": "0",
        "changed": "0",
        "unchanged": "2",
    }
