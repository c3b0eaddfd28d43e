"""Label validation: every rule, every geometry kind, nesting three levels deep, relations."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from labelops.labels.v1 import label_pb2 as L
from labelops.ontology.v1 import ontology_pb2
from labelops_ontologykit import LabelIssue, compile_ontology, reasons
from ontologykit_fixtures import ALL_CLASSES, definition, item, valid_label

ONT = compile_ontology(definition())
NAN = math.nan
INF = math.inf


def found(label: L.Label) -> list[tuple[str, str]]:
    return [(i.reason, i.field) for i in ONT.validate_item(item(label))]


@pytest.mark.parametrize("class_id", ALL_CLASSES)
def test_a_valid_label_of_every_geometry_kind_passes(class_id: str) -> None:
    assert found(valid_label(class_id)) == []


def test_every_valid_label_together_passes_and_items_are_indexed() -> None:
    good = item(*(valid_label(c, f"l{i}") for i, c in enumerate(ALL_CLASSES)))
    bad = item(L.Label(class_id="bus"))
    issues = ONT.validate_items([good, bad, good])
    assert [(i.item_index, i.label_index, i.reason) for i in issues] == [
        (1, 0, reasons.UNKNOWN_CLASS)
    ]


def _set(path: str, value: object) -> Callable[[L.Label], None]:
    def mutate(lab: L.Label) -> None:
        *parents, last = path.split(".")
        obj = lab
        for p in parents:
            obj = obj[int(p)] if p.isdigit() else getattr(obj, p)
        setattr(obj, last, value)

    return mutate


def _points(field: str, pts: list[tuple[float, float]]) -> Callable[[L.Label], None]:
    def mutate(lab: L.Label) -> None:
        container = getattr(lab, field).points
        del container[:]
        for x, y in pts:
            container.add(x=x, y=y)

    return mutate


def _box_geometry(lab: L.Label) -> None:
    lab.ClearField("box")
    lab.polygon.points.add(x=1, y=1)


def _clear(field: str) -> Callable[[L.Label], None]:
    return lambda lab: lab.ClearField(field)


def _keyframes(frames: list[int]) -> Callable[[L.Label], None]:
    def mutate(lab: L.Label) -> None:
        del lab.video_track.keyframes[:]
        for f in frames:
            lab.video_track.keyframes.add(frame=f, box=L.BoundingBox(x=0, y=0, width=1, height=1))

    return mutate


def _dicom_polygon(lab: L.Label) -> None:
    lab.dicom_region.ClearField("box")
    for x, y in ((101, 1), (5, 1), (5, 5)):
        lab.dicom_region.polygon.points.add(x=x, y=y)


def _kp(i: int, **kw: float) -> Callable[[L.Label], None]:
    def mutate(lab: L.Label) -> None:
        for k, v in kw.items():
            setattr(lab.keypoints.points[i], k, v)

    return mutate


G = reasons.INVALID_GEOMETRY
OOB = reasons.OUT_OF_BOUNDS

GEOMETRY_CASES = [
    # class, mutation, reason, field
    ("car", _clear("box"), reasons.MISSING_GEOMETRY, "geometry"),
    ("car", _box_geometry, reasons.GEOMETRY_MISMATCH, "geometry.polygon"),
    ("scene", lambda lab: lab.point.SetInParent(), reasons.GEOMETRY_MISMATCH, "geometry.point"),
    ("car", _set("box.width", 0.0), G, "geometry.box.width"),
    ("car", _set("box.height", -1.0), G, "geometry.box.height"),
    ("car", _set("box.x", NAN), G, "geometry.box.x"),
    ("car", _set("box.width", INF), G, "geometry.box.width"),
    ("car", _set("box.x", -1.0), OOB, "geometry.box.x"),
    ("car", _set("box.y", -0.5), OOB, "geometry.box.y"),
    ("car", _set("box.x", 90.0), OOB, "geometry.box.width"),
    ("car", _set("box.y", 40.0), OOB, "geometry.box.height"),
    ("ship", _set("rotated_box.angle_degrees", 180.5), G, "geometry.rotated_box.angle_degrees"),
    ("ship", _set("rotated_box.width", 0.0), G, "geometry.rotated_box.width"),
    ("ship", _set("rotated_box.height", NAN), G, "geometry.rotated_box.height"),
    ("ship", _set("rotated_box.center_x", 150.0), OOB, "geometry.rotated_box.center_x"),
    ("ship", _set("rotated_box.center_y", NAN), G, "geometry.rotated_box.center_y"),
    ("person", _points("polygon", [(1, 1), (2, 2)]), G, "geometry.polygon.points"),
    ("person", _set("polygon.points.2.x", 101.0), OOB, "geometry.polygon.points[2].x"),
    ("person", _set("polygon.points.1.y", NAN), G, "geometry.polygon.points[1].y"),
    ("lane", _points("polyline", [(1, 1)]), G, "geometry.polyline.points"),
    ("lane", _set("polyline.points.1.y", 50.5), OOB, "geometry.polyline.points[1].y"),
    ("light", _set("point.y", 51.0), OOB, "geometry.point.y"),
    ("light", _set("point.x", -INF), G, "geometry.point.x"),
    ("pose", lambda lab: lab.keypoints.points.pop(), G, "geometry.keypoints.points"),
    ("pose", _kp(0, visibility=3), G, "geometry.keypoints.points[0].visibility"),
    ("pose", _kp(1, x=100.5), OOB, "geometry.keypoints.points[1].x"),
    ("pose", _kp(2, y=NAN), G, "geometry.keypoints.points[2].y"),
    ("road", _set("mask.width", 99), OOB, "geometry.mask"),
    ("road", _set("mask.height", 0), G, "geometry.mask"),
    ("road", lambda lab: lab.mask.counts.append(1), G, "geometry.mask.counts"),
    ("crate", _set("cuboid.dimensions.z", 0.0), G, "geometry.cuboid.dimensions.z"),
    ("crate", _set("cuboid.rotation.x", NAN), G, "geometry.cuboid.rotation.x"),
    ("crate", _clear("cuboid"), reasons.MISSING_GEOMETRY, "geometry"),
    ("entity", _set("text_span.start", -1), G, "geometry.text_span.start"),
    ("entity", _set("text_span.start", 20), G, "geometry.text_span.end"),
    ("entity", _set("text_span.end", 21), OOB, "geometry.text_span.end"),
    ("object-track", _keyframes([]), G, "geometry.video_track.keyframes"),
    ("object-track", _keyframes([0, 4, 4]), G, "geometry.video_track.keyframes[2].frame"),
    ("object-track", _keyframes([-1]), G, "geometry.video_track.keyframes[0].frame"),
    ("object-track", _keyframes([0, 10]), OOB, "geometry.video_track.keyframes[1].frame"),
    (
        "object-track",
        _set("video_track.keyframes.2.box.x", 95.0),
        OOB,
        "geometry.video_track.keyframes[2].box.width",
    ),
    ("lesion", _set("dicom_region.slice_index", 5), OOB, "geometry.dicom_region.slice_index"),
    ("lesion", _set("dicom_region.slice_index", -1), G, "geometry.dicom_region.slice_index"),
    ("lesion", lambda lab: lab.dicom_region.ClearField("box"), G, "geometry.dicom_region"),
    ("lesion", _set("dicom_region.box.height", 0.0), G, "geometry.dicom_region.box.height"),
    ("lesion", _dicom_polygon, OOB, "geometry.dicom_region.polygon.points[0].x"),
]


@pytest.mark.parametrize(
    ("class_id", "mutate", "reason", "field"),
    GEOMETRY_CASES,
    ids=[f"{c[0]}-{c[3]}-{c[2]}" for c in GEOMETRY_CASES],
)
def test_geometry_problems(
    class_id: str, mutate: Callable[[L.Label], None], reason: str, field: str
) -> None:
    lab = valid_label(class_id)
    mutate(lab)
    assert found(lab) == [(reason, field)]


def test_bounds_are_skipped_when_the_item_size_is_unknown_but_negatives_and_nan_are_not() -> None:
    no_ctx = L.ItemLabels(labels=[valid_label("car")])
    lab = no_ctx.labels[0]
    lab.box.x = 5000
    assert ONT.validate_item(no_ctx) == []
    lab.box.x = -3
    assert [i.reason for i in ONT.validate_item(no_ctx)] == [OOB]
    lab.box.x = NAN
    assert [i.reason for i in ONT.validate_item(no_ctx)] == [G]


def test_float_rounding_at_the_item_edge_is_tolerated() -> None:
    lab = valid_label("car")
    lab.box.x = 80.0
    lab.box.width = 20.0004  # right edge 100.0004: float32 rounding of 100
    assert found(lab) == []
    lab.box.width = 20.01
    assert found(lab) == [(OOB, "geometry.box.width")]


def test_a_whole_item_label_may_omit_its_empty_geometry() -> None:
    lab = valid_label("scene")
    lab.ClearField("whole_item")
    assert found(lab) == []


def test_the_rotated_box_centre_must_be_inside_but_corners_may_stick_out() -> None:
    lab = valid_label("ship")
    lab.rotated_box.center_x = 99  # width 30 at 45°: corners beyond x = 100
    assert found(lab) == []


def test_an_unlabeled_keypoint_may_sit_anywhere() -> None:
    lab = valid_label("pose")
    lab.keypoints.points[2].x = -50  # visibility 0: coordinates carry no meaning
    assert found(lab) == []


def test_a_keyframe_marked_outside_needs_no_box() -> None:
    lab = valid_label("object-track")
    assert not lab.video_track.keyframes[1].HasField("box")
    assert found(lab) == []


# --- class ----------------------------------------------------------------------------------


def test_unknown_and_empty_class() -> None:
    assert found(L.Label(class_id="bus", point=L.Point2D())) == [
        (reasons.UNKNOWN_CLASS, "class_id")
    ]
    issues = ONT.validate_item(item(L.Label()))
    assert [(i.reason, i.description) for i in issues] == [
        (reasons.UNKNOWN_CLASS, "class_id is empty")
    ]


def test_deprecated_class_is_reported_and_the_label_still_checked() -> None:
    lab = valid_label("truck")
    lab.box.width = -1
    assert found(lab) == [
        (reasons.DEPRECATED_CLASS, "class_id"),
        (G, "geometry.box.width"),
    ]


# --- answers --------------------------------------------------------------------------------


def car(*answers: L.Answer) -> L.Label:
    lab = valid_label("car")
    del lab.answers[:]
    lab.answers.extend(answers)
    return lab


def radio(cid: str, oid: str) -> L.Answer:
    return L.Answer(classification_id=cid, option_id=oid)


def checklist(cid: str, *oids: str) -> L.Answer:
    return L.Answer(classification_id=cid, checklist=L.ChecklistAnswer(option_ids=oids))


def test_nesting_three_levels_deep_is_valid_when_every_parent_option_is_selected() -> None:
    lab = car(
        radio("color", "red"),
        radio("shade", "dark"),
        L.Answer(classification_id="tone", number=3),
    )
    assert found(lab) == []
    # Answer order does not matter.
    assert (
        found(
            car(
                L.Answer(classification_id="tone", number=3),
                radio("shade", "dark"),
                radio("color", "red"),
            )
        )
        == []
    )


def test_nested_answer_without_its_parent_option_is_illegal_nesting() -> None:
    assert found(car(radio("color", "blue"), radio("shade", "dark"))) == [
        (reasons.ILLEGAL_NESTING, "answers[1].classification_id")
    ]
    # Selections of an illegal answer do not count: "dark" makes neither "tone" legal nor
    # required.
    assert found(
        car(
            radio("color", "blue"),
            radio("shade", "dark"),
            L.Answer(classification_id="tone", number=3),
        )
    ) == [
        (reasons.ILLEGAL_NESTING, "answers[1].classification_id"),
        (reasons.ILLEGAL_NESTING, "answers[2].classification_id"),
    ]
    # Third level: "tone" hangs under "dark", but "pale" is selected.
    assert found(
        car(
            radio("color", "red"),
            radio("shade", "pale"),
            L.Answer(classification_id="tone", number=3),
        )
    ) == [(reasons.ILLEGAL_NESTING, "answers[2].classification_id")]


def test_required_nested_classifications_only_when_their_option_is_selected() -> None:
    assert found(car(radio("color", "red"))) == [(reasons.MISSING_REQUIRED, "answers")]
    issues = ONT.validate_item(item(car(radio("color", "red"), radio("shade", "dark"))))
    assert [(i.reason, i.field) for i in issues] == [(reasons.MISSING_REQUIRED, "answers")]
    assert "'tone'" in issues[0].description and "'dark'" in issues[0].description
    assert found(car(radio("color", "red"), radio("shade", "pale"))) == []


def test_required_top_level_classification_must_be_answered() -> None:
    assert found(car()) == [(reasons.MISSING_REQUIRED, "answers")]
    scene = valid_label("scene")
    del scene.answers[:]
    assert found(scene) == [(reasons.MISSING_REQUIRED, "answers")]


def test_duplicate_answer() -> None:
    assert found(car(radio("color", "blue"), radio("color", "red"))) == [
        (reasons.DUPLICATE_ANSWER, "answers[1].classification_id")
    ]


def test_unknown_classification_and_one_of_another_class() -> None:
    issues = ONT.validate_item(item(car(radio("color", "blue"), radio("nope", "x"))))
    assert [(i.reason, i.field) for i in issues] == [
        (reasons.UNKNOWN_CLASSIFICATION, "answers[1].classification_id")
    ]
    issues = ONT.validate_item(item(car(radio("color", "blue"), radio("weather", "sunny"))))
    assert [(i.reason, i.field) for i in issues] == [
        (reasons.UNKNOWN_CLASSIFICATION, "answers[1].classification_id")
    ]
    assert "belongs to class 'scene'" in issues[0].description


def test_deprecated_classification_and_option() -> None:
    assert found(car(radio("color", "blue"), radio("legacy", "yes"))) == [
        (reasons.DEPRECATED_CLASSIFICATION, "answers[1].classification_id")
    ]
    assert found(car(radio("color", "old-green"))) == [
        (reasons.DEPRECATED_OPTION, "answers[0].option_id")
    ]


ANSWER_CASES = [
    (radio("color", "green"), "answers[0].option_id"),
    (L.Answer(classification_id="color", text="red"), "answers[0].text"),
    (L.Answer(classification_id="color"), "answers[0]"),
    (radio("color", "wheel"), "answers[0].option_id"),  # an option of another classification
    (checklist("parts", "wheel", "red"), "answers[1].checklist.option_ids[1]"),
    (checklist("parts", "wheel", "door", "roof"), "answers[1].checklist.option_ids"),
    (checklist("parts"), "answers[1].checklist.option_ids"),
    (checklist("parts", "wheel", "wheel"), "answers[1].checklist.option_ids[1]"),
    (radio("parts", "wheel"), "answers[1].option_id"),
    (L.Answer(classification_id="plate", text="AB12CD345"), "answers[1].text"),
    (L.Answer(classification_id="plate", text="ab12"), "answers[1].text"),
    (L.Answer(classification_id="plate", number=1), "answers[1].number"),
    (L.Answer(classification_id="doors", number=6), "answers[1].number"),
    (L.Answer(classification_id="doors", number=0), "answers[1].number"),
    (L.Answer(classification_id="doors", number=2.5), "answers[1].number"),
    (L.Answer(classification_id="doors", number=NAN), "answers[1].number"),
    (L.Answer(classification_id="doors", text="4"), "answers[1].text"),
]


@pytest.mark.parametrize(
    ("answer", "field"), ANSWER_CASES, ids=[c[1] + str(i) for i, c in enumerate(ANSWER_CASES)]
)
def test_invalid_answer_values(answer: L.Answer, field: str) -> None:
    answers = [answer] if field.startswith("answers[0]") else [radio("color", "blue"), answer]
    lab = car(*answers)
    got = found(lab)
    assert (reasons.INVALID_ANSWER, field) in got
    assert {r for r, _ in got} <= {reasons.INVALID_ANSWER, reasons.MISSING_REQUIRED}


def test_valid_answer_values_of_every_kind() -> None:
    lab = car(
        radio("color", "blue"),
        checklist("parts", "wheel", "roof"),
        L.Answer(classification_id="plate", text="AB12"),
        L.Answer(classification_id="doors", number=4),
    )
    assert found(lab) == []


# --- attributes -----------------------------------------------------------------------------


def with_attrs(**values: L.AttributeValue) -> L.Label:
    lab = valid_label("car")
    for k, v in values.items():
        lab.attributes[k.replace("_", "-")].CopyFrom(v)
    return lab


def test_valid_attributes_of_every_type() -> None:
    lab = with_attrs(
        make=L.AttributeValue(string_value="vw"),
        speed=L.AttributeValue(float_value=55.5),
        parked=L.AttributeValue(bool_value=False),
        body=L.AttributeValue(string_value="suv"),
    )
    assert found(lab) == []
    # A float attribute accepts an integer value.
    assert found(with_attrs(speed=L.AttributeValue(int_value=3))) == []


ATTRIBUTE_CASES = [
    ("foo", L.AttributeValue(bool_value=True), reasons.UNKNOWN_ATTRIBUTE),
    ("track", L.AttributeValue(string_value="7"), reasons.INVALID_ATTRIBUTE),
    ("track", L.AttributeValue(int_value=-1), reasons.INVALID_ATTRIBUTE),
    ("track", L.AttributeValue(), reasons.INVALID_ATTRIBUTE),
    ("make", L.AttributeValue(string_value="volkswagenag"), reasons.INVALID_ATTRIBUTE),
    ("make", L.AttributeValue(string_value="VW"), reasons.INVALID_ATTRIBUTE),
    ("speed", L.AttributeValue(float_value=100.5), reasons.INVALID_ATTRIBUTE),
    ("speed", L.AttributeValue(float_value=NAN), reasons.INVALID_ATTRIBUTE),
    ("speed", L.AttributeValue(string_value="fast"), reasons.INVALID_ATTRIBUTE),
    ("parked", L.AttributeValue(int_value=1), reasons.INVALID_ATTRIBUTE),
    ("body", L.AttributeValue(string_value="van"), reasons.INVALID_ATTRIBUTE),
    ("body", L.AttributeValue(int_value=0), reasons.INVALID_ATTRIBUTE),
    ("old-attr", L.AttributeValue(string_value="x"), reasons.DEPRECATED_ATTRIBUTE),
]


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    ATTRIBUTE_CASES,
    ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(ATTRIBUTE_CASES)],
)
def test_attribute_problems(key: str, value: L.AttributeValue, reason: str) -> None:
    lab = valid_label("car")
    lab.attributes[key].CopyFrom(value)
    assert found(lab) == [(reason, f"attributes[{key}]")]


def test_required_attribute_missing() -> None:
    lab = valid_label("car")
    del lab.attributes["track"]
    assert found(lab) == [(reasons.MISSING_REQUIRED, "attributes[track]")]
    lab.attributes["parked"].bool_value = True
    assert found(lab) == [(reasons.MISSING_REQUIRED, "attributes[track]")]


def test_several_attribute_problems_come_in_a_stable_order() -> None:
    lab = valid_label("car")
    del lab.attributes["track"]
    for k in ("zeta", "alpha", "mid"):
        lab.attributes[k].bool_value = True
    assert [f for _, f in found(lab)] == [
        "attributes[alpha]",
        "attributes[mid]",
        "attributes[track]",
        "attributes[zeta]",
    ]


# --- label and item level -------------------------------------------------------------------


def test_confidence_must_be_in_unit_interval() -> None:
    for bad in (1.5, -0.1, NAN):
        lab = valid_label("light")
        lab.confidence = bad
        assert found(lab) == [(reasons.INVALID_CONFIDENCE, "confidence")]


def test_label_ids_must_be_unique_within_the_item() -> None:
    it = item(
        valid_label("light", "a"),
        valid_label("light", "b"),
        valid_label("light", "a"),
        valid_label("light"),
        valid_label("light"),
    )
    issues = ONT.validate_item(it)
    assert [(i.label_index, i.reason, i.field) for i in issues] == [
        (2, reasons.DUPLICATE_LABEL_ID, "label_id")
    ]


def rel(rid: str, f: str, t: str) -> L.Relation:
    return L.Relation(relationship_id=rid, from_label_id=f, to_label_id=t)


def people_and_cars(*relations: L.Relation) -> list[tuple[int, str, str]]:
    it = item(
        valid_label("person", "p1"),
        valid_label("person", "p2"),
        valid_label("car", "c1"),
        valid_label("car", "c2"),
        relations=relations,
    )
    return [(i.label_index, i.reason, i.field) for i in ONT.validate_item(it)]


def test_valid_relations() -> None:
    assert (
        people_and_cars(
            rel("drives", "p1", "c1"),
            rel("drives", "p2", "c2"),
            rel("owns", "p1", "c1"),
            rel("owns", "p1", "c2"),
            rel("parked-at", "c1", "p1"),
            rel("parked-at", "c2", "p1"),
            rel("near", "c1", "p1"),
            rel("near", "c1", "p2"),
            rel("near", "c2", "p1"),
        )
        == []
    )


RI = reasons.ILLEGAL_RELATION
RELATION_CASES = [
    ([rel("sees", "p1", "c1")], "relations[0].relationship_id"),
    ([rel("old-rel", "p1", "c1")], "relations[0].relationship_id"),
    ([rel("drives", "p1", "c9")], "relations[0].to_label_id"),
    ([rel("drives", "", "c1")], "relations[0].from_label_id"),
    ([rel("drives", "c2", "c1")], "relations[0].from_label_id"),
    ([rel("drives", "p1", "p2")], "relations[0].to_label_id"),
    # one-to-one: a person drives one car, a car has one driver.
    ([rel("drives", "p1", "c1"), rel("drives", "p1", "c2")], "relations[1].from_label_id"),
    ([rel("drives", "p1", "c1"), rel("drives", "p2", "c1")], "relations[1].to_label_id"),
    # one-to-many: a car has one owner.
    ([rel("owns", "p1", "c1"), rel("owns", "p2", "c1")], "relations[1].to_label_id"),
    # many-to-one: a car is parked at one person's place.
    ([rel("parked-at", "c1", "p1"), rel("parked-at", "c1", "p2")], "relations[1].from_label_id"),
    ([rel("near", "c1", "p1"), rel("near", "c1", "p1")], "relations[1]"),
]


@pytest.mark.parametrize(
    ("relations", "field"),
    RELATION_CASES,
    ids=[f"{c[1]}-{i}" for i, c in enumerate(RELATION_CASES)],
)
def test_relation_problems(relations: list[L.Relation], field: str) -> None:
    assert people_and_cars(*relations) == [(-1, RI, field)]


def test_issue_to_proto() -> None:
    issue = LabelIssue(2, 1, "geometry.box.width", "too wide", reasons.OUT_OF_BOUNDS)
    assert issue.to_proto() == ontology_pb2.LabelViolation(
        item_index=2,
        label_index=1,
        field="geometry.box.width",
        description="too wide",
        reason="OUT_OF_BOUNDS",
    )


def test_validation_does_not_modify_the_labels() -> None:
    it = item(car(radio("color", "red")), valid_label("person", "p"))
    before = it.SerializeToString(deterministic=True)
    ONT.validate_items([it])
    assert it.SerializeToString(deterministic=True) == before


def test_every_reason_is_listed() -> None:
    assert len(set(reasons.ALL_REASONS)) == len(reasons.ALL_REASONS) == 20
