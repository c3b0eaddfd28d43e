"""QA across tenants and roles, over real Kafka and Postgres: tenant B (with a project of the
same id) never sees or changes tenant A's tasks, consensus, reviews or annotators; every
method answers NOT_FOUND or an empty list and writes nothing; a vendor key is refused every
method; a reviewer gets no gold; events derived from A's labels carry A's tenant and the
causing actor, in the event log and on Kafka."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
from labelops.events.v1 import envelope_pb2
from labelops.qa.v1 import events_pb2 as ev
from labelops.qa.v1 import qa_pb2 as pb
from labelops.routing.v1 import routing_pb2 as rpb
from labelops_qa.domain.review import unit_hash
from labelops_testkit.grpc import fails
from labelops_testkit.kafka import wait_for_envelopes
from qa_support import (
    OTHER_MANAGER_KEY,
    OTHER_REVIEWER_KEY,
    OTHER_TENANT,
    REVIEWER_KEY,
    TENANT,
    VENDOR_KEY,
    Project,
    eventually,
    project_created,
    whole,
)

P = "zoo"  # both tenants have a project "zoo"
AB = ("ann-a", "ann-b")
ONLY_A = "zoo-a"  # a project only tenant A has


def tid() -> str:
    return str(uuid.uuid4())


async def _state(stub: Any, project: str, task_id: str) -> int | None:
    try:
        r = await stub.GetTaskQuality(pb.GetTaskQualityRequest(project_id=project, task_id=task_id))
    except grpc.aio.AioRpcError:
        return None
    return r.task.state


async def _stored(qa: Any) -> int:
    return await qa.app.pool.fetchval(f'SELECT count(*) FROM "{qa.settings.db_schema}".events')


def _sampled_at_half() -> str:
    """A task id whose review draw is below 0.5: with a class ambiguity of 0.5 (one agreed, one
    split task) targeted review would surely sample it."""
    while unit_hash(task_id := tid(), "review") >= 0.5:
        pass
    return task_id


async def _seed(qa: Any) -> dict[str, str]:
    """Tenant A: "zoo" with an accepted task, a task in review and gold answers; "zoo-a" with
    an accepted task. Tenant B: "zoo" with one task in review, labeled by other people.

    Targeted review samples an agreed task at its class's measured ambiguity, a running mean
    over the project's decided tasks: so the order tasks are decided in is part of what is
    seeded (tasks travel on different partitions, nothing else orders them). B's split "cat"
    task is decided first, then A's agreed "cat" task, which must be accepted: B's ambiguity is
    B's (A's task id is one the draw would sample at B's rate). A's own split task comes after.
    """
    a, a_only, b = Project(P), Project(ONLY_A), Project(P, OTHER_TENANT)
    ids = {k: tid() for k in ("review", "gold", "only_a", "b_review")}
    ids["accepted"] = _sampled_at_half()
    envs = [project_created(P), project_created(ONLY_A, review_policy=rpb.REVIEW_POLICY_NONE)]
    envs.append(project_created(P, tenant=OTHER_TENANT))
    envs += [a.task(ids["accepted"], "img-1", 2), a.task(ids["review"], "img-2", 2)]
    envs.append(a.task(ids["gold"], "gold-1", 1, gold_expected=whole("gold-1", "cat")))
    envs.append(a_only.task(ids["only_a"], "img-9", 1))
    envs.append(b.task(ids["b_review"], "img-2", 2))
    envs.append(a_only.label(ids["only_a"], "img-9", "ann-a", whole("img-9", "fox")))
    envs.append(b.label(ids["b_review"], "img-2", "b-ann-1", whole("img-2", "cat")))
    envs.append(b.label(ids["b_review"], "img-2", "b-ann-2", whole("img-2", "dog")))

    # Reviewers' fixes are checked against the tenant's own published version: seed once QA
    # has both tenants' "animals" 1.0.0 (the fixture publishes them; its consumer may not
    # have projected them yet).
    async def both_versions() -> bool:
        n = await qa.app.pool.fetchval(
            f'SELECT count(*) FROM "{qa.settings.db_schema}".ontology_versions'
        )
        return bool(n == 2)

    await eventually(both_versions, timeout=90)
    await qa.routing(envs)
    review = pb.TASK_QUALITY_STATE_IN_REVIEW
    async with qa.stub_of(OTHER_MANAGER_KEY) as b_stub:
        await eventually(lambda: _is(b_stub, P, ids["b_review"], review), timeout=90)
    await qa.routing([a.label(ids["accepted"], "img-1", w, whole("img-1", "cat")) for w in AB])
    await eventually(
        lambda: _is(qa.stub, P, ids["accepted"], pb.TASK_QUALITY_STATE_ACCEPTED), timeout=90
    )
    # A's split task only now: decided earlier, its agreement would have made "cat" ambiguous
    # in A's "zoo" and the agreed task a candidate for review.
    await qa.routing(
        [
            a.label(ids["review"], "img-2", "ann-a", whole("img-2", "cat")),
            a.label(ids["review"], "img-2", "rob", whole("img-2", "dog")),  # the reviewer
        ]
    )
    await eventually(lambda: _is(qa.stub, P, ids["review"], review), timeout=90)
    # ann-a misses the gold answer only now: scored earlier, it would have lowered ann-a's
    # reliability and sent the agreed task to review.
    await qa.routing([a.label(ids["gold"], "gold-1", "ann-a", whole("gold-1", "dog"), gold=True)])
    await eventually(
        lambda: _is(qa.stub, ONLY_A, ids["only_a"], pb.TASK_QUALITY_STATE_ACCEPTED), timeout=90
    )

    async def gold_scored() -> bool:
        q = await qa.stub.GetAnnotatorQuality(pb.GetAnnotatorQualityRequest(project_id=P))
        return any(x.gold_answered for x in q.annotators)

    await eventually(gold_scored, timeout=90)
    return ids


async def _is(stub: Any, project: str, task_id: str, state: int) -> bool:
    return await _state(stub, project, task_id) == state


async def test_tenant_b_sees_and_changes_nothing_of_tenant_a(qa):
    ids = await _seed(qa)
    before = await _stored(qa)
    nf = grpc.StatusCode.NOT_FOUND
    async with qa.stub_of(OTHER_MANAGER_KEY) as b:
        for task in ("accepted", "review", "gold"):
            await fails(
                b.GetTaskQuality(pb.GetTaskQualityRequest(project_id=P, task_id=ids[task])),
                nf,
                "TASK_NOT_FOUND",
            )
        await fails(
            b.GetTaskQuality(pb.GetTaskQualityRequest(project_id=ONLY_A, task_id=ids["only_a"])),
            nf,
        )
        # Lists of "the same" project: B's own rows only.
        queue = await b.ListReviewQueue(pb.ListReviewQueueRequest(project_id=P))
        assert [t.task_id for t in queue.tasks] == [ids["b_review"]]
        live = await b.ListConsensus(pb.ListConsensusRequest(project_id=P, page_size=100))
        assert [c.task_id for c in live.results] == [ids["b_review"]]
        assert (await b.ListConsensus(pb.ListConsensusRequest(project_id=ONLY_A))).results == []
        quality = await b.GetAnnotatorQuality(pb.GetAnnotatorQualityRequest(project_id=P))
        assert list(quality.annotators) == []  # B has no gold answers; A's are not B's
        # Commands on A's resources: not found, nothing written.
        for decision in (pb.REVIEW_DECISION_ACCEPT, pb.REVIEW_DECISION_REJECT):
            await fails(
                b.SubmitReview(
                    pb.SubmitReviewRequest(project_id=P, task_id=ids["review"], decision=decision)
                ),
                nf,
                "TASK_NOT_FOUND",
            )
        await fails(
            b.RunConsensus(
                pb.RunConsensusRequest(project_id=ONLY_A, method=pb.CONSENSUS_METHOD_MAJORITY_VOTE)
            ),
            nf,
            "PROJECT_NOT_FOUND",
        )
        await fails(b.MeasureAgreement(pb.MeasureAgreementRequest(project_id=ONLY_A)), nf)
        found = await b.FindLabelIssues(
            pb.FindLabelIssuesRequest(
                project_id=ONLY_A,
                model="m@1",
                predictions=[pb.ItemPrediction(task_id=ids["only_a"], probabilities={"cat": 0.99})],
            )
        )
        assert list(found.issues) == []
    assert await _stored(qa) == before
    # A's task is still in review, and A's reviewer can still decide it.
    assert await _state(qa.stub, P, ids["review"]) == pb.TASK_QUALITY_STATE_IN_REVIEW
    await _fixes_follow_each_tenants_own_ontology(qa, ids)
    assert await _state(qa.stub, P, ids["review"]) == pb.TASK_QUALITY_STATE_IN_REVIEW


def _fix(task_id: str, cls: str) -> pb.SubmitReviewRequest:
    return pb.SubmitReviewRequest(
        project_id=P,
        task_id=task_id,
        decision=pb.REVIEW_DECISION_FIX_AND_ACCEPT,
        fixed_labels=whole("img-2", cls),
    )


async def _fixes_follow_each_tenants_own_ontology(qa: Any, ids: dict[str, str]) -> None:
    """Both tenants published "animals" 1.0.0, with different classes: a fix is checked against
    the reviewer's tenant's definition (B has ferrets and no fox, A the other way round)."""
    bad = grpc.StatusCode.INVALID_ARGUMENT
    async with qa.stub_of(OTHER_REVIEWER_KEY) as b_reviewer:
        before = await _stored(qa)
        _, fields = await fails(b_reviewer.SubmitReview(_fix(ids["b_review"], "fox")), bad)
        assert fields == ["fixed_labels.labels[0].class_id"]
        assert await _stored(qa) == before
        done = await b_reviewer.SubmitReview(_fix(ids["b_review"], "ferret"))
        assert done.task.state == pb.TASK_QUALITY_STATE_ACCEPTED and done.task.reviewer == "rex"
    # A's manager (rob, A's reviewer, labeled this task himself) on A's task: no ferret in A's.
    before = await _stored(qa)
    _, fields = await fails(qa.stub.SubmitReview(_fix(ids["review"], "ferret")), bad)
    assert fields == ["fixed_labels.labels[0].class_id"]
    assert await _stored(qa) == before


async def test_a_vendor_is_refused_every_method_and_a_reviewer_gets_no_gold(qa):
    ids = await _seed(qa)
    before = await _stored(qa)
    denied = grpc.StatusCode.PERMISSION_DENIED
    calls = [
        ("GetTaskQuality", pb.GetTaskQualityRequest(project_id=P, task_id=ids["accepted"])),
        ("ListConsensus", pb.ListConsensusRequest(project_id=P)),
        ("MeasureAgreement", pb.MeasureAgreementRequest(project_id=P)),
        ("GetAnnotatorQuality", pb.GetAnnotatorQualityRequest(project_id=P)),
        ("ListReviewQueue", pb.ListReviewQueueRequest(project_id=P)),
        (
            "SubmitReview",
            pb.SubmitReviewRequest(
                project_id=P, task_id=ids["review"], decision=pb.REVIEW_DECISION_ACCEPT
            ),
        ),
        (
            "RunConsensus",
            pb.RunConsensusRequest(project_id=P, method=pb.CONSENSUS_METHOD_MAJORITY_VOTE),
        ),
        ("FindLabelIssues", pb.FindLabelIssuesRequest(project_id=P, model="m@1")),
    ]
    async with qa.stub_of(VENDOR_KEY) as vendor:
        for method, req in calls:
            await fails(getattr(vendor, method)(req), denied, "PERMISSION_DENIED_BY_ROLE")
    async with qa.stub_of(REVIEWER_KEY) as reviewer:
        await fails(reviewer.RunConsensus(calls[6][1]), denied, "PERMISSION_DENIED_BY_ROLE")
        await fails(reviewer.FindLabelIssues(calls[7][1]), denied, "PERMISSION_DENIED_BY_ROLE")
        # Gold: the gold task is not found, annotator quality comes without the confusion
        # against the gold answers (a manager, who may read gold, gets both).
        await fails(
            reviewer.GetTaskQuality(pb.GetTaskQualityRequest(project_id=P, task_id=ids["gold"])),
            grpc.StatusCode.NOT_FOUND,
        )
        q = await reviewer.GetAnnotatorQuality(pb.GetAnnotatorQualityRequest(project_id=P))
        (ann,) = q.annotators
        assert ann.annotator_id == "ann-a" and ann.gold_answered == 1
        assert ann.gold_accuracy == 0.0 and list(ann.confusion) == []
        # The reviewer labeled the task in review: someone else must review it.
        await fails(reviewer.SubmitReview(calls[5][1]), denied, "REVIEWER_LABELED_TASK")
    assert await _stored(qa) == before
    gold = await qa.stub.GetTaskQuality(pb.GetTaskQualityRequest(project_id=P, task_id=ids["gold"]))
    assert gold.task.task_id == ids["gold"]
    (ann,) = (
        await qa.stub.GetAnnotatorQuality(pb.GetAnnotatorQualityRequest(project_id=P))
    ).annotators
    assert [(r.true_class, dict(r.given)) for r in ann.confusion] == [("cat", {"dog": 1})]
    # A manager of A reviews it (manager "rita" labeled nothing).
    ok = await qa.stub.SubmitReview(calls[5][1])
    assert ok.task.state == pb.TASK_QUALITY_STATE_ACCEPTED


async def test_events_derived_from_a_tenants_labels_carry_its_tenant_and_actor(qa):
    ids = await _seed(qa)
    rows = await qa.app.pool.fetch(
        "SELECT type, tenant_id, actor_kind, actor_id, payload"
        f' FROM "{qa.settings.db_schema}".events ORDER BY position'
    )
    assert rows and all(r["tenant_id"] in (TENANT, OTHER_TENANT) for r in rows)
    accepted = [r for r in rows if r["type"] == ev.LabelAccepted.DESCRIPTOR.full_name]
    by_task = {ev.LabelAccepted.FromString(r["payload"]).task_id: r for r in accepted}
    a = by_task[ids["accepted"]]
    assert (a["tenant_id"], a["actor_kind"], a["actor_id"]) == (
        TENANT,
        envelope_pb2.ACTOR_KIND_USER,
        "routing-user",
    )
    scored = [r for r in rows if r["type"] == ev.GoldScored.DESCRIPTOR.full_name]
    assert [r["tenant_id"] for r in scored] == [TENANT]
    b_consensus = [
        r
        for r in rows
        if r["type"] == ev.ConsensusReached.DESCRIPTOR.full_name
        and ev.ConsensusReached.FromString(r["payload"]).consensus.task_id == ids["b_review"]
    ]
    assert [r["tenant_id"] for r in b_consensus] == [OTHER_TENANT]
    # On Kafka too (what the gateway's event stream filters by).
    published = await wait_for_envelopes(
        qa.kafka, f"labelops.{qa.settings.service_name}.events.v1", len(rows)
    )
    on_kafka = {
        ev.LabelAccepted.FromString(e.payload).task_id: e
        for e in published
        if e.type == ev.LabelAccepted.DESCRIPTOR.full_name
    }
    env = on_kafka[ids["accepted"]]
    assert env.tenant_id == TENANT and env.actor.id == "routing-user"
    assert all(e.tenant_id for e in published)
    # A command's events are of the caller's tenant and name the caller.
    await qa.stub.SubmitReview(
        pb.SubmitReviewRequest(
            project_id=P, task_id=ids["review"], decision=pb.REVIEW_DECISION_REJECT, note="no"
        )
    )
    row = await qa.app.pool.fetchrow(
        f'SELECT tenant_id, actor_kind, actor_id FROM "{qa.settings.db_schema}".events'
        " WHERE type = $1",
        ev.LabelRejected.DESCRIPTOR.full_name,
    )
    assert (row["tenant_id"], row["actor_kind"], row["actor_id"]) == (
        TENANT,
        envelope_pb2.ACTOR_KIND_USER,
        "rita",
    )
