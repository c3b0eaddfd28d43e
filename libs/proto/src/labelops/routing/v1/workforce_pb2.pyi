import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from labelops.labels.v1 import label_pb2 as _label_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PrelabelOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRELABEL_OUTCOME_UNSPECIFIED: _ClassVar[PrelabelOutcome]
    PRELABEL_OUTCOME_NONE: _ClassVar[PrelabelOutcome]
    PRELABEL_OUTCOME_ACCEPTED: _ClassVar[PrelabelOutcome]
    PRELABEL_OUTCOME_EDITED: _ClassVar[PrelabelOutcome]
    PRELABEL_OUTCOME_REPLACED: _ClassVar[PrelabelOutcome]

class SkipReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SKIP_REASON_UNSPECIFIED: _ClassVar[SkipReason]
    SKIP_REASON_UNCLEAR: _ClassVar[SkipReason]
    SKIP_REASON_BAD_DATA: _ClassVar[SkipReason]
    SKIP_REASON_NOT_QUALIFIED: _ClassVar[SkipReason]
    SKIP_REASON_OUT_OF_SCOPE: _ClassVar[SkipReason]
    SKIP_REASON_RELEASE: _ClassVar[SkipReason]
    SKIP_REASON_OTHER: _ClassVar[SkipReason]
PRELABEL_OUTCOME_UNSPECIFIED: PrelabelOutcome
PRELABEL_OUTCOME_NONE: PrelabelOutcome
PRELABEL_OUTCOME_ACCEPTED: PrelabelOutcome
PRELABEL_OUTCOME_EDITED: PrelabelOutcome
PRELABEL_OUTCOME_REPLACED: PrelabelOutcome
SKIP_REASON_UNSPECIFIED: SkipReason
SKIP_REASON_UNCLEAR: SkipReason
SKIP_REASON_BAD_DATA: SkipReason
SKIP_REASON_NOT_QUALIFIED: SkipReason
SKIP_REASON_OUT_OF_SCOPE: SkipReason
SKIP_REASON_RELEASE: SkipReason
SKIP_REASON_OTHER: SkipReason

class TaskOffer(_message.Message):
    __slots__ = ("assignment_id", "task_id", "project_id", "item_id", "item_uri", "modality", "item", "ontology_id", "ontology_version", "lease_expire_time", "prelabels", "annotator_id")
    ASSIGNMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_URI_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    ONTOLOGY_ID_FIELD_NUMBER: _ClassVar[int]
    ONTOLOGY_VERSION_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    PRELABELS_FIELD_NUMBER: _ClassVar[int]
    ANNOTATOR_ID_FIELD_NUMBER: _ClassVar[int]
    assignment_id: str
    task_id: str
    project_id: str
    item_id: str
    item_uri: str
    modality: str
    item: _label_pb2.ItemContext
    ontology_id: str
    ontology_version: str
    lease_expire_time: _timestamp_pb2.Timestamp
    prelabels: _containers.RepeatedCompositeFieldContainer[_label_pb2.Label]
    annotator_id: str
    def __init__(self, assignment_id: _Optional[str] = ..., task_id: _Optional[str] = ..., project_id: _Optional[str] = ..., item_id: _Optional[str] = ..., item_uri: _Optional[str] = ..., modality: _Optional[str] = ..., item: _Optional[_Union[_label_pb2.ItemContext, _Mapping]] = ..., ontology_id: _Optional[str] = ..., ontology_version: _Optional[str] = ..., lease_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., prelabels: _Optional[_Iterable[_Union[_label_pb2.Label, _Mapping]]] = ..., annotator_id: _Optional[str] = ...) -> None: ...

class LabelSubmission(_message.Message):
    __slots__ = ("assignment_id", "labels", "time_spent_ms", "prelabel_outcome", "note")
    ASSIGNMENT_ID_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    TIME_SPENT_MS_FIELD_NUMBER: _ClassVar[int]
    PRELABEL_OUTCOME_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    assignment_id: str
    labels: _label_pb2.ItemLabels
    time_spent_ms: int
    prelabel_outcome: PrelabelOutcome
    note: str
    def __init__(self, assignment_id: _Optional[str] = ..., labels: _Optional[_Union[_label_pb2.ItemLabels, _Mapping]] = ..., time_spent_ms: _Optional[int] = ..., prelabel_outcome: _Optional[_Union[PrelabelOutcome, str]] = ..., note: _Optional[str] = ...) -> None: ...

