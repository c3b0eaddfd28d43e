"""A task re-opened by QA in a pool with no annotator left who may label it (issue 18).

Pool ``small`` has one annotator (ih-1), pool ``spare`` another (ih-2). ih-1 labels a task,
review rejects the label: the task needs one more label, from someone who has not labeled it,
and nobody in ``small`` is left. With a rule that overflows to ``spare`` the task moves there
and ih-2 labels it; with no overflow it stays, flagged ``NO_ELIGIBLE_ANNOTATOR`` on the queue
stats (another tenant's pool of the same id and its annotator change nothing), until new rules
and ``UpdateTaskSignals`` re-route it.
"""

from __future__ import annotations

from typing import Any

import grpc
from labelops.qa.v1 import events_pb2 as qev
from labelops.routing.v1 import routing_pb2 as pb
from labelops.routing.v1 import workforce_pb2 as wpb
from routing_support import ONTOLOGY, box_labels, envelope, eventually, fails, publish

FLAG = "NO_ELIGIBLE_ANNOTATOR"


async def pools(r: Any) -> None:
    for pool_id, who in (("small", "ih-1"), ("spare", "ih-2")):
        await r.admin.CreatePool(
            pb.CreatePoolRequest(
                pool=pb.Pool(pool_id=pool_id, kind=pb.POOL_KIND_IN_HOUSE, active=True)
            )
        )
        await r.admin.RegisterAnnotator(
            pb.RegisterAnnotatorRequest(
                annotator=pb.Annotator(annotator_id=who, pool_id=pool_id, active=True)
            )
        )


def rules(*rule_pools: str) -> pb.RoutingRules:
    return pb.RoutingRules(
        rules=[pb.RoutingRule(name="people", when=pb.RuleCondition(), pools=list(rule_pools))],
        default_pools=["small"],
    )


async def project_with_task(r: Any, project_id: str, ruleset: pb.RoutingRules) -> str:
    oid, version = ONTOLOGY
    await r.admin.CreateProject(
        pb.CreateProjectRequest(
            project_id=project_id, ontology_id=oid, ontology_version=version, rules=ruleset
        )
    )
    created = await r.admin.CreateTasks(
        pb.CreateTasksRequest(
            project_id=project_id,
            items=[pb.TaskItem(item_id="img-1", uri="s3://street/img-1.jpg", modality="image")],
        )
    )
    return created.task_ids[0]


async def label(stub: Any, pool_id: str, who: str, project_id: str, request_id: str) -> str:
    """``who`` claims from ``pool_id`` and labels the one task offered; its task id."""
    offers = (
        await stub.ClaimTasks(
            wpb.ClaimTasksRequest(
                pool_id=pool_id, annotator_id=who, max_tasks=5, project_id=project_id
            )
        )
    ).offers
    assert len(offers) == 1, offers
    await stub.SubmitLabels(
        wpb.SubmitLabelsRequest(
            request_id=request_id,
            submissions=[
                wpb.LabelSubmission(
                    assignment_id=offers[0].assignment_id, labels=box_labels(offers[0].item_id)
                )
            ],
        )
    )
    return offers[0].task_id


async def reject(r: Any, kafka: str, project_id: str, task_id: str) -> pb.Task:
    await publish(
        kafka,
        r.settings.qa_topic,
        [
            envelope(
                qev.LabelRejected(project_id=project_id, task_id=task_id, reason="box too loose"),
                f"projects/{project_id}/tasks/{task_id}",
            )
        ],
    )

    async def reopened() -> pb.Task | None:
        t = (await r.admin.GetTask(pb.GetTaskRequest(project_id=project_id, task_id=task_id))).task
        return t if t.required_labels == 2 else None

    task: pb.Task = await eventually(reopened)
    return task


async def stats_of(stub: Any, project_id: str) -> dict[str, pb.QueueStats]:
    resp = await stub.GetQueueStats(pb.GetQueueStatsRequest(project_id=project_id))
    return {s.pool_id: s for s in resp.pools}


