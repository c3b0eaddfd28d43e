"""What annotators submit reaches LabelAccepted whole, through QA's consumer (routing's
LabelSubmitted in, LabelAccepted out): answers nested three levels deep, attributes and
relations, at overlap 1, 2 and 3; a field without agreement goes to review with every
annotator's candidate, and the reviewer accepts one."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
from labelops.labels.v1 import label_pb2 as L
from labelops.qa.v1 import events_pb2 as ev
from labelops.qa.v1 import qa_pb2 as pb
from labelops_testkit.grpc import fails
from qa_support import OTHER_REVIEWER_KEY, TENANT, Project, eventually, project_created, street


def tid() -> str:
    return str(uuid.uuid4())


async def accepted_events(qa: Any) -> dict[str, ev.LabelAccepted]:
    rows = await qa.app.pool.fetch(
        f'SELECT payload FROM "{qa.settings.db_schema}".events WHERE type = $1 ORDER BY position',
        ev.LabelAccepted.DESCRIPTOR.full_name,
    )
    out = {}
    for r in rows:
        acc = ev.LabelAccepted.FromString(r["payload"])
        out[acc.task_id] = acc
    return out


async def quality(qa: Any, project: str, task_id: str, state: int) -> pb.TaskQuality | None:
    try:
        req = pb.GetTaskQualityRequest(project_id=project, task_id=task_id)
        t = (await qa.stub.GetTaskQuality(req)).task
    except grpc.aio.AioRpcError:
        return None  # not consumed yet
    return t if t.state == state else None


def by_id(labels: L.ItemLabels) -> dict[str, L.Label]:
    return {lab.label_id: lab for lab in labels.labels}


async def test_rich_labels_reach_label_accepted_field_by_field(qa):
    p = "fidelity"
    proj = Project(p)
    one, two, three = tid(), tid(), tid()
    envs = [project_created(p)]
    envs += [proj.task(one, "img-s", 1), proj.task(two, "img-s", 2), proj.task(three, "img-s", 3)]
    vendor = street(("c7", "person-1", "bike-1"))
    envs.append(proj.label(one, "img-s", "vendor-1", vendor))
    envs.append(proj.label(two, "img-s", "ann-a", street(("c", "p1", "k1"))))
    envs.append(proj.label(two, "img-s", "ann-b", street(("whole", "x", "y"))))
    envs.append(proj.label(three, "img-s", "ann-a", street()))
    envs.append(proj.label(three, "img-s", "ann-b", street(("q", "r", "s"))))
    # The third annotator disagrees on a nested answer, an attribute and the relation.
    envs.append(
        proj.label(
            three,
            "img-s",
            "ann-c",
            street(("u", "v", "w"), bike_type="bmx", occluded=True, rides=False),
        )
    )
    await qa.routing(envs)

    async def all_accepted() -> dict[str, ev.LabelAccepted] | None:
        got = await accepted_events(qa)
        return got if {one, two, three} <= set(got) else None

    acc = await eventually(all_accepted)
    # Overlap 1: exactly as the vendor submitted it (ids, answers, attributes, relation).
    assert list(acc[one].labels.labels) == list(vendor.labels)
    assert list(acc[one].labels.relations) == list(vendor.relations)
    assert list(acc[one].lineage.annotator_ids) == ["vendor-1"]

    # Overlap 2: every field, on the first annotator's ids; the relation between them.
    got = by_id(acc[two].labels)
    want = by_id(street(("c", "p1", "k1")))
    assert sorted(got) == ["c", "k1", "p1"]
    for label_id, lab in want.items():
        assert got[label_id].class_id == lab.class_id
        assert list(got[label_id].answers) == list(lab.answers)
        assert dict(got[label_id].attributes) == dict(lab.attributes)
        assert got[label_id].box == lab.box
    assert list(acc[two].labels.relations) == [
        L.Relation(relationship_id="rides", from_label_id="p1", to_label_id="k1")
    ]

    # Overlap 3: the majority, field by field, down to the third level.
    got = by_id(acc[three].labels)
    want = by_id(street())
    for label_id, lab in want.items():
        assert list(got[label_id].answers) == list(lab.answers)
        assert dict(got[label_id].attributes) == dict(lab.attributes)
    assert list(acc[three].labels.relations) == list(street().relations)

    # Targeted review learns the boxes' classes too (it read class "-" on box tasks).
    rows = await qa.app.pool.fetch(
        f'SELECT class_id, tasks FROM "{qa.settings.db_schema}".class_stats'
        " WHERE tenant_id = $1 AND project_id = $2 ORDER BY class_id",
        TENANT,
        p,
    )
    assert [(r["class_id"], r["tasks"]) for r in rows] == [
        ("cat", 3),
        ("dog-box", 3),
        ("person-box", 3),
    ]


async def test_disagreement_goes_to_review_with_both_candidates_and_one_is_accepted(qa):
    p = "fidelity-review"
    proj = Project(p)
    split, empty = tid(), tid()
    a_labels, b_labels = street(), street(("c2", "p2", "k2"), bike_type="bmx")
    envs = [project_created(p), proj.task(split, "img-s", 2), proj.task(empty, "img-e", 2)]
    envs.append(proj.label(split, "img-s", "ann-a", a_labels))
    envs.append(proj.label(split, "img-s", "ann-b", b_labels))
    # Two annotators who gave the same box two classes: an empty consensus.
    for who, cls in (("ann-a", "cat-box"), ("ann-b", "dog-box")):
        box = L.ItemLabels(item_id="img-e")
        box.labels.add(label_id="b", class_id=cls, box=L.BoundingBox(x=1, y=1, width=9, height=9))
        envs.append(proj.label(empty, "img-e", who, box))
    await qa.routing(envs)

    t = await eventually(lambda: quality(qa, p, split, pb.TASK_QUALITY_STATE_IN_REVIEW))
    assert t.review_reason == "no agreement on answers.bike_type of k"
    assert [(c.annotator_id, c.labels) for c in t.candidates] == [
        ("ann-a", a_labels),
        ("ann-b", b_labels),
    ]
    assert all(c.label_event_id for c in t.candidates)
    queue = await qa.stub.ListReviewQueue(pb.ListReviewQueueRequest(project_id=p))
    in_queue = {q.task_id: q for q in queue.tasks}
    assert [c.annotator_id for c in in_queue[split].candidates] == ["ann-a", "ann-b"]
    # Another tenant's reviewer sees neither the task nor its candidates.
    async with qa.stub_of(OTHER_REVIEWER_KEY) as other:
        await fails(
            other.GetTaskQuality(pb.GetTaskQualityRequest(project_id=p, task_id=split)),
            grpc.StatusCode.NOT_FOUND,
        )
        assert not (await other.ListReviewQueue(pb.ListReviewQueueRequest(project_id=p))).tasks

    # An empty consensus of drawn objects is not accepted as "no objects".
    e = await eventually(lambda: quality(qa, p, empty, pb.TASK_QUALITY_STATE_IN_REVIEW))
    assert e.review_reason == "no agreement on objects"
    assert [len(c.labels.labels) for c in e.candidates] == [1, 1]
    await fails(
        qa.stub.SubmitReview(
            pb.SubmitReviewRequest(project_id=p, task_id=empty, decision=pb.REVIEW_DECISION_ACCEPT)
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "EMPTY_CONSENSUS",
    )
    await fails(
        qa.stub.SubmitReview(
            pb.SubmitReviewRequest(
                project_id=p,
                task_id=split,
                decision=pb.REVIEW_DECISION_ACCEPT,
                candidate_annotator_id="ann-z",
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )

    # The reviewer accepts ann-b's candidate: LabelAccepted carries it whole.
    done = await qa.stub.SubmitReview(
        pb.SubmitReviewRequest(
            project_id=p,
            task_id=split,
            decision=pb.REVIEW_DECISION_ACCEPT,
            candidate_annotator_id="ann-b",
        )
    )
    assert done.task.state == pb.TASK_QUALITY_STATE_ACCEPTED
    assert [c.annotator_id for c in done.task.candidates] == ["ann-a", "ann-b"]
    acc = (await accepted_events(qa))[split]
    assert list(acc.labels.labels) == list(b_labels.labels)
    assert list(acc.labels.relations) == list(b_labels.relations)
    assert acc.lineage.review_decision == pb.REVIEW_DECISION_ACCEPT
    assert acc.lineage.reviewer == "rita"
