"""Ontology: in-process label validation rate vs protobuf decoding of the same labels.

Baseline: ``ItemLabels.FromString`` over the serialized items (what arrives over the wire),
in labels/s. Measured: ``CompiledOntology.validate_items`` over the decoded items, in labels/s,
and its ratio to the baseline. The labels are a fixed-seed realistic mix (boxes ~50 %,
polygons of 8-12 points, points, whole-item classifications, a few masks, text spans and
keypoints; most labels carry 1-3 answers including a nested one, many carry attributes; some
relations) with a share of invalid labels. Pure CPU: Kafka and Postgres are not used. Pin it
to one core to read the figure as "per core": `taskset -c 0 python bench/run.py ontology`.
"""

from __future__ import annotations

import gc
import random
import time
from typing import Any

from labelops.labels.v1 import label_pb2 as L
from labelops.ontology.v1 import definition_pb2 as D
from labelops_ontologykit import compile_ontology

ITEM_W, ITEM_H, TEXT_LEN = 1920, 1080, 5000
LABELS_PER_ITEM = 20


def bench_definition() -> D.OntologyDefinition:
    """A driving-scene ontology with nested, required and constrained items."""
    d = D.OntologyDefinition()
    car = d.classes.add(id="car", name="Car", geometry=D.GEOMETRY_KIND_BOUNDING_BOX)
    color = car.classifications.add(
        id="car-color", name="Color", kind=D.CLASSIFICATION_KIND_RADIO, required=True
    )
    red = color.options.add(id="car-red", name="Red")
    for o in ("blue", "white", "black"):
        color.options.add(id=f"car-{o}", name=o.title())
    shade = red.classifications.add(
        id="car-shade", name="Shade", kind=D.CLASSIFICATION_KIND_RADIO, required=True
    )
    shade.options.add(id="car-dark", name="Dark")
    shade.options.add(id="car-light", name="Light")
    occl = car.classifications.add(
        id="car-occluded", name="Occluded", kind=D.CLASSIFICATION_KIND_CHECKLIST, max_selected=2
    )
    for o in ("front", "back", "left", "right"):
        occl.options.add(id=f"occl-{o}", name=o.title())
    car.attributes.add(
        id="track-id",
        name="Track",
        type=D.ATTRIBUTE_TYPE_INT,
        number=D.NumberConstraints(has_min=True, min=0),
    )
    car.attributes.add(
        id="make", name="Make", type=D.ATTRIBUTE_TYPE_STRING, text=D.TextConstraints(max_length=32)
    )
    car.attributes.add(id="truncated", name="Truncated", type=D.ATTRIBUTE_TYPE_BOOL)
    car.attributes.add(
        id="body", name="Body", type=D.ATTRIBUTE_TYPE_ENUM, enum_values=["sedan", "suv", "van"]
    )

    ped = d.classes.add(id="pedestrian", name="Pedestrian", geometry=D.GEOMETRY_KIND_POLYGON)
    pose = ped.classifications.add(
        id="ped-pose", name="Pose", kind=D.CLASSIFICATION_KIND_RADIO, required=True
    )
    walking = pose.options.add(id="ped-walking", name="Walking")
    pose.options.add(id="ped-standing", name="Standing")
    pose.options.add(id="ped-sitting", name="Sitting")
    speed = walking.classifications.add(
        id="ped-speed",
        name="Speed",
        kind=D.CLASSIFICATION_KIND_NUMBER,
        number=D.NumberConstraints(has_min=True, min=0, has_max=True, max=20),
    )
    del speed
    ped.attributes.add(
        id="age", name="Age", type=D.ATTRIBUTE_TYPE_ENUM, enum_values=["child", "adult"]
    )

    tl = d.classes.add(id="traffic-light", name="Traffic light", geometry=D.GEOMETRY_KIND_POINT)
    state = tl.classifications.add(
        id="tl-state", name="State", kind=D.CLASSIFICATION_KIND_RADIO, required=True
    )
    for o in ("red", "yellow", "green"):
        state.options.add(id=f"tl-{o}", name=o.title())

    scene = d.classes.add(id="scene", name="Scene", geometry=D.GEOMETRY_KIND_CLASSIFICATION)
    tod = scene.classifications.add(
        id="time-of-day", name="Time of day", kind=D.CLASSIFICATION_KIND_RADIO, required=True
    )
    day = tod.options.add(id="day", name="Day")
    tod.options.add(id="night", name="Night")
    weather = day.classifications.add(
        id="weather", name="Weather", kind=D.CLASSIFICATION_KIND_RADIO, required=True
    )
    weather.options.add(id="sunny", name="Sunny")
    cloudy = weather.options.add(id="cloudy", name="Cloudy")
    cloudy.classifications.add(
        id="cloud-cover",
        name="Cloud cover",
        kind=D.CLASSIFICATION_KIND_NUMBER,
        number=D.NumberConstraints(has_min=True, min=0, has_max=True, max=100, integer_only=True),
    )
    scene.classifications.add(
        id="notes",
        name="Notes",
        kind=D.CLASSIFICATION_KIND_TEXT,
        text=D.TextConstraints(max_length=200, pattern=r"[\w ,.'-]*"),
    )

    road = d.classes.add(id="road", name="Road", geometry=D.GEOMETRY_KIND_MASK)
    surf = road.classifications.add(id="surface", name="Surface", kind=D.CLASSIFICATION_KIND_RADIO)
    surf.options.add(id="asphalt", name="Asphalt")
    surf.options.add(id="gravel", name="Gravel")

    ent = d.classes.add(id="plate-text", name="Plate text", geometry=D.GEOMETRY_KIND_TEXT_SPAN)
    ent.attributes.add(
        id="plate-country", name="Country", type=D.ATTRIBUTE_TYPE_ENUM, enum_values=["de", "fr"]
    )

    person = d.classes.add(id="person-pose", name="Person pose", geometry=D.GEOMETRY_KIND_KEYPOINTS)
    person.skeleton.keypoint_names.extend(["head", "l-hand", "r-hand", "l-foot", "r-foot"])
    for a, b in ((0, 1), (0, 2), (0, 3), (0, 4)):
        person.skeleton.edges.add(from_index=a, to_index=b)

    d.relationships.add(
        id="driver-of",
        name="Driver of",
        from_class_id="pedestrian",
        to_class_id="car",
        cardinality=D.CARDINALITY_ONE_TO_ONE,
    )
    return d


