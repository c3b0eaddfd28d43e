"""Relations between labels after the rows are built: what a diff, the IPC stream and the Label
Studio export make of them, and versions written before the ``relations`` column (schema 1),
which still read, with none."""

from __future__ import annotations

import hashlib
import io
import json
import xml.etree.ElementTree as ET
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from labelops_datasets.domain.diff import diff_tables
from labelops_datasets.domain.exports import to_label_studio
from labelops_datasets.domain.manifest import MANIFEST_PATH, canonical_json, read_version
from labelops_datasets.domain.rows import SCHEMA
from labelops_datasets.domain.streaming import IpcStream

# This directory is on sys.path (pytest's prepend import mode): share the row builders.
from test_datasets_exports import TRIANGLE, make_table, row
from test_datasets_materialize import make_rows


def rel(relationship_id: str, a: str, b: str) -> dict[str, str]:
    return {"relationship_id": relationship_id, "from_label_id": a, "to_label_id": b}


def schema_1_version(rows: list[dict[str, Any]]) -> dict[str, bytes]:
    """A version as schema 1 wrote it: no ``relations`` column, manifest schema_version 1."""
    table = pa.Table.from_pylist(rows, schema=SCHEMA).drop_columns(["relations"])
    buf = io.BytesIO()
    pq.write_table(table, buf)
    data = buf.getvalue()
    path = "data/labels-00000.parquet"
    manifest = {
        "schema_version": 1,
        "files": [
            {
                "path": path,
                "sha256": hashlib.sha256(data).hexdigest(),
                "rows": len(rows),
                "bytes": len(data),
            }
        ],
    }
    return {MANIFEST_PATH: canonical_json(manifest), path: data}


def test_a_schema_1_version_reads_and_streams_with_no_relations() -> None:
    rows = make_rows(12, seed=5)
    files = schema_1_version(rows)
    table = read_version(files)
    assert table.schema.equals(SCHEMA)
    assert table.column("relations").to_pylist() == [[]] * len(rows)
    assert table.drop_columns(["relations"]).to_pylist() == [
        {k: v for k, v in r.items() if k != "relations"} for r in rows
    ]
    data = files["data/labels-00000.parquet"]
    for columns in ([], ["label_id", "relations"], ["relations"]):
        ipc = IpcStream("", columns, 1 << 20)
        chunks = [c for c, _ in ipc.add(data)]
        chunks.append(ipc.close()[0])
        streamed = pa.ipc.open_stream(pa.BufferReader(b"".join(chunks))).read_all()
        assert streamed.num_rows == len(rows)
        assert streamed.column("relations").to_pylist() == [[]] * len(rows)
        assert streamed.column_names == (columns or SCHEMA.names)


def test_a_changed_relation_is_a_changed_label_in_a_diff() -> None:
    a = [
        row("img", "box", "person", label_id="p", bbox=[1.0, 2.0, 3.0, 4.0]),
        row("img", "box", "horse", label_id="h", bbox=[5.0, 6.0, 7.0, 8.0]),
    ]
    b = [dict(r) for r in a]
    b[0]["relations"] = [rel("rides", "p", "h")]
    changes, summary = diff_tables(make_table(a), make_table(b))
    assert (summary.changed, summary.unchanged, summary.added, summary.removed) == (1, 1, 0, 0)
    (change,) = changes
    assert (change.label_id, list(change.changed_fields)) == ("p", ["relations"])


def test_label_studio_exports_relations_between_its_regions() -> None:
    table = make_table(
        [
            row(
                "img",
                "box",
                "person",
                label_id="p",
                bbox=[10.0, 10.0, 20.0, 20.0],
                relations=[rel("rides", "p", "h"), rel("holds", "p", "k"), rel("near", "p", "s")],
            ),
            row("img", "polygon", "horse", label_id="h", polygon=TRIANGLE),
            # A keypoints label is not a Label Studio region: its relation cannot be written.
            row("img", "keypoints", "kite", label_id="k", keypoints=[1.0, 2.0, 2.0]),
            row("img", "box", "sun", label_id="s", bbox=[1.0, 1.0, 2.0, 2.0]),
        ]
    )
    export = to_label_studio(table)
    (task,) = json.loads(export.files["tasks.json"])
    result = task["annotations"][0]["result"]
    relations = [r for r in result if r["type"] == "relation"]
    assert relations == [
        {
            "type": "relation",
            "from_id": "p",
            "to_id": "h",
            "direction": "right",
            "labels": ["rides"],
        },
        {
            "type": "relation",
            "from_id": "p",
            "to_id": "s",
            "direction": "right",
            "labels": ["near"],
        },
    ]
    regions = {r["id"] for r in result if r["type"] != "relation"}
    assert {r["from_id"] for r in relations} | {r["to_id"] for r in relations} <= regions
    assert (export.stats["relations"], export.stats["relations_skipped"]) == (2, 1)
    config = ET.fromstring(export.files["label_config.xml"])
    (declared,) = [el for el in config if el.tag == "Relations"]
    assert [r.get("value") for r in declared] == ["near", "rides"]
