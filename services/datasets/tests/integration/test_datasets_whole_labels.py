"""A label comes out of a version whole, over real Kafka and Postgres: a box with nested
answers (a radio whose option opens a sub-question, itself with a nested checklist and text),
attributes of every kind, and relations to other labels of its item, accepted by consensus —
read back field by field from GetDatasetVersion, StreamDatasetVersion, the Parquet export
and the Label Studio export; a consensus re-run that drops a relation is a changed label in
the diff."""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from conftest import Ds
from datasets_support import accepted, box, item_registered
from labelops.datasets.v1 import datasets_pb2 as pb
from labelops.labels.v1 import label_pb2 as L
from labelops.qa.v1 import events_pb2 as qev

P = "farm"
DS = "farm-train"


def cat() -> L.Label:
    """The box with everything a label can carry besides geometry."""
    lb = box("cat", label_id="cat-1")
    lb.answers.add(classification_id="coat", option_id="striped")
    # Nested under coat = striped: the stripe color, and under orange its own sub-questions.
    lb.answers.add(classification_id="stripe_color", option_id="orange")
    lb.answers.add(classification_id="stripe_marks").checklist.option_ids.extend(["m", "tiger"])
    lb.answers.add(classification_id="stripe_note", text="faded on the tail")
    lb.answers.add(classification_id="whiskers", number=24.0)
    lb.attributes["occluded"].bool_value = True
    lb.attributes["pose"].string_value = "crouching"
    lb.attributes["age"].int_value = 4
    lb.attributes["sharpness"].float_value = 0.75
    lb.confidence = 0.8
    return lb


def mouse() -> L.Label:
    lb = L.Label(label_id="mouse-1", class_id="mouse")
    lb.polygon.points.extend([L.Point2D(x=50, y=60), L.Point2D(x=70, y=60), L.Point2D(x=60, y=80)])
    lb.attributes["alive"].bool_value = True
    return lb


def consensus(labels: list[L.Label], relations: list[tuple[str, str, str]], **kw: Any) -> Any:
    """A LabelAccepted as qa's consensus publishes it (majority vote of two annotators, the
    relations of the labels it kept)."""
    env = accepted(P, "task-1", "img-1", labels, score=0.67, **kw)
    e = qev.LabelAccepted.FromString(env.payload)
    for rel, a, b in relations:
        e.labels.relations.add(relationship_id=rel, from_label_id=a, to_label_id=b)
    env.payload = e.SerializeToString()
    return env


async def table_of(ds: Ds, version: int) -> pa.Table:
    chunks = [
        m.arrow_ipc
        async for m in ds.stub.StreamDatasetVersion(
            pb.StreamDatasetVersionRequest(dataset_id=DS, version=version)
        )
    ]
    return pa.ipc.open_stream(pa.BufferReader(b"".join(chunks))).read_all()


async def export_files(ds: Ds, version: int, fmt: int) -> dict[str, bytes]:
    files: dict[str, bytearray] = {}
    async for m in ds.stub.ExportDatasetVersion(
        pb.ExportDatasetVersionRequest(dataset_id=DS, version=version, format=fmt)
    ):
        if m.HasField("chunk"):
            buf = files.setdefault(m.chunk.path, bytearray())
            assert m.chunk.offset == len(buf)
            buf += m.chunk.data
    return {p: bytes(b) for p, b in files.items()}


def rel(relationship_id: str, a: str, b: str) -> dict[str, str]:
    return {"relationship_id": relationship_id, "from_label_id": a, "to_label_id": b}


def assert_whole(rows: dict[str, dict[str, Any]]) -> None:
    """The rows of cat-1 and mouse-1 hold every field of both labels and their relations."""
    c = rows["cat-1"]
    label = L.Label.FromString(c["label_proto"])
    assert label == cat()
    assert [a.classification_id for a in label.answers] == [
        "coat",
        "stripe_color",
        "stripe_marks",
        "stripe_note",
        "whiskers",
    ]
    assert (label.answers[0].option_id, label.answers[1].option_id) == ("striped", "orange")
    assert list(label.answers[2].checklist.option_ids) == ["m", "tiger"]
    assert (label.answers[3].text, label.answers[4].number) == ("faded on the tail", 24.0)
    assert json.loads(c["answers_json"]) == {
        "answers": [
            {"classification_id": "coat", "option_id": "striped"},
            {"classification_id": "stripe_color", "option_id": "orange"},
            {"checklist": ["m", "tiger"], "classification_id": "stripe_marks"},
            {"classification_id": "stripe_note", "text": "faded on the tail"},
            {"classification_id": "whiskers", "number": 24.0},
        ],
        "attributes": {"age": 4, "occluded": True, "pose": "crouching", "sharpness": 0.75},
    }
    assert (c["class_id"], c["geometry_kind"], c["bbox"]) == ("cat", "box", [10, 20, 30, 40])
    assert c["relations"] == [rel("chases", "cat-1", "mouse-1"), rel("watches", "cat-1", "mouse-1")]
    m = rows["mouse-1"]
    assert L.Label.FromString(m["label_proto"]) == mouse()
    assert (m["geometry_kind"], m["polygon"]) == ("polygon", [50, 60, 70, 60, 60, 80])
    assert json.loads(m["answers_json"]) == {"answers": [], "attributes": {"alive": True}}
    assert m["relations"] == [rel("flees", "mouse-1", "cat-1")]
    for r in (c, m):
        assert (r["consensus_method"], r["consensus_score"]) == ("majority_vote", 0.67)
        assert r["annotators"] == ["ann-a", "ann-b"] and r["task_id"] == "task-1"


