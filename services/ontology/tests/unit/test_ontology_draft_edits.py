"""apply_edits: every edit kind, and the field paths of edits that cannot be applied."""

from __future__ import annotations

import pytest
from labelops.ontology.v1 import definition_pb2 as d
from labelops.ontology.v1 import ontology_pb2 as o
from labelops_core.errors import InvalidArgument
from labelops_ontology.domain.edits import apply_edits
from labelops_ontologykit import validate_definition
from ontology_samples import add_class, move, remove, rename, vehicles


def _ids(definition: d.OntologyDefinition) -> list[str]:
    return [c.id for c in definition.classes]


def _rejected(edits: list[o.DraftEdit]) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as info:
        apply_edits(vehicles(), edits)
    assert info.value.reason == "INVALID_EDIT"
    assert len(info.value.violations) == 1
    return info.value


def test_edits_apply_in_order_to_a_copy() -> None:
    original = vehicles()
    out = apply_edits(original, [add_class("truck"), rename("truck", "lorry")])
    assert _ids(out) == ["car", "person", "lane", "truck"]
    assert out.classes[3].name == "lorry"
    assert original == vehicles()  # untouched


def test_a_failing_edit_changes_nothing_and_names_its_index() -> None:
    original = vehicles()
    with pytest.raises(InvalidArgument) as info:
        apply_edits(original, [add_class("truck"), rename("truck", "lorry"), remove("nope")])
    assert info.value.violations[0].field == "edits[2].remove.item_id"
    assert "no item with id 'nope'" in info.value.violations[0].description
    assert original == vehicles()


def test_add_classification_under_class_and_under_option() -> None:
    size = d.Classification(
        id="size", name="size", kind=d.CLASSIFICATION_KIND_TEXT, text=d.TextConstraints()
    )
    tone = d.Classification(id="tone", name="tone", kind=d.CLASSIFICATION_KIND_TEXT)
    out = apply_edits(
        vehicles(),
        [
            o.DraftEdit(add=o.AddItem(parent_id="person", classification=size)),
            o.DraftEdit(add=o.AddItem(parent_id="red", classification=tone)),
        ],
    )
    assert [c.id for c in out.classes[1].classifications] == ["size"]
    assert [c.id for c in out.classes[0].classifications[0].options[0].classifications] == ["tone"]
    assert validate_definition(out) == []


def test_add_option_attribute_and_relationship() -> None:
    out = apply_edits(
        vehicles(),
        [
            o.DraftEdit(
                add=o.AddItem(parent_id="color", option=d.Option(id="green", name="green"))
            ),
            o.DraftEdit(
                add=o.AddItem(
                    parent_id="person",
                    attribute=d.Attribute(id="age", name="age", type=d.ATTRIBUTE_TYPE_INT),
                )
            ),
            o.DraftEdit(
                add=o.AddItem(
                    relationship=d.Relationship(
                        id="walks-on",
                        name="walks on",
                        from_class_id="person",
                        to_class_id="lane",
                        cardinality=d.CARDINALITY_MANY_TO_ONE,
                    )
                )
            ),
        ],
    )
    assert [x.id for x in out.classes[0].classifications[0].options] == ["red", "blue", "green"]
    assert [a.id for a in out.classes[1].attributes] == ["age"]
    assert [r.id for r in out.relationships] == ["drives", "walks-on"]


