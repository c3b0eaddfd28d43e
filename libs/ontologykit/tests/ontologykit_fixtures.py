"""Shared builders for the ontologykit tests: one ontology covering every geometry kind,
nesting three levels deep, every attribute type and every cardinality, plus valid labels."""

from __future__ import annotations

from labelops.labels.v1 import label_pb2 as L
from labelops.ontology.v1 import definition_pb2 as D

W, H, FRAMES, TEXT_LEN, SLICES = 100, 50, 10, 20, 5


def context() -> L.ItemContext:
    return L.ItemContext(
        width=W, height=H, frame_count=FRAMES, text_length=TEXT_LEN, slice_count=SLICES
    )


def definition() -> D.OntologyDefinition:
    d = D.OntologyDefinition()
    car = d.classes.add(id="car", name="Car", geometry=D.GEOMETRY_KIND_BOUNDING_BOX)
    color = car.classifications.add(
        id="color", name="Color", kind=D.CLASSIFICATION_KIND_RADIO, required=True
    )
    red = color.options.add(id="red", name="Red")
    color.options.add(id="blue", name="Blue")
    color.options.add(id="old-green", name="Old green", deprecated=True)
    shade = red.classifications.add(  # depth 2
        id="shade", name="Shade", kind=D.CLASSIFICATION_KIND_RADIO, required=True
    )
    dark = shade.options.add(id="dark", name="Dark")
    shade.options.add(id="pale", name="Pale")
    dark.classifications.add(  # depth 3
        id="tone",
        name="Tone",
        kind=D.CLASSIFICATION_KIND_NUMBER,
        required=True,
        number=D.NumberConstraints(has_min=True, min=0, has_max=True, max=10, integer_only=True),
    )
    parts = car.classifications.add(
        id="parts",
        name="Parts",
        kind=D.CLASSIFICATION_KIND_CHECKLIST,
        min_selected=1,
        max_selected=2,
    )
    for o in ("wheel", "door", "roof"):
        parts.options.add(id=o, name=o.title())
    car.classifications.add(
        id="plate",
        name="Plate",
        kind=D.CLASSIFICATION_KIND_TEXT,
        text=D.TextConstraints(max_length=8, pattern="[A-Z0-9]+"),
    )
    car.classifications.add(
        id="doors",
        name="Doors",
        kind=D.CLASSIFICATION_KIND_NUMBER,
        number=D.NumberConstraints(has_min=True, min=1, has_max=True, max=5, integer_only=True),
    )
    legacy = car.classifications.add(
        id="legacy", name="Legacy", kind=D.CLASSIFICATION_KIND_RADIO, deprecated=True
    )
    legacy.options.add(id="yes", name="Yes")
    car.attributes.add(
        id="track",
        name="Track",
        type=D.ATTRIBUTE_TYPE_INT,
        required=True,
        number=D.NumberConstraints(has_min=True, min=0),
    )
    car.attributes.add(
        id="make",
        name="Make",
        type=D.ATTRIBUTE_TYPE_STRING,
        text=D.TextConstraints(max_length=10, pattern="[a-z]+"),
    )
    car.attributes.add(
        id="speed",
        name="Speed",
        type=D.ATTRIBUTE_TYPE_FLOAT,
        number=D.NumberConstraints(has_min=True, min=0, has_max=True, max=100),
    )
    car.attributes.add(id="parked", name="Parked", type=D.ATTRIBUTE_TYPE_BOOL)
    car.attributes.add(
        id="body", name="Body", type=D.ATTRIBUTE_TYPE_ENUM, enum_values=["sedan", "suv"]
    )
    car.attributes.add(id="old-attr", name="Old", type=D.ATTRIBUTE_TYPE_STRING, deprecated=True)
    d.classes.add(id="truck", name="Truck", geometry=D.GEOMETRY_KIND_BOUNDING_BOX, deprecated=True)
    d.classes.add(id="ship", name="Ship", geometry=D.GEOMETRY_KIND_ROTATED_BOX)
    d.classes.add(id="person", name="Person", geometry=D.GEOMETRY_KIND_POLYGON)
    d.classes.add(id="lane", name="Lane", geometry=D.GEOMETRY_KIND_POLYLINE)
    d.classes.add(id="light", name="Traffic light", geometry=D.GEOMETRY_KIND_POINT)
    pose = d.classes.add(id="pose", name="Pose", geometry=D.GEOMETRY_KIND_KEYPOINTS)
    pose.skeleton.keypoint_names.extend(["head", "left", "right"])
    pose.skeleton.edges.add(from_index=0, to_index=1)
    pose.skeleton.edges.add(from_index=0, to_index=2)
    d.classes.add(id="road", name="Road", geometry=D.GEOMETRY_KIND_MASK)
    d.classes.add(id="crate", name="Crate", geometry=D.GEOMETRY_KIND_CUBOID)
    d.classes.add(id="entity", name="Entity", geometry=D.GEOMETRY_KIND_TEXT_SPAN)
    scene = d.classes.add(id="scene", name="Scene", geometry=D.GEOMETRY_KIND_CLASSIFICATION)
    weather = scene.classifications.add(
        id="weather", name="Weather", kind=D.CLASSIFICATION_KIND_RADIO, required=True
    )
    weather.options.add(id="sunny", name="Sunny")
    weather.options.add(id="rainy", name="Rainy")
    d.classes.add(id="object-track", name="Object track", geometry=D.GEOMETRY_KIND_VIDEO_TRACK)
    d.classes.add(id="lesion", name="Lesion", geometry=D.GEOMETRY_KIND_DICOM_REGION)
    for rid, frm, to, card, dep in (
        ("drives", "person", "car", D.CARDINALITY_ONE_TO_ONE, False),
        ("owns", "person", "car", D.CARDINALITY_ONE_TO_MANY, False),
        ("parked-at", "car", "person", D.CARDINALITY_MANY_TO_ONE, False),
        ("near", "car", "person", D.CARDINALITY_MANY_TO_MANY, False),
        ("old-rel", "person", "car", D.CARDINALITY_MANY_TO_MANY, True),
    ):
        d.relationships.add(
            id=rid, name=rid, from_class_id=frm, to_class_id=to, cardinality=card, deprecated=dep
        )
    return d


