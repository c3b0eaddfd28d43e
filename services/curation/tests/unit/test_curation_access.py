"""Who may call CurationService: every method of the descriptor names an action (a new method
cannot be forgotten: the interceptor would refuse it), and who holds each one."""

from __future__ import annotations

from labelops.curation.v1 import curation_pb2
from labelops_core.authz import Action, can, method_table
from labelops_core.context import Principal
from labelops_curation.entrypoints.access import METHOD_ACTIONS

SERVICE = curation_pb2.DESCRIPTOR.services_by_name["CurationService"]
WRITES = {"CreateDataset", "RegisterItems", "CurateItems"}


def test_every_method_of_the_service_names_an_action() -> None:
    methods = [f"/{SERVICE.full_name}/{m.name}" for m in SERVICE.methods]
    assert method_table(METHOD_ACTIONS, methods) == []
    assert set(METHOD_ACTIONS) == set(methods)
    for m in SERVICE.methods:
        want = Action.ITEMS_WRITE if m.name in WRITES else Action.ITEMS_READ
        assert METHOD_ACTIONS[f"/{SERVICE.full_name}/{m.name}"] is want, m.name


def _p(kind: str = "user", *roles: str) -> Principal:
    return Principal("x", "acme", kind=kind, roles=frozenset(roles), vendor_id="v1")


def test_who_may_read_and_change_items() -> None:
    for nobody in (_p("vendor"), _p("vendor", "admin"), _p("user"), _p("user", "annotator")):
        assert not can(nobody, Action.ITEMS_READ) and not can(nobody, Action.ITEMS_WRITE)
    for reader in (_p("model"), _p("model", "admin"), _p("user", "reviewer")):
        assert can(reader, Action.ITEMS_READ) and not can(reader, Action.ITEMS_WRITE)
    for writer in (_p("user", "admin"), _p("user", "ml_engineer"), _p("service")):
        assert can(writer, Action.ITEMS_WRITE) and can(writer, Action.ITEMS_READ)
