"""Every export keeps what its format can hold, over real Kafka and Postgres: a person box with
answers nested three levels deep (activity = riding → riding_style = standing →
standing_hands), a text and a number answer and attributes of every type, a bike box with its
own answer and attribute, and the relation ``rides`` (person → bike), accepted by consensus.
Each export is parsed back as its consumer would read it and compared with the accepted labels
field by field: COCO (pycocotools; ``attributes``, ``answers``, top-level ``relations``, a file
per split), Label Studio (per-region choices / textarea / number results, ``relation``
results, a config declaring every control), YOLO (geometry and class, ``data.yaml`` and image
lists pointing at the items; what YOLO cannot hold counted in the stats). Tenant B's export of
"the same" dataset holds none of it."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Ds
from datasets_support import OTHER_MLOPS_KEY, OTHER_TENANT, accepted, box, item_registered
from labelops.datasets.v1 import datasets_pb2 as pb
from labelops.datasets.v1 import datasets_pb2_grpc
from labelops.labels.v1 import label_pb2 as L
from labelops.qa.v1 import events_pb2 as qev
from labelops_grpckit import channel
from pycocotools.coco import COCO

P = "street"
DS = "street-train"
W, H = 640, 480


def person() -> L.Label:
    lb = box("person", x=100, y=50, w=80, h=200, label_id="person-1")
    lb.answers.add(classification_id="activity", option_id="riding")
    lb.answers.add(classification_id="riding_style", option_id="standing")  # level 2
    lb.answers.add(classification_id="standing_hands").checklist.option_ids.extend(  # level 3
        ["left", "right"]
    )
    lb.answers.add(classification_id="note", text="no helmet")
    lb.answers.add(classification_id="speed", number=12.5)
    lb.attributes["occluded"].bool_value = True
    lb.attributes["pose"].string_value = "leaning"
    lb.attributes["age"].int_value = 30
    lb.attributes["sharpness"].float_value = 0.75
    return lb


def bike() -> L.Label:
    lb = box("bike", x=90, y=180, w=120, h=90, label_id="bike-1")
    lb.answers.add(classification_id="bike_kind", option_id="mountain")
    lb.attributes["color"].string_value = "red"
    return lb


LABELS = {"person-1": person(), "bike-1": bike()}
RELATIONS = [("rides", "person-1", "bike-1")]


def consensus(tenant: str | None = None) -> Any:
    kw = {} if tenant is None else {"tenant": tenant}
    env = accepted(P, "task-1", "img-1", [person(), bike()], score=0.9, **kw)
    e = qev.LabelAccepted.FromString(env.payload)
    for rel, a, b in RELATIONS:
        e.labels.relations.add(relationship_id=rel, from_label_id=a, to_label_id=b)
    env.payload = e.SerializeToString()
    return env


async def export(stub: Any, fmt: int) -> tuple[dict[str, Any], dict[str, bytes]]:
    stats: dict[str, Any] = {}
    files: dict[str, bytearray] = {}
    async for m in stub.ExportDatasetVersion(
        pb.ExportDatasetVersionRequest(dataset_id=DS, version=1, format=fmt)
    ):
        if m.HasField("header"):
            stats = json.loads(m.header.stats_json)
        else:
            files.setdefault(m.chunk.path, bytearray()).extend(m.chunk.data)
    return stats, {p: bytes(b) for p, b in files.items()}


def answer_of(d: dict[str, Any]) -> L.Answer:
    """An ``answers`` entry (COCO) back as a labels.v1.Answer."""
    a = L.Answer(classification_id=d["classification_id"])
    if "option_id" in d:
        a.option_id = d["option_id"]
    elif "checklist" in d:
        a.checklist.option_ids.extend(d["checklist"])
    elif "text" in d:
        a.text = d["text"]
    else:
        a.number = d["number"]
    return a


def set_attribute(label: L.Label, key: str, v: Any) -> None:
    if isinstance(v, bool):
        label.attributes[key].bool_value = v
    elif isinstance(v, int):
        label.attributes[key].int_value = v
    elif isinstance(v, float):
        label.attributes[key].float_value = v
    else:
        label.attributes[key].string_value = v


def coco_labels(doc: dict[str, Any]) -> tuple[dict[str, L.Label], list[tuple[str, str, str]]]:
    cats = {c["id"]: c["name"] for c in doc["categories"]}
    labels, by_ann = {}, {}
    for ann in doc["annotations"]:
        x, y, w, h = ann["bbox"]
        lb = L.Label(label_id=ann["label_id"], class_id=cats[ann["category_id"]])
        lb.box.CopyFrom(L.BoundingBox(x=x, y=y, width=w, height=h))
        lb.answers.extend(answer_of(a) for a in ann["answers"])
        answered = {a["classification_id"] for a in ann["answers"]}
        # The flat CVAT-style map holds the answers too: each answer's value under its id.
        for a in ann["answers"]:
            value = next(a[k] for k in ("option_id", "checklist", "text", "number") if k in a)
            assert ann["attributes"][a["classification_id"]] == value
        for key, v in ann["attributes"].items():
            if key not in answered:
                set_attribute(lb, key, v)
        labels[lb.label_id] = lb
        by_ann[ann["id"]] = lb.label_id
    relations = [
        (r["relationship_id"], by_ann[r["from_annotation_id"]], by_ann[r["to_annotation_id"]])
        for r in doc["relations"]
    ]
    return labels, relations


async def test_coco_holds_answers_attributes_relations_and_split_files(
    ds: Ds, tmp_path: Path
) -> None:
    await published(ds)
    stats, files = await export(ds.stub, pb.EXPORT_FORMAT_COCO)
    doc = json.loads(files["annotations/all.json"])
    labels, relations = coco_labels(doc)
    assert labels == LABELS  # every field: geometry, class, nested answers, attributes
    assert [list(a.checklist.option_ids) for a in labels["person-1"].answers][2] == [
        "left",
        "right",
    ]
    assert relations == RELATIONS
    assert (stats["annotations"], stats["relations"], stats["relations_skipped"]) == (2, 1, 0)
    # pycocotools reads it (the extensions are keys it ignores).
    path = tmp_path / "all.json"
    path.write_bytes(files["annotations/all.json"])
    coco = COCO(str(path))
    assert {coco.cats[a["category_id"]]["name"] for a in coco.loadAnns(coco.getAnnIds())} == {
        "person",
        "bike",
    }
    # A file per hash split that has items, with all.json's ids.
    (split,) = {json.loads(files[p])["info"]["split"] for p in files if not p.endswith("all.json")}
    part = json.loads(files[f"annotations/{split}.json"])
    assert part["annotations"] == doc["annotations"] and part["relations"] == doc["relations"]
    assert part["images"] == doc["images"] and stats["splits"] == {
        split: {"images": 1, "annotations": 2}
    }
    assert sorted(files) == sorted({"annotations/all.json", f"annotations/{split}.json"})


def ls_labels(
    task: dict[str, Any], config: ET.Element
) -> tuple[dict[str, L.Label], list[tuple[str, str, str]]]:
    """Label Studio results back as labels: regions, their per-region results (the config
    says which choices take several options), relations."""
    multiple = {c.get("name") for c in config.iter("Choices") if c.get("choice") == "multiple"}
    labels: dict[str, L.Label] = {}
    relations = []
    for r in task["annotations"][0]["result"]:
        if r["type"] == "relation":
            relations.append((r["labels"][0], r["from_id"], r["to_id"]))
            continue
        v, name = r["value"], r["from_name"]
        if r["type"] == "rectanglelabels":
            sx, sy = r["original_width"] / 100, r["original_height"] / 100
            lb = labels.setdefault(r["id"], L.Label(label_id=r["id"]))
            lb.class_id = v["rectanglelabels"][0]
            lb.box.CopyFrom(
                L.BoundingBox(
                    x=v["x"] * sx, y=v["y"] * sy, width=v["width"] * sx, height=v["height"] * sy
                )
            )
            continue
        lb = labels[r["id"]]  # a per-region result follows its region
        kind, _, key = name.partition(".")
        if kind == "answer":
            a = lb.answers.add(classification_id=key)
            if r["type"] == "choices" and name in multiple:
                a.checklist.option_ids.extend(v["choices"])
            elif r["type"] == "choices":
                a.option_id = v["choices"][0]
            elif r["type"] == "textarea":
                a.text = v["text"][0]
            else:
                a.number = v["number"]
        else:
            set_attribute(lb, key, ls_attribute(r["type"], v))
    return labels, relations


def ls_attribute(kind: str, v: dict[str, Any]) -> Any:
    """An ``attribute.*`` result's value: a bool choice, a text or a number."""
    if kind == "choices":
        return v["choices"] == ["true"]
    return v["text"][0] if kind == "textarea" else v["number"]


