"""Routing and QA together, over real gRPC, Kafka and Postgres (each service its own schema,
talking only through its events topic):

labels submitted through routing's vendor API → QA's live consensus → agreement accepted at
once, disagreement to review → a reviewer rejects → routing reopens the task for a third,
new annotator → QA reviews again → accepted, with all three annotators in the lineage.
"""

from __future__ import annotations

import contextlib
from typing import Any

from labelops.labels.v1 import label_pb2 as L
from labelops.ontology.v1 import definition_pb2 as D
from labelops.ontology.v1 import events_pb2 as oev
from labelops.qa.v1 import events_pb2 as qev
from labelops.qa.v1 import qa_pb2 as qpb
from labelops.qa.v1 import qa_pb2_grpc
from labelops.routing.v1 import routing_pb2 as rpb
from labelops.routing.v1 import routing_pb2_grpc, workforce_pb2_grpc
from labelops.routing.v1 import workforce_pb2 as wpb
from labelops_grpckit import Authenticator, channel
from labelops_qa.bootstrap import build_app as build_qa
from labelops_qa.config import Settings as QaSettings
from labelops_routing.bootstrap import build_app as build_routing
from labelops_routing.config import Settings as RoutingSettings
from labelops_testkit.kafka import envelope, publish
from labelops_testkit.waiting import eventually

KEY = "loop-test-key-0123456789"
KEYS = {KEY: {"subject": "lead", "tenant_id": "acme", "roles": ["admin"]}}


def whole(item_id: str, cls: str) -> L.ItemLabels:
    return L.ItemLabels(
        item_id=item_id, labels=[L.Label(label_id="c", class_id=cls, whole_item=L.WholeItem())]
    )


