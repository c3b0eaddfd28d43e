from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GeometryKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GEOMETRY_KIND_UNSPECIFIED: _ClassVar[GeometryKind]
    GEOMETRY_KIND_BOUNDING_BOX: _ClassVar[GeometryKind]
    GEOMETRY_KIND_ROTATED_BOX: _ClassVar[GeometryKind]
    GEOMETRY_KIND_POLYGON: _ClassVar[GeometryKind]
    GEOMETRY_KIND_POLYLINE: _ClassVar[GeometryKind]
    GEOMETRY_KIND_POINT: _ClassVar[GeometryKind]
    GEOMETRY_KIND_KEYPOINTS: _ClassVar[GeometryKind]
    GEOMETRY_KIND_MASK: _ClassVar[GeometryKind]
    GEOMETRY_KIND_CUBOID: _ClassVar[GeometryKind]
    GEOMETRY_KIND_TEXT_SPAN: _ClassVar[GeometryKind]
    GEOMETRY_KIND_CLASSIFICATION: _ClassVar[GeometryKind]
    GEOMETRY_KIND_VIDEO_TRACK: _ClassVar[GeometryKind]
    GEOMETRY_KIND_DICOM_REGION: _ClassVar[GeometryKind]

class ClassificationKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLASSIFICATION_KIND_UNSPECIFIED: _ClassVar[ClassificationKind]
    CLASSIFICATION_KIND_RADIO: _ClassVar[ClassificationKind]
    CLASSIFICATION_KIND_CHECKLIST: _ClassVar[ClassificationKind]
    CLASSIFICATION_KIND_TEXT: _ClassVar[ClassificationKind]
    CLASSIFICATION_KIND_NUMBER: _ClassVar[ClassificationKind]

class AttributeType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ATTRIBUTE_TYPE_UNSPECIFIED: _ClassVar[AttributeType]
    ATTRIBUTE_TYPE_STRING: _ClassVar[AttributeType]
    ATTRIBUTE_TYPE_INT: _ClassVar[AttributeType]
    ATTRIBUTE_TYPE_FLOAT: _ClassVar[AttributeType]
    ATTRIBUTE_TYPE_BOOL: _ClassVar[AttributeType]
    ATTRIBUTE_TYPE_ENUM: _ClassVar[AttributeType]

class Cardinality(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CARDINALITY_UNSPECIFIED: _ClassVar[Cardinality]
    CARDINALITY_ONE_TO_ONE: _ClassVar[Cardinality]
    CARDINALITY_ONE_TO_MANY: _ClassVar[Cardinality]
    CARDINALITY_MANY_TO_ONE: _ClassVar[Cardinality]
    CARDINALITY_MANY_TO_MANY: _ClassVar[Cardinality]
GEOMETRY_KIND_UNSPECIFIED: GeometryKind
GEOMETRY_KIND_BOUNDING_BOX: GeometryKind
GEOMETRY_KIND_ROTATED_BOX: GeometryKind
GEOMETRY_KIND_POLYGON: GeometryKind
GEOMETRY_KIND_POLYLINE: GeometryKind
GEOMETRY_KIND_POINT: GeometryKind
GEOMETRY_KIND_KEYPOINTS: GeometryKind
GEOMETRY_KIND_MASK: GeometryKind
GEOMETRY_KIND_CUBOID: GeometryKind
GEOMETRY_KIND_TEXT_SPAN: GeometryKind
GEOMETRY_KIND_CLASSIFICATION: GeometryKind
GEOMETRY_KIND_VIDEO_TRACK: GeometryKind
GEOMETRY_KIND_DICOM_REGION: GeometryKind
CLASSIFICATION_KIND_UNSPECIFIED: ClassificationKind
CLASSIFICATION_KIND_RADIO: ClassificationKind
CLASSIFICATION_KIND_CHECKLIST: ClassificationKind
CLASSIFICATION_KIND_TEXT: ClassificationKind
CLASSIFICATION_KIND_NUMBER: ClassificationKind
ATTRIBUTE_TYPE_UNSPECIFIED: AttributeType
ATTRIBUTE_TYPE_STRING: AttributeType
ATTRIBUTE_TYPE_INT: AttributeType
ATTRIBUTE_TYPE_FLOAT: AttributeType
ATTRIBUTE_TYPE_BOOL: AttributeType
ATTRIBUTE_TYPE_ENUM: AttributeType
CARDINALITY_UNSPECIFIED: Cardinality
CARDINALITY_ONE_TO_ONE: Cardinality
CARDINALITY_ONE_TO_MANY: Cardinality
CARDINALITY_MANY_TO_ONE: Cardinality
CARDINALITY_MANY_TO_MANY: Cardinality

class NumberConstraints(_message.Message):
    __slots__ = ("has_min", "min", "has_max", "max", "integer_only")
    HAS_MIN_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    HAS_MAX_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    INTEGER_ONLY_FIELD_NUMBER: _ClassVar[int]
    has_min: bool
    min: float
    has_max: bool
    max: float
    integer_only: bool
    def __init__(self, has_min: _Optional[bool] = ..., min: _Optional[float] = ..., has_max: _Optional[bool] = ..., max: _Optional[float] = ..., integer_only: _Optional[bool] = ...) -> None: ...

class TextConstraints(_message.Message):
    __slots__ = ("max_length", "pattern")
    MAX_LENGTH_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    max_length: int
    pattern: str
    def __init__(self, max_length: _Optional[int] = ..., pattern: _Optional[str] = ...) -> None: ...

class Option(_message.Message):
    __slots__ = ("id", "name", "classifications", "deprecated")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    DEPRECATED_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    classifications: _containers.RepeatedCompositeFieldContainer[Classification]
    deprecated: bool
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., classifications: _Optional[_Iterable[_Union[Classification, _Mapping]]] = ..., deprecated: _Optional[bool] = ...) -> None: ...

