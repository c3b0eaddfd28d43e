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

class PoolKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POOL_KIND_UNSPECIFIED: _ClassVar[PoolKind]
    POOL_KIND_IN_HOUSE: _ClassVar[PoolKind]
    POOL_KIND_VENDOR: _ClassVar[PoolKind]

class ReviewPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVIEW_POLICY_UNSPECIFIED: _ClassVar[ReviewPolicy]
    REVIEW_POLICY_NONE: _ClassVar[ReviewPolicy]
    REVIEW_POLICY_SAMPLED: _ClassVar[ReviewPolicy]
    REVIEW_POLICY_TARGETED: _ClassVar[ReviewPolicy]
    REVIEW_POLICY_ALL: _ClassVar[ReviewPolicy]

class TaskState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_STATE_UNSPECIFIED: _ClassVar[TaskState]
    TASK_STATE_QUEUED: _ClassVar[TaskState]
    TASK_STATE_IN_PROGRESS: _ClassVar[TaskState]
    TASK_STATE_LABELED: _ClassVar[TaskState]
    TASK_STATE_CANCELED: _ClassVar[TaskState]

class AssignmentState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSIGNMENT_STATE_UNSPECIFIED: _ClassVar[AssignmentState]
    ASSIGNMENT_STATE_ACTIVE: _ClassVar[AssignmentState]
    ASSIGNMENT_STATE_SUBMITTED: _ClassVar[AssignmentState]
    ASSIGNMENT_STATE_EXPIRED: _ClassVar[AssignmentState]
    ASSIGNMENT_STATE_SKIPPED: _ClassVar[AssignmentState]
    ASSIGNMENT_STATE_RELEASED: _ClassVar[AssignmentState]

class RuleOrder(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RULE_ORDER_UNSPECIFIED: _ClassVar[RuleOrder]
    RULE_ORDER_LISTED: _ClassVar[RuleOrder]
    RULE_ORDER_COST: _ClassVar[RuleOrder]
POOL_KIND_UNSPECIFIED: PoolKind
POOL_KIND_IN_HOUSE: PoolKind
POOL_KIND_VENDOR: PoolKind
REVIEW_POLICY_UNSPECIFIED: ReviewPolicy
REVIEW_POLICY_NONE: ReviewPolicy
REVIEW_POLICY_SAMPLED: ReviewPolicy
REVIEW_POLICY_TARGETED: ReviewPolicy
REVIEW_POLICY_ALL: ReviewPolicy
TASK_STATE_UNSPECIFIED: TaskState
TASK_STATE_QUEUED: TaskState
TASK_STATE_IN_PROGRESS: TaskState
TASK_STATE_LABELED: TaskState
TASK_STATE_CANCELED: TaskState
ASSIGNMENT_STATE_UNSPECIFIED: AssignmentState
ASSIGNMENT_STATE_ACTIVE: AssignmentState
ASSIGNMENT_STATE_SUBMITTED: AssignmentState
ASSIGNMENT_STATE_EXPIRED: AssignmentState
ASSIGNMENT_STATE_SKIPPED: AssignmentState
ASSIGNMENT_STATE_RELEASED: AssignmentState
RULE_ORDER_UNSPECIFIED: RuleOrder
RULE_ORDER_LISTED: RuleOrder
RULE_ORDER_COST: RuleOrder

class ClassOverlap(_message.Message):
    __slots__ = ("class_id", "sample_rate", "annotators")
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    ANNOTATORS_FIELD_NUMBER: _ClassVar[int]
    class_id: str
    sample_rate: float
    annotators: int
    def __init__(self, class_id: _Optional[str] = ..., sample_rate: _Optional[float] = ..., annotators: _Optional[int] = ...) -> None: ...

class OverlapPolicy(_message.Message):
    __slots__ = ("default_sample_rate", "default_annotators", "per_class")
    DEFAULT_SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_ANNOTATORS_FIELD_NUMBER: _ClassVar[int]
    PER_CLASS_FIELD_NUMBER: _ClassVar[int]
    default_sample_rate: float
    default_annotators: int
    per_class: _containers.RepeatedCompositeFieldContainer[ClassOverlap]
    def __init__(self, default_sample_rate: _Optional[float] = ..., default_annotators: _Optional[int] = ..., per_class: _Optional[_Iterable[_Union[ClassOverlap, _Mapping]]] = ...) -> None: ...

class WorkflowConfig(_message.Message):
    __slots__ = ("overlap", "review_policy", "review_sample_rate", "lease_seconds", "gold_rate", "max_tasks_per_claim", "prelabels_enabled", "high_stakes_classes")
    OVERLAP_FIELD_NUMBER: _ClassVar[int]
    REVIEW_POLICY_FIELD_NUMBER: _ClassVar[int]
    REVIEW_SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    LEASE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    GOLD_RATE_FIELD_NUMBER: _ClassVar[int]
    MAX_TASKS_PER_CLAIM_FIELD_NUMBER: _ClassVar[int]
    PRELABELS_ENABLED_FIELD_NUMBER: _ClassVar[int]
    HIGH_STAKES_CLASSES_FIELD_NUMBER: _ClassVar[int]
    overlap: OverlapPolicy
    review_policy: ReviewPolicy
    review_sample_rate: float
    lease_seconds: int
    gold_rate: float
    max_tasks_per_claim: int
    prelabels_enabled: bool
    high_stakes_classes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, overlap: _Optional[_Union[OverlapPolicy, _Mapping]] = ..., review_policy: _Optional[_Union[ReviewPolicy, str]] = ..., review_sample_rate: _Optional[float] = ..., lease_seconds: _Optional[int] = ..., gold_rate: _Optional[float] = ..., max_tasks_per_claim: _Optional[int] = ..., prelabels_enabled: _Optional[bool] = ..., high_stakes_classes: _Optional[_Iterable[str]] = ...) -> None: ...

