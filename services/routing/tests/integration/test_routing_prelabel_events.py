"""What routing does with the pre-label service's events (``labelops.prelabel.events.v1``).

The test plays the pre-label service: it publishes ``PreLabelProposed`` / ``PriorityScored``
envelopes to Kafka, and looks at what workers and the event log see. Every envelope of a test
goes out under one stream id, so they share a partition and are consumed in publish order:
once a later event's effect is visible, the earlier ones have been handled.
"""

from __future__ import annotations

import uuid
from typing import Any

from labelops.labels.v1 import label_pb2 as L
from labelops.prelabel.v1 import events_pb2 as pev
from labelops.prelabel.v1 import prelabel_pb2 as ppb
from labelops.routing.v1 import events_pb2 as ev
from labelops.routing.v1 import routing_pb2 as pb
from labelops.routing.v1 import workforce_pb2 as wpb
from routing_support import ONTOLOGY, H, W, box_labels, envelope, eventually, publish
from test_routing_workforce import setup_workforce

MODEL = "street-detector"
ON, OFF = "pre-on", "pre-off"


async def make_project(r: Any, project_id: str, *, prelabels: bool) -> None:
    oid, version = ONTOLOGY
    await r.admin.CreateProject(
        pb.CreateProjectRequest(
            project_id=project_id,
            ontology_id=oid,
            ontology_version=version,
            config=pb.WorkflowConfig(prelabels_enabled=prelabels, high_stakes_classes=["person"]),
        )
    )


async def make_tasks(r: Any, project_id: str, signals: list[pb.TaskSignals]) -> list[str]:
    resp = await r.admin.CreateTasks(
        pb.CreateTasksRequest(
            project_id=project_id,
            items=[
                pb.TaskItem(
                    item_id=f"{project_id}-{i}",
                    uri=f"s3://street/{project_id}-{i}.jpg",
                    modality="image",
                    signals=s,
                    context=L.ItemContext(width=W, height=H),
                )
                for i, s in enumerate(signals)
            ],
        )
    )
    return list(resp.task_ids)


def prelabels(cls: str, confidence: float, x: float) -> list[L.Label]:
    return [
        L.Label(
            label_id="m1",
            class_id=cls,
            box=L.BoundingBox(x=x, y=5, width=30, height=20),
            confidence=confidence,
        )
    ]


def proposed(
    project_id: str,
    task_id: str,
    item_id: str,
    *,
    confidence: float,
    cls: str = "car",
    version: str = "v1",
    x: float = 5.0,
) -> Any:
    return envelope(
        pev.PreLabelProposed(
            project_id=project_id,
            task_id=task_id,
            item_id=item_id,
            model_id=MODEL,
            model_version=version,
            labels=prelabels(cls, confidence, x),
            probabilities={cls: confidence},
            predicted_class=cls,
            confidence=confidence,
        ),
        f"projects/{project_id}/prelabeling",
        source="prelabel",
    )


async def task(r: Any, project_id: str, task_id: str) -> pb.Task:
    return (await r.admin.GetTask(pb.GetTaskRequest(project_id=project_id, task_id=task_id))).task


async def confidence_is(r: Any, project_id: str, task_id: str, value: float) -> bool:
    # Values used here (0.25, 0.5, 0.75) are exact in the float32 signal.
    s = (await task(r, project_id, task_id)).signals
    return s.HasField("confidence") and s.confidence == value


async def events_of(r: Any, project_id: str, task_id: str) -> list[Any]:
    return await r.app.store.read_stream(f"projects/{project_id}/tasks/{task_id}")


def label_submitted(events: list[Any]) -> list[ev.LabelSubmitted]:
    return [
        ev.LabelSubmitted.FromString(e.payload)
        for e in events
        if e.type == ev.LabelSubmitted.DESCRIPTOR.full_name
    ]


