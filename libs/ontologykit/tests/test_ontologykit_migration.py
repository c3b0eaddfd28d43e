"""Migrations: checking rules against two versions, compiling, applying and chaining plans."""

from __future__ import annotations

import pytest
from labelops.labels.v1 import label_pb2 as L
from labelops.ontology.v1 import definition_pb2 as D
from labelops.ontology.v1 import ontology_pb2 as O
from labelops_core.errors import InvalidArgument
from labelops_ontologykit import (
    area,
    chain_migrations,
    check_migration,
    compile_migration,
    compile_ontology,
)

BOX = D.GEOMETRY_KIND_BOUNDING_BOX
POLY = D.GEOMETRY_KIND_POLYGON
POINT = D.GEOMETRY_KIND_POINT


def radio(cid: str, *options: str, deprecated: tuple[str, ...] = ()) -> D.Classification:
    return D.Classification(
        id=cid,
        name=cid,
        kind=D.CLASSIFICATION_KIND_RADIO,
        options=[D.Option(id=o, name=o, deprecated=o in deprecated) for o in options],
    )


def v1() -> D.OntologyDefinition:
    d = D.OntologyDefinition()
    d.classes.add(
        id="car",
        name="Car",
        geometry=BOX,
        classifications=[radio("color", "red", "blue"), radio("size", "small", "large")],
    )
    d.classes.add(id="truck", name="Truck", geometry=BOX)
    d.classes.add(id="van", name="Van", geometry=BOX)
    d.classes.add(id="person", name="Person", geometry=POLY)
    d.classes.add(id="sign", name="Sign", geometry=POINT)
    d.classes.add(id="tree", name="Tree", geometry=POLY)
    return d


def v2() -> D.OntologyDefinition:
    """car → vehicle (with colors red/crimson), truck+van merged into lorry, sign dropped,
    person retyped to a box class, tree unchanged."""
    d = D.OntologyDefinition()
    d.classes.add(
        id="vehicle",
        name="Vehicle",
        geometry=BOX,
        classifications=[
            radio("color", "red", "crimson", "blue", deprecated=("blue",)),
            radio("size", "small", "large"),
        ],
    )
    d.classes.add(id="lorry", name="Lorry", geometry=BOX)
    d.classes.add(id="person", name="Person", geometry=BOX)
    d.classes.add(id="pedestrian", name="Pedestrian", geometry=POLY)
    d.classes.add(id="tree", name="Tree", geometry=POLY)
    d.classes.add(id="old", name="Old", geometry=BOX, deprecated=True)
    d.classes.add(id="big-car", name="Big car", geometry=BOX)
    d.classes.add(id="small-car", name="Small car", geometry=BOX)
    return d


def map_class(a: str, b: str) -> O.MigrationRule:
    return O.MigrationRule(map_class=O.MapClassRule(from_class_id=a, to_class_id=b))


def merge(sources: list[str], to: str) -> O.MigrationRule:
    return O.MigrationRule(merge_classes=O.MergeClassesRule(from_class_ids=sources, to_class_id=to))


def drop(cid: str) -> O.MigrationRule:
    return O.MigrationRule(drop_class=O.DropClassRule(class_id=cid))


def map_option(a: str, b: str) -> O.MigrationRule:
    return O.MigrationRule(map_option=O.MapOptionRule(from_option_id=a, to_option_id=b))


def split(cid: str, cases: list[tuple[str | float, str]], default: str = "") -> O.MigrationRule:
    out = O.SplitClassRule(from_class_id=cid, default_class_id=default)
    for cond, to in cases:
        when = (
            O.SplitCondition(option_id=cond)
            if isinstance(cond, str)
            else O.SplitCondition(min_area=cond)
        )
        out.cases.add(when=when, to_class_id=to)
    return O.MigrationRule(split_class=out)


GOOD_RULES = [
    map_class("car", "vehicle"),
    merge(["truck", "van"], "lorry"),
    drop("sign"),
    split("person", [], default=""),  # retyped: labels cannot follow, so they are dropped
    map_option("blue", "red"),
]


def fields(
    rules: list[O.MigrationRule],
    old: D.OntologyDefinition | None = None,
    new: D.OntologyDefinition | None = None,
) -> list[str]:
    return [v.field for v in check_migration(old or v1(), new or v2(), rules)]


