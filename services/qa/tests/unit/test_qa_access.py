"""Who may call QualityService: every method of the descriptor names an action (a new method
cannot be forgotten: the interceptor would refuse it), and who holds each action; the tenant and
actor a consumed event's derived events carry."""

from __future__ import annotations

from labelops.events.v1 import envelope_pb2
from labelops.qa.v1 import events_pb2 as ev
from labelops.qa.v1 import qa_pb2
from labelops_core.authz import Action, can, method_table
from labelops_core.context import Principal
from labelops_qa.application.origin import Origin
from labelops_qa.entrypoints.access import METHOD_ACTIONS

SERVICE = qa_pb2.DESCRIPTOR.services_by_name["QualityService"]


def test_every_method_of_the_service_names_an_action() -> None:
    methods = [f"/{SERVICE.full_name}/{m.name}" for m in SERVICE.methods]
    assert method_table(METHOD_ACTIONS, methods) == []
    assert set(METHOD_ACTIONS) == set(methods)  # and nothing that is not a method


def test_the_actions_of_qa() -> None:
    def of(name: str) -> Action:
        return METHOD_ACTIONS[f"/{SERVICE.full_name}/{name}"]

    assert of("SubmitReview") is Action.REVIEW_WRITE
    assert of("RunConsensus") is Action.QUALITY_RUN
    assert of("FindLabelIssues") is Action.QUALITY_RUN  # it rejects tasks
    for read in ("GetTaskQuality", "ListConsensus", "MeasureAgreement"):
        assert of(read) is Action.QUALITY_READ
    for read in ("GetAnnotatorQuality", "ListReviewQueue"):
        assert of(read) is Action.QUALITY_READ


def _p(kind: str = "user", *roles: str) -> Principal:
    return Principal("x", "acme", kind=kind, roles=frozenset(roles), vendor_id="v1")


def test_who_may_do_what_in_qa() -> None:
    vendor, annotator = _p("vendor"), _p("user", "annotator")
    reviewer, manager, service = _p("user", "reviewer"), _p("user", "manager"), _p("service")
    for action in set(METHOD_ACTIONS.values()):
        assert not can(vendor, action) and not can(annotator, action)
    assert can(reviewer, Action.REVIEW_WRITE) and can(reviewer, Action.QUALITY_READ)
    assert not can(reviewer, Action.QUALITY_RUN) and not can(reviewer, Action.GOLD_READ)
    assert can(manager, Action.QUALITY_RUN) and can(manager, Action.GOLD_READ)
    assert not can(service, Action.REVIEW_WRITE)  # reviews stay with people
    assert not can(_p("service", "admin", "reviewer"), Action.REVIEW_WRITE)


def test_derived_events_carry_the_causing_envelopes_tenant_and_actor() -> None:
    env = envelope_pb2.EventEnvelope(
        tenant_id="tenant-a",
        actor=envelope_pb2.Actor(kind=envelope_pb2.ACTOR_KIND_VENDOR, id="v-ann"),
    )
    e = Origin.of_envelope(env).event(ev.LabelAccepted(task_id="t"))
    assert (e.tenant_id, e.actor_kind, e.actor_id) == ("tenant-a", "vendor", "v-ann")
    # An envelope without tenant or actor (old producers): the default tenant, the system.
    bare = Origin.of_envelope(envelope_pb2.EventEnvelope()).event(ev.LabelAccepted())
    assert (bare.tenant_id, bare.actor_kind, bare.actor_id) == ("default", "service", "system")
