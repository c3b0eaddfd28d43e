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

class ConsensusMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONSENSUS_METHOD_UNSPECIFIED: _ClassVar[ConsensusMethod]
    CONSENSUS_METHOD_MAJORITY_VOTE: _ClassVar[ConsensusMethod]
    CONSENSUS_METHOD_WEIGHTED_VOTE: _ClassVar[ConsensusMethod]
    CONSENSUS_METHOD_DAWID_SKENE: _ClassVar[ConsensusMethod]

class ReviewDecision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVIEW_DECISION_UNSPECIFIED: _ClassVar[ReviewDecision]
    REVIEW_DECISION_ACCEPT: _ClassVar[ReviewDecision]
    REVIEW_DECISION_FIX_AND_ACCEPT: _ClassVar[ReviewDecision]
    REVIEW_DECISION_REJECT: _ClassVar[ReviewDecision]

class TaskQualityState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_QUALITY_STATE_UNSPECIFIED: _ClassVar[TaskQualityState]
    TASK_QUALITY_STATE_LABELING: _ClassVar[TaskQualityState]
    TASK_QUALITY_STATE_IN_REVIEW: _ClassVar[TaskQualityState]
    TASK_QUALITY_STATE_ACCEPTED: _ClassVar[TaskQualityState]
    TASK_QUALITY_STATE_REJECTED: _ClassVar[TaskQualityState]

class MeasurementLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEASUREMENT_LEVEL_UNSPECIFIED: _ClassVar[MeasurementLevel]
    MEASUREMENT_LEVEL_NOMINAL: _ClassVar[MeasurementLevel]
    MEASUREMENT_LEVEL_INTERVAL: _ClassVar[MeasurementLevel]
CONSENSUS_METHOD_UNSPECIFIED: ConsensusMethod
CONSENSUS_METHOD_MAJORITY_VOTE: ConsensusMethod
CONSENSUS_METHOD_WEIGHTED_VOTE: ConsensusMethod
CONSENSUS_METHOD_DAWID_SKENE: ConsensusMethod
REVIEW_DECISION_UNSPECIFIED: ReviewDecision
REVIEW_DECISION_ACCEPT: ReviewDecision
REVIEW_DECISION_FIX_AND_ACCEPT: ReviewDecision
REVIEW_DECISION_REJECT: ReviewDecision
TASK_QUALITY_STATE_UNSPECIFIED: TaskQualityState
TASK_QUALITY_STATE_LABELING: TaskQualityState
TASK_QUALITY_STATE_IN_REVIEW: TaskQualityState
TASK_QUALITY_STATE_ACCEPTED: TaskQualityState
TASK_QUALITY_STATE_REJECTED: TaskQualityState
MEASUREMENT_LEVEL_UNSPECIFIED: MeasurementLevel
MEASUREMENT_LEVEL_NOMINAL: MeasurementLevel
MEASUREMENT_LEVEL_INTERVAL: MeasurementLevel

