"""Materialized versions: same rows in any order → same bytes; counts, files and reads are right.

Also segment files (``write_segment`` / ``write_segments``) and versions ``assemble``d from
them: same bytes as ``materialize``, stats that merge exactly, manifests that read back.

``make_rows`` builds tables that fill every ``rows.SCHEMA`` column (random boxes, some
polygons, masks, keypoints, spans, item-level rows, lineage strings); ``test_datasets_store``
imports it from here.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from labelops_datasets.adapters.object_store import IntegrityError, ObjectStore
from labelops_datasets.domain import materialize as materialize_module
from labelops_datasets.domain.materialize import (
    MANIFEST_PATH,
    WRITER_SETTINGS,
    FileEntry,
    Materialized,
    assemble,
    canonical_json,
    materialize,
    merge_stats,
    read_version,
    segment_format,
    write_segment,
    write_segments,
)
from labelops_datasets.domain.rows import SCHEMA, SCHEMA_VERSION, SORT_KEYS

CLASSES = ["car", "person", "bicycle", "traffic light", "café"]  # one non-ASCII on purpose
KINDS = ["box", "box", "box", "polygon", "mask", "keypoints", "whole_item", "text_span"]
SPLIT_NAMES = ["train", "val", "test"]
DEFINITION: dict[str, Any] = {
    "dataset_id": "ds-1",
    "version": 3,
    "cut": {"labelops.qa.events": {"0": 120, "1": 98}},
    "filter": {"classes": ["car", "person"], "min_score": 0.5},
    "ontology": {"ontology_id": "onto-1", "version": "4"},
}


def make_rows(
    n_items: int = 40,
    *,
    seed: int = 0,
    split: str | None = None,
    item_prefix: str = "item",
) -> list[dict[str, Any]]:
    """Rows for ``n_items`` items: 0-4 labels each (0 → one item-level "none" row).

    Every column is filled; geometry columns according to the kind. ``split`` forces one
    split for every row (default: random per item).
    """
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    offset = 0
    for i in range(n_items):
        item_id = f"{item_prefix}-{seed}-{i:05d}"
        width, height = rng.choice([(640, 480), (1920, 1080), (0, 0)])
        item = {
            "item_id": item_id,
            "item_uri": f"s3://bucket/{item_id}.jpg",
            "width": width,
            "height": height,
            "split": split or rng.choice(SPLIT_NAMES),
            "task_id": f"task-{i // 3}",
        }
        n_labels = rng.choice([0, 1, 1, 2, 3, 4])
        kinds = [rng.choice(KINDS) for _ in range(n_labels)] or ["none"]
        for j, kind in enumerate(kinds):
            offset += rng.randint(1, 5)
            labeled = kind != "none"
            row = {
                **item,
                "label_id": f"lbl-{rng.getrandbits(64):016x}" if labeled else "",
                "class_id": rng.choice(CLASSES) if labeled else "",
                "geometry_kind": kind,
                "bbox": None,
                "polygon": None,
                "mask_counts": None,
                "keypoints": None,
                "span_start": None,
                "span_end": None,
                "answers_json": json.dumps({"occluded": rng.random() < 0.3}, sort_keys=True),
                "label_proto": rng.randbytes(rng.randint(10, 60)),
                "relations": [],
                "label_event_id": f"evt-{seed}-{i}-{j}",
                "annotators": rng.sample(["ann-a", "ann-b", "ann-c", "ann-d"], rng.randint(1, 3)),
                "consensus_method": rng.choice(["single", "majority_vote", "dawid_skene"]),
                "consensus_score": round(rng.random(), 3),
                "review_decision": rng.choice(["accepted", "corrected", ""]),
                "reviewer": rng.choice(["", "rev-1"]),
                "prelabel_model": "",
                "prelabel_model_version": "",
                "ontology_id": "onto-1",
                "ontology_version": "4",
                "labeled_ontology_version": "4",
                "source_topic": "labelops.qa.events",
                "source_partition": rng.randint(0, 1),
                "source_offset": offset,
            }
            if labeled and rng.random() < 0.4:
                row["prelabel_model"] = rng.choice(["yolo", "sam"])
                row["prelabel_model_version"] = rng.choice(["1", "2"])
            x, y = rng.uniform(0, 500), rng.uniform(0, 400)
            if kind == "box":
                row["bbox"] = [round(x, 2), round(y, 2), rng.uniform(1, 90), rng.uniform(1, 70)]
            elif kind == "polygon":
                n_points = rng.randint(3, 7)
                row["polygon"] = [round(rng.uniform(0, 600), 1) for _ in range(2 * n_points)]
            elif kind == "mask":
                row["mask_counts"] = [rng.randint(0, 200) for _ in range(2 * rng.randint(2, 6))]
            elif kind == "keypoints":
                row["keypoints"] = [v for _ in range(3) for v in (x, y, rng.choice([0, 1, 2]))]
            elif kind == "text_span":
                row["span_start"] = rng.randint(0, 100)
                row["span_end"] = row["span_start"] + rng.randint(1, 20)
            rows.append(row)
    return rows


def to_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def shuffled(rows: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    out = list(rows)
    random.Random(seed).shuffle(out)
    return out


def sort_key(row: dict[str, Any]) -> tuple[Any, ...]:
    # Python orders str by code point = UTF-8 byte order, the order Arrow sorts strings in.
    return tuple(row[k] for k in SORT_KEYS)


def mat(table: pa.Table, **over: Any) -> Materialized:
    return materialize(table, **{**DEFINITION, **over})


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return make_rows(60, seed=1)


@pytest.fixture(scope="module")
def version(rows: list[dict[str, Any]]) -> Materialized:
    return mat(to_table(rows))


# --------------------------------------------------------------------------------------------
# Determinism


def test_same_rows_in_any_order_give_identical_bytes(
    rows: list[dict[str, Any]], version: Materialized
) -> None:
    for seed in range(3):
        again = mat(to_table(shuffled(rows, seed)))
        assert again.files == version.files
        assert again.digest == version.digest
        assert again.manifest == version.manifest


def test_chunking_column_order_and_castable_types_do_not_change_bytes(
    rows: list[dict[str, Any]], version: Materialized
) -> None:
    table = to_table(shuffled(rows, 7))
    # Many small chunks (as a projection appending batches would produce).
    chunked = pa.Table.from_batches(table.to_batches(max_chunksize=7))
    assert chunked.column("item_id").num_chunks > 1
    assert mat(chunked).files == version.files
    # Reordered columns, wider / different-but-castable types, schema metadata.
    names = list(reversed(SCHEMA.names))
    loose = table.select(names)
    loose = loose.set_column(
        names.index("item_id"), "item_id", loose.column("item_id").cast(pa.large_string())
    )
    loose = loose.set_column(names.index("width"), "width", loose.column("width").cast(pa.int64()))
    split = loose.column("split").dictionary_encode()  # as a projection might keep it
    loose = loose.set_column(names.index("split"), "split", split)
    bbox = loose.column("bbox").cast(pa.list_(pa.float64()))
    loose = loose.set_column(names.index("bbox"), "bbox", bbox)
    loose = loose.replace_schema_metadata({"pandas": "{}"})
    assert mat(loose).digest == version.digest


def test_two_writes_of_the_same_table_are_byte_identical(rows: list[dict[str, Any]]) -> None:
    table = to_table(rows)
    first, second = mat(table), mat(table)
    assert first.files == second.files


def test_different_rows_or_definition_give_a_different_digest(
    rows: list[dict[str, Any]], version: Materialized
) -> None:
    changed = [dict(r) for r in rows]
    labeled = next(i for i, r in enumerate(changed) if r["geometry_kind"] != "none")
    changed[labeled]["class_id"] = "truck"
    other = mat(to_table(changed))
    assert other.digest != version.digest
    assert other.files["data/labels-00000.parquet"] != version.files["data/labels-00000.parquet"]
    assert mat(to_table(rows[:-1])).digest != version.digest
    # Same rows, another version number: same data file, new manifest.
    bumped = mat(to_table(rows), version=4)
    assert bumped.digest != version.digest
    assert bumped.manifest["files"] == version.manifest["files"]


def test_sort_is_parallel_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    """The range-partitioned sort gives the exact order one sort_indices call gives."""
    from concurrent.futures import ThreadPoolExecutor

    table = to_table(shuffled(make_rows(300, seed=5), 1))
    expected = pc.sort_indices(table, sort_keys=[(k, "ascending") for k in SORT_KEYS])
    monkeypatch.setattr(materialize_module, "_PARALLEL_SORT_MIN_ROWS", 1)
    with ThreadPoolExecutor(3) as pool:
        for parts in (2, 3, 5):
            order = materialize_module._sort_order(table, pool, parts)
            assert order.to_pylist() == expected.to_pylist()
    # And end to end: the bytes do not depend on how the sort was split.
    serial = mat(table)
    monkeypatch.setattr(materialize_module, "_MAX_WORKERS", 1)
    assert mat(table).files == serial.files


# --------------------------------------------------------------------------------------------
# Files and writer settings


def test_files_are_split_at_rows_per_file(rows: list[dict[str, Any]]) -> None:
    m = mat(to_table(rows), rows_per_file=25)
    n = len(rows)
    expected_rows = [25] * (n // 25) + ([n % 25] if n % 25 else [])
    entries = m.manifest["files"]
    assert [e["rows"] for e in entries] == expected_rows
    assert [e["path"] for e in entries] == [
        f"data/labels-{i:05d}.parquet" for i in range(len(expected_rows))
    ]
    assert set(m.files) == {e["path"] for e in entries} | {MANIFEST_PATH}
    for e in entries:
        data = m.files[e["path"]]
        assert e["sha256"] == hashlib.sha256(data).hexdigest()
        assert e["bytes"] == len(data)
        assert pq.ParquetFile(io.BytesIO(data)).metadata.num_rows == e["rows"]
    # The files, in order, are the sorted rows.
    expected = sorted(rows, key=sort_key)
    got = [r for e in entries for r in pq.read_table(io.BytesIO(m.files[e["path"]])).to_pylist()]
    assert [sort_key(r) for r in got] == [sort_key(r) for r in expected]


def test_row_groups_are_cut_at_the_fixed_size(
    rows: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(materialize_module, "ROW_GROUP_SIZE", 8)
    m = mat(to_table(rows), rows_per_file=30)
    for e in m.manifest["files"]:
        meta = pq.ParquetFile(io.BytesIO(m.files[e["path"]])).metadata
        sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        assert sizes == [8] * (e["rows"] // 8) + ([e["rows"] % 8] if e["rows"] % 8 else [])
    assert m.manifest["writer"]["row_group_size"] == 8
    assert mat(to_table(shuffled(rows, 3)), rows_per_file=30).files == m.files
    assert read_version(m.files).to_pylist() == sorted(rows, key=sort_key)


def test_pipelined_file_equals_one_plain_write(
    rows: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The threads are only an optimization: the file is what one ``pq.write_table`` of the
    sorted rows with the pinned settings produces."""
    monkeypatch.setattr(materialize_module, "ROW_GROUP_SIZE", 16)
    m = mat(to_table(shuffled(rows, 4)))
    ordered = pa.Table.from_pylist(sorted(rows, key=sort_key), schema=SCHEMA)
    buf = io.BytesIO()
    pq.write_table(
        ordered,
        buf,
        row_group_size=16,
        sorting_columns=pq.SortingColumn.from_ordering(
            SCHEMA, [(k, "ascending") for k in SORT_KEYS]
        ),
        **WRITER_SETTINGS,
    )
    assert m.files["data/labels-00000.parquet"] == buf.getvalue()