async def test_a_reopened_task_in_an_exhausted_pool_is_labeled_by_the_overflow_pool(
    routing: Any, kafka_bootstrap: str
) -> None:
    r = routing
    await pools(r)
    tid = await project_with_task(r, "p-over", rules("small", "spare"))
    assert await label(r.ih1, "small", "ih-1", "p-over", "b1") == tid

    task = await reject(r, kafka_bootstrap, "p-over", tid)
    assert task.state == pb.TASK_STATE_QUEUED
    assert (task.required_labels, task.labels_submitted) == (2, 1)
    assert task.pool_id == "spare" and task.route_rule == "people"
    assert "overflow" in task.route_reason and "small" in task.route_reason
    # Nothing is offered to ih-1 again (never the same annotator twice), ih-2 gets it.
    again = await r.ih1.ClaimTasks(
        wpb.ClaimTasksRequest(pool_id="small", annotator_id="ih-1", max_tasks=5)
    )
    assert not again.offers
    assert await label(r.ih2, "spare", "ih-2", "p-over", "b2") == tid

    done = (await r.admin.GetTask(pb.GetTaskRequest(project_id="p-over", task_id=tid))).task
    assert done.state == pb.TASK_STATE_LABELED
    assert (done.required_labels, done.labels_submitted) == (2, 2)
    assert sorted((a.annotator_id, a.pool_id) for a in done.assignments) == [
        ("ih-1", "small"),
        ("ih-2", "spare"),
    ]
    stats = await stats_of(r.admin, "p-over")
    assert all(s.no_eligible_annotator == 0 and not s.flags for s in stats.values())


async def test_without_overflow_the_queue_stats_flag_it_until_signals_reroute_it(
    routing: Any, kafka_bootstrap: str
) -> None:
    r = routing
    await pools(r)
    # Another tenant's pool of the same id, with an active annotator who never saw the task:
    # not acme's, so no help for acme's task.
    await r.beta_admin.CreatePool(
        pb.CreatePoolRequest(pool=pb.Pool(pool_id="small", kind=pb.POOL_KIND_IN_HOUSE, active=True))
    )
    await r.beta_admin.RegisterAnnotator(
        pb.RegisterAnnotatorRequest(
            annotator=pb.Annotator(annotator_id="ih-9", pool_id="small", active=True)
        )
    )
    tid = await project_with_task(r, "p-stuck", rules("small"))
    before = await stats_of(r.admin, "p-stuck")
    assert before["small"].no_eligible_annotator == 0 and not before["small"].flags
    await label(r.ih1, "small", "ih-1", "p-stuck", "b1")

    task = await reject(r, kafka_bootstrap, "p-stuck", tid)
    assert task.state == pb.TASK_STATE_QUEUED and task.pool_id == "small"
    assert task.route_reason.startswith(FLAG)
    stats = await stats_of(r.admin, "p-stuck")
    small = stats["small"]
    assert (small.depth, small.outstanding, small.active_leases) == (1, 1, 0)
    assert small.no_eligible_annotator == 1
    assert list(small.no_eligible_annotator_task_ids) == [tid]
    assert list(small.flags) == [FLAG]
    await fails(
        r.beta_admin.GetQueueStats(pb.GetQueueStatsRequest(project_id="p-stuck")),
        grpc.StatusCode.NOT_FOUND,
        "PROJECT_NOT_FOUND",
    )

    # New signals alone cannot help (no overflow yet): the task stays, still flagged.
    same = await r.admin.UpdateTaskSignals(
        pb.UpdateTaskSignalsRequest(
            project_id="p-stuck",
            request_id="s1",
            updates=[pb.TaskSignalsUpdate(task_id=tid, signals=pb.TaskSignals(priority=5))],
        )
    )
    assert (same.tasks_updated, same.tasks_rerouted) == (1, 0)
    assert (await stats_of(r.admin, "p-stuck"))["small"].no_eligible_annotator == 1

    # Rules with an overflow pool, then new signals: the task moves and ih-2 labels it.
    await r.admin.SetRoutingRules(
        pb.SetRoutingRulesRequest(project_id="p-stuck", rules=rules("small", "spare"))
    )
    moved = await r.admin.UpdateTaskSignals(
        pb.UpdateTaskSignalsRequest(
            project_id="p-stuck",
            request_id="s2",
            updates=[pb.TaskSignalsUpdate(task_id=tid, signals=pb.TaskSignals(priority=5))],
        )
    )
    assert (moved.tasks_updated, moved.tasks_rerouted) == (1, 1)
    task = (await r.admin.GetTask(pb.GetTaskRequest(project_id="p-stuck", task_id=tid))).task
    assert task.pool_id == "spare" and task.signals.priority == 5
    after = await stats_of(r.admin, "p-stuck")
    assert all(s.no_eligible_annotator == 0 and not s.flags for s in after.values())
    assert await label(r.ih2, "spare", "ih-2", "p-stuck", "b2") == tid
    done = (await r.admin.GetTask(pb.GetTaskRequest(project_id="p-stuck", task_id=tid))).task
    assert (done.state, done.labels_submitted) == (pb.TASK_STATE_LABELED, 2)
