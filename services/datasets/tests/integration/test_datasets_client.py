"""The Python client (libs/client) against the real service: what an MLOps script does."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import grpc
import pytest
from conftest import Ds
from datasets_support import MLOPS_KEY, accepted, box, item_registered
from labelops_client import Client


async def test_fetch_a_version_as_arrow_pandas_hf_and_export(ds: Ds, tmp_path: Path) -> None:
    await ds.curation([item_registered(f"img-{i}") for i in range(30)])
    await ds.qa(
        [
            accepted("zoo", f"task-{i}", f"img-{i}", [box("cat" if i % 3 else "dog")])
            for i in range(30)
        ]
    )
    await ds.caught_up()
    assert await ds.app.parts.caught_up(await ds.ends())

    def mlops() -> dict[str, object]:
        with Client(ds.app.target, api_key=MLOPS_KEY) as client:
            dataset = client.dataset("zoo-train")
            created = dataset.create_version(project_id="zoo", description="client test")
            version = dataset.version(created.number)
            table = version.to_arrow()
            frame = version.to_pandas(columns=["item_id", "class_id"])
            hf = version.to_hf(split="train")
            files = version.export("coco", tmp_path / "coco")
            return {
                "number": created.number,
                "content": (version.content_sha256, created.record.content_sha256),
                "rows": table.num_rows,
                "labels": version.manifest["counts"]["labels"],
                "classes": sorted(set(frame["class_id"])),
                "hf_train": hf.num_rows,
                "train_rows": table.column("split").to_pylist().count("train"),
                "files": files,
                "versions": [v.version for v in dataset.versions()],
            }

    out = await asyncio.to_thread(mlops)
    assert out["number"] == 1 and out["rows"] == out["labels"] == 30
    content, recorded = out["content"]  # type: ignore[misc]
    assert content == recorded and len(content) == 64
    assert out["classes"] == ["cat", "dog"]
    assert out["hf_train"] == out["train_rows"] > 0
    assert out["versions"] == [1]
    coco_files = out["files"]
    assert isinstance(coco_files, list) and coco_files
    coco = json.loads(next(p for p in coco_files if p.suffix == ".json").read_bytes())
    assert len(coco["annotations"]) == 30

    def missing() -> None:
        with Client(ds.app.target, api_key=MLOPS_KEY) as client:
            client.dataset("zoo-train").version(9)

    with pytest.raises(grpc.RpcError) as info:
        await asyncio.to_thread(missing)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