def test_parquet_files_carry_the_fixed_settings(version: Materialized) -> None:
    pf = pq.ParquetFile(io.BytesIO(version.files["data/labels-00000.parquet"]))
    meta = pf.metadata
    assert meta.format_version == "2.6"
    # Constant for a pinned pyarrow; recorded in the manifest as well.
    assert meta.created_by == f"parquet-cpp-arrow version {pa.__version__}"
    # No timestamps or other varying key-value metadata: only the Arrow schema.
    assert set(meta.metadata) == {b"ARROW:schema"}
    assert pf.schema_arrow.equals(SCHEMA)
    rg = meta.row_group(0)
    assert {rg.column(i).compression for i in range(rg.num_columns)} == {"ZSTD"}
    sorting = [(c.column_index, c.descending) for c in rg.sorting_columns]
    leaves = [rg.column(c.column_index).path_in_schema for c in rg.sorting_columns]
    assert leaves == list(SORT_KEYS) and not any(d for _, d in sorting)
    by_path = {rg.column(i).path_in_schema: rg.column(i) for i in range(rg.num_columns)}
    assert by_path["split"].statistics is not None
    assert by_path["label_proto"].statistics is None
    assert by_path["class_id"].dictionary_page_offset is not None
    assert by_path["label_proto"].dictionary_page_offset is None
    assert version.manifest["writer"]["compression"] == WRITER_SETTINGS["compression"] == "zstd"
    assert version.manifest["writer"]["library"] == f"pyarrow {pa.__version__}"