class Consensus(_message.Message):
    __slots__ = ("run_id", "task_id", "item_id", "method", "labels", "score", "annotator_ids", "create_time")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    ANNOTATOR_IDS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    task_id: str
    item_id: str
    method: ConsensusMethod
    labels: _label_pb2.ItemLabels
    score: float
    annotator_ids: _containers.RepeatedScalarFieldContainer[str]
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, run_id: _Optional[str] = ..., task_id: _Optional[str] = ..., item_id: _Optional[str] = ..., method: _Optional[_Union[ConsensusMethod, str]] = ..., labels: _Optional[_Union[_label_pb2.ItemLabels, _Mapping]] = ..., score: _Optional[float] = ..., annotator_ids: _Optional[_Iterable[str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TaskQuality(_message.Message):
    __slots__ = ("project_id", "task_id", "item_id", "state", "required_labels", "labels_received", "consensus", "review_reason", "review_decision", "reviewer", "candidates")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_LABELS_FIELD_NUMBER: _ClassVar[int]
    LABELS_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    CONSENSUS_FIELD_NUMBER: _ClassVar[int]
    REVIEW_REASON_FIELD_NUMBER: _ClassVar[int]
    REVIEW_DECISION_FIELD_NUMBER: _ClassVar[int]
    REVIEWER_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    task_id: str
    item_id: str
    state: TaskQualityState
    required_labels: int
    labels_received: int
    consensus: Consensus
    review_reason: str
    review_decision: ReviewDecision
    reviewer: str
    candidates: _containers.RepeatedCompositeFieldContainer[Candidate]
    def __init__(self, project_id: _Optional[str] = ..., task_id: _Optional[str] = ..., item_id: _Optional[str] = ..., state: _Optional[_Union[TaskQualityState, str]] = ..., required_labels: _Optional[int] = ..., labels_received: _Optional[int] = ..., consensus: _Optional[_Union[Consensus, _Mapping]] = ..., review_reason: _Optional[str] = ..., review_decision: _Optional[_Union[ReviewDecision, str]] = ..., reviewer: _Optional[str] = ..., candidates: _Optional[_Iterable[_Union[Candidate, _Mapping]]] = ...) -> None: ...

class Candidate(_message.Message):
    __slots__ = ("annotator_id", "labels", "label_event_id")
    ANNOTATOR_ID_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    LABEL_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    annotator_id: str
    labels: _label_pb2.ItemLabels
    label_event_id: str
    def __init__(self, annotator_id: _Optional[str] = ..., labels: _Optional[_Union[_label_pb2.ItemLabels, _Mapping]] = ..., label_event_id: _Optional[str] = ...) -> None: ...

class GetTaskQualityRequest(_message.Message):
    __slots__ = ("project_id", "task_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    task_id: str
    def __init__(self, project_id: _Optional[str] = ..., task_id: _Optional[str] = ...) -> None: ...

class GetTaskQualityResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: TaskQuality
    def __init__(self, task: _Optional[_Union[TaskQuality, _Mapping]] = ...) -> None: ...

class RunConsensusRequest(_message.Message):
    __slots__ = ("project_id", "method", "request_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    method: ConsensusMethod
    request_id: str
    def __init__(self, project_id: _Optional[str] = ..., method: _Optional[_Union[ConsensusMethod, str]] = ..., request_id: _Optional[str] = ...) -> None: ...

class RunConsensusResponse(_message.Message):
    __slots__ = ("run_id", "method", "tasks", "changed_vs_live")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    CHANGED_VS_LIVE_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    method: ConsensusMethod
    tasks: int
    changed_vs_live: int
    def __init__(self, run_id: _Optional[str] = ..., method: _Optional[_Union[ConsensusMethod, str]] = ..., tasks: _Optional[int] = ..., changed_vs_live: _Optional[int] = ...) -> None: ...

class ListConsensusRequest(_message.Message):
    __slots__ = ("project_id", "run_id", "page_size", "page_token")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    run_id: str
    page_size: int
    page_token: str
    def __init__(self, project_id: _Optional[str] = ..., run_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListConsensusResponse(_message.Message):
    __slots__ = ("results", "next_page_token")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[Consensus]
    next_page_token: str
    def __init__(self, results: _Optional[_Iterable[_Union[Consensus, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class PairAgreement(_message.Message):
    __slots__ = ("annotator_a", "annotator_b", "cohen_kappa", "shared_items")
    ANNOTATOR_A_FIELD_NUMBER: _ClassVar[int]
    ANNOTATOR_B_FIELD_NUMBER: _ClassVar[int]
    COHEN_KAPPA_FIELD_NUMBER: _ClassVar[int]
    SHARED_ITEMS_FIELD_NUMBER: _ClassVar[int]
    annotator_a: str
    annotator_b: str
    cohen_kappa: float
    shared_items: int
    def __init__(self, annotator_a: _Optional[str] = ..., annotator_b: _Optional[str] = ..., cohen_kappa: _Optional[float] = ..., shared_items: _Optional[int] = ...) -> None: ...

class ClassAgreement(_message.Message):
    __slots__ = ("class_id", "krippendorff_alpha")
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    KRIPPENDORFF_ALPHA_FIELD_NUMBER: _ClassVar[int]
    class_id: str
    krippendorff_alpha: float
    def __init__(self, class_id: _Optional[str] = ..., krippendorff_alpha: _Optional[float] = ...) -> None: ...

class AgreementReport(_message.Message):
    __slots__ = ("project_id", "class_id", "window_start", "window_end", "items", "annotators", "krippendorff_alpha", "fleiss_kappa", "pairs", "classes", "classification_id", "level")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    WINDOW_START_FIELD_NUMBER: _ClassVar[int]
    WINDOW_END_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    ANNOTATORS_FIELD_NUMBER: _ClassVar[int]
    KRIPPENDORFF_ALPHA_FIELD_NUMBER: _ClassVar[int]
    FLEISS_KAPPA_FIELD_NUMBER: _ClassVar[int]
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    CLASSES_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    class_id: str
    window_start: _timestamp_pb2.Timestamp
    window_end: _timestamp_pb2.Timestamp
    items: int
    annotators: int
    krippendorff_alpha: float
    fleiss_kappa: float
    pairs: _containers.RepeatedCompositeFieldContainer[PairAgreement]
    classes: _containers.RepeatedCompositeFieldContainer[ClassAgreement]
    classification_id: str
    level: MeasurementLevel
    def __init__(self, project_id: _Optional[str] = ..., class_id: _Optional[str] = ..., window_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., window_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., items: _Optional[int] = ..., annotators: _Optional[int] = ..., krippendorff_alpha: _Optional[float] = ..., fleiss_kappa: _Optional[float] = ..., pairs: _Optional[_Iterable[_Union[PairAgreement, _Mapping]]] = ..., classes: _Optional[_Iterable[_Union[ClassAgreement, _Mapping]]] = ..., classification_id: _Optional[str] = ..., level: _Optional[_Union[MeasurementLevel, str]] = ...) -> None: ...

class MeasureAgreementRequest(_message.Message):
    __slots__ = ("project_id", "class_id", "window_seconds", "classification_id", "level")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    WINDOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    class_id: str
    window_seconds: int
    classification_id: str
    level: MeasurementLevel
    def __init__(self, project_id: _Optional[str] = ..., class_id: _Optional[str] = ..., window_seconds: _Optional[int] = ..., classification_id: _Optional[str] = ..., level: _Optional[_Union[MeasurementLevel, str]] = ...) -> None: ...

class MeasureAgreementResponse(_message.Message):
    __slots__ = ("reports",)
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    reports: _containers.RepeatedCompositeFieldContainer[AgreementReport]
    def __init__(self, reports: _Optional[_Iterable[_Union[AgreementReport, _Mapping]]] = ...) -> None: ...

class ConfusionRow(_message.Message):
    __slots__ = ("true_class", "given")
    class GivenEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    TRUE_CLASS_FIELD_NUMBER: _ClassVar[int]
    GIVEN_FIELD_NUMBER: _ClassVar[int]
    true_class: str
    given: _containers.ScalarMap[str, int]
    def __init__(self, true_class: _Optional[str] = ..., given: _Optional[_Mapping[str, int]] = ...) -> None: ...

class AnnotatorQuality(_message.Message):
    __slots__ = ("annotator_id", "gold_answered", "gold_accuracy", "confusion", "recent_accuracy", "drifting")
    ANNOTATOR_ID_FIELD_NUMBER: _ClassVar[int]
    GOLD_ANSWERED_FIELD_NUMBER: _ClassVar[int]
    GOLD_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    CONFUSION_FIELD_NUMBER: _ClassVar[int]
    RECENT_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    DRIFTING_FIELD_NUMBER: _ClassVar[int]
    annotator_id: str
    gold_answered: int
    gold_accuracy: float
    confusion: _containers.RepeatedCompositeFieldContainer[ConfusionRow]
    recent_accuracy: float
    drifting: bool
    def __init__(self, annotator_id: _Optional[str] = ..., gold_answered: _Optional[int] = ..., gold_accuracy: _Optional[float] = ..., confusion: _Optional[_Iterable[_Union[ConfusionRow, _Mapping]]] = ..., recent_accuracy: _Optional[float] = ..., drifting: _Optional[bool] = ...) -> None: ...

class GetAnnotatorQualityRequest(_message.Message):
    __slots__ = ("project_id", "annotator_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATOR_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    annotator_id: str
    def __init__(self, project_id: _Optional[str] = ..., annotator_id: _Optional[str] = ...) -> None: ...

class GetAnnotatorQualityResponse(_message.Message):
    __slots__ = ("annotators",)
    ANNOTATORS_FIELD_NUMBER: _ClassVar[int]
    annotators: _containers.RepeatedCompositeFieldContainer[AnnotatorQuality]
    def __init__(self, annotators: _Optional[_Iterable[_Union[AnnotatorQuality, _Mapping]]] = ...) -> None: ...

class ListReviewQueueRequest(_message.Message):
    __slots__ = ("project_id", "page_size")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    page_size: int
    def __init__(self, project_id: _Optional[str] = ..., page_size: _Optional[int] = ...) -> None: ...

class ListReviewQueueResponse(_message.Message):
    __slots__ = ("tasks",)
    TASKS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[TaskQuality]
    def __init__(self, tasks: _Optional[_Iterable[_Union[TaskQuality, _Mapping]]] = ...) -> None: ...

class SubmitReviewRequest(_message.Message):
    __slots__ = ("project_id", "task_id", "decision", "fixed_labels", "note", "request_id", "candidate_annotator_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    FIXED_LABELS_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_ANNOTATOR_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    task_id: str
    decision: ReviewDecision
    fixed_labels: _label_pb2.ItemLabels
    note: str
    request_id: str
    candidate_annotator_id: str
    def __init__(self, project_id: _Optional[str] = ..., task_id: _Optional[str] = ..., decision: _Optional[_Union[ReviewDecision, str]] = ..., fixed_labels: _Optional[_Union[_label_pb2.ItemLabels, _Mapping]] = ..., note: _Optional[str] = ..., request_id: _Optional[str] = ..., candidate_annotator_id: _Optional[str] = ...) -> None: ...

class SubmitReviewResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: TaskQuality
    def __init__(self, task: _Optional[_Union[TaskQuality, _Mapping]] = ...) -> None: ...

class ItemPrediction(_message.Message):
    __slots__ = ("task_id", "probabilities")
    class ProbabilitiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    probabilities: _containers.ScalarMap[str, float]
    def __init__(self, task_id: _Optional[str] = ..., probabilities: _Optional[_Mapping[str, float]] = ...) -> None: ...

class FindLabelIssuesRequest(_message.Message):
    __slots__ = ("project_id", "predictions", "model", "request_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    PREDICTIONS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    predictions: _containers.RepeatedCompositeFieldContainer[ItemPrediction]
    model: str
    request_id: str
    def __init__(self, project_id: _Optional[str] = ..., predictions: _Optional[_Iterable[_Union[ItemPrediction, _Mapping]]] = ..., model: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class LabelIssue(_message.Message):
    __slots__ = ("task_id", "item_id", "given_class", "suggested_class", "self_confidence")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    GIVEN_CLASS_FIELD_NUMBER: _ClassVar[int]
    SUGGESTED_CLASS_FIELD_NUMBER: _ClassVar[int]
    SELF_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    item_id: str
    given_class: str
    suggested_class: str
    self_confidence: float
    def __init__(self, task_id: _Optional[str] = ..., item_id: _Optional[str] = ..., given_class: _Optional[str] = ..., suggested_class: _Optional[str] = ..., self_confidence: _Optional[float] = ...) -> None: ...

class FindLabelIssuesResponse(_message.Message):
    __slots__ = ("issues", "examined")
    ISSUES_FIELD_NUMBER: _ClassVar[int]
    EXAMINED_FIELD_NUMBER: _ClassVar[int]
    issues: _containers.RepeatedCompositeFieldContainer[LabelIssue]
    examined: int
    def __init__(self, issues: _Optional[_Iterable[_Union[LabelIssue, _Mapping]]] = ..., examined: _Optional[int] = ...) -> None: ...
