"""Who may call DatasetService: every method of the descriptor names an action (a new method
cannot be forgotten: the interceptor would refuse it), and who holds each one."""

from __future__ import annotations

from labelops.datasets.v1 import datasets_pb2
from labelops_core.authz import Action, can, method_table
from labelops_core.context import Principal
from labelops_datasets.domain.versioning import dataset_stream
from labelops_datasets.entrypoints.access import METHOD_ACTIONS

SERVICE = datasets_pb2.DESCRIPTOR.services_by_name["DatasetService"]


def test_every_method_of_the_service_names_an_action() -> None:
    methods = [f"/{SERVICE.full_name}/{m.name}" for m in SERVICE.methods]
    assert method_table(METHOD_ACTIONS, methods) == []
    assert set(METHOD_ACTIONS) == set(methods)
    writes = {m for m, a in METHOD_ACTIONS.items() if a is not Action.DATASET_READ}
    assert writes == {f"/{SERVICE.full_name}/CreateDatasetVersion"}
    assert METHOD_ACTIONS[f"/{SERVICE.full_name}/CreateDatasetVersion"] is Action.DATASET_WRITE


def _p(kind: str = "user", *roles: str) -> Principal:
    return Principal("x", "acme", kind=kind, roles=frozenset(roles), vendor_id="v1")


def test_who_may_read_and_cut_versions() -> None:
    for nobody in (_p("vendor"), _p("user", "annotator"), _p("user"), _p("model")):
        assert not any(can(nobody, a) for a in set(METHOD_ACTIONS.values()))
    for reader in (_p("user", "reviewer"), _p("user", "manager")):
        assert can(reader, Action.DATASET_READ) and not can(reader, Action.DATASET_WRITE)
    for writer in (_p("user", "ml_engineer"), _p("service"), _p("user", "admin")):
        assert can(writer, Action.DATASET_WRITE) and can(writer, Action.DATASET_READ)


def test_a_datasets_stream_is_its_tenants() -> None:
    assert dataset_stream("zoo") == "datasets/zoo"  # the default tenant's, as before
    assert dataset_stream("zoo", "acme") != dataset_stream("zoo", "globex")
