"""Malformed, oversized and invalid input: a clear error with violations, nothing written, and
the stream and the service stay up."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from labelops.labels.v1 import label_pb2 as L
from labelops.routing.v1 import routing_pb2 as pb
from labelops.routing.v1 import workforce_pb2 as wpb
from labelops_testkit.grpc import serving
from routing_support import ONTOLOGY, WorkStream, box_labels, fails
from test_routing_workforce import create_project, event_count, setup_workforce

MIB = 1024 * 1024


@pytest.fixture
def routing_overrides() -> dict[str, Any]:
    return {"max_batch_bytes": 256 * 1024, "max_message_bytes": 1 * MIB, "max_submissions": 50}


async def leased(r: Any, n: int = 3) -> list[wpb.TaskOffer]:
    await setup_workforce(r.admin)
    await create_project(r)
    await r.admin.CreateTasks(
        pb.CreateTasksRequest(
            project_id="street-p1",
            items=[
                pb.TaskItem(
                    item_id=f"it-{i}",
                    uri=f"s3://street/it-{i}.jpg",
                    modality="image",
                    signals=pb.TaskSignals(class_id="car", confidence=0.9),
                    context=L.ItemContext(width=640, height=480),
                )
                for i in range(n)
            ],
        )
    )
    resp = await r.vendor_a.ClaimTasks(
        wpb.ClaimTasksRequest(pool_id="vendor-a", annotator_id="va/w1", max_tasks=n)
    )
    assert len(resp.offers) == n
    return list(resp.offers)


def submission(o: wpb.TaskOffer, labels: L.ItemLabels | None = None) -> wpb.LabelSubmission:
    return wpb.LabelSubmission(
        assignment_id=o.assignment_id, labels=labels or box_labels(o.item_id)
    )


async def test_invalid_labels_are_refused_with_violations_and_nothing_is_written(routing):
    r = routing
    offers = await leased(r)
    stream = WorkStream(r.vendor_a)
    before = await event_count(r)
    unknown_class = box_labels(offers[1].item_id, "truck")
    out_of_bounds = L.ItemLabels(
        item_id=offers[2].item_id,
        labels=[
            L.Label(
                label_id="l1", class_id="car", box=L.BoundingBox(x=600, y=10, width=200, height=40)
            )
        ],
    )
    batch = wpb.SubmitLabelsRequest(
        request_id="bad-1",
        submissions=[
            submission(offers[0]),  # valid, but the batch is all or nothing
            submission(offers[1], unknown_class),
            submission(offers[2], out_of_bounds),
        ],
    )
    resp = await stream.send(submit=batch)
    assert resp.error.code == "INVALID_ARGUMENT", resp
    by_index = {v.submission_index for v in resp.error.violations}
    assert by_index == {1, 2}, resp.error
    assert any("class_id" in v.field for v in resp.error.violations if v.submission_index == 1)
    assert any(v.reason for v in resp.error.violations)
    assert await event_count(r) == before
    # The same over the unary call: INVALID_ARGUMENT with BadRequest field violations.
    _, fields = await fails(r.vendor_a.SubmitLabels(batch), grpc.StatusCode.INVALID_ARGUMENT)
    assert any(f.startswith("submissions[1].labels.") for f in fields)
    assert any(f.startswith("submissions[2].labels.") for f in fields)
    # A label for another item than the task's.
    wrong_item = await stream.send(
        submit=wpb.SubmitLabelsRequest(
            request_id="bad-2", submissions=[submission(offers[0], box_labels("someone-else"))]
        )
    )
    assert [v.field for v in wrong_item.error.violations] == ["submissions[0].labels.item_id"]
    # Malformed: not an assignment id, no request id, negative time.
    malformed = await stream.send(
        submit=wpb.SubmitLabelsRequest(
            request_id="",
            submissions=[wpb.LabelSubmission(assignment_id="not-an-id", time_spent_ms=-1)],
        )
    )
    assert malformed.error.code == "INVALID_ARGUMENT"
    assert await event_count(r) == before
    # The stream is still up: the corrected batch lands on it, under a fresh request id.
    ok = await stream.send(
        submit=wpb.SubmitLabelsRequest(
            request_id="good-1", submissions=[submission(o) for o in offers]
        )
    )
    assert len(ok.submitted.accepted) == 3
    # A request id reused for different content is refused, not replayed.
    reused = await stream.send(
        submit=wpb.SubmitLabelsRequest(request_id="good-1", submissions=[submission(offers[0])])
    )
    assert reused.error.reason == "REQUEST_ID_REUSED"
    await stream.close()


async def test_oversized_batches_are_resource_exhausted_and_the_service_stays_up(routing):
    r = routing
    offers = await leased(r, 2)
    before = await event_count(r)
    big = box_labels(offers[0].item_id)
    # Many answers, each under the generic per-string cap (libs/grpckit): the batch as a whole
    # is what is too large.
    for _ in range(40):
        big.labels[0].answers.add(classification_id="color", text="x" * 8000)
    stream = WorkStream(r.vendor_a)
    resp = await stream.send(
        submit=wpb.SubmitLabelsRequest(request_id="big-1", submissions=[submission(offers[0], big)])
    )
    assert resp.error.code == "RESOURCE_EXHAUSTED" and resp.error.reason == "BATCH_TOO_LARGE"
    many = await stream.send(
        submit=wpb.SubmitLabelsRequest(
            request_id="many-1", submissions=[submission(offers[0])] * 51
        )
    )
    assert many.error.code == "RESOURCE_EXHAUSTED"
    hb = await stream.send(heartbeat=wpb.HeartbeatRequest(assignment_ids=[offers[0].assignment_id]))
    assert hb.heartbeat.leases[0].active  # same stream, still answering
    # Above the transport limit grpc refuses the message itself.
    huge = box_labels(offers[0].item_id)
    huge.labels[0].answers.add(classification_id="color", text="x" * (2 * MIB))
    await fails(
        r.vendor_a.SubmitLabels(
            wpb.SubmitLabelsRequest(request_id="huge-1", submissions=[submission(offers[0], huge)])
        ),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    )
    assert await event_count(r) == before
    assert await serving(r.app.target)
    ok = await r.vendor_a.SubmitLabels(
        wpb.SubmitLabelsRequest(request_id="ok-1", submissions=[submission(o) for o in offers])
    )
    assert len(ok.accepted) == 2
    await stream.close()


async def test_bad_project_pool_and_task_commands(routing):
    r = routing
    await setup_workforce(r.admin)
    oid, version = ONTOLOGY
    before = await event_count(r)
    await fails(
        r.admin.CreateProject(
            pb.CreateProjectRequest(project_id="p2", ontology_id=oid, ontology_version="9.9.9")
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ONTOLOGY_VERSION_UNKNOWN",
    )
    _, fields = await fails(
        r.admin.CreateProject(
            pb.CreateProjectRequest(
                project_id="Bad Id!",
                ontology_id=oid,
                ontology_version=version,
                config=pb.WorkflowConfig(gold_rate=0.9, lease_seconds=1),
                rules=pb.RoutingRules(
                    rules=[pb.RoutingRule(name="r1", pools=["nowhere"])],
                    default_pools=["kind:in_house"],
                ),
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert {"project_id", "config.gold_rate", "config.lease_seconds"} <= set(fields)
    assert any(f.startswith("rules.rules[0].pools") for f in fields), fields
    _, fields = await fails(
        r.admin.CreatePool(
            pb.CreatePoolRequest(pool=pb.Pool(pool_id="v", kind=pb.POOL_KIND_VENDOR))
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert fields == ["pool.vendor_id"]
    await fails(
        r.admin.CreateTasks(
            pb.CreateTasksRequest(project_id="nope", items=[pb.TaskItem(item_id="a", uri="s3://a")])
        ),
        grpc.StatusCode.NOT_FOUND,
        "PROJECT_NOT_FOUND",
    )
    # Vendors work; they do not manage pools or projects.
    await fails(
        r.vendor_a_routing.CreatePool(
            pb.CreatePoolRequest(pool=pb.Pool(pool_id="mine", kind=pb.POOL_KIND_IN_HOUSE))
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED_BY_ROLE",
    )
    assert await event_count(r) == before
    await create_project(r)
    _, fields = await fails(
        r.admin.CreateTasks(
            pb.CreateTasksRequest(
                project_id="street-p1",
                items=[pb.TaskItem(item_id="", uri="", signals=pb.TaskSignals(ambiguity=2))],
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert set(fields) == {"items[0].item_id", "items[0].uri", "items[0].signals.ambiguity"}
    # High-stakes work never falls through to a vendor when no in-house pool can take it.
    await r.admin.UpdatePool(
        pb.UpdatePoolRequest(pool=pb.Pool(pool_id="in-house", cost_per_task=0.5, active=False))
    )
    before = await event_count(r)
    await fails(
        r.admin.CreateTasks(
            pb.CreateTasksRequest(
                project_id="street-p1",
                items=[
                    pb.TaskItem(
                        item_id="hs-1",
                        uri="s3://a/hs-1.jpg",
                        signals=pb.TaskSignals(class_id="person"),
                    )
                ],
            )
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "NO_POOL_AVAILABLE",
    )
    assert await event_count(r) == before


async def test_a_hostile_work_message_is_answered_on_the_stream_which_stays_open(routing):
    """A NUL in a label (refused by the server's validator before the handler) is answered on
    the Work stream with INVALID_ARGUMENT and its field violation, writes nothing, and the
    next message on the same stream lands: the contract of workforce.proto."""
    r = routing
    offers = await leased(r)
    stream = WorkStream(r.vendor_a)
    before = await event_count(r)
    hostile = box_labels(offers[0].item_id)
    hostile.labels[0].label_id = "l\x00"
    bad = await stream.send(
        submit=wpb.SubmitLabelsRequest(
            request_id="nul-1", submissions=[submission(offers[0], hostile)]
        )
    )
    assert (bad.error.code, bad.error.reason) == ("INVALID_ARGUMENT", "REQUEST_LIMITS"), bad
    assert [v.field for v in bad.error.violations] == [
        "submit.submissions[0].labels.labels[0].label_id"
    ]
    assert await event_count(r) == before
    ok = await stream.send(
        submit=wpb.SubmitLabelsRequest(
            request_id="after-nul", submissions=[submission(o) for o in offers]
        )
    )
    assert len(ok.submitted.accepted) == len(offers), ok
    await stream.close()