def rounded(label: L.Label) -> L.Label:
    """The label with its box rounded (percent coordinates are floats of floats)."""
    out = L.Label()
    out.CopyFrom(label)
    for f in ("x", "y", "width", "height"):
        setattr(out.box, f, round(getattr(out.box, f), 6))
    return out


async def test_label_studio_holds_choices_nested_choices_and_relations(ds: Ds) -> None:
    await published(ds)
    stats, files = await export(ds.stub, pb.EXPORT_FORMAT_LABEL_STUDIO)
    config = ET.fromstring(files["label_config.xml"])
    (task,) = json.loads(files["tasks.json"])
    labels, relations = ls_labels(task, config)
    assert {k: rounded(v) for k, v in labels.items()} == LABELS
    assert relations == RELATIONS
    assert (stats["relations"], stats["details_skipped"]) == (1, 0)
    # Every result names a control the config declares, on the image, of the result's type.
    tags = {c.get("name"): c for c in config if c.get("name")}
    kind_of = {"Choices": "choices", "TextArea": "textarea", "Number": "number"}
    kind_of |= {"RectangleLabels": "rectanglelabels"}
    for r in task["annotations"][0]["result"]:
        if r["type"] == "relation":
            continue
        tag = tags[r["from_name"]]
        assert (kind_of[tag.tag], tag.get("toName"), r["to_name"]) == (r["type"], "image", "image")
        if r["from_name"] != "label":
            assert tag.get("perRegion") == "true"
    offered = {c.get("name"): {o.get("value") for o in c} for c in config.iter("Choices")}
    assert offered["answer.activity"] == {"riding"} and offered["attribute.occluded"] == {"true"}
    assert tags["answer.standing_hands"].get("choice") == "multiple"
    assert {r.get("value") for r in config.iter("Relation")} == {"rides"}
    # The nesting, in the results' order: each answer after the one whose option opens it.
    person_results = [
        r["from_name"] for r in task["annotations"][0]["result"] if r.get("id") == "person-1"
    ]
    assert person_results[:4] == [
        "label",
        "answer.activity",
        "answer.riding_style",
        "answer.standing_hands",
    ]