# --------------------------------------------------------------------------------------------
# Manifest


def test_manifest_is_canonical_and_addresses_the_version(version: Materialized) -> None:
    raw = version.files[MANIFEST_PATH]
    assert raw.endswith(b"}\n") and raw.count(b"\n") == 1
    assert canonical_json(json.loads(raw)) == raw
    assert json.loads(raw) == version.manifest
    assert version.digest == hashlib.sha256(raw).hexdigest()
    assert "café" in raw.decode("utf-8")  # UTF-8, not \u-escaped
    assert set(version.manifest) == {
        "schema_version",
        "dataset_id",
        "version",
        "created_by",
        "cut",
        "filter",
        "ontology",
        "sort_keys",
        "writer",
        "row_count",
        "counts",
        "files",
        "content_sha256",
        "lineage",
    }
    m = version.manifest
    assert m["schema_version"] == SCHEMA_VERSION
    assert (m["dataset_id"], m["version"]) == ("ds-1", 3)
    assert (m["cut"], m["filter"], m["ontology"]) == (
        DEFINITION["cut"],
        DEFINITION["filter"],
        DEFINITION["ontology"],
    )
    assert m["sort_keys"] == list(SORT_KEYS)
    # No wall-clock time anywhere: the bytes are a function of the rows and definition only.
    assert not any(word in raw.decode() for word in ("created_at", "timestamp", 'time"'))


