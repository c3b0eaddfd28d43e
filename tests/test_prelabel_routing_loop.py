"""Routing and the prelabel service together, over real gRPC, Kafka and Postgres, with a real
local HTTP model server (each service its own schema, talking only through events topics):

a model server that hangs, then one that answers garbage: routing still offers every task,
without pre-labels, and both services keep serving; a well-behaved server: the offer carries
the model's pre-labels, the submitted label names the model version, and the annotator's
outcome becomes pre-label ROI evidence in the prelabel service.
"""

from __future__ import annotations

import contextlib
from typing import Any

from labelops.labels.v1 import label_pb2 as L
from labelops.ontology.v1 import definition_pb2 as D
from labelops.ontology.v1 import events_pb2 as oev
from labelops.prelabel.v1 import prelabel_pb2 as ppb
from labelops.prelabel.v1 import prelabel_pb2_grpc
from labelops.routing.v1 import events_pb2 as rev
from labelops.routing.v1 import routing_pb2 as rpb
from labelops.routing.v1 import routing_pb2_grpc, workforce_pb2_grpc
from labelops.routing.v1 import workforce_pb2 as wpb
from labelops_grpckit import Authenticator, channel
from labelops_prelabel.bootstrap import build_app as build_prelabel
from labelops_prelabel.config import Settings as PrelabelSettings
from labelops_routing.bootstrap import build_app as build_routing
from labelops_routing.config import Settings as RoutingSettings
from labelops_testkit.grpc import serving
from labelops_testkit.kafka import envelope, publish
from labelops_testkit.model_server import Reply, running, well_behaved
from labelops_testkit.waiting import eventually

KEY = "prelabel-loop-key-0123456789"
KEYS = {KEY: {"subject": "lead", "tenant_id": "acme", "roles": ["admin"]}}
P = "pets"


def whole(item_id: str, cls: str) -> L.ItemLabels:
    return L.ItemLabels(
        item_id=item_id, labels=[L.Label(label_id="c", class_id=cls, whole_item=L.WholeItem())]
    )


