"""A scoring round's priorities and events, and the per-class ROI switch as the service runs
it — given rows / events → decision / events, without Postgres or Kafka."""

from __future__ import annotations

import itertools

import numpy as np
from labelops.labels.v1 import label_pb2 as L
from labelops.prelabel.v1 import events_pb2 as ev
from labelops.prelabel.v1 import prelabel_pb2 as pb
from labelops.routing.v1 import events_pb2 as rev
from labelops.routing.v1 import workforce_pb2 as wpb
from labelops_bus.dispatch import handled_events
from labelops_prelabel.domain import scoring, switches
from labelops_prelabel.domain.roi import INSUFFICIENT_EVIDENCE, Observation, Outcome, RoiPolicy
from labelops_prelabel.entrypoints.consumers import PrelabelConsumers

POLICY = RoiPolicy(min_samples_each=5, n_boot=200)

# --- scoring -----------------------------------------------------------------------------------


def test_tasks_the_model_cannot_score_count_as_uniform() -> None:
    probs = {"i1": {"a": 0.9, "b": 0.1}}
    P = scoring.probability_matrix(["i1", "i2"], probs, ("a", "b"))
    assert P.tolist() == [[0.9, 0.1], [0.5, 0.5]]
    assert scoring.probability_matrix(["i1"], {}, None).tolist() == [[0.5, 0.5]]  # no model


def test_labeled_items_anchor_k_center_only_in_the_same_dimension() -> None:
    v = [np.ones(3, dtype="<f4"), np.zeros(3, dtype="<f4")]
    anchors = scoring.anchors_matrix(v, 3)
    assert anchors is not None and anchors.shape == (2, 3) and anchors.dtype == np.float64
    assert scoring.anchors_matrix(v, 4) is None and scoring.anchors_matrix([], 3) is None


def test_the_batch_ranks_above_every_other_task_in_pick_order() -> None:
    tasks = [(f"t{i}", f"i{i}") for i in range(5)]
    unc = np.array([0.9, 0.1, 0.5, 0.3, 0.7])
    chosen = np.array([3, 1])  # picked for diversity, not uncertainty
    ordered = scoring.ranked(tasks, chosen, unc, 2, [True, True, True, True, False])
    assert [p.task_id for p in ordered] == ["t3", "t1", "t0", "t4", "t2"]
    assert all(a.priority >= b.priority for a, b in itertools.pairwise(ordered))
    assert next(p for p in ordered if p.task_id == "t4").uncertainty == 0.0  # not scored


def test_select_picks_k_distinct_tasks() -> None:
    rng = np.random.default_rng(1)
    P = rng.dirichlet([1, 1, 1], 50)
    chosen, unc = scoring.select(P, rng.normal(size=(50, 4)), 5, "entropy", "k_center", None)
    assert len(set(chosen.tolist())) == 5 and unc.shape == (50,)


def test_a_round_is_published_in_events_of_at_most_5000_tasks() -> None:
    ordered = [pb.TaskPriority(task_id=f"t{i}", priority=1) for i in range(5001)]
    events = scoring.scored_events("p", "m1", "v1", "margin", "cluster", ordered)
    assert [len(e.priorities) for e in events] == [5000, 1]
    assert events[0].strategy == pb.SCORE_STRATEGY_MARGIN
    assert events[0].diversity == pb.DIVERSITY_CLUSTER_BALANCED
    assert scoring.scored_events("p", "", "", "entropy", "k_center", []) == []


# --- ROI evidence ------------------------------------------------------------------------------


def submitted(outcome: int, ms: int = 4000, cls: str = "cat") -> rev.LabelSubmitted:
    labels = L.ItemLabels(labels=[L.Label(label_id="l", class_id=cls, whole_item=L.WholeItem())])
    return rev.LabelSubmitted(
        project_id="p", task_id="t", labels=labels, time_spent_ms=ms, prelabel_outcome=outcome
    )


