"""Tenants, vendors and annotators against each other's work, over the wire (issue 17).

Tenant acme holds the project, pools, tasks and leases; beta's admin tries every RoutingService
and WorkforceService method on them (NOT_FOUND or empty, nothing written, acme's reads
unchanged after); vendor vb tries va's tasks and leases; annotators try to act as each other;
gold flags stay with those who may read gold; a whole label (nested answers, attributes, a
relation) submitted by a vendor comes out of LabelSubmitted field by field, and only acme
sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import grpc
from labelops.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from labelops.labels.v1 import label_pb2 as L
from labelops.ontology.v1 import definition_pb2 as D
from labelops.ontology.v1 import events_pb2 as oev
from labelops.routing.v1 import events_pb2 as ev
from labelops.routing.v1 import routing_pb2 as pb
from labelops.routing.v1 import workforce_pb2 as wpb
from labelops_grpckit import channel
from labelops_grpckit.ratelimit import RateLimiter
from routing_support import (
    ADMIN_KEY,
    BETA_ADMIN_KEY,
    VENDOR_B_KEY,
    H,
    W,
    WorkStream,
    box_labels,
    envelope,
    eventually,
    fails,
    publish,
)
from test_routing_workforce import setup_workforce

NF = grpc.StatusCode.NOT_FOUND
DENIED = grpc.StatusCode.PERMISSION_DENIED
RICH = ("street-rich", "1.0.0")
P = "tenancy-p1"


def rich_definition() -> D.OntologyDefinition:
    """Cars with a color (red has a nested shade) and an occluded attribute; persons; a person
    drives a car."""
    d = D.OntologyDefinition()
    car = d.classes.add(id="car", name="Car", geometry=D.GEOMETRY_KIND_BOUNDING_BOX)
    color = car.classifications.add(id="color", name="Color", kind=D.CLASSIFICATION_KIND_RADIO)
    red = color.options.add(id="red", name="Red")
    red.classifications.add(id="shade", name="Shade", kind=D.CLASSIFICATION_KIND_TEXT)
    color.options.add(id="blue", name="Blue")
    car.attributes.add(id="occluded", name="Occluded", type=D.ATTRIBUTE_TYPE_BOOL)
    d.classes.add(id="person", name="Person", geometry=D.GEOMETRY_KIND_BOUNDING_BOX)
    d.relationships.add(
        id="drives",
        name="drives",
        from_class_id="person",
        to_class_id="car",
        cardinality=D.CARDINALITY_MANY_TO_MANY,
    )
    return d


def whole_label(item_id: str) -> L.ItemLabels:
    labels = L.ItemLabels(item_id=item_id)
    car = labels.labels.add(
        label_id="car-1", class_id="car", box=L.BoundingBox(x=100, y=50, width=200, height=120)
    )
    car.answers.add(classification_id="color", option_id="red")
    car.answers.add(classification_id="shade", text="crimson")
    car.attributes["occluded"].bool_value = True
    labels.labels.add(
        label_id="person-1", class_id="person", box=L.BoundingBox(x=20, y=30, width=40, height=90)
    )
    labels.relations.add(relationship_id="drives", from_label_id="person-1", to_label_id="car-1")
    return labels


async def event_count(r: Any) -> int:
    return int(
        await r.app.store.pool.fetchval(f'SELECT count(*) FROM "{r.settings.db_schema}".events')
    )


async def acme_world(r: Any, pg_pool: Any) -> None:
    """Pools of acme, a project on the rich ontology, vendor tasks, in-house tasks, gold."""
    oid, version = RICH
    await publish(
        r.app.settings.kafka_bootstrap,
        r.settings.ontology_topic,
        [
            envelope(
                oev.OntologyVersionPublished(
                    ontology_id=oid, version=version, definition=rich_definition()
                ),
                f"ontologies/{oid}",
            )
        ],
    )
    await eventually(
        lambda: pg_pool.fetchval(
            f'SELECT count(*) FROM "{r.settings.db_schema}".ontology_versions'
            " WHERE ontology_id = $1",
            oid,
        )
    )
    await setup_workforce(r.admin)
    await r.admin.CreateProject(
        pb.CreateProjectRequest(project_id=P, ontology_id=oid, ontology_version=version)
    )

    def items(prefix: str, n: int, **signals: Any) -> list[pb.TaskItem]:
        return [
            pb.TaskItem(
                item_id=f"{prefix}-{i}",
                uri=f"s3://street/{prefix}-{i}.jpg",
                signals=pb.TaskSignals(**signals),
                context=L.ItemContext(width=W, height=H),
            )
            for i in range(n)
        ]

    # Well-defined volume goes to the cheapest vendor (va); ambiguous work stays in-house.
    await r.admin.CreateTasks(pb.CreateTasksRequest(project_id=P, items=items("v", 4)))
    await r.admin.CreateTasks(
        pb.CreateTasksRequest(project_id=P, items=items("ih", 3, ambiguity=0.6))
    )
    await r.admin.AddGoldTasks(
        pb.AddGoldTasksRequest(
            project_id=P,
            items=[
                pb.GoldItem(item=it, expected=box_labels(it.item_id, "car")) for it in items("g", 1)
            ],
        )
    )


async def tasks_of(stub: Any) -> list[pb.Task]:
    return list((await stub.ListTasks(pb.ListTasksRequest(project_id=P, page_size=500))).tasks)


@contextlib.asynccontextmanager
async def event_log(target: str, key: str) -> Any:
    async with channel(target, api_key=key) as ch:
        yield eventlog_pb2_grpc.EventLogServiceStub(ch)


async def test_another_tenant_finds_nothing_and_changes_nothing(routing, pg_pool):
    r = routing
    await acme_world(r, pg_pool)
    offers = (
        await r.vendor_a.ClaimTasks(
            wpb.ClaimTasksRequest(pool_id="vendor-a", annotator_id="va/w1", max_tasks=2)
        )
    ).offers
    assert len(offers) == 2
    a_tasks = {t.task_id: t for t in await tasks_of(r.admin)}
    task = a_tasks[offers[0].task_id]
    aid = offers[0].assignment_id
    before = await event_count(r)
    b, bw = r.beta_admin, r.beta_work
    # Reads: NOT_FOUND for what is named, empty lists.
    await fails(b.GetProject(pb.GetProjectRequest(project_id=P)), NF, "PROJECT_NOT_FOUND")
    assert not (await b.ListProjects(pb.ListProjectsRequest())).projects
    assert not (await b.ListPools(pb.ListPoolsRequest())).pools
    assert not (await b.ListAnnotators(pb.ListAnnotatorsRequest())).annotators
    assert not (await b.ListAnnotators(pb.ListAnnotatorsRequest(pool_id="vendor-a"))).annotators
    await fails(b.GetTask(pb.GetTaskRequest(project_id=P, task_id=task.task_id)), NF)
    await fails(b.ListTasks(pb.ListTasksRequest(project_id=P)), NF, "PROJECT_NOT_FOUND")
    await fails(b.GetQueueStats(pb.GetQueueStatsRequest(project_id=P)), NF, "PROJECT_NOT_FOUND")
    # Writes: NOT_FOUND, nothing written.
    await fails(
        b.UpdateProjectConfig(
            pb.UpdateProjectConfigRequest(project_id=P, config=pb.WorkflowConfig(gold_rate=0.5))
        ),
        NF,
        "PROJECT_NOT_FOUND",
    )
    await fails(
        b.SetRoutingRules(
            pb.SetRoutingRulesRequest(
                project_id=P, rules=pb.RoutingRules(default_pools=["kind:in_house"])
            )
        ),
        NF,
        "PROJECT_NOT_FOUND",
    )
    await fails(
        b.UpdatePool(pb.UpdatePoolRequest(pool=pb.Pool(pool_id="vendor-a", active=False))),
        NF,
        "POOL_NOT_FOUND",
    )
    await fails(
        b.RegisterAnnotator(
            pb.RegisterAnnotatorRequest(
                annotator=pb.Annotator(annotator_id="spy", pool_id="vendor-a", active=True)
            )
        ),
        NF,
        "POOL_NOT_FOUND",
    )
    item = pb.TaskItem(item_id="x-1", uri="s3://x/1.jpg", context=L.ItemContext(width=W, height=H))
    await fails(b.CreateTasks(pb.CreateTasksRequest(project_id=P, items=[item])), NF)
    await fails(
        b.AddGoldTasks(
            pb.AddGoldTasksRequest(
                project_id=P, items=[pb.GoldItem(item=item, expected=box_labels("x-1"))]
            )
        ),
        NF,
    )
    await fails(
        b.UpdateTaskSignals(
            pb.UpdateTaskSignalsRequest(
                project_id=P,
                updates=[
                    pb.TaskSignalsUpdate(
                        task_id=task.task_id, signals=pb.TaskSignals(priority=9, ambiguity=0.9)
                    )
                ],
            )
        ),
        NF,
    )
    # Work: the pool, the lease, the assignment are as missing.
    await fails(
        bw.ClaimTasks(wpb.ClaimTasksRequest(pool_id="in-house", annotator_id="ih-1", max_tasks=5)),
        NF,
        "POOL_NOT_FOUND",
    )
    hb = await bw.Heartbeat(wpb.HeartbeatRequest(assignment_ids=[aid]))
    assert not hb.leases[0].active
    await fails(
        bw.SkipTask(
            wpb.SkipTaskRequest(assignment_id=aid, reason=wpb.SKIP_REASON_RELEASE, note="mine")
        ),
        NF,
        "ASSIGNMENT_NOT_FOUND",
    )
    await fails(
        bw.SubmitLabels(
            wpb.SubmitLabelsRequest(
                request_id="beta-1",
                submissions=[
                    wpb.LabelSubmission(assignment_id=aid, labels=box_labels(offers[0].item_id))
                ],
            )
        ),
        NF,
        "ASSIGNMENT_NOT_FOUND",
    )
    stream = WorkStream(bw)
    resp = await stream.send(
        claim=wpb.ClaimTasksRequest(pool_id="vendor-a", annotator_id="va/w2", max_tasks=5)
    )
    assert resp.error.code == "NOT_FOUND", resp
    await stream.close()
    assert await event_count(r) == before
    # acme's world is as it was.
    after = {t.task_id: t for t in await tasks_of(r.admin)}
    assert after == a_tasks
    project = (await r.admin.GetProject(pb.GetProjectRequest(project_id=P))).project
    assert project.config_version == 1 and project.config.gold_rate == 0
    pools = {p.pool_id: p for p in (await r.admin.ListPools(pb.ListPoolsRequest())).pools}
    assert pools["vendor-a"].active
    annotators = await r.admin.ListAnnotators(pb.ListAnnotatorsRequest(pool_id="vendor-a"))
    assert [a.annotator_id for a in annotators.annotators] == ["va/w1", "va/w2"]
    hb = await r.vendor_a.Heartbeat(wpb.HeartbeatRequest(assignment_ids=[aid]))
    assert hb.leases[0].active
    # beta's own pools: its own, invisible to acme.
    await b.CreatePool(
        pb.CreatePoolRequest(pool=pb.Pool(pool_id="beta-ih", kind=pb.POOL_KIND_IN_HOUSE))
    )
    await b.RegisterAnnotator(
        pb.RegisterAnnotatorRequest(
            annotator=pb.Annotator(annotator_id="ih-1", pool_id="beta-ih", active=True)
        )
    )
    assert [p.pool_id for p in (await b.ListPools(pb.ListPoolsRequest())).pools] == ["beta-ih"]
    assert "beta-ih" not in {
        p.pool_id for p in (await r.admin.ListPools(pb.ListPoolsRequest())).pools
    }
    ih1 = await r.admin.ListAnnotators(pb.ListAnnotatorsRequest(pool_id="in-house"))
    assert [a.annotator_id for a in ih1.annotators] == ["ih-1", "ih-2"]
    # An id acme holds is beta's too (ids are per tenant): beta's own pool, acme's untouched.
    made = await b.CreatePool(
        pb.CreatePoolRequest(pool=pb.Pool(pool_id="vendor-a", kind=pb.POOL_KIND_IN_HOUSE))
    )
    assert made.pool.kind == pb.POOL_KIND_IN_HOUSE and not made.pool.vendor_id
    pools = {p.pool_id: p for p in (await r.admin.ListPools(pb.ListPoolsRequest())).pools}
    assert pools["vendor-a"].kind == pb.POOL_KIND_VENDOR and pools["vendor-a"].vendor_id == "va"
    annotators = await r.admin.ListAnnotators(pb.ListAnnotatorsRequest(pool_id="vendor-a"))
    assert [a.annotator_id for a in annotators.annotators] == ["va/w1", "va/w2"]
    assert not (await b.ListAnnotators(pb.ListAnnotatorsRequest(pool_id="vendor-a"))).annotators


def beta_definition() -> D.OntologyDefinition:
    """beta's "street-rich" 1.0.0: acme's id and version, another definition (a car with a
    required plate and nothing else; no persons, no relationship)."""
    d = D.OntologyDefinition()
    car = d.classes.add(id="car", name="Car", geometry=D.GEOMETRY_KIND_BOUNDING_BOX)
    car.attributes.add(id="plate", name="Plate", type=D.ATTRIBUTE_TYPE_STRING, required=True)
    return d


def beta_label(item_id: str) -> L.ItemLabels:
    labels = L.ItemLabels(item_id=item_id)
    car = labels.labels.add(
        label_id="car-1", class_id="car", box=L.BoundingBox(x=10, y=10, width=90, height=60)
    )
    car.attributes["plate"].string_value = "B-123"
    return labels


async def beta_publishes_its_ontology(r: Any, pg_pool: Any) -> None:
    oid, version = RICH
    await publish(
        r.app.settings.kafka_bootstrap,
        r.settings.ontology_topic,
        [
            envelope(
                oev.OntologyVersionPublished(
                    ontology_id=oid, version=version, definition=beta_definition()
                ),
                f"tenants/beta/ontologies/{oid}",
                tenant_id="beta",
            )
        ],
    )
    await eventually(
        lambda: pg_pool.fetchval(
            f'SELECT count(*) FROM "{r.settings.db_schema}".ontology_versions'
            " WHERE tenant_id = 'beta' AND ontology_id = $1",
            oid,
        )
    )


async def test_another_tenants_project_of_the_same_id_is_its_own_with_its_own_ontology(
    routing, pg_pool
):
    r = routing
    await acme_world(r, pg_pool)
    a_project = (await r.admin.GetProject(pb.GetProjectRequest(project_id=P))).project
    a_tasks = {t.task_id: t for t in await tasks_of(r.admin)}
    b, bw = r.beta_admin, r.beta_work
    oid, version = RICH
    same = pb.CreateProjectRequest(
        project_id=P, ontology_id=oid, ontology_version=version, display_name="beta's"
    )
    # acme's published version of that id is not beta's: as if never published.
    await fails(
        b.CreateProject(same), grpc.StatusCode.FAILED_PRECONDITION, "ONTOLOGY_VERSION_UNKNOWN"
    )
    await beta_publishes_its_ontology(r, pg_pool)
    # acme's pool, annotator and project ids, in beta: beta's own, no conflict.
    await b.CreatePool(
        pb.CreatePoolRequest(
            pool=pb.Pool(pool_id="in-house", kind=pb.POOL_KIND_IN_HOUSE, active=True)
        )
    )
    await b.RegisterAnnotator(
        pb.RegisterAnnotatorRequest(
            annotator=pb.Annotator(annotator_id="ih-1", pool_id="in-house", active=True)
        )
    )
    created = await b.CreateProject(same)
    assert (created.project.project_id, created.project.display_name) == (P, "beta's")
    await fails(b.CreateProject(same), grpc.StatusCode.ALREADY_EXISTS, "PROJECT_ALREADY_EXISTS")
    items = [
        pb.TaskItem(
            item_id=f"v-{i}", uri=f"s3://beta/v-{i}.jpg", context=L.ItemContext(width=W, height=H)
        )
        for i in range(2)
    ]
    made = await b.CreateTasks(pb.CreateTasksRequest(project_id=P, items=items))
    # acme's "tenancy-p1" has items v-0 and v-1 too: beta's tasks are others.
    assert made.tasks_created == 2 and not set(made.task_ids) & set(a_tasks)
    assert {t.task_id for t in await tasks_of(b)} == set(made.task_ids)
    offers = (
        await bw.ClaimTasks(
            wpb.ClaimTasksRequest(
                pool_id="in-house", annotator_id="ih-1", max_tasks=2, project_id=P
            )
        )
    ).offers
    assert {o.task_id for o in offers} == set(made.task_ids)
    # acme's whole label (nested answers, attributes, a relation) is valid by acme's definition
    # and checked here against beta's, where it is wrong field by field.
    o = offers[0]
    _, fields = await fails(
        bw.SubmitLabels(
            wpb.SubmitLabelsRequest(
                request_id="beta-1",
                submissions=[
                    wpb.LabelSubmission(
                        assignment_id=o.assignment_id, labels=whole_label(o.item_id)
                    )
                ],
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    at = "submissions[0].labels."
    assert sorted(fields) == sorted(
        at + f
        for f in (
            "labels[0].answers[0].classification_id",
            "labels[0].answers[1].classification_id",
            "labels[0].attributes[occluded]",
            "labels[0].attributes[plate]",
            "labels[1].class_id",
            "relations[0].relationship_id",
        )
    )
    ok = await bw.SubmitLabels(
        wpb.SubmitLabelsRequest(
            request_id="beta-2",
            submissions=[
                wpb.LabelSubmission(assignment_id=o.assignment_id, labels=beta_label(o.item_id))
            ],
        )
    )
    assert len(ok.accepted) == 1
    stored = await r.app.store.read_stream(f"projects/{P}/tasks/{o.task_id}", tenant_id="beta")
    [e] = [e for e in stored if e.type == ev.LabelSubmitted.DESCRIPTOR.full_name]
    got = ev.LabelSubmitted.FromString(e.payload)
    assert got.labels.labels[0].attributes["plate"].string_value == "B-123"
    assert (e.tenant_id, got.project_id, got.ontology_id) == ("beta", P, oid)
    # acme's project and tasks are as they were, and acme's labels still follow acme's version.
    assert (await r.admin.GetProject(pb.GetProjectRequest(project_id=P))).project == a_project
    assert {t.task_id: t for t in await tasks_of(r.admin)} == a_tasks
    mine = (
        await r.vendor_a.ClaimTasks(
            wpb.ClaimTasksRequest(
                pool_id="vendor-a", annotator_id="va/w1", max_tasks=1, project_id=P
            )
        )
    ).offers[0]
    await fails(
        r.vendor_a.SubmitLabels(
            wpb.SubmitLabelsRequest(
                request_id="acme-beta-label",
                submissions=[
                    wpb.LabelSubmission(
                        assignment_id=mine.assignment_id, labels=beta_label(mine.item_id)
                    )
                ],
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    ok = await r.vendor_a.SubmitLabels(
        wpb.SubmitLabelsRequest(
            request_id="acme-own-label",
            submissions=[
                wpb.LabelSubmission(
                    assignment_id=mine.assignment_id, labels=whole_label(mine.item_id)
                )
            ],
        )
    )
    assert len(ok.accepted) == 1


async def test_vendors_see_and_work_only_their_own_pools(routing, pg_pool):
    r = routing
    await acme_world(r, pg_pool)
    offers = (
        await r.vendor_a.ClaimTasks(
            wpb.ClaimTasksRequest(pool_id="vendor-a", annotator_id="va/w1", max_tasks=2)
        )
    ).offers
    assert len(offers) == 2
    aid, tid = offers[0].assignment_id, offers[0].task_id
    vb = r.vendor_b_routing
    await fails(vb.GetTask(pb.GetTaskRequest(project_id=P, task_id=tid)), NF, "TASK_NOT_FOUND")
    assert not await tasks_of(vb)  # every task is va's, in-house or gold
    assert [p.pool_id for p in (await vb.ListPools(pb.ListPoolsRequest())).pools] == ["vendor-b"]
    seen = (await vb.ListAnnotators(pb.ListAnnotatorsRequest())).annotators
    assert [a.annotator_id for a in seen] == ["vb/w1", "vb/w2"]
    assert not (await vb.ListAnnotators(pb.ListAnnotatorsRequest(pool_id="vendor-a"))).annotators
    stats = (await vb.GetQueueStats(pb.GetQueueStatsRequest(project_id=P))).pools
    assert all(s.pool_id == "vendor-b" for s in stats)
    va_tasks = await tasks_of(r.vendor_a_routing)
    assert {t.pool_id for t in va_tasks} == {"vendor-a"} and len(va_tasks) == 4
    va_task = (await r.vendor_a_routing.GetTask(pb.GetTaskRequest(project_id=P, task_id=tid))).task
    assert [a.assignment_id for a in va_task.assignments] == [aid]
    before = await event_count(r)
    # vb on va's leases: the same refusal as for a lease that does not exist.
    await fails(
        r.vendor_b.SubmitLabels(
            wpb.SubmitLabelsRequest(
                request_id="vb-steal",
                submissions=[
                    wpb.LabelSubmission(assignment_id=aid, labels=whole_label(offers[0].item_id))
                ],
            )
        ),
        DENIED,
        "NOT_YOUR_TASK",
    )
    await fails(
        r.vendor_b.SkipTask(wpb.SkipTaskRequest(assignment_id=aid, reason=wpb.SKIP_REASON_RELEASE)),
        DENIED,
        "NOT_YOUR_TASK",
    )
    await fails(r.vendor_b.Heartbeat(wpb.HeartbeatRequest(assignment_ids=[aid])), DENIED)
    await fails(
        r.vendor_b.ClaimTasks(
            wpb.ClaimTasksRequest(pool_id="vendor-b", annotator_id="va/w2", max_tasks=1)
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ANNOTATOR_NOT_IN_POOL",
    )
    await fails(
        r.vendor_b.ClaimTasks(
            wpb.ClaimTasksRequest(pool_id="vendor-a", annotator_id="va/w2", max_tasks=1)
        ),
        DENIED,
        "POOL_NOT_YOURS",
    )
    # Nobody but va acts on va's lease, not even acme's admin (attribution stays va's).
    await fails(
        r.work_admin.SubmitLabels(
            wpb.SubmitLabelsRequest(
                request_id="admin-on-va",
                submissions=[
                    wpb.LabelSubmission(assignment_id=aid, labels=box_labels(offers[0].item_id))
                ],
            )
        ),
        NF,
        "ASSIGNMENT_NOT_FOUND",
    )
    await fails(
        r.work_admin.SkipTask(
            wpb.SkipTaskRequest(assignment_id=aid, reason=wpb.SKIP_REASON_RELEASE)
        ),
        NF,
        "ASSIGNMENT_NOT_FOUND",
    )
    await fails(
        r.work_admin.ClaimTasks(
            wpb.ClaimTasksRequest(pool_id="vendor-a", annotator_id="va/w2", max_tasks=1)
        ),
        DENIED,
        "POOL_NOT_YOURS",
    )
    assert (
        not (await r.work_admin.Heartbeat(wpb.HeartbeatRequest(assignment_ids=[aid])))
        .leases[0]
        .active
    )
    assert await event_count(r) == before
    assert (await r.vendor_a.Heartbeat(wpb.HeartbeatRequest(assignment_ids=[aid]))).leases[0].active


async def test_gold_is_shown_only_to_gold_readers(routing, pg_pool):
    r = routing
    await acme_world(r, pg_pool)
    admin_gold = [t for t in await tasks_of(r.admin) if t.gold]
    assert len(admin_gold) == 1
    gold_id = admin_gold[0].task_id
    assert (await r.admin.GetTask(pb.GetTaskRequest(project_id=P, task_id=gold_id))).task.gold
    # An annotator sees the task (in-house work) but never that it is gold.
    seen = {t.task_id: t for t in await tasks_of(r.ih1_routing)}
    assert gold_id in seen and not any(t.gold for t in seen.values())
    got = await r.ih1_routing.GetTask(pb.GetTaskRequest(project_id=P, task_id=gold_id))
    assert not got.task.gold
    # A vendor sees no gold task at all, and the event log is closed to it.
    assert not any(t.gold for t in await tasks_of(r.vendor_a_routing))
    await fails(r.vendor_a_routing.GetTask(pb.GetTaskRequest(project_id=P, task_id=gold_id)), NF)
    async with event_log(r.app.target, VENDOR_B_KEY) as log:
        await fails(log.ListEvents(eventlog_pb2.ListEventsRequest(page_size=100)), DENIED)


async def test_annotators_act_only_as_themselves(routing, pg_pool):
    r = routing
    await acme_world(r, pg_pool)
    await fails(
        r.ih1.ClaimTasks(
            wpb.ClaimTasksRequest(pool_id="in-house", annotator_id="ih-2", max_tasks=1)
        ),
        DENIED,
        "ANNOTATOR_MISMATCH",
    )
    await fails(
        r.tool.ClaimTasks(
            wpb.ClaimTasksRequest(pool_id="in-house", annotator_id="ih-1", max_tasks=1)
        ),
        DENIED,
        "ANNOTATOR_MISMATCH",
    )
    offers = (
        await r.ih1.ClaimTasks(
            wpb.ClaimTasksRequest(
                pool_id="in-house", annotator_id="ih-1", max_tasks=1, project_id=P
            )
        )
    ).offers
    assert len(offers) == 1
    aid = offers[0].assignment_id
    before = await event_count(r)
    await fails(
        r.ih2.SubmitLabels(
            wpb.SubmitLabelsRequest(
                request_id="ih2-on-ih1",
                submissions=[
                    wpb.LabelSubmission(assignment_id=aid, labels=box_labels(offers[0].item_id))
                ],
            )
        ),
        DENIED,
        "ANNOTATOR_MISMATCH",
    )
    await fails(
        r.ih2.Heartbeat(wpb.HeartbeatRequest(assignment_ids=[aid])), DENIED, "ANNOTATOR_MISMATCH"
    )
    await fails(
        r.ih2.SkipTask(wpb.SkipTaskRequest(assignment_id=aid, reason=wpb.SKIP_REASON_RELEASE)),
        DENIED,
        "ANNOTATOR_MISMATCH",
    )
    assert await event_count(r) == before
    ok = await r.ih1.SubmitLabels(
        wpb.SubmitLabelsRequest(
            request_id="ih1-own",
            submissions=[
                wpb.LabelSubmission(assignment_id=aid, labels=box_labels(offers[0].item_id))
            ],
        )
    )
    assert len(ok.accepted) == 1


async def test_a_vendors_whole_label_comes_out_whole_and_only_to_its_tenant(routing, pg_pool):
    r = routing
    await acme_world(r, pg_pool)
    stream = WorkStream(r.vendor_a)
    offers = await stream.claim("vendor-a", "va/w1", 1, P)
    o = offers[0]
    sent = whole_label(o.item_id)
    resp = await stream.send(
        submit=wpb.SubmitLabelsRequest(
            request_id="whole-1",
            submissions=[wpb.LabelSubmission(assignment_id=o.assignment_id, labels=sent)],
        )
    )
    assert resp.WhichOneof("kind") == "submitted", resp
    await stream.close()
    stored = await r.app.store.read_stream(f"projects/{P}/tasks/{o.task_id}")
    [e] = [e for e in stored if e.type == ev.LabelSubmitted.DESCRIPTOR.full_name]
    assert (e.tenant_id, e.actor_id) == ("acme", "va-bot")
    got = ev.LabelSubmitted.FromString(e.payload)
    assert (got.vendor_id, got.annotator_id, got.gold) == ("va", "va/w1", False)
    assert got.labels.item.width == W  # routing's item context, not the client's
    assert len(got.labels.labels) == 2
    for want, have in zip(sent.labels, got.labels.labels, strict=True):
        assert have.label_id == want.label_id and have.class_id == want.class_id
        assert have.box == want.box
        assert list(have.answers) == list(want.answers)
        assert dict(have.attributes) == dict(want.attributes)
    assert got.labels.labels[0].answers[1].text == "crimson"
    assert got.labels.labels[0].attributes["occluded"].bool_value is True
    assert list(got.labels.relations) == list(sent.relations)
    # acme's admin reads it from the event log; beta's admin finds no such stream.
    stream_id = f"projects/{P}/tasks/{o.task_id}"
    async with event_log(r.app.target, ADMIN_KEY) as log:
        events = (await log.ReadStream(eventlog_pb2.ReadStreamRequest(stream_id=stream_id))).events
        assert ev.LabelSubmitted.DESCRIPTOR.full_name in [x.type for x in events]
    async with event_log(r.app.target, BETA_ADMIN_KEY) as log:
        await fails(log.ReadStream(eventlog_pb2.ReadStreamRequest(stream_id=stream_id)), NF)
        listed = await log.ListEvents(eventlog_pb2.ListEventsRequest(page_size=1000))
        assert all(x.tenant_id == "beta" for x in listed.events)
    await fails(r.beta_admin.GetTask(pb.GetTaskRequest(project_id=P, task_id=o.task_id)), NF)


async def test_each_work_message_is_charged_to_the_callers_bucket(routing, pg_pool):
    r = routing
    await acme_world(r, pg_pool)
    r.app.parts.work_limit.limiter = RateLimiter(rate_per_s=0.01, burst=3)
    stream = WorkStream(r.vendor_a)
    for _ in range(3):
        resp = await stream.send(heartbeat=wpb.HeartbeatRequest(assignment_ids=[]))
        assert resp.WhichOneof("kind") == "heartbeat", resp
    limited = await stream.send(heartbeat=wpb.HeartbeatRequest(assignment_ids=[]))
    assert (limited.error.code, limited.error.reason) == ("RESOURCE_EXHAUSTED", "RATE_LIMITED")
    assert "retry in" in limited.error.message
    # Another principal's bucket is its own; the limited stream stays open.
    other = WorkStream(r.vendor_b)
    resp = await other.send(heartbeat=wpb.HeartbeatRequest(assignment_ids=[]))
    assert resp.WhichOneof("kind") == "heartbeat", resp
    await other.close()
    again = await stream.send(heartbeat=wpb.HeartbeatRequest(assignment_ids=[]))
    assert again.error.reason == "RATE_LIMITED"
    await stream.close()
    await asyncio.sleep(0)