@pytest.mark.parametrize(
    ("add", "field", "words"),
    [
        (
            o.AddItem(parent_id="car", ontology_class=d.OntologyClass(id="x", name="x")),
            "edits[0].add.parent_id",
            "cannot add a class to a class",
        ),
        (
            o.AddItem(parent_id="color", classification=d.Classification(id="x", name="x")),
            "edits[0].add.parent_id",
            "belongs to a class or to an option",
        ),
        (
            o.AddItem(option=d.Option(id="x", name="x")),
            "edits[0].add.parent_id",
            "cannot add an option to the top level",
        ),
        (
            o.AddItem(parent_id="red", attribute=d.Attribute(id="x", name="x")),
            "edits[0].add.parent_id",
            "an attribute belongs to a class",
        ),
        (
            o.AddItem(parent_id="ghost", attribute=d.Attribute(id="x", name="x")),
            "edits[0].add.parent_id",
            "no item with id 'ghost'",
        ),
        (
            o.AddItem(ontology_class=d.OntologyClass(id="person", name="human")),
            "edits[0].add.ontology_class.id",
            "already used by a class",
        ),
        (
            o.AddItem(ontology_class=d.OntologyClass(name="nameless")),
            "edits[0].add.ontology_class.id",
            "needs an id",
        ),
        (o.AddItem(), "edits[0].add.item", "required"),
    ],
)
def test_add_rejects_illegal_parents_and_ids(add: o.AddItem, field: str, words: str) -> None:
    err = _rejected([o.DraftEdit(add=add)])
    assert err.violations[0].field == field
    assert words in err.violations[0].description


def test_add_rejects_nested_ids_already_in_use() -> None:
    cls = d.OntologyClass(
        id="bus",
        name="bus",
        geometry=d.GEOMETRY_KIND_BOUNDING_BOX,
        attributes=[d.Attribute(id="occluded", name="occluded", type=d.ATTRIBUTE_TYPE_BOOL)],
    )
    err = _rejected([o.DraftEdit(add=o.AddItem(ontology_class=cls))])
    assert err.violations[0].field == "edits[0].add.ontology_class"
    assert "'occluded' is already used by an attribute" in err.violations[0].description


def test_add_option_to_a_text_classification_is_refused() -> None:
    text = d.Classification(id="note", name="note", kind=d.CLASSIFICATION_KIND_TEXT)
    err = _rejected(
        [
            o.DraftEdit(add=o.AddItem(parent_id="car", classification=text)),
            o.DraftEdit(add=o.AddItem(parent_id="note", option=d.Option(id="x", name="x"))),
        ]
    )
    assert err.violations[0].field == "edits[1].add.parent_id"
    assert "not a radio or checklist" in err.violations[0].description


def test_rename_and_its_errors() -> None:
    out = apply_edits(vehicles(), [rename("shade", "tone"), rename("drives", "is driving")])
    assert out.classes[0].classifications[0].options[1].classifications[0].name == "tone"
    assert out.relationships[0].name == "is driving"
    assert _rejected([rename("ghost", "x")]).violations[0].field == "edits[0].rename.item_id"
    assert _rejected([rename("car", "  ")]).violations[0].field == "edits[0].rename.new_name"


def test_retype_sets_the_type_that_fits_the_item() -> None:
    out = apply_edits(
        vehicles(),
        [
            o.DraftEdit(retype=o.RetypeItem(item_id="car", geometry=d.GEOMETRY_KIND_POLYGON)),
            o.DraftEdit(
                retype=o.RetypeItem(item_id="occluded", attribute_type=d.ATTRIBUTE_TYPE_STRING)
            ),
        ],
    )
    assert out.classes[0].geometry == d.GEOMETRY_KIND_POLYGON
    assert out.classes[0].attributes[0].type == d.ATTRIBUTE_TYPE_STRING
    err = _rejected(
        [o.DraftEdit(retype=o.RetypeItem(item_id="color", geometry=d.GEOMETRY_KIND_POINT))]
    )
    assert err.violations[0].field == "edits[0].retype.geometry"
    assert "is a classification" in err.violations[0].description
    err = _rejected(
        [o.DraftEdit(retype=o.RetypeItem(item_id="car", geometry=d.GEOMETRY_KIND_UNSPECIFIED))]
    )
    assert err.violations[0].field == "edits[0].retype.geometry"
    err = _rejected([o.DraftEdit(retype=o.RetypeItem(item_id="car"))])
    assert err.violations[0].field == "edits[0].retype.new_type"


