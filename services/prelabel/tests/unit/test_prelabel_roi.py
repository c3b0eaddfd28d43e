"""Pre-label ROI per class: outcome classification, statistics, the on / off switch.

The acceptance criterion is ``test_switch_turns_off_only_the_class_whose_corrections_are_slower``:
in a seeded simulation the ROI switch turns pre-labeling off for the one class whose corrections
are slower than labeling from scratch and leaves it on for the others.
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from labelops_prelabel.domain.roi import (
    INSUFFICIENT_EVIDENCE,
    Observation,
    Outcome,
    RoiPolicy,
    RoiTracker,
    SimpleLabel,
    class_roi,
    decide,
    outcome_of,
    roi_by_class,
)

A, E, R = Outcome.ACCEPTED, Outcome.EDITED, Outcome.REPLACED

# Seconds per outcome (median of a lognormal) and outcome probabilities of a model per class.
GOOD_MODEL = {A: (0.80, 4.0), E: (0.15, 9.0), R: (0.05, 14.0)}
BAD_MODEL = {A: (0.15, 4.0), E: (0.35, 14.0), R: (0.50, 18.0)}


def simulate(
    class_id: str,
    model: dict[Outcome, tuple[float, float]],
    scratch_s: float,
    n: int,
    rng: np.random.Generator,
    sigma: float = 0.35,
) -> list[Observation]:
    """``n`` pre-labeled and ``n`` scratch observations, interleaved as they would arrive."""
    outcomes = list(model)
    probs = [model[o][0] for o in outcomes]
    picks = rng.choice(len(outcomes), size=n, p=probs)
    pre = [
        Observation(
            class_id, True, outcomes[i], model[outcomes[i]][1] * float(rng.lognormal(0, sigma))
        )
        for i in picks
    ]
    scratch = [
        Observation(class_id, False, None, scratch_s * float(rng.lognormal(0, sigma)))
        for _ in range(n)
    ]
    return [o for pair in zip(pre, scratch, strict=True) for o in pair]


def constant(class_id: str, outcome: Outcome | None, seconds: float, n: int) -> list[Observation]:
    return [Observation(class_id, outcome is not None, outcome, seconds) for _ in range(n)]


# --- outcome classification --------------------------------------------------------------------

BOX = (10.0, 20.0, 100.0, 50.0)


@pytest.mark.parametrize(
    ("pre", "final", "expected"),
    [
        (SimpleLabel("car", BOX), SimpleLabel("car", BOX), A),
        (SimpleLabel("car", BOX), SimpleLabel("car", (11.0, 20.0, 100.0, 50.0)), A),  # IoU .98
        (SimpleLabel("car", BOX), SimpleLabel("car", (30.0, 20.0, 100.0, 50.0)), E),  # IoU .67
        (SimpleLabel("car", BOX), SimpleLabel("car", (80.0, 20.0, 100.0, 50.0)), R),  # IoU .18
        (SimpleLabel("car", BOX), SimpleLabel("truck", BOX), E),  # class fixed, box kept
        (SimpleLabel("car", BOX), SimpleLabel("truck", (30.0, 20.0, 100.0, 50.0)), R),
        (SimpleLabel("car", BOX), SimpleLabel("car", (500.0, 500.0, 10.0, 10.0)), R),  # disjoint
        (SimpleLabel("car", BOX), None, R),  # pre-label deleted
        (SimpleLabel("car", BOX), SimpleLabel("car"), R),  # box vs whole-item
        (SimpleLabel("cat"), SimpleLabel("cat"), A),  # whole-item: class only
        (SimpleLabel("cat"), SimpleLabel("dog"), R),
        (SimpleLabel("p", (5.0, 5.0, 0.0, 0.0)), SimpleLabel("p", (5.0, 5.0, 0.0, 0.0)), A),
    ],
)
def test_outcome_of(pre: SimpleLabel, final: SimpleLabel | None, expected: Outcome) -> None:
    assert outcome_of(pre, final) is expected


def test_outcome_thresholds_are_configurable_and_validated() -> None:
    moved = SimpleLabel("car", (30.0, 20.0, 100.0, 50.0))  # IoU 2/3 with BOX
    assert outcome_of(SimpleLabel("car", BOX), moved, iou_accept=0.6) is A
    assert outcome_of(SimpleLabel("car", BOX), moved, iou_edit=0.7) is R
    with pytest.raises(ValueError):
        outcome_of(SimpleLabel("car", BOX), moved, iou_accept=0.4, iou_edit=0.5)
    with pytest.raises(ValueError):
        SimpleLabel("car", (0.0, 0.0, -1.0, 5.0))
    with pytest.raises(ValueError):
        SimpleLabel("car", (0.0, float("nan"), 1.0, 5.0))


def test_observation_validation() -> None:
    with pytest.raises(ValueError):
        Observation("car", True, None, 3.0)
    with pytest.raises(ValueError):
        Observation("car", False, A, 3.0)
    with pytest.raises(ValueError):
        Observation("car", False, None, -1.0)
    with pytest.raises(ValueError):
        Observation("car", False, None, float("inf"))
    with pytest.raises(ValueError):
        Observation("", False, None, 1.0)


# --- statistics --------------------------------------------------------------------------------


def test_class_roi_counts_rates_and_medians() -> None:
    obs = [
        *constant("car", A, 4.0, 6),
        *constant("car", E, 10.0, 3),
        *constant("car", R, 20.0, 1),
        *constant("car", None, 12.0, 5),
    ]
    s = class_roi("car", obs)
    assert (s.n_prelabeled, s.n_scratch) == (10, 5)
    assert (s.accepted, s.edited, s.replaced) == (6, 3, 1)
    assert s.acceptance_rate == pytest.approx(0.6)
    assert s.median_prelabeled_s == 4.0
    assert s.mean_prelabeled_s == pytest.approx((24 + 30 + 20) / 10)
    assert s.median_scratch_s == s.mean_scratch_s == 12.0
    assert s.median_by_outcome_s == {"ACCEPTED": 4.0, "EDITED": 10.0, "REPLACED": 20.0}
    assert s.saving_s == 8.0
    assert s.saving_low_s is not None and s.saving_high_s is not None
    assert s.saving_low_s <= s.saving_s <= s.saving_high_s
    json.dumps(s.evidence())  # what the event carries must serialize


def test_class_roi_one_side_empty_and_wrong_class() -> None:
    s = class_roi("car", constant("car", None, 5.0, 3))
    assert s.n_prelabeled == 0 and s.acceptance_rate is None and s.median_prelabeled_s is None
    assert s.saving_s is None and s.saving_low_s is None
    with pytest.raises(ValueError):
        class_roi("car", constant("bus", None, 5.0, 3))
    assert list(roi_by_class([*constant("b", A, 1, 2), *constant("a", None, 1, 2)])) == ["a", "b"]


def test_statistics_are_deterministic_and_order_independent() -> None:
    obs = simulate("car", GOOD_MODEL, 12.0, 200, np.random.default_rng(3))
    shuffled = list(obs)
    random.Random(0).shuffle(shuffled)
    assert class_roi("car", obs) == class_roi("car", obs) == class_roi("car", shuffled)
    a = RoiTracker(window=500)
    b = RoiTracker(window=500)
    a.observe_many(obs)
    b.observe_many(shuffled)
    assert a.evaluate() == b.evaluate() == []
    assert a.decision("car") == b.decision("car")


# --- the switch --------------------------------------------------------------------------------


def test_switch_turns_off_only_the_class_whose_corrections_are_slower() -> None:
    """Acceptance: pre-labels slower than scratch for one class -> off there, on elsewhere."""
    rng = np.random.default_rng(8)
    tracker = RoiTracker()
    tracker.observe_many(simulate("car", GOOD_MODEL, 12.0, 300, rng))
    tracker.observe_many(simulate("person", GOOD_MODEL, 12.0, 300, rng))
    tracker.observe_many(simulate("bicycle", BAD_MODEL, 10.0, 300, rng))

    bike = tracker.stats("bicycle")
    assert bike.median_prelabeled_s is not None and bike.median_scratch_s is not None
    assert bike.median_prelabeled_s > 13.0 and bike.median_scratch_s < 11.0  # ~15 s vs ~10 s
    car = tracker.stats("car")
    assert car.median_prelabeled_s is not None and car.median_prelabeled_s < 6.0

    decisions = tracker.evaluate()
    assert [(d.class_id, d.enabled, d.changed) for d in decisions] == [("bicycle", False, True)]
    assert tracker.is_enabled("car") and tracker.is_enabled("person")
    assert not tracker.is_enabled("bicycle")

    ev = decisions[0].evidence
    assert ev["n_prelabeled"] == ev["n_scratch"] == 300
    assert ev["accepted"] + ev["edited"] + ev["replaced"] == 300
    assert ev["acceptance_rate"] < 0.3
    assert ev["saving_high_s"] < 0.0 < ev["median_prelabeled_s"] - ev["median_scratch_s"]
    assert ev["previously_enabled"] is True
    assert "cost more than they save" in decisions[0].reason
    json.dumps(ev)

    # Nothing new: no class is re-evaluated; an explicit re-evaluation changes nothing either.
    assert tracker.evaluate() == []
    assert tracker.evaluate(tracker.classes()) == []


def test_switches_back_on_when_the_model_improves_but_not_on_a_few_lucky_items() -> None:
    rng = np.random.default_rng(11)
    tracker = RoiTracker(window=200)
    tracker.observe_many(simulate("bicycle", BAD_MODEL, 10.0, 200, rng))
    assert [d.enabled for d in tracker.evaluate()] == [False]

    # A few lucky fast pre-labels (say, from a probe share) do not switch it on again.
    tracker.observe_many(constant("bicycle", A, 2.0, 10))
    assert tracker.evaluate() == []
    assert not tracker.is_enabled("bicycle")

    # A better model: its pre-labels push the bad ones out of the rolling window.
    tracker.observe_many(simulate("bicycle", GOOD_MODEL, 10.0, 200, rng))
    decisions = tracker.evaluate()
    assert [(d.class_id, d.enabled) for d in decisions] == [("bicycle", True)]
    assert decisions[0].evidence["saving_low_s"] > RoiPolicy().hysteresis_s
    assert "save time again" in decisions[0].reason
    assert tracker.is_enabled("bicycle")


def test_forget_prelabeled_after_a_new_model_version() -> None:
    rng = np.random.default_rng(12)
    tracker = RoiTracker()
    tracker.observe_many(simulate("bicycle", BAD_MODEL, 10.0, 300, rng))
    assert [d.enabled for d in tracker.evaluate()] == [False]
    tracker.forget_prelabeled("bicycle")
    assert tracker.evaluate() == []  # no pre-labeled evidence at all now: keep it off
    assert tracker.decision("bicycle").reason == INSUFFICIENT_EVIDENCE
    tracker.observe_many(o for o in simulate("bicycle", GOOD_MODEL, 10.0, 30, rng) if o.prelabeled)
    assert [d.enabled for d in tracker.evaluate()] == [True]


def test_hysteresis_holds_a_marginal_saving_in_either_state() -> None:
    """Pre-labels credibly ~0.5 s faster: stays on when on, stays off when off (no flapping)."""
    rng = np.random.default_rng(5)
    obs = [
        *(Observation("car", True, E, 9.5 * float(x)) for x in rng.lognormal(0, 0.1, 500)),
        *(Observation("car", False, None, 10.0 * float(x)) for x in rng.lognormal(0, 0.1, 500)),
    ]
    s = class_roi("car", obs)
    assert s.saving_low_s is not None and 0.0 < s.saving_low_s < 1.0

    assert decide(s, True).enabled is True
    off = decide(s, False)
    assert off.enabled is False and not off.changed
    assert "hysteresis" in off.reason
    # Without hysteresis the same evidence would switch it on: the margin is what holds it.
    assert decide(s, False, RoiPolicy(hysteresis_s=0.0)).enabled is True
    # And a higher minimum saving switches it off (credibly below 2 s saved per item).
    assert decide(s, True, RoiPolicy(min_saving_s=2.0)).enabled is False


def test_a_handful_of_slow_items_does_not_flip_the_switch() -> None:
    rng = np.random.default_rng(9)
    obs = simulate("car", GOOD_MODEL, 12.0, 25, rng)
    obs += constant("car", R, 600.0, 5)  # five tasks left open for ten minutes
    s = class_roi("car", obs)
    assert s.mean_prelabeled_s is not None and s.mean_scratch_s is not None
    assert s.mean_prelabeled_s > s.mean_scratch_s  # the mean alone would say "slower"
    d = decide(s, True)
    assert d.enabled and not d.changed


def test_insufficient_samples_never_decide() -> None:
    policy = RoiPolicy(min_samples_each=20)
    few_pre = [*constant("bike", R, 60.0, 19), *constant("bike", None, 5.0, 400)]
    few_scratch = [*constant("bike", R, 60.0, 400), *constant("bike", None, 5.0, 19)]
    for obs in (few_pre, few_scratch, constant("bike", None, 5.0, 400)):
        for state in (True, False):
            d = decide(class_roi("bike", obs), state, policy)
            assert d.enabled is state and not d.changed
            assert d.reason == INSUFFICIENT_EVIDENCE
    tracker = RoiTracker(policy)
    tracker.observe_many(few_pre)
    assert tracker.evaluate() == [] and tracker.is_enabled("bike")
    tracker.observe(Observation("bike", True, R, 60.0))  # the 20th: now there is evidence
    assert [(d.class_id, d.enabled) for d in tracker.evaluate()] == [("bike", False)]


def test_tracker_window_replay_and_validation() -> None:
    tracker = RoiTracker(window=3, enabled={"bus": False}, enabled_by_default=True)
    assert not tracker.is_enabled("bus") and tracker.is_enabled("never-seen")
    tracker.observe_many(constant("car", None, float(i), 1)[0] for i in range(5))
    assert tracker.stats("car").n_scratch == 3  # rolling window per side
    assert tracker.stats("car").median_scratch_s == 3.0  # the last three: 2, 3, 4
    tracker.set_enabled("car", False)  # replaying a PreLabelingDisabled event
    assert not tracker.is_enabled("car")
    assert tracker.classes() == ["bus", "car"]
    with pytest.raises(ValueError):
        RoiTracker(window=0)
    with pytest.raises(ValueError):
        RoiPolicy(min_samples_each=1)
    with pytest.raises(ValueError):
        RoiPolicy(hysteresis_s=-1.0)
    with pytest.raises(ValueError):
        RoiPolicy(confidence=0.4)
