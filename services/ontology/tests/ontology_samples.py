"""Sample ontologies, edits and labels shared by the ontology service's unit and integration
tests (fixtures live in conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from labelops.labels.v1 import label_pb2
from labelops.ontology.v1 import definition_pb2 as d
from labelops.ontology.v1 import ontology_pb2 as o

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def color_classification() -> d.Classification:
    return d.Classification(
        id="color",
        name="color",
        kind=d.CLASSIFICATION_KIND_RADIO,
        required=True,
        options=[
            d.Option(id="red", name="red"),
            d.Option(
                id="blue",
                name="blue",
                classifications=[
                    d.Classification(
                        id="shade",
                        name="shade",
                        kind=d.CLASSIFICATION_KIND_RADIO,
                        options=[
                            d.Option(id="light", name="light"),
                            d.Option(id="dark", name="dark"),
                        ],
                    )
                ],
            ),
        ],
    )


def vehicles() -> d.OntologyDefinition:
    """car (box, required radio color → blue → shade, bool attribute), person (box),
    lane (polyline), relationship person → car."""
    return d.OntologyDefinition(
        classes=[
            d.OntologyClass(
                id="car",
                name="car",
                geometry=d.GEOMETRY_KIND_BOUNDING_BOX,
                classifications=[color_classification()],
                attributes=[
                    d.Attribute(id="occluded", name="occluded", type=d.ATTRIBUTE_TYPE_BOOL)
                ],
            ),
            d.OntologyClass(id="person", name="person", geometry=d.GEOMETRY_KIND_BOUNDING_BOX),
            d.OntologyClass(id="lane", name="lane", geometry=d.GEOMETRY_KIND_POLYLINE),
        ],
        relationships=[
            d.Relationship(
                id="drives",
                name="drives",
                from_class_id="person",
                to_class_id="car",
                cardinality=d.CARDINALITY_ONE_TO_ONE,
            )
        ],
    )


# --- edits ------------------------------------------------------------------------------------


def add_class(class_id: str, geometry: int = d.GEOMETRY_KIND_BOUNDING_BOX) -> o.DraftEdit:
    return o.DraftEdit(
        add=o.AddItem(ontology_class=d.OntologyClass(id=class_id, name=class_id, geometry=geometry))
    )


def rename(item_id: str, new_name: str) -> o.DraftEdit:
    return o.DraftEdit(rename=o.RenameItem(item_id=item_id, new_name=new_name))


def remove(item_id: str) -> o.DraftEdit:
    return o.DraftEdit(remove=o.RemoveItem(item_id=item_id))


def move(item_id: str, new_parent_id: str) -> o.DraftEdit:
    return o.DraftEdit(move=o.MoveItem(item_id=item_id, new_parent_id=new_parent_id))


# --- labels -----------------------------------------------------------------------------------


def car_label(label_id: str = "l1", color: str = "red", **box: float) -> label_pb2.Label:
    b = {"x": 10.0, "y": 10.0, "width": 50.0, "height": 30.0} | box
    return label_pb2.Label(
        label_id=label_id,
        class_id="car",
        box=label_pb2.BoundingBox(**b),
        answers=[label_pb2.Answer(classification_id="color", option_id=color)],
    )


def item(*labels: label_pb2.Label, width: int = 640, height: int = 480) -> label_pb2.ItemLabels:
    return label_pb2.ItemLabels(
        item_id="img-1",
        item=label_pb2.ItemContext(width=width, height=height),
        labels=list(labels),
    )
