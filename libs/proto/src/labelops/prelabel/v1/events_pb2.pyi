from labelops.labels.v1 import label_pb2 as _label_pb2
from labelops.prelabel.v1 import prelabel_pb2 as _prelabel_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ModelRegistered(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: _prelabel_pb2.Model
    def __init__(self, model: _Optional[_Union[_prelabel_pb2.Model, _Mapping]] = ...) -> None: ...

class ModelTrained(_message.Message):
    __slots__ = ("model_id", "project_id", "version", "kind", "classes")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CLASSES_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    project_id: str
    version: _prelabel_pb2.ModelVersion
    kind: _prelabel_pb2.ModelKind
    classes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, model_id: _Optional[str] = ..., project_id: _Optional[str] = ..., version: _Optional[_Union[_prelabel_pb2.ModelVersion, _Mapping]] = ..., kind: _Optional[_Union[_prelabel_pb2.ModelKind, str]] = ..., classes: _Optional[_Iterable[str]] = ...) -> None: ...

class PreLabelProposed(_message.Message):
    __slots__ = ("project_id", "task_id", "item_id", "model_id", "model_version", "labels", "probabilities", "predicted_class", "confidence")
    class ProbabilitiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_CLASS_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    task_id: str
    item_id: str
    model_id: str
    model_version: str
    labels: _containers.RepeatedCompositeFieldContainer[_label_pb2.Label]
    probabilities: _containers.ScalarMap[str, float]
    predicted_class: str
    confidence: float
    def __init__(self, project_id: _Optional[str] = ..., task_id: _Optional[str] = ..., item_id: _Optional[str] = ..., model_id: _Optional[str] = ..., model_version: _Optional[str] = ..., labels: _Optional[_Iterable[_Union[_label_pb2.Label, _Mapping]]] = ..., probabilities: _Optional[_Mapping[str, float]] = ..., predicted_class: _Optional[str] = ..., confidence: _Optional[float] = ...) -> None: ...

class PreLabelingDisabled(_message.Message):
    __slots__ = ("project_id", "class_id", "reason", "evidence", "switched_by")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    SWITCHED_BY_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    class_id: str
    reason: str
    evidence: _prelabel_pb2.ClassRoi
    switched_by: str
    def __init__(self, project_id: _Optional[str] = ..., class_id: _Optional[str] = ..., reason: _Optional[str] = ..., evidence: _Optional[_Union[_prelabel_pb2.ClassRoi, _Mapping]] = ..., switched_by: _Optional[str] = ...) -> None: ...

class PreLabelingEnabled(_message.Message):
    __slots__ = ("project_id", "class_id", "reason", "evidence", "switched_by")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    SWITCHED_BY_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    class_id: str
    reason: str
    evidence: _prelabel_pb2.ClassRoi
    switched_by: str
    def __init__(self, project_id: _Optional[str] = ..., class_id: _Optional[str] = ..., reason: _Optional[str] = ..., evidence: _Optional[_Union[_prelabel_pb2.ClassRoi, _Mapping]] = ..., switched_by: _Optional[str] = ...) -> None: ...

class PriorityScored(_message.Message):
    __slots__ = ("project_id", "model_id", "model_version", "strategy", "diversity", "priorities")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    DIVERSITY_FIELD_NUMBER: _ClassVar[int]
    PRIORITIES_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    model_id: str
    model_version: str
    strategy: _prelabel_pb2.ScoreStrategy
    diversity: _prelabel_pb2.Diversity
    priorities: _containers.RepeatedCompositeFieldContainer[_prelabel_pb2.TaskPriority]
    def __init__(self, project_id: _Optional[str] = ..., model_id: _Optional[str] = ..., model_version: _Optional[str] = ..., strategy: _Optional[_Union[_prelabel_pb2.ScoreStrategy, str]] = ..., diversity: _Optional[_Union[_prelabel_pb2.Diversity, str]] = ..., priorities: _Optional[_Iterable[_Union[_prelabel_pb2.TaskPriority, _Mapping]]] = ...) -> None: ...
