"""The datasets service over real Kafka and Postgres: versions projected from the log of
accepted labels, immutable and byte-reproducible, with past cuts, diffs, streams, exports and
ontology migrations."""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from pathlib import Path
from typing import Any

import datasets as hf
import grpc
import pyarrow as pa
import pyarrow.compute as pc
from conftest import Ds
from datasets_support import (
    TENANT,
    accepted,
    box,
    item_registered,
    migration,
    other_qa_event,
    version_published,
)
from labelops.datasets.v1 import datasets_pb2 as pb
from labelops.datasets.v1 import datasets_pb2_grpc
from labelops.ontology.v1 import definition_pb2 as dpb
from labelops.ontology.v1 import ontology_pb2 as opb
from labelops.qa.v1 import qa_pb2 as qpb
from labelops_datasets.domain.rows import SCHEMA
from labelops_testkit.grpc import fails
from labelops_testkit.kafka import wait_for_envelopes
from pycocotools.coco import COCO

P = "zoo"
CLASSES = ("cat", "dog", "bird")
CLASSES2 = ("feline", "dog")


def tid() -> str:
    return str(uuid.uuid4())


async def stream_table(ds: Ds, version: int, **kw: Any) -> pa.Table:
    chunks = [
        m.arrow_ipc
        async for m in ds.stub.StreamDatasetVersion(
            pb.StreamDatasetVersionRequest(dataset_id="zoo-train", version=version, **kw)
        )
    ]
    return pa.ipc.open_stream(pa.BufferReader(b"".join(chunks))).read_all()


async def export_files(ds: Ds, version: int, fmt: int) -> tuple[pb.ExportHeader, dict[str, bytes]]:
    header = None
    files: dict[str, bytearray] = {}
    async for m in ds.stub.ExportDatasetVersion(
        pb.ExportDatasetVersionRequest(dataset_id="zoo-train", version=version, format=fmt)
    ):
        if m.WhichOneof("part") == "header":
            header = m.header
        else:
            buf = files.setdefault(m.chunk.path, bytearray())
            assert m.chunk.offset == len(buf)
            buf += m.chunk.data
    assert header is not None
    return header, {k: bytes(v) for k, v in files.items()}


async def create(ds: Ds, **kw: Any) -> pb.DatasetVersion:
    kw.setdefault("dataset_id", "zoo-train")
    kw.setdefault("cut", pb.Cut(latest=True))
    return (await ds.stub.CreateDatasetVersion(pb.CreateDatasetVersionRequest(**kw))).version


class Labels:
    """Publishes a project's accepted labels and remembers the latest per task."""

    def __init__(self, ds: Ds, seed: int = 7) -> None:
        self.ds = ds
        self.rng = random.Random(seed)
        self.tasks: dict[str, tuple[str, str]] = {}  # task → (item, class)
        self.versions: dict[str, int] = {}

    async def new(self, n: int) -> None:
        items, envs = [], []
        for _ in range(n):
            t, item = tid(), f"img-{uuid.uuid4().hex[:8]}"
            cls = self.rng.choice(CLASSES)
            items.append(item_registered(item))
            self.tasks[t] = (item, cls)
            self.versions[t] = 1
            envs.append(accepted(P, t, item, [box(cls, x=self.rng.uniform(0, 300))]))
            if self.rng.random() < 0.1:
                envs.append(other_qa_event(P, t))  # other qa events share the topic
        await self.ds.curation(items)
        await self.ds.qa(envs)

    async def relabel(self, tasks: list[str], cls: str = "bird") -> None:
        envs = []
        for t in tasks:
            item, _ = self.tasks[t]
            self.tasks[t] = (item, cls)
            self.versions[t] += 1
            envs.append(
                accepted(
                    P,
                    t,
                    item,
                    [box(cls, x=5)],
                    decision=qpb.REVIEW_DECISION_FIX_AND_ACCEPT,
                    stream_version=self.versions[t],
                )
            )
        await self.ds.qa(envs)


