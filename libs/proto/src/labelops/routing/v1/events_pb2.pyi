import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from labelops.labels.v1 import label_pb2 as _label_pb2
from labelops.routing.v1 import routing_pb2 as _routing_pb2
from labelops.routing.v1 import workforce_pb2 as _workforce_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProjectCreated(_message.Message):
    __slots__ = ("project", "rules")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    project: _routing_pb2.Project
    rules: _routing_pb2.RoutingRules
    def __init__(self, project: _Optional[_Union[_routing_pb2.Project, _Mapping]] = ..., rules: _Optional[_Union[_routing_pb2.RoutingRules, _Mapping]] = ...) -> None: ...

class ProjectConfigUpdated(_message.Message):
    __slots__ = ("project_id", "config", "config_version")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    config: _routing_pb2.WorkflowConfig
    config_version: int
    def __init__(self, project_id: _Optional[str] = ..., config: _Optional[_Union[_routing_pb2.WorkflowConfig, _Mapping]] = ..., config_version: _Optional[int] = ...) -> None: ...

class RoutingRulesSet(_message.Message):
    __slots__ = ("project_id", "rules")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    rules: _routing_pb2.RoutingRules
    def __init__(self, project_id: _Optional[str] = ..., rules: _Optional[_Union[_routing_pb2.RoutingRules, _Mapping]] = ...) -> None: ...

class PoolCreated(_message.Message):
    __slots__ = ("pool",)
    POOL_FIELD_NUMBER: _ClassVar[int]
    pool: _routing_pb2.Pool
    def __init__(self, pool: _Optional[_Union[_routing_pb2.Pool, _Mapping]] = ...) -> None: ...

class PoolUpdated(_message.Message):
    __slots__ = ("pool",)
    POOL_FIELD_NUMBER: _ClassVar[int]
    pool: _routing_pb2.Pool
    def __init__(self, pool: _Optional[_Union[_routing_pb2.Pool, _Mapping]] = ...) -> None: ...

class AnnotatorRegistered(_message.Message):
    __slots__ = ("annotator",)
    ANNOTATOR_FIELD_NUMBER: _ClassVar[int]
    annotator: _routing_pb2.Annotator
    def __init__(self, annotator: _Optional[_Union[_routing_pb2.Annotator, _Mapping]] = ...) -> None: ...

class TaskCreated(_message.Message):
    __slots__ = ("project_id", "task_id", "item_id", "item_uri", "modality", "context", "required_labels", "signals", "pool_id", "route_rule", "route_reason", "overflowed", "rules_version", "gold", "gold_expected", "ontology_id", "ontology_version")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_URI_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_LABELS_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    ROUTE_RULE_FIELD_NUMBER: _ClassVar[int]
    ROUTE_REASON_FIELD_NUMBER: _ClassVar[int]
    OVERFLOWED_FIELD_NUMBER: _ClassVar[int]
    RULES_VERSION_FIELD_NUMBER: _ClassVar[int]
    GOLD_FIELD_NUMBER: _ClassVar[int]
    GOLD_EXPECTED_FIELD_NUMBER: _ClassVar[int]
    ONTOLOGY_ID_FIELD_NUMBER: _ClassVar[int]
    ONTOLOGY_VERSION_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    task_id: str
    item_id: str
    item_uri: str
    modality: str
    context: _label_pb2.ItemContext
    required_labels: int
    signals: _routing_pb2.TaskSignals
    pool_id: str
    route_rule: str
    route_reason: str
    overflowed: bool
    rules_version: int
    gold: bool
    gold_expected: _label_pb2.ItemLabels
    ontology_id: str
    ontology_version: str
    def __init__(self, project_id: _Optional[str] = ..., task_id: _Optional[str] = ..., item_id: _Optional[str] = ..., item_uri: _Optional[str] = ..., modality: _Optional[str] = ..., context: _Optional[_Union[_label_pb2.ItemContext, _Mapping]] = ..., required_labels: _Optional[int] = ..., signals: _Optional[_Union[_routing_pb2.TaskSignals, _Mapping]] = ..., pool_id: _Optional[str] = ..., route_rule: _Optional[str] = ..., route_reason: _Optional[str] = ..., overflowed: _Optional[bool] = ..., rules_version: _Optional[int] = ..., gold: _Optional[bool] = ..., gold_expected: _Optional[_Union[_label_pb2.ItemLabels, _Mapping]] = ..., ontology_id: _Optional[str] = ..., ontology_version: _Optional[str] = ...) -> None: ...

class TaskRerouted(_message.Message):
    __slots__ = ("project_id", "task_id", "from_pool_id", "pool_id", "route_rule", "route_reason", "signals", "rules_version")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_POOL_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    ROUTE_RULE_FIELD_NUMBER: _ClassVar[int]
    ROUTE_REASON_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    RULES_VERSION_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    task_id: str
    from_pool_id: str
    pool_id: str
    route_rule: str
    route_reason: str
    signals: _routing_pb2.TaskSignals
    rules_version: int
    def __init__(self, project_id: _Optional[str] = ..., task_id: _Optional[str] = ..., from_pool_id: _Optional[str] = ..., pool_id: _Optional[str] = ..., route_rule: _Optional[str] = ..., route_reason: _Optional[str] = ..., signals: _Optional[_Union[_routing_pb2.TaskSignals, _Mapping]] = ..., rules_version: _Optional[int] = ...) -> None: ...