def test_a_complete_migration_passes() -> None:
    ok = [*GOOD_RULES[:4], map_option("red", "crimson")]
    assert check_migration(v1(), v2(), ok) == []


def test_removed_and_retyped_classes_must_be_covered() -> None:
    got = check_migration(v1(), v2(), [map_class("car", "vehicle"), drop("sign")])
    assert [v.field for v in got] == ["rules", "rules", "rules"]
    text = " ".join(v.description for v in got)
    assert "'truck' (Truck) is removed" in text
    assert "'van' (Van) is removed" in text
    assert "'person' (Person) is retyped" in text


def test_sources_must_exist_in_the_old_version() -> None:
    assert fields([*GOOD_RULES, map_class("bus", "vehicle")]) == [
        "rules[5].map_class.from_class_id"
    ]
    assert fields([*GOOD_RULES, merge(["tree", "color"], "pedestrian")]) == [
        "rules[5].merge_classes.from_class_ids[1]"
    ]


def test_targets_must_exist_and_not_be_deprecated() -> None:
    rules = [map_class("car", "bus"), *GOOD_RULES[1:]]
    assert fields(rules) == ["rules[0].map_class.to_class_id"]
    rules = [map_class("car", "old"), *GOOD_RULES[1:]]
    got = check_migration(v1(), v2(), rules)
    assert [v.field for v in got] == ["rules[0].map_class.to_class_id"]
    assert "deprecated" in got[0].description


def test_targets_must_keep_the_geometry_kind() -> None:
    rules = [map_class("car", "pedestrian"), *GOOD_RULES[1:]]
    got = check_migration(v1(), v2(), rules)
    assert [v.field for v in got] == ["rules[0].map_class.to_class_id"]
    assert "GEOMETRY_KIND_BOUNDING_BOX" in got[0].description


def test_a_class_covered_twice() -> None:
    assert fields([*GOOD_RULES, drop("car")]) == ["rules[5].drop_class.class_id"]
    assert fields([*GOOD_RULES, merge(["tree", "tree"], "tree")]) == [
        "rules[5].merge_classes.from_class_ids[1]"
    ]


def test_empty_rules() -> None:
    assert fields([*GOOD_RULES, O.MigrationRule()]) == ["rules[5]"]
    assert fields([*GOOD_RULES, merge([], "tree")]) == ["rules[5].merge_classes.from_class_ids"]


def test_map_option_rules() -> None:
    assert fields([*GOOD_RULES, map_option("green", "red")]) == [
        "rules[5].map_option.from_option_id"
    ]
    assert fields([*GOOD_RULES[:4], map_option("red", "pink")]) == [
        "rules[4].map_option.to_option_id"
    ]
    # blue is deprecated in v2.
    assert fields([*GOOD_RULES[:4], map_option("red", "blue")]) == [
        "rules[4].map_option.to_option_id"
    ]
    # An option of another classification: answers keep their classification id.
    assert fields([*GOOD_RULES[:4], map_option("red", "large")]) == [
        "rules[4].map_option.to_option_id"
    ]
    assert fields([*GOOD_RULES, map_option("blue", "crimson")]) == [
        "rules[5].map_option.from_option_id"
    ]


def test_split_conditions_are_checked() -> None:
    base_rules = [r for r in GOOD_RULES if r.WhichOneof("rule") != "split_class"]
    # "red" is an option of class car, not person.
    assert fields([*base_rules, split("person", [("red", "pedestrian")])]) == [
        "rules[4].split_class.cases[0].when.option_id",
    ]
    # person was a polygon class; "lorry" takes boxes.
    assert fields([*base_rules, split("person", [(5.0, "lorry")], default="pedestrian")]) == [
        "rules[4].split_class.cases[0].to_class_id",
    ]
    # min_area on a class without area; a case without a condition.
    sign_split = O.MigrationRule(
        split_class=O.SplitClassRule(
            from_class_id="sign",
            cases=[
                O.SplitCase(when=O.SplitCondition(min_area=5), to_class_id="lorry"),
                O.SplitCase(to_class_id="lorry"),
            ],
        )
    )
    rules = [r for r in GOOD_RULES if r.WhichOneof("rule") != "drop_class"] + [sign_split]
    got = fields(rules)
    assert "rules[4].split_class.cases[1].when" in got
    assert "rules[4].split_class.cases[0].when.min_area" in got