async def test_a_label_accepted_by_consensus_comes_out_of_a_version_whole(ds: Ds) -> None:
    relations = [
        ("chases", "cat-1", "mouse-1"),
        ("flees", "mouse-1", "cat-1"),
        ("watches", "cat-1", "mouse-1"),
    ]
    await ds.curation([item_registered("img-1", 640, 480)])
    await ds.qa([consensus([cat(), mouse()], relations)])
    await ds.caught_up()
    made = (
        await ds.stub.CreateDatasetVersion(
            pb.CreateDatasetVersionRequest(dataset_id=DS, project_id=P, cut=pb.Cut(latest=True))
        )
    ).version
    assert (made.rows, made.labels) == (2, 2)
    got = await ds.stub.GetDatasetVersion(pb.GetDatasetVersionRequest(dataset_id=DS, version=1))
    assert got.version == made
    manifest = json.loads(got.manifest_json)
    assert manifest["counts"]["per_class"] == {"cat": 1, "mouse": 1}
    assert manifest["schema_version"] == 2

    # StreamDatasetVersion: every column of both rows.
    assert_whole({r["label_id"]: r for r in (await table_of(ds, 1)).to_pylist()})
    # Only some columns: the relations come with them.
    chunks = [
        m.arrow_ipc
        async for m in ds.stub.StreamDatasetVersion(
            pb.StreamDatasetVersionRequest(
                dataset_id=DS, version=1, columns=["label_id", "relations"]
            )
        )
    ]
    few = pa.ipc.open_stream(pa.BufferReader(b"".join(chunks))).read_all().to_pylist()
    assert {r["label_id"]: len(r["relations"]) for r in few} == {"cat-1": 2, "mouse-1": 1}

    # The Parquet (Hugging Face) export: one file per split, every column.
    parquet = await export_files(ds, 1, pb.EXPORT_FORMAT_HF_PARQUET)
    exported = [r for data in parquet.values() for r in pq.read_table(io.BytesIO(data)).to_pylist()]
    assert_whole({r["label_id"]: r for r in exported})

    # Label Studio: both regions and the three relations between them.
    tasks = json.loads((await export_files(ds, 1, pb.EXPORT_FORMAT_LABEL_STUDIO))["tasks.json"])
    (result,) = [t["annotations"][0]["result"] for t in tasks]
    regions = [r for r in result if r["type"] in ("rectanglelabels", "polygonlabels")]
    assert sorted(r["id"] for r in regions) == ["cat-1", "mouse-1"]
    # Their answers and attributes as per-region results (export_fidelity reads them back).
    per_region = {(r["id"], r["from_name"]) for r in result if r not in regions and "id" in r}
    assert ("cat-1", "answer.stripe_marks") in per_region
    assert ("mouse-1", "attribute.alive") in per_region
    assert sorted(
        (r["from_id"], r["to_id"], r["labels"][0]) for r in result if r["type"] == "relation"
    ) == sorted((a, b, t) for t, a, b in relations)

    # Consensus re-run: the same labels, one relation fewer — a changed label in the diff.
    await ds.qa([consensus([cat(), mouse()], relations[:2], stream_version=2)])
    await ds.caught_up()
    await ds.stub.CreateDatasetVersion(
        pb.CreateDatasetVersionRequest(dataset_id=DS, cut=pb.Cut(latest=True))
    )
    rows2 = {r["label_id"]: r for r in (await table_of(ds, 2)).to_pylist()}
    assert rows2["cat-1"]["relations"] == [rel("chases", "cat-1", "mouse-1")]
    assert L.Label.FromString(rows2["cat-1"]["label_proto"]) == cat()
    diff = await ds.stub.DiffDatasetVersions(
        pb.DiffDatasetVersionsRequest(dataset_id=DS, from_version=1, to_version=2)
    )
    assert [(c.label_id, list(c.changed_fields)) for c in diff.changes] == [
        ("cat-1", ["relations"])
    ]
    assert (diff.summary.changed, diff.summary.unchanged) == (1, 1)
