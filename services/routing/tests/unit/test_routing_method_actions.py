"""Every RoutingService / WorkforceService method names an action (deny by default otherwise),
and the table is the one the service is wired with."""

from __future__ import annotations

from labelops.routing.v1 import routing_pb2, workforce_pb2
from labelops_core.authz import Action, method_table, roles_allowing
from labelops_routing.entrypoints.access import METHOD_ACTIONS


def _methods() -> list[str]:
    out = []
    for mod in (routing_pb2, workforce_pb2):
        for svc in mod.DESCRIPTOR.services_by_name.values():
            out += [f"/{svc.full_name}/{m.name}" for m in svc.methods]
    return out


def test_every_descriptor_method_has_an_action() -> None:
    methods = _methods()
    assert len(methods) == 21
    assert method_table(METHOD_ACTIONS, methods) == []
    assert set(METHOD_ACTIONS) == set(methods)  # nothing stale either


def test_reads_manage_and_work() -> None:
    r, w = "/labelops.routing.v1.RoutingService/", "/labelops.routing.v1.WorkforceService/"
    assert METHOD_ACTIONS[r + "GetTask"] is Action.PROJECT_READ
    assert METHOD_ACTIONS[r + "AddGoldTasks"] is Action.PROJECT_MANAGE
    assert METHOD_ACTIONS[r + "RegisterAnnotator"] is Action.PROJECT_MANAGE
    assert METHOD_ACTIONS[w + "Work"] is Action.TASK_WORK
    assert METHOD_ACTIONS[w + "SubmitLabels"] is Action.TASK_WORK
    # Vendors may work and read, never manage.
    assert "vendor" not in roles_allowing(Action.PROJECT_MANAGE)
    assert "vendor" in roles_allowing(Action.TASK_WORK)


def test_wiring_passes_the_table() -> None:
    import inspect

    from labelops_routing import bootstrap

    assert "method_actions=METHOD_ACTIONS" in inspect.getsource(bootstrap.wire)
