"""QA beside labeling, over real Kafka and Postgres: the test publishes routing's events, the QA
service computes consensus, routes tasks to review or accepts them, scores gold answers and
detects drift, re-runs consensus without touching earlier results, measures agreement and
flags label issues."""

from __future__ import annotations

import math
import uuid
from typing import Any

import grpc
import krippendorff
import numpy as np
from labelops.qa.v1 import events_pb2 as ev
from labelops.qa.v1 import qa_pb2 as pb
from labelops.routing.v1 import routing_pb2 as rpb
from labelops_testkit.grpc import fails
from labelops_testkit.kafka import wait_for_envelopes
from qa_support import ONTOLOGY, Project, eventually, project_created, whole

P = "zoo"


def tid() -> str:
    return str(uuid.uuid4())


async def task_state(qa: Any, task_id: str, state: int) -> pb.TaskQuality | None:
    try:
        t = (
            await qa.stub.GetTaskQuality(pb.GetTaskQualityRequest(project_id=P, task_id=task_id))
        ).task
    except grpc.aio.AioRpcError:
        return None
    return t if t.state == state else None


async def qa_events(qa: Any, n: int) -> list[Any]:
    return await wait_for_envelopes(qa.kafka, f"labelops.{qa.settings.service_name}.events.v1", n)


async def stored_events(qa: Any) -> int:
    return await qa.app.pool.fetchval(f'SELECT count(*) FROM "{qa.settings.db_schema}".events')


