"""Who may call which RoutingService / WorkforceService method: full method name -> the
``Action`` it needs.

The server kit's interceptor ``require``s it before the handler runs (a method missing here is
refused); the roles holding each action are ``labelops_core.authz.ROLE_ACTIONS``
(docs/security.md prints both). Resource rules stay in the application (``domain/access.py``):
every read and write is of the caller's tenant; a vendor sees and works only its own pools'
tasks and assignments; an annotator claims, heartbeats, skips and submits only as itself; no
one but the vendor acts on a vendor's assignment; gold flags and gold answers need
``gold.read``.
"""

from __future__ import annotations

from labelops.routing.v1 import routing_pb2, workforce_pb2
from labelops_core.authz import Action

_ROUTING = routing_pb2.DESCRIPTOR.services_by_name["RoutingService"].full_name
_WORKFORCE = workforce_pb2.DESCRIPTOR.services_by_name["WorkforceService"].full_name

_ROUTING_ACTIONS: dict[str, Action] = {
    "GetProject": Action.PROJECT_READ,
    "ListProjects": Action.PROJECT_READ,
    "ListPools": Action.PROJECT_READ,
    "ListAnnotators": Action.PROJECT_READ,
    "GetTask": Action.PROJECT_READ,
    "ListTasks": Action.PROJECT_READ,
    "GetQueueStats": Action.PROJECT_READ,
    "CreateProject": Action.PROJECT_MANAGE,
    "UpdateProjectConfig": Action.PROJECT_MANAGE,
    "SetRoutingRules": Action.PROJECT_MANAGE,
    "CreatePool": Action.PROJECT_MANAGE,
    "UpdatePool": Action.PROJECT_MANAGE,
    "RegisterAnnotator": Action.PROJECT_MANAGE,
    "CreateTasks": Action.PROJECT_MANAGE,
    # Gold answers go in here: managers (who may read gold) make them.
    "AddGoldTasks": Action.PROJECT_MANAGE,
    "UpdateTaskSignals": Action.PROJECT_MANAGE,
}

_WORKFORCE_ACTIONS: dict[str, Action] = {
    # One action for the whole stream; each message is rate-limited and checked like the
    # unary method it stands for (who may act on which pool / assignment / annotator).
    "Work": Action.TASK_WORK,
    "ClaimTasks": Action.TASK_WORK,
    "SubmitLabels": Action.TASK_WORK,
    "Heartbeat": Action.TASK_WORK,
    # A skip with reason RELEASE is the release of a lease.
    "SkipTask": Action.TASK_WORK,
}

#: ``/labelops.routing.v1.<Service>/<Method>`` -> the action the caller needs.
METHOD_ACTIONS: dict[str, Action] = {
    **{f"/{_ROUTING}/{m}": a for m, a in _ROUTING_ACTIONS.items()},
    **{f"/{_WORKFORCE}/{m}": a for m, a in _WORKFORCE_ACTIONS.items()},
}
