import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VersionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERSION_STATE_UNSPECIFIED: _ClassVar[VersionState]
    VERSION_STATE_READY: _ClassVar[VersionState]

class ChangeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANGE_KIND_UNSPECIFIED: _ClassVar[ChangeKind]
    CHANGE_KIND_ADDED: _ClassVar[ChangeKind]
    CHANGE_KIND_REMOVED: _ClassVar[ChangeKind]
    CHANGE_KIND_CHANGED: _ClassVar[ChangeKind]

class ExportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPORT_FORMAT_UNSPECIFIED: _ClassVar[ExportFormat]
    EXPORT_FORMAT_COCO: _ClassVar[ExportFormat]
    EXPORT_FORMAT_YOLO: _ClassVar[ExportFormat]
    EXPORT_FORMAT_LABEL_STUDIO: _ClassVar[ExportFormat]
    EXPORT_FORMAT_HF_PARQUET: _ClassVar[ExportFormat]
VERSION_STATE_UNSPECIFIED: VersionState
VERSION_STATE_READY: VersionState
CHANGE_KIND_UNSPECIFIED: ChangeKind
CHANGE_KIND_ADDED: ChangeKind
CHANGE_KIND_REMOVED: ChangeKind
CHANGE_KIND_CHANGED: ChangeKind
EXPORT_FORMAT_UNSPECIFIED: ExportFormat
EXPORT_FORMAT_COCO: ExportFormat
EXPORT_FORMAT_YOLO: ExportFormat
EXPORT_FORMAT_LABEL_STUDIO: ExportFormat
EXPORT_FORMAT_HF_PARQUET: ExportFormat

