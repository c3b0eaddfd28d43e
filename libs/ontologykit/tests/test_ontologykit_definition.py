"""Structural validation of ontology definitions (validate_definition / compile_ontology)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from labelops.ontology.v1 import definition_pb2 as D
from labelops_core.errors import InvalidArgument
from labelops_ontologykit import (
    MAX_DEFINITION_BYTES,
    MAX_DEPTH,
    MAX_ITEMS,
    compile_ontology,
    validate_definition,
)
from ontologykit_fixtures import definition


def fields(d: D.OntologyDefinition) -> list[str]:
    return [v.field for v in validate_definition(d)]


def test_ids_of_128_characters_uuids_and_slugs_are_fine() -> None:
    d = base()
    d.classes[0].classifications[0].id = "a" * 128
    d.classes[0].classifications[0].options[0].id = "018f3c2e-7b1a-7c4d-9e2f-0a1b2c3d4e5f"
    d.classes[0].attributes[0].id = "make_v2"
    assert fields(d) == []


def test_the_fixture_definition_is_valid() -> None:
    assert validate_definition(definition()) == []
    assert validate_definition(D.OntologyDefinition()) == []


def base() -> D.OntologyDefinition:
    d = D.OntologyDefinition()
    c = d.classes.add(id="car", name="Car", geometry=D.GEOMETRY_KIND_BOUNDING_BOX)
    color = c.classifications.add(id="color", name="Color", kind=D.CLASSIFICATION_KIND_RADIO)
    color.options.add(id="red", name="Red")
    c.attributes.add(id="make", name="Make", type=D.ATTRIBUTE_TYPE_STRING)
    d.classes.add(id="person", name="Person", geometry=D.GEOMETRY_KIND_POLYGON)
    d.relationships.add(
        id="drives",
        name="Drives",
        from_class_id="person",
        to_class_id="car",
        cardinality=D.CARDINALITY_ONE_TO_ONE,
    )
    return d


def _kp(d: D.OntologyDefinition) -> D.OntologyClass:
    k = d.classes.add(id="pose", name="Pose", geometry=D.GEOMETRY_KIND_KEYPOINTS)
    return k


def _kp_edges(d: D.OntologyDefinition, a: int, b: int) -> None:
    k = _kp(d)
    k.skeleton.keypoint_names.extend(["a", "b"])
    k.skeleton.edges.add(from_index=a, to_index=b)


CASES: list[tuple[str, Callable[[D.OntologyDefinition], object], str]] = [
    (
        "empty id",
        lambda d: setattr(d.classes[0].classifications[0], "id", ""),
        "classes[0].classifications[0].id",
    ),
    (
        "uppercase id",
        lambda d: setattr(d.classes[0].classifications[0], "id", "Color"),
        "classes[0].classifications[0].id",
    ),
    (
        "id with a dot",
        lambda d: setattr(d.classes[0].attributes[0], "id", "ma.ke"),
        "classes[0].attributes[0].id",
    ),
    (
        "id starting with '-'",
        lambda d: setattr(d.classes[0].classifications[0], "id", "-color"),
        "classes[0].classifications[0].id",
    ),
    (
        "id too long",
        lambda d: setattr(d.classes[0].classifications[0], "id", "a" * 129),
        "classes[0].classifications[0].id",
    ),
    (
        "id of an option reused by an attribute",
        lambda d: setattr(d.classes[0].attributes[0], "id", "red"),
        "classes[0].attributes[0].id",
    ),
    (
        "id reused by a relationship",
        lambda d: setattr(d.relationships[0], "id", "car"),
        "relationships[0].id",
    ),
    (
        "empty name",
        lambda d: setattr(d.classes[0].classifications[0], "name", "  "),
        "classes[0].classifications[0].name",
    ),
    (
        "sibling names equal ignoring case",
        lambda d: setattr(d.classes[1], "name", " car"),
        "classes[1].name",
    ),
    (
        "sibling option names",
        lambda d: d.classes[0].classifications[0].options.add(id="red2", name="RED"),
        "classes[0].classifications[0].options[1].name",
    ),
    ("geometry unspecified", lambda d: setattr(d.classes[0], "geometry", 0), "classes[0].geometry"),
    ("geometry unknown", lambda d: setattr(d.classes[0], "geometry", 99), "classes[0].geometry"),
    (
        "kind unspecified",
        lambda d: setattr(d.classes[0].classifications[0], "kind", 0),
        "classes[0].classifications[0].kind",
    ),
    (
        "radio without options",
        lambda d: d.classes[0].classifications[0].ClearField("options"),
        "classes[0].classifications[0].options",
    ),
    (
        "text with options",
        lambda d: setattr(d.classes[0].classifications[0], "kind", D.CLASSIFICATION_KIND_TEXT),
        "classes[0].classifications[0].options",
    ),
    (
        "checklist min > max",
        lambda d: d.classes[0].classifications.add(
            id="p",
            name="P",
            kind=D.CLASSIFICATION_KIND_CHECKLIST,
            options=[D.Option(id="o1", name="o1"), D.Option(id="o2", name="o2")],
            min_selected=2,
            max_selected=1,
        ),
        "classes[0].classifications[1].min_selected",
    ),
    (
        "checklist min > options",
        lambda d: d.classes[0].classifications.add(
            id="p",
            name="P",
            kind=D.CLASSIFICATION_KIND_CHECKLIST,
            options=[D.Option(id="o1", name="o1")],
            min_selected=2,
        ),
        "classes[0].classifications[1].min_selected",
    ),
    (
        "number min > max",
        lambda d: d.classes[0].classifications.add(
            id="n",
            name="N",
            kind=D.CLASSIFICATION_KIND_NUMBER,
            number=D.NumberConstraints(has_min=True, min=3, has_max=True, max=2),
        ),
        "classes[0].classifications[1].number.min",
    ),
    (
        "number max NaN",
        lambda d: d.classes[0].classifications.add(
            id="n",
            name="N",
            kind=D.CLASSIFICATION_KIND_NUMBER,
            number=D.NumberConstraints(has_max=True, max=float("nan")),
        ),
        "classes[0].classifications[1].number.max",
    ),
    (
        "text pattern does not compile",
        lambda d: d.classes[0].classifications.add(
            id="t", name="T", kind=D.CLASSIFICATION_KIND_TEXT, text=D.TextConstraints(pattern="(")
        ),
        "classes[0].classifications[1].text.pattern",
    ),
    (
        "text max_length negative",
        lambda d: d.classes[0].classifications.add(
            id="t", name="T", kind=D.CLASSIFICATION_KIND_TEXT, text=D.TextConstraints(max_length=-1)
        ),
        "classes[0].classifications[1].text.max_length",
    ),
    (
        "attribute type unspecified",
        lambda d: setattr(d.classes[0].attributes[0], "type", 0),
        "classes[0].attributes[0].type",
    ),
    (
        "attribute pattern does not compile",
        lambda d: setattr(d.classes[0].attributes[0].text, "pattern", "[a-"),
        "classes[0].attributes[0].text.pattern",
    ),
    (
        "int attribute min > max",
        lambda d: d.classes[0].attributes.add(
            id="n",
            name="N",
            type=D.ATTRIBUTE_TYPE_INT,
            number=D.NumberConstraints(has_min=True, min=3, has_max=True, max=2),
        ),
        "classes[0].attributes[1].number.min",
    ),
    (
        "enum without values",
        lambda d: d.classes[0].attributes.add(id="e", name="E", type=D.ATTRIBUTE_TYPE_ENUM),
        "classes[0].attributes[1].enum_values",
    ),
    (
        "enum with a duplicate value",
        lambda d: d.classes[0].attributes.add(
            id="e", name="E", type=D.ATTRIBUTE_TYPE_ENUM, enum_values=["a", "a"]
        ),
        "classes[0].attributes[1].enum_values[1]",
    ),
    (
        "enum with an empty value",
        lambda d: d.classes[0].attributes.add(
            id="e", name="E", type=D.ATTRIBUTE_TYPE_ENUM, enum_values=["a", ""]
        ),
        "classes[0].attributes[1].enum_values[1]",
    ),
    ("keypoints without skeleton", _kp, "classes[2].skeleton.keypoint_names"),
    ("skeleton edge out of range", lambda d: _kp_edges(d, 0, 2), "classes[2].skeleton.edges[0]"),
    ("skeleton edge negative", lambda d: _kp_edges(d, -1, 0), "classes[2].skeleton.edges[0]"),
    ("skeleton self edge", lambda d: _kp_edges(d, 1, 1), "classes[2].skeleton.edges[0]"),
    (
        "relationship to a missing class",
        lambda d: setattr(d.relationships[0], "to_class_id", "bus"),
        "relationships[0].to_class_id",
    ),
    (
        "relationship from an option id",
        lambda d: setattr(d.relationships[0], "from_class_id", "red"),
        "relationships[0].from_class_id",
    ),
    (
        "cardinality unspecified",
        lambda d: setattr(d.relationships[0], "cardinality", 0),
        "relationships[0].cardinality",
    ),
    (
        "relationship name empty",
        lambda d: setattr(d.relationships[0], "name", ""),
        "relationships[0].name",
    ),
]


@pytest.mark.parametrize(("what", "mutate", "field"), CASES, ids=[c[0] for c in CASES])
def test_structural_problem(
    what: str, mutate: Callable[[D.OntologyDefinition], object], field: str
) -> None:
    d = base()
    assert fields(d) == []
    mutate(d)
    assert fields(d) == [field]


def test_same_name_under_different_parents_is_fine() -> None:
    d = base()
    d.classes[1].attributes.add(id="make2", name="Make", type=D.ATTRIBUTE_TYPE_STRING)
    d.classes[0].classifications.add(id="make3", name="Make", kind=D.CLASSIFICATION_KIND_TEXT)
    assert fields(d) == []


def nested_chain(depth: int) -> D.OntologyDefinition:
    d = D.OntologyDefinition()
    c = d.classes.add(id="c", name="C", geometry=D.GEOMETRY_KIND_POINT)
    parent = c.classifications.add(id="q1", name="Q1", kind=D.CLASSIFICATION_KIND_RADIO)
    for level in range(2, depth + 1):
        opt = parent.options.add(id=f"o{level - 1}", name="O")
        parent = opt.classifications.add(id=f"q{level}", name="Q", kind=D.CLASSIFICATION_KIND_RADIO)
    parent.options.add(id=f"o{depth}", name="O")
    return d


def test_nesting_depth_limit() -> None:
    assert fields(nested_chain(MAX_DEPTH)) == []
    got = validate_definition(nested_chain(MAX_DEPTH + 1))
    assert len(got) == 1
    assert got[0].field.count("classifications") == MAX_DEPTH + 1
    assert "deeper than 16" in got[0].description


def test_item_count_limit() -> None:
    d = D.OntologyDefinition()
    for i in range(MAX_ITEMS):
        d.classes.add(id=f"c{i}", name=f"C{i}", geometry=D.GEOMETRY_KIND_POINT)
    assert fields(d) == []
    d.classes.add(id="one-more", name="One more", geometry=D.GEOMETRY_KIND_POINT)
    assert fields(d) == ["definition"]


def test_size_limit() -> None:
    d = base()
    d.classes[0].description = "x" * MAX_DEFINITION_BYTES
    got = validate_definition(d)
    assert [v.field for v in got] == ["definition"]
    assert "bytes" in got[0].description


def test_compile_rejects_an_invalid_definition_with_every_violation() -> None:
    d = base()
    d.classes[0].geometry = 0
    d.relationships[0].to_class_id = "bus"
    with pytest.raises(InvalidArgument) as e:
        compile_ontology(d)
    assert e.value.reason == "INVALID_ONTOLOGY"
    assert [v.field for v in e.value.violations] == [
        "classes[0].geometry",
        "relationships[0].to_class_id",
    ]
