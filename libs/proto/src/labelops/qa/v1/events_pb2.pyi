from labelops.labels.v1 import label_pb2 as _label_pb2
from labelops.qa.v1 import qa_pb2 as _qa_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ConsensusReached(_message.Message):
    __slots__ = ("project_id", "consensus")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CONSENSUS_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    consensus: _qa_pb2.Consensus
    def __init__(self, project_id: _Optional[str] = ..., consensus: _Optional[_Union[_qa_pb2.Consensus, _Mapping]] = ...) -> None: ...

class ReviewRequested(_message.Message):
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

class Lineage(_message.Message):
    __slots__ = ("annotator_ids", "label_event_ids", "consensus_method", "consensus_score", "consensus_run_id", "review_decision", "reviewer", "prelabel_model", "prelabel_model_version", "ontology_id", "ontology_version")
    ANNOTATOR_IDS_FIELD_NUMBER: _ClassVar[int]
    LABEL_EVENT_IDS_FIELD_NUMBER: _ClassVar[int]
    CONSENSUS_METHOD_FIELD_NUMBER: _ClassVar[int]
    CONSENSUS_SCORE_FIELD_NUMBER: _ClassVar[int]
    CONSENSUS_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REVIEW_DECISION_FIELD_NUMBER: _ClassVar[int]
    REVIEWER_FIELD_NUMBER: _ClassVar[int]
    PRELABEL_MODEL_FIELD_NUMBER: _ClassVar[int]
    PRELABEL_MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    ONTOLOGY_ID_FIELD_NUMBER: _ClassVar[int]
    ONTOLOGY_VERSION_FIELD_NUMBER: _ClassVar[int]
    annotator_ids: _containers.RepeatedScalarFieldContainer[str]
    label_event_ids: _containers.RepeatedScalarFieldContainer[str]
    consensus_method: _qa_pb2.ConsensusMethod
    consensus_score: float
    consensus_run_id: str
    review_decision: _qa_pb2.ReviewDecision
    reviewer: str
    prelabel_model: str
    prelabel_model_version: str
    ontology_id: str
    ontology_version: str
    def __init__(self, annotator_ids: _Optional[_Iterable[str]] = ..., label_event_ids: _Optional[_Iterable[str]] = ..., consensus_method: _Optional[_Union[_qa_pb2.ConsensusMethod, str]] = ..., consensus_score: _Optional[float] = ..., consensus_run_id: _Optional[str] = ..., review_decision: _Optional[_Union[_qa_pb2.ReviewDecision, str]] = ..., reviewer: _Optional[str] = ..., prelabel_model: _Optional[str] = ..., prelabel_model_version: _Optional[str] = ..., ontology_id: _Optional[str] = ..., ontology_version: _Optional[str] = ...) -> None: ...

class LabelAccepted(_message.Message):
    __slots__ = ("project_id", "task_id", "item_id", "labels", "lineage")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    LINEAGE_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    task_id: str
    item_id: str
    labels: _label_pb2.ItemLabels
    lineage: Lineage
    def __init__(self, project_id: _Optional[str] = ..., task_id: _Optional[str] = ..., item_id: _Optional[str] = ..., labels: _Optional[_Union[_label_pb2.ItemLabels, _Mapping]] = ..., lineage: _Optional[_Union[Lineage, _Mapping]] = ...) -> None: ...

class LabelRejected(_message.Message):
    __slots__ = ("project_id", "task_id", "item_id", "reason", "reviewer")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REVIEWER_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    task_id: str
    item_id: str
    reason: str
    reviewer: str
    def __init__(self, project_id: _Optional[str] = ..., task_id: _Optional[str] = ..., item_id: _Optional[str] = ..., reason: _Optional[str] = ..., reviewer: _Optional[str] = ...) -> None: ...

class AgreementMeasured(_message.Message):
    __slots__ = ("report",)
    REPORT_FIELD_NUMBER: _ClassVar[int]
    report: _qa_pb2.AgreementReport
    def __init__(self, report: _Optional[_Union[_qa_pb2.AgreementReport, _Mapping]] = ...) -> None: ...

class GoldScored(_message.Message):
    __slots__ = ("project_id", "task_id", "annotator_id", "expected_class", "given_class", "correct")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATOR_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_CLASS_FIELD_NUMBER: _ClassVar[int]
    GIVEN_CLASS_FIELD_NUMBER: _ClassVar[int]
    CORRECT_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    task_id: str
    annotator_id: str
    expected_class: str
    given_class: str
    correct: bool
    def __init__(self, project_id: _Optional[str] = ..., task_id: _Optional[str] = ..., annotator_id: _Optional[str] = ..., expected_class: _Optional[str] = ..., given_class: _Optional[str] = ..., correct: _Optional[bool] = ...) -> None: ...

class AnnotatorDriftDetected(_message.Message):
    __slots__ = ("project_id", "annotator_id", "baseline_accuracy", "recent_accuracy", "recent_answers")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATOR_ID_FIELD_NUMBER: _ClassVar[int]
    BASELINE_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    RECENT_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    RECENT_ANSWERS_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    annotator_id: str
    baseline_accuracy: float
    recent_accuracy: float
    recent_answers: int
    def __init__(self, project_id: _Optional[str] = ..., annotator_id: _Optional[str] = ..., baseline_accuracy: _Optional[float] = ..., recent_accuracy: _Optional[float] = ..., recent_answers: _Optional[int] = ...) -> None: ...

class LabelIssueFlagged(_message.Message):
    __slots__ = ("project_id", "issue", "model")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ISSUE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    issue: _qa_pb2.LabelIssue
    model: str
    def __init__(self, project_id: _Optional[str] = ..., issue: _Optional[_Union[_qa_pb2.LabelIssue, _Mapping]] = ..., model: _Optional[str] = ...) -> None: ...
