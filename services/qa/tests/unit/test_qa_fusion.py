"""Whole-label fusion: after the objects are matched, every answer (nested three levels),
attribute and relation of the matched objects is voted, field by field."""

from __future__ import annotations

from labelops.labels.v1 import label_pb2 as L
from labelops_qa.domain.consensus import task_consensus


def radio(cid: str, option: str) -> L.Answer:
    return L.Answer(classification_id=cid, option_id=option)


def nested(kind: str = "mountain", gears: float = 21, notes: str = "front") -> list[L.Answer]:
    """Three levels: vehicle → (bike) bike_type → (mountain) suspension (+ gears, notes)."""
    return [
        radio("vehicle", "bike"),
        radio("bike_type", kind),
        L.Answer(classification_id="suspension", checklist=L.ChecklistAnswer(option_ids=["f"])),
        L.Answer(classification_id="gears", number=gears),
        L.Answer(classification_id="notes", text=notes),
    ]


def attrs(**values: object) -> dict[str, L.AttributeValue]:
    out = {}
    for k, v in values.items():
        if isinstance(v, bool):
            out[k] = L.AttributeValue(bool_value=v)
        elif isinstance(v, int):
            out[k] = L.AttributeValue(int_value=v)
        else:
            out[k] = L.AttributeValue(string_value=str(v))
    return out


def scene(
    ids: tuple[str, str, str] = ("c", "p", "k"),
    *,
    dx: float = 0.0,
    bike_answers: list[L.Answer] | None = None,
    person_attrs: dict[str, L.AttributeValue] | None = None,
    rides: bool = True,
    scene_answer: str = "day",
) -> L.ItemLabels:
    """A street scene: whole-item class with an answer, a person box, a bike box, and the
    person ``rides`` the bike."""
    c, p, k = ids
    out = L.ItemLabels(item_id="i")
    out.labels.add(
        label_id=c,
        class_id="street",
        whole_item=L.WholeItem(),
        answers=[radio("time", scene_answer)],
    )
    out.labels.add(
        label_id=p,
        class_id="person-box",
        box=L.BoundingBox(x=10 + dx, y=10, width=40, height=80),
        attributes=person_attrs if person_attrs is not None else attrs(occluded=False, count=1),
        answers=[radio("pose", "sitting")],
    )
    out.labels.add(
        label_id=k,
        class_id="bike-box",
        box=L.BoundingBox(x=5 + dx, y=50, width=60, height=40),
        answers=bike_answers if bike_answers is not None else nested(),
        attributes=attrs(color="red"),
    )
    if rides:
        out.relations.add(relationship_id="rides", from_label_id=p, to_label_id=k)
    return out


def by_class(labels: L.ItemLabels) -> dict[str, L.Label]:
    return {lab.class_id: lab for lab in labels.labels}


def answers(lab: L.Label) -> list[tuple[str, str]]:
    return [(a.classification_id, str(getattr(a, a.WhichOneof("value")))) for a in lab.answers]


def test_one_annotator_comes_out_exactly_as_submitted() -> None:
    submitted = scene(("c7", "person-1", "bike-1"))
    submitted.labels.add(
        label_id="poly",
        class_id="road",
        polygon=L.Polygon(points=[L.Point2D(x=0, y=0), L.Point2D(x=9, y=0), L.Point2D(x=9, y=9)]),
        confidence=0.25,
    )
    res = task_consensus("i", [("ann", submitted)])
    assert list(res.labels.labels) == list(submitted.labels)
    assert list(res.labels.relations) == list(submitted.relations)
    assert res.class_id == "street" and res.score == 1.0
    assert res.disagreements == []
    fields = {(f.label_id, f.field): f for f in res.fields}
    assert fields[("bike-1", "answers.suspension")].value == "checklist:f"
    assert fields[("person-1", "attributes.occluded")].annotator_ids == ("ann",)
    assert fields[("person-1->bike-1", "relations.rides")].agreed


def test_two_agreeing_annotators_keep_every_field_and_the_first_annotators_ids() -> None:
    a = scene(("c", "p1", "k1"))
    b = scene(("whole", "x", "y"), dx=1.0)
    res = task_consensus("i", [("ann-a", a), ("ann-b", b)])
    got = by_class(res.labels)
    assert [lab.label_id for lab in res.labels.labels] == ["c", "k1", "p1"]
    assert answers(got["street"]) == [("time", "day")]
    assert answers(got["person-box"]) == [("pose", "sitting")]
    assert dict(got["person-box"].attributes) == attrs(occluded=False, count=1)
    assert list(got["bike-box"].answers) == nested()
    assert dict(got["bike-box"].attributes) == attrs(color="red")
    assert 10 <= got["person-box"].box.x <= 11
    assert list(res.labels.relations) == [
        L.Relation(relationship_id="rides", from_label_id="p1", to_label_id="k1")
    ]
    assert res.disagreements == []
    rel = next(f for f in res.fields if f.field == "relations.rides")
    assert rel.annotator_ids == ("ann-a", "ann-b") and rel.agreement == 1.0


