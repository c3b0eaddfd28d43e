from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Point2D(_message.Message):
    __slots__ = ("x", "y")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ...) -> None: ...

class BoundingBox(_message.Message):
    __slots__ = ("x", "y", "width", "height")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    width: float
    height: float
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ..., width: _Optional[float] = ..., height: _Optional[float] = ...) -> None: ...

class RotatedBox(_message.Message):
    __slots__ = ("center_x", "center_y", "width", "height", "angle_degrees")
    CENTER_X_FIELD_NUMBER: _ClassVar[int]
    CENTER_Y_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ANGLE_DEGREES_FIELD_NUMBER: _ClassVar[int]
    center_x: float
    center_y: float
    width: float
    height: float
    angle_degrees: float
    def __init__(self, center_x: _Optional[float] = ..., center_y: _Optional[float] = ..., width: _Optional[float] = ..., height: _Optional[float] = ..., angle_degrees: _Optional[float] = ...) -> None: ...

class Polygon(_message.Message):
    __slots__ = ("points",)
    POINTS_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[Point2D]
    def __init__(self, points: _Optional[_Iterable[_Union[Point2D, _Mapping]]] = ...) -> None: ...

class Polyline(_message.Message):
    __slots__ = ("points",)
    POINTS_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[Point2D]
    def __init__(self, points: _Optional[_Iterable[_Union[Point2D, _Mapping]]] = ...) -> None: ...

class Keypoint(_message.Message):
    __slots__ = ("x", "y", "visibility")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    visibility: int
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ..., visibility: _Optional[int] = ...) -> None: ...

class Keypoints(_message.Message):
    __slots__ = ("points",)
    POINTS_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[Keypoint]
    def __init__(self, points: _Optional[_Iterable[_Union[Keypoint, _Mapping]]] = ...) -> None: ...

class Mask(_message.Message):
    __slots__ = ("height", "width", "counts")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    height: int
    width: int
    counts: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, height: _Optional[int] = ..., width: _Optional[int] = ..., counts: _Optional[_Iterable[int]] = ...) -> None: ...

class Point3D(_message.Message):
    __slots__ = ("x", "y", "z")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    Z_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    z: float
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ..., z: _Optional[float] = ...) -> None: ...

class Cuboid(_message.Message):
    __slots__ = ("center", "dimensions", "rotation")
    CENTER_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    ROTATION_FIELD_NUMBER: _ClassVar[int]
    center: Point3D
    dimensions: Point3D
    rotation: Point3D
    def __init__(self, center: _Optional[_Union[Point3D, _Mapping]] = ..., dimensions: _Optional[_Union[Point3D, _Mapping]] = ..., rotation: _Optional[_Union[Point3D, _Mapping]] = ...) -> None: ...