def test_manifest_counts_and_lineage(rows: list[dict[str, Any]], version: Materialized) -> None:
    counts = version.manifest["counts"]
    labels = [r for r in rows if r["geometry_kind"] != "none"]
    assert version.manifest["row_count"] == counts["rows"] == len(rows)
    assert counts["labels"] == len(labels)
    assert counts["per_split"] == {s: sum(r["split"] == s for r in rows) for s in SPLIT_NAMES}
    assert counts["items_per_split"] == {
        s: len({r["item_id"] for r in rows if r["split"] == s}) for s in SPLIT_NAMES
    }
    assert counts["per_class"] == dict(sorted(Counter(r["class_id"] for r in labels).items()))
    assert counts["per_split_class"] == {
        s: dict(sorted(Counter(r["class_id"] for r in labels if r["split"] == s).items()))
        for s in SPLIT_NAMES
    }
    assert counts["per_geometry_kind"] == dict(Counter(r["geometry_kind"] for r in rows))
    assert sum(counts["per_class"].values()) == counts["labels"]

    lineage = version.manifest["lineage"]
    assert lineage["consensus_methods"] == dict(Counter(r["consensus_method"] for r in rows))
    assert lineage["review_decisions"] == dict(Counter(r["review_decision"] for r in rows))
    assert lineage["annotators"] == len({a for r in rows for a in r["annotators"]})
    assert lineage["label_events"] == len({r["label_event_id"] for r in rows})
    models: dict[str, dict[str, int]] = {}
    for r in rows:
        if r["prelabel_model"]:
            v = models.setdefault(r["prelabel_model"], {})
            v[r["prelabel_model_version"]] = v.get(r["prelabel_model_version"], 0) + 1
    assert lineage["prelabel_models"] == models and models


def test_definition_values_must_be_json(rows: list[dict[str, Any]]) -> None:
    table = to_table(rows[:5])
    m = mat(table, cut={"t": ("a", 1)}, created_by="alice")
    assert m.manifest["cut"] == {"t": ["a", 1]}
    assert m.manifest["created_by"] == "alice"
    for bad in ({"t": {1, 2}}, {"t": float("nan")}, {1: "x"}, {"t": b"x"}):
        with pytest.raises(ValueError):
            mat(table, cut=bad)
    with pytest.raises(ValueError):
        mat(table, version=-1)
    with pytest.raises(ValueError):
        mat(table, rows_per_file=0)


def test_empty_version(version: Materialized) -> None:
    m = mat(SCHEMA.empty_table())
    assert [e["rows"] for e in m.manifest["files"]] == [0]
    assert m.manifest["counts"]["per_split"] == {"train": 0, "val": 0, "test": 0}
    assert m.manifest["lineage"]["label_events"] == 0
    table = read_version(m.files)
    assert table.num_rows == 0 and table.schema.equals(SCHEMA)
    assert mat(SCHEMA.empty_table()).digest == m.digest != version.digest