def _box(rng: random.Random) -> L.BoundingBox:
    w = rng.uniform(10, 300)
    h = rng.uniform(10, 300)
    return L.BoundingBox(
        x=rng.uniform(0, ITEM_W - w), y=rng.uniform(0, ITEM_H - h), width=w, height=h
    )


def _valid_label(rng: random.Random, n: int) -> L.Label:
    r = rng.random()
    lab = L.Label(label_id=f"l{n}", confidence=rng.random())
    if r < 0.50:
        lab.class_id = "car"
        lab.box.CopyFrom(_box(rng))
        color = rng.choice(["car-red", "car-red", "car-blue", "car-white", "car-black"])
        lab.answers.add(classification_id="car-color", option_id=color)
        if color == "car-red":
            lab.answers.add(
                classification_id="car-shade", option_id=rng.choice(["car-dark", "car-light"])
            )
        if rng.random() < 0.3:
            lab.answers.add(
                classification_id="car-occluded",
                checklist=L.ChecklistAnswer(
                    option_ids=rng.sample(["occl-front", "occl-back", "occl-left"], 2)
                ),
            )
        if rng.random() < 0.6:
            lab.attributes["track-id"].int_value = rng.randrange(1000)
            lab.attributes["body"].string_value = rng.choice(["sedan", "suv", "van"])
        if rng.random() < 0.3:
            lab.attributes["make"].string_value = "volkswagen"
            lab.attributes["truncated"].bool_value = rng.random() < 0.5
    elif r < 0.70:
        lab.class_id = "pedestrian"
        cx, cy = rng.uniform(100, ITEM_W - 100), rng.uniform(100, ITEM_H - 100)
        for _ in range(rng.randint(8, 12)):
            lab.polygon.points.add(x=cx + rng.uniform(-90, 90), y=cy + rng.uniform(-90, 90))
        pose = rng.choice(["ped-walking", "ped-standing", "ped-sitting"])
        lab.answers.add(classification_id="ped-pose", option_id=pose)
        if pose == "ped-walking":
            lab.answers.add(classification_id="ped-speed", number=rng.uniform(0, 8))
        if rng.random() < 0.5:
            lab.attributes["age"].string_value = rng.choice(["child", "adult"])
    elif r < 0.82:
        lab.class_id = "traffic-light"
        lab.point.x = rng.uniform(0, ITEM_W)
        lab.point.y = rng.uniform(0, ITEM_H)
        lab.answers.add(classification_id="tl-state", option_id=rng.choice(["tl-red", "tl-green"]))
    elif r < 0.90:
        lab.class_id = "scene"
        lab.whole_item.SetInParent()
        lab.answers.add(classification_id="time-of-day", option_id="day")
        lab.answers.add(classification_id="weather", option_id="cloudy")
        lab.answers.add(classification_id="cloud-cover", number=float(rng.randrange(101)))
        if rng.random() < 0.3:
            lab.answers.add(classification_id="notes", text="wet road, low sun")
    elif r < 0.93:
        lab.class_id = "road"
        lab.mask.width = ITEM_W
        lab.mask.height = ITEM_H
        total = ITEM_W * ITEM_H
        runs = [rng.randrange(1, 40_000) for _ in range(rng.randint(10, 40))]
        runs.append(total - sum(runs))
        lab.mask.counts.extend(runs)
        lab.answers.add(classification_id="surface", option_id="asphalt")
    elif r < 0.98:
        lab.class_id = "plate-text"
        start = rng.randrange(TEXT_LEN - 20)
        lab.text_span.start = start
        lab.text_span.end = start + rng.randint(1, 20)
        lab.attributes["plate-country"].string_value = "de"
    else:
        lab.class_id = "person-pose"
        for _ in range(5):
            lab.keypoints.points.add(
                x=rng.uniform(0, ITEM_W), y=rng.uniform(0, ITEM_H), visibility=rng.choice([1, 2])
            )
    return lab