async def test_yolo_holds_geometry_and_points_at_the_items(ds: Ds) -> None:
    await published(ds)
    stats, files = await export(ds.stub, pb.EXPORT_FORMAT_YOLO)
    data = yaml.safe_load(files["data.yaml"])
    names = data["names"]
    (item,) = json.loads(files["items.json"])
    assert (item["item_id"], item["item_uri"]) == ("img-1", "s3://raw/img-1.jpg")
    assert item["image_file"] == "images/img-1.jpg"
    # data.yaml names the image list of the item's split, which names the item's image file.
    split_list = data[item["split"]]
    assert files[split_list].decode().splitlines() == [f"./{item['image_file']}"]
    assert set(data) == {item["split"], "nc", "names"} and data["nc"] == len(names) == 2
    back = {}
    for line in files[item["label_file"]].decode().splitlines():
        cls, cx, cy, w, h = (float(v) for v in line.split())
        back[names[int(cls)]] = (
            (cx - w / 2) * W,
            (cy - h / 2) * H,
            w * W,
            h * H,
        )
    for lb in LABELS.values():
        b = lb.box
        assert back[lb.class_id] == pytest.approx((b.x, b.y, b.width, b.height), abs=1e-3)
    # What a YOLO file cannot hold is counted, not silently gone.
    assert (stats["annotations"], stats["details_not_held"], stats["relations_not_held"]) == (
        2,
        2,
        1,
    )


async def published(ds: Ds) -> None:
    """A's labels and version 1; tenant B's version of "the same" dataset has none of A's
    labels (B's own item with the same id is labeled differently)."""
    await ds.curation([item_registered("img-1", W, H)])
    await ds.curation([item_registered("img-1", W, H, tenant=OTHER_TENANT)])
    other = accepted(P, "task-1", "img-1", [box("car", label_id="car-1")], tenant=OTHER_TENANT)
    await ds.qa([consensus(), other])
    await ds.caught_up()
    req = pb.CreateDatasetVersionRequest(dataset_id=DS, project_id=P, cut=pb.Cut(latest=True))
    assert (await ds.stub.CreateDatasetVersion(req)).version.labels == 2
    async with channel(ds.app.target, api_key=OTHER_MLOPS_KEY) as ch:
        b = datasets_pb2_grpc.DatasetServiceStub(ch)
        assert (await b.CreateDatasetVersion(req)).version.labels == 1
        _, files = await export(b, pb.EXPORT_FORMAT_COCO)
        doc = json.loads(files["annotations/all.json"])
        assert [(a["label_id"], a["answers"], a["attributes"]) for a in doc["annotations"]] == [
            ("car-1", [], {})
        ]
        assert doc["relations"] == []
