"""Dataset exports: each format is loaded back by the tool that consumes it.

COCO goes through pycocotools (``COCO``, ``annToMask``, ``loadRes`` + ``COCOeval``), Parquet and
the in-memory dataset through Hugging Face ``datasets``; YOLO and Label Studio files are parsed
and their normalized / percent coordinates checked by hand. The fixture table is six 100x80
images: two boxes, a triangle, a mask whose foreground run wraps across a column, keypoints, a
whole-item class and an item with no labels.
"""

from __future__ import annotations

import json
import random
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import yaml
from labelops_datasets.domain.exports import (
    Export,
    class_index,
    to_coco,
    to_hf_dataset,
    to_label_studio,
    to_parquet_bytes,
    to_yolo,
)
from labelops_datasets.domain.rows import SCHEMA
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

# pycocotools' own decode trips a NumPy 2 copy-keyword deprecation; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools")

W, H = 100, 80


def encode_rle(mask: np.ndarray) -> list[int]:
    """Uncompressed COCO RLE: run lengths over the column-major mask, starting with 0s."""
    flat = mask.flatten(order="F").astype(np.uint8)
    counts: list[int] = []
    current, run = 0, 0
    for v in flat.tolist():
        if v == current:
            run += 1
        else:
            counts.append(run)
            current, run = v, 1
    counts.append(run)
    return counts


def make_mask() -> np.ndarray:
    mask = np.zeros((H, W), dtype=np.uint8)
    mask[5:25, 30:50] = 1
    # Column 71 rows 60..79 then column 72 rows 0..2: one run wrapping into the next column.
    mask[60:80, 71] = 1
    mask[0:3, 72] = 1
    return mask


def row(
    item_id: str,
    kind: str = "none",
    class_id: str = "",
    *,
    label_id: str = "",
    split: str = "train",
    width: int = W,
    height: int = H,
    **geometry: Any,
) -> dict[str, Any]:
    """One row with every SCHEMA column filled (geometry columns default to null)."""
    out: dict[str, Any] = {
        "item_id": item_id,
        "item_uri": f"s3://bucket/{item_id}.jpg",
        "width": width,
        "height": height,
        "split": split,
        "task_id": f"task-{item_id}",
        "label_id": label_id,
        "class_id": class_id,
        "geometry_kind": kind,
        "bbox": None,
        "polygon": None,
        "mask_counts": None,
        "keypoints": None,
        "span_start": None,
        "span_end": None,
        "answers_json": "{}",
        "label_proto": b"\x0a\x01x",
        "relations": [],
        "label_event_id": f"evt-{item_id}-{label_id}",
        "annotators": ["ann-1", "ann-2"],
        "consensus_method": "majority_vote",
        "consensus_score": 1.0,
        "review_decision": "accept",
        "reviewer": "rev-1",
        "prelabel_model": "",
        "prelabel_model_version": "",
        "ontology_id": "onto-1",
        "ontology_version": "3",
        "labeled_ontology_version": "3",
        "source_topic": "labels.accepted",
        "source_partition": 0,
        "source_offset": 0,
    }
    out.update(geometry)
    return out


def make_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SCHEMA)


TRIANGLE = [10.0, 10.0, 70.0, 10.0, 40.0, 60.0]  # area 1500, extent [10, 10, 60, 50]
KEYPOINTS = [20.0, 30.0, 2.0, 40.0, 50.0, 1.0, 0.0, 0.0, 0.0]


@pytest.fixture(scope="module")
def mask() -> np.ndarray:
    return make_mask()


@pytest.fixture(scope="module")
def table(mask: np.ndarray) -> pa.Table:
    return make_table(
        [
            row("img-a", "box", "cat", label_id="l1", bbox=[10.0, 20.0, 30.0, 40.0]),
            row("img-a", "box", "dog", label_id="l2", bbox=[50.0, 10.0, 40.0, 30.0]),
            row("img-b", "polygon", "dog", label_id="l3", polygon=TRIANGLE),
            row("img-c", "mask", "cat", label_id="l4", split="val", mask_counts=encode_rle(mask)),
            row("img-d", "keypoints", "person", label_id="l5", split="val", keypoints=KEYPOINTS),
            row("img-e", "whole_item", "outdoor", label_id="l6", split="test"),
            row("img-f", split="test"),
        ]
    )


def load_coco(export: Export, tmp_path: Path) -> COCO:
    (name,) = export.files
    path = tmp_path / Path(name).name
    path.write_bytes(export.files[name])
    return COCO(str(path))