class TextSpan(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: int
    end: int
    def __init__(self, start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class WholeItem(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TrackKeyframe(_message.Message):
    __slots__ = ("frame", "box", "outside")
    FRAME_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    OUTSIDE_FIELD_NUMBER: _ClassVar[int]
    frame: int
    box: BoundingBox
    outside: bool
    def __init__(self, frame: _Optional[int] = ..., box: _Optional[_Union[BoundingBox, _Mapping]] = ..., outside: _Optional[bool] = ...) -> None: ...

class VideoTrack(_message.Message):
    __slots__ = ("keyframes",)
    KEYFRAMES_FIELD_NUMBER: _ClassVar[int]
    keyframes: _containers.RepeatedCompositeFieldContainer[TrackKeyframe]
    def __init__(self, keyframes: _Optional[_Iterable[_Union[TrackKeyframe, _Mapping]]] = ...) -> None: ...

class DicomRegion(_message.Message):
    __slots__ = ("series_uid", "slice_index", "box", "polygon")
    SERIES_UID_FIELD_NUMBER: _ClassVar[int]
    SLICE_INDEX_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    POLYGON_FIELD_NUMBER: _ClassVar[int]
    series_uid: str
    slice_index: int
    box: BoundingBox
    polygon: Polygon
    def __init__(self, series_uid: _Optional[str] = ..., slice_index: _Optional[int] = ..., box: _Optional[_Union[BoundingBox, _Mapping]] = ..., polygon: _Optional[_Union[Polygon, _Mapping]] = ...) -> None: ...

class ChecklistAnswer(_message.Message):
    __slots__ = ("option_ids",)
    OPTION_IDS_FIELD_NUMBER: _ClassVar[int]
    option_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, option_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Answer(_message.Message):
    __slots__ = ("classification_id", "option_id", "checklist", "text", "number")
    CLASSIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    OPTION_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKLIST_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    classification_id: str
    option_id: str
    checklist: ChecklistAnswer
    text: str
    number: float
    def __init__(self, classification_id: _Optional[str] = ..., option_id: _Optional[str] = ..., checklist: _Optional[_Union[ChecklistAnswer, _Mapping]] = ..., text: _Optional[str] = ..., number: _Optional[float] = ...) -> None: ...

class AttributeValue(_message.Message):
    __slots__ = ("string_value", "int_value", "float_value", "bool_value")
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    INT_VALUE_FIELD_NUMBER: _ClassVar[int]
    FLOAT_VALUE_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUE_FIELD_NUMBER: _ClassVar[int]
    string_value: str
    int_value: int
    float_value: float
    bool_value: bool
    def __init__(self, string_value: _Optional[str] = ..., int_value: _Optional[int] = ..., float_value: _Optional[float] = ..., bool_value: _Optional[bool] = ...) -> None: ...

class Label(_message.Message):
    __slots__ = ("label_id", "class_id", "box", "rotated_box", "polygon", "polyline", "point", "keypoints", "mask", "cuboid", "text_span", "whole_item", "video_track", "dicom_region", "answers", "attributes", "confidence")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: AttributeValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[AttributeValue, _Mapping]] = ...) -> None: ...
    LABEL_ID_FIELD_NUMBER: _ClassVar[int]
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    ROTATED_BOX_FIELD_NUMBER: _ClassVar[int]
    POLYGON_FIELD_NUMBER: _ClassVar[int]
    POLYLINE_FIELD_NUMBER: _ClassVar[int]
    POINT_FIELD_NUMBER: _ClassVar[int]
    KEYPOINTS_FIELD_NUMBER: _ClassVar[int]
    MASK_FIELD_NUMBER: _ClassVar[int]
    CUBOID_FIELD_NUMBER: _ClassVar[int]
    TEXT_SPAN_FIELD_NUMBER: _ClassVar[int]
    WHOLE_ITEM_FIELD_NUMBER: _ClassVar[int]
    VIDEO_TRACK_FIELD_NUMBER: _ClassVar[int]
    DICOM_REGION_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    label_id: str
    class_id: str
    box: BoundingBox
    rotated_box: RotatedBox
    polygon: Polygon
    polyline: Polyline
    point: Point2D
    keypoints: Keypoints
    mask: Mask
    cuboid: Cuboid
    text_span: TextSpan
    whole_item: WholeItem
    video_track: VideoTrack
    dicom_region: DicomRegion
    answers: _containers.RepeatedCompositeFieldContainer[Answer]
    attributes: _containers.MessageMap[str, AttributeValue]
    confidence: float
    def __init__(self, label_id: _Optional[str] = ..., class_id: _Optional[str] = ..., box: _Optional[_Union[BoundingBox, _Mapping]] = ..., rotated_box: _Optional[_Union[RotatedBox, _Mapping]] = ..., polygon: _Optional[_Union[Polygon, _Mapping]] = ..., polyline: _Optional[_Union[Polyline, _Mapping]] = ..., point: _Optional[_Union[Point2D, _Mapping]] = ..., keypoints: _Optional[_Union[Keypoints, _Mapping]] = ..., mask: _Optional[_Union[Mask, _Mapping]] = ..., cuboid: _Optional[_Union[Cuboid, _Mapping]] = ..., text_span: _Optional[_Union[TextSpan, _Mapping]] = ..., whole_item: _Optional[_Union[WholeItem, _Mapping]] = ..., video_track: _Optional[_Union[VideoTrack, _Mapping]] = ..., dicom_region: _Optional[_Union[DicomRegion, _Mapping]] = ..., answers: _Optional[_Iterable[_Union[Answer, _Mapping]]] = ..., attributes: _Optional[_Mapping[str, AttributeValue]] = ..., confidence: _Optional[float] = ...) -> None: ...

class Relation(_message.Message):
    __slots__ = ("relationship_id", "from_label_id", "to_label_id")
    RELATIONSHIP_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_LABEL_ID_FIELD_NUMBER: _ClassVar[int]
    TO_LABEL_ID_FIELD_NUMBER: _ClassVar[int]
    relationship_id: str
    from_label_id: str
    to_label_id: str
    def __init__(self, relationship_id: _Optional[str] = ..., from_label_id: _Optional[str] = ..., to_label_id: _Optional[str] = ...) -> None: ...

class ItemContext(_message.Message):
    __slots__ = ("width", "height", "frame_count", "text_length", "slice_count")
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    FRAME_COUNT_FIELD_NUMBER: _ClassVar[int]
    TEXT_LENGTH_FIELD_NUMBER: _ClassVar[int]
    SLICE_COUNT_FIELD_NUMBER: _ClassVar[int]
    width: int
    height: int
    frame_count: int
    text_length: int
    slice_count: int
    def __init__(self, width: _Optional[int] = ..., height: _Optional[int] = ..., frame_count: _Optional[int] = ..., text_length: _Optional[int] = ..., slice_count: _Optional[int] = ...) -> None: ...

class ItemLabels(_message.Message):
    __slots__ = ("item_id", "item", "labels", "relations")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    RELATIONS_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    item: ItemContext
    labels: _containers.RepeatedCompositeFieldContainer[Label]
    relations: _containers.RepeatedCompositeFieldContainer[Relation]
    def __init__(self, item_id: _Optional[str] = ..., item: _Optional[_Union[ItemContext, _Mapping]] = ..., labels: _Optional[_Iterable[_Union[Label, _Mapping]]] = ..., relations: _Optional[_Iterable[_Union[Relation, _Mapping]]] = ...) -> None: ...
