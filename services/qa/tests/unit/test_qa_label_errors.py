"""Label-error detection: recall/precision on injected noise, agreement with cleanlab, edges.

The acceptance data: 3,000 items, 4 classes (``make_classification``), 10 % of the labels
flipped to a uniformly chosen *other* class with a fixed seed, and out-of-sample probabilities
from 5-fold ``cross_val_predict(LogisticRegression)`` on the noisy labels (what the prelabel
model would produce). cleanlab is the reference implementation; the module must not import it.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from pathlib import Path

import numpy as np
import pytest
from cleanlab.count import compute_confident_joint, estimate_latent, num_label_issues
from cleanlab.filter import find_label_issues as cl_find_label_issues
from cleanlab.rank import get_label_quality_scores
from labelops_qa.domain import label_errors
from labelops_qa.domain.label_errors import (
    FILTER_BY,
    RANK_BY,
    LabelIssue,
    NoiseEstimate,
    confident_joint,
    estimate_noise,
    find_label_issues,
)
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict

N_ITEMS = 3_000
N_CLASSES = 4
NOISE_RATE = 0.10
SEEDS = (0, 1)


@dataclasses.dataclass(frozen=True)
class NoisyData:
    true: np.ndarray
    noisy: np.ndarray
    flipped: frozenset[int]
    pred_probs: np.ndarray


def _oof_probs(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return cross_val_predict(
        LogisticRegression(max_iter=1000), x, labels, cv=5, method="predict_proba"
    )


@functools.cache
def _features(seed: int) -> tuple[np.ndarray, np.ndarray]:
    return make_classification(
        n_samples=N_ITEMS,
        n_features=20,
        n_informative=10,
        n_redundant=2,
        n_classes=N_CLASSES,
        n_clusters_per_class=1,
        class_sep=2.0,
        random_state=seed,
    )


@functools.cache
def noisy_data(seed: int) -> NoisyData:
    """The acceptance data set for ``seed`` (cached: several tests share it)."""
    x, y = _features(seed)
    rng = np.random.default_rng(seed)
    n_flip = int(NOISE_RATE * N_ITEMS)
    flipped = rng.choice(N_ITEMS, n_flip, replace=False)
    noisy = y.copy()
    # Shift by 1..K-1 so every flip really changes the label (exactly 10 % wrong).
    noisy[flipped] = (y[flipped] + rng.integers(1, N_CLASSES, n_flip)) % N_CLASSES
    return NoisyData(y, noisy, frozenset(flipped.tolist()), _oof_probs(x, noisy))


def cleanlab_ranked(labels: np.ndarray, pred_probs: np.ndarray, **kwargs: object) -> list[int]:
    """Reference flagged indices, ranked; n_jobs=1 avoids a process pool per call."""
    # Without a ranking cleanlab returns a boolean mask; ask for indices (our default rank).
    kwargs.setdefault("return_indices_ranked_by", "self_confidence")
    with warnings.catch_warnings():
        # cleanlab warns about tiny classes; the comparison, not the warning, is under test.
        warnings.simplefilter("ignore")
        ranked = cl_find_label_issues(labels, pred_probs, n_jobs=1, **kwargs)
    return [int(i) for i in ranked]


# ------------------------------------------------------------------ acceptance: injected noise


@pytest.mark.parametrize("filter_by", FILTER_BY)
@pytest.mark.parametrize("seed", SEEDS)
def test_recall_and_precision_on_injected_noise(seed: int, filter_by: str) -> None:
    data = noisy_data(seed)
    issues = find_label_issues(data.noisy, data.pred_probs, filter_by=filter_by)
    flagged = {issue.index for issue in issues}
    hits = len(flagged & data.flipped)
    recall = hits / len(data.flipped)
    precision = hits / max(1, len(flagged))
    report = (
        f"seed={seed} filter_by={filter_by}: flagged {len(flagged)}, truly flipped "
        f"{len(data.flipped)}, recall={recall:.3f}, precision={precision:.3f}"
    )
    print(report)
    assert recall >= 0.7, report
    assert precision >= 0.7, report


@pytest.mark.parametrize("seed", SEEDS)
def test_suggested_label_recovers_the_true_label(seed: int) -> None:
    data = noisy_data(seed)
    issues = find_label_issues(data.noisy, data.pred_probs)
    caught = [i for i in issues if i.index in data.flipped]
    share = np.mean([i.suggested_label == data.true[i.index] for i in caught])
    print(f"seed={seed}: suggested == true label for {share:.3f} of {len(caught)} true positives")
    assert share >= 0.9
    # The re-label task must propose a change, and the given label is the noisy one.
    assert all(i.suggested_label != i.given_label for i in issues)
    assert all(i.given_label == data.noisy[i.index] for i in issues)


@pytest.mark.parametrize("rank_by", RANK_BY)
def test_ranking_puts_likely_errors_first(rank_by: str) -> None:
    data = noisy_data(0)
    issues = find_label_issues(data.noisy, data.pred_probs, rank_by=rank_by)
    qualities = [i.quality for i in issues]
    assert qualities == sorted(qualities)
    top = np.mean([i.index in data.flipped for i in issues[:100]])
    assert top >= 0.9, f"precision of the 100 top-ranked issues {top:.2f}"


def test_issue_fields_are_the_documented_scores() -> None:
    data = noisy_data(0)
    p, labels = data.pred_probs, data.noisy
    by_sc = find_label_issues(labels, p, rank_by="self_confidence")
    by_nm = find_label_issues(labels, p, rank_by="normalized_margin")
    assert {i.index for i in by_sc} == {i.index for i in by_nm}
    cl_nm = get_label_quality_scores(labels, p, method="normalized_margin")
    for issue in by_sc:
        row = p[issue.index]
        others = np.delete(row, issue.given_label)
        assert issue.self_confidence == pytest.approx(row[issue.given_label], abs=1e-15)
        assert issue.margin == pytest.approx(row[issue.given_label] - others.max(), abs=1e-15)
        assert issue.quality == issue.self_confidence
        assert issue.suggested_label == int(
            np.argmax(np.where(np.arange(4) == issue.given_label, -1, row))
        )
        assert issue.margin < 1e-6  # flagged items never have the given label as argmax
    for issue in by_nm:
        assert issue.quality == pytest.approx((issue.margin + 1) / 2, abs=1e-15)
        assert issue.quality == pytest.approx(cl_nm[issue.index], abs=1e-12)
    with pytest.raises(dataclasses.FrozenInstanceError):
        by_sc[0].index = 1  # type: ignore[misc]


def test_noise_estimate_on_injected_noise() -> None:
    data = noisy_data(0)
    est = estimate_noise(data.noisy, data.pred_probs)
    assert isinstance(est, NoiseEstimate)
    assert est.estimated_error_rate == pytest.approx(NOISE_RATE, abs=0.03)
    np.testing.assert_allclose(est.noise_matrix.sum(axis=0), 1.0, atol=1e-12)
    np.testing.assert_allclose(est.inverse_noise_matrix.sum(axis=0), 1.0, atol=1e-12)
    # Uniform 10 % flips: P(given = true | true) ~ 0.9 for every class.
    np.testing.assert_allclose(np.diag(est.noise_matrix), 0.9, atol=0.06)


# ------------------------------------------------------------------- agreement with cleanlab


@pytest.mark.parametrize("rank_by", RANK_BY)
@pytest.mark.parametrize("filter_by", FILTER_BY)
@pytest.mark.parametrize("seed", SEEDS)
def test_same_ranked_issues_as_cleanlab(seed: int, filter_by: str, rank_by: str) -> None:
    data = noisy_data(seed)
    ours = [
        i.index
        for i in find_label_issues(
            data.noisy, data.pred_probs, filter_by=filter_by, rank_by=rank_by
        )
    ]
    ref = cleanlab_ranked(
        data.noisy, data.pred_probs, filter_by=filter_by, return_indices_ranked_by=rank_by
    )
    # Exact: the same set *and* order (no exact score ties in continuous probabilities).
    assert ours == ref


@pytest.mark.parametrize("calibrate", [True, False])
@pytest.mark.parametrize("seed", SEEDS)
def test_confident_joint_equals_cleanlab(seed: int, calibrate: bool) -> None:
    data = noisy_data(seed)
    ours = confident_joint(data.noisy, data.pred_probs, calibrate=calibrate)
    ref = compute_confident_joint(data.noisy, data.pred_probs, calibrate=calibrate)
    np.testing.assert_array_equal(ours, ref)
    assert ours.shape == (N_CLASSES, N_CLASSES)
    if calibrate:
        np.testing.assert_array_equal(ours.sum(axis=1), np.bincount(data.noisy))


@pytest.mark.parametrize("seed", SEEDS)
def test_noise_estimate_equals_cleanlab(seed: int) -> None:
    data = noisy_data(seed)
    est = estimate_noise(data.noisy, data.pred_probs)
    cj = compute_confident_joint(data.noisy, data.pred_probs)
    _, noise, inverse = estimate_latent(cj, data.noisy)
    np.testing.assert_allclose(est.noise_matrix, noise, rtol=0, atol=1e-12)
    np.testing.assert_allclose(est.inverse_noise_matrix, inverse, rtol=0, atol=1e-12)
    n_ref = num_label_issues(
        data.noisy, data.pred_probs, estimation_method="off_diagonal_calibrated"
    )
    assert round(est.estimated_error_rate * N_ITEMS) == n_ref


def _random_case(seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Adversarial inputs: few/many classes, tiny classes, a missing class, exact ties, float32."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 9))
    n = int(rng.integers(2 * k, 400))
    probs = rng.dirichlet(np.full(k, rng.uniform(0.1, 2.0)), n)
    if seed % 3 == 0:
        # One-decimal probabilities: many exact ties in thresholds, margins and .5 roundings.
        probs = np.round(probs, 1)
        probs[:, -1] = np.clip(1.0 - probs[:, :-1].sum(axis=1), 0.0, None)
        probs /= probs.sum(axis=1, keepdims=True)
    labels = probs.argmax(axis=1) if seed % 2 else rng.integers(0, k, n)
    labels = np.where(rng.random(n) < 0.2, rng.integers(0, k, n), labels)
    if seed % 5 == 0 and k > 2:
        labels[labels == k - 1] = 0  # a class present in pred_probs but never given
    if seed % 7 == 0:
        probs = probs.astype(np.float32)
    if np.unique(labels).size < 2:
        labels[0] = 1 - labels[0]
    return labels, probs, int(rng.integers(0, 6))


@pytest.mark.parametrize("seed", range(48))
def test_randomised_inputs_agree_with_cleanlab(seed: int) -> None:
    labels, probs, min_examples = _random_case(seed)
    for calibrate in (True, False):
        np.testing.assert_array_equal(
            confident_joint(labels, probs, calibrate=calibrate),
            compute_confident_joint(labels, probs, calibrate=calibrate),
        )
    for filter_by in FILTER_BY:
        ours = find_label_issues(
            labels, probs, filter_by=filter_by, min_examples_per_class=min_examples
        )
        ref = cleanlab_ranked(
            labels,
            probs,
            filter_by=filter_by,
            min_examples_per_class=min_examples,
            return_indices_ranked_by="self_confidence",
        )
        assert {i.index for i in ours} == set(ref), filter_by
        # Order may differ only inside groups of exactly equal scores (stable vs quicksort).
        scores = probs[np.arange(labels.size), labels]
        np.testing.assert_array_equal(scores[[i.index for i in ours]], scores[ref])


# ------------------------------------------------------------------------------- edge cases


@pytest.mark.parametrize("seed", SEEDS)
def test_clean_labels_give_few_issues(seed: int) -> None:
    x, y = _features(seed)
    probs = _oof_probs(x, y)
    issues = find_label_issues(y, probs)
    model_errors = int((probs.argmax(axis=1) != y).sum())
    print(f"seed={seed}: {len(issues)} issues on clean labels ({model_errors} model errors)")
    # Only items the model itself misclassifies can be flagged, and few of them are.
    assert len(issues) <= min(model_errors, 0.02 * N_ITEMS)
    assert estimate_noise(y, probs).estimated_error_rate < 0.03


def test_confident_correct_predictions_give_no_issues() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 300)
    probs = np.full((300, 3), 0.05)
    probs[np.arange(300), labels] = 0.9
    for filter_by in FILTER_BY:
        assert find_label_issues(labels, probs, filter_by=filter_by) == []
    np.testing.assert_array_equal(confident_joint(labels, probs), np.diag(np.bincount(labels)))
    assert estimate_noise(labels, probs).estimated_error_rate == 0.0


def _with_rare_class(n_rare: int) -> tuple[np.ndarray, np.ndarray]:
    """Clear 3-class data plus ``n_rare`` items given class 3.

    All but the last of them look like class 0 to the model (mislabelled); with ``n_rare >= 2``
    the last is a genuine, confidently predicted class-3 item.
    """
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 3, 600)
    probs = np.full((600, 4), 0.02)
    probs[np.arange(600), labels] = 0.94
    rare = rng.choice(600, n_rare, replace=False)
    labels[rare] = 3
    probs[rare] = [0.97, 0.01, 0.01, 0.01]
    if n_rare >= 2:
        probs[rare[-1]] = [0.1, 0.1, 0.1, 0.7]
    return labels, probs


def test_class_with_very_few_examples() -> None:
    labels, probs = _with_rare_class(3)
    mislabelled = set(np.flatnonzero(labels == 3)[probs[labels == 3, 0] > 0.9].tolist())
    assert len(mislabelled) == 2
    for filter_by in FILTER_BY:
        ours = {i.index for i in find_label_issues(labels, probs, filter_by=filter_by)}
        assert ours == set(cleanlab_ranked(labels, probs, filter_by=filter_by)), filter_by
        assert ours == mislabelled, filter_by
    # min_examples_per_class protects a class that small from being pruned at all.
    kept = find_label_issues(labels, probs, min_examples_per_class=3)
    assert kept == []
    assert cleanlab_ranked(labels, probs, min_examples_per_class=3) == []
    np.testing.assert_array_equal(
        confident_joint(labels, probs), compute_confident_joint(labels, probs)
    )


def test_single_example_class_and_missing_class() -> None:
    labels, probs = _with_rare_class(1)  # class 3 given once, to an item that looks like 0
    single = int(np.flatnonzero(labels == 3)[0])
    for filter_by in ("prune_by_noise_rate", "prune_by_class", "both"):
        # A class of one is never pruned (cleanlab skips 1-item classes the same way) ...
        issues = find_label_issues(labels, probs, filter_by=filter_by, min_examples_per_class=0)
        assert single not in {i.index for i in issues}, filter_by
        assert cleanlab_ranked(labels, probs, filter_by=filter_by, min_examples_per_class=0) == []
    # ... but confident_learning ignores class sizes and reports it.
    (issue,) = find_label_issues(labels, probs, filter_by="confident_learning")
    assert (issue.index, issue.given_label, issue.suggested_label) == (single, 3, 0)
    # Class 3 never given at all: its threshold is unreachable, its row calibrates to 0.
    labels[single] = 0
    cj = confident_joint(labels, probs)
    np.testing.assert_array_equal(cj, compute_confident_joint(labels, probs))
    assert cj[3].sum() == 0 and cj[:, 3].sum() == 0
    assert find_label_issues(labels, probs) == []


def test_inputs_are_not_mutated_and_lists_are_accepted() -> None:
    data = noisy_data(0)
    labels, probs = data.noisy.copy(), data.pred_probs.copy()
    first = find_label_issues(labels, probs, filter_by="both")
    np.testing.assert_array_equal(labels, data.noisy)
    np.testing.assert_array_equal(probs, data.pred_probs)
    again = find_label_issues(labels[:500].tolist(), probs[:500].tolist(), filter_by="both")
    assert again == find_label_issues(labels[:500], probs[:500], filter_by="both")
    assert all(isinstance(i, LabelIssue) for i in first)
    # Integral float labels (e.g. from a DataFrame) are accepted.
    assert find_label_issues(labels.astype(float), probs) == find_label_issues(labels, probs)


GOOD_PROBS = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.5, 0.25, 0.25]])
GOOD_LABELS = np.array([0, 1, 2, 0])


@pytest.mark.parametrize(
    ("labels", "probs", "match"),
    [
        (GOOD_LABELS, GOOD_PROBS[0], "2-D"),
        (GOOD_LABELS, GOOD_PROBS[:, :1] / GOOD_PROBS[:, :1], "at least 2 classes"),
        (GOOD_LABELS[:0], GOOD_PROBS[:0], "no rows"),
        (GOOD_LABELS[:3], GOOD_PROBS, "4 rows"),
        (GOOD_LABELS[:, None], GOOD_PROBS, "1-D"),
        (GOOD_LABELS, GOOD_PROBS * 1.01, "sum to 1"),
        (
            GOOD_LABELS,
            GOOD_PROBS + np.array([[-0.8, 0.4, 0.4], [0, 0, 0], [0, 0, 0], [0, 0, 0]]),
            r"\[0, 1\]",
        ),
        (GOOD_LABELS, np.where(GOOD_PROBS == 0.8, np.nan, GOOD_PROBS), "NaN"),
        (GOOD_LABELS, GOOD_PROBS.astype(str), "real numbers"),
        (np.array([0, 1, 3, 0]), GOOD_PROBS, r"\[0, 2\]"),
        (np.array([0, -1, 2, 0]), GOOD_PROBS, r"\[0, 2\]"),
        (np.array([0, 1.5, 2, 0]), GOOD_PROBS, "non-integral"),
        (np.array(["a", "b", "c", "a"]), GOOD_PROBS, "integer class indices"),
        (np.array([True, False, True, True]), GOOD_PROBS, "integer class indices"),
    ],
)
def test_invalid_inputs_raise(labels: np.ndarray, probs: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        find_label_issues(labels, probs)
    with pytest.raises(ValueError, match=match):
        confident_joint(labels, probs)
    with pytest.raises(ValueError, match=match):
        estimate_noise(labels, probs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"filter_by": "predicted_neq_given"}, "filter_by"),
        ({"rank_by": "entropy"}, "rank_by"),
        ({"min_examples_per_class": -1}, ">= 0"),
        ({"min_examples_per_class": 1.5}, "int"),
    ],
)
def test_invalid_options_raise(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        find_label_issues(GOOD_LABELS, GOOD_PROBS, **kwargs)  # type: ignore[arg-type]


def test_small_float_error_in_row_sums_is_tolerated() -> None:
    probs = GOOD_PROBS + np.array([5e-4, 0.0, 0.0])
    assert isinstance(find_label_issues(GOOD_LABELS, probs), list)


def test_module_does_not_import_cleanlab() -> None:
    source = Path(label_errors.__file__).read_text(encoding="utf-8")
    assert "import cleanlab" not in source and "from cleanlab" not in source
