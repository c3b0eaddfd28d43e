"""What models can pre-label, said out loud (issue 18).

- A built-in model learns item classes; on a project whose accepted labels are boxes it
  proposes nothing and says "no pre-label model for boxes" (on the skipped tasks and on the
  model), while another tenant's project of the same id, labeled with whole-item classes,
  keeps its pre-labels.
- An external model's ``class_probabilities`` drive the active-learning scores (the server is
  sent each item's URI and size); an answer without them scores nothing and says why.
"""

from __future__ import annotations

from typing import Any

import pytest
from labelops.labels.v1 import label_pb2 as L
from labelops.prelabel.v1 import events_pb2 as ev
from labelops.prelabel.v1 import prelabel_pb2 as pb
from labelops.prelabel.v1 import prelabel_pb2_grpc
from labelops.qa.v1 import events_pb2 as qev
from labelops_grpckit import channel
from labelops_testkit.model_server import Reply, running
from prelabel_support import (
    DIGITS,
    OTHER,
    OTHER_KEY,
    SPACE,
    TENANT,
    accepted,
    digits,
    embedded,
    envelope,
    task_created,
    until,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

N, LABELED = 80, 40


def accepted_boxes(project_id: str, task_id: str, item_id: str, cls: str) -> Any:
    """An accepted label of two boxes of ``cls`` (what a detection project accepts)."""
    labels = L.ItemLabels(
        item_id=item_id,
        labels=[
            L.Label(label_id=f"b{k}", class_id=cls, box=L.BoundingBox(x=k, y=1, width=9, height=9))
            for k in range(2)
        ],
    )
    return envelope(
        qev.LabelAccepted(project_id=project_id, task_id=task_id, item_id=item_id, labels=labels),
        f"projects/{project_id}/tasks/{task_id}",
    )


def logistic(project_id: str) -> pb.RegisterModelRequest:
    return pb.RegisterModelRequest(
        project_id=project_id,
        name="items",
        kind=pb.MODEL_KIND_LOGISTIC,
        classes=DIGITS,
        vector_space=SPACE,
    )


async def test_builtin_models_say_they_have_no_prelabel_model_for_boxes(prelabel) -> None:
    p = "street"
    X, y = digits(N)
    items = [f"it-{i}" for i in range(N)]
    for tenant in (TENANT, OTHER):
        await prelabel.curation([embedded(i, x, tenant) for i, x in zip(items, X, strict=True)])
    await prelabel.routing([task_created(p, f"a-{i}", items[i]) for i in range(N)])
    await prelabel.routing([task_created(p, f"o-{i}", items[i], tenant=OTHER) for i in range(N)])
    await prelabel.qa([accepted_boxes(p, f"a-{i}", items[i], y[i]) for i in range(LABELED)])
    await prelabel.qa([accepted(p, f"o-{i}", items[i], y[i], tenant=OTHER) for i in range(LABELED)])
    await until(
        lambda: prelabel.count("SELECT count(*) FROM {t}.labels WHERE project_id = $1", p),
        lambda n: n == 2 * LABELED,
        timeout=120,
    )
    model = (await prelabel.stub.RegisterModel(logistic(p))).model
    async with channel(prelabel.app.target, api_key=OTHER_KEY) as ch:
        other = prelabel_pb2_grpc.PrelabelServiceStub(ch)
        other_model = (await other.RegisterModel(logistic(p))).model

        # Every open task of acme's is decided without a pre-label, and says why.
        await until(
            lambda: prelabel.count(
                "SELECT count(*) FROM {t}.tasks WHERE project_id = $1 AND tenant_id = $2"
                " AND state = 'open' AND prelabel_state = 'skipped'",
                p,
                TENANT,
            ),
            lambda n: n == N - LABELED,
            timeout=120,
        )
        rows = await prelabel.app.pool.fetch(
            f'SELECT prelabel_reason FROM "{prelabel.settings.db_schema}".tasks'
            " WHERE project_id = $1 AND tenant_id = $2 AND state = 'open'",
            p,
            TENANT,
        )
        assert all(r["prelabel_reason"].startswith("no pre-label model for boxes (d") for r in rows)
        assert all("register an external model (task detect)" in r["prelabel_reason"] for r in rows)
        # The other tenant's whole-item project is pre-labeled as before.
        proposed = await until(
            lambda: prelabel.events(ev.PreLabelProposed),
            lambda e: len(e) == N - LABELED,
            timeout=120,
        )
        assert {e.task_id for e in proposed} == {f"o-{i}" for i in range(LABELED, N)}
        assert all(e.labels[0].WhichOneof("geometry") == "whole_item" for e in proposed)

        # The model says so where users look (GetModel, ListModels: the dashboard).
        got = (await prelabel.stub.GetModel(pb.GetModelRequest(model_id=model.model_id))).model
        assert set(got.no_prelabel) == set(y[:LABELED])
        assert all(v.startswith("no pre-label model for boxes") for v in got.no_prelabel.values())
        assert got.prelabel_status.startswith("no pre-label model for boxes (d0, d1, d2")
        listed = (await prelabel.stub.ListModels(pb.ListModelsRequest(project_id=p))).models
        assert listed[0].prelabel_status == got.prelabel_status
        theirs = (await other.GetModel(pb.GetModelRequest(model_id=other_model.model_id))).model
        assert not theirs.no_prelabel and theirs.prelabel_status == ""


def graded(request: dict[str, Any], with_probabilities: bool = True) -> Reply:
    """A detector whose certainty grows with the item number: ``ea-0`` is a coin flip."""
    preds = []
    for item in request["items"]:
        i = int(item["item_id"].split("-")[1])
        cat = 0.5 + 0.49 * i / 29
        pred: dict[str, Any] = {
            "item_id": item["item_id"],
            "labels": [
                {
                    "class_id": "cat",
                    "confidence": cat,
                    "box": {"x": 1, "y": 1, "width": item["width"] - 2, "height": 10},
                }
            ],
        }
        if with_probabilities:
            pred["class_probabilities"] = {"cat": cat, "dog": 1 - cat}
        preds.append(pred)
    return Reply(body={"model_version": "det@3", "predictions": preds})


async def test_external_probabilities_drive_active_learning_scores(prelabel) -> None:
    p = "ext-al"
    items = [f"ea-{i}" for i in range(30)]
    X, _ = digits(30, seed=3)
    await prelabel.curation([embedded(i, x) for i, x in zip(items, X, strict=True)])
    await prelabel.routing(
        [task_created(p, f"et-{i}", item, width=64, height=48) for i, item in enumerate(items)]
    )
    await until(
        lambda: prelabel.count("SELECT count(*) FROM {t}.tasks WHERE project_id = $1", p),
        lambda n: n == 30,
    )
    with running() as server:
        server.respond = graded
        await prelabel.stub.RegisterModel(
            pb.RegisterModelRequest(
                project_id=p,
                name="det",
                kind=pb.MODEL_KIND_EXTERNAL,
                classes=["cat", "dog"],
                url=server.url,
                task="detect",
            )
        )
        resp = await prelabel.stub.ScorePriorities(
            pb.ScorePrioritiesRequest(
                project_id=p,
                strategy=pb.SCORE_STRATEGY_ENTROPY,
                diversity=pb.DIVERSITY_NONE,
                batch_size=10,
                request_id="al-1",
            )
        )
        assert resp.model_version == "det@3"
        assert all(t.uncertainty > 0 for t in resp.priorities)
        # The coin flips first: the least sure items are the next batch.
        assert {t.item_id for t in resp.priorities[:10]} == {f"ea-{i}" for i in range(10)}
        assert resp.priorities[0].item_id == "ea-0"
        # The server was told where each item is and how big it is.
        sent = {i["item_id"]: i for r in server.requests for i in r["items"]}
        assert sent["ea-7"]["uri"] == "s3://bucket/ea-7.png"
        assert (sent["ea-7"]["width"], sent["ea-7"]["height"]) == (64, 48)

        # Without class_probabilities (optional for detect) the uncertainty is unknown: no
        # scores, and PredictItems says why.
        server.respond = lambda request: graded(request, with_probabilities=False)
        blind = await prelabel.stub.ScorePriorities(
            pb.ScorePrioritiesRequest(project_id=p, diversity=pb.DIVERSITY_NONE, request_id="al-2")
        )
        assert blind.priorities and all(t.uncertainty == 0 for t in blind.priorities)
        missing = (
            await prelabel.stub.PredictItems(pb.PredictItemsRequest(project_id=p, item_ids=items))
        ).missing
        assert set(missing) == set(items)
        assert all(why.startswith("no class probabilities") for why in missing.values())
