"""Size caps of labels: an oversized part is one TOO_LARGE issue (never an exception), is not
examined further, and the caps are the documented constants unless configured."""

from __future__ import annotations

import pytest
from labelops.labels.v1 import label_pb2 as L
from labelops_ontologykit import LabelLimits, compile_ontology, limits, reasons
from ontologykit_fixtures import definition, item, valid_label

ONT = compile_ontology(definition())
SMALL = compile_ontology(
    definition(),
    limits=LabelLimits(
        max_vertices=5,
        max_labels_per_item=3,
        max_answers_per_label=2,
        max_relations_per_item=2,
        max_text_answer_chars=4,
        max_label_id_chars=8,
    ),
)


def too_large(issues: list) -> list[tuple[int, str]]:
    return [(i.label_index, i.field) for i in issues if i.reason == reasons.TOO_LARGE]


def test_the_defaults_are_the_documented_constants() -> None:
    assert ONT.limits == LabelLimits()
    assert (limits.MAX_VERTICES, limits.MAX_LABELS_PER_ITEM) == (10_000, 10_000)
    assert LabelLimits().max_text_answer_chars == limits.MAX_TEXT_ANSWER_CHARS
    with pytest.raises(ValueError):
        LabelLimits(max_vertices=0)


@pytest.mark.parametrize(("class_id", "kind"), [("person", "polygon"), ("lane", "polyline")])
def test_too_many_vertices(class_id: str, kind: str) -> None:
    lab = valid_label(class_id)
    points = getattr(lab, kind).points
    del points[:]
    for k in range(limits.MAX_VERTICES + 1):
        points.add(x=float(k % 100), y=float(k % 50))
    issues = ONT.validate_items([item(lab)])
    assert [(i.label_index, i.field, i.reason) for i in issues] == [
        (0, f"geometry.{kind}.points", reasons.TOO_LARGE)
    ]
    assert "10001" in issues[0].description and "10000" in issues[0].description
    del points[limits.MAX_VERTICES :]
    assert ONT.validate_items([item(lab)]) == []  # exactly at the cap: fine


def test_configured_caps_apply() -> None:
    lab = valid_label("person")
    for _ in range(2):
        lab.polygon.points.add(x=1, y=1)  # 6 > 5
    assert too_large(SMALL.validate_items([item(lab)])) == [(0, "geometry.polygon.points")]
    assert ONT.validate_items([item(lab)]) == []


def test_too_many_labels_reports_once_and_checks_only_the_first() -> None:
    labels = [valid_label("light", f"l{k}") for k in range(5)]
    labels[4].class_id = "nope"  # beyond the cap: not examined
    issues = SMALL.validate_items([item(*labels)])
    assert [(i.label_index, i.field, i.reason) for i in issues] == [
        (-1, "labels", reasons.TOO_LARGE)
    ]


def test_too_many_relations() -> None:
    rels = (L.Relation(relationship_id="x", from_label_id="a", to_label_id="b"),) * 3
    issues = SMALL.validate_items([item(valid_label("light", "a"), relations=rels)])
    assert (-1, "relations") in too_large(issues)
    relation_fields = {i.field.split(".")[0] for i in issues if i.field.startswith("relations[")}
    assert relation_fields <= {"relations[0]", "relations[1]"}


def test_too_many_answers_and_too_long_text_and_label_id() -> None:
    lab = valid_label("car", "id-far-too-long")
    lab.answers.add(classification_id="plate", text="ABCDEFG")
    issues = SMALL.validate_items([item(lab)])
    assert too_large(issues) == [(0, "label_id"), (0, "answers[1].text")]
    assert all(i.reason == reasons.TOO_LARGE for i in issues)  # no other checks on it
    lab.answers.add(classification_id="doors", number=2)
    assert (0, "answers") in too_large(SMALL.validate_items([item(lab)]))


def test_a_huge_text_answer_is_an_issue_not_an_exception() -> None:
    lab = valid_label("car")
    lab.answers.add(classification_id="plate", text="A" * 1_000_000)
    issues = ONT.validate_items([item(lab)])
    assert too_large(issues) == [(0, "answers[1].text")]