class PartitionOffset(_message.Message):
    __slots__ = ("topic", "partition", "offset")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    topic: str
    partition: int
    offset: int
    def __init__(self, topic: _Optional[str] = ..., partition: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class Cut(_message.Message):
    __slots__ = ("latest", "offsets", "timestamp")
    LATEST_FIELD_NUMBER: _ClassVar[int]
    OFFSETS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    latest: bool
    offsets: Offsets
    timestamp: _timestamp_pb2.Timestamp
    def __init__(self, latest: _Optional[bool] = ..., offsets: _Optional[_Union[Offsets, _Mapping]] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Offsets(_message.Message):
    __slots__ = ("offsets",)
    OFFSETS_FIELD_NUMBER: _ClassVar[int]
    offsets: _containers.RepeatedCompositeFieldContainer[PartitionOffset]
    def __init__(self, offsets: _Optional[_Iterable[_Union[PartitionOffset, _Mapping]]] = ...) -> None: ...

class Splits(_message.Message):
    __slots__ = ("train", "val", "test", "salt")
    TRAIN_FIELD_NUMBER: _ClassVar[int]
    VAL_FIELD_NUMBER: _ClassVar[int]
    TEST_FIELD_NUMBER: _ClassVar[int]
    SALT_FIELD_NUMBER: _ClassVar[int]
    train: float
    val: float
    test: float
    salt: str
    def __init__(self, train: _Optional[float] = ..., val: _Optional[float] = ..., test: _Optional[float] = ..., salt: _Optional[str] = ...) -> None: ...

class Filter(_message.Message):
    __slots__ = ("class_ids", "min_consensus_score", "review_decisions", "splits")
    CLASS_IDS_FIELD_NUMBER: _ClassVar[int]
    MIN_CONSENSUS_SCORE_FIELD_NUMBER: _ClassVar[int]
    REVIEW_DECISIONS_FIELD_NUMBER: _ClassVar[int]
    SPLITS_FIELD_NUMBER: _ClassVar[int]
    class_ids: _containers.RepeatedScalarFieldContainer[str]
    min_consensus_score: float
    review_decisions: _containers.RepeatedScalarFieldContainer[str]
    splits: Splits
    def __init__(self, class_ids: _Optional[_Iterable[str]] = ..., min_consensus_score: _Optional[float] = ..., review_decisions: _Optional[_Iterable[str]] = ..., splits: _Optional[_Union[Splits, _Mapping]] = ...) -> None: ...

class DatasetVersion(_message.Message):
    __slots__ = ("name", "dataset_id", "version", "project_id", "cut", "filter", "ontology_id", "ontology_version", "manifest_sha256", "manifest_uri", "rows", "labels", "files", "bytes", "created_by", "create_time", "state", "description", "files_reused", "content_sha256")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CUT_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ONTOLOGY_ID_FIELD_NUMBER: _ClassVar[int]
    ONTOLOGY_VERSION_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_SHA256_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_URI_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    FILES_REUSED_FIELD_NUMBER: _ClassVar[int]
    CONTENT_SHA256_FIELD_NUMBER: _ClassVar[int]
    name: str
    dataset_id: str
    version: int
    project_id: str
    cut: _containers.RepeatedCompositeFieldContainer[PartitionOffset]
    filter: Filter
    ontology_id: str
    ontology_version: str
    manifest_sha256: str
    manifest_uri: str
    rows: int
    labels: int
    files: int
    bytes: int
    created_by: str
    create_time: _timestamp_pb2.Timestamp
    state: VersionState
    description: str
    files_reused: int
    content_sha256: str
    def __init__(self, name: _Optional[str] = ..., dataset_id: _Optional[str] = ..., version: _Optional[int] = ..., project_id: _Optional[str] = ..., cut: _Optional[_Iterable[_Union[PartitionOffset, _Mapping]]] = ..., filter: _Optional[_Union[Filter, _Mapping]] = ..., ontology_id: _Optional[str] = ..., ontology_version: _Optional[str] = ..., manifest_sha256: _Optional[str] = ..., manifest_uri: _Optional[str] = ..., rows: _Optional[int] = ..., labels: _Optional[int] = ..., files: _Optional[int] = ..., bytes: _Optional[int] = ..., created_by: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[_Union[VersionState, str]] = ..., description: _Optional[str] = ..., files_reused: _Optional[int] = ..., content_sha256: _Optional[str] = ...) -> None: ...

class CreateDatasetVersionRequest(_message.Message):
    __slots__ = ("dataset_id", "project_id", "cut", "filter", "ontology_version", "description", "version", "request_id")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CUT_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ONTOLOGY_VERSION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    project_id: str
    cut: Cut
    filter: Filter
    ontology_version: str
    description: str
    version: int
    request_id: str
    def __init__(self, dataset_id: _Optional[str] = ..., project_id: _Optional[str] = ..., cut: _Optional[_Union[Cut, _Mapping]] = ..., filter: _Optional[_Union[Filter, _Mapping]] = ..., ontology_version: _Optional[str] = ..., description: _Optional[str] = ..., version: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateDatasetVersionResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: DatasetVersion
    def __init__(self, version: _Optional[_Union[DatasetVersion, _Mapping]] = ...) -> None: ...

class GetDatasetVersionRequest(_message.Message):
    __slots__ = ("dataset_id", "version")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    version: int
    def __init__(self, dataset_id: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetDatasetVersionResponse(_message.Message):
    __slots__ = ("version", "manifest_json")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_JSON_FIELD_NUMBER: _ClassVar[int]
    version: DatasetVersion
    manifest_json: bytes
    def __init__(self, version: _Optional[_Union[DatasetVersion, _Mapping]] = ..., manifest_json: _Optional[bytes] = ...) -> None: ...

class ListDatasetVersionsRequest(_message.Message):
    __slots__ = ("dataset_id", "page_size", "page_token")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    page_size: int
    page_token: str
    def __init__(self, dataset_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDatasetVersionsResponse(_message.Message):
    __slots__ = ("versions", "next_page_token")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[DatasetVersion]
    next_page_token: str
    def __init__(self, versions: _Optional[_Iterable[_Union[DatasetVersion, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class StreamDatasetVersionRequest(_message.Message):
    __slots__ = ("dataset_id", "version", "split", "columns")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    version: int
    split: str
    columns: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, dataset_id: _Optional[str] = ..., version: _Optional[int] = ..., split: _Optional[str] = ..., columns: _Optional[_Iterable[str]] = ...) -> None: ...

class StreamDatasetVersionResponse(_message.Message):
    __slots__ = ("arrow_ipc", "rows")
    ARROW_IPC_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    arrow_ipc: bytes
    rows: int
    def __init__(self, arrow_ipc: _Optional[bytes] = ..., rows: _Optional[int] = ...) -> None: ...

class DiffDatasetVersionsRequest(_message.Message):
    __slots__ = ("dataset_id", "from_version", "to_version", "page_size", "page_token")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    from_version: int
    to_version: int
    page_size: int
    page_token: str
    def __init__(self, dataset_id: _Optional[str] = ..., from_version: _Optional[int] = ..., to_version: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class BlameEvent(_message.Message):
    __slots__ = ("event_id", "topic", "partition", "offset", "time", "consensus_method", "review_decision", "annotator_ids", "reviewer")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    CONSENSUS_METHOD_FIELD_NUMBER: _ClassVar[int]
    REVIEW_DECISION_FIELD_NUMBER: _ClassVar[int]
    ANNOTATOR_IDS_FIELD_NUMBER: _ClassVar[int]
    REVIEWER_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    topic: str
    partition: int
    offset: int
    time: _timestamp_pb2.Timestamp
    consensus_method: str
    review_decision: str
    annotator_ids: _containers.RepeatedScalarFieldContainer[str]
    reviewer: str
    def __init__(self, event_id: _Optional[str] = ..., topic: _Optional[str] = ..., partition: _Optional[int] = ..., offset: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., consensus_method: _Optional[str] = ..., review_decision: _Optional[str] = ..., annotator_ids: _Optional[_Iterable[str]] = ..., reviewer: _Optional[str] = ...) -> None: ...

class LabelChange(_message.Message):
    __slots__ = ("kind", "item_id", "task_id", "label_id", "from_class_id", "to_class_id", "changed_fields", "from_event_id", "to_event_id", "blame")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    TO_CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    FROM_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TO_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    BLAME_FIELD_NUMBER: _ClassVar[int]
    kind: ChangeKind
    item_id: str
    task_id: str
    label_id: str
    from_class_id: str
    to_class_id: str
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    from_event_id: str
    to_event_id: str
    blame: _containers.RepeatedCompositeFieldContainer[BlameEvent]
    def __init__(self, kind: _Optional[_Union[ChangeKind, str]] = ..., item_id: _Optional[str] = ..., task_id: _Optional[str] = ..., label_id: _Optional[str] = ..., from_class_id: _Optional[str] = ..., to_class_id: _Optional[str] = ..., changed_fields: _Optional[_Iterable[str]] = ..., from_event_id: _Optional[str] = ..., to_event_id: _Optional[str] = ..., blame: _Optional[_Iterable[_Union[BlameEvent, _Mapping]]] = ...) -> None: ...

class DiffSummary(_message.Message):
    __slots__ = ("added", "removed", "changed", "unchanged")
    ADDED_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    added: int
    removed: int
    changed: int
    unchanged: int
    def __init__(self, added: _Optional[int] = ..., removed: _Optional[int] = ..., changed: _Optional[int] = ..., unchanged: _Optional[int] = ...) -> None: ...

class DiffDatasetVersionsResponse(_message.Message):
    __slots__ = ("summary", "changes", "next_page_token")
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    summary: DiffSummary
    changes: _containers.RepeatedCompositeFieldContainer[LabelChange]
    next_page_token: str
    def __init__(self, summary: _Optional[_Union[DiffSummary, _Mapping]] = ..., changes: _Optional[_Iterable[_Union[LabelChange, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ExportDatasetVersionRequest(_message.Message):
    __slots__ = ("dataset_id", "version", "format")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    version: int
    format: ExportFormat
    def __init__(self, dataset_id: _Optional[str] = ..., version: _Optional[int] = ..., format: _Optional[_Union[ExportFormat, str]] = ...) -> None: ...

class ExportFile(_message.Message):
    __slots__ = ("path", "size", "sha256")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    path: str
    size: int
    sha256: str
    def __init__(self, path: _Optional[str] = ..., size: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...

class ExportDatasetVersionResponse(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: ExportHeader
    chunk: ExportChunk
    def __init__(self, header: _Optional[_Union[ExportHeader, _Mapping]] = ..., chunk: _Optional[_Union[ExportChunk, _Mapping]] = ...) -> None: ...

class ExportHeader(_message.Message):
    __slots__ = ("format", "files", "stats_json")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    STATS_JSON_FIELD_NUMBER: _ClassVar[int]
    format: ExportFormat
    files: _containers.RepeatedCompositeFieldContainer[ExportFile]
    stats_json: str
    def __init__(self, format: _Optional[_Union[ExportFormat, str]] = ..., files: _Optional[_Iterable[_Union[ExportFile, _Mapping]]] = ..., stats_json: _Optional[str] = ...) -> None: ...

class ExportChunk(_message.Message):
    __slots__ = ("path", "offset", "data")
    PATH_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    path: str
    offset: int
    data: bytes
    def __init__(self, path: _Optional[str] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...
