import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ModelKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODEL_KIND_UNSPECIFIED: _ClassVar[ModelKind]
    MODEL_KIND_LOGISTIC: _ClassVar[ModelKind]
    MODEL_KIND_KNN_PROPAGATION: _ClassVar[ModelKind]
    MODEL_KIND_EXTERNAL: _ClassVar[ModelKind]

class ScoreStrategy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCORE_STRATEGY_UNSPECIFIED: _ClassVar[ScoreStrategy]
    SCORE_STRATEGY_LEAST_CONFIDENCE: _ClassVar[ScoreStrategy]
    SCORE_STRATEGY_MARGIN: _ClassVar[ScoreStrategy]
    SCORE_STRATEGY_ENTROPY: _ClassVar[ScoreStrategy]

class Diversity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIVERSITY_UNSPECIFIED: _ClassVar[Diversity]
    DIVERSITY_NONE: _ClassVar[Diversity]
    DIVERSITY_K_CENTER: _ClassVar[Diversity]
    DIVERSITY_CLUSTER_BALANCED: _ClassVar[Diversity]
MODEL_KIND_UNSPECIFIED: ModelKind
MODEL_KIND_LOGISTIC: ModelKind
MODEL_KIND_KNN_PROPAGATION: ModelKind
MODEL_KIND_EXTERNAL: ModelKind
SCORE_STRATEGY_UNSPECIFIED: ScoreStrategy
SCORE_STRATEGY_LEAST_CONFIDENCE: ScoreStrategy
SCORE_STRATEGY_MARGIN: ScoreStrategy
SCORE_STRATEGY_ENTROPY: ScoreStrategy
DIVERSITY_UNSPECIFIED: Diversity
DIVERSITY_NONE: Diversity
DIVERSITY_K_CENTER: Diversity
DIVERSITY_CLUSTER_BALANCED: Diversity

class HeldOutMetrics(_message.Message):
    __slots__ = ("available", "accuracy", "macro_f1", "per_class_recall", "train_size", "test_size", "note")
    class PerClassRecallEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_FIELD_NUMBER: _ClassVar[int]
    MACRO_F1_FIELD_NUMBER: _ClassVar[int]
    PER_CLASS_RECALL_FIELD_NUMBER: _ClassVar[int]
    TRAIN_SIZE_FIELD_NUMBER: _ClassVar[int]
    TEST_SIZE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    available: bool
    accuracy: float
    macro_f1: float
    per_class_recall: _containers.ScalarMap[str, float]
    train_size: int
    test_size: int
    note: str
    def __init__(self, available: _Optional[bool] = ..., accuracy: _Optional[float] = ..., macro_f1: _Optional[float] = ..., per_class_recall: _Optional[_Mapping[str, float]] = ..., train_size: _Optional[int] = ..., test_size: _Optional[int] = ..., note: _Optional[str] = ...) -> None: ...