class Project(_message.Message):
    __slots__ = ("project_id", "display_name", "dataset_id", "ontology_id", "ontology_version", "config", "config_version", "rules_version", "create_time", "tasks_total", "tasks_labeled")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ONTOLOGY_ID_FIELD_NUMBER: _ClassVar[int]
    ONTOLOGY_VERSION_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    RULES_VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    TASKS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    TASKS_LABELED_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    display_name: str
    dataset_id: str
    ontology_id: str
    ontology_version: str
    config: WorkflowConfig
    config_version: int
    rules_version: int
    create_time: _timestamp_pb2.Timestamp
    tasks_total: int
    tasks_labeled: int
    def __init__(self, project_id: _Optional[str] = ..., display_name: _Optional[str] = ..., dataset_id: _Optional[str] = ..., ontology_id: _Optional[str] = ..., ontology_version: _Optional[str] = ..., config: _Optional[_Union[WorkflowConfig, _Mapping]] = ..., config_version: _Optional[int] = ..., rules_version: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tasks_total: _Optional[int] = ..., tasks_labeled: _Optional[int] = ...) -> None: ...

class Pool(_message.Message):
    __slots__ = ("pool_id", "display_name", "kind", "vendor_id", "capacity", "cost_per_task", "qualified_classes", "active", "outstanding")
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    VENDOR_ID_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    COST_PER_TASK_FIELD_NUMBER: _ClassVar[int]
    QUALIFIED_CLASSES_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_FIELD_NUMBER: _ClassVar[int]
    pool_id: str
    display_name: str
    kind: PoolKind
    vendor_id: str
    capacity: int
    cost_per_task: float
    qualified_classes: _containers.RepeatedScalarFieldContainer[str]
    active: bool
    outstanding: int
    def __init__(self, pool_id: _Optional[str] = ..., display_name: _Optional[str] = ..., kind: _Optional[_Union[PoolKind, str]] = ..., vendor_id: _Optional[str] = ..., capacity: _Optional[int] = ..., cost_per_task: _Optional[float] = ..., qualified_classes: _Optional[_Iterable[str]] = ..., active: _Optional[bool] = ..., outstanding: _Optional[int] = ...) -> None: ...

class Annotator(_message.Message):
    __slots__ = ("annotator_id", "pool_id", "display_name", "skills", "active")
    ANNOTATOR_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    annotator_id: str
    pool_id: str
    display_name: str
    skills: _containers.RepeatedScalarFieldContainer[str]
    active: bool
    def __init__(self, annotator_id: _Optional[str] = ..., pool_id: _Optional[str] = ..., display_name: _Optional[str] = ..., skills: _Optional[_Iterable[str]] = ..., active: _Optional[bool] = ...) -> None: ...