# --- plans ----------------------------------------------------------------------------------


def box_label(cid: str, w: float = 10, h: float = 10, *answers: tuple[str, str]) -> L.Label:
    lab = L.Label(
        label_id="l1", class_id=cid, box=L.BoundingBox(x=1, y=2, width=w, height=h), confidence=0.5
    )
    for c, o in answers:
        lab.answers.add(classification_id=c, option_id=o)
    lab.attributes["k"].int_value = 3
    return lab


def test_map_copies_and_keeps_everything_else() -> None:
    plan = compile_migration("1.0.0", "2.0.0", [map_class("car", "vehicle")])
    src = box_label("car", 10, 10, ("color", "red"))
    out = plan.apply(src)
    assert out is not None and out is not src
    assert src.class_id == "car"  # the input is untouched
    expected = L.Label()
    expected.CopyFrom(src)
    expected.class_id = "vehicle"
    assert out == expected


def test_classes_without_a_rule_pass_unchanged_as_a_copy() -> None:
    plan = compile_migration("1.0.0", "2.0.0", [map_class("car", "vehicle")])
    src = box_label("tree")
    out = plan.apply(src)
    assert out == src and out is not src


def test_merge_and_drop() -> None:
    plan = compile_migration("1.0.0", "2.0.0", [merge(["truck", "van"], "lorry"), drop("sign")])
    assert plan.apply(box_label("truck")).class_id == "lorry"  # type: ignore[union-attr]
    assert plan.apply(box_label("van")).class_id == "lorry"  # type: ignore[union-attr]
    assert plan.apply(L.Label(class_id="sign", point=L.Point2D(x=1, y=1))) is None


def test_split_by_option_then_area_then_default() -> None:
    plan = compile_migration(
        "1.0.0",
        "2.0.0",
        [
            split(
                "car",
                [("large", "big-car"), (500.0, "big-car"), ("small", "small-car")],
                default="vehicle",
            )
        ],
    )
    assert plan.apply(box_label("car", 1, 1, ("size", "large"))).class_id == "big-car"  # type: ignore[union-attr]
    assert plan.apply(box_label("car", 50, 10, ("size", "small"))).class_id == "big-car"  # type: ignore[union-attr]
    assert plan.apply(box_label("car", 10, 10, ("size", "small"))).class_id == "small-car"  # type: ignore[union-attr]
    assert plan.apply(box_label("car", 10, 10)).class_id == "vehicle"  # type: ignore[union-attr]
    # A checklist selection counts as selected too.
    lab = box_label("car", 1, 1)
    lab.answers.add(classification_id="size", checklist=L.ChecklistAnswer(option_ids=["small"]))
    assert plan.apply(lab).class_id == "small-car"  # type: ignore[union-attr]


def test_split_with_an_empty_default_drops_the_rest() -> None:
    plan = compile_migration("1.0.0", "2.0.0", [split("car", [("large", "big-car")])])
    assert plan.apply(box_label("car", 1, 1, ("size", "large"))) is not None
    assert plan.apply(box_label("car", 1, 1, ("size", "small"))) is None


def test_split_by_area_of_each_geometry() -> None:
    plan = compile_migration("1.0.0", "2.0.0", [split("x", [(100.0, "big")], default="small")])
    rotated = L.Label(class_id="x", rotated_box=L.RotatedBox(width=10, height=10, angle_degrees=30))
    square = L.Label(class_id="x")
    for px, py in ((0, 0), (10, 0), (10, 10), (0, 10)):
        square.polygon.points.add(x=px, y=py)
    triangle = L.Label(class_id="x")
    for px, py in ((0, 0), (10, 0), (0, 10)):
        triangle.polygon.points.add(x=px, y=py)
    # 10x10 mask with 100 ones vs 40 ones (runs start with zeros).
    full = L.Label(class_id="x", mask=L.Mask(height=10, width=10, counts=[0, 100]))
    partial = L.Label(class_id="x", mask=L.Mask(height=10, width=10, counts=[10, 20, 40, 20, 10]))
    point = L.Label(class_id="x", point=L.Point2D(x=1, y=1))
    assert area(rotated) == 100 and area(square) == 100 and area(triangle) == 50
    assert area(full) == 100 and area(partial) == 40 and area(point) is None
    got = {
        name: plan.apply(lab).class_id
        for name, lab in [
            ("rotated", rotated),
            ("square", square),
            ("triangle", triangle),
            ("full", full),
            ("partial", partial),
            ("point", point),
        ]
    }  # type: ignore[union-attr]
    assert got == {
        "rotated": "big",
        "square": "big",
        "triangle": "small",
        "full": "big",
        "partial": "small",
        "point": "small",
    }


