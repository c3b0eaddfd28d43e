"""Property tests: validation never raises on random or garbage input, it only reports."""

from __future__ import annotations

from typing import Any

from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from labelops.labels.v1 import label_pb2 as L
from labelops.ontology.v1 import definition_pb2 as D
from labelops_ontologykit import (
    compile_ontology,
    diff_definitions,
    fingerprint,
    reasons,
    validate_definition,
)
from labelops_ontologykit.issues import LabelIssue
from ontologykit_fixtures import ALL_CLASSES, definition, valid_label

ONT = compile_ontology(definition())

# Ids the ontology knows mixed with unknown ones, so every branch is reached.
KNOWN_IDS = [
    *ALL_CLASSES,
    "truck",
    "color",
    "red",
    "blue",
    "old-green",
    "shade",
    "dark",
    "pale",
    "tone",
    "parts",
    "wheel",
    "door",
    "roof",
    "plate",
    "doors",
    "legacy",
    "yes",
    "weather",
    "sunny",
    "track",
    "make",
    "speed",
    "parked",
    "body",
    "old-attr",
    "drives",
    "owns",
    "parked-at",
    "near",
    "old-rel",
    "",
]
ids = st.one_of(st.sampled_from(KNOWN_IDS), st.text(max_size=6))
floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
int32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
uint32 = st.integers(min_value=0, max_value=2**32 - 1)


def box() -> st.SearchStrategy[L.BoundingBox]:
    return st.builds(L.BoundingBox, x=floats, y=floats, width=floats, height=floats)


def points(n: int = 14) -> st.SearchStrategy[list[L.Point2D]]:
    return st.lists(st.builds(L.Point2D, x=floats, y=floats), max_size=n)


GEOMETRIES: dict[str, st.SearchStrategy[Any]] = {
    "box": box(),
    "rotated_box": st.builds(
        L.RotatedBox,
        center_x=floats,
        center_y=floats,
        width=floats,
        height=floats,
        angle_degrees=floats,
    ),
    "polygon": st.builds(L.Polygon, points=points()),
    "polyline": st.builds(L.Polyline, points=points()),
    "point": st.builds(L.Point2D, x=floats, y=floats),
    "keypoints": st.builds(
        L.Keypoints,
        points=st.lists(st.builds(L.Keypoint, x=floats, y=floats, visibility=int32), max_size=5),
    ),
    "mask": st.builds(L.Mask, height=int32, width=int32, counts=st.lists(uint32, max_size=6)),
    "cuboid": st.builds(
        L.Cuboid,
        center=st.builds(L.Point3D, x=floats, y=floats, z=floats),
        dimensions=st.builds(L.Point3D, x=floats, y=floats, z=floats),
        rotation=st.builds(L.Point3D, x=floats, y=floats, z=floats),
    ),
    "text_span": st.builds(L.TextSpan, start=int64, end=int64),
    "whole_item": st.just(L.WholeItem()),
    "video_track": st.builds(
        L.VideoTrack,
        keyframes=st.lists(
            st.builds(L.TrackKeyframe, frame=int64, box=box(), outside=st.booleans()), max_size=4
        ),
    ),
    "dicom_region": st.one_of(
        st.builds(L.DicomRegion, slice_index=int64, box=box()),
        st.builds(L.DicomRegion, slice_index=int64, polygon=st.builds(L.Polygon, points=points())),
        st.builds(L.DicomRegion, slice_index=int64),
    ),
}

answers = st.one_of(
    st.builds(L.Answer, classification_id=ids, option_id=ids),
    st.builds(
        L.Answer,
        classification_id=ids,
        checklist=st.builds(L.ChecklistAnswer, option_ids=st.lists(ids, max_size=4)),
    ),
    st.builds(L.Answer, classification_id=ids, text=st.text(max_size=12)),
    st.builds(L.Answer, classification_id=ids, number=floats),
    st.builds(L.Answer, classification_id=ids),
)
attribute_values = st.one_of(
    st.builds(L.AttributeValue, string_value=st.text(max_size=12)),
    st.builds(L.AttributeValue, int_value=int64),
    st.builds(L.AttributeValue, float_value=floats),
    st.builds(L.AttributeValue, bool_value=st.booleans()),
    st.just(L.AttributeValue()),
)


@st.composite
def labels(draw: st.DrawFn) -> L.Label:
    if draw(st.booleans()):
        lab = valid_label(draw(st.sampled_from(ALL_CLASSES)), draw(ids))
    else:
        lab = L.Label(label_id=draw(ids), class_id=draw(ids))
    geometry = draw(st.sampled_from([None, *GEOMETRIES]))
    if geometry is not None:
        getattr(lab, geometry).CopyFrom(draw(GEOMETRIES[geometry]))
    lab.answers.extend(draw(st.lists(answers, max_size=4)))
    for k, v in draw(st.dictionaries(ids, attribute_values, max_size=3)).items():
        lab.attributes[k].CopyFrom(v)
    lab.confidence = draw(floats)
    return lab


@st.composite
def items(draw: st.DrawFn) -> L.ItemLabels:
    it = L.ItemLabels(
        item=L.ItemContext(
            width=draw(int64),
            height=draw(int64),
            frame_count=draw(int64),
            text_length=draw(int64),
            slice_count=draw(int64),
        )
        if draw(st.booleans())
        else None,
        labels=draw(st.lists(labels(), max_size=5)),
    )
    it.relations.extend(
        draw(
            st.lists(
                st.builds(L.Relation, relationship_id=ids, from_label_id=ids, to_label_id=ids),
                max_size=4,
            )
        )
    )
    return it


def check(issues: list[LabelIssue], batch: list[L.ItemLabels]) -> None:
    for i in issues:
        assert i.reason in reasons.ALL_REASONS
        assert 0 <= i.item_index < len(batch)
        assert -1 <= i.label_index < len(batch[i.item_index].labels)
        assert i.field and i.description
        i.to_proto()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(items(), min_size=1, max_size=3))
def test_validate_never_raises_on_random_labels(batch: list[L.ItemLabels]) -> None:
    issues = ONT.validate_items(batch)
    check(issues, batch)
    # Deterministic: the same input gives the same report.
    assert ONT.validate_items(batch) == issues


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_validate_never_raises_on_garbage_bytes(data: bytes) -> None:
    try:
        item = L.ItemLabels.FromString(data)
    except DecodeError:
        return
    check(ONT.validate_items([item]), [item])


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(ALL_CLASSES), st.data())
def test_valid_labels_stay_valid_whatever_the_label_id(class_id: str, data: st.DataObject) -> None:
    lab = valid_label(class_id, data.draw(st.text(max_size=8)))
    lab.confidence = data.draw(st.floats(min_value=0, max_value=1))
    assert ONT.validate_items([L.ItemLabels(labels=[lab])]) == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_definition_tools_never_raise_on_garbage_definitions(data: bytes) -> None:
    try:
        d = D.OntologyDefinition.FromString(data)
    except DecodeError:
        return
    problems = validate_definition(d)
    assert all(p.field and p.description for p in problems)
    diff_definitions(definition(), d)
    diff_definitions(d, definition())
    fingerprint(d)
    if not problems:
        compile_ontology(d).validate_items([valid_item()])


def valid_item() -> L.ItemLabels:
    return L.ItemLabels(labels=[valid_label(c) for c in ALL_CLASSES])