# --------------------------------------------------------------------------------------------
# Validation


def _with_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)


def test_schema_violations_are_rejected(rows: list[dict[str, Any]]) -> None:
    table = to_table(rows)
    n = table.num_rows
    bad_tables = {
        "missing column": table.drop_columns(["reviewer"]),
        "extra column": table.append_column("extra", pa.array([1] * n)),
        "uncastable type": _with_column(table, "width", pa.array(["wide"] * n)),
        "overflow": _with_column(table, "width", pa.array([2**40] * n, pa.int64())),
        "wrong list type": _with_column(table, "annotators", pa.array([[1]] * n)),
        "bad split": _with_column(table, "split", pa.array(["holdout"] * n)),
        "bad kind": _with_column(table, "geometry_kind", pa.array(["blob"] * n)),
    }
    nullable = pa.schema([f.with_nullable(True) for f in SCHEMA])
    loose = table.cast(nullable)
    bad_tables["null in non-nullable"] = _with_column(
        loose, "class_id", pa.array([None] * n, pa.string())
    )
    for what, bad in bad_tables.items():
        with pytest.raises(ValueError):
            mat(bad)
            pytest.fail(f"accepted a table with {what}")
    with pytest.raises(ValueError):
        mat(rows)  # type: ignore[arg-type]