class RuleCondition(_message.Message):
    __slots__ = ("class_ids", "min_confidence", "max_confidence", "min_ambiguity", "high_stakes", "has_prelabel")
    CLASS_IDS_FIELD_NUMBER: _ClassVar[int]
    MIN_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    MAX_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    MIN_AMBIGUITY_FIELD_NUMBER: _ClassVar[int]
    HIGH_STAKES_FIELD_NUMBER: _ClassVar[int]
    HAS_PRELABEL_FIELD_NUMBER: _ClassVar[int]
    class_ids: _containers.RepeatedScalarFieldContainer[str]
    min_confidence: float
    max_confidence: float
    min_ambiguity: float
    high_stakes: bool
    has_prelabel: bool
    def __init__(self, class_ids: _Optional[_Iterable[str]] = ..., min_confidence: _Optional[float] = ..., max_confidence: _Optional[float] = ..., min_ambiguity: _Optional[float] = ..., high_stakes: _Optional[bool] = ..., has_prelabel: _Optional[bool] = ...) -> None: ...

class RoutingRule(_message.Message):
    __slots__ = ("name", "when", "pools", "order")
    NAME_FIELD_NUMBER: _ClassVar[int]
    WHEN_FIELD_NUMBER: _ClassVar[int]
    POOLS_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    name: str
    when: RuleCondition
    pools: _containers.RepeatedScalarFieldContainer[str]
    order: RuleOrder
    def __init__(self, name: _Optional[str] = ..., when: _Optional[_Union[RuleCondition, _Mapping]] = ..., pools: _Optional[_Iterable[str]] = ..., order: _Optional[_Union[RuleOrder, str]] = ...) -> None: ...

class RoutingRules(_message.Message):
    __slots__ = ("version", "rules", "default_pools")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_POOLS_FIELD_NUMBER: _ClassVar[int]
    version: int
    rules: _containers.RepeatedCompositeFieldContainer[RoutingRule]
    default_pools: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, version: _Optional[int] = ..., rules: _Optional[_Iterable[_Union[RoutingRule, _Mapping]]] = ..., default_pools: _Optional[_Iterable[str]] = ...) -> None: ...