async def test_consensus_review_and_accepted_lineage(qa):
    proj = Project(P)
    agree, split, stakes = tid(), tid(), tid()
    envs = [project_created(P)]
    envs += [
        proj.task(agree, "img-1", 3),
        proj.task(split, "img-2", 3),
        proj.task(stakes, "img-3", 3),
    ]
    # ann-b was shown a model's pre-labels (routing names the model version on the label).
    for who, cls in (("ann-a", "cat"), ("ann-b", "cat"), ("ann-c", "cat")):
        shown = ("m-1", "logistic-v7") if who == "ann-b" else ("", "")
        envs.append(proj.label(agree, "img-1", who, whole("img-1", cls), prelabel_model=shown))
    for who, cls in (("ann-a", "cat"), ("ann-b", "dog"), ("ann-c", "dog")):
        envs.append(proj.label(split, "img-2", who, whole("img-2", cls)))
    for who in ("ann-a", "ann-b", "ann-c"):
        envs.append(proj.label(stakes, "img-3", who, whole("img-3", "person")))
    await qa.routing(envs)

    accepted = await eventually(lambda: task_state(qa, agree, pb.TASK_QUALITY_STATE_ACCEPTED))
    assert accepted.consensus.score == 1.0 and accepted.consensus.run_id == "live"
    assert [lab.class_id for lab in accepted.consensus.labels.labels] == ["cat"]
    in_review = await eventually(lambda: task_state(qa, split, pb.TASK_QUALITY_STATE_IN_REVIEW))
    assert "disagree" in in_review.review_reason
    assert in_review.consensus.labels.labels[0].class_id == "dog"
    hs = await eventually(lambda: task_state(qa, stakes, pb.TASK_QUALITY_STATE_IN_REVIEW))
    assert hs.review_reason == "high stakes"
    queue = await qa.stub.ListReviewQueue(pb.ListReviewQueueRequest(project_id=P))
    assert {t.task_id for t in queue.tasks} == {split, stakes}

    # The accepted label carries its lineage.
    envs = await eventually(lambda: _events_of(qa, ev.LabelAccepted))
    (acc,) = [ev.LabelAccepted.FromString(e.payload) for e in envs]
    assert acc.task_id == agree and acc.labels.labels[0].class_id == "cat"
    assert list(acc.lineage.annotator_ids) == ["ann-a", "ann-b", "ann-c"]
    assert len(acc.lineage.label_event_ids) == 3
    assert acc.lineage.consensus_method == pb.CONSENSUS_METHOD_MAJORITY_VOTE
    assert acc.lineage.ontology_version == ONTOLOGY[1]
    assert (acc.lineage.prelabel_model, acc.lineage.prelabel_model_version) == (
        "m-1",
        "logistic-v7",
    )

    # Reviews: a fix must be valid against the ontology version; a rejection goes to routing.
    before = await stored_events(qa)
    _, fields = await fails(
        qa.stub.SubmitReview(
            pb.SubmitReviewRequest(
                project_id=P,
                task_id=split,
                decision=pb.REVIEW_DECISION_FIX_AND_ACCEPT,
                fixed_labels=whole("img-2", "unicorn"),
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert fields and fields[0].startswith("fixed_labels.labels[0]")
    assert await stored_events(qa) == before
    fixed = await qa.stub.SubmitReview(
        pb.SubmitReviewRequest(
            project_id=P,
            task_id=split,
            decision=pb.REVIEW_DECISION_FIX_AND_ACCEPT,
            fixed_labels=whole("img-2", "fox"),
            request_id="review-1",
        )
    )
    assert fixed.task.state == pb.TASK_QUALITY_STATE_ACCEPTED and fixed.task.reviewer == "rita"
    again = await qa.stub.SubmitReview(
        pb.SubmitReviewRequest(
            project_id=P,
            task_id=split,
            decision=pb.REVIEW_DECISION_FIX_AND_ACCEPT,
            fixed_labels=whole("img-2", "fox"),
            request_id="review-1",
        )
    )
    assert again == fixed  # a retried review answers the same and writes nothing
    await qa.stub.SubmitReview(
        pb.SubmitReviewRequest(
            project_id=P, task_id=stakes, decision=pb.REVIEW_DECISION_REJECT, note="not a person"
        )
    )
    await fails(
        qa.stub.SubmitReview(
            pb.SubmitReviewRequest(project_id=P, task_id=stakes, decision=pb.REVIEW_DECISION_ACCEPT)
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "TASK_NOT_IN_REVIEW",
    )
    accepted_events = [
        ev.LabelAccepted.FromString(e.payload) for e in await _events_of(qa, ev.LabelAccepted)
    ]
    fix = next(a for a in accepted_events if a.task_id == split)
    assert fix.labels.labels[0].class_id == "fox"
    assert fix.lineage.review_decision == pb.REVIEW_DECISION_FIX_AND_ACCEPT
    (rej,) = [
        ev.LabelRejected.FromString(e.payload) for e in await _events_of(qa, ev.LabelRejected)
    ]
    assert rej.task_id == stakes and rej.reason == "not a person" and rej.reviewer == "rita"


async def _events_of(qa: Any, message: Any) -> list[Any]:
    rows = await qa.app.pool.fetch(
        f'SELECT payload FROM "{qa.settings.db_schema}".events WHERE type = $1 ORDER BY position',
        message.DESCRIPTOR.full_name,
    )

    class E:
        def __init__(self, payload: bytes) -> None:
            self.payload = payload

    return [E(r["payload"]) for r in rows]


async def test_gold_scoring_and_drift(qa):
    proj = Project(P)
    envs = [project_created(P)]
    gold_ids = [tid() for _ in range(40)]
    for i, g in enumerate(gold_ids):
        envs.append(proj.task(g, f"gold-{i}", 1, gold_expected=whole(f"gold-{i}", "cat")))
    # A good start, then the annotator starts answering "dog" to cats.
    for i, g in enumerate(gold_ids):
        answer = "cat" if i < 20 else ("dog" if i % 5 else "cat")
        envs.append(proj.label(g, f"gold-{i}", "ann-d", whole(f"gold-{i}", answer), gold=True))
        envs.append(proj.label(g, f"gold-{i}", "ann-e", whole(f"gold-{i}", "cat"), gold=True))
    await qa.routing(envs)

    async def scored() -> Any:
        q = await qa.stub.GetAnnotatorQuality(pb.GetAnnotatorQualityRequest(project_id=P))
        return q if sum(a.gold_answered for a in q.annotators) == 80 else None

    q = await eventually(scored)
    d, e = q.annotators
    assert (d.annotator_id, e.annotator_id) == ("ann-d", "ann-e")
    assert d.gold_accuracy == 0.6 and d.recent_accuracy == 0.2 and d.drifting
    assert e.gold_accuracy == 1.0 and not e.drifting
    (row,) = d.confusion
    assert row.true_class == "cat" and dict(row.given) == {"cat": 24, "dog": 16}
    drifts = [
        ev.AnnotatorDriftDetected.FromString(x.payload)
        for x in await _events_of(qa, ev.AnnotatorDriftDetected)
    ]
    assert [x.annotator_id for x in drifts] == ["ann-d"]
    assert drifts[0].baseline_accuracy == 1.0 and drifts[0].recent_accuracy == 0.2


async def test_rerunning_consensus_leaves_earlier_results_unchanged(qa):
    rng = np.random.default_rng(3)
    proj = Project(P)
    envs = [project_created(P, review_policy=1)]  # REVIEW_POLICY_NONE: everything accepted
    truth = {}
    annotators = [f"ann-{k}" for k in range(6)]
    # ann-0..1 are careless (often "fox"), the rest good: methods can disagree on some tasks.
    for i in range(60):
        t = tid()
        truth[t] = "cat" if i % 2 else "dog"
        envs.append(proj.task(t, f"img-{i}", 3))
        for who in rng.choice(annotators, size=3, replace=False):
            careless = who in ("ann-0", "ann-1")
            cls = "fox" if careless and rng.random() < 0.7 else truth[t]
            envs.append(proj.label(t, f"img-{i}", str(who), whole(f"img-{i}", cls)))
    await qa.routing(envs)

    async def all_live() -> Any:
        res = await qa.stub.ListConsensus(pb.ListConsensusRequest(project_id=P, page_size=100))
        return res if len(res.results) == 60 else None

    live_before = await eventually(all_live)
    ds = await qa.stub.RunConsensus(
        pb.RunConsensusRequest(project_id=P, method=pb.CONSENSUS_METHOD_DAWID_SKENE)
    )
    assert ds.tasks == 60
    ds_results = await qa.stub.ListConsensus(
        pb.ListConsensusRequest(project_id=P, run_id=ds.run_id, page_size=100)
    )
    mv = await qa.stub.RunConsensus(
        pb.RunConsensusRequest(project_id=P, method=pb.CONSENSUS_METHOD_WEIGHTED_VOTE)
    )
    assert mv.run_id != ds.run_id
    # Earlier results — the live set and the Dawid-Skene run — are exactly as they were.
    assert (
        await qa.stub.ListConsensus(pb.ListConsensusRequest(project_id=P, page_size=100))
        == live_before
    )
    assert (
        await qa.stub.ListConsensus(
            pb.ListConsensusRequest(project_id=P, run_id=ds.run_id, page_size=100)
        )
        == ds_results
    )
    # A second Dawid-Skene run starts warm from the first fit and lands on the same labels,
    # as a new result set.
    ds2 = await qa.stub.RunConsensus(
        pb.RunConsensusRequest(project_id=P, method=pb.CONSENSUS_METHOD_DAWID_SKENE)
    )
    ds2_results = await qa.stub.ListConsensus(
        pb.ListConsensusRequest(project_id=P, run_id=ds2.run_id, page_size=100)
    )
    assert ds2.run_id != ds.run_id
    assert [r.labels for r in ds2_results.results] == [r.labels for r in ds_results.results]
    correct = {
        r.task_id: r.labels.labels[0].class_id == truth[r.task_id] for r in ds_results.results
    }
    assert sum(correct.values()) >= sum(
        r.labels.labels[0].class_id == truth[r.task_id] for r in live_before.results
    )
    assert {r.method for r in ds_results.results} == {pb.CONSENSUS_METHOD_DAWID_SKENE}
    # The same LabelAccepted set as before the runs: runs add results, they do not re-accept.
    assert len(await _events_of(qa, ev.LabelAccepted)) == 60

    # Agreement equals the krippendorff package on the same reliability data.
    report = (await qa.stub.MeasureAgreement(pb.MeasureAgreementRequest(project_id=P))).reports[0]
    rows = await qa.app.pool.fetch(
        f'SELECT item_id, annotator_id, labels FROM "{qa.settings.db_schema}".labels'
    )
    from labelops.labels.v1 import label_pb2 as L

    items = sorted({r["item_id"] for r in rows})
    codes = {"cat": 0, "dog": 1, "fox": 2}
    data = np.full((len(annotators), len(items)), np.nan)
    for r in rows:
        cls = L.ItemLabels.FromString(r["labels"]).labels[0].class_id
        data[annotators.index(r["annotator_id"]), items.index(r["item_id"])] = codes[cls]
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert abs(report.krippendorff_alpha - expected) < 1e-9
    assert report.items == 60 and report.annotators == 6 and report.pairs
    assert {c.class_id for c in report.classes} == {"cat", "dog", "fox"}
    assert all(-1 <= c.krippendorff_alpha <= 1 for c in report.classes)
    hourly = await qa.stub.MeasureAgreement(
        pb.MeasureAgreementRequest(project_id=P, window_seconds=3600)
    )
    assert sum(r.items for r in hourly.reports) == 60 and hourly.reports[0].classes
    assert hourly.reports[0].window_end.seconds - hourly.reports[0].window_start.seconds == 3600

    # Label issues: a model confident in another class than the accepted label.
    preds = []
    for r in live_before.results:
        given = r.labels.labels[0].class_id
        probs = {"cat": 0.05, "dog": 0.05, "fox": 0.05}
        probs[given] = 0.9
        preds.append(pb.ItemPrediction(task_id=r.task_id, probabilities=probs))
    suspect = live_before.results[0]
    wrong = "cat" if suspect.labels.labels[0].class_id != "cat" else "dog"
    preds[0] = pb.ItemPrediction(
        task_id=suspect.task_id,
        probabilities={wrong: 0.97, suspect.labels.labels[0].class_id: 0.03},
    )
    found = await qa.stub.FindLabelIssues(
        pb.FindLabelIssuesRequest(project_id=P, predictions=preds, model="prelabel-knn@3")
    )
    assert [i.task_id for i in found.issues] == [suspect.task_id]
    assert found.issues[0].suggested_class == wrong
    flagged = [
        ev.LabelIssueFlagged.FromString(x.payload)
        for x in await _events_of(qa, ev.LabelIssueFlagged)
    ]
    assert [f.issue.task_id for f in flagged] == [suspect.task_id] and flagged[
        0
    ].model == "prelabel-knn@3"
    published = await qa_events(qa, await stored_events(qa))
    assert any(e.type == ev.LabelIssueFlagged.DESCRIPTOR.full_name for e in published)

    # Routing reopens the flagged task and a fourth annotator labels it: after three consensus
    # runs and the flag on the task's stream, the label is still taken (not dead-lettered)
    # and the task is accepted again.
    from labelops.routing.v1 import events_pb2 as rev

    item = suspect.labels.item_id
    assert item
    proj.required[suspect.task_id] = 4
    await qa.routing(
        [
            proj._env(
                suspect.task_id,
                rev.TaskReopened(
                    project_id=P,
                    task_id=suspect.task_id,
                    item_id=item,
                    reason="label issue",
                    required_labels=4,
                ),
            ),
            proj.label(suspect.task_id, item, "ann-new", whole(item, truth[suspect.task_id])),
        ]
    )

    async def reaccepted() -> bool:
        return len(await _events_of(qa, ev.LabelAccepted)) == 61

    await eventually(reaccepted)


async def test_interval_agreement_on_number_answers_with_missing_data(qa):
    from labelops.labels.v1 import label_pb2 as L

    rng = np.random.default_rng(11)
    proj = Project(P)
    envs = [project_created(P, review_policy=1)]
    annotators = ["n-1", "n-2", "n-3"]
    data = np.full((3, 30), np.nan)
    for i in range(30):
        t = tid()
        envs.append(proj.task(t, f"jar-{i}", 3))
        true = float(rng.integers(5, 50))
        for k, who in enumerate(annotators):
            labels = whole(f"jar-{i}", "cat")
            if not (k == 2 and i % 4 == 0):  # n-3 skips the count on every 4th jar
                value = true + float(rng.normal(0, 3))
                labels.labels[0].answers.append(L.Answer(classification_id="count", number=value))
                data[k, i] = value
            envs.append(proj.label(t, f"jar-{i}", who, labels))
    await qa.routing(envs)

    async def all_in() -> bool:
        n = await qa.app.pool.fetchval(
            f'SELECT count(*) FROM "{qa.settings.db_schema}".labels WHERE project_id = $1', P
        )
        return n == 90

    await eventually(all_in)
    rep = (
        await qa.stub.MeasureAgreement(
            pb.MeasureAgreementRequest(
                project_id=P, classification_id="count", level=pb.MEASUREMENT_LEVEL_INTERVAL
            )
        )
    ).reports[0]
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="interval")
    assert abs(rep.krippendorff_alpha - expected) < 1e-9 and rep.krippendorff_alpha > 0.8
    assert rep.level == pb.MEASUREMENT_LEVEL_INTERVAL and rep.classification_id == "count"
    assert math.isnan(rep.fleiss_kappa)  # unequal numbers of answers per item
    await fails(
        qa.stub.MeasureAgreement(
            pb.MeasureAgreementRequest(project_id=P, level=pb.MEASUREMENT_LEVEL_INTERVAL)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )


async def test_label_issues_judge_the_reviewers_fix_not_the_consensus_it_replaced(qa):
    # Every task is reviewed; the reviewer accepts all but one, which they fix from "dog" to
    # "cat". A model sure of "cat" there agrees with the accepted label: nothing to re-label.
    # Judging the replaced consensus would send the reviewer's fix back to the annotators.
    proj = Project(P)
    envs = [project_created(P, review_policy=rpb.REVIEW_POLICY_ALL)]
    tasks = {tid(): ("cat" if k % 2 else "dog") for k in range(12)}
    for k, (t, cls) in enumerate(tasks.items()):
        envs.append(proj.task(t, f"pet-{k}", 1))
        envs.append(proj.label(t, f"pet-{k}", "ann-a", whole(f"pet-{k}", cls)))
    await qa.routing(envs)
    fixed = next(t for t, c in tasks.items() if c == "dog")
    for k, t in enumerate(tasks):
        await eventually(lambda t=t: task_state(qa, t, pb.TASK_QUALITY_STATE_IN_REVIEW))
        fix = t == fixed
        await qa.stub.SubmitReview(
            pb.SubmitReviewRequest(
                project_id=P,
                task_id=t,
                decision=(pb.REVIEW_DECISION_FIX_AND_ACCEPT if fix else pb.REVIEW_DECISION_ACCEPT),
                fixed_labels=whole(f"pet-{k}", "cat") if fix else None,
            )
        )

    def sure_of(cls: str) -> dict[str, float]:
        return {c: (0.96 if c == cls else 0.04) for c in ("cat", "dog")}

    preds = [
        pb.ItemPrediction(task_id=t, probabilities=sure_of("cat" if t == fixed else c))
        for t, c in tasks.items()
    ]
    found = await qa.stub.FindLabelIssues(
        pb.FindLabelIssuesRequest(project_id=P, predictions=preds, model="m@1")
    )
    assert found.examined == len(tasks) and list(found.issues) == []