async def test_offers_carry_proposed_prelabels_and_labels_credit_the_offered_model(routing):
    r = routing
    await setup_workforce(r.admin)
    await make_project(r, ON, prelabels=True)
    await make_project(r, OFF, prelabels=False)
    car = pb.TaskSignals(class_id="car")
    on = await make_tasks(r, ON, [car, car])
    off = await make_tasks(r, OFF, [car])
    ghost = str(uuid.uuid4())
    unknown = proposed(ON, ghost, "nowhere", confidence=0.75)
    await publish(
        r.app.settings.kafka_bootstrap,
        r.settings.prelabel_topic,
        [
            # A task routing does not know comes first: it is ignored, and what follows is
            # still applied.
            unknown,
            proposed(ON, on[0], f"{ON}-0", confidence=0.75),
            proposed(OFF, off[0], f"{OFF}-0", confidence=0.75),
        ],
    )
    await eventually(lambda: confidence_is(r, ON, on[0], 0.75))
    await eventually(lambda: confidence_is(r, OFF, off[0], 0.75))
    status = await r.app.pool.fetchval(
        f'SELECT status FROM "{r.settings.db_schema}".processed_events WHERE event_id = $1',
        unknown.event_id,
    )
    assert status == "applied"  # handled (as nothing), not dead-lettered
    t0 = await task(r, ON, on[0])
    # Confident enough for the vendor volume: the task stays where it was.
    assert t0.pool_id == "vendor-a" and t0.signals.class_id == "car"

    offers = {
        o.task_id: o
        for o in (
            await r.vendor_a.ClaimTasks(
                wpb.ClaimTasksRequest(
                    pool_id="vendor-a", annotator_id="va/w1", max_tasks=10, project_id=ON
                )
            )
        ).offers
    }
    assert set(offers) == set(on)
    assert list(offers[on[0]].prelabels) == prelabels("car", 0.75, 5.0)
    assert not offers[on[1]].prelabels
    # The project without pre-labels offers none, though the task has them.
    (off_offer,) = (
        await r.vendor_a.ClaimTasks(
            wpb.ClaimTasksRequest(
                pool_id="vendor-a", annotator_id="va/w1", max_tasks=10, project_id=OFF
            )
        )
    ).offers
    assert off_offer.task_id == off[0] and not off_offer.prelabels

    # A newer model version proposes while the task is leased: the worker saw v1, so the label
    # is credited to v1.
    await publish(
        r.app.settings.kafka_bootstrap,
        r.settings.prelabel_topic,
        [proposed(ON, on[0], f"{ON}-0", confidence=0.5, version="v2", x=9.0)],
    )
    await eventually(lambda: confidence_is(r, ON, on[0], 0.5))
    assert (await task(r, ON, on[0])).pool_id == "vendor-a"  # leased: not re-routed
    await r.vendor_a.SubmitLabels(
        wpb.SubmitLabelsRequest(
            request_id="pre-submit",
            submissions=[
                wpb.LabelSubmission(
                    assignment_id=o.assignment_id,
                    labels=box_labels(o.item_id),
                    prelabel_outcome=(
                        wpb.PRELABEL_OUTCOME_EDITED if o.prelabels else wpb.PRELABEL_OUTCOME_NONE
                    ),
                )
                for o in (*offers.values(), off_offer)
            ],
        )
    )
    (credited,) = label_submitted(await events_of(r, ON, on[0]))
    assert (credited.prelabel_model, credited.prelabel_model_version) == (MODEL, "v1")
    assert credited.prelabel_outcome == wpb.PRELABEL_OUTCOME_EDITED
    for project_id, task_id in ((ON, on[1]), (OFF, off[0])):
        (plain,) = label_submitted(await events_of(r, project_id, task_id))
        assert (plain.prelabel_model, plain.prelabel_model_version) == ("", "")


