"""Two vendors and an in-house pool working one project over the real ``Work`` stream.

Tasks come the production way: the test publishes curation events (items registered and
included) to Kafka, the routing service's consumer turns them into tasks and routes them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import grpc
from labelops.curation.v1 import curation_pb2 as cpb
from labelops.curation.v1 import events_pb2 as cev
from labelops.routing.v1 import routing_pb2 as pb
from labelops.routing.v1 import workforce_pb2 as wpb
from routing_support import (
    ONTOLOGY,
    H,
    W,
    WorkStream,
    box_labels,
    envelope,
    eventually,
    fails,
    publish,
)

N_CAR, N_SIGN, N_PERSON = 1000, 40, 20


async def setup_workforce(admin: Any) -> None:
    for pool in (
        pb.Pool(pool_id="in-house", kind=pb.POOL_KIND_IN_HOUSE, cost_per_task=0.5, active=True),
        pb.Pool(
            pool_id="vendor-a",
            kind=pb.POOL_KIND_VENDOR,
            vendor_id="va",
            capacity=30,
            cost_per_task=0.05,
            active=True,
        ),
        pb.Pool(
            pool_id="vendor-b",
            kind=pb.POOL_KIND_VENDOR,
            vendor_id="vb",
            cost_per_task=0.08,
            active=True,
        ),
    ):
        await admin.CreatePool(pb.CreatePoolRequest(pool=pool))
    for pool, people in (
        ("in-house", ["ih-1", "ih-2"]),
        ("vendor-a", ["va/w1", "va/w2"]),
        ("vendor-b", ["vb/w1", "vb/w2"]),
    ):
        for who in people:
            await admin.RegisterAnnotator(
                pb.RegisterAnnotatorRequest(
                    annotator=pb.Annotator(annotator_id=who, pool_id=pool, active=True)
                )
            )


def curation_events(dataset: str) -> list[Any]:
    envs = []
    ids = []
    for cls, n in (("car", N_CAR), ("sign", N_SIGN), ("person", N_PERSON)):
        for i in range(n):
            item_id = f"{cls}-{i:04d}"
            ids.append(item_id)
            envs.append(
                envelope(
                    cev.ItemRegistered(
                        dataset_id=dataset,
                        item_id=item_id,
                        external_id=item_id,
                        uri=f"s3://street/{item_id}.jpg",
                        modality=cpb.MODALITY_IMAGE,
                        width=W,
                        height=H,
                        metadata={"labelops.class": cls},
                    ),
                    f"datasets/{dataset}",
                )
            )
    envs.append(
        envelope(
            cev.ItemsCurated(
                dataset_id=dataset,
                decision=cpb.DECISION_INCLUDE,
                reason=cpb.CURATION_REASON_MANUAL,
                item_ids=ids,
            ),
            f"datasets/{dataset}",
        )
    )
    return envs


async def create_project(r: Any, **config: Any) -> None:
    oid, version = ONTOLOGY
    await r.admin.CreateProject(
        pb.CreateProjectRequest(
            project_id="street-p1",
            dataset_id="street-ds",
            ontology_id=oid,
            ontology_version=version,
            config=pb.WorkflowConfig(
                overlap=pb.OverlapPolicy(
                    default_annotators=2,
                    per_class=[
                        pb.ClassOverlap(class_id="sign", sample_rate=1.0, annotators=2),
                        pb.ClassOverlap(class_id="car", sample_rate=0.1, annotators=2),
                    ],
                ),
                high_stakes_classes=["person"],
                **config,
            ),
        )
    )


async def all_tasks(admin: Any, project: str = "street-p1") -> list[pb.Task]:
    out: list[pb.Task] = []
    token = ""
    while True:
        resp = await admin.ListTasks(
            pb.ListTasksRequest(project_id=project, page_size=500, page_token=token)
        )
        out += resp.tasks
        if not (token := resp.next_page_token):
            return out


def metric_points(reader: Any, name: str, **attrs: str) -> list[float]:
    """Values of ``name``'s data points whose attributes include ``attrs``."""
    data = reader.get_metrics_data()
    if data is None:
        return []
    return [
        p.value
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == name
        for p in m.data.data_points
        if all(p.attributes.get(k) == v for k, v in attrs.items())
    ]