class TaskAssigned(_message.Message):
    __slots__ = ("project_id", "task_id", "assignment_id", "annotator_id", "pool_id", "vendor_id", "lease_expire_time")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATOR_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    VENDOR_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    task_id: str
    assignment_id: str
    annotator_id: str
    pool_id: str
    vendor_id: str
    lease_expire_time: _timestamp_pb2.Timestamp
    def __init__(self, project_id: _Optional[str] = ..., task_id: _Optional[str] = ..., assignment_id: _Optional[str] = ..., annotator_id: _Optional[str] = ..., pool_id: _Optional[str] = ..., vendor_id: _Optional[str] = ..., lease_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LeaseExpired(_message.Message):
    __slots__ = ("project_id", "task_id", "assignment_id", "annotator_id", "pool_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATOR_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    task_id: str
    assignment_id: str
    annotator_id: str
    pool_id: str
    def __init__(self, project_id: _Optional[str] = ..., task_id: _Optional[str] = ..., assignment_id: _Optional[str] = ..., annotator_id: _Optional[str] = ..., pool_id: _Optional[str] = ...) -> None: ...

class TaskSkipped(_message.Message):
    __slots__ = ("project_id", "task_id", "assignment_id", "annotator_id", "pool_id", "reason", "note")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATOR_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    task_id: str
    assignment_id: str
    annotator_id: str
    pool_id: str
    reason: _workforce_pb2.SkipReason
    note: str
    def __init__(self, project_id: _Optional[str] = ..., task_id: _Optional[str] = ..., assignment_id: _Optional[str] = ..., annotator_id: _Optional[str] = ..., pool_id: _Optional[str] = ..., reason: _Optional[_Union[_workforce_pb2.SkipReason, str]] = ..., note: _Optional[str] = ...) -> None: ...

class LabelSubmitted(_message.Message):
    __slots__ = ("project_id", "task_id", "item_id", "assignment_id", "annotator_id", "pool_id", "vendor_id", "ontology_id", "ontology_version", "labels", "time_spent_ms", "prelabel_outcome", "note", "gold", "submit_request_id", "required_labels", "labels_submitted", "task_labeled", "annotator_ids", "prelabel_model", "prelabel_model_version")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATOR_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    VENDOR_ID_FIELD_NUMBER: _ClassVar[int]
    ONTOLOGY_ID_FIELD_NUMBER: _ClassVar[int]
    ONTOLOGY_VERSION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    TIME_SPENT_MS_FIELD_NUMBER: _ClassVar[int]
    PRELABEL_OUTCOME_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    GOLD_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_LABELS_FIELD_NUMBER: _ClassVar[int]
    LABELS_SUBMITTED_FIELD_NUMBER: _ClassVar[int]
    TASK_LABELED_FIELD_NUMBER: _ClassVar[int]
    ANNOTATOR_IDS_FIELD_NUMBER: _ClassVar[int]
    PRELABEL_MODEL_FIELD_NUMBER: _ClassVar[int]
    PRELABEL_MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    task_id: str
    item_id: str
    assignment_id: str
    annotator_id: str
    pool_id: str
    vendor_id: str
    ontology_id: str
    ontology_version: str
    labels: _label_pb2.ItemLabels
    time_spent_ms: int
    prelabel_outcome: _workforce_pb2.PrelabelOutcome
    note: str
    gold: bool
    submit_request_id: str
    required_labels: int
    labels_submitted: int
    task_labeled: bool
    annotator_ids: _containers.RepeatedScalarFieldContainer[str]
    prelabel_model: str
    prelabel_model_version: str
    def __init__(self, project_id: _Optional[str] = ..., task_id: _Optional[str] = ..., item_id: _Optional[str] = ..., assignment_id: _Optional[str] = ..., annotator_id: _Optional[str] = ..., pool_id: _Optional[str] = ..., vendor_id: _Optional[str] = ..., ontology_id: _Optional[str] = ..., ontology_version: _Optional[str] = ..., labels: _Optional[_Union[_label_pb2.ItemLabels, _Mapping]] = ..., time_spent_ms: _Optional[int] = ..., prelabel_outcome: _Optional[_Union[_workforce_pb2.PrelabelOutcome, str]] = ..., note: _Optional[str] = ..., gold: _Optional[bool] = ..., submit_request_id: _Optional[str] = ..., required_labels: _Optional[int] = ..., labels_submitted: _Optional[int] = ..., task_labeled: _Optional[bool] = ..., annotator_ids: _Optional[_Iterable[str]] = ..., prelabel_model: _Optional[str] = ..., prelabel_model_version: _Optional[str] = ...) -> None: ...

class TaskCanceled(_message.Message):
    __slots__ = ("project_id", "task_id", "item_id", "reason")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    task_id: str
    item_id: str
    reason: str
    def __init__(self, project_id: _Optional[str] = ..., task_id: _Optional[str] = ..., item_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class TaskReopened(_message.Message):
    __slots__ = ("project_id", "task_id", "item_id", "reason", "required_labels")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_LABELS_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    task_id: str
    item_id: str
    reason: str
    required_labels: int
    def __init__(self, project_id: _Optional[str] = ..., task_id: _Optional[str] = ..., item_id: _Optional[str] = ..., reason: _Optional[str] = ..., required_labels: _Optional[int] = ...) -> None: ...