def ann_of(coco: COCO, item_id: str) -> list[dict[str, Any]]:
    (img,) = [i for i in coco.dataset["images"] if i["file_name"].endswith(f"/{item_id}.jpg")]
    return coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]]))


# ---------------------------------------------------------------------------------------------
# class_index


def test_class_index_sorted_labeled_classes_or_given_order(table: pa.Table) -> None:
    assert class_index(table) == ["cat", "dog", "outdoor", "person"]
    assert class_index(table, ["person", "dog"]) == ["person", "dog"]
    with pytest.raises(ValueError, match="duplicate"):
        class_index(table, ["dog", "dog"])


# ---------------------------------------------------------------------------------------------
# COCO


def test_coco_loads_in_pycocotools(table: pa.Table, mask: np.ndarray, tmp_path: Path) -> None:
    export = to_coco(table)
    assert list(export.files) == ["annotations/all.json"]
    assert export.format == "coco"
    assert export.stats == {
        "images": 6,
        "annotations": 5,
        "skipped_by_kind": {"whole_item": 1},
        "skipped_by_reason": {"unsupported_kind": 1},
        "relations": 0,
        "relations_skipped": 0,
    }
    coco = load_coco(export, tmp_path)
    assert len(coco.getImgIds()) == 6
    assert len(coco.getAnnIds()) == 5
    # Image ids follow sorted item_id; categories follow class_index.
    assert [coco.imgs[i]["file_name"] for i in sorted(coco.imgs)] == [
        f"s3://bucket/img-{c}.jpg" for c in "abcdef"
    ]
    assert all((img["width"], img["height"]) == (W, H) for img in coco.dataset["images"])
    assert [(c["id"], c["name"]) for c in coco.dataset["categories"]] == [
        (1, "cat"),
        (2, "dog"),
        (3, "outdoor"),
        (4, "person"),
    ]
    assert coco.getAnnIds(imgIds=[6]) == []  # the item with no labels is an image, no anns

    cat, dog = ann_of(coco, "img-a")
    assert (cat["category_id"], cat["bbox"], cat["area"]) == (1, [10.0, 20.0, 30.0, 40.0], 1200.0)
    assert (dog["category_id"], dog["bbox"], dog["area"]) == (2, [50.0, 10.0, 40.0, 30.0], 1200.0)
    assert cat["segmentation"] == [] and cat["iscrowd"] == 0

    (poly,) = ann_of(coco, "img-b")
    assert poly["segmentation"] == [TRIANGLE]
    assert poly["bbox"] == [10.0, 10.0, 60.0, 50.0]
    assert poly["area"] == pytest.approx(1500.0)
    assert poly["iscrowd"] == 0
    # The rasterized triangle roughly agrees with the shoelace area.
    assert coco.annToMask(poly).sum() == pytest.approx(1500, rel=0.05)

    (m,) = ann_of(coco, "img-c")
    assert m["segmentation"]["size"] == [H, W]
    assert m["iscrowd"] == 0  # an instance, not a crowd region (see to_coco's docstring)
    decoded = coco.annToMask(m)
    assert decoded.shape == (H, W)
    np.testing.assert_array_equal(decoded, mask)
    rle = coco.annToRLE(m)
    assert m["area"] == float(mask_utils.area(rle)) == float(mask.sum())
    assert m["bbox"] == mask_utils.toBbox(rle).tolist()
    # The wrapping run spans full columns 71..72, so y covers the whole height.
    assert m["bbox"] == [30.0, 0.0, 43.0, 80.0]

    (kp,) = ann_of(coco, "img-d")
    assert kp["keypoints"] == KEYPOINTS
    assert kp["num_keypoints"] == 2
    assert kp["bbox"] == [20.0, 30.0, 20.0, 20.0]  # extent of the visible points
    assert kp["area"] == 400.0


def test_coco_perfect_results_score_ap_one(table: pa.Table, tmp_path: Path) -> None:
    """loadRes + COCOeval: ground truth as detections gives AP 1.0, masks included.

    A crowd (iscrowd 1) mask would be ignored by COCOeval, leaving its category without
    ground truth; an AP of 1.0 over the mask's category shows it is evaluated as an instance.
    """
    coco = load_coco(to_coco(table), tmp_path)
    anns = coco.loadAnns(coco.getAnnIds())

    boxes = [
        {"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1}
        for a in anns
    ]
    ev = COCOeval(coco, coco.loadRes(boxes), "bbox")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)

    shaped = [a for a in anns if a["segmentation"]]  # the polygon and the mask
    segms = []
    for a in shaped:
        rle = coco.annToRLE(a)  # compressed: what loadRes accepts for segmentation results
        rle = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
        segms.append(
            {"image_id": a["image_id"], "category_id": a["category_id"], "segmentation": rle}
            | {"score": 1.0}
        )
    ev = COCOeval(coco, coco.loadRes(segms), "segm")
    ev.params.imgIds = sorted({a["image_id"] for a in shaped})
    ev.params.catIds = [1]  # cat: only the mask in these images
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)
    ev.params.catIds = [1, 2]  # with the polygon
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)