async def test_prelabels_reroute_open_tasks_once_and_never_fail_the_consumer(routing):
    r = routing
    await setup_workforce(r.admin)
    await make_project(r, ON, prelabels=True)
    car = pb.TaskSignals(class_id="car", priority=7.0, ambiguity=0.1)
    tids = await make_tasks(r, ON, [car, car, car])
    kafka, topic = r.app.settings.kafka_bootstrap, r.settings.prelabel_topic

    # An unsure pre-label sends the task in-house (hybrid rule "low-confidence").
    unsure = proposed(ON, tids[0], f"{ON}-0", confidence=0.25)
    await publish(kafka, topic, [unsure])
    await eventually(lambda: confidence_is(r, ON, tids[0], 0.25))
    t = await task(r, ON, tids[0])
    assert (t.pool_id, t.route_rule) == ("in-house", "low-confidence")
    # The other signals are kept.
    assert (t.signals.priority, round(t.signals.ambiguity, 3)) == (7.0, 0.1)
    assert [e.type.rsplit(".", 1)[1] for e in await events_of(r, ON, tids[0])] == [
        "TaskCreated",
        "TaskRerouted",
    ]

    # A manager makes it confident: back to the vendor. A second delivery of the unsure
    # pre-label (the same envelope) must not undo that.
    await r.admin.UpdateTaskSignals(
        pb.UpdateTaskSignalsRequest(
            project_id=ON,
            updates=[
                pb.TaskSignalsUpdate(
                    task_id=tids[0], signals=pb.TaskSignals(class_id="car", confidence=0.75)
                )
            ],
        )
    )
    assert (await task(r, ON, tids[0])).pool_id == "vendor-a"
    before = [e.event_id for e in await events_of(r, ON, tids[0])]
    await publish(kafka, topic, [unsure, proposed(ON, tids[2], f"{ON}-2", confidence=0.75)])
    await eventually(lambda: confidence_is(r, ON, tids[2], 0.75))
    t = await task(r, ON, tids[0])
    assert t.pool_id == "vendor-a" and t.signals.confidence == 0.75
    assert [e.event_id for e in await events_of(r, ON, tids[0])] == before

    # No pool can take a high-stakes task (in-house paused): the task keeps its pool and its
    # new signals; the consumer goes on with the next event.
    await r.admin.UpdatePool(
        pb.UpdatePoolRequest(
            pool=pb.Pool(
                pool_id="in-house", kind=pb.POOL_KIND_IN_HOUSE, cost_per_task=0.5, active=False
            )
        )
    )
    await publish(
        kafka,
        topic,
        [
            proposed(ON, tids[1], f"{ON}-1", confidence=0.75, cls="person"),
            proposed(ON, tids[2], f"{ON}-2", confidence=0.5),
        ],
    )
    await eventually(lambda: confidence_is(r, ON, tids[2], 0.5))
    t = await task(r, ON, tids[1])
    assert t.pool_id == "vendor-a"
    assert (t.signals.class_id, t.signals.high_stakes, t.signals.confidence) == (
        "person",
        True,
        0.75,
    )
    assert len(await events_of(r, ON, tids[1])) == 1


async def test_priority_scores_reorder_the_queue(routing):
    r = routing
    await setup_workforce(r.admin)
    await make_project(r, ON, prelabels=True)
    # High stakes: in-house; created in queue order 0, 1, 2.
    tids = await make_tasks(
        r, ON, [pb.TaskSignals(class_id="person", priority=p) for p in (3.0, 2.0, 1.0)]
    )
    await publish(
        r.app.settings.kafka_bootstrap,
        r.settings.prelabel_topic,
        [
            envelope(
                pev.PriorityScored(
                    project_id=ON,
                    model_id=MODEL,
                    model_version="v1",
                    strategy=ppb.SCORE_STRATEGY_MARGIN,
                    priorities=[
                        ppb.TaskPriority(task_id=tids[0], item_id=f"{ON}-0", priority=10),
                        ppb.TaskPriority(task_id=tids[1], item_id=f"{ON}-1", priority=900),
                        ppb.TaskPriority(task_id=tids[2], item_id=f"{ON}-2", priority=500),
                        ppb.TaskPriority(task_id=str(uuid.uuid4()), priority=1000),
                    ],
                ),
                f"projects/{ON}/prelabeling",
                source="prelabel",
            )
        ],
    )

    async def scored() -> bool:
        return (await task(r, ON, tids[0])).signals.priority == 10

    await eventually(scored)
    for tid in tids:
        t = await task(r, ON, tid)
        assert (t.pool_id, t.signals.class_id, t.signals.high_stakes) == (
            "in-house",
            "person",
            True,
        )
        assert len(await events_of(r, ON, tid)) == 1  # a priority is not an event
    offers = (
        await r.ih1.ClaimTasks(
            wpb.ClaimTasksRequest(pool_id="in-house", annotator_id="ih-1", max_tasks=3)
        )
    ).offers
    assert [o.task_id for o in offers] == [tids[1], tids[2], tids[0]]