class Classification(_message.Message):
    __slots__ = ("id", "name", "kind", "required", "description", "options", "number", "text", "min_selected", "max_selected", "deprecated")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MIN_SELECTED_FIELD_NUMBER: _ClassVar[int]
    MAX_SELECTED_FIELD_NUMBER: _ClassVar[int]
    DEPRECATED_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    kind: ClassificationKind
    required: bool
    description: str
    options: _containers.RepeatedCompositeFieldContainer[Option]
    number: NumberConstraints
    text: TextConstraints
    min_selected: int
    max_selected: int
    deprecated: bool
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[ClassificationKind, str]] = ..., required: _Optional[bool] = ..., description: _Optional[str] = ..., options: _Optional[_Iterable[_Union[Option, _Mapping]]] = ..., number: _Optional[_Union[NumberConstraints, _Mapping]] = ..., text: _Optional[_Union[TextConstraints, _Mapping]] = ..., min_selected: _Optional[int] = ..., max_selected: _Optional[int] = ..., deprecated: _Optional[bool] = ...) -> None: ...

class Attribute(_message.Message):
    __slots__ = ("id", "name", "type", "required", "enum_values", "number", "text", "deprecated")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    ENUM_VALUES_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    DEPRECATED_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    type: AttributeType
    required: bool
    enum_values: _containers.RepeatedScalarFieldContainer[str]
    number: NumberConstraints
    text: TextConstraints
    deprecated: bool
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., type: _Optional[_Union[AttributeType, str]] = ..., required: _Optional[bool] = ..., enum_values: _Optional[_Iterable[str]] = ..., number: _Optional[_Union[NumberConstraints, _Mapping]] = ..., text: _Optional[_Union[TextConstraints, _Mapping]] = ..., deprecated: _Optional[bool] = ...) -> None: ...

class SkeletonEdge(_message.Message):
    __slots__ = ("from_index", "to_index")
    FROM_INDEX_FIELD_NUMBER: _ClassVar[int]
    TO_INDEX_FIELD_NUMBER: _ClassVar[int]
    from_index: int
    to_index: int
    def __init__(self, from_index: _Optional[int] = ..., to_index: _Optional[int] = ...) -> None: ...

class KeypointSkeleton(_message.Message):
    __slots__ = ("keypoint_names", "edges")
    KEYPOINT_NAMES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    keypoint_names: _containers.RepeatedScalarFieldContainer[str]
    edges: _containers.RepeatedCompositeFieldContainer[SkeletonEdge]
    def __init__(self, keypoint_names: _Optional[_Iterable[str]] = ..., edges: _Optional[_Iterable[_Union[SkeletonEdge, _Mapping]]] = ...) -> None: ...

class OntologyClass(_message.Message):
    __slots__ = ("id", "name", "geometry", "description", "high_stakes", "examples", "classifications", "attributes", "skeleton", "deprecated", "color")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    GEOMETRY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    HIGH_STAKES_FIELD_NUMBER: _ClassVar[int]
    EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    SKELETON_FIELD_NUMBER: _ClassVar[int]
    DEPRECATED_FIELD_NUMBER: _ClassVar[int]
    COLOR_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    geometry: GeometryKind
    description: str
    high_stakes: bool
    examples: _containers.RepeatedScalarFieldContainer[str]
    classifications: _containers.RepeatedCompositeFieldContainer[Classification]
    attributes: _containers.RepeatedCompositeFieldContainer[Attribute]
    skeleton: KeypointSkeleton
    deprecated: bool
    color: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., geometry: _Optional[_Union[GeometryKind, str]] = ..., description: _Optional[str] = ..., high_stakes: _Optional[bool] = ..., examples: _Optional[_Iterable[str]] = ..., classifications: _Optional[_Iterable[_Union[Classification, _Mapping]]] = ..., attributes: _Optional[_Iterable[_Union[Attribute, _Mapping]]] = ..., skeleton: _Optional[_Union[KeypointSkeleton, _Mapping]] = ..., deprecated: _Optional[bool] = ..., color: _Optional[str] = ...) -> None: ...

class Relationship(_message.Message):
    __slots__ = ("id", "name", "from_class_id", "to_class_id", "cardinality", "deprecated")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FROM_CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    TO_CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    CARDINALITY_FIELD_NUMBER: _ClassVar[int]
    DEPRECATED_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    from_class_id: str
    to_class_id: str
    cardinality: Cardinality
    deprecated: bool
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., from_class_id: _Optional[str] = ..., to_class_id: _Optional[str] = ..., cardinality: _Optional[_Union[Cardinality, str]] = ..., deprecated: _Optional[bool] = ...) -> None: ...

class OntologyDefinition(_message.Message):
    __slots__ = ("classes", "relationships")
    CLASSES_FIELD_NUMBER: _ClassVar[int]
    RELATIONSHIPS_FIELD_NUMBER: _ClassVar[int]
    classes: _containers.RepeatedCompositeFieldContainer[OntologyClass]
    relationships: _containers.RepeatedCompositeFieldContainer[Relationship]
    def __init__(self, classes: _Optional[_Iterable[_Union[OntologyClass, _Mapping]]] = ..., relationships: _Optional[_Iterable[_Union[Relationship, _Mapping]]] = ...) -> None: ...
