"""Semantic diff, breaking flags, version bumps and fingerprints."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from labelops.ontology.v1 import definition_pb2 as D
from labelops.ontology.v1 import ontology_pb2 as O
from labelops_ontologykit import (
    check_version_bump,
    diff_definitions,
    fingerprint,
    is_breaking,
    next_version,
    parse_version,
)
from ontologykit_fixtures import definition


def base() -> D.OntologyDefinition:
    d = D.OntologyDefinition()
    car = d.classes.add(id="car", name="Car", geometry=D.GEOMETRY_KIND_BOUNDING_BOX, color="#f00")
    color = car.classifications.add(id="color", name="Color", kind=D.CLASSIFICATION_KIND_RADIO)
    color.options.add(id="red", name="Red")
    color.options.add(id="blue", name="Blue")
    car.classifications.add(
        id="parts",
        name="Parts",
        kind=D.CLASSIFICATION_KIND_CHECKLIST,
        max_selected=2,
        options=[D.Option(id="wheel", name="Wheel"), D.Option(id="door", name="Door")],
    )
    car.classifications.add(
        id="plate",
        name="Plate",
        kind=D.CLASSIFICATION_KIND_TEXT,
        text=D.TextConstraints(max_length=8),
    )
    car.classifications.add(
        id="doors",
        name="Doors",
        kind=D.CLASSIFICATION_KIND_NUMBER,
        number=D.NumberConstraints(has_min=True, min=1, has_max=True, max=5),
    )
    car.attributes.add(
        id="body", name="Body", type=D.ATTRIBUTE_TYPE_ENUM, enum_values=["sedan", "suv"]
    )
    person = d.classes.add(id="person", name="Person", geometry=D.GEOMETRY_KIND_POLYGON)
    person.classifications.add(id="age", name="Age", kind=D.CLASSIFICATION_KIND_NUMBER)
    pose = d.classes.add(id="pose", name="Pose", geometry=D.GEOMETRY_KIND_KEYPOINTS)
    pose.skeleton.keypoint_names.extend(["a", "b"])
    d.relationships.add(
        id="drives",
        name="Drives",
        from_class_id="person",
        to_class_id="car",
        cardinality=D.CARDINALITY_MANY_TO_MANY,
    )
    return d


def changes_after(edit: Callable[[D.OntologyDefinition], object]) -> list[tuple[str, str, bool]]:
    old = base()
    new = base()
    edit(new)
    return [
        (O.ChangeKind.Name(c.change).removeprefix("CHANGE_KIND_"), c.item_id, c.breaking)
        for c in diff_definitions(old, new)
    ]


def car(d: D.OntologyDefinition) -> D.OntologyClass:
    return d.classes[0]


def cls(d: D.OntologyDefinition, i: int) -> D.Classification:
    return d.classes[0].classifications[i]


def test_no_change_no_entries() -> None:
    assert diff_definitions(base(), base()) == []
    assert diff_definitions(definition(), definition()) == []


def test_added_subtree_is_one_entry_and_not_breaking() -> None:
    def edit(d: D.OntologyDefinition) -> None:
        t = d.classes.add(id="truck", name="Truck", geometry=D.GEOMETRY_KIND_BOUNDING_BOX)
        q = t.classifications.add(
            id="load", name="Load", kind=D.CLASSIFICATION_KIND_RADIO, required=True
        )
        q.options.add(id="empty", name="Empty")

    old, new = base(), base()
    edit(new)
    [entry] = diff_definitions(old, new)
    assert (entry.change, entry.item_kind, entry.item_id, entry.path) == (
        O.CHANGE_KIND_ADDED,
        O.ITEM_KIND_CLASS,
        "truck",
        "Truck",
    )
    assert not entry.breaking
    assert "2 nested items" in entry.description
    assert entry.new_value == "Truck"


def test_added_required_items_break_existing_labels() -> None:
    assert changes_after(
        lambda d: car(d).classifications.add(
            id="q", name="Q", kind=D.CLASSIFICATION_KIND_TEXT, required=True
        )
    ) == [("ADDED", "q", True)]
    assert changes_after(
        lambda d: car(d).attributes.add(id="a", name="A", type=D.ATTRIBUTE_TYPE_BOOL, required=True)
    ) == [("ADDED", "a", True)]
    # Required under an existing option: labels that selected "red" now lack it.
    assert changes_after(
        lambda d: (
            cls(d, 0)
            .options[0]
            .classifications.add(
                id="shade", name="Shade", kind=D.CLASSIFICATION_KIND_TEXT, required=True
            )
        )
    ) == [("ADDED", "shade", True)]
    # Required under a *new* option: no existing label selected it.
    assert changes_after(
        lambda d: cls(d, 0).options.add(
            id="green",
            name="Green",
            classifications=[
                D.Classification(id="g", name="G", kind=D.CLASSIFICATION_KIND_TEXT, required=True)
            ],
        )
    ) == [("ADDED", "green", False)]
    assert changes_after(
        lambda d: d.relationships.add(
            id="r2", name="R2", from_class_id="car", to_class_id="car", cardinality=1
        )
    ) == [("ADDED", "r2", False)]


def test_removed_subtree_is_one_breaking_entry_with_the_old_path() -> None:
    old, new = base(), base()
    del new.classes[0].classifications[0]
    [entry] = diff_definitions(old, new)
    assert (entry.change, entry.item_id, entry.path, entry.breaking) == (
        O.CHANGE_KIND_REMOVED,
        "color",
        "Car/Color",
        True,
    )
    assert "2 nested items" in entry.description


def test_renamed_is_not_breaking_and_paths_use_new_names() -> None:
    old, new = base(), base()
    new.classes[0].name = "Automobile"
    new.classes[0].classifications[0].options[0].name = "Crimson"
    got = diff_definitions(old, new)
    assert [(c.change, c.item_id, c.path, c.old_value, c.new_value, c.breaking) for c in got] == [
        (O.CHANGE_KIND_RENAMED, "car", "Automobile", "Car", "Automobile", False),
        (O.CHANGE_KIND_RENAMED, "red", "Automobile/Color/Crimson", "Red", "Crimson", False),
    ]


@pytest.mark.parametrize(
    ("edit", "item_id"),
    [
        (lambda d: setattr(car(d), "geometry", D.GEOMETRY_KIND_POLYGON), "car"),
        (lambda d: setattr(cls(d, 0), "kind", D.CLASSIFICATION_KIND_CHECKLIST), "color"),
        (lambda d: setattr(car(d).attributes[0], "type", D.ATTRIBUTE_TYPE_STRING), "body"),
        (lambda d: setattr(d.relationships[0], "to_class_id", "person"), "drives"),
    ],
)
def test_retyped_is_breaking(edit: Callable[[D.OntologyDefinition], object], item_id: str) -> None:
    got = changes_after(edit)
    assert ("RETYPED", item_id, True) in got


def test_retyped_values_are_enum_names() -> None:
    old, new = base(), base()
    new.classes[0].geometry = D.GEOMETRY_KIND_POLYGON
    [entry] = diff_definitions(old, new)
    assert (entry.old_value, entry.new_value) == (
        "GEOMETRY_KIND_BOUNDING_BOX",
        "GEOMETRY_KIND_POLYGON",
    )


def test_moved_is_breaking() -> None:
    def edit(d: D.OntologyDefinition) -> None:
        age = d.classes[1].classifications[0]
        d.classes[0].classifications.append(age)
        del d.classes[1].classifications[0]

    old, new = base(), base()
    edit(new)
    [entry] = diff_definitions(old, new)
    assert (entry.change, entry.item_id, entry.breaking) == (O.CHANGE_KIND_MOVED, "age", True)
    assert (entry.old_value, entry.new_value, entry.path) == ("Person", "Car", "Car/Age")


def test_option_moved_between_classifications() -> None:
    def edit(d: D.OntologyDefinition) -> None:
        d.classes[0].classifications[1].options.append(d.classes[0].classifications[0].options[1])
        del d.classes[0].classifications[0].options[1]

    assert changes_after(edit) == [("MOVED", "blue", True)]


def test_deprecation_is_not_breaking() -> None:
    assert changes_after(lambda d: setattr(cls(d, 0).options[0], "deprecated", True)) == [
        ("DEPRECATED", "red", False)
    ]
    old, new = base(), base()
    old.classes[0].deprecated = True
    got = diff_definitions(old, new)
    assert [(c.change, c.breaking) for c in got] == [(O.CHANGE_KIND_UNDEPRECATED, False)]


def _num(i: int, **kw: object) -> Callable[[D.OntologyDefinition], None]:
    def edit(d: D.OntologyDefinition) -> None:
        n = cls(d, i).number
        for k, v in kw.items():
            setattr(n, k, v)

    return edit


def _set(
    get: Callable[[D.OntologyDefinition], object], **kw: object
) -> Callable[[D.OntologyDefinition], None]:
    def edit(d: D.OntologyDefinition) -> None:
        obj = get(d)
        for k, v in kw.items():
            setattr(obj, k, v)

    return edit


def _enum(values: list[str]) -> Callable[[D.OntologyDefinition], None]:
    def edit(d: D.OntologyDefinition) -> None:
        a = car(d).attributes[0]
        del a.enum_values[:]
        a.enum_values.extend(values)

    return edit


def _skeleton(d: D.OntologyDefinition) -> None:
    d.classes[2].skeleton.edges.add(from_index=0, to_index=1)


CONSTRAINT_CASES = [
    # what, edit, item id, breaking
    ("now required", _set(lambda d: cls(d, 0), required=True), "color", True),
    ("min raised", _num(3, min=2), "doors", True),
    ("min lowered", _num(3, min=0), "doors", False),
    ("min dropped", _num(3, has_min=False), "doors", False),
    ("max lowered", _num(3, max=4), "doors", True),
    ("max raised", _num(3, max=9), "doors", False),
    ("integer only", _num(3, integer_only=True), "doors", True),
    ("max_length lowered", _set(lambda d: cls(d, 2).text, max_length=4), "plate", True),
    ("max_length raised", _set(lambda d: cls(d, 2).text, max_length=10), "plate", False),
    ("max_length removed", _set(lambda d: cls(d, 2).text, max_length=0), "plate", False),
    ("pattern added", _set(lambda d: cls(d, 2).text, pattern="[A-Z]+"), "plate", True),
    ("enum value removed", _enum(["sedan"]), "body", True),
    ("enum value added", _enum(["sedan", "suv", "van"]), "body", False),
    ("min_selected raised", _set(lambda d: cls(d, 1), min_selected=1), "parts", True),
    ("max_selected lowered", _set(lambda d: cls(d, 1), max_selected=1), "parts", True),
    ("max_selected removed", _set(lambda d: cls(d, 1), max_selected=0), "parts", False),
    (
        "cardinality narrowed",
        _set(lambda d: d.relationships[0], cardinality=D.CARDINALITY_ONE_TO_MANY),
        "drives",
        True,
    ),
    ("skeleton changed", _skeleton, "pose", True),
]


@pytest.mark.parametrize(
    ("what", "edit", "item_id", "breaking"), CONSTRAINT_CASES, ids=[c[0] for c in CONSTRAINT_CASES]
)
def test_constraint_changes(
    what: str, edit: Callable[[D.OntologyDefinition], None], item_id: str, breaking: bool
) -> None:
    assert changes_after(edit) == [("CONSTRAINT_CHANGED", item_id, breaking)]


def test_loosening_constraints_is_not_breaking_in_reverse_either() -> None:
    old, new = base(), base()
    old.classes[0].classifications[0].required = True
    old.classes[0].classifications[2].text.pattern = "[A-Z]+"
    old.relationships[0].cardinality = D.CARDINALITY_ONE_TO_ONE
    new.relationships[0].cardinality = D.CARDINALITY_MANY_TO_ONE
    got = diff_definitions(old, new)
    assert [(c.item_id, c.breaking) for c in got] == [
        ("color", False),
        ("plate", False),
        ("drives", False),
    ]
    assert all(c.change == O.CHANGE_KIND_CONSTRAINT_CHANGED for c in got)


def test_cardinality_swapped_direction_is_breaking() -> None:
    old, new = base(), base()
    old.relationships[0].cardinality = D.CARDINALITY_ONE_TO_MANY
    new.relationships[0].cardinality = D.CARDINALITY_MANY_TO_ONE
    [entry] = diff_definitions(old, new)
    assert entry.breaking
    assert (entry.old_value, entry.new_value) == (
        "CARDINALITY_ONE_TO_MANY",
        "CARDINALITY_MANY_TO_ONE",
    )


def test_metadata_changes_are_not_breaking() -> None:
    def edit(d: D.OntologyDefinition) -> None:
        car(d).description = "four wheels"
        car(d).color = "#00f"
        car(d).examples.append("s3://x.jpg")
        car(d).high_stakes = True
        cls(d, 0).description = "paint"

    old, new = base(), base()
    edit(new)
    got = diff_definitions(old, new)
    assert [(c.change, c.item_id, c.breaking, c.old_value, c.new_value) for c in got] == [
        (O.CHANGE_KIND_METADATA_CHANGED, "car", False, "", "four wheels"),
        (O.CHANGE_KIND_METADATA_CHANGED, "car", False, "", "s3://x.jpg"),
        (O.CHANGE_KIND_METADATA_CHANGED, "car", False, "#f00", "#00f"),
        (O.CHANGE_KIND_METADATA_CHANGED, "car", False, "false", "true"),
        (O.CHANGE_KIND_METADATA_CHANGED, "color", False, "", "paint"),
    ]


def test_reordering_is_a_metadata_change() -> None:
    def edit(d: D.OntologyDefinition) -> None:
        opts = cls(d, 0).options
        a, b = D.Option(), D.Option()
        a.CopyFrom(opts[0])
        b.CopyFrom(opts[1])
        del opts[:]
        opts.extend([b, a])

    old, new = base(), base()
    edit(new)
    [entry] = diff_definitions(old, new)
    assert (entry.change, entry.item_id, entry.breaking) == (
        O.CHANGE_KIND_METADATA_CHANGED,
        "color",
        False,
    )
    assert (entry.old_value, entry.new_value) == ("red, blue", "blue, red")


def test_an_id_that_changes_kind_is_removed_and_added() -> None:
    def edit(d: D.OntologyDefinition) -> None:
        del d.classes[0].attributes[0]
        d.classes[0].classifications.add(id="body", name="Body", kind=D.CLASSIFICATION_KIND_TEXT)

    assert changes_after(edit) == [("ADDED", "body", False), ("REMOVED", "body", True)]


def test_order_is_deterministic_and_follows_the_new_document() -> None:
    def edit(d: D.OntologyDefinition) -> None:
        del d.classes[1]  # person (relationship endpoint changes below)
        d.relationships[0].from_class_id = "car"
        d.classes[0].name = "Auto"
        d.classes[0].classifications[2].text.max_length = 4
        d.classes.add(id="bus", name="Bus", geometry=D.GEOMETRY_KIND_BOUNDING_BOX)

    first = changes_after(edit)
    assert first == changes_after(edit)
    assert first == [
        ("RENAMED", "car", False),
        ("CONSTRAINT_CHANGED", "plate", True),
        ("ADDED", "bus", False),
        ("RETYPED", "drives", True),
        ("REMOVED", "person", True),
    ]


def test_is_breaking() -> None:
    assert not is_breaking([])
    assert not is_breaking([O.DiffEntry(change=O.CHANGE_KIND_ADDED)])
    assert is_breaking([O.DiffEntry(change=O.CHANGE_KIND_ADDED), O.DiffEntry(breaking=True)])


# --- versions -------------------------------------------------------------------------------

ADD = O.DiffEntry(change=O.CHANGE_KIND_ADDED)
UNDEP = O.DiffEntry(change=O.CHANGE_KIND_UNDEPRECATED)
LOOSE = O.DiffEntry(change=O.CHANGE_KIND_CONSTRAINT_CHANGED, breaking=False)
RENAME = O.DiffEntry(change=O.CHANGE_KIND_RENAMED)
DEP = O.DiffEntry(change=O.CHANGE_KIND_DEPRECATED)
META = O.DiffEntry(change=O.CHANGE_KIND_METADATA_CHANGED)
BREAK = O.DiffEntry(change=O.CHANGE_KIND_REMOVED, breaking=True, description="removed class 'car'")


@pytest.mark.parametrize(
    ("previous", "changes", "expected"),
    [
        (None, [], "1.0.0"),
        (None, [BREAK], "1.0.0"),
        ("1.4.2", [BREAK, ADD], "2.0.0"),
        ("1.4.2", [RENAME, ADD], "1.5.0"),
        ("1.4.2", [UNDEP], "1.5.0"),
        ("1.4.2", [LOOSE], "1.5.0"),
        ("1.4.2", [RENAME, DEP, META], "1.4.3"),
        ("1.4.2", [], "1.4.3"),
        ("0.9.9", [BREAK], "1.0.0"),
    ],
)
def test_next_version(previous: str | None, changes: list[O.DiffEntry], expected: str) -> None:
    assert next_version(previous, changes) == expected


@pytest.mark.parametrize(
    ("previous", "requested", "changes", "ok"),
    [
        (None, "1.0.0", [], True),
        (None, "0.1.0", [BREAK], True),
        ("1.4.2", "1.4.3", [RENAME], True),
        ("1.4.2", "1.10.0", [ADD], True),
        ("1.4.2", "2.0.0", [RENAME], True),
        ("1.4.2", "2.0.0", [BREAK], True),
        ("1.4.2", "3.1.0", [BREAK], True),
        ("1.4.2", "1.4.2", [], False),
        ("1.4.2", "1.4.1", [], False),
        ("1.4.2", "1.3.9", [ADD], False),
        ("1.4.2", "1.5.0", [BREAK], False),
        ("1.4.2", "1.4", [], False),
        ("1.4.2", "v1.5.0", [], False),
        ("1.4.2", "1.05.0", [], False),
        ("1.4.2", "1.5.0-rc1", [], False),
        (None, "", [], False),
    ],
)
def test_check_version_bump(
    previous: str | None, requested: str, changes: list[O.DiffEntry], ok: bool
) -> None:
    got = check_version_bump(previous, requested, changes)
    assert (got == []) is ok
    assert all(v.field == "version" for v in got)


def test_a_breaking_bump_violation_names_the_change() -> None:
    [v] = check_version_bump("1.4.2", "1.5.0", [ADD, BREAK])
    assert "removed class 'car'" in v.description and "2.0.0" in v.description


def test_parse_version() -> None:
    assert parse_version("10.0.3") == (10, 0, 3)
    assert parse_version("1.10.0") > parse_version("1.9.0")
    with pytest.raises(ValueError):
        parse_version("1.0.0.0")


# --- fingerprint ----------------------------------------------------------------------------


def test_fingerprint_is_sha256_hex_and_stable() -> None:
    fp = fingerprint(definition())
    assert len(fp) == 64 and int(fp, 16) >= 0
    assert fp == fingerprint(definition())


def test_fingerprint_ignores_how_the_message_was_built() -> None:
    a = D.OntologyDefinition()
    c = a.classes.add()
    c.id, c.name, c.geometry = "car", "Car", D.GEOMETRY_KIND_POINT
    q = c.classifications.add(id="q", name="Q", kind=D.CLASSIFICATION_KIND_TEXT)
    b = D.OntologyDefinition()
    c2 = b.classes.add()
    c2.geometry, c2.name, c2.id = D.GEOMETRY_KIND_POINT, "Car", "car"
    q2 = c2.classifications.add(kind=D.CLASSIFICATION_KIND_TEXT, name="Q", id="q")
    # Touching empty constraint messages changes the bytes, not the content.
    q2.number.has_min = False
    q2.text.SetInParent()
    c2.skeleton.SetInParent()
    assert a.SerializeToString() != b.SerializeToString()
    assert fingerprint(a) == fingerprint(b)
    del q


def test_fingerprint_ignores_unknown_fields() -> None:
    d = definition()
    unknown_field_99 = bytes([0x98, 0x06, 0x01])  # tag (99 << 3 | varint), value 1
    with_unknown = D.OntologyDefinition.FromString(d.SerializeToString() + unknown_field_99)
    assert with_unknown.SerializeToString() != d.SerializeToString()
    assert fingerprint(with_unknown) == fingerprint(d)


def test_fingerprint_changes_with_content_and_with_list_order() -> None:
    d = definition()
    renamed = definition()
    renamed.classes[0].name = "Auto"
    assert fingerprint(renamed) != fingerprint(d)
    reordered = definition()
    first = D.OntologyClass()
    first.CopyFrom(reordered.classes[0])
    del reordered.classes[0]
    reordered.classes.append(first)
    # Ids define identity, but list order is what annotators see: a different definition.
    assert fingerprint(reordered) != fingerprint(d)


def test_fingerprint_does_not_modify_its_input() -> None:
    d = base()
    d.classes[0].classifications[0].number.SetInParent()
    before = d.SerializeToString()
    fingerprint(d)
    assert d.SerializeToString() == before
