from labelops.curation.v1 import curation_pb2 as _curation_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DatasetCreated(_message.Message):
    __slots__ = ("dataset_id", "display_name", "description", "embedders", "custom_vector_dim", "auto_include", "near_duplicate_threshold")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    EMBEDDERS_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_VECTOR_DIM_FIELD_NUMBER: _ClassVar[int]
    AUTO_INCLUDE_FIELD_NUMBER: _ClassVar[int]
    NEAR_DUPLICATE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    display_name: str
    description: str
    embedders: _containers.RepeatedScalarFieldContainer[str]
    custom_vector_dim: int
    auto_include: bool
    near_duplicate_threshold: float
    def __init__(self, dataset_id: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., embedders: _Optional[_Iterable[str]] = ..., custom_vector_dim: _Optional[int] = ..., auto_include: _Optional[bool] = ..., near_duplicate_threshold: _Optional[float] = ...) -> None: ...

class ItemRegistered(_message.Message):
    __slots__ = ("dataset_id", "item_id", "external_id", "uri", "modality", "size_bytes", "width", "height", "duration_ms", "checksum", "metadata", "text", "perceptual_hash", "exact_duplicate_of", "import_id")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    CHECKSUM_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    PERCEPTUAL_HASH_FIELD_NUMBER: _ClassVar[int]
    EXACT_DUPLICATE_OF_FIELD_NUMBER: _ClassVar[int]
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    item_id: str
    external_id: str
    uri: str
    modality: _curation_pb2.Modality
    size_bytes: int
    width: int
    height: int
    duration_ms: int
    checksum: str
    metadata: _containers.ScalarMap[str, str]
    text: str
    perceptual_hash: str
    exact_duplicate_of: str
    import_id: str
    def __init__(self, dataset_id: _Optional[str] = ..., item_id: _Optional[str] = ..., external_id: _Optional[str] = ..., uri: _Optional[str] = ..., modality: _Optional[_Union[_curation_pb2.Modality, str]] = ..., size_bytes: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., duration_ms: _Optional[int] = ..., checksum: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., text: _Optional[str] = ..., perceptual_hash: _Optional[str] = ..., exact_duplicate_of: _Optional[str] = ..., import_id: _Optional[str] = ...) -> None: ...

class ItemEmbedded(_message.Message):
    __slots__ = ("dataset_id", "item_id", "vector_space", "model_version", "vector")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    VECTOR_SPACE_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    item_id: str
    vector_space: str
    model_version: str
    vector: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, dataset_id: _Optional[str] = ..., item_id: _Optional[str] = ..., vector_space: _Optional[str] = ..., model_version: _Optional[str] = ..., vector: _Optional[_Iterable[float]] = ...) -> None: ...

class ItemsCurated(_message.Message):
    __slots__ = ("dataset_id", "decision", "reason", "note", "item_ids", "run_id", "duplicate_of")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_OF_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    decision: _curation_pb2.Decision
    reason: _curation_pb2.CurationReason
    note: str
    item_ids: _containers.RepeatedScalarFieldContainer[str]
    run_id: str
    duplicate_of: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, dataset_id: _Optional[str] = ..., decision: _Optional[_Union[_curation_pb2.Decision, str]] = ..., reason: _Optional[_Union[_curation_pb2.CurationReason, str]] = ..., note: _Optional[str] = ..., item_ids: _Optional[_Iterable[str]] = ..., run_id: _Optional[str] = ..., duplicate_of: _Optional[_Iterable[str]] = ...) -> None: ...

class DuplicatesFound(_message.Message):
    __slots__ = ("dataset_id", "run_id", "vector_space", "threshold", "items_scanned", "groups", "part", "parts")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    VECTOR_SPACE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    ITEMS_SCANNED_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    PART_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    run_id: str
    vector_space: str
    threshold: float
    items_scanned: int
    groups: _containers.RepeatedCompositeFieldContainer[_curation_pb2.DuplicateGroup]
    part: int
    parts: int
    def __init__(self, dataset_id: _Optional[str] = ..., run_id: _Optional[str] = ..., vector_space: _Optional[str] = ..., threshold: _Optional[float] = ..., items_scanned: _Optional[int] = ..., groups: _Optional[_Iterable[_Union[_curation_pb2.DuplicateGroup, _Mapping]]] = ..., part: _Optional[int] = ..., parts: _Optional[int] = ...) -> None: ...

class CoverageAnalyzed(_message.Message):
    __slots__ = ("dataset_id", "run_id", "vector_space", "items_analyzed", "clusters", "balance", "edge_case_item_ids")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    VECTOR_SPACE_FIELD_NUMBER: _ClassVar[int]
    ITEMS_ANALYZED_FIELD_NUMBER: _ClassVar[int]
    CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    EDGE_CASE_ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    run_id: str
    vector_space: str
    items_analyzed: int
    clusters: _containers.RepeatedCompositeFieldContainer[_curation_pb2.Cluster]
    balance: float
    edge_case_item_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, dataset_id: _Optional[str] = ..., run_id: _Optional[str] = ..., vector_space: _Optional[str] = ..., items_analyzed: _Optional[int] = ..., clusters: _Optional[_Iterable[_Union[_curation_pb2.Cluster, _Mapping]]] = ..., balance: _Optional[float] = ..., edge_case_item_ids: _Optional[_Iterable[str]] = ...) -> None: ...