def test_deprecate_and_undeprecate() -> None:
    dep = o.DraftEdit(deprecate=o.DeprecateItem(item_id="red", deprecated=True))
    out = apply_edits(vehicles(), [dep])
    assert out.classes[0].classifications[0].options[0].deprecated
    back = o.DraftEdit(deprecate=o.DeprecateItem(item_id="red", deprecated=False))
    assert not apply_edits(out, [back]).classes[0].classifications[0].options[0].deprecated


def test_move_classification_option_and_attribute() -> None:
    out = apply_edits(
        vehicles(),
        [move("shade", "red"), move("occluded", "person"), move("color", "person")],
    )
    car, person = out.classes[0], out.classes[1]
    assert [c.id for c in car.classifications] == []
    assert [a.id for a in person.attributes] == ["occluded"]
    color = person.classifications[0]
    assert [c.id for c in color.options[0].classifications] == ["shade"]
    assert list(color.options[1].classifications) == []
    assert validate_definition(out) == []


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        (move("car", "person"), "edits[2].move.item_id", "cannot be moved"),
        (move("occluded", "red"), "edits[2].move.new_parent_id", "an attribute belongs to a class"),
        (move("color", "shade"), "edits[2].move.new_parent_id", "belongs to a class or"),
        (move("color", "blue"), "edits[2].move.new_parent_id", "into itself or one of its own"),
        (move("red", "ghost"), "edits[2].move.new_parent_id", "no item with id 'ghost'"),
        (move("red", ""), "edits[2].move.new_parent_id", "required"),
    ],
)
def test_move_rejects_illegal_parents(edit: o.DraftEdit, field: str, words: str) -> None:
    err = _rejected([add_class("bus"), rename("bus", "coach"), edit])
    assert err.violations[0].field == field
    assert words in err.violations[0].description


def test_remove_takes_the_subtree_and_guards_relationships() -> None:
    out = apply_edits(vehicles(), [remove("blue")])
    assert [x.id for x in out.classes[0].classifications[0].options] == ["red"]
    err = _rejected([remove("person")])
    assert err.violations[0].field == "edits[0].remove.item_id"
    assert "used by relationship(s) drives" in err.violations[0].description
    out = apply_edits(vehicles(), [remove("drives"), remove("person")])
    assert _ids(out) == ["car", "lane"]


def test_update_replaces_own_fields_but_keeps_id_children_and_unset_name() -> None:
    replacement = d.OntologyClass(
        id="car", description="four wheels", high_stakes=True, color="#f80"
    )
    out = apply_edits(vehicles(), [o.DraftEdit(update=o.UpdateItem(ontology_class=replacement))])
    car = out.classes[0]
    assert (car.name, car.description, car.high_stakes, car.color) == (
        "car",
        "four wheels",
        True,
        "#f80",
    )
    assert car.geometry == d.GEOMETRY_KIND_BOUNDING_BOX
    assert [c.id for c in car.classifications] == ["color"]
    assert [a.id for a in car.attributes] == ["occluded"]
    err = _rejected([o.DraftEdit(update=o.UpdateItem(option=d.Option(id="car")))])
    assert err.violations[0].field == "edits[0].update.option"
    assert "is a class, not an option" in err.violations[0].description
    err = _rejected([o.DraftEdit(update=o.UpdateItem(option=d.Option(id="ghost")))])
    assert err.violations[0].field == "edits[0].update.option.id"


def test_replace_and_empty_edit() -> None:
    new = d.OntologyDefinition(classes=[d.OntologyClass(id="a", name="a", geometry=1)])
    out = apply_edits(vehicles(), [o.DraftEdit(replace=o.ReplaceDefinition(definition=new))])
    assert out == new
    err = _rejected([add_class("bus"), o.DraftEdit()])
    assert err.violations[0].field == "edits[1]"