async def event_count(r: Any) -> int:
    return await r.app.pool.fetchval(f'SELECT count(*) FROM "{r.settings.db_schema}".events')


async def test_hybrid_routing_overlap_gold_leases_and_vendor_isolation(routing, kafka_bootstrap):
    r = routing
    await setup_workforce(r.admin)
    await create_project(r, gold_rate=0.1, lease_seconds=2)
    await publish(kafka_bootstrap, r.settings.curation_topic, curation_events("street-ds"))
    n_items = N_CAR + N_SIGN + N_PERSON

    async def created() -> bool:
        p = (await r.admin.GetProject(pb.GetProjectRequest(project_id="street-p1"))).project
        return p.tasks_total == n_items

    await eventually(created)
    listed = (await r.admin.ListProjects(pb.ListProjectsRequest())).projects
    assert [(p.project_id, p.tasks_total, p.tasks_labeled) for p in listed] == [
        ("street-p1", n_items, 0)
    ]
    tasks = await all_tasks(r.admin)
    by_class: dict[str, list[pb.Task]] = {}
    for t in tasks:
        by_class.setdefault(t.signals.class_id, []).append(t)

    # --- rules route as configured (hybrid default): high stakes in-house; volume to the
    # cheapest vendor up to its capacity, then overflow to the next vendor.
    assert {t.pool_id for t in by_class["person"]} == {"in-house"}
    assert all(t.signals.high_stakes for t in by_class["person"])
    volume = by_class["car"] + by_class["sign"]
    pools = Counter(t.pool_id for t in volume)
    assert pools == {"vendor-a": 30, "vendor-b": N_CAR + N_SIGN - 30}
    assert all("full" in t.route_reason for t in volume if t.pool_id == "vendor-b")
    listed = {p.pool_id: p for p in (await r.admin.ListPools(pb.ListPoolsRequest())).pools}
    assert listed["vendor-a"].outstanding == 30
    # Ambiguous work goes in-house even without high stakes.
    amb = await r.admin.CreateTasks(
        pb.CreateTasksRequest(
            project_id="street-p1",
            items=[
                pb.TaskItem(
                    item_id=f"amb-{i}",
                    uri=f"s3://street/amb-{i}.jpg",
                    modality="image",
                    signals=pb.TaskSignals(class_id="car", ambiguity=0.6),
                )
                for i in range(5)
            ],
        )
    )
    for tid in amb.task_ids:
        t = (await r.admin.GetTask(pb.GetTaskRequest(project_id="street-p1", task_id=tid))).task
        assert t.pool_id == "in-house" and t.route_rule == "ambiguous"

    # --- overlap per class: 100% double-labeled signs, ~10% of cars.
    assert {t.required_labels for t in by_class["sign"]} == {2}
    doubled = sum(t.required_labels == 2 for t in by_class["car"])
    assert 0.07 * N_CAR <= doubled <= 0.13 * N_CAR, doubled
    assert {t.required_labels for t in by_class["car"]} == {1, 2}

    # --- gold tasks, mixed into offers at ~10%.
    version = ONTOLOGY[1]
    gold = await r.admin.AddGoldTasks(
        pb.AddGoldTasksRequest(
            project_id="street-p1",
            items=[
                pb.GoldItem(
                    item=pb.TaskItem(
                        item_id=f"gold-{i}", uri=f"s3://gold/{i}.jpg", modality="image"
                    ),
                    expected=box_labels(f"gold-{i}", "car"),
                )
                for i in range(60)
            ],
        )
    )
    gold_ids = set(gold.task_ids)

    stream_b = WorkStream(r.vendor_b)
    offers: dict[str, list[wpb.TaskOffer]] = {}
    for worker in ("vb/w1", "vb/w2"):
        got: list[wpb.TaskOffer] = []
        for _ in range(6):
            got += await stream_b.claim("vendor-b", worker, 50, "street-p1")
        offers[worker] = got
        # Never the same annotator twice on a task.
        assert len({o.task_id for o in got}) == len(got) == 300
        share = sum(o.task_id in gold_ids for o in got) / len(got)
        assert 0.05 <= share <= 0.15, share
        # Offers look alike: gold ones carry the same fields as any other.
        gold_offer = next(o for o in got if o.task_id in gold_ids)
        assert gold_offer.ontology_version == version and gold_offer.item_uri
    # A double-labeled sign offered to both workers, never twice to one.
    both = {o.task_id for o in offers["vb/w1"]} & {o.task_id for o in offers["vb/w2"]}
    assert both - gold_ids, "overlap tasks go to a second annotator"

    # --- submissions over the stream, in batches with request ids.
    w1 = offers["vb/w1"]
    batch = wpb.SubmitLabelsRequest(
        request_id="vb-batch-1",
        submissions=[
            wpb.LabelSubmission(
                assignment_id=o.assignment_id,
                labels=box_labels(o.item_id),
                time_spent_ms=4200,
                prelabel_outcome=wpb.PRELABEL_OUTCOME_NONE,
            )
            for o in w1[:100]
        ],
    )
    resp = await stream_b.send(submit=batch)
    assert resp.WhichOneof("kind") == "submitted", resp
    assert len(resp.submitted.accepted) == 100
    before = await event_count(r)
    again = await stream_b.send(submit=batch)  # a resubmitted request id writes nothing new
    assert again.submitted == resp.submitted
    assert await event_count(r) == before
    unary_again = await r.vendor_b.SubmitLabels(batch)
    assert unary_again == resp.submitted and await event_count(r) == before
    stored = await r.app.store.read_stream(
        f"projects/street-p1/tasks/{resp.submitted.accepted[0].task_id}"
    )
    assert [e.type.rsplit(".", 1)[1] for e in stored][:3] == [
        "TaskCreated",
        "TaskAssigned",
        "LabelSubmitted",
    ]

    # An overlap task completes with its second label: that LabelSubmitted carries the flag
    # and both annotators (QA computes consensus from it).
    w1_by_task = {o.task_id: o for o in w1}
    w2_by_task = {o.task_id: o for o in offers["vb/w2"]}
    shared = min(both - gold_ids)
    if w1_by_task[shared] not in w1[:100]:
        await r.vendor_b.SubmitLabels(
            wpb.SubmitLabelsRequest(
                request_id="vb-overlap-0",
                submissions=[
                    wpb.LabelSubmission(
                        assignment_id=w1_by_task[shared].assignment_id,
                        labels=box_labels(w1_by_task[shared].item_id),
                    )
                ],
            )
        )
    await r.vendor_b.SubmitLabels(
        wpb.SubmitLabelsRequest(
            request_id="vb-overlap",
            submissions=[
                wpb.LabelSubmission(
                    assignment_id=w2_by_task[shared].assignment_id,
                    labels=box_labels(w2_by_task[shared].item_id, x=12),
                )
            ],
        )
    )
    from labelops.routing.v1 import events_pb2 as ev

    submitted = [
        ev.LabelSubmitted.FromString(e.payload)
        for e in await r.app.store.read_stream(f"projects/street-p1/tasks/{shared}")
        if e.type == ev.LabelSubmitted.DESCRIPTOR.full_name
    ]
    assert [(e.labels_submitted, e.task_labeled) for e in submitted] == [(1, False), (2, True)]
    assert list(submitted[1].annotator_ids) == ["vb/w1", "vb/w2"]

    # --- vendor A can neither see nor submit B's tasks.
    stream_a = WorkStream(r.vendor_a)
    denied = await stream_a.send(
        claim=wpb.ClaimTasksRequest(pool_id="vendor-b", annotator_id="va/w1", max_tasks=5)
    )
    assert denied.error.code == "PERMISSION_DENIED", denied
    steal = await stream_a.send(
        submit=wpb.SubmitLabelsRequest(
            request_id="va-steal",
            submissions=[
                wpb.LabelSubmission(
                    assignment_id=w1[150].assignment_id, labels=box_labels(w1[150].item_id)
                )
            ],
        )
    )
    assert steal.error.code == "PERMISSION_DENIED" and steal.error.reason == "NOT_YOUR_TASK"
    await fails(
        r.vendor_a.Heartbeat(wpb.HeartbeatRequest(assignment_ids=[w1[150].assignment_id])),
        grpc.StatusCode.PERMISSION_DENIED,
        "NOT_YOUR_TASK",
    )
    await fails(
        r.vendor_a.ClaimTasks(
            wpb.ClaimTasksRequest(pool_id="vendor-b", annotator_id="vb/w1", max_tasks=1)
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "POOL_NOT_YOURS",
    )
    # ...while its own pool works on the same stream.
    own = await stream_a.claim("vendor-a", "va/w1", 10, "street-p1")
    assert own and all(o.annotator_id == "va/w1" for o in own)
    assert not {o.task_id for o in own} & {o.task_id for o in w1} - gold_ids

    # --- an expired lease is reassigned: w1's unsubmitted leases lapse (2 s lease, only the
    # first 100 were submitted); heartbeats keep w2's alive.
    lapsed = next(o for o in w1[100:] if o.task_id != shared)
    keep = [o.assignment_id for o in offers["vb/w2"] if o.task_id != shared][:5]
    for _ in range(4):
        hb = await stream_b.send(heartbeat=wpb.HeartbeatRequest(assignment_ids=keep))
        assert all(lease.active for lease in hb.heartbeat.leases)
        await asyncio.sleep(0.8)

    async def expired() -> bool:
        t = (
            await r.admin.GetTask(pb.GetTaskRequest(project_id="street-p1", task_id=lapsed.task_id))
        ).task
        return any(a.state == pb.ASSIGNMENT_STATE_EXPIRED for a in t.assignments)

    await eventually(expired, timeout=10)
    late = await stream_b.send(
        submit=wpb.SubmitLabelsRequest(
            request_id="vb-late",
            submissions=[
                wpb.LabelSubmission(
                    assignment_id=lapsed.assignment_id, labels=box_labels(lapsed.item_id)
                )
            ],
        )
    )
    assert late.error.code == "FAILED_PRECONDITION", late
    assert late.error.reason in ("LEASE_EXPIRED", "ASSIGNMENT_NOT_ACTIVE")
    await r.admin.RegisterAnnotator(
        pb.RegisterAnnotatorRequest(
            annotator=pb.Annotator(annotator_id="vb/w3", pool_id="vendor-b", active=True)
        )
    )
    reassigned: set[str] = set()
    for _ in range(20):
        got = await stream_b.claim("vendor-b", "vb/w3", 50, "street-p1")
        reassigned |= {o.task_id for o in got}
        if lapsed.task_id in reassigned or not got:
            break
    assert lapsed.task_id in reassigned
    task = (
        await r.admin.GetTask(pb.GetTaskRequest(project_id="street-p1", task_id=lapsed.task_id))
    ).task
    states = {a.annotator_id: a.state for a in task.assignments}
    assert states["vb/w1"] == pb.ASSIGNMENT_STATE_EXPIRED
    assert states["vb/w3"] == pb.ASSIGNMENT_STATE_ACTIVE

    # Skips free the task for someone else, with the reason recorded.
    skip = await stream_b.send(
        skip=wpb.SkipTaskRequest(
            assignment_id=offers["vb/w2"][0].assignment_id, reason=wpb.SKIP_REASON_UNCLEAR
        )
    )
    assert skip.WhichOneof("kind") == "skipped", skip
    await stream_a.close()
    await stream_b.close()


async def test_in_house_tool_completes_tasks_and_labels_reach_kafka(routing, kafka_bootstrap):
    from labelops_telemetry import setup_telemetry
    from labelops_testkit.kafka import wait_for_envelopes
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    setup_telemetry("routing-tests", metric_reader=reader)
    baseline = {
        name: sum(metric_points(reader, name, pool="in-house"))
        for name in ("labelops.routing.labels.accepted", "labelops.routing.tasks.offered")
    }
    r = routing
    await setup_workforce(r.admin)
    await create_project(r)
    created = await r.admin.CreateTasks(
        pb.CreateTasksRequest(
            project_id="street-p1",
            request_id="ct-1",
            items=[
                pb.TaskItem(
                    item_id=f"ih-{i}",
                    uri=f"s3://street/ih-{i}.jpg",
                    modality="image",
                    signals=pb.TaskSignals(class_id="person", priority=float(i)),
                )
                for i in range(4)
            ],
        )
    )
    assert created.tasks_created == 4
    again = await r.admin.CreateTasks(
        pb.CreateTasksRequest(
            project_id="street-p1",
            items=[pb.TaskItem(item_id="ih-0", uri="s3://street/ih-0.jpg", modality="image")],
        )
    )
    assert (again.tasks_created, again.tasks_existing) == (0, 1)
    await fails(
        r.ih1.ClaimTasks(
            wpb.ClaimTasksRequest(pool_id="vendor-a", annotator_id="ih-1", max_tasks=1)
        ),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    offers = (
        await r.ih1.ClaimTasks(
            wpb.ClaimTasksRequest(pool_id="in-house", annotator_id="ih-1", max_tasks=10)
        )
    ).offers
    # Highest priority first.
    assert [o.item_id for o in offers] == ["ih-3", "ih-2", "ih-1", "ih-0"]
    resp = await r.ih1.SubmitLabels(
        wpb.SubmitLabelsRequest(
            request_id="ih-batch",
            submissions=[
                wpb.LabelSubmission(
                    assignment_id=o.assignment_id,
                    labels=box_labels(o.item_id),
                    prelabel_outcome=wpb.PRELABEL_OUTCOME_EDITED,
                    time_spent_ms=1000,
                )
                for o in offers
            ],
        )
    )
    tasks = await all_tasks(r.admin)
    assert {t.state for t in tasks} == {pb.TASK_STATE_LABELED}
    # Throughput and queue depth are exported as OpenTelemetry metrics.
    for name in baseline:
        assert sum(metric_points(reader, name, pool="in-house")) - baseline[name] == 4, name

    async def depth_reported() -> bool:
        return any(metric_points(reader, "labelops.routing.queue.depth", pool="vendor-a"))

    await r.admin.CreateTasks(
        pb.CreateTasksRequest(
            project_id="street-p1",
            items=[pb.TaskItem(item_id="vol-1", uri="s3://street/vol-1.jpg", modality="image")],
        )
    )
    await eventually(depth_reported)
    topic = f"labelops.{r.settings.service_name}.events.v1"
    envs = await wait_for_envelopes(kafka_bootstrap, topic, await event_count(r))
    from labelops.routing.v1 import events_pb2 as ev

    labels = [
        ev.LabelSubmitted.FromString(e.payload)
        for e in envs
        if e.type == ev.LabelSubmitted.DESCRIPTOR.full_name
    ]
    assert {str(uuid.UUID(e.event_id)) for e in envs} >= {a.event_id for a in resp.accepted}
    # One label per task here: each label completes its task (QA starts from that flag).
    assert len(labels) == 4 and all(e.task_labeled for e in labels)
    assert all(list(e.annotator_ids) == ["ih-1"] for e in labels)
    first = labels[0]
    assert first.annotator_id == "ih-1" and first.pool_id == "in-house"
    assert first.prelabel_outcome == wpb.PRELABEL_OUTCOME_EDITED and first.time_spent_ms == 1000
    assert first.labels.labels[0].box.width == 50 and first.ontology_version == ONTOLOGY[1]

    # QA rejects one label: the task reopens for one more label, from someone else.
    from labelops.qa.v1 import events_pb2 as qev

    rejected = offers[0]
    await publish(
        kafka_bootstrap,
        r.settings.qa_topic,
        [
            envelope(
                qev.LabelRejected(
                    project_id="street-p1", task_id=rejected.task_id, reason="box too loose"
                ),
                f"projects/street-p1/tasks/{rejected.task_id}",
            )
        ],
    )

    async def reopened() -> pb.Task | None:
        t = (
            await r.admin.GetTask(
                pb.GetTaskRequest(project_id="street-p1", task_id=rejected.task_id)
            )
        ).task
        return t if t.state == pb.TASK_STATE_QUEUED else None

    task = await eventually(reopened)
    assert task.required_labels == 2 and task.labels_submitted == 1
    again_ih1 = await r.ih1.ClaimTasks(
        wpb.ClaimTasksRequest(pool_id="in-house", annotator_id="ih-1", max_tasks=10)
    )
    assert not again_ih1.offers  # never the same annotator twice
    ih2 = await r.ih2.ClaimTasks(
        wpb.ClaimTasksRequest(pool_id="in-house", annotator_id="ih-2", max_tasks=10)
    )
    assert [o.task_id for o in ih2.offers] == [rejected.task_id]