class TaskSignals(_message.Message):
    __slots__ = ("class_id", "confidence", "ambiguity", "high_stakes", "priority", "due_time")
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    AMBIGUITY_FIELD_NUMBER: _ClassVar[int]
    HIGH_STAKES_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    DUE_TIME_FIELD_NUMBER: _ClassVar[int]
    class_id: str
    confidence: float
    ambiguity: float
    high_stakes: bool
    priority: float
    due_time: _timestamp_pb2.Timestamp
    def __init__(self, class_id: _Optional[str] = ..., confidence: _Optional[float] = ..., ambiguity: _Optional[float] = ..., high_stakes: _Optional[bool] = ..., priority: _Optional[float] = ..., due_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Task(_message.Message):
    __slots__ = ("task_id", "project_id", "item_id", "item_uri", "modality", "state", "required_labels", "labels_submitted", "active_leases", "pool_id", "route_rule", "route_reason", "signals", "gold", "create_time", "update_time", "assignments")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_URI_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_LABELS_FIELD_NUMBER: _ClassVar[int]
    LABELS_SUBMITTED_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_LEASES_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    ROUTE_RULE_FIELD_NUMBER: _ClassVar[int]
    ROUTE_REASON_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    GOLD_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENTS_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    project_id: str
    item_id: str
    item_uri: str
    modality: str
    state: TaskState
    required_labels: int
    labels_submitted: int
    active_leases: int
    pool_id: str
    route_rule: str
    route_reason: str
    signals: TaskSignals
    gold: bool
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    assignments: _containers.RepeatedCompositeFieldContainer[Assignment]
    def __init__(self, task_id: _Optional[str] = ..., project_id: _Optional[str] = ..., item_id: _Optional[str] = ..., item_uri: _Optional[str] = ..., modality: _Optional[str] = ..., state: _Optional[_Union[TaskState, str]] = ..., required_labels: _Optional[int] = ..., labels_submitted: _Optional[int] = ..., active_leases: _Optional[int] = ..., pool_id: _Optional[str] = ..., route_rule: _Optional[str] = ..., route_reason: _Optional[str] = ..., signals: _Optional[_Union[TaskSignals, _Mapping]] = ..., gold: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., assignments: _Optional[_Iterable[_Union[Assignment, _Mapping]]] = ...) -> None: ...

class Assignment(_message.Message):
    __slots__ = ("assignment_id", "task_id", "annotator_id", "pool_id", "state", "lease_expire_time", "reason")
    ASSIGNMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATOR_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    assignment_id: str
    task_id: str
    annotator_id: str
    pool_id: str
    state: AssignmentState
    lease_expire_time: _timestamp_pb2.Timestamp
    reason: str
    def __init__(self, assignment_id: _Optional[str] = ..., task_id: _Optional[str] = ..., annotator_id: _Optional[str] = ..., pool_id: _Optional[str] = ..., state: _Optional[_Union[AssignmentState, str]] = ..., lease_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class CreateProjectRequest(_message.Message):
    __slots__ = ("project_id", "display_name", "dataset_id", "ontology_id", "ontology_version", "config", "rules", "request_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    ONTOLOGY_ID_FIELD_NUMBER: _ClassVar[int]
    ONTOLOGY_VERSION_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    display_name: str
    dataset_id: str
    ontology_id: str
    ontology_version: str
    config: WorkflowConfig
    rules: RoutingRules
    request_id: str
    def __init__(self, project_id: _Optional[str] = ..., display_name: _Optional[str] = ..., dataset_id: _Optional[str] = ..., ontology_id: _Optional[str] = ..., ontology_version: _Optional[str] = ..., config: _Optional[_Union[WorkflowConfig, _Mapping]] = ..., rules: _Optional[_Union[RoutingRules, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateProjectResponse(_message.Message):
    __slots__ = ("project", "rules", "tasks_created")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    TASKS_CREATED_FIELD_NUMBER: _ClassVar[int]
    project: Project
    rules: RoutingRules
    tasks_created: int
    def __init__(self, project: _Optional[_Union[Project, _Mapping]] = ..., rules: _Optional[_Union[RoutingRules, _Mapping]] = ..., tasks_created: _Optional[int] = ...) -> None: ...

class GetProjectRequest(_message.Message):
    __slots__ = ("project_id",)
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    def __init__(self, project_id: _Optional[str] = ...) -> None: ...

class GetProjectResponse(_message.Message):
    __slots__ = ("project", "rules")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    project: Project
    rules: RoutingRules
    def __init__(self, project: _Optional[_Union[Project, _Mapping]] = ..., rules: _Optional[_Union[RoutingRules, _Mapping]] = ...) -> None: ...

class ListProjectsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListProjectsResponse(_message.Message):
    __slots__ = ("projects", "next_page_token")
    PROJECTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    projects: _containers.RepeatedCompositeFieldContainer[Project]
    next_page_token: str
    def __init__(self, projects: _Optional[_Iterable[_Union[Project, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateProjectConfigRequest(_message.Message):
    __slots__ = ("project_id", "config", "expected_config_version", "request_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    config: WorkflowConfig
    expected_config_version: int
    request_id: str
    def __init__(self, project_id: _Optional[str] = ..., config: _Optional[_Union[WorkflowConfig, _Mapping]] = ..., expected_config_version: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class UpdateProjectConfigResponse(_message.Message):
    __slots__ = ("project",)
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    project: Project
    def __init__(self, project: _Optional[_Union[Project, _Mapping]] = ...) -> None: ...

class SetRoutingRulesRequest(_message.Message):
    __slots__ = ("project_id", "rules", "expected_version", "request_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    rules: RoutingRules
    expected_version: int
    request_id: str
    def __init__(self, project_id: _Optional[str] = ..., rules: _Optional[_Union[RoutingRules, _Mapping]] = ..., expected_version: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class SetRoutingRulesResponse(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: RoutingRules
    def __init__(self, rules: _Optional[_Union[RoutingRules, _Mapping]] = ...) -> None: ...

class CreatePoolRequest(_message.Message):
    __slots__ = ("pool",)
    POOL_FIELD_NUMBER: _ClassVar[int]
    pool: Pool
    def __init__(self, pool: _Optional[_Union[Pool, _Mapping]] = ...) -> None: ...

class CreatePoolResponse(_message.Message):
    __slots__ = ("pool",)
    POOL_FIELD_NUMBER: _ClassVar[int]
    pool: Pool
    def __init__(self, pool: _Optional[_Union[Pool, _Mapping]] = ...) -> None: ...

class UpdatePoolRequest(_message.Message):
    __slots__ = ("pool",)
    POOL_FIELD_NUMBER: _ClassVar[int]
    pool: Pool
    def __init__(self, pool: _Optional[_Union[Pool, _Mapping]] = ...) -> None: ...

class UpdatePoolResponse(_message.Message):
    __slots__ = ("pool",)
    POOL_FIELD_NUMBER: _ClassVar[int]
    pool: Pool
    def __init__(self, pool: _Optional[_Union[Pool, _Mapping]] = ...) -> None: ...

class ListPoolsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPoolsResponse(_message.Message):
    __slots__ = ("pools",)
    POOLS_FIELD_NUMBER: _ClassVar[int]
    pools: _containers.RepeatedCompositeFieldContainer[Pool]
    def __init__(self, pools: _Optional[_Iterable[_Union[Pool, _Mapping]]] = ...) -> None: ...

class RegisterAnnotatorRequest(_message.Message):
    __slots__ = ("annotator",)
    ANNOTATOR_FIELD_NUMBER: _ClassVar[int]
    annotator: Annotator
    def __init__(self, annotator: _Optional[_Union[Annotator, _Mapping]] = ...) -> None: ...

class RegisterAnnotatorResponse(_message.Message):
    __slots__ = ("annotator",)
    ANNOTATOR_FIELD_NUMBER: _ClassVar[int]
    annotator: Annotator
    def __init__(self, annotator: _Optional[_Union[Annotator, _Mapping]] = ...) -> None: ...

class ListAnnotatorsRequest(_message.Message):
    __slots__ = ("pool_id",)
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    pool_id: str
    def __init__(self, pool_id: _Optional[str] = ...) -> None: ...

class ListAnnotatorsResponse(_message.Message):
    __slots__ = ("annotators",)
    ANNOTATORS_FIELD_NUMBER: _ClassVar[int]
    annotators: _containers.RepeatedCompositeFieldContainer[Annotator]
    def __init__(self, annotators: _Optional[_Iterable[_Union[Annotator, _Mapping]]] = ...) -> None: ...

class TaskItem(_message.Message):
    __slots__ = ("item_id", "uri", "modality", "signals", "context", "prelabels")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    PRELABELS_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    uri: str
    modality: str
    signals: TaskSignals
    context: _label_pb2.ItemContext
    prelabels: _containers.RepeatedCompositeFieldContainer[_label_pb2.Label]
    def __init__(self, item_id: _Optional[str] = ..., uri: _Optional[str] = ..., modality: _Optional[str] = ..., signals: _Optional[_Union[TaskSignals, _Mapping]] = ..., context: _Optional[_Union[_label_pb2.ItemContext, _Mapping]] = ..., prelabels: _Optional[_Iterable[_Union[_label_pb2.Label, _Mapping]]] = ...) -> None: ...

class CreateTasksRequest(_message.Message):
    __slots__ = ("project_id", "items", "request_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    items: _containers.RepeatedCompositeFieldContainer[TaskItem]
    request_id: str
    def __init__(self, project_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[TaskItem, _Mapping]]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateTasksResponse(_message.Message):
    __slots__ = ("tasks_created", "tasks_existing", "task_ids")
    TASKS_CREATED_FIELD_NUMBER: _ClassVar[int]
    TASKS_EXISTING_FIELD_NUMBER: _ClassVar[int]
    TASK_IDS_FIELD_NUMBER: _ClassVar[int]
    tasks_created: int
    tasks_existing: int
    task_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tasks_created: _Optional[int] = ..., tasks_existing: _Optional[int] = ..., task_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GoldItem(_message.Message):
    __slots__ = ("item", "expected")
    ITEM_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_FIELD_NUMBER: _ClassVar[int]
    item: TaskItem
    expected: _label_pb2.ItemLabels
    def __init__(self, item: _Optional[_Union[TaskItem, _Mapping]] = ..., expected: _Optional[_Union[_label_pb2.ItemLabels, _Mapping]] = ...) -> None: ...

class AddGoldTasksRequest(_message.Message):
    __slots__ = ("project_id", "items", "request_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    items: _containers.RepeatedCompositeFieldContainer[GoldItem]
    request_id: str
    def __init__(self, project_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[GoldItem, _Mapping]]] = ..., request_id: _Optional[str] = ...) -> None: ...

class AddGoldTasksResponse(_message.Message):
    __slots__ = ("task_ids",)
    TASK_IDS_FIELD_NUMBER: _ClassVar[int]
    task_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, task_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class TaskSignalsUpdate(_message.Message):
    __slots__ = ("task_id", "signals", "prelabels")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    PRELABELS_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    signals: TaskSignals
    prelabels: _containers.RepeatedCompositeFieldContainer[_label_pb2.Label]
    def __init__(self, task_id: _Optional[str] = ..., signals: _Optional[_Union[TaskSignals, _Mapping]] = ..., prelabels: _Optional[_Iterable[_Union[_label_pb2.Label, _Mapping]]] = ...) -> None: ...

class UpdateTaskSignalsRequest(_message.Message):
    __slots__ = ("project_id", "updates", "request_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    updates: _containers.RepeatedCompositeFieldContainer[TaskSignalsUpdate]
    request_id: str
    def __init__(self, project_id: _Optional[str] = ..., updates: _Optional[_Iterable[_Union[TaskSignalsUpdate, _Mapping]]] = ..., request_id: _Optional[str] = ...) -> None: ...

class UpdateTaskSignalsResponse(_message.Message):
    __slots__ = ("tasks_updated", "tasks_rerouted")
    TASKS_UPDATED_FIELD_NUMBER: _ClassVar[int]
    TASKS_REROUTED_FIELD_NUMBER: _ClassVar[int]
    tasks_updated: int
    tasks_rerouted: int
    def __init__(self, tasks_updated: _Optional[int] = ..., tasks_rerouted: _Optional[int] = ...) -> None: ...

class GetTaskRequest(_message.Message):
    __slots__ = ("project_id", "task_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    task_id: str
    def __init__(self, project_id: _Optional[str] = ..., task_id: _Optional[str] = ...) -> None: ...

class GetTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class ListTasksRequest(_message.Message):
    __slots__ = ("project_id", "states", "pool_id", "page_size", "page_token")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    states: _containers.RepeatedScalarFieldContainer[TaskState]
    pool_id: str
    page_size: int
    page_token: str
    def __init__(self, project_id: _Optional[str] = ..., states: _Optional[_Iterable[_Union[TaskState, str]]] = ..., pool_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTasksResponse(_message.Message):
    __slots__ = ("tasks", "next_page_token")
    TASKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[Task]
    next_page_token: str
    def __init__(self, tasks: _Optional[_Iterable[_Union[Task, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetQueueStatsRequest(_message.Message):
    __slots__ = ("project_id",)
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    def __init__(self, project_id: _Optional[str] = ...) -> None: ...

class QueueStats(_message.Message):
    __slots__ = ("pool_id", "depth", "active_leases", "outstanding", "oldest_age_seconds", "no_eligible_annotator", "no_eligible_annotator_task_ids", "flags")
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_LEASES_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_FIELD_NUMBER: _ClassVar[int]
    OLDEST_AGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    NO_ELIGIBLE_ANNOTATOR_FIELD_NUMBER: _ClassVar[int]
    NO_ELIGIBLE_ANNOTATOR_TASK_IDS_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    pool_id: str
    depth: int
    active_leases: int
    outstanding: int
    oldest_age_seconds: float
    no_eligible_annotator: int
    no_eligible_annotator_task_ids: _containers.RepeatedScalarFieldContainer[str]
    flags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, pool_id: _Optional[str] = ..., depth: _Optional[int] = ..., active_leases: _Optional[int] = ..., outstanding: _Optional[int] = ..., oldest_age_seconds: _Optional[float] = ..., no_eligible_annotator: _Optional[int] = ..., no_eligible_annotator_task_ids: _Optional[_Iterable[str]] = ..., flags: _Optional[_Iterable[str]] = ...) -> None: ...

class GetQueueStatsResponse(_message.Message):
    __slots__ = ("pools",)
    POOLS_FIELD_NUMBER: _ClassVar[int]
    pools: _containers.RepeatedCompositeFieldContainer[QueueStats]
    def __init__(self, pools: _Optional[_Iterable[_Union[QueueStats, _Mapping]]] = ...) -> None: ...