async def test_tasks_are_offered_whatever_the_model_server_does(
    pg_pool: Any, pg_schema: str, second_schema: str, kafka_bootstrap: str, unique_name: str
) -> None:
    routing_name, prelabel_name = f"{unique_name}r", f"{unique_name}p"
    ontology_topic = f"{unique_name}.ontology"
    routing_settings = RoutingSettings(
        db_schema=pg_schema,
        service_name=routing_name,
        kafka_bootstrap=kafka_bootstrap,
        ontology_topic=ontology_topic,
        curation_topic=f"{unique_name}.curation",
        qa_topic=f"{unique_name}.qa",
        prelabel_topic=f"labelops.{prelabel_name}.events.v1",
        host="127.0.0.1",
        port=0,
        grace_period_s=1.0,
    )
    prelabel_settings = PrelabelSettings(
        outbound_allow=["127.0.0.1/32"],
        db_schema=second_schema,
        service_name=prelabel_name,
        kafka_bootstrap=kafka_bootstrap,
        routing_topic=f"labelops.{routing_name}.events.v1",
        qa_topic=f"{unique_name}.qa",
        curation_topic=f"{unique_name}.curation",
        host="127.0.0.1",
        port=0,
        grace_period_s=1.0,
        poll_interval_s=0.1,
        model_timeout_s=0.5,
        model_retries=0,
        prelabel_attempts=1,
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
        server = stack.enter_context(running())
        server.respond = lambda request: Reply(delay=30)  # hangs past every deadline
        routing_app = await stack.enter_async_context(
            build_routing(routing_settings, pool=pg_pool, authenticator=auth)
        )
        prelabel_app = await stack.enter_async_context(
            build_prelabel(prelabel_settings, pool=pg_pool, authenticator=auth)
        )
        rch = await stack.enter_async_context(channel(routing_app.target, api_key=KEY))
        pch = await stack.enter_async_context(channel(prelabel_app.target, api_key=KEY))
        admin = routing_pb2_grpc.RoutingServiceStub(rch)
        work = workforce_pb2_grpc.WorkforceServiceStub(rch)
        prelabel = prelabel_pb2_grpc.PrelabelServiceStub(pch)

        await eventually(
            lambda: pg_pool.fetchval(f'SELECT count(*) FROM "{pg_schema}".ontology_versions')
        )
        await admin.CreatePool(
            rpb.CreatePoolRequest(
                pool=rpb.Pool(pool_id="team", kind=rpb.POOL_KIND_IN_HOUSE, active=True)
            )
        )
        await admin.RegisterAnnotator(
            rpb.RegisterAnnotatorRequest(
                annotator=rpb.Annotator(annotator_id="ann-1", pool_id="team", active=True)
            )
        )
        await admin.CreateProject(
            rpb.CreateProjectRequest(
                project_id=P,
                ontology_id="pets",
                ontology_version="1.0.0",
                config=rpb.WorkflowConfig(prelabels_enabled=True),
            )
        )
        model = (
            await prelabel.RegisterModel(
                ppb.RegisterModelRequest(
                    project_id=P,
                    name="pets-clf",
                    kind=ppb.MODEL_KIND_EXTERNAL,
                    classes=["cat", "dog"],
                    url=server.url,
                    task="classify",
                )
            )
        ).model

        async def create(*items: str) -> list[str]:
            resp = await admin.CreateTasks(
                rpb.CreateTasksRequest(
                    project_id=P,
                    items=[
                        rpb.TaskItem(item_id=i, uri=f"s3://pets/{i}.jpg", modality="image")
                        for i in items
                    ],
                )
            )
            return list(resp.task_ids)

        async def prelabel_state(task_ids: list[str], state: str) -> bool:
            n = await pg_pool.fetchval(
                f'SELECT count(*) FROM "{second_schema}".tasks'
                " WHERE task_id = ANY($1::text[]) AND prelabel_state = $2",
                task_ids,
                state,
            )
            return bool(n == len(task_ids))

        async def claim_and_label(
            expect: set[str], outcome: int, request_id: str
        ) -> list[wpb.TaskOffer]:
            offers = list(
                (
                    await work.ClaimTasks(
                        wpb.ClaimTasksRequest(pool_id="team", annotator_id="ann-1", max_tasks=10)
                    )
                ).offers
            )
            assert {o.item_id for o in offers} == expect
            await work.SubmitLabels(
                wpb.SubmitLabelsRequest(
                    request_id=request_id,
                    submissions=[
                        wpb.LabelSubmission(
                            assignment_id=o.assignment_id,
                            labels=whole(o.item_id, "cat"),
                            time_spent_ms=4000,
                            prelabel_outcome=outcome,
                        )
                        for o in offers
                    ],
                )
            )
            return offers

        # 1. The model server hangs: the prelabel service gives up on the tasks (timeout), and
        #    routing offers them without pre-labels.
        hung = await create("hang-1", "hang-2")
        await eventually(lambda: prelabel_state(hung, "failed"))
        offers = await claim_and_label({"hang-1", "hang-2"}, wpb.PRELABEL_OUTCOME_NONE, "r1")
        assert all(len(o.prelabels) == 0 for o in offers)
        assert await serving(prelabel_app.target) and await serving(routing_app.target)

        # 2. It answers garbage: the same.
        server.respond = lambda request: Reply(body=b"\x00garbage{")
        junk = await create("junk-1")
        await eventually(lambda: prelabel_state(junk, "failed"))
        offers = await claim_and_label({"junk-1"}, wpb.PRELABEL_OUTCOME_NONE, "r2")
        assert len(offers[0].prelabels) == 0
        assert await serving(prelabel_app.target)

        # 3. A well-behaved server: the offer carries its pre-labels.
        server.respond = well_behaved
        (good,) = await create("good-1")

        async def routed_prelabels() -> bool:
            raw = await pg_pool.fetchval(
                f'SELECT prelabels FROM "{pg_schema}".tasks WHERE task_id = $1::uuid', good
            )
            return raw is not None

        await eventually(routed_prelabels)
        (offer,) = await claim_and_label({"good-1"}, wpb.PRELABEL_OUTCOME_ACCEPTED, "r3")
        assert [(p.class_id, round(p.confidence, 2)) for p in offer.prelabels] == [("cat", 0.7)]

        # The label names the model version whose pre-labels were shown ...
        rows = await pg_pool.fetch(
            f'SELECT payload FROM "{pg_schema}".events WHERE type = $1 ORDER BY position',
            rev.LabelSubmitted.DESCRIPTOR.full_name,
        )
        submitted = {(e := rev.LabelSubmitted.FromString(r["payload"])).item_id: e for r in rows}
        assert (submitted["good-1"].prelabel_model, submitted["good-1"].prelabel_model_version) == (
            model.model_id,
            "pets-clf@7",
        )
        assert submitted["hang-1"].prelabel_model == ""

        # ... and every label is ROI evidence: three from scratch, one accepted pre-label.
        async def roi() -> ppb.ClassRoi | None:
            r = await prelabel.GetClassRoi(ppb.GetClassRoiRequest(project_id=P))
            cat = [c for c in r.classes if c.class_id == "cat"]
            return cat[0] if cat and cat[0].prelabeled == 1 and cat[0].from_scratch == 3 else None

        cat = await eventually(roi)
        assert cat.accepted == 1 and cat.enabled