def test_coco_random_masks_match_pycocotools() -> None:
    rng = np.random.default_rng(7)
    masks = [(rng.random((H, W)) < p).astype(np.uint8) for p in (0.01, 0.3, 0.9)]
    blob = np.zeros((H, W), dtype=np.uint8)
    blob[H - 1, 0] = 1  # last pixel of the first column
    blob[0, W - 1] = 1  # first pixel of the last column
    masks.append(blob)
    rows = [
        row(f"m{i}", "mask", "x", label_id="l", mask_counts=encode_rle(m))
        for i, m in enumerate(masks)
    ]
    doc = json.loads(to_coco(make_table(rows)).files["annotations/all.json"])
    for ann, m in zip(doc["annotations"], masks, strict=True):
        rle = mask_utils.encode(np.asfortranarray(m))
        assert ann["area"] == float(mask_utils.area(rle))
        assert ann["bbox"] == mask_utils.toBbox(rle).tolist()
        got = mask_utils.decode(mask_utils.frPyObjects(ann["segmentation"], H, W))
        np.testing.assert_array_equal(got, m)


def test_coco_split_file_shares_category_ids(table: pa.Table, tmp_path: Path) -> None:
    export = to_coco(table, split="val")
    assert list(export.files) == ["annotations/val.json"]
    coco = load_coco(export, tmp_path)
    assert [i["file_name"] for i in coco.dataset["images"]] == [
        "s3://bucket/img-c.jpg",
        "s3://bucket/img-d.jpg",
    ]
    assert (
        coco.dataset["categories"]
        == json.loads(to_coco(table).files["annotations/all.json"])["categories"]
    )
    assert export.stats["annotations"] == 2
    with pytest.raises(ValueError, match="unsafe split"):
        to_coco(table, split="../x")


def test_coco_skips_invalid_unknown_and_unsupported() -> None:
    table = make_table(
        [
            row("i1", "polygon", "a", label_id="p", polygon=[1.0, 1.0, 5.0, 5.0]),  # 2 points
            row("i1", "polygon", "a", label_id="q", polygon=[0.0, 0.0, 1.0, 1.0, 2.0, 2.0]),
            row("i2", "mask", "a", label_id="m", mask_counts=[5, 5]),  # sums to 10, not 8000
            row("i2", "box", "a", label_id="b", bbox=[0.0, 0.0, 0.0, 5.0]),
            row("i3", "box", "zzz", label_id="c", bbox=[1.0, 1.0, 2.0, 2.0]),
            row("i3", "text_span", "a", label_id="t", span_start=0, span_end=3),
            row("i3", "box", "a", label_id="ok", bbox=[1.0, 1.0, 2.0, 2.0]),
        ]
    )
    export = to_coco(table, classes=["a"])
    assert export.stats == {
        "images": 3,
        "annotations": 1,
        "skipped_by_kind": {"box": 2, "mask": 1, "polygon": 2, "text_span": 1},
        "skipped_by_reason": {"invalid_geometry": 4, "unknown_class": 1, "unsupported_kind": 1},
        "relations": 0,
        "relations_skipped": 0,
    }


# ---------------------------------------------------------------------------------------------
# YOLO


def parse_yolo(body: bytes) -> list[list[float]]:
    return [[float(v) for v in line.split()] for line in body.decode().splitlines()]