def test_a_submitted_label_is_one_observation_of_its_class() -> None:
    o = switches.observation_of(submitted(wpb.PRELABEL_OUTCOME_EDITED, 2500))
    assert o == Observation("cat", True, Outcome.EDITED, 2.5)
    scratch = switches.observation_of(submitted(wpb.PRELABEL_OUTCOME_NONE))
    assert scratch == Observation("cat", False, None, 4.0)


def test_labels_that_say_nothing_about_roi_are_not_observed() -> None:
    assert switches.observation_of(submitted(wpb.PRELABEL_OUTCOME_UNSPECIFIED)) is None
    assert switches.observation_of(submitted(wpb.PRELABEL_OUTCOME_NONE, ms=-1)) is None
    assert switches.observation_of(submitted(wpb.PRELABEL_OUTCOME_NONE, cls="")) is None


def window(prelabeled_s: float, scratch_s: float, n: int = 10) -> list[Observation]:
    rng = np.random.default_rng(0)
    out = [Observation("cat", True, Outcome.EDITED, prelabeled_s + rng.random()) for _ in range(n)]
    out += [Observation("cat", False, None, scratch_s + rng.random()) for _ in range(n)]
    return out


def test_slower_pre_labels_switch_the_class_off_with_the_evidence() -> None:
    stats = switches.roi_of("cat", window(20.0, 5.0), POLICY)
    d = switches.evaluation("p", stats, True, POLICY)
    assert (d.enabled, d.changed) == (False, True)
    assert isinstance(d.event, ev.PreLabelingDisabled)
    assert d.event.reason == d.reason and d.event.switched_by == ""
    assert d.event.evidence.prelabeled == 10 and not d.event.evidence.enabled
    assert switches.project_stream("p") == "projects/p/prelabeling"


def test_too_little_evidence_changes_nothing_and_publishes_nothing() -> None:
    stats = switches.roi_of("cat", window(20.0, 5.0, n=3), POLICY)
    d = switches.evaluation("p", stats, True, POLICY)
    assert (d.enabled, d.changed, d.reason, d.event) == (True, False, INSUFFICIENT_EVIDENCE, None)


def test_re_evaluation_runs_every_n_observations() -> None:
    assert not switches.evaluation_due(4, 5) and switches.evaluation_due(5, 5)


def test_an_operator_switch_says_who_and_carries_the_evidence() -> None:
    stats = switches.roi_of("cat", window(5.0, 5.0), POLICY)
    reason = switches.operator_reason("", True, "mia")
    assert reason == "switched on by mia"
    assert switches.operator_reason("model v2 is better", True, "mia") == "model v2 is better"
    evidence, e = switches.operator_switch("p", stats, True, reason, "mia")
    assert isinstance(e, ev.PreLabelingEnabled)
    assert (e.class_id, e.reason, e.switched_by) == ("cat", reason, "mia")
    assert e.evidence == evidence and evidence.enabled and evidence.reason == reason


def test_get_class_roi_shows_the_stored_reason_else_what_the_policy_says_now() -> None:
    stats = switches.roi_of("cat", window(5.0, 5.0, n=2), POLICY)
    assert switches.class_view(stats, False, "switched off by mia", POLICY).reason == (
        "switched off by mia"
    )
    assert switches.class_view(stats, True, "", POLICY).reason == INSUFFICIENT_EVIDENCE


# --- the dispatch table ------------------------------------------------------------------------


def test_the_consumers_keep_their_names_and_read_one_producer_each() -> None:
    rows = {(r.consumer, r.type_name) for r in handled_events(PrelabelConsumers)}
    assert rows == {
        ("routing-tasks", "labelops.routing.v1.TaskCreated"),
        ("routing-tasks", "labelops.routing.v1.TaskCanceled"),
        ("routing-tasks", "labelops.routing.v1.TaskReopened"),
        ("routing-tasks", "labelops.routing.v1.LabelSubmitted"),
        ("qa-labels", "labelops.qa.v1.LabelAccepted"),
        ("curation-embeddings", "labelops.curation.v1.ItemEmbedded"),
    }
