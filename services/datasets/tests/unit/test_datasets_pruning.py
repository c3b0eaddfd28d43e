"""``TargetVersion.fit``: a migrated label keeps what the target ontology version has (answers
moved where their options are, closed sub-questions dropped at any depth, attributes of the
class and type), and each fitted label validates against the target."""

from __future__ import annotations

from labelops.labels.v1 import label_pb2 as L
from labelops.ontology.v1 import definition_pb2 as d
from labelops_datasets.domain.pruning import TargetVersion
from labelops_ontologykit import compile_ontology

RADIO, CHECKLIST, TEXT = (
    d.CLASSIFICATION_KIND_RADIO,
    d.CLASSIFICATION_KIND_CHECKLIST,
    d.CLASSIFICATION_KIND_TEXT,
)


def c(cid: str, kind: int, *options: d.Option) -> d.Classification:
    return d.Classification(id=cid, name=cid, kind=kind, options=list(options))


def o(oid: str, *nested: d.Classification) -> d.Option:
    return d.Option(id=oid, name=oid, classifications=list(nested))


TARGET = d.OntologyDefinition(
    classes=[
        d.OntologyClass(
            id="car",
            name="car",
            geometry=d.GEOMETRY_KIND_BOUNDING_BOX,
            classifications=[
                c("body", RADIO, o("sedan", c("trunk", RADIO, o("big", c("note", TEXT))))),
                c("features", CHECKLIST, o("sunroof")),
                c("extras", CHECKLIST, o("towbar"), o("rack")),
            ],
            attributes=[
                d.Attribute(id="plate", name="plate", type=d.ATTRIBUTE_TYPE_STRING),
                d.Attribute(
                    id="fuel", name="fuel", type=d.ATTRIBUTE_TYPE_ENUM, enum_values=["gas"]
                ),
            ],
        )
    ]
)


def car() -> L.Label:
    return L.Label(label_id="c", class_id="car", box=L.BoundingBox(x=1, y=1, width=2, height=2))


def valid(label: L.Label) -> bool:
    item = L.ItemLabels(item_id="i", labels=[label])
    return not compile_ontology(TARGET).validate_item(item)


def test_a_dropped_answer_closes_its_sub_questions_at_every_depth() -> None:
    lb = car()
    lb.answers.add(classification_id="body", option_id="wagon")  # not an option in the target
    lb.answers.add(classification_id="trunk", option_id="big")  # under sedan: now closed
    lb.answers.add(classification_id="note", text="x")  # under big: closed with it
    lb.answers.add(classification_id="gone", text="y")  # no such classification
    fitted = TargetVersion(TARGET).fit(lb)
    assert list(fitted.answers) == [] and valid(fitted)


def test_kept_nesting_and_checklist_options_go_where_they_are() -> None:
    lb = car()
    lb.answers.add(classification_id="body", option_id="sedan")
    lb.answers.add(classification_id="trunk", option_id="big")
    lb.answers.add(classification_id="note", text="dented")
    # towbar lives in "extras" in the target; "winch" nowhere.
    lb.answers.add(classification_id="features").checklist.option_ids.extend(
        ["sunroof", "towbar", "winch"]
    )
    lb.answers.add(classification_id="body", option_id="sedan")  # a duplicate: the first stays
    fitted = TargetVersion(TARGET).fit(lb)
    assert [(a.classification_id, a.WhichOneof("value")) for a in fitted.answers] == [
        ("body", "option_id"),
        ("trunk", "option_id"),
        ("note", "text"),
        ("features", "checklist"),
        ("extras", "checklist"),
    ]
    assert list(fitted.answers[3].checklist.option_ids) == ["sunroof"]
    assert list(fitted.answers[4].checklist.option_ids) == ["towbar"]
    assert fitted.answers[2].text == "dented" and valid(fitted)


def test_a_radio_answer_follows_its_option_and_wrong_kinds_are_dropped() -> None:
    lb = car()
    # A map_option rule sent the colour's option into "body" (another classification).
    lb.answers.add(classification_id="colour", option_id="sedan")
    lb.answers.add(classification_id="features", text="not a checklist answer")
    fitted = TargetVersion(TARGET).fit(lb)
    assert [(a.classification_id, a.option_id) for a in fitted.answers] == [("body", "sedan")]
    assert valid(fitted)


def test_attributes_keep_their_class_type_and_enum() -> None:
    lb = car()
    lb.attributes["plate"].string_value = "AB"
    lb.attributes["fuel"].string_value = "diesel"  # not one of the enum's values
    lb.attributes["vintage"].bool_value = True  # not an attribute of the class
    lb.attributes["plate2"].int_value = 3
    fitted = TargetVersion(TARGET).fit(lb)
    assert dict(fitted.attributes) == {"plate": L.AttributeValue(string_value="AB")}
    lb2 = car()
    lb2.attributes["fuel"].string_value = "gas"
    lb2.attributes["plate"].int_value = 7  # wrong type
    assert dict(TargetVersion(TARGET).fit(lb2).attributes) == {
        "fuel": L.AttributeValue(string_value="gas")
    }


def test_a_class_the_target_lacks_is_left_to_the_class_rules() -> None:
    lb = L.Label(label_id="x", class_id="truck")
    lb.answers.add(classification_id="any", text="kept")
    assert TargetVersion(TARGET).fit(L.Label.FromString(lb.SerializeToString())) == lb