def test_yolo_labels_and_data_yaml(table: pa.Table) -> None:
    export = to_yolo(table)
    assert export.format == "yolo"
    labels = {k: v for k, v in export.files.items() if k.startswith("labels/")}
    assert sorted(labels) == [f"labels/img-{c}.txt" for c in "abcdef"]
    lists = {"train.txt", "val.txt", "test.txt"}
    assert set(export.files) == {*labels, *lists, "data.yaml", "items.json"}
    # The image lists point at each split's items, as Ultralytics reads them.
    assert export.files["train.txt"] == b"./images/img-a.jpg\n./images/img-b.jpg\n"
    assert export.files["val.txt"] == b"./images/img-c.jpg\n./images/img-d.jpg\n"
    assert export.files["test.txt"] == b"./images/img-e.jpg\n./images/img-f.jpg\n"

    a = parse_yolo(labels["labels/img-a.txt"])
    assert a[0] == pytest.approx([0, 0.25, 0.5, 0.3, 0.5])  # cat [10, 20, 30, 40]
    assert a[1] == pytest.approx([1, 0.7, 0.3125, 0.4, 0.375])  # dog [50, 10, 40, 30]
    (b,) = parse_yolo(labels["labels/img-b.txt"])
    assert b == pytest.approx([1, 0.1, 0.125, 0.7, 0.125, 0.4, 0.75])
    for body in labels.values():
        for line in parse_yolo(body):
            assert line[0] == int(line[0])
            assert all(0.0 <= v <= 1.0 for v in line[1:])
    # Mask, keypoints and whole-item rows have no YOLO detect/segment form; the labelless
    # item gets an empty file (background image).
    for c in "cdef":
        assert labels[f"labels/img-{c}.txt"] == b""
    assert export.stats == {
        "images": 6,
        "annotations": 3,
        "skipped_by_kind": {"keypoints": 1, "mask": 1, "whole_item": 1},
        "skipped_by_reason": {"unsupported_kind": 3},
        "details_not_held": 0,
        "relations_not_held": 0,
    }

    data = yaml.safe_load(export.files["data.yaml"])
    assert (data["train"], data["val"], data["test"]) == ("train.txt", "val.txt", "test.txt")
    assert data["names"] == ["cat", "dog", "outdoor", "person"]
    assert data["nc"] == 4
    items = json.loads(export.files["items.json"])
    assert [i["item_id"] for i in items] == [f"img-{c}" for c in "abcdef"]
    assert items[0] == {
        "item_id": "img-a",
        "item_uri": "s3://bucket/img-a.jpg",
        "image_file": "images/img-a.jpg",
        "label_file": "labels/img-a.txt",
        "split": "train",
    }


def test_yolo_clips_boxes_skips_unknown_size_and_splits() -> None:
    table = make_table(
        [
            row("in", "box", "a", label_id="1", bbox=[-10.0, 70.0, 30.0, 20.0]),  # half outside
            row("out", "box", "a", label_id="2", bbox=[200.0, 10.0, 5.0, 5.0]),  # fully outside
            row("nosize", "box", "a", label_id="3", width=0, height=0, bbox=[1.0, 1.0, 2.0, 2.0]),
            row("v", "box", "a", label_id="4", split="val", bbox=[0.0, 0.0, 100.0, 80.0]),
        ]
    )
    export = to_yolo(table, split="train")
    (line,) = parse_yolo(export.files["labels/in.txt"])
    # Clipped to x 0..20, y 70..80.
    assert line == pytest.approx([0, 0.1, 0.9375, 0.2, 0.125])
    assert export.files["labels/out.txt"] == b""
    assert export.files["labels/nosize.txt"] == b""
    assert "labels/v.txt" not in export.files
    assert export.stats["skipped_by_reason"] == {"invalid_geometry": 1, "unknown_size": 1}
    assert export.stats["skipped_by_kind"] == {"box": 2}
    (full,) = parse_yolo(to_yolo(table, split="val").files["labels/v.txt"])
    assert full == pytest.approx([0, 0.5, 0.5, 1.0, 1.0])