class ModelVersion(_message.Message):
    __slots__ = ("version", "trained_on", "metrics", "create_time")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TRAINED_ON_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    version: str
    trained_on: int
    metrics: HeldOutMetrics
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, version: _Optional[str] = ..., trained_on: _Optional[int] = ..., metrics: _Optional[_Union[HeldOutMetrics, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Model(_message.Message):
    __slots__ = ("model_id", "project_id", "name", "kind", "classes", "url", "task", "vector_space", "retrain_every", "min_confidence", "current", "create_time", "serving", "no_prelabel", "prelabel_status")
    class NoPrelabelEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CLASSES_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    VECTOR_SPACE_FIELD_NUMBER: _ClassVar[int]
    RETRAIN_EVERY_FIELD_NUMBER: _ClassVar[int]
    MIN_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    SERVING_FIELD_NUMBER: _ClassVar[int]
    NO_PRELABEL_FIELD_NUMBER: _ClassVar[int]
    PRELABEL_STATUS_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    project_id: str
    name: str
    kind: ModelKind
    classes: _containers.RepeatedScalarFieldContainer[str]
    url: str
    task: str
    vector_space: str
    retrain_every: int
    min_confidence: float
    current: ModelVersion
    create_time: _timestamp_pb2.Timestamp
    serving: bool
    no_prelabel: _containers.ScalarMap[str, str]
    prelabel_status: str
    def __init__(self, model_id: _Optional[str] = ..., project_id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[ModelKind, str]] = ..., classes: _Optional[_Iterable[str]] = ..., url: _Optional[str] = ..., task: _Optional[str] = ..., vector_space: _Optional[str] = ..., retrain_every: _Optional[int] = ..., min_confidence: _Optional[float] = ..., current: _Optional[_Union[ModelVersion, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., serving: _Optional[bool] = ..., no_prelabel: _Optional[_Mapping[str, str]] = ..., prelabel_status: _Optional[str] = ...) -> None: ...

class RegisterModelRequest(_message.Message):
    __slots__ = ("project_id", "name", "kind", "classes", "url", "task", "vector_space", "retrain_every", "min_confidence", "request_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CLASSES_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    VECTOR_SPACE_FIELD_NUMBER: _ClassVar[int]
    RETRAIN_EVERY_FIELD_NUMBER: _ClassVar[int]
    MIN_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    name: str
    kind: ModelKind
    classes: _containers.RepeatedScalarFieldContainer[str]
    url: str
    task: str
    vector_space: str
    retrain_every: int
    min_confidence: float
    request_id: str
    def __init__(self, project_id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[ModelKind, str]] = ..., classes: _Optional[_Iterable[str]] = ..., url: _Optional[str] = ..., task: _Optional[str] = ..., vector_space: _Optional[str] = ..., retrain_every: _Optional[int] = ..., min_confidence: _Optional[float] = ..., request_id: _Optional[str] = ...) -> None: ...

class RegisterModelResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: Model
    def __init__(self, model: _Optional[_Union[Model, _Mapping]] = ...) -> None: ...

class GetModelRequest(_message.Message):
    __slots__ = ("model_id",)
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    def __init__(self, model_id: _Optional[str] = ...) -> None: ...

class GetModelResponse(_message.Message):
    __slots__ = ("model", "versions")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    model: Model
    versions: _containers.RepeatedCompositeFieldContainer[ModelVersion]
    def __init__(self, model: _Optional[_Union[Model, _Mapping]] = ..., versions: _Optional[_Iterable[_Union[ModelVersion, _Mapping]]] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ("project_id",)
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    def __init__(self, project_id: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[Model]
    def __init__(self, models: _Optional[_Iterable[_Union[Model, _Mapping]]] = ...) -> None: ...

class TrainModelRequest(_message.Message):
    __slots__ = ("model_id", "request_id")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    request_id: str
    def __init__(self, model_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class TrainModelResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: ModelVersion
    def __init__(self, version: _Optional[_Union[ModelVersion, _Mapping]] = ...) -> None: ...

class ItemProbabilities(_message.Message):
    __slots__ = ("item_id", "task_id", "probabilities")
    class ProbabilitiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    task_id: str
    probabilities: _containers.ScalarMap[str, float]
    def __init__(self, item_id: _Optional[str] = ..., task_id: _Optional[str] = ..., probabilities: _Optional[_Mapping[str, float]] = ...) -> None: ...

class PredictItemsRequest(_message.Message):
    __slots__ = ("project_id", "item_ids")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    item_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, project_id: _Optional[str] = ..., item_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class PredictItemsResponse(_message.Message):
    __slots__ = ("model_id", "model_version", "predictions", "missing")
    class MissingEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    PREDICTIONS_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    model_version: str
    predictions: _containers.RepeatedCompositeFieldContainer[ItemProbabilities]
    missing: _containers.ScalarMap[str, str]
    def __init__(self, model_id: _Optional[str] = ..., model_version: _Optional[str] = ..., predictions: _Optional[_Iterable[_Union[ItemProbabilities, _Mapping]]] = ..., missing: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ScorePrioritiesRequest(_message.Message):
    __slots__ = ("project_id", "strategy", "diversity", "batch_size", "request_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    DIVERSITY_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    strategy: ScoreStrategy
    diversity: Diversity
    batch_size: int
    request_id: str
    def __init__(self, project_id: _Optional[str] = ..., strategy: _Optional[_Union[ScoreStrategy, str]] = ..., diversity: _Optional[_Union[Diversity, str]] = ..., batch_size: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class TaskPriority(_message.Message):
    __slots__ = ("task_id", "item_id", "priority", "uncertainty")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    UNCERTAINTY_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    item_id: str
    priority: float
    uncertainty: float
    def __init__(self, task_id: _Optional[str] = ..., item_id: _Optional[str] = ..., priority: _Optional[float] = ..., uncertainty: _Optional[float] = ...) -> None: ...

class ScorePrioritiesResponse(_message.Message):
    __slots__ = ("model_version", "priorities")
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    PRIORITIES_FIELD_NUMBER: _ClassVar[int]
    model_version: str
    priorities: _containers.RepeatedCompositeFieldContainer[TaskPriority]
    def __init__(self, model_version: _Optional[str] = ..., priorities: _Optional[_Iterable[_Union[TaskPriority, _Mapping]]] = ...) -> None: ...

class ClassRoi(_message.Message):
    __slots__ = ("class_id", "enabled", "prelabeled", "from_scratch", "accepted", "edited", "replaced", "acceptance_rate", "median_prelabeled_s", "median_scratch_s", "saving_s", "saving_low_s", "saving_high_s", "reason")
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    PRELABELED_FIELD_NUMBER: _ClassVar[int]
    FROM_SCRATCH_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    EDITED_FIELD_NUMBER: _ClassVar[int]
    REPLACED_FIELD_NUMBER: _ClassVar[int]
    ACCEPTANCE_RATE_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_PRELABELED_S_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_SCRATCH_S_FIELD_NUMBER: _ClassVar[int]
    SAVING_S_FIELD_NUMBER: _ClassVar[int]
    SAVING_LOW_S_FIELD_NUMBER: _ClassVar[int]
    SAVING_HIGH_S_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    class_id: str
    enabled: bool
    prelabeled: int
    from_scratch: int
    accepted: int
    edited: int
    replaced: int
    acceptance_rate: float
    median_prelabeled_s: float
    median_scratch_s: float
    saving_s: float
    saving_low_s: float
    saving_high_s: float
    reason: str
    def __init__(self, class_id: _Optional[str] = ..., enabled: _Optional[bool] = ..., prelabeled: _Optional[int] = ..., from_scratch: _Optional[int] = ..., accepted: _Optional[int] = ..., edited: _Optional[int] = ..., replaced: _Optional[int] = ..., acceptance_rate: _Optional[float] = ..., median_prelabeled_s: _Optional[float] = ..., median_scratch_s: _Optional[float] = ..., saving_s: _Optional[float] = ..., saving_low_s: _Optional[float] = ..., saving_high_s: _Optional[float] = ..., reason: _Optional[str] = ...) -> None: ...

class GetClassRoiRequest(_message.Message):
    __slots__ = ("project_id",)
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    def __init__(self, project_id: _Optional[str] = ...) -> None: ...

class GetClassRoiResponse(_message.Message):
    __slots__ = ("classes",)
    CLASSES_FIELD_NUMBER: _ClassVar[int]
    classes: _containers.RepeatedCompositeFieldContainer[ClassRoi]
    def __init__(self, classes: _Optional[_Iterable[_Union[ClassRoi, _Mapping]]] = ...) -> None: ...

class SetPreLabelingRequest(_message.Message):
    __slots__ = ("project_id", "class_id", "enabled", "reason", "request_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    class_id: str
    enabled: bool
    reason: str
    request_id: str
    def __init__(self, project_id: _Optional[str] = ..., class_id: _Optional[str] = ..., enabled: _Optional[bool] = ..., reason: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class SetPreLabelingResponse(_message.Message):
    __slots__ = ("class_roi",)
    CLASS_ROI_FIELD_NUMBER: _ClassVar[int]
    class_roi: ClassRoi
    def __init__(self, class_roi: _Optional[_Union[ClassRoi, _Mapping]] = ...) -> None: ...

class GetOutOfSampleProbabilitiesRequest(_message.Message):
    __slots__ = ("project_id", "folds")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    FOLDS_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    folds: int
    def __init__(self, project_id: _Optional[str] = ..., folds: _Optional[int] = ...) -> None: ...

class GetOutOfSampleProbabilitiesResponse(_message.Message):
    __slots__ = ("model", "predictions")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PREDICTIONS_FIELD_NUMBER: _ClassVar[int]
    model: str
    predictions: _containers.RepeatedCompositeFieldContainer[ItemProbabilities]
    def __init__(self, model: _Optional[str] = ..., predictions: _Optional[_Iterable[_Union[ItemProbabilities, _Mapping]]] = ...) -> None: ...
