"""Which action each PrelabelService method needs (``labelops_core.authz``).

The server kit checks it before the handler (``Wiring(method_actions=METHOD_ACTIONS)``); a
method missing here is refused, and a unit test asserts every method of the descriptor is
named. Reads of models, ROI and out-of-sample probabilities are ``model.read``; registering,
training and switching pre-labels are ``model.manage``; asking the model for predictions and
publishing priorities (ScorePriorities appends ``PriorityScored``, which reorders routing's
queues) are ``model.predict``.
"""

from __future__ import annotations

from labelops.prelabel.v1 import prelabel_pb2
from labelops_core.authz import Action

SERVICE = prelabel_pb2.DESCRIPTOR.services_by_name["PrelabelService"]

_ACTIONS: dict[str, Action] = {
    "RegisterModel": Action.MODEL_MANAGE,
    "GetModel": Action.MODEL_READ,
    "ListModels": Action.MODEL_READ,
    "TrainModel": Action.MODEL_MANAGE,
    "PredictItems": Action.MODEL_PREDICT,
    "ScorePriorities": Action.MODEL_PREDICT,
    "GetClassRoi": Action.MODEL_READ,
    "SetPreLabeling": Action.MODEL_MANAGE,
    "GetOutOfSampleProbabilities": Action.MODEL_READ,
}

#: Full gRPC method name -> the action it needs.
METHOD_ACTIONS: dict[str, Action] = {
    f"/{SERVICE.full_name}/{name}": action for name, action in _ACTIONS.items()
}
