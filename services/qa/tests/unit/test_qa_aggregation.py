"""Classification consensus: Dawid-Skene against crowd-kit, votes, warm start, edge cases.

Crowds come from ``simulate_crowd`` (fixed seeds): imbalanced class priors, experts, ordinary
workers with uneven errors, uniform and constant spammers, and workers who systematically swap
two classes; 3-7 distinct workers per item.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from crowdkit.aggregation import DawidSkene, MajorityVote
from labelops_qa.domain.aggregation import (
    Annotations,
    Consensus,
    DSModel,
    dawid_skene,
    majority_vote,
    simulate_crowd,
    weighted_vote,
    worker_reliability,
)

SEEDS = (0, 1, 2)
SPAMMER_HEAVY = (0.1, 0.2, 0.5, 0.2)  # experts, ordinary, spammers, confusers


def frame(a: Annotations) -> pd.DataFrame:
    return pd.DataFrame({"task": a.items, "worker": a.workers, "label": a.labels})


def accuracy(labels: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean(labels == truth))


def subset(a: Annotations, keep: np.ndarray) -> Annotations:
    return Annotations(
        a.items[keep], a.workers[keep], a.labels[keep], a.n_items, a.n_workers, a.n_classes
    )


def assert_valid(c: Consensus, n_items: int, k: int) -> None:
    assert c.labels.shape == (n_items,) and c.scores.shape == (n_items,)
    assert c.posteriors.shape == (n_items, k)
    assert np.all(np.isfinite(c.posteriors)) and np.all(c.posteriors >= 0)
    np.testing.assert_allclose(c.posteriors.sum(axis=1), 1.0, atol=1e-9)
    has = c.labels >= 0
    np.testing.assert_array_equal(c.labels[has], np.argmax(c.posteriors[has], axis=1))
    np.testing.assert_allclose(c.scores[has], c.posteriors[has].max(axis=1))


# --- Dawid-Skene vs crowd-kit ------------------------------------------------------------------


@pytest.mark.parametrize("mix", [(0.2, 0.4, 0.2, 0.2), SPAMMER_HEAVY], ids=["mixed", "spammy"])
@pytest.mark.parametrize("seed", SEEDS)
def test_dawid_skene_matches_crowdkit_and_beats_votes(seed: int, mix: tuple) -> None:
    crowd = simulate_crowd(2000, 30, 5, mix=mix, seed=seed)
    a, truth = crowd.annotations, crowd.truth
    df = frame(a)
    ck = DawidSkene().fit(df)  # its defaults: n_iter=100, tol=1e-5
    ck_labels = ck.labels_.reindex(range(a.n_items)).to_numpy()
    ck_mv = MajorityVote().fit_predict(df).reindex(range(a.n_items)).to_numpy()

    ours, model = dawid_skene(a)
    assert_valid(ours, a.n_items, a.n_classes)
    assert model.converged and model.iterations <= 100
    acc, acc_ck = accuracy(ours.labels, truth), accuracy(ck_labels, truth)
    mv = majority_vote(a)
    acc_mv = accuracy(mv.labels, truth)
    assert acc >= acc_ck - 0.002, (acc, acc_ck)
    assert acc >= acc_mv, (acc, acc_mv)
    # Our majority vote is crowd-kit's wherever there is no tie (crowd-kit breaks ties by its
    # column order, we toward the lowest class code).
    top = mv.posteriors.max(axis=1, keepdims=True)
    untied = (mv.posteriors == top).sum(axis=1) == 1
    np.testing.assert_array_equal(mv.labels[untied], ck_mv[untied])
    # Same model, same fixed point: the two fits agree on nearly every item.
    assert np.mean(ours.labels == ck_labels) >= 0.995


def test_dawid_skene_recovers_worker_confusion() -> None:
    crowd = simulate_crowd(4000, 20, 4, seed=3)
    _, model = dawid_skene(crowd.annotations)
    assert model.confusion.shape == (20, 4, 4)
    np.testing.assert_allclose(model.confusion.sum(axis=2), 1.0)
    np.testing.assert_allclose(model.priors.sum(), 1.0)
    # Diagonals (per-class accuracies) within a few points of the truth for most workers.
    err = np.abs(
        np.diagonal(model.confusion, axis1=1, axis2=2)
        - np.diagonal(crowd.confusion, axis1=1, axis2=2)
    )
    assert np.median(err) < 0.05
    # Systematic confusers are decoded: their estimated swaps are large where the true ones are.
    conf = np.flatnonzero(crowd.kind == "confuser")
    true_swap = crowd.confusion[conf] > 0.3
    true_swap &= ~np.eye(4, dtype=bool)
    assert true_swap.any() and np.all(model.confusion[conf][true_swap] > 0.2)
    # Priors are imbalanced like the truth's.
    np.testing.assert_allclose(model.priors, np.bincount(crowd.truth) / 4000, atol=0.03)


def test_dawid_skene_is_deterministic_and_respects_max_iter() -> None:
    a = simulate_crowd(500, 12, 3, seed=4).annotations
    c1, m1 = dawid_skene(a)
    c2, m2 = dawid_skene(a)
    np.testing.assert_array_equal(c1.posteriors, c2.posteriors)
    np.testing.assert_array_equal(m1.confusion, m2.confusion)
    assert (m1.iterations, m1.log_likelihood) == (m2.iterations, m2.log_likelihood)
    _, m3 = dawid_skene(a, max_iter=2, tol=0.0)
    assert m3.iterations == 2 and not m3.converged


def test_dawid_skene_log_likelihood_increases() -> None:
    # EM never decreases the (penalised) likelihood; with a tiny smoothing the marginal
    # log-likelihood of successive iterations is non-decreasing up to rounding.
    a = simulate_crowd(1000, 15, 4, seed=5).annotations
    lls = [
        dawid_skene(a, max_iter=i, tol=0.0, smoothing=1e-6)[1].log_likelihood for i in (1, 2, 4, 8)
    ]
    assert np.all(np.diff(lls) >= -1e-6), lls
    assert np.isfinite(lls).all() and lls[-1] < 0


# --- warm start --------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_warm_start_from_half_the_annotations(seed: int) -> None:
    # 10k items: on much smaller crowds a model fitted on half the labels is no closer to the
    # full fit than majority vote is, and the iteration counts are a coin toss.
    crowd = simulate_crowd(10_000, 30, 5, seed=seed)
    a = crowd.annotations
    half = np.sort(np.random.default_rng(seed).permutation(a.n_annotations)[: a.n_annotations // 2])
    _, previous = dawid_skene(subset(a, half))
    cold, cold_model = dawid_skene(a)
    warm, warm_model = dawid_skene(a, init=previous)
    assert warm_model.converged and cold_model.converged
    assert warm_model.iterations < cold_model.iterations
    assert_valid(warm, a.n_items, a.n_classes)
    assert np.abs(warm.posteriors - cold.posteriors).mean() < 1e-3
    assert np.mean(warm.labels == cold.labels) >= 0.999
    assert accuracy(warm.labels, crowd.truth) == pytest.approx(
        accuracy(cold.labels, crowd.truth), abs=0.001
    )


def test_warm_start_pads_new_workers_and_classes() -> None:
    crowd = simulate_crowd(3000, 20, 4, seed=6)
    a = crowd.annotations
    # The previous fit saw only workers 0-14 and classes 0-2 (items of class 3 came later).
    old = (a.workers < 15) & (a.labels < 3) & (crowd.truth[a.items] < 3)
    prev_a = Annotations(a.items[old], a.workers[old], a.labels[old], a.n_items, 15, 3)
    _, previous = dawid_skene(prev_a)
    assert previous.confusion.shape == (15, 3, 3)
    warm, model = dawid_skene(a, init=previous)
    assert model.confusion.shape == (20, 4, 4) and model.priors.shape == (4,)
    np.testing.assert_allclose(model.confusion.sum(axis=2), 1.0)
    cold, _ = dawid_skene(a)
    assert accuracy(warm.labels, crowd.truth) >= accuracy(cold.labels, crowd.truth) - 0.005

    # A model with more workers than the annotations: the extra ones are dropped.
    few = a.workers < 10
    small = Annotations(a.items[few], a.workers[few], a.labels[few], a.n_items, 10, 4)
    _, m_small = dawid_skene(small, init=model)
    assert m_small.confusion.shape == (10, 4, 4)
    # More classes than the annotations cannot be mapped.
    with pytest.raises(ValueError, match="classes"):
        dawid_skene(
            Annotations(a.items, a.workers, np.minimum(a.labels, 2), a.n_items, 20, 3), init=model
        )


def test_init_from_posteriors() -> None:
    crowd = simulate_crowd(1000, 15, 3, seed=7)
    a = crowd.annotations
    start = np.eye(3)[crowd.truth]  # oracle posteriors: EM starts at (nearly) its fixed point
    c, m = dawid_skene(a, init=start)
    c0, m0 = dawid_skene(a)
    assert m.iterations <= m0.iterations
    assert np.mean(c.labels == c0.labels) >= 0.99
    with pytest.raises(ValueError, match="posteriors"):
        dawid_skene(a, init=np.ones((10, 3)) / 3)


# --- votes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_weighted_vote_beats_majority_on_spammer_heavy_crowd(seed: int) -> None:
    crowd = simulate_crowd(2000, 30, 5, mix=SPAMMER_HEAVY, seed=seed)
    a, truth = crowd.annotations, crowd.truth
    wv = weighted_vote(a)
    assert wv.method == "weighted_vote"
    assert_valid(wv, a.n_items, a.n_classes)
    assert accuracy(wv.labels, truth) > accuracy(majority_vote(a).labels, truth) + 0.02


def test_reliability_ranks_experts_above_spammers() -> None:
    crowd = simulate_crowd(2000, 30, 5, mix=SPAMMER_HEAVY, seed=8)
    r = worker_reliability(crowd.annotations, crowd.truth)
    assert r.shape == (30,) and np.all((r > 0) & (r < 1))
    experts, spammers = r[crowd.kind == "expert"], r[crowd.kind == "spammer"]
    assert experts.min() > spammers.max()


def test_reliability_is_laplace_smoothed_and_skips_items_without_consensus() -> None:
    a = Annotations(
        np.array([0, 1, 2, 0, 1, 2]),
        np.array([0, 0, 0, 1, 1, 1]),
        np.array([1, 0, 1, 1, 1, 0]),
        n_items=3,
        n_workers=3,
        n_classes=2,
    )
    # Item 2 has no consensus: worker 0 agrees 2/2 -> 3/4, worker 1 1/2 -> 2/4, worker 2 has
    # no labels -> 1/2.
    np.testing.assert_allclose(worker_reliability(a, np.array([1, 0, -1])), [3 / 4, 1 / 2, 1 / 2])
    np.testing.assert_allclose(worker_reliability(a, np.array([1, 0, 1])), [4 / 5, 2 / 5, 1 / 2])
    with pytest.raises(ValueError):
        worker_reliability(a, np.array([1, 0]))


def test_majority_vote_shares_and_ties_toward_lowest_code() -> None:
    a = Annotations(
        items=np.array([0, 0, 0, 1, 1, 2, 2, 2, 2]),
        workers=np.array([0, 1, 2, 0, 1, 0, 1, 2, 3]),
        labels=np.array([2, 2, 1, 2, 1, 0, 3, 3, 0]),
        n_items=4,  # item 3 has no labels
        n_workers=4,
        n_classes=4,
    )
    mv = majority_vote(a)
    assert mv.method == "majority_vote"
    np.testing.assert_array_equal(mv.labels, [2, 1, 0, -1])  # items 1 and 2 are ties
    np.testing.assert_allclose(mv.posteriors[0], [0, 1 / 3, 2 / 3, 0])
    np.testing.assert_allclose(mv.posteriors[3], [0.25] * 4)  # no votes: uniform
    np.testing.assert_allclose(mv.scores, [2 / 3, 1 / 2, 1 / 2, 0.0])
    assert_valid(mv, 4, 4)

    # Weights decide: worker 1 counts 3x, so item 1 goes to its label.
    wv = majority_vote(a, weights=np.array([1.0, 3.0, 1.0, 1.0]))
    assert wv.labels[1] == 1 and wv.posteriors[1, 1] == pytest.approx(0.75)
    # All of an item's annotators weigh 0: falls back to the plain vote instead of no label.
    zero = majority_vote(a, weights=np.array([0.0, 0.0, 1.0, 1.0]))
    assert zero.labels[1] == 1 and zero.posteriors[1, 1] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        majority_vote(a, weights=np.array([1.0, -1.0, 1.0, 1.0]))
    with pytest.raises(ValueError):
        majority_vote(a, weights=np.ones(3))


# --- edge cases --------------------------------------------------------------------------------


def test_items_without_labels_get_no_label() -> None:
    crowd = simulate_crowd(600, 10, 3, seed=9)
    a = crowd.annotations
    keep = a.items % 5 != 0  # every fifth item loses all its labels
    sparse = subset(a, keep)
    for c in (majority_vote(sparse), weighted_vote(sparse), dawid_skene(sparse)[0]):
        assert_valid(c, 600, 3)
        assert np.all(c.labels[::5] == -1) and np.all(c.scores[::5] == 0)
        assert np.all(c.labels[a.items[keep]] >= 0)
    ds, model = dawid_skene(sparse)
    np.testing.assert_allclose(ds.posteriors[::5], np.broadcast_to(model.priors, (120, 3)))


def test_single_worker_is_followed() -> None:
    labels = np.array([0, 1, 1, 2, 0, 2, 1])
    a = Annotations(np.arange(7), np.zeros(7, int), labels, 7, 1, 3)
    for c in (majority_vote(a), weighted_vote(a), dawid_skene(a)[0]):
        np.testing.assert_array_equal(c.labels, labels)
    # One item labelled by a single worker among many: still labelled.
    a = Annotations(np.array([0, 0, 0, 1]), np.array([0, 1, 2, 0]), np.array([1, 1, 0, 0]), 2, 3, 2)
    c, _ = dawid_skene(a)
    assert c.labels.tolist() == [1, 0]


def test_binary_crowd() -> None:
    crowd = simulate_crowd(2000, 15, 2, labels_per_item=(3, 5), seed=10)
    a, truth = crowd.annotations, crowd.truth
    ds, model = dawid_skene(a)
    assert_valid(ds, 2000, 2)
    assert model.confusion.shape == (15, 2, 2)
    ck = DawidSkene().fit(frame(a)).labels_.reindex(range(2000)).to_numpy()
    assert accuracy(ds.labels, truth) >= accuracy(ck, truth) - 0.002
    assert accuracy(ds.labels, truth) >= accuracy(majority_vote(a).labels, truth)


def test_no_annotations_and_single_class() -> None:
    empty = Annotations(np.array([], int), np.array([], int), np.array([], int), 3, 0, 2)
    for c in (majority_vote(empty), weighted_vote(empty), dawid_skene(empty)[0]):
        assert c.labels.tolist() == [-1, -1, -1]
        np.testing.assert_allclose(c.posteriors.sum(axis=1), 1.0)
    _, model = dawid_skene(empty)
    assert model.iterations == 0 and model.converged

    one = Annotations(np.array([0, 1]), np.array([0, 1]), np.array([0, 0]), 2, 2, 1)
    for c in (majority_vote(one), weighted_vote(one), dawid_skene(one)[0]):
        assert c.labels.tolist() == [0, 0]
        np.testing.assert_allclose(c.scores, 1.0)


def test_many_labels_on_one_item_do_not_underflow() -> None:
    # 3000 labels on item 0 drive its log-joint far below exp's range; the E-step must redo
    # that row with the exact shift instead of dividing 0 by 0.
    rng = np.random.default_rng(11)
    n = 3000
    truth = rng.integers(0, 3, 200)
    items = np.concatenate([np.zeros(n, int), np.repeat(np.arange(1, 200), 3)])
    workers = np.concatenate([rng.integers(0, 6, n), np.tile([0, 1, 2], 199)])
    noisy = rng.random(len(items)) < 0.3
    labels = np.where(noisy, rng.integers(0, 3, len(items)), truth[items])
    a = Annotations(items, workers, labels, 200, 6, 3)
    c, model = dawid_skene(a)
    assert_valid(c, 200, 3)
    assert c.labels[0] == truth[0] and np.isfinite(model.log_likelihood)


def test_duplicate_triples_count_twice() -> None:
    a = Annotations(np.array([0, 0, 0]), np.array([0, 0, 1]), np.array([1, 1, 0]), 1, 2, 2)
    assert majority_vote(a).labels.tolist() == [1]


# --- inputs ------------------------------------------------------------------------------------


def test_from_triples_codes_and_decodes() -> None:
    a, book = Annotations.from_triples(
        ["img-b", "img-a", "img-b", "img-a"],
        ["ann-2", "ann-1", "ann-1", "ann-2"],
        ["dog", "cat", "dog", "cat"],
    )
    assert (a.n_items, a.n_workers, a.n_classes) == (2, 2, 2)
    assert book.item_ids == ["img-b", "img-a"] and book.worker_ids == ["ann-2", "ann-1"]
    assert book.class_ids == ["cat", "dog"]  # sorted: independent of the read order
    assert a.items.dtype == np.int32 and a.labels.tolist() == [1, 0, 1, 0]
    mv = majority_vote(a)
    assert [book.class_ids[k] for k in mv.labels] == ["dog", "cat"]

    # Explicit classes fix the codes (and the tie order) and may include unused classes.
    a, book = Annotations.from_triples(
        ["x", "x"], ["u", "v"], ["dog", "cat"], classes=["dog", "cat", "fox"]
    )
    assert a.n_classes == 3 and book.class_ids == ["dog", "cat", "fox"]
    assert book.class_ids[majority_vote(a).labels[0]] == "dog"  # tie -> first listed class
    with pytest.raises(ValueError, match="not one of the classes"):
        Annotations.from_triples(["x"], ["u"], ["cow"], classes=["dog"])
    with pytest.raises(ValueError, match="same length"):
        Annotations.from_triples(["x"], ["u", "v"], ["dog"])
    # Ids that do not sort keep their first-appearance order.
    _, book = Annotations.from_triples([1, 2], ["u", "v"], [("b",), 3])
    assert book.class_ids == [("b",), 3]


def test_annotations_validate_codes() -> None:
    with pytest.raises(ValueError, match="items"):
        Annotations(np.array([0, 2]), np.array([0, 0]), np.array([0, 0]), 2, 1, 1)
    with pytest.raises(ValueError, match="labels"):
        Annotations(np.array([0, 1]), np.array([0, 0]), np.array([0, -1]), 2, 1, 1)
    with pytest.raises(ValueError, match="integer"):
        Annotations(np.array([0.0]), np.array([0]), np.array([0]), 1, 1, 1)
    with pytest.raises(ValueError, match="same length"):
        Annotations(np.array([0, 1]), np.array([0]), np.array([0]), 2, 1, 1)
    with pytest.raises(ValueError):
        dawid_skene(simulate_crowd(10, 3, 2, labels_per_item=(1, 2)).annotations, max_iter=0)
    with pytest.raises(ValueError):
        weighted_vote(simulate_crowd(10, 3, 2, labels_per_item=(1, 2)).annotations, iterations=0)
    assert isinstance(
        dawid_skene(simulate_crowd(10, 3, 2, labels_per_item=(1, 2)).annotations)[1], DSModel
    )