def test_map_option_rewrites_radio_and_checklist_answers() -> None:
    plan = compile_migration(
        "1.0.0", "2.0.0", [map_option("blue", "red"), map_option("navy", "red")]
    )
    lab = box_label("car", 1, 1, ("color", "blue"), ("size", "small"))
    lab.answers.add(
        classification_id="tags", checklist=L.ChecklistAnswer(option_ids=["navy", "blue", "x"])
    )
    out = plan.apply(lab)
    assert out is not None
    assert [a.option_id for a in out.answers[:2]] == ["red", "small"]
    # Two options mapped onto one are not selected twice.
    assert list(out.answers[2].checklist.option_ids) == ["red", "x"]
    assert lab.answers[0].option_id == "blue"


def test_migrated_labels_validate_against_the_new_version() -> None:
    rules = [*GOOD_RULES[:4], map_option("blue", "crimson")]
    assert check_migration(v1(), v2(), rules) == []
    plan = compile_migration("1.0.0", "2.0.0", rules)
    new = compile_ontology(v2())
    labels = [box_label("car", 5, 5, ("color", "blue")), box_label("truck"), box_label("van")]
    migrated = [m for m in map(plan.apply, labels) if m is not None]
    for i, m in enumerate(migrated):
        del m.attributes["k"]
        m.label_id = f"l{i}"
    assert new.validate_item(L.ItemLabels(labels=migrated)) == []


def test_chain_composes_steps_in_order() -> None:
    a = compile_migration(
        "1.0.0", "2.0.0", [map_class("car", "vehicle"), map_option("blue", "crimson"), drop("sign")]
    )
    b = compile_migration(
        "2.0.0",
        "3.0.0",
        [split("vehicle", [(100.0, "big-car"), ("crimson", "small-car")], default="")],
    )
    c = compile_migration("3.0.0", "3.1.0", [map_class("small-car", "compact")])
    chained = chain_migrations([a, b, c])
    assert (chained.from_version, chained.to_version) == ("1.0.0", "3.1.0")
    assert chained.apply(box_label("car", 20, 20)).class_id == "big-car"  # type: ignore[union-attr]
    # The split of step 2 sees the option id written by step 1.
    assert chained.apply(box_label("car", 1, 1, ("color", "blue"))).class_id == "compact"  # type: ignore[union-attr]
    assert chained.apply(box_label("car", 1, 1, ("color", "red"))) is None
    assert chained.apply(L.Label(class_id="sign")) is None
    assert chained.apply(box_label("tree")).class_id == "tree"  # type: ignore[union-attr]
    # Same result as applying the plans one after the other.
    lab = box_label("car", 1, 1, ("color", "blue"))
    step = c.apply(b.apply(a.apply(lab)))  # type: ignore[arg-type]
    assert chained.apply(lab) == step


def test_chain_needs_contiguous_plans() -> None:
    a = compile_migration("1.0.0", "2.0.0", [])
    b = compile_migration("3.0.0", "4.0.0", [])
    with pytest.raises(ValueError, match="not contiguous"):
        chain_migrations([a, b])
    with pytest.raises(ValueError):
        chain_migrations([])
    assert chain_migrations([a]).apply(box_label("car")) == box_label("car")


def test_compile_rejects_structurally_broken_rules() -> None:
    with pytest.raises(InvalidArgument) as e:
        compile_migration(
            "1.0.0",
            "2.0.0",
            [map_class("car", "x"), drop("car"), O.MigrationRule(), map_option("a", "")],
        )
    assert e.value.reason == "INVALID_MIGRATION"
    assert [v.field for v in e.value.violations] == [
        "rules[1].drop_class.class_id",
        "rules[2]",
        "rules[3].map_option.to_option_id",
    ]