async def test_versions_are_cut_from_the_log_and_never_change(ds: Ds) -> None:
    labels = Labels(ds)
    await labels.new(300)
    await ds.caught_up()
    v1 = await create(ds, project_id=P, description="first cut", request_id="req-1")
    assert v1.version == 1 and v1.name == "datasets/zoo-train/versions/1"
    assert v1.rows == 300 and v1.labels == 300
    assert v1.ontology_id == "zoo-ontology" and v1.ontology_version == "1.0.0"
    assert v1.files > 1  # several segments (span 32 offsets over 3 partitions)
    ends = await ds.ends()
    assert {c.partition: c.offset for c in v1.cut} == ends

    got = await ds.stub.GetDatasetVersion(pb.GetDatasetVersionRequest(dataset_id="zoo-train"))
    assert got.version == v1
    assert hashlib.sha256(got.manifest_json).hexdigest() == v1.manifest_sha256
    manifest = json.loads(got.manifest_json)
    per_class = {c: sum(1 for _, k in labels.tasks.values() if k == c) for c in CLASSES}
    assert manifest["counts"]["per_class"] == {c: n for c, n in per_class.items() if n}
    assert manifest["cut"] == [
        {"topic": ds.settings.qa_topic, "partition": p, "offset": o}
        for p, o in sorted(ends.items())
    ]

    # Streamed rows are the stored rows, with the lineage of every label.
    table = await stream_table(ds, 1)
    assert table.schema.names == SCHEMA.names and table.num_rows == 300
    by_task = {r["task_id"]: r for r in table.to_pylist()}
    assert set(by_task) == set(labels.tasks)
    for t, (item, cls) in labels.tasks.items():
        r = by_task[t]
        assert (r["item_id"], r["class_id"], r["geometry_kind"]) == (item, cls, "box")
        assert r["item_uri"] == f"s3://raw/{item}.jpg" and (r["width"], r["height"]) == (640, 480)
        assert r["annotators"] == ["ann-a", "ann-b"] and r["consensus_method"] == "majority_vote"
        assert r["labeled_ontology_version"] == "1.0.0" and r["label_event_id"]
    only_val = await stream_table(ds, 1, split="val", columns=["item_id", "class_id"])
    assert only_val.schema.names == ["item_id", "class_id"]
    assert only_val.num_rows == sum(1 for r in by_task.values() if r["split"] == "val") > 0

    # A retried request returns the same version; asking to (re)create version 1 is refused.
    again = await create(ds, project_id=P, description="first cut", request_id="req-1")
    assert again == v1
    await fails(create(ds, version=1), grpc.StatusCode.FAILED_PRECONDITION, "VERSION_EXISTS")
    await fails(create(ds, version=5), grpc.StatusCode.FAILED_PRECONDITION, "VERSION_GAP")
    await fails(
        create(ds, project_id="other"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "DATASET_PROJECT_MISMATCH",
    )

    # More labels and some re-labeled tasks: version 2 reuses the untouched segment files.
    relabeled = list(labels.tasks)[:5]
    await labels.relabel(relabeled)
    await labels.new(40)
    await ds.caught_up()
    v2 = await create(ds)
    assert v2.version == 2 and v2.rows == 340
    assert 0 < v2.files_reused < v2.files
    t2 = await stream_table(ds, 2)
    rows2 = {r["task_id"]: r for r in t2.to_pylist()}
    for t in relabeled:
        assert rows2[t]["class_id"] == "bird" and rows2[t]["review_decision"] == "fix_and_accept"

    # Version 1 did not change: same manifest, same rows.
    got1 = await ds.stub.GetDatasetVersion(
        pb.GetDatasetVersionRequest(dataset_id="zoo-train", version=1)
    )
    assert got1.version == v1 and got1.manifest_json == got.manifest_json
    assert (await stream_table(ds, 1)).equals(table)

    listed = await ds.stub.ListDatasetVersions(
        pb.ListDatasetVersionsRequest(dataset_id="zoo-train", page_size=1)
    )
    assert [v.version for v in listed.versions] == [1] and listed.next_page_token
    rest = await ds.stub.ListDatasetVersions(
        pb.ListDatasetVersionsRequest(dataset_id="zoo-train", page_token=listed.next_page_token)
    )
    assert [v.version for v in rest.versions] == [2]

    # Diff with label-level blame.
    diff = await ds.stub.DiffDatasetVersions(
        pb.DiffDatasetVersionsRequest(
            dataset_id="zoo-train", from_version=1, to_version=2, page_size=1000
        )
    )
    assert (diff.summary.added, diff.summary.removed) == (40, 0)
    changed = [c for c in diff.changes if c.kind == pb.CHANGE_KIND_CHANGED]
    was_bird = {t for t in relabeled if by_task[t]["class_id"] == "bird"}
    assert {c.task_id for c in changed} == set(relabeled)
    assert diff.summary.changed == 5 and diff.summary.unchanged == 295
    for c in changed:
        assert c.to_class_id == "bird" and c.from_class_id == by_task[c.task_id]["class_id"]
        assert ("class_id" in c.changed_fields) == (c.task_id not in was_bird)
        assert "geometry" in c.changed_fields and "split" not in c.changed_fields
        assert c.from_event_id == by_task[c.task_id]["label_event_id"]
        assert [b.event_id for b in c.blame] == [rows2[c.task_id]["label_event_id"]]
        assert c.blame[0].review_decision == "fix_and_accept" and c.blame[0].reviewer == "rev-1"

    # Each version is published as an event.
    envs = await wait_for_envelopes(ds.kafka, f"labelops.{ds.settings.service_name}.events.v1", 2)
    assert [e.type for e in envs] == ["labelops.datasets.v1.DatasetVersionCreated"] * 2
    assert [e.stream_version for e in envs] == [1, 2]


async def test_any_past_cut_can_be_materialized(ds: Ds) -> None:
    labels = Labels(ds, seed=11)
    await labels.new(120)
    await ds.caught_up()
    early = await ds.ends()
    await labels.relabel(list(labels.tasks)[:10], cls="cat")
    await labels.new(60)
    await ds.caught_up()
    latest = await create(ds, project_id=P)
    # Nobody asked for a version at `early` at the time; it can still be made.
    past = await create(
        ds,
        cut=pb.Cut(
            offsets=pb.Offsets(
                offsets=[
                    pb.PartitionOffset(topic=ds.settings.qa_topic, partition=p, offset=o)
                    for p, o in early.items()
                ]
            )
        ),
    )
    assert latest.rows == 180 and past.rows == 120
    t = await stream_table(ds, past.version)
    assert all(
        o < early[p]
        for p, o in zip(
            t.column("source_partition").to_pylist(),
            t.column("source_offset").to_pylist(),
            strict=True,
        )
    )
    # A timestamp cut resolves to offsets: now → everything.
    now = await create(ds, cut=pb.Cut(timestamp=_now()))
    assert {c.partition: c.offset for c in now.cut} == {c.partition: c.offset for c in latest.cut}
    # Ahead of the projection: refused, nothing written.
    ahead = pb.Cut(
        offsets=pb.Offsets(
            offsets=[pb.PartitionOffset(topic=ds.settings.qa_topic, partition=0, offset=10**9)]
        )
    )
    await fails(create(ds, cut=ahead), grpc.StatusCode.FAILED_PRECONDITION, "PROJECTION_BEHIND")
    listed = await ds.stub.ListDatasetVersions(
        pb.ListDatasetVersionsRequest(dataset_id="zoo-train")
    )
    assert [v.version for v in listed.versions] == [1, 2, 3]


async def test_filters_splits_and_exports(ds: Ds) -> None:
    labels = Labels(ds, seed=3)
    await labels.new(150)
    relabeled = list(labels.tasks)[:20]
    await labels.relabel(relabeled, cls="dog")
    await ds.caught_up()
    v = await create(
        ds,
        project_id=P,
        filter=pb.Filter(
            class_ids=["dog", "bird"],
            review_decisions=["fix_and_accept"],
            splits=pb.Splits(train=0.5, val=0.5, test=0.0, salt="s1"),
        ),
    )
    t = await stream_table(ds, v.version)
    assert set(t.column("task_id").to_pylist()) == set(relabeled)
    assert set(t.column("split").to_pylist()) <= {"train", "val"}

    full = await create(ds)
    header, files = await export_files(ds, full.version, pb.EXPORT_FORMAT_COCO)
    assert {f.path for f in header.files} == set(files)
    for f in header.files:
        assert hashlib.sha256(files[f.path]).hexdigest() == f.sha256
    coco_path = next(p for p in files if p.endswith(".json"))
    tmp = Path(ds.settings.store_url) / "coco.json"
    tmp.write_bytes(files[coco_path])
    coco = COCO(str(tmp))
    assert len(coco.getAnnIds()) == 150 and {
        c["name"] for c in coco.loadCats(coco.getCatIds())
    } <= set(CLASSES)

    _, hf_files = await export_files(ds, full.version, pb.EXPORT_FORMAT_HF_PARQUET)
    out = Path(ds.settings.store_url) / "hf"
    out.mkdir()
    for path, data in hf_files.items():
        (out / Path(path).name).write_bytes(data)
    loaded = hf.load_dataset("parquet", data_files={"train": str(out / "train.parquet")})
    t_all = await stream_table(ds, full.version)
    train = t_all.filter(pc.equal(t_all.column("split"), "train"))
    assert loaded["train"].num_rows == train.num_rows > 0
    assert sorted(loaded["train"]["task_id"]) == sorted(train.column("task_id").to_pylist())

    _, yolo = await export_files(ds, full.version, pb.EXPORT_FORMAT_YOLO)
    assert any(p.endswith(".txt") for p in yolo)
    _, ls = await export_files(ds, full.version, pb.EXPORT_FORMAT_LABEL_STUDIO)
    assert len(json.loads(ls["tasks.json"])) == 150 and b"<View>" in ls["label_config.xml"]


async def test_ontology_migrations_apply_to_older_labels(ds: Ds) -> None:
    a, b, c, d = tid(), tid(), tid(), tid()
    await ds.curation([item_registered(i) for i in ("i-a", "i-b", "i-c", "i-d")])
    await ds.qa(
        [
            accepted(P, a, "i-a", [box("cat")]),
            accepted(P, b, "i-b", [box("bird")]),
            accepted(P, c, "i-c", [box("dog")]),
        ]
    )
    await ds.caught_up()
    old = await create(ds, project_id=P)
    assert old.ontology_version == "1.0.0"

    rules = [
        opb.MigrationRule(map_class=opb.MapClassRule(from_class_id="cat", to_class_id="feline")),
        opb.MigrationRule(drop_class=opb.DropClassRule(class_id="bird")),
    ]
    # Version 2.0.0 as published (migrated labels are fitted to it: boxes, no answers here).
    classes = [dpb.OntologyClass(id=c, geometry=dpb.GEOMETRY_KIND_BOUNDING_BOX) for c in CLASSES2]
    two = dpb.OntologyDefinition(classes=classes)
    await ds.ontology([version_published("2.0.0", two), migration("1.0.0", "2.0.0", rules)])
    await ds.qa([accepted(P, d, "i-d", [box("feline")], version="2.0.0")])
    await ds.caught_up()
    v = await create(ds)
    assert v.ontology_version == "2.0.0"  # the newest version among the labels
    rows = {r["task_id"]: r for r in (await stream_table(ds, v.version)).to_pylist()}
    assert rows[a]["class_id"] == "feline" and rows[a]["labeled_ontology_version"] == "1.0.0"
    assert rows[b]["geometry_kind"] == "none"  # its only label's class was dropped
    assert rows[c]["class_id"] == "dog" and rows[c]["ontology_version"] == "2.0.0"
    assert rows[d]["class_id"] == "feline" and rows[d]["labeled_ontology_version"] == "2.0.0"

    # The stored history is not rewritten: the old version and a rebuild of it keep the classes
    # the labels were made with.
    old_rows = {r["task_id"]: r["class_id"] for r in (await stream_table(ds, 1)).to_pylist()}
    assert old_rows == {a: "cat", b: "bird", c: "dog"}
    assert (
        await ds.app.parts.versions.rebuild("zoo-train", 1, tenant_id=TENANT)
    ).digest == old.manifest_sha256
    # Labels newer than the target, or a target no migration leads to: refused.
    await fails(
        create(ds, ontology_version="1.0.0"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "NO_MIGRATION_PATH",
    )
    await fails(
        create(ds, ontology_version="3.0.0"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "NO_MIGRATION_PATH",
    )


async def test_bad_requests_write_nothing(ds: Ds) -> None:
    bad = grpc.StatusCode.INVALID_ARGUMENT
    _, fields = await fails(create(ds, dataset_id="X"), bad)
    assert fields == ["dataset_id"]
    _, fields = await fails(
        create(ds, project_id=P, filter=pb.Filter(review_decisions=["maybe"])), bad
    )
    assert [f.split("[")[0] for f in fields] == ["filter.review_decisions"]
    _, fields = await fails(
        create(ds, project_id=P, filter=pb.Filter(splits=pb.Splits(train=0.9, val=0.9))), bad
    )
    assert fields and all(f.startswith("filter.split") for f in fields)
    _, fields = await fails(create(ds), bad)
    assert fields == ["project_id"]
    # A label whose item curation never registered: refused with the reason.
    await ds.qa([accepted(P, tid(), "ghost-item", [box("cat")])])
    await ds.caught_up()
    await fails(
        create(ds, project_id=P), grpc.StatusCode.FAILED_PRECONDITION, "ITEM_METADATA_MISSING"
    )
    await fails(
        ds.stub.GetDatasetVersion(pb.GetDatasetVersionRequest(dataset_id="zoo-train", version=1)),
        grpc.StatusCode.NOT_FOUND,
    )
    assert (
        await ds.app.pool.fetchval(f'SELECT count(*) FROM "{ds.settings.db_schema}".versions') == 0
    )
    # Still serving.
    await ds.curation([item_registered("ghost-item")])
    await ds.caught_up()
    assert (await create(ds, project_id=P)).rows == 1


def _now() -> Any:
    from google.protobuf.timestamp_pb2 import Timestamp

    ts = Timestamp()
    ts.GetCurrentTime()
    return ts


async def test_vendor_credentials_cannot_read_or_create_versions(ds: Ds) -> None:
    from datasets_support import VENDOR_KEY
    from labelops_grpckit import channel

    async with channel(ds.app.target, api_key=VENDOR_KEY) as ch:
        stub = datasets_pb2_grpc.DatasetServiceStub(ch)
        await fails(
            stub.CreateDatasetVersion(
                pb.CreateDatasetVersionRequest(dataset_id="zoo-train", project_id=P)
            ),
            grpc.StatusCode.PERMISSION_DENIED,
            "PERMISSION_DENIED_BY_ROLE",
        )
        await fails(
            stub.ListDatasetVersions(pb.ListDatasetVersionsRequest(dataset_id="zoo-train")),
            grpc.StatusCode.PERMISSION_DENIED,
        )
