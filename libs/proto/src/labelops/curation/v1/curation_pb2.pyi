import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Modality(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODALITY_UNSPECIFIED: _ClassVar[Modality]
    MODALITY_IMAGE: _ClassVar[Modality]
    MODALITY_VIDEO: _ClassVar[Modality]
    MODALITY_TEXT: _ClassVar[Modality]
    MODALITY_AUDIO: _ClassVar[Modality]
    MODALITY_DICOM: _ClassVar[Modality]

class CurationState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CURATION_STATE_UNSPECIFIED: _ClassVar[CurationState]
    CURATION_STATE_PENDING: _ClassVar[CurationState]
    CURATION_STATE_INCLUDED: _ClassVar[CurationState]
    CURATION_STATE_EXCLUDED: _ClassVar[CurationState]

class Decision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_UNSPECIFIED: _ClassVar[Decision]
    DECISION_INCLUDE: _ClassVar[Decision]
    DECISION_EXCLUDE: _ClassVar[Decision]

class CurationReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CURATION_REASON_UNSPECIFIED: _ClassVar[CurationReason]
    CURATION_REASON_DUPLICATE: _ClassVar[CurationReason]
    CURATION_REASON_NEAR_DUPLICATE: _ClassVar[CurationReason]
    CURATION_REASON_OUT_OF_SCOPE: _ClassVar[CurationReason]
    CURATION_REASON_LOW_QUALITY: _ClassVar[CurationReason]
    CURATION_REASON_SENSITIVE: _ClassVar[CurationReason]
    CURATION_REASON_CORRUPT: _ClassVar[CurationReason]
    CURATION_REASON_EDGE_CASE: _ClassVar[CurationReason]
    CURATION_REASON_REPRESENTATIVE: _ClassVar[CurationReason]
    CURATION_REASON_AUTO: _ClassVar[CurationReason]
    CURATION_REASON_MANUAL: _ClassVar[CurationReason]
    CURATION_REASON_OTHER: _ClassVar[CurationReason]

class ImportState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMPORT_STATE_UNSPECIFIED: _ClassVar[ImportState]
    IMPORT_STATE_RUNNING: _ClassVar[ImportState]
    IMPORT_STATE_SUCCEEDED: _ClassVar[ImportState]
    IMPORT_STATE_FAILED: _ClassVar[ImportState]
MODALITY_UNSPECIFIED: Modality
MODALITY_IMAGE: Modality
MODALITY_VIDEO: Modality
MODALITY_TEXT: Modality
MODALITY_AUDIO: Modality
MODALITY_DICOM: Modality
CURATION_STATE_UNSPECIFIED: CurationState
CURATION_STATE_PENDING: CurationState
CURATION_STATE_INCLUDED: CurationState
CURATION_STATE_EXCLUDED: CurationState
DECISION_UNSPECIFIED: Decision
DECISION_INCLUDE: Decision
DECISION_EXCLUDE: Decision
CURATION_REASON_UNSPECIFIED: CurationReason
CURATION_REASON_DUPLICATE: CurationReason
CURATION_REASON_NEAR_DUPLICATE: CurationReason
CURATION_REASON_OUT_OF_SCOPE: CurationReason
CURATION_REASON_LOW_QUALITY: CurationReason
CURATION_REASON_SENSITIVE: CurationReason
CURATION_REASON_CORRUPT: CurationReason
CURATION_REASON_EDGE_CASE: CurationReason
CURATION_REASON_REPRESENTATIVE: CurationReason
CURATION_REASON_AUTO: CurationReason
CURATION_REASON_MANUAL: CurationReason
CURATION_REASON_OTHER: CurationReason
IMPORT_STATE_UNSPECIFIED: ImportState
IMPORT_STATE_RUNNING: ImportState
IMPORT_STATE_SUCCEEDED: ImportState
IMPORT_STATE_FAILED: ImportState

class Dataset(_message.Message):
    __slots__ = ("name", "dataset_id", "display_name", "description", "embedders", "custom_vector_dim", "auto_include", "near_duplicate_threshold", "counts", "create_time", "vector_spaces")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    EMBEDDERS_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_VECTOR_DIM_FIELD_NUMBER: _ClassVar[int]
    AUTO_INCLUDE_FIELD_NUMBER: _ClassVar[int]
    NEAR_DUPLICATE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VECTOR_SPACES_FIELD_NUMBER: _ClassVar[int]
    name: str
    dataset_id: str
    display_name: str
    description: str
    embedders: _containers.RepeatedScalarFieldContainer[str]
    custom_vector_dim: int
    auto_include: bool
    near_duplicate_threshold: float
    counts: ItemCounts
    create_time: _timestamp_pb2.Timestamp
    vector_spaces: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., dataset_id: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., embedders: _Optional[_Iterable[str]] = ..., custom_vector_dim: _Optional[int] = ..., auto_include: _Optional[bool] = ..., near_duplicate_threshold: _Optional[float] = ..., counts: _Optional[_Union[ItemCounts, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., vector_spaces: _Optional[_Iterable[str]] = ...) -> None: ...

class ItemCounts(_message.Message):
    __slots__ = ("total", "pending", "included", "excluded")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    INCLUDED_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_FIELD_NUMBER: _ClassVar[int]
    total: int
    pending: int
    included: int
    excluded: int
    def __init__(self, total: _Optional[int] = ..., pending: _Optional[int] = ..., included: _Optional[int] = ..., excluded: _Optional[int] = ...) -> None: ...

class CreateDatasetRequest(_message.Message):
    __slots__ = ("dataset_id", "display_name", "description", "embedders", "custom_vector_dim", "auto_include", "near_duplicate_threshold", "request_id")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    EMBEDDERS_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_VECTOR_DIM_FIELD_NUMBER: _ClassVar[int]
    AUTO_INCLUDE_FIELD_NUMBER: _ClassVar[int]
    NEAR_DUPLICATE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    display_name: str
    description: str
    embedders: _containers.RepeatedScalarFieldContainer[str]
    custom_vector_dim: int
    auto_include: bool
    near_duplicate_threshold: float
    request_id: str
    def __init__(self, dataset_id: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., embedders: _Optional[_Iterable[str]] = ..., custom_vector_dim: _Optional[int] = ..., auto_include: _Optional[bool] = ..., near_duplicate_threshold: _Optional[float] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateDatasetResponse(_message.Message):
    __slots__ = ("dataset",)
    DATASET_FIELD_NUMBER: _ClassVar[int]
    dataset: Dataset
    def __init__(self, dataset: _Optional[_Union[Dataset, _Mapping]] = ...) -> None: ...

class GetDatasetRequest(_message.Message):
    __slots__ = ("dataset_id",)
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    def __init__(self, dataset_id: _Optional[str] = ...) -> None: ...

class GetDatasetResponse(_message.Message):
    __slots__ = ("dataset",)
    DATASET_FIELD_NUMBER: _ClassVar[int]
    dataset: Dataset
    def __init__(self, dataset: _Optional[_Union[Dataset, _Mapping]] = ...) -> None: ...

class ListDatasetsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDatasetsResponse(_message.Message):
    __slots__ = ("datasets", "next_page_token")
    DATASETS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    datasets: _containers.RepeatedCompositeFieldContainer[Dataset]
    next_page_token: str
    def __init__(self, datasets: _Optional[_Iterable[_Union[Dataset, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ItemSpec(_message.Message):
    __slots__ = ("external_id", "uri", "modality", "size_bytes", "width", "height", "duration_ms", "checksum", "metadata", "embedding", "text")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    CHECKSUM_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    external_id: str
    uri: str
    modality: Modality
    size_bytes: int
    width: int
    height: int
    duration_ms: int
    checksum: str
    metadata: _containers.ScalarMap[str, str]
    embedding: _containers.RepeatedScalarFieldContainer[float]
    text: str
    def __init__(self, external_id: _Optional[str] = ..., uri: _Optional[str] = ..., modality: _Optional[_Union[Modality, str]] = ..., size_bytes: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., duration_ms: _Optional[int] = ..., checksum: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., embedding: _Optional[_Iterable[float]] = ..., text: _Optional[str] = ...) -> None: ...

class Item(_message.Message):
    __slots__ = ("name", "item_id", "dataset_id", "external_id", "uri", "modality", "size_bytes", "width", "height", "duration_ms", "checksum", "metadata", "text", "state", "reason", "note", "duplicate_of", "perceptual_hash", "vector_spaces", "import_id", "create_time", "update_time")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
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
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_OF_FIELD_NUMBER: _ClassVar[int]
    PERCEPTUAL_HASH_FIELD_NUMBER: _ClassVar[int]
    VECTOR_SPACES_FIELD_NUMBER: _ClassVar[int]
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    item_id: str
    dataset_id: str
    external_id: str
    uri: str
    modality: Modality
    size_bytes: int
    width: int
    height: int
    duration_ms: int
    checksum: str
    metadata: _containers.ScalarMap[str, str]
    text: str
    state: CurationState
    reason: CurationReason
    note: str
    duplicate_of: str
    perceptual_hash: str
    vector_spaces: _containers.RepeatedScalarFieldContainer[str]
    import_id: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., item_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., external_id: _Optional[str] = ..., uri: _Optional[str] = ..., modality: _Optional[_Union[Modality, str]] = ..., size_bytes: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., duration_ms: _Optional[int] = ..., checksum: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., text: _Optional[str] = ..., state: _Optional[_Union[CurationState, str]] = ..., reason: _Optional[_Union[CurationReason, str]] = ..., note: _Optional[str] = ..., duplicate_of: _Optional[str] = ..., perceptual_hash: _Optional[str] = ..., vector_spaces: _Optional[_Iterable[str]] = ..., import_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RegisterItemsRequest(_message.Message):
    __slots__ = ("dataset_id", "import_id", "items")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    import_id: str
    items: _containers.RepeatedCompositeFieldContainer[ItemSpec]
    def __init__(self, dataset_id: _Optional[str] = ..., import_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[ItemSpec, _Mapping]]] = ...) -> None: ...

class RegisterItemsResponse(_message.Message):
    __slots__ = ()
    IMPORT_FIELD_NUMBER: _ClassVar[int]
    def __init__(self, **kwargs) -> None: ...

class Import(_message.Message):
    __slots__ = ("import_id", "dataset_id", "state", "items_received", "items_registered", "items_already_registered", "exact_duplicates", "vectors_written", "messages_committed", "error", "start_time", "update_time")
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ITEMS_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    ITEMS_REGISTERED_FIELD_NUMBER: _ClassVar[int]
    ITEMS_ALREADY_REGISTERED_FIELD_NUMBER: _ClassVar[int]
    EXACT_DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    VECTORS_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_COMMITTED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    import_id: str
    dataset_id: str
    state: ImportState
    items_received: int
    items_registered: int
    items_already_registered: int
    exact_duplicates: int
    vectors_written: int
    messages_committed: int
    error: str
    start_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, import_id: _Optional[str] = ..., dataset_id: _Optional[str] = ..., state: _Optional[_Union[ImportState, str]] = ..., items_received: _Optional[int] = ..., items_registered: _Optional[int] = ..., items_already_registered: _Optional[int] = ..., exact_duplicates: _Optional[int] = ..., vectors_written: _Optional[int] = ..., messages_committed: _Optional[int] = ..., error: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetImportRequest(_message.Message):
    __slots__ = ("import_id",)
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    import_id: str
    def __init__(self, import_id: _Optional[str] = ...) -> None: ...

class GetImportResponse(_message.Message):
    __slots__ = ()
    IMPORT_FIELD_NUMBER: _ClassVar[int]
    def __init__(self, **kwargs) -> None: ...

class GetItemRequest(_message.Message):
    __slots__ = ("dataset_id", "item_id")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    item_id: str
    def __init__(self, dataset_id: _Optional[str] = ..., item_id: _Optional[str] = ...) -> None: ...

class GetItemResponse(_message.Message):
    __slots__ = ("item",)
    ITEM_FIELD_NUMBER: _ClassVar[int]
    item: Item
    def __init__(self, item: _Optional[_Union[Item, _Mapping]] = ...) -> None: ...

class ListItemsRequest(_message.Message):
    __slots__ = ("dataset_id", "page_size", "page_token", "states", "modalities", "metadata", "import_id", "duplicates_only")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    MODALITIES_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    IMPORT_ID_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_ONLY_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    page_size: int
    page_token: str
    states: _containers.RepeatedScalarFieldContainer[CurationState]
    modalities: _containers.RepeatedScalarFieldContainer[Modality]
    metadata: _containers.ScalarMap[str, str]
    import_id: str
    duplicates_only: bool
    def __init__(self, dataset_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., states: _Optional[_Iterable[_Union[CurationState, str]]] = ..., modalities: _Optional[_Iterable[_Union[Modality, str]]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., import_id: _Optional[str] = ..., duplicates_only: _Optional[bool] = ...) -> None: ...

class ListItemsResponse(_message.Message):
    __slots__ = ("items", "next_page_token", "total_size")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Item]
    next_page_token: str
    total_size: int
    def __init__(self, items: _Optional[_Iterable[_Union[Item, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class DuplicateGroup(_message.Message):
    __slots__ = ("representative_item_id", "item_ids", "min_similarity")
    REPRESENTATIVE_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    MIN_SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    representative_item_id: str
    item_ids: _containers.RepeatedScalarFieldContainer[str]
    min_similarity: float
    def __init__(self, representative_item_id: _Optional[str] = ..., item_ids: _Optional[_Iterable[str]] = ..., min_similarity: _Optional[float] = ...) -> None: ...

class FindDuplicatesRequest(_message.Message):
    __slots__ = ("dataset_id", "vector_space", "threshold", "exclude_duplicates", "request_id", "max_groups")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    VECTOR_SPACE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_GROUPS_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    vector_space: str
    threshold: float
    exclude_duplicates: bool
    request_id: str
    max_groups: int
    def __init__(self, dataset_id: _Optional[str] = ..., vector_space: _Optional[str] = ..., threshold: _Optional[float] = ..., exclude_duplicates: _Optional[bool] = ..., request_id: _Optional[str] = ..., max_groups: _Optional[int] = ...) -> None: ...

class FindDuplicatesResponse(_message.Message):
    __slots__ = ("run_id", "vector_space", "threshold", "items_scanned", "group_count", "duplicate_count", "groups", "items_excluded")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    VECTOR_SPACE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    ITEMS_SCANNED_FIELD_NUMBER: _ClassVar[int]
    GROUP_COUNT_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_COUNT_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_EXCLUDED_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    vector_space: str
    threshold: float
    items_scanned: int
    group_count: int
    duplicate_count: int
    groups: _containers.RepeatedCompositeFieldContainer[DuplicateGroup]
    items_excluded: int
    def __init__(self, run_id: _Optional[str] = ..., vector_space: _Optional[str] = ..., threshold: _Optional[float] = ..., items_scanned: _Optional[int] = ..., group_count: _Optional[int] = ..., duplicate_count: _Optional[int] = ..., groups: _Optional[_Iterable[_Union[DuplicateGroup, _Mapping]]] = ..., items_excluded: _Optional[int] = ...) -> None: ...

class ScoredItem(_message.Message):
    __slots__ = ("item", "score")
    ITEM_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    item: Item
    score: float
    def __init__(self, item: _Optional[_Union[Item, _Mapping]] = ..., score: _Optional[float] = ...) -> None: ...

class SearchSimilarRequest(_message.Message):
    __slots__ = ("dataset_id", "item_id", "vector_space", "limit", "min_score", "states")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    VECTOR_SPACE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    item_id: str
    vector_space: str
    limit: int
    min_score: float
    states: _containers.RepeatedScalarFieldContainer[CurationState]
    def __init__(self, dataset_id: _Optional[str] = ..., item_id: _Optional[str] = ..., vector_space: _Optional[str] = ..., limit: _Optional[int] = ..., min_score: _Optional[float] = ..., states: _Optional[_Iterable[_Union[CurationState, str]]] = ...) -> None: ...

class SearchSimilarResponse(_message.Message):
    __slots__ = ("results", "vector_space")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    VECTOR_SPACE_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ScoredItem]
    vector_space: str
    def __init__(self, results: _Optional[_Iterable[_Union[ScoredItem, _Mapping]]] = ..., vector_space: _Optional[str] = ...) -> None: ...

class SearchTextRequest(_message.Message):
    __slots__ = ("dataset_id", "query", "vector_space", "limit", "min_score", "states")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    VECTOR_SPACE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    query: str
    vector_space: str
    limit: int
    min_score: float
    states: _containers.RepeatedScalarFieldContainer[CurationState]
    def __init__(self, dataset_id: _Optional[str] = ..., query: _Optional[str] = ..., vector_space: _Optional[str] = ..., limit: _Optional[int] = ..., min_score: _Optional[float] = ..., states: _Optional[_Iterable[_Union[CurationState, str]]] = ...) -> None: ...

class SearchTextResponse(_message.Message):
    __slots__ = ("results", "vector_space")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    VECTOR_SPACE_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ScoredItem]
    vector_space: str
    def __init__(self, results: _Optional[_Iterable[_Union[ScoredItem, _Mapping]]] = ..., vector_space: _Optional[str] = ...) -> None: ...

class Cluster(_message.Message):
    __slots__ = ("cluster_id", "size", "share", "medoid_item_id", "sample_item_ids", "cohesion", "rare")
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    MEDOID_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    COHESION_FIELD_NUMBER: _ClassVar[int]
    RARE_FIELD_NUMBER: _ClassVar[int]
    cluster_id: int
    size: int
    share: float
    medoid_item_id: str
    sample_item_ids: _containers.RepeatedScalarFieldContainer[str]
    cohesion: float
    rare: bool
    def __init__(self, cluster_id: _Optional[int] = ..., size: _Optional[int] = ..., share: _Optional[float] = ..., medoid_item_id: _Optional[str] = ..., sample_item_ids: _Optional[_Iterable[str]] = ..., cohesion: _Optional[float] = ..., rare: _Optional[bool] = ...) -> None: ...

class AnalyzeCoverageRequest(_message.Message):
    __slots__ = ("dataset_id", "vector_space", "n_clusters", "rare_share", "include_excluded", "include_edge_cases", "request_id", "samples_per_cluster")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    VECTOR_SPACE_FIELD_NUMBER: _ClassVar[int]
    N_CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    RARE_SHARE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_EXCLUDED_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_EDGE_CASES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_PER_CLUSTER_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    vector_space: str
    n_clusters: int
    rare_share: float
    include_excluded: bool
    include_edge_cases: bool
    request_id: str
    samples_per_cluster: int
    def __init__(self, dataset_id: _Optional[str] = ..., vector_space: _Optional[str] = ..., n_clusters: _Optional[int] = ..., rare_share: _Optional[float] = ..., include_excluded: _Optional[bool] = ..., include_edge_cases: _Optional[bool] = ..., request_id: _Optional[str] = ..., samples_per_cluster: _Optional[int] = ...) -> None: ...

class AnalyzeCoverageResponse(_message.Message):
    __slots__ = ("run_id", "vector_space", "items_analyzed", "clusters", "balance", "edge_case_item_ids", "items_included")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    VECTOR_SPACE_FIELD_NUMBER: _ClassVar[int]
    ITEMS_ANALYZED_FIELD_NUMBER: _ClassVar[int]
    CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    EDGE_CASE_ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_INCLUDED_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    vector_space: str
    items_analyzed: int
    clusters: _containers.RepeatedCompositeFieldContainer[Cluster]
    balance: float
    edge_case_item_ids: _containers.RepeatedScalarFieldContainer[str]
    items_included: int
    def __init__(self, run_id: _Optional[str] = ..., vector_space: _Optional[str] = ..., items_analyzed: _Optional[int] = ..., clusters: _Optional[_Iterable[_Union[Cluster, _Mapping]]] = ..., balance: _Optional[float] = ..., edge_case_item_ids: _Optional[_Iterable[str]] = ..., items_included: _Optional[int] = ...) -> None: ...

class CurateItemsRequest(_message.Message):
    __slots__ = ("dataset_id", "decision", "item_ids", "reason", "note", "request_id")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    decision: Decision
    item_ids: _containers.RepeatedScalarFieldContainer[str]
    reason: CurationReason
    note: str
    request_id: str
    def __init__(self, dataset_id: _Optional[str] = ..., decision: _Optional[_Union[Decision, str]] = ..., item_ids: _Optional[_Iterable[str]] = ..., reason: _Optional[_Union[CurationReason, str]] = ..., note: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class CurateItemsResponse(_message.Message):
    __slots__ = ("changed", "unchanged", "event_ids")
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    EVENT_IDS_FIELD_NUMBER: _ClassVar[int]
    changed: int
    unchanged: int
    event_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, changed: _Optional[int] = ..., unchanged: _Optional[int] = ..., event_ids: _Optional[_Iterable[str]] = ...) -> None: ...