def test_three_annotators_majority_per_field_down_to_the_third_level() -> None:
    subs = [
        ("a", scene(("c", "p", "k"), bike_answers=nested("mountain", 21, "front"))),
        ("b", scene(("c", "p", "k"), dx=1, bike_answers=nested("mountain", 21, "rear"))),
        (
            "c",
            scene(
                ("c", "p", "k"),
                dx=2,
                bike_answers=nested("mountain", 18, "front"),
                person_attrs=attrs(occluded=True, count=1),
                rides=False,
                scene_answer="night",
            ),
        ),
    ]
    res = task_consensus("i", subs)
    got = by_class(res.labels)
    assert answers(got["street"]) == [("time", "day")]
    assert answers(got["bike-box"]) == [
        ("vehicle", "bike"),
        ("bike_type", "mountain"),
        ("suspension", 'option_ids: "f"\n'),
        ("gears", "21.0"),
        ("notes", "front"),
    ]
    assert got["person-box"].attributes["occluded"] == L.AttributeValue(bool_value=False)
    assert [(r.from_label_id, r.to_label_id) for r in res.labels.relations] == [("p", "k")]
    assert res.disagreements == []
    fields = {(f.label_id, f.field): f for f in res.fields}
    gears = fields[("k", "answers.gears")]
    assert gears.value == "number:21.0" and gears.annotator_ids == ("a", "b")
    assert abs(gears.agreement - 2 / 3) < 1e-9
    assert fields[("p->k", "relations.rides")].annotator_ids == ("a", "b")


def test_a_nested_option_changed_by_the_majority_drops_the_minoritys_sub_answers() -> None:
    road = [radio("vehicle", "bike"), radio("bike_type", "road")]
    subs = [
        ("a", scene(bike_answers=road)),
        ("b", scene(dx=1, bike_answers=road)),
        ("c", scene(dx=2, bike_answers=nested("mountain"))),
    ]
    res = task_consensus("i", subs)
    assert answers(by_class(res.labels)["bike-box"]) == [("vehicle", "bike"), ("bike_type", "road")]
    # Under "road" nobody answered suspension: two of three did not answer it (agreed absent).
    susp = next(f for f in res.fields if f.field == "answers.suspension")
    assert susp.value == "absent" and susp.agreed and susp.annotator_ids == ("a", "b")


def test_two_annotators_who_disagree_on_an_answer_an_attribute_and_a_relation() -> None:
    subs = [
        ("a", scene(bike_answers=nested("mountain"))),
        (
            "b",
            scene(
                ("w", "q", "j"),
                dx=1,
                bike_answers=nested("bmx"),
                person_attrs=attrs(occluded=True, count=1),
                rides=False,
            ),
        ),
    ]
    res = task_consensus("i", subs)
    got = by_class(res.labels)
    # Ties go to the earliest annotator's value, and are no agreement.
    assert answers(got["bike-box"])[1] == ("bike_type", "mountain")
    assert got["person-box"].attributes["occluded"].bool_value is False
    assert list(res.labels.relations) == []
    assert sorted(f.describe() for f in res.disagreements) == [
        "answers.bike_type of k",
        "attributes.occluded of p",
        "relations.rides of p->k",
    ]


def test_boxes_two_annotators_gave_different_classes_are_no_agreement_on_the_objects() -> None:
    a = L.ItemLabels(item_id="i")
    a.labels.add(label_id="b", class_id="cat-box", box=L.BoundingBox(x=1, y=1, width=9, height=9))
    b = L.ItemLabels(item_id="i")
    b.labels.add(label_id="b", class_id="dog-box", box=L.BoundingBox(x=1, y=1, width=9, height=9))
    res = task_consensus("i", [("a", a), ("b", b)])
    assert list(res.labels.labels) == []
    assert [f.field for f in res.disagreements] == ["objects"]


def test_fused_ids_never_collide() -> None:
    a = L.ItemLabels(item_id="i")
    a.labels.add(label_id="x", class_id="cat-box", box=L.BoundingBox(x=1, y=1, width=9, height=9))
    b = L.ItemLabels(item_id="i")
    b.labels.add(label_id="y", class_id="cat-box", box=L.BoundingBox(x=1, y=1, width=9, height=9))
    b.labels.add(label_id="x", class_id="dog-box", box=L.BoundingBox(x=50, y=1, width=9, height=9))
    a.labels.add(label_id="y", class_id="dog-box", box=L.BoundingBox(x=50, y=1, width=9, height=9))
    res = task_consensus("i", [("a", a), ("b", b)])
    ids = [lab.label_id for lab in res.labels.labels]
    assert ids == ["x", "y"] and len(set(ids)) == 2