def valid_label(class_id: str, label_id: str = "") -> L.Label:
    """A valid label of ``class_id`` inside ``context()``."""
    lab = L.Label(class_id=class_id, label_id=label_id)
    if class_id in ("car", "truck"):
        lab.box.CopyFrom(L.BoundingBox(x=10, y=10, width=20, height=20))
    if class_id == "car":
        lab.answers.add(classification_id="color", option_id="blue")
        lab.attributes["track"].int_value = 7
    if class_id == "ship":
        lab.rotated_box.CopyFrom(
            L.RotatedBox(center_x=50, center_y=25, width=30, height=10, angle_degrees=45)
        )
    elif class_id == "person":
        for x, y in ((10, 10), (40, 10), (40, 40), (10, 40)):
            lab.polygon.points.add(x=x, y=y)
    elif class_id == "lane":
        lab.polyline.points.add(x=0, y=0)
        lab.polyline.points.add(x=100, y=50)
    elif class_id == "light":
        lab.point.CopyFrom(L.Point2D(x=99, y=49))
    elif class_id == "pose":
        lab.keypoints.points.add(x=10, y=10, visibility=2)
        lab.keypoints.points.add(x=20, y=10, visibility=1)
        lab.keypoints.points.add(x=0, y=0, visibility=0)
    elif class_id == "road":
        lab.mask.CopyFrom(L.Mask(height=H, width=W, counts=[1000, 3000, 1000]))
    elif class_id == "crate":
        lab.cuboid.center.CopyFrom(L.Point3D(x=1, y=2, z=3))
        lab.cuboid.dimensions.CopyFrom(L.Point3D(x=1, y=1, z=2))
    elif class_id == "entity":
        lab.text_span.CopyFrom(L.TextSpan(start=0, end=TEXT_LEN))
    elif class_id == "scene":
        lab.whole_item.SetInParent()
        lab.answers.add(classification_id="weather", option_id="sunny")
    elif class_id == "object-track":
        lab.video_track.keyframes.add(frame=0, box=L.BoundingBox(x=0, y=0, width=5, height=5))
        lab.video_track.keyframes.add(frame=3, outside=True)
        lab.video_track.keyframes.add(frame=9, box=L.BoundingBox(x=90, y=40, width=10, height=10))
    elif class_id == "lesion":
        lab.dicom_region.series_uid = "1.2.3"
        lab.dicom_region.slice_index = SLICES - 1
        lab.dicom_region.box.CopyFrom(L.BoundingBox(x=1, y=1, width=2, height=2))
    return lab


ALL_CLASSES = (
    "car",
    "ship",
    "person",
    "lane",
    "light",
    "pose",
    "road",
    "crate",
    "entity",
    "scene",
    "object-track",
    "lesion",
)


def item(*labels: L.Label, relations: tuple[L.Relation, ...] = ()) -> L.ItemLabels:
    return L.ItemLabels(item_id="i1", item=context(), labels=labels, relations=relations)
