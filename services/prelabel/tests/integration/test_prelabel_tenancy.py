"""Tenants and roles against the real service: tenant B gets NOT_FOUND / nothing for tenant A's
models, projects and tasks and writes nothing of A's; a vendor or an annotator is refused every
method; derived events (pre-labels, trainings, priorities, ROI switches) carry the tenant of
what caused them."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from labelops.events.v1 import envelope_pb2
from labelops.prelabel.v1 import events_pb2 as ev
from labelops.prelabel.v1 import prelabel_pb2 as pb
from labelops.prelabel.v1 import prelabel_pb2_grpc
from labelops_grpckit import channel
from labelops_testkit.grpc import fails
from prelabel_support import (
    ANNOTATOR_KEY,
    DIGITS,
    MANAGER_KEY,
    OTHER,
    OTHER_KEY,
    SERVICE_KEY,
    SPACE,
    TENANT,
    VENDOR_KEY,
    accepted,
    digits,
    embedded,
    submitted,
    task_created,
    until,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

SERVICE = pb.DESCRIPTOR.services_by_name["PrelabelService"]
WRITES = {"RegisterModel", "TrainModel", "SetPreLabeling", "PredictItems", "ScorePriorities"}


def empty_request(method: Any) -> Any:
    return getattr(pb, method.input_type.name)()


async def tenant_a_with_a_trained_model(prelabel: Any) -> pb.Model:
    p = "shared"
    X, y = digits(60, seed=2)
    items = [f"sh-{i}" for i in range(60)]
    await prelabel.curation([embedded(i, x) for i, x in zip(items, X, strict=True)])
    await prelabel.routing([task_created(p, f"t-{i}", it) for i, it in enumerate(items)])
    await prelabel.qa([accepted(p, f"t-{i}", items[i], y[i]) for i in range(30)])
    # Tenant B's tasks: the same project and task ids, its own rows.
    await prelabel.routing([task_created(p, f"t-{i}", items[i], tenant=OTHER) for i in range(5)])
    await prelabel.routing(
        [submitted(p, f"t-{i}", "d1", 5.0, "ACCEPTED" if i % 2 else None) for i in range(4)]
    )
    await until(
        lambda: prelabel.count(
            "SELECT labels FROM {t}.project_labels WHERE tenant_id = $1 AND project_id = $2",
            TENANT,
            p,
        ),
        lambda n: n == 30,
    )
    for tenant, n in ((TENANT, 60), (OTHER, 5)):
        await until(
            lambda tenant=tenant: prelabel.count(
                "SELECT count(*) FROM {t}.tasks WHERE tenant_id = $1 AND project_id = $2",
                tenant,
                p,
            ),
            lambda got, n=n: got == n,
        )
    await until(
        lambda: prelabel.count("SELECT count(*) FROM {t}.embeddings WHERE item_id LIKE 'sh-%'"),
        lambda n: n == 60,
    )
    await until(
        lambda: prelabel.count(
            "SELECT count(*) FROM {t}.roi_observations WHERE tenant_id = $1", TENANT
        ),
        lambda n: n == 4,
    )
    model = (
        await prelabel.stub.RegisterModel(
            pb.RegisterModelRequest(
                project_id=p,
                name="a-logistic",
                kind=pb.MODEL_KIND_LOGISTIC,
                classes=DIGITS,
                vector_space=SPACE,
            )
        )
    ).model
    await until(lambda: prelabel.events(ev.PreLabelProposed), lambda e: len(e) == 30)
    await until(lambda: prelabel.events(ev.PriorityScored), len)
    return model


async def test_tenant_b_reaches_nothing_of_tenant_a(prelabel: Any) -> None:
    model = await tenant_a_with_a_trained_model(prelabel)
    p = model.project_id

    # What tenant A's data derived carries tenant A, and the actor that caused it.
    proposals = await prelabel.events(ev.PreLabelProposed)
    assert {e.task_id for e in proposals} == {f"t-{i}" for i in range(30, 60)}  # not B's
    service = (TENANT, envelope_pb2.ACTOR_KIND_SERVICE, "prelabel")
    assert set(await prelabel.envelopes(ev.PreLabelProposed)) == {service}
    assert set(await prelabel.envelopes(ev.ModelTrained)) == {service}
    assert set(await prelabel.envelopes(ev.PriorityScored)) == {service}
    assert set(await prelabel.envelopes(ev.ModelRegistered)) == {
        (TENANT, envelope_pb2.ACTOR_KIND_USER, "mia")
    }
    roi_a = await prelabel.stub.GetClassRoi(pb.GetClassRoiRequest(project_id=p))
    assert [c.class_id for c in roi_a.classes] == ["d1"]

    schema = prelabel.settings.db_schema
    events_before = await prelabel.count("SELECT count(*) FROM {t}.events")
    models_before = await prelabel.app.pool.fetch(f'SELECT * FROM "{schema}".models')
    switches_before = await prelabel.app.pool.fetch(f'SELECT * FROM "{schema}".class_switches')
    items = [f"sh-{i}" for i in range(5)]
    async with channel(prelabel.app.target, api_key=OTHER_KEY) as ch:
        b = prelabel_pb2_grpc.PrelabelServiceStub(ch)
        # A's model id answers as a missing one does.
        missing, _ = await fails(
            b.GetModel(pb.GetModelRequest(model_id="no-such-model")),
            grpc.StatusCode.NOT_FOUND,
            "MODEL_NOT_FOUND",
        )
        theirs, _ = await fails(
            b.GetModel(pb.GetModelRequest(model_id=model.model_id)),
            grpc.StatusCode.NOT_FOUND,
            "MODEL_NOT_FOUND",
        )
        assert theirs.details().replace(model.model_id, "X") == missing.details().replace(
            "no-such-model", "X"
        )
        assert (await b.ListModels(pb.ListModelsRequest(project_id=p))).models == []
        assert (await b.ListModels(pb.ListModelsRequest())).models == []
        await fails(
            b.TrainModel(pb.TrainModelRequest(model_id=model.model_id, request_id="b-train")),
            grpc.StatusCode.NOT_FOUND,
            "MODEL_NOT_FOUND",
        )
        await fails(
            b.PredictItems(pb.PredictItemsRequest(project_id=p, item_ids=items)),
            grpc.StatusCode.FAILED_PRECONDITION,
            "NO_MODEL",
        )
        scored = await b.ScorePriorities(pb.ScorePrioritiesRequest(project_id=p))
        assert list(scored.priorities) == []  # B's tasks have no embedding of B's
        assert list((await b.GetClassRoi(pb.GetClassRoiRequest(project_id=p))).classes) == []
        await fails(
            b.GetOutOfSampleProbabilities(pb.GetOutOfSampleProbabilitiesRequest(project_id=p)),
            grpc.StatusCode.FAILED_PRECONDITION,
            "NOT_ENOUGH_LABELS",
        )
        assert await prelabel.count("SELECT count(*) FROM {t}.events") == events_before
        # A switch B makes is B's own: A's switches and ROI stay as they were.
        await b.SetPreLabeling(
            pb.SetPreLabelingRequest(project_id=p, class_id="d1", enabled=False, reason="b")
        )
    assert await prelabel.envelopes(ev.PreLabelingDisabled) == [
        (OTHER, envelope_pb2.ACTOR_KIND_USER, "bob")
    ]
    assert await prelabel.app.pool.fetch(f'SELECT * FROM "{schema}".models') == models_before
    a_switches = await prelabel.app.pool.fetch(
        f'SELECT * FROM "{schema}".class_switches WHERE tenant_id = $1', TENANT
    )
    assert a_switches == [r for r in switches_before if r["tenant_id"] == TENANT]
    assert await prelabel.stub.GetClassRoi(pb.GetClassRoiRequest(project_id=p)) == roi_a
    # Tenant A still has its model.
    got = await prelabel.stub.GetModel(pb.GetModelRequest(model_id=model.model_id))
    assert got.model.model_id == model.model_id and len(got.versions) == 1


@pytest.mark.parametrize("key", [VENDOR_KEY, ANNOTATOR_KEY])
async def test_vendors_and_annotators_are_refused_every_method(prelabel: Any, key: str) -> None:
    before = await prelabel.count("SELECT count(*) FROM {t}.events")
    async with channel(prelabel.app.target, api_key=key) as ch:
        stub = prelabel_pb2_grpc.PrelabelServiceStub(ch)
        for method in SERVICE.methods:
            await fails(
                getattr(stub, method.name)(empty_request(method)),
                grpc.StatusCode.PERMISSION_DENIED,
                "PERMISSION_DENIED_BY_ROLE",
            )
    assert await prelabel.count("SELECT count(*) FROM {t}.events") == before


@pytest.mark.parametrize(
    ("key", "refused"),
    [
        # A manager reads models and ROI; registering, training, predicting are ml work.
        (MANAGER_KEY, WRITES),
        # A service (QA) reads and predicts, but does not manage models.
        (SERVICE_KEY, {"RegisterModel", "TrainModel", "SetPreLabeling"}),
    ],
)
async def test_managers_and_services_get_their_rows_only(
    prelabel: Any, key: str, refused: set[str]
) -> None:
    async with channel(prelabel.app.target, api_key=key) as ch:
        stub = prelabel_pb2_grpc.PrelabelServiceStub(ch)
        for method in SERVICE.methods:
            call = getattr(stub, method.name)(empty_request(method))
            if method.name in refused:
                await fails(call, grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED_BY_ROLE")
            else:
                # Past the table: an empty request answers, or fails on its content.
                try:
                    await call
                except grpc.aio.AioRpcError as exc:
                    assert exc.code() in (
                        grpc.StatusCode.INVALID_ARGUMENT,
                        grpc.StatusCode.NOT_FOUND,
                        grpc.StatusCode.FAILED_PRECONDITION,
                    ), (method.name, exc.code())