async def test_labels_flow_from_vendor_api_through_qa_review_and_back_to_routing(
    pg_pool: Any, pg_schema: str, second_schema: str, kafka_bootstrap: str, unique_name: str
) -> None:
    routing_name, qa_name = f"{unique_name}r", f"{unique_name}q"
    ontology_topic = f"{unique_name}.ontology"
    routing_settings = RoutingSettings(
        db_schema=pg_schema,
        service_name=routing_name,
        kafka_bootstrap=kafka_bootstrap,
        ontology_topic=ontology_topic,
        curation_topic=f"{unique_name}.curation",
        qa_topic=f"labelops.{qa_name}.events.v1",
        host="127.0.0.1",
        port=0,
        grace_period_s=1.0,
    )
    qa_settings = QaSettings(
        db_schema=second_schema,
        service_name=qa_name,
        kafka_bootstrap=kafka_bootstrap,
        routing_topic=f"labelops.{routing_name}.events.v1",
        ontology_topic=ontology_topic,
        host="127.0.0.1",
        port=0,
        grace_period_s=1.0,
    )
    definition = D.OntologyDefinition()
    for c in ("cat", "dog"):
        definition.classes.add(id=c, name=c, geometry=D.GEOMETRY_KIND_CLASSIFICATION)
    await publish(
        kafka_bootstrap,
        ontology_topic,
        [
            envelope(
                oev.OntologyVersionPublished(
                    ontology_id="pets", version="1.0.0", definition=definition
                ),
                "tenants/acme/ontologies/pets",
                tenant_id="acme",  # the tenant of the key that creates the project
            )
        ],
    )
    auth = Authenticator(KEYS)
    async with contextlib.AsyncExitStack() as stack:
        routing_app = await stack.enter_async_context(
            build_routing(routing_settings, pool=pg_pool, authenticator=auth)
        )
        qa_app = await stack.enter_async_context(
            build_qa(qa_settings, pool=pg_pool, authenticator=auth)
        )
        rch = await stack.enter_async_context(channel(routing_app.target, api_key=KEY))
        qch = await stack.enter_async_context(channel(qa_app.target, api_key=KEY))
        admin = routing_pb2_grpc.RoutingServiceStub(rch)
        work = workforce_pb2_grpc.WorkforceServiceStub(rch)
        qa = qa_pb2_grpc.QualityServiceStub(qch)

        await eventually(
            lambda: pg_pool.fetchval(f'SELECT count(*) FROM "{pg_schema}".ontology_versions')
        )
        await admin.CreatePool(
            rpb.CreatePoolRequest(
                pool=rpb.Pool(pool_id="team", kind=rpb.POOL_KIND_IN_HOUSE, active=True)
            )
        )
        for who in ("ann-1", "ann-2", "ann-3"):
            await admin.RegisterAnnotator(
                rpb.RegisterAnnotatorRequest(
                    annotator=rpb.Annotator(annotator_id=who, pool_id="team", active=True)
                )
            )
        await admin.CreateProject(
            rpb.CreateProjectRequest(
                project_id="pets",
                ontology_id="pets",
                ontology_version="1.0.0",
                config=rpb.WorkflowConfig(
                    overlap=rpb.OverlapPolicy(default_sample_rate=1.0, default_annotators=2),
                    review_policy=rpb.REVIEW_POLICY_TARGETED,
                    review_sample_rate=0.0,
                ),
            )
        )
        created = await admin.CreateTasks(
            rpb.CreateTasksRequest(
                project_id="pets",
                items=[
                    rpb.TaskItem(item_id=i, uri=f"s3://pets/{i}.jpg", modality="image")
                    for i in ("easy", "hard")
                ],
            )
        )
        easy, hard = created.task_ids

        async def claim(who: str, items: set[str]) -> list[wpb.TaskOffer]:
            offers = (
                await work.ClaimTasks(
                    wpb.ClaimTasksRequest(pool_id="team", annotator_id=who, max_tasks=5)
                )
            ).offers
            assert {o.item_id for o in offers} == items, (who, offers)
            return list(offers)

        async def submit(offers: list[wpb.TaskOffer], answers: dict[str, str], rid: str) -> None:
            await work.SubmitLabels(
                wpb.SubmitLabelsRequest(
                    request_id=rid,
                    submissions=[
                        wpb.LabelSubmission(
                            assignment_id=o.assignment_id,
                            labels=whole(o.item_id, answers[o.item_id]),
                        )
                        for o in offers
                        if o.item_id in answers
                    ],
                )
            )

        async def label(who: str, answers: dict[str, str], request_id: str) -> None:
            await submit(await claim(who, set(answers)), answers, request_id)

        async def state(task_id: str, want: int) -> qpb.TaskQuality | None:
            try:
                t = (
                    await qa.GetTaskQuality(
                        qpb.GetTaskQualityRequest(project_id="pets", task_id=task_id)
                    )
                ).task
            except Exception:
                return None
            return t if t.state == want else None

        await label("ann-1", {"easy": "cat", "hard": "cat"}, "r1")
        # ann-2 agrees on "easy" first and splits "hard" only once "easy" is decided: targeted
        # review samples an agreed task at its class's ambiguity so far, so "easy" decided
        # after the split "hard" would be reviewed half the time (qa README, step 4).
        second = await claim("ann-2", {"easy", "hard"})
        await submit(second, {"easy": "cat"}, "r2")
        await eventually(lambda: state(easy, qpb.TASK_QUALITY_STATE_ACCEPTED))
        await submit(second, {"hard": "dog"}, "r2b")
        in_review = await eventually(lambda: state(hard, qpb.TASK_QUALITY_STATE_IN_REVIEW))
        assert "disagree" in in_review.review_reason

        # The reviewer sends it back; routing reopens the task for one more, new annotator.
        await qa.SubmitReview(
            qpb.SubmitReviewRequest(
                project_id="pets", task_id=hard, decision=qpb.REVIEW_DECISION_REJECT, note="unsure"
            )
        )

        async def reopened() -> rpb.Task | None:
            t = (await admin.GetTask(rpb.GetTaskRequest(project_id="pets", task_id=hard))).task
            return t if t.state == rpb.TASK_STATE_QUEUED and t.required_labels == 3 else None

        await eventually(reopened)
        again = await work.ClaimTasks(
            wpb.ClaimTasksRequest(pool_id="team", annotator_id="ann-1", max_tasks=5)
        )
        assert not again.offers  # ann-1 labeled it already
        await label("ann-3", {"hard": "cat"}, "r3")

        # Three labels, 2 of 3 agree: reviewed again (agreement 0.67), then accepted.
        await eventually(lambda: state(hard, qpb.TASK_QUALITY_STATE_IN_REVIEW))
        done = await qa.SubmitReview(
            qpb.SubmitReviewRequest(
                project_id="pets", task_id=hard, decision=qpb.REVIEW_DECISION_ACCEPT
            )
        )
        assert done.task.state == qpb.TASK_QUALITY_STATE_ACCEPTED
        rows = await pg_pool.fetch(
            f'SELECT payload FROM "{second_schema}".events WHERE type = $1 ORDER BY position',
            qev.LabelAccepted.DESCRIPTOR.full_name,
        )
        accepted = {
            a.task_id: a for a in (qev.LabelAccepted.FromString(r["payload"]) for r in rows)
        }
        assert set(accepted) == {easy, hard}
        final = accepted[hard]
        assert final.labels.labels[0].class_id == "cat"
        assert list(final.lineage.annotator_ids) == ["ann-1", "ann-2", "ann-3"]
        assert final.lineage.review_decision == qpb.REVIEW_DECISION_ACCEPT
        assert final.lineage.reviewer == "lead" and final.lineage.ontology_version == "1.0.0"
