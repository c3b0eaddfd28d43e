"""The prelabel service against real Kafka and Postgres: the model in the loop, pre-labels,
active-learning priorities, the ROI switch, external model servers and bad input."""

from __future__ import annotations

import asyncio
import math

import grpc
import numpy as np
import pytest
from labelops.events.v1 import envelope_pb2
from labelops.prelabel.v1 import events_pb2 as ev
from labelops.prelabel.v1 import prelabel_pb2 as pb
from labelops.prelabel.v1 import prelabel_pb2_grpc
from labelops_grpckit import channel
from labelops_testkit.grpc import fails, serving
from labelops_testkit.model_server import Reply, running, well_behaved
from prelabel_support import (
    ANNOTATOR_KEY,
    DIGITS,
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


async def test_model_in_the_loop_trains_prelabels_and_scores(prelabel) -> None:
    p = "digits"
    X, y = digits(300)
    items = [f"it-{i}" for i in range(300)]
    await prelabel.curation([embedded(i, x) for i, x in zip(items, X, strict=True)])
    await prelabel.routing([task_created(p, f"t-{i}", item) for i, item in enumerate(items)])
    await prelabel.qa([accepted(p, f"t-{i}", items[i], y[i]) for i in range(100)])
    await until(
        lambda: prelabel.count("SELECT labels FROM {t}.project_labels WHERE project_id = $1", p),
        lambda n: n == 100,
    )
    await until(
        lambda: prelabel.count("SELECT count(*) FROM {t}.tasks WHERE project_id = $1", p),
        lambda n: n == 300,
    )
    await until(lambda: prelabel.count("SELECT count(*) FROM {t}.embeddings"), lambda n: n == 300)

    model = (
        await prelabel.stub.RegisterModel(
            pb.RegisterModelRequest(
                project_id=p,
                name="digits-logistic",
                kind=pb.MODEL_KIND_LOGISTIC,
                classes=DIGITS,
                vector_space=SPACE,
                retrain_every=40,
                request_id="reg-1",
            )
        )
    ).model
    assert model.serving and model.kind == pb.MODEL_KIND_LOGISTIC

    # The 100 labels already there make the new model due: it trains, then pre-labels the open
    # tasks with that version.
    trained = await until(lambda: prelabel.events(ev.ModelTrained), len)
    v1 = trained[0].version
    assert v1.trained_on == 100 and v1.metrics.available and v1.metrics.accuracy > 0.6
    proposals = await until(lambda: prelabel.events(ev.PreLabelProposed), lambda e: len(e) == 200)
    truth = dict(zip(items, y, strict=True))
    hits = 0
    for e in proposals:
        assert e.model_id == model.model_id and e.model_version == v1.version
        assert math.isclose(sum(e.probabilities.values()), 1.0, abs_tol=1e-6)
        assert e.labels[0].class_id == e.predicted_class
        assert e.labels[0].WhichOneof("geometry") == "whole_item"
        assert e.confidence == pytest.approx(max(e.probabilities.values()))
        hits += e.predicted_class == truth[e.item_id]
    assert {e.task_id for e in proposals} == {f"t-{i}" for i in range(100, 300)}
    assert hits / len(proposals) >= 0.8  # people correct more than they draw

    # After the training, a priority round over the 200 open tasks went to routing.
    scored = await until(lambda: prelabel.events(ev.PriorityScored), len)
    assert {s.task_id for s in scored[0].priorities} == {f"t-{i}" for i in range(100, 300)}
    assert all(0 <= s.priority <= 1000 for s in scored[0].priorities)

    # Uncertainty sampling without diversity: the top of the queue is where the model is least
    # sure, and it is wrong there more often than on the rest.
    resp = await prelabel.stub.ScorePriorities(
        pb.ScorePrioritiesRequest(
            project_id=p,
            strategy=pb.SCORE_STRATEGY_ENTROPY,
            diversity=pb.DIVERSITY_NONE,
            batch_size=40,
        )
    )
    top, rest = resp.priorities[:40], resp.priorities[40:]
    assert min(t.uncertainty for t in top) >= max(r.uncertainty for r in rest)
    assert min(t.priority for t in top) > max(r.priority for r in rest)
    pred = {e.item_id: e.predicted_class for e in proposals}
    err_top = np.mean([pred[t.item_id] != truth[t.item_id] for t in top])
    err_rest = np.mean([pred[r.item_id] != truth[r.item_id] for r in rest])
    assert err_top > err_rest

    # 40 more labels: the model retrains (model in the loop); the first version stays listed.
    await prelabel.qa([accepted(p, f"t-{i}", items[i], y[i]) for i in range(100, 140)])
    got = await until(
        lambda: prelabel.stub.GetModel(pb.GetModelRequest(model_id=model.model_id)),
        lambda r: len(r.versions) == 2,
    )
    assert got.model.current.trained_on == 140
    assert got.versions[1].version == v1.version
    # A replayed registration returns the first answer and registers nothing.
    again = await prelabel.stub.RegisterModel(
        pb.RegisterModelRequest(
            project_id=p,
            name="digits-logistic",
            kind=pb.MODEL_KIND_LOGISTIC,
            classes=DIGITS,
            vector_space=SPACE,
            retrain_every=40,
            request_id="reg-1",
        )
    )
    assert again.model.model_id == model.model_id
    listed = await prelabel.stub.ListModels(pb.ListModelsRequest(project_id=p))
    assert len(listed.models) == 1

    # Out-of-sample probabilities for QA: one row per accepted label, blind to that label.
    oos = await prelabel.stub.GetOutOfSampleProbabilities(
        pb.GetOutOfSampleProbabilitiesRequest(project_id=p, folds=5)
    )
    assert len(oos.predictions) == 140
    assert {o.task_id for o in oos.predictions} == {f"t-{i}" for i in range(140)}
    given = np.mean([o.probabilities[truth[o.item_id]] for o in oos.predictions])
    assert given > 0.6


async def test_out_of_sample_probabilities_expose_wrong_labels(prelabel) -> None:
    p = "noisy"
    X, y = digits(200, seed=3)
    items = [f"nz-{i}" for i in range(200)]
    rng = np.random.default_rng(1)
    flipped = set(rng.choice(200, size=20, replace=False).tolist())
    given = [DIGITS[(DIGITS.index(c) + 1) % 10] if i in flipped else c for i, c in enumerate(y)]
    await prelabel.curation([embedded(i, x) for i, x in zip(items, X, strict=True)])
    await prelabel.qa([accepted(p, f"nt-{i}", items[i], given[i]) for i in range(200)])
    await until(
        lambda: prelabel.count("SELECT labels FROM {t}.project_labels WHERE project_id = $1", p),
        lambda n: n == 200,
    )
    oos = await prelabel.stub.GetOutOfSampleProbabilities(
        pb.GetOutOfSampleProbabilitiesRequest(project_id=p)
    )
    by_item = {o.item_id: o.probabilities for o in oos.predictions}
    noisy = [by_item[items[i]][given[i]] for i in flipped]
    clean = [by_item[items[i]][given[i]] for i in range(200) if i not in flipped]
    # A cross-validated model barely believes the flipped labels.
    assert np.mean(noisy) < 0.3 < 0.7 < np.mean(clean)


async def test_roi_switches_off_the_class_where_pre_labels_cost_time(prelabel) -> None:
    p = "roi"
    rng = np.random.default_rng(7)
    events = []
    n = 0
    for cls, pre_s, outcome in (("slow", 11.0, "REPLACED"), ("fast", 2.0, "ACCEPTED")):
        for _ in range(25):
            n += 1
            events.append(submitted(p, f"r{n}", cls, pre_s + rng.normal(0, 1), outcome))
            n += 1
            events.append(submitted(p, f"r{n}", cls, 6.0 + rng.normal(0, 1), None))
    await prelabel.routing(events)

    off = await until(lambda: prelabel.events(ev.PreLabelingDisabled), len)
    assert [e.class_id for e in off] == ["slow"]
    ev_slow = off[0].evidence
    assert not ev_slow.enabled and ev_slow.prelabeled >= 20 and ev_slow.from_scratch >= 20
    assert ev_slow.saving_high_s < 0 and ev_slow.median_prelabeled_s > ev_slow.median_scratch_s
    assert off[0].switched_by == ""  # the policy, not a person
    # Caused by a consumed LabelSubmitted: its tenant and its actor.
    assert await prelabel.envelopes(ev.PreLabelingDisabled) == [
        (TENANT, envelope_pb2.ACTOR_KIND_USER, f"{TENANT}-user")
    ]
    roi = await until(
        lambda: prelabel.stub.GetClassRoi(pb.GetClassRoiRequest(project_id=p)),
        lambda r: len(r.classes) == 2 and r.classes[0].prelabeled == 25,
    )
    by_class = {c.class_id: c for c in roi.classes}
    assert not by_class["slow"].enabled and by_class["fast"].enabled
    assert by_class["fast"].saving_s > 3 and by_class["fast"].acceptance_rate == 1.0
    assert by_class["slow"].acceptance_rate == 0.0

    # An operator switches it on again: an event with who did it.
    resp = await prelabel.stub.SetPreLabeling(
        pb.SetPreLabelingRequest(project_id=p, class_id="slow", enabled=True, reason="new model")
    )
    assert resp.class_roi.enabled
    on = await prelabel.events(ev.PreLabelingEnabled)
    assert [(e.class_id, e.switched_by, e.reason) for e in on] == [("slow", "mia", "new model")]


async def test_external_server_that_hangs_or_answers_garbage_leaves_tasks_without(
    prelabel,
) -> None:
    p = "ext"
    with running() as server:
        server.respond = lambda request: Reply(delay=30)  # hangs
        reg = await prelabel.stub.RegisterModel(
            pb.RegisterModelRequest(
                project_id=p,
                name="sam",
                kind=pb.MODEL_KIND_EXTERNAL,
                classes=["cat", "dog"],
                url=server.url,
                task="detect",
            )
        )
        await prelabel.routing([task_created(p, f"x-{i}", f"xi-{i}") for i in range(3)])
        await until(
            lambda: prelabel.count(
                "SELECT count(*) FROM {t}.tasks WHERE project_id = $1"
                " AND prelabel_state = 'failed'",
                p,
            ),
            lambda n: n == 3,
        )
        reasons = await prelabel.app.pool.fetch(
            f'SELECT prelabel_reason FROM "{prelabel.settings.db_schema}".tasks'
            " WHERE project_id = $1",
            p,
        )
        assert all(r["prelabel_reason"].startswith("timeout") for r in reasons)

        server.respond = lambda request: Reply(body=b"<html>oops</html>")  # garbage
        await prelabel.routing([task_created(p, f"g-{i}", f"gi-{i}") for i in range(2)])
        await until(
            lambda: prelabel.count(
                "SELECT count(*) FROM {t}.tasks WHERE project_id = $1"
                " AND prelabel_state = 'failed' AND prelabel_reason LIKE 'bad_response%'",
                p,
            ),
            lambda n: n == 2,
        )
        assert await prelabel.events(ev.PreLabelProposed) == []
        # The service is still up and answering.
        assert await serving(prelabel.app.target)
        listed = await prelabel.stub.ListModels(pb.ListModelsRequest(project_id=p))
        assert listed.models[0].model_id == reg.model.model_id

        # A well-behaved server: boxes inside the image, the server's version on the event.
        server.respond = well_behaved
        await prelabel.routing([task_created(p, "ok-1", "oki-1", width=640, height=480)])
        proposed = await until(lambda: prelabel.events(ev.PreLabelProposed), len)
    e = proposed[0]
    assert e.task_id == "ok-1" and e.model_version == "sam@7"
    assert e.labels[0].WhichOneof("geometry") == "box" and e.labels[0].box.width == 320
    assert e.predicted_class == "cat" and e.confidence == pytest.approx(0.7)


async def test_bad_input_writes_nothing_and_vendors_are_denied(prelabel) -> None:
    before = await prelabel.count("SELECT count(*) FROM {t}.events")
    _, fields = await fails(
        prelabel.stub.RegisterModel(
            pb.RegisterModelRequest(
                project_id="",
                kind=pb.MODEL_KIND_EXTERNAL,
                classes=["a", "a"],
                url="ftp://x",
                task="dance",
                min_confidence=2,
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert {"project_id", "name", "classes", "url", "task", "min_confidence"} <= set(fields)
    await fails(
        prelabel.stub.TrainModel(pb.TrainModelRequest(model_id="nope")),
        grpc.StatusCode.NOT_FOUND,
        "MODEL_NOT_FOUND",
    )
    await fails(
        prelabel.stub.GetOutOfSampleProbabilities(
            pb.GetOutOfSampleProbabilitiesRequest(project_id="empty")
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "NOT_ENOUGH_LABELS",
    )
    await fails(
        prelabel.stub.ScorePriorities(pb.ScorePrioritiesRequest(project_id="x", strategy=99)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert await prelabel.count("SELECT count(*) FROM {t}.events") == before

    async with channel(prelabel.app.target, api_key=VENDOR_KEY) as ch:
        vendor = prelabel_pb2_grpc.PrelabelServiceStub(ch)
        await fails(vendor.ListModels(pb.ListModelsRequest()), grpc.StatusCode.PERMISSION_DENIED)
    async with channel(prelabel.app.target, api_key=ANNOTATOR_KEY) as ch:
        annotator = prelabel_pb2_grpc.PrelabelServiceStub(ch)
        await fails(
            annotator.SetPreLabeling(
                pb.SetPreLabelingRequest(project_id="p", class_id="c", enabled=False)
            ),
            grpc.StatusCode.PERMISSION_DENIED,
            "PERMISSION_DENIED_BY_ROLE",
        )


async def test_cold_start_priorities_spread_over_the_data(prelabel) -> None:
    # No model yet: every item is equally uncertain, so the first batch is pure diversity
    # (k-center greedy over the embeddings): its items lie far apart.
    p = "cold"
    X, _ = digits(400, seed=5)
    items = [f"c-{i}" for i in range(400)]
    await prelabel.curation([embedded(i, x) for i, x in zip(items, X, strict=True)])
    await prelabel.routing([task_created(p, f"ct-{i}", item) for i, item in enumerate(items)])
    await until(
        lambda: prelabel.count("SELECT count(*) FROM {t}.tasks WHERE project_id = $1", p),
        lambda n: n == 400,
    )
    # Embeddings arrive on another topic: a task without its embedding yet is not scored.
    await until(
        lambda: prelabel.count("SELECT count(*) FROM {t}.embeddings WHERE item_id LIKE 'c-%'"),
        lambda n: n == 400,
    )
    resp = await prelabel.stub.ScorePriorities(
        pb.ScorePrioritiesRequest(project_id=p, batch_size=10, request_id="cold-1")
    )
    assert resp.model_version == "" and len(resp.priorities) == 400
    index = {item: i for i, item in enumerate(items)}
    first = [index[t.item_id] for t in resp.priorities[:10]]

    def closest_pair(rows: list[int]) -> float:
        pts = X[rows]
        d = np.linalg.norm(pts[:, None, :] - pts[None, :, :], axis=-1)
        return float(d[np.triu_indices(len(rows), 1)].min())

    # Farther apart than 99 % of random batches of the same size.
    rng = np.random.default_rng(0)
    random_batches = [closest_pair(list(rng.choice(400, 10, replace=False))) for _ in range(300)]
    assert closest_pair(first) > np.quantile(random_batches, 0.99)
    (scored,) = await prelabel.events(ev.PriorityScored)
    assert [t.task_id for t in scored.priorities] == [t.task_id for t in resp.priorities]
    # A replay answers the same and publishes nothing more.
    again = await prelabel.stub.ScorePriorities(
        pb.ScorePrioritiesRequest(project_id=p, batch_size=10, request_id="cold-1")
    )
    assert again == resp and len(await prelabel.events(ev.PriorityScored)) == 1


async def test_a_label_and_its_task_arriving_at_once_never_leave_the_task_open(prelabel) -> None:
    # QA's and routing's topics are consumed concurrently: LabelAccepted and TaskCreated of one
    # task can be in flight in two transactions at the same time. Whatever the interleaving,
    # the task must end up labeled (an open one would get a pre-label nobody needs).
    from datetime import UTC, datetime

    from labelops_bus.runner import MessageContext

    consumers = prelabel.app.parts.consumers.dispatchers()

    def ctx(env: envelope_pb2.EventEnvelope) -> MessageContext:
        return MessageContext(
            envelope=env,
            topic="t",
            partition=0,
            offset=0,
            key=None,
            value=None,
            headers={},
            timestamp=datetime.now(UTC),
            consumer="c",
            event_id=env.event_id,
        )

    label = ctx(accepted("race", "rt-1", "ri-1", "d3"))
    task = ctx(task_created("race", "rt-1", "ri-1"))
    pool = prelabel.app.pool
    async with pool.acquire() as c1, pool.acquire() as c2:
        first = c1.transaction()
        await first.start()
        await consumers["qa-labels"](label, c1)

        async def second() -> None:
            async with c2.transaction():
                await consumers["routing-tasks"](task, c2)

        racing = asyncio.create_task(second())
        await asyncio.sleep(0.5)  # the task insert is in flight while the label is uncommitted
        await first.commit()
        await racing
    state = await pool.fetchval(
        f'SELECT state FROM "{prelabel.settings.db_schema}".tasks WHERE task_id = $1', "rt-1"
    )
    assert state == "labeled"