class SubmissionViolation(_message.Message):
    __slots__ = ("submission_index", "field", "description", "reason")
    SUBMISSION_INDEX_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    submission_index: int
    field: str
    description: str
    reason: str
    def __init__(self, submission_index: _Optional[int] = ..., field: _Optional[str] = ..., description: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class AcceptedLabel(_message.Message):
    __slots__ = ("assignment_id", "task_id", "event_id")
    ASSIGNMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    assignment_id: str
    task_id: str
    event_id: str
    def __init__(self, assignment_id: _Optional[str] = ..., task_id: _Optional[str] = ..., event_id: _Optional[str] = ...) -> None: ...

class ClaimTasksRequest(_message.Message):
    __slots__ = ("pool_id", "annotator_id", "max_tasks", "project_id")
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATOR_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_TASKS_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    pool_id: str
    annotator_id: str
    max_tasks: int
    project_id: str
    def __init__(self, pool_id: _Optional[str] = ..., annotator_id: _Optional[str] = ..., max_tasks: _Optional[int] = ..., project_id: _Optional[str] = ...) -> None: ...

class ClaimTasksResponse(_message.Message):
    __slots__ = ("offers",)
    OFFERS_FIELD_NUMBER: _ClassVar[int]
    offers: _containers.RepeatedCompositeFieldContainer[TaskOffer]
    def __init__(self, offers: _Optional[_Iterable[_Union[TaskOffer, _Mapping]]] = ...) -> None: ...

class SubmitLabelsRequest(_message.Message):
    __slots__ = ("request_id", "submissions")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SUBMISSIONS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    submissions: _containers.RepeatedCompositeFieldContainer[LabelSubmission]
    def __init__(self, request_id: _Optional[str] = ..., submissions: _Optional[_Iterable[_Union[LabelSubmission, _Mapping]]] = ...) -> None: ...

class SubmitLabelsResponse(_message.Message):
    __slots__ = ("accepted",)
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    accepted: _containers.RepeatedCompositeFieldContainer[AcceptedLabel]
    def __init__(self, accepted: _Optional[_Iterable[_Union[AcceptedLabel, _Mapping]]] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("assignment_ids",)
    ASSIGNMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    assignment_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, assignment_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("leases",)
    LEASES_FIELD_NUMBER: _ClassVar[int]
    leases: _containers.RepeatedCompositeFieldContainer[LeaseStatus]
    def __init__(self, leases: _Optional[_Iterable[_Union[LeaseStatus, _Mapping]]] = ...) -> None: ...

class LeaseStatus(_message.Message):
    __slots__ = ("assignment_id", "active", "lease_expire_time")
    ASSIGNMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    assignment_id: str
    active: bool
    lease_expire_time: _timestamp_pb2.Timestamp
    def __init__(self, assignment_id: _Optional[str] = ..., active: _Optional[bool] = ..., lease_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SkipTaskRequest(_message.Message):
    __slots__ = ("assignment_id", "reason", "note")
    ASSIGNMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    assignment_id: str
    reason: SkipReason
    note: str
    def __init__(self, assignment_id: _Optional[str] = ..., reason: _Optional[_Union[SkipReason, str]] = ..., note: _Optional[str] = ...) -> None: ...

class SkipTaskResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WorkRequest(_message.Message):
    __slots__ = ("correlation_id", "claim", "heartbeat", "submit", "skip")
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    CLAIM_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_FIELD_NUMBER: _ClassVar[int]
    SKIP_FIELD_NUMBER: _ClassVar[int]
    correlation_id: str
    claim: ClaimTasksRequest
    heartbeat: HeartbeatRequest
    submit: SubmitLabelsRequest
    skip: SkipTaskRequest
    def __init__(self, correlation_id: _Optional[str] = ..., claim: _Optional[_Union[ClaimTasksRequest, _Mapping]] = ..., heartbeat: _Optional[_Union[HeartbeatRequest, _Mapping]] = ..., submit: _Optional[_Union[SubmitLabelsRequest, _Mapping]] = ..., skip: _Optional[_Union[SkipTaskRequest, _Mapping]] = ...) -> None: ...

class StreamError(_message.Message):
    __slots__ = ("code", "reason", "message", "violations")
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    code: str
    reason: str
    message: str
    violations: _containers.RepeatedCompositeFieldContainer[SubmissionViolation]
    def __init__(self, code: _Optional[str] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., violations: _Optional[_Iterable[_Union[SubmissionViolation, _Mapping]]] = ...) -> None: ...

class WorkResponse(_message.Message):
    __slots__ = ("correlation_id", "offers", "heartbeat", "submitted", "skipped", "error")
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    OFFERS_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    correlation_id: str
    offers: ClaimTasksResponse
    heartbeat: HeartbeatResponse
    submitted: SubmitLabelsResponse
    skipped: SkipTaskResponse
    error: StreamError
    def __init__(self, correlation_id: _Optional[str] = ..., offers: _Optional[_Union[ClaimTasksResponse, _Mapping]] = ..., heartbeat: _Optional[_Union[HeartbeatResponse, _Mapping]] = ..., submitted: _Optional[_Union[SubmitLabelsResponse, _Mapping]] = ..., skipped: _Optional[_Union[SkipTaskResponse, _Mapping]] = ..., error: _Optional[_Union[StreamError, _Mapping]] = ...) -> None: ...