def _corrupt(rng: random.Random, lab: L.Label) -> None:
    k = rng.randrange(6)
    if k == 0:
        lab.class_id = "bus"
    elif k == 1 and lab.HasField("box"):
        lab.box.width = ITEM_W * 2.0
    elif k == 2 and lab.answers:
        lab.answers[0].option_id = "no-such-option"
    elif k == 3 and lab.answers:
        del lab.answers[0]
    elif k == 4:
        lab.confidence = float("nan")
    else:
        lab.attributes["unknown-attr"].bool_value = True


def make_items(n_labels: int, seed: int = 7, invalid_share: float = 0.05) -> list[L.ItemLabels]:
    """``n_labels`` labels in items of ``LABELS_PER_ITEM``, a share of them invalid."""
    rng = random.Random(seed)
    items: list[L.ItemLabels] = []
    n = 0
    while n < n_labels:
        item = L.ItemLabels(
            item_id=f"i{len(items)}",
            item=L.ItemContext(width=ITEM_W, height=ITEM_H, text_length=TEXT_LEN),
        )
        for _ in range(min(LABELS_PER_ITEM, n_labels - n)):
            lab = _valid_label(rng, n)
            if rng.random() < invalid_share:
                _corrupt(rng, lab)
            item.labels.append(lab)
            n += 1
        peds = [lab.label_id for lab in item.labels if lab.class_id == "pedestrian"]
        cars = [lab.label_id for lab in item.labels if lab.class_id == "car"]
        for p, c in zip(peds, cars, strict=False):
            item.relations.add(relationship_id="driver-of", from_label_id=p, to_label_id=c)
        items.append(item)
    return items


def _best_of(repeats: int, fn: Any) -> float:
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


async def bench_ontology(kafka: str, pg: str, *, quick: bool = False) -> dict:
    """Labels/s of ``validate_items`` and of protobuf decoding (the baseline), same labels."""
    del kafka, pg  # pure CPU
    n = 20_000 if quick else 200_000
    repeats = 3 if quick else 5
    compiled = compile_ontology(bench_definition())
    items = make_items(n)
    blobs = [it.SerializeToString() for it in items]
    valid_items = make_items(n, invalid_share=0.0)
    parse = L.ItemLabels.FromString

    t_parse = _best_of(repeats, lambda: [parse(b) for b in blobs])
    decoded = [parse(b) for b in blobs]
    t_validate = _best_of(repeats, lambda: compiled.validate_items(decoded))
    t_valid_only = _best_of(repeats, lambda: compiled.validate_items(valid_items))
    t_both = _best_of(repeats, lambda: compiled.validate_items([parse(b) for b in blobs]))
    issues = compiled.validate_items(decoded)
    assert not compiled.validate_items(valid_items), "generator produced invalid 'valid' labels"

    parse_rate = n / t_parse
    validate_rate = n / t_validate
    return {
        "labels": n,
        "items": len(items),
        "bytes_per_label": round(sum(map(len, blobs)) / n, 1),
        "labels_with_issues": len({(i.item_index, i.label_index) for i in issues}),
        "baseline_protobuf_decode_labels_per_s": round(parse_rate),
        "validate_labels_per_s": round(validate_rate),
        "validate_ratio_to_decode": round(validate_rate / parse_rate, 3),
        "validate_all_valid_labels_per_s": round(n / t_valid_only),
        "decode_plus_validate_labels_per_s": round(n / t_both),
        "decode_plus_validate_ratio_to_decode": round((n / t_both) / parse_rate, 3),
        "target_labels_per_s": 100_000,
    }