def test_duplicate_sort_keys_are_rejected(
    rows: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Equal keys would leave the order of the two rows to the input order."""
    dup = dict(rows[10], consensus_score=0.123)
    with pytest.raises(ValueError, match="duplicate"):
        mat(to_table([*rows, dup]))
    # Also when the two rows land on either side of a row-group boundary.
    monkeypatch.setattr(materialize_module, "ROW_GROUP_SIZE", 1)
    with pytest.raises(ValueError, match="duplicate"):
        mat(to_table([*rows, dup]))


# --------------------------------------------------------------------------------------------
# Reading


def test_read_version_round_trip(rows: list[dict[str, Any]], version: Materialized) -> None:
    table = read_version(version.files)
    assert table.schema.equals(SCHEMA)
    assert table.to_pylist() == sorted(rows, key=sort_key)
    # Without a manifest: data files in path order.
    multi = mat(to_table(rows), rows_per_file=7)
    data_only = {p: b for p, b in multi.files.items() if p != MANIFEST_PATH}
    assert read_version(data_only).equals(table)
    assert read_version(multi.files).equals(table)


def test_read_version_detects_tampering(version: Materialized) -> None:
    path = "data/labels-00000.parquet"
    data = bytearray(version.files[path])
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(ValueError, match="sha256"):
        read_version({**version.files, path: bytes(data)})
    with pytest.raises(ValueError, match="missing"):
        read_version({MANIFEST_PATH: version.files[MANIFEST_PATH]})
    future = json.loads(version.files[MANIFEST_PATH])
    future["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(ValueError, match="schema_version"):
        read_version({**version.files, MANIFEST_PATH: canonical_json(future)})
    with pytest.raises(ValueError):
        read_version({})


def test_geometry_round_trips_exactly(rows: list[dict[str, Any]], version: Materialized) -> None:
    by_key = {sort_key(r): r for r in read_version(version.files).to_pylist()}
    for r in rows:
        got = by_key[sort_key(r)]
        for column in ("bbox", "polygon", "mask_counts", "keypoints", "label_proto"):
            assert got[column] == r[column]
    table = read_version(version.files)
    assert np.isin(table.column("split").to_numpy(zero_copy_only=False), SPLIT_NAMES).all()


# --------------------------------------------------------------------------------------------
# Segments: write_segment / write_segments / assemble


def segment_rows(k: int = 4) -> list[list[dict[str, Any]]]:
    """``k`` segments' rows, as the service groups them: disjoint items and events."""
    return [make_rows(25 + 7 * i, seed=100 + i, item_prefix=f"seg{i}") for i in range(k)]


def assembled(entries: Any, **over: Any) -> tuple[bytes, str, dict[str, Any]]:
    return assemble(entries, **{**DEFINITION, **over})


def version_files(manifest: dict[str, Any], blobs: dict[str, bytes]) -> dict[str, bytes]:
    """The ``read_version`` input of an assembled version: its manifest and each file by path."""
    files = {f["path"]: blobs[f["sha256"]] for f in manifest["files"]}
    return {**files, MANIFEST_PATH: canonical_json(manifest)}


@pytest.fixture(scope="module")
def segments() -> list[list[dict[str, Any]]]:
    return segment_rows()


def test_write_segment_same_rows_any_order_or_chunking_same_bytes(
    rows: list[dict[str, Any]], version: Materialized
) -> None:
    first = write_segment(to_table(rows))
    assert first.rows == len(rows)
    assert first.sha256 == hashlib.sha256(first.data).hexdigest()
    for seed in range(3):
        table = to_table(shuffled(rows, seed))
        for chunked in (table, pa.Table.from_batches(table.to_batches(max_chunksize=5 + seed))):
            again = write_segment(chunked)
            assert again == first
    # The file is byte for byte what materialize writes for the same rows in one file, and
    # the manifest over it is materialize's manifest: one format, one manifest builder.
    assert first.data == version.files["data/labels-00000.parquet"]
    manifest_bytes, digest, manifest = assembled([first])
    assert manifest_bytes == version.files[MANIFEST_PATH]
    assert (digest, manifest) == (version.digest, version.manifest)
    # The rows come back sorted.
    got = pq.read_table(io.BytesIO(first.data)).to_pylist()
    assert got == sorted(rows, key=sort_key)


def test_write_segment_row_groups_follow_the_fixed_layout(
    rows: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = write_segment(to_table(rows[:10]))
    monkeypatch.setattr(materialize_module, "ROW_GROUP_SIZE", 8)
    seg = write_segment(to_table(shuffled(rows, 2)))
    meta = pq.ParquetFile(io.BytesIO(seg.data)).metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert sizes == [8] * (len(rows) // 8) + ([len(rows) % 8] if len(rows) % 8 else [])
    assert seg.data == mat(to_table(rows)).files["data/labels-00000.parquet"]
    # Another row-group size is another format: a file cached under the old one is refused.
    assert before.stats["format"] != seg.stats["format"] == segment_format()
    with pytest.raises(ValueError, match="format"):
        assembled([before])


def test_write_segments_equals_one_by_one(segments: list[list[dict[str, Any]]]) -> None:
    tables = [to_table(shuffled(r, i)) for i, r in enumerate(segments)]
    tables.insert(2, SCHEMA.empty_table())
    expected = [write_segment(t) for t in tables]
    assert expected[2].rows == 0 and expected[2].data
    for workers in (None, 1, 2, 3, 16):
        assert write_segments(tables, workers=workers) == expected
    assert write_segments([]) == []
    with pytest.raises(ValueError):
        write_segments(tables, workers=0)
    # The first failure is raised (here: a segment with a bad split).
    bad = _with_column(tables[1], "split", pa.array(["holdout"] * tables[1].num_rows))
    with pytest.raises(ValueError, match="split"):
        write_segments([tables[0], bad, tables[3]], workers=2)


def test_assemble_counts_and_lineage_equal_the_concatenated_table(
    segments: list[list[dict[str, Any]]],
) -> None:
    written = write_segments([to_table(r) for r in segments])
    everything = [row for r in segments for row in r]
    whole = write_segment(to_table(everything))
    # Merged stats are exactly the stats of the concatenated rows (items and events are
    # disjoint between the segments, as in the service).
    assert merge_stats(s.stats for s in written) == whole.stats
    assert merge_stats(s.stats for s in reversed(written)) == whole.stats
    _, _, manifest = assembled(written)
    reference = mat(to_table(everything)).manifest
    assert manifest["counts"] == reference["counts"]
    assert manifest["lineage"] == reference["lineage"]
    assert manifest["row_count"] == len(everything)
    assert manifest["lineage"]["annotators"] == len(
        {a for r in everything for a in r["annotators"]}
    )
    # Same keys and shape as materialize's manifest; files listed in the given order.
    assert set(manifest) == set(reference)
    # (Other files, so another content hash: it is of the files.)
    per_file = ("counts", "lineage", "files", "content_sha256")
    assert {k: v for k, v in manifest.items() if k not in per_file} == {
        k: v for k, v in reference.items() if k not in per_file
    }
    assert manifest["files"] == [
        {
            "path": f"data/labels-{i:05d}.parquet",
            "sha256": s.sha256,
            "rows": s.rows,
            "bytes": len(s.data),
        }
        for i, s in enumerate(written)
    ]


def test_items_per_split_is_summed_over_files() -> None:
    """An item split over two files counts once per file (documented); other counts exact."""
    item_rows = [r for r in make_rows(30, seed=4, split="train") if r["geometry_kind"] != "none"]
    by_item: dict[str, list[dict[str, Any]]] = {}
    for r in item_rows:
        by_item.setdefault(r["item_id"], []).append(r)
    straddling = next(rs for rs in by_item.values() if len(rs) >= 2)
    first = [r for r in item_rows if r is not straddling[0]]
    a, b = write_segment(to_table(first)), write_segment(to_table([straddling[0]]))
    merged = merge_stats([a.stats, b.stats])
    whole = write_segment(to_table(item_rows)).stats
    assert merged["items_per_split"]["train"] == whole["items_per_split"]["train"] + 1
    assert {k: v for k, v in merged.items() if k != "items_per_split"} == {
        k: v for k, v in whole.items() if k != "items_per_split"
    }


def test_stats_round_trip_through_json_and_cached_entries_assemble_the_same(
    segments: list[list[dict[str, Any]]],
) -> None:
    written = write_segments([to_table(r) for r in segments])
    for seg in written:
        text = json.dumps(seg.stats)
        assert json.loads(text) == seg.stats
        assert canonical_json(json.loads(text)) == canonical_json(seg.stats)
    cached = [
        FileEntry(
            sha256=s.sha256, rows=s.rows, bytes=len(s.data), stats=json.loads(json.dumps(s.stats))
        )
        for s in written
    ]
    assert [s.entry for s in written] == cached
    assert assembled(cached) == assembled(written)
    # A mix of new files and cached ones, as an incremental version is built.
    assert assembled([*cached[:2], *written[2:]]) == assembled(written)


def test_assembled_version_reads_back(segments: list[list[dict[str, Any]]]) -> None:
    written = write_segments([to_table(shuffled(r, 5)) for r in segments])
    manifest_bytes, digest, manifest = assembled(written, extra={"segments": [[0, 10], [10, 20]]})
    assert manifest["extra"] == {"segments": [[0, 10], [10, 20]]}
    assert "extra" not in assembled(written)[2]
    assert digest == hashlib.sha256(manifest_bytes).hexdigest()
    assert manifest_bytes == canonical_json(manifest)
    blobs = {s.sha256: s.data for s in written}
    table = read_version(version_files(manifest, blobs))
    assert table.schema.equals(SCHEMA)
    # Each file sorted, the files in segment order.
    expected = [row for r in segments for row in sorted(r, key=sort_key)]
    assert table.to_pylist() == expected
    # Tampered blob detected through the manifest's sha256.
    tampered = dict(blobs)
    tampered[written[1].sha256] = written[1].data[:-1] + b"x"
    with pytest.raises(ValueError, match="sha256"):
        read_version(version_files(manifest, tampered))


def test_assembled_version_through_the_object_store(
    tmp_path: Path, segments: list[list[dict[str, Any]]]
) -> None:
    store = ObjectStore(str(tmp_path / "store"))
    written = write_segments([to_table(r) for r in segments])
    manifest_bytes, digest, manifest = assembled(written)
    # The manifest goes last: refused while a file it lists is not stored.
    with pytest.raises(ValueError, match="put_blob"):
        store.put_manifest(manifest_bytes, digest)
    assert not store.has_version(digest)
    with pytest.raises(IntegrityError):
        store.put_blob(written[0].data, written[1].sha256)
    assert not store.has_blob(written[0].sha256)
    for seg in written:
        assert store.put_blob(seg.data, seg.sha256) == seg.sha256
        assert store.has_blob(seg.sha256)
    with pytest.raises(IntegrityError):
        store.put_manifest(manifest_bytes, "0" * 64)
    url = store.put_manifest(manifest_bytes, digest)
    assert url == store.manifest_url(digest)
    assert store.get_manifest(digest) == manifest
    assert store.manifest_bytes(digest) == manifest_bytes
    expected = [row for r in segments for row in sorted(r, key=sort_key)]
    assert store.open_version(digest).to_pylist() == expected
    # An incremental version: one segment rewritten, the others reused from the cache only.
    changed = [dict(r) for r in segments[2]]
    changed[0]["consensus_score"] = 0.5
    rewritten = write_segment(to_table(changed))
    entries = [written[0].entry, written[1].entry, rewritten, written[3].entry]
    next_bytes, next_digest, _ = assembled(entries, version=4)
    store.put_blob(rewritten.data, rewritten.sha256)
    store.put_manifest(next_bytes, next_digest)
    got = store.open_version(next_digest).to_pylist()
    assert got == [
        *expected[: -len(segments[3]) - len(changed)],
        *sorted(changed, key=sort_key),
        *expected[-len(segments[3]) :],
    ]
    blobs = [p for p in Path(tmp_path / "store").rglob("*") if "blobs" in p.parts and p.is_file()]
    assert len(blobs) == len(written) + 1


def test_empty_segments_are_left_out(segments: list[list[dict[str, Any]]], tmp_path: Path) -> None:
    empty = write_segment(SCHEMA.empty_table())
    assert empty.rows == 0 and empty.stats["rows"] == 0
    assert pq.ParquetFile(io.BytesIO(empty.data)).metadata.num_rows == 0
    seg = write_segment(to_table(segments[0]))
    _, _, manifest = assembled([empty, seg, empty.entry])
    assert [f["path"] for f in manifest["files"]] == ["data/labels-00000.parquet"]
    assert manifest == assembled([seg])[2]
    # No rows at all: no file; reads as an empty table.
    manifest_bytes, digest, manifest = assembled([empty])
    assert manifest["files"] == [] and manifest["row_count"] == 0
    assert manifest["counts"]["per_split"] == {"train": 0, "val": 0, "test": 0}
    assert read_version({MANIFEST_PATH: manifest_bytes}).equals(SCHEMA.empty_table())
    store = ObjectStore(str(tmp_path / "store"))
    store.put_manifest(manifest_bytes, digest)
    assert store.open_version(digest).num_rows == 0


def test_write_segment_rejects_duplicates_and_bad_rows(rows: list[dict[str, Any]]) -> None:
    dup = dict(rows[10], consensus_score=0.123)
    with pytest.raises(ValueError, match="duplicate"):
        write_segment(to_table(shuffled([*rows, dup], 1)))
    table = to_table(rows)
    with pytest.raises(ValueError):
        write_segment(table.drop_columns(["reviewer"]))
    with pytest.raises(ValueError, match="geometry_kind"):
        write_segment(_with_column(table, "geometry_kind", pa.array(["blob"] * table.num_rows)))


def test_assemble_rejects_inconsistent_entries(
    rows: list[dict[str, Any]], segments: list[list[dict[str, Any]]]
) -> None:
    seg = write_segment(to_table(rows))
    other = write_segment(to_table(segments[0]))
    entry = seg.entry
    # The same file twice would hold its rows twice.
    with pytest.raises(ValueError, match="same file"):
        assembled([seg, other, entry])
    stats = dict(entry.stats)
    bad_entries = {
        "row count differs from the stats": FileEntry(
            entry.sha256, entry.rows + 1, entry.bytes, stats
        ),
        "not a sha256": FileEntry("abc", entry.rows, entry.bytes, stats),
        "negative bytes": FileEntry(entry.sha256, entry.rows, -1, stats),
        "stats missing a key": FileEntry(
            entry.sha256, entry.rows, entry.bytes, {k: v for k, v in stats.items() if k != "labels"}
        ),
        "another format": FileEntry(
            entry.sha256, entry.rows, entry.bytes, {**stats, "format": "x"}
        ),
        "counts not ints": FileEntry(
            entry.sha256, entry.rows, entry.bytes, {**stats, "per_class": {"car": "3"}}
        ),
        "unknown split": FileEntry(
            entry.sha256, entry.rows, entry.bytes, {**stats, "items_per_split": {"holdout": 1}}
        ),
        "per_split not adding up": FileEntry(
            entry.sha256,
            entry.rows,
            entry.bytes,
            {
                **stats,
                "per_split": {**stats["per_split"], "train": stats["per_split"]["train"] + 1},
            },
        ),
    }
    for what, bad in bad_entries.items():
        with pytest.raises(ValueError):
            assembled([bad])
            pytest.fail(f"assembled an entry with {what}")
    with pytest.raises(ValueError):
        assembled([{"sha256": entry.sha256}])
    with pytest.raises(ValueError):
        assembled([seg], extra=["not", "an", "object"])
    with pytest.raises(ValueError):
        assembled([seg], extra={"when": float("nan")})
    with pytest.raises(ValueError):
        assembled([seg], version=-1)