def test_yolo_stems_are_safe_and_unique() -> None:
    ids = ["a/b", "a_b", "Img", "img", "../etc/passwd", "CON", "x" * 300, "ok-1.v2", "日本"]
    export = to_yolo(make_table([row(i) for i in ids]))
    items = json.loads(export.files["items.json"])
    files = [i["label_file"] for i in items]
    assert sorted(i["item_id"] for i in items) == sorted(ids)
    stems = [f.removeprefix("labels/").removesuffix(".txt") for f in files]
    assert all(re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*", s) for s in stems)
    assert all(len(s) <= 120 for s in stems)
    assert len({s.casefold() for s in stems}) == len(ids)  # unique on case-insensitive disks
    by_id = {i["item_id"]: i["label_file"] for i in items}
    assert by_id["a_b"] == "labels/a_b.txt"  # safe and unique: kept as is
    assert by_id["ok-1.v2"] == "labels/ok-1.v2.txt"
    assert by_id["a/b"].startswith("labels/a_b_")  # sanitized + hash
    assert by_id["Img"] != "labels/Img.txt" and by_id["img"] != "labels/img.txt"
    assert by_id["CON"].startswith("labels/CON_")
    assert set(files) == {k for k in export.files if k.startswith("labels/")}


def test_yolo_yaml_quotes_awkward_names() -> None:
    names = ['say "hi"', "back\\slash", "a: b # c", "tab\there", "emoji 😀", "del\x7f"]
    export = to_yolo(make_table([row("i")]), classes=names)
    data = yaml.safe_load(export.files["data.yaml"])
    assert data == {"train": "train.txt", "nc": len(names), "names": names}


# ---------------------------------------------------------------------------------------------
# Label Studio


def test_label_studio_tasks_in_percent(table: pa.Table) -> None:
    export = to_label_studio(table)
    assert export.format == "label_studio"
    tasks = json.loads(export.files["tasks.json"])
    assert [t["id"] for t in tasks] == [1, 2, 3, 4, 5, 6]
    assert tasks[0]["data"] == {
        "image": "s3://bucket/img-a.jpg",
        "item_id": "img-a",
        "split": "train",
    }
    a = tasks[0]["annotations"][0]["result"]
    assert [r["type"] for r in a] == ["rectanglelabels", "rectanglelabels"]
    box = dict(a[0]["value"])
    assert box.pop("rectanglelabels") == ["cat"]
    assert box == pytest.approx(
        {"x": 10.0, "y": 25.0, "width": 30.0, "height": 50.0, "rotation": 0}
    )
    assert a[1]["value"]["x"] == pytest.approx(50.0)
    assert a[1]["value"]["y"] == pytest.approx(12.5)
    assert all((r["original_width"], r["original_height"]) == (W, H) for r in a)
    assert [r["id"] for r in a] == ["l1", "l2"]

    (poly,) = tasks[1]["annotations"][0]["result"]
    assert poly["type"] == "polygonlabels"
    assert poly["value"]["polygonlabels"] == ["dog"]
    points = [v for point in poly["value"]["points"] for v in point]
    assert points == pytest.approx([10.0, 12.5, 70.0, 12.5, 40.0, 75.0])

    (choice,) = tasks[4]["annotations"][0]["result"]
    assert choice["type"] == "choices"
    assert choice["value"] == {"choices": ["outdoor"]}
    assert tasks[5]["annotations"] == [{"result": []}]  # reviewed, nothing to mark
    assert export.stats == {
        "images": 6,
        "annotations": 4,
        "skipped_by_kind": {"keypoints": 1, "mask": 1},
        "skipped_by_reason": {"unsupported_kind": 2},
        "relations": 0,
        "relations_skipped": 0,
        "details_skipped": 0,
    }

    # The config declares every control the results point at, with every class.
    config = ET.fromstring(export.files["label_config.xml"])
    controls = {el.get("name"): el for el in config if el.get("toName") == "image"}
    used = {(r["from_name"], r["to_name"]) for t in tasks for r in t["annotations"][0]["result"]}
    assert used <= {(name, "image") for name in controls}
    assert [lab.get("value") for lab in controls["label"]] == class_index(table)


# ---------------------------------------------------------------------------------------------
# Hugging Face / Parquet


def test_hf_dataset_keeps_every_column(table: pa.Table) -> None:
    ds = to_hf_dataset(table)
    assert len(ds) == table.num_rows
    assert list(ds.features) == SCHEMA.names
    assert ds[0]["bbox"] == [10.0, 20.0, 30.0, 40.0]
    assert ds[3]["mask_counts"] == table["mask_counts"][3].as_py()
    assert ds[0]["label_proto"] == b"\x0a\x01x"


def test_parquet_loads_with_datasets(table: pa.Table, tmp_path: Path) -> None:
    import datasets

    path = tmp_path / "version.parquet"
    path.write_bytes(to_parquet_bytes(table))
    ds = datasets.load_dataset(
        "parquet", data_files=str(path), split="train", cache_dir=str(tmp_path / "hf-cache")
    )
    assert ds.num_rows == table.num_rows
    assert set(ds.column_names) == set(SCHEMA.names)
    assert ds["item_id"] == table["item_id"].to_pylist()


# ---------------------------------------------------------------------------------------------
# Determinism


def test_same_rows_same_bytes(table: pa.Table) -> None:
    order = list(range(table.num_rows))
    random.Random(3).shuffle(order)
    shuffled = table.take(order)
    for export in (to_coco, to_yolo, to_label_studio):
        first = export(table)
        assert export(table).files == first.files
        assert export(shuffled).files == first.files  # order of rows does not matter
        assert export(shuffled).stats == first.stats
    assert to_parquet_bytes(table) == to_parquet_bytes(table)
