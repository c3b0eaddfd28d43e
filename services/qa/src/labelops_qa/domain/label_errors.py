"""Label-error detection by confident learning (Northcutt et al., JAIR 2021). Pure numpy.

Input: the given (possibly wrong) label of every item and *out-of-sample* class probabilities
for it (the prelabel model's cross-validated ``predict_proba``: in-sample probabilities have
memorised the wrong labels and hide them). Output: ``LabelIssue`` records, ranked most likely
error first, each of which becomes a ``LabelIssueFlagged`` event and a re-label task.

Public API
----------
- ``confident_joint(labels, pred_probs, calibrate=True)`` -> K x K counts ``C[given, true]``.
- ``find_label_issues(labels, pred_probs, filter_by=..., rank_by=..., min_examples_per_class=1)``
  -> ``list[LabelIssue]``.
- ``estimate_noise(labels, pred_probs)`` -> ``NoiseEstimate`` (noise matrices, error rate).

Algorithm
---------
1. Per-class threshold ``t_k`` = mean ``p_k`` over the items *given* label k: the model's
   typical confidence in a correct-ish k, so a per-class bar that adapts to class difficulty.
2. An item is confidently counted as true class j when ``p_j >= t_j`` (the argmax among such
   j when several pass); ``C[given, j]`` counts them. Calibration rescales each row to the
   given-label count and rounds to integers preserving the row totals.
3. Pruning (``filter_by``):
   - ``prune_by_noise_rate``: for each off-diagonal cell (k, j), flag the ``C[k, j]`` items
     given k with the largest margin ``p_j - p_k``;
   - ``prune_by_class``: in class k flag the ``n_k - C[k, k]`` items with the lowest ``p_k``;
   - ``both``: the intersection of the two;
   - ``confident_learning``: the off-diagonal items of step 2 themselves.
   Before pruning, each class keeps at least ``min_examples_per_class`` items. Finally any item
   whose argmax (with a 1e-6 nudge towards the given label) *is* the given label is unflagged.
4. Ranking by ``self_confidence`` (``p_given``) or ``normalized_margin``
   (``(p_given - max_{j != given} p_j + 1) / 2``), lowest first.

Agreement with cleanlab 2.9 (the reference, used only by the tests): every step above mirrors
``cleanlab.count.compute_confident_joint`` and ``cleanlab.filter.find_label_issues`` including
the constants (threshold floor 2e-6, comparison slack 1e-6) and the sort calls that decide ties
at a pruning cut-off, so the flagged sets and the confident joint are identical, not just close.
float32 probabilities are processed in float32 (as cleanlab does; upcasting changes which items
sit on a threshold), anything else in float64. Two details had to be copied, not just the math:
per-class means use ``np.mean`` (pairwise summation) and the raw joint is Fortran-ordered like
``confusion_matrix(...).T``, because the summation order decides how exact .5 cells round.
The one intended difference is the final *order*: ties in the rank score are broken by index
(stable sort) here, by numpy's unstable quicksort in cleanlab; with continuous probabilities
exact ties are rare and the flagged *set* never depends on it.

Measured (tests/unit/test_qa_label_errors.py): 3,000 items, 4 classes, 10 % injected flips,
5-fold logistic-regression probabilities: default filter recall 0.94-0.96, precision 0.91;
the suggested label is the true one for 97-99 % of the true positives. On the same data with
no injected noise 1 % of items are flagged (those the model itself gets wrong).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "FILTER_BY",
    "RANK_BY",
    "LabelIssue",
    "NoiseEstimate",
    "confident_joint",
    "estimate_noise",
    "find_label_issues",
]

FILTER_BY: Final = ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning")
RANK_BY: Final = ("self_confidence", "normalized_margin")

# Probability rows must sum to 1 within this; looser than float32 softmax round-off, tighter
# than anything that would make "probability" meaningless.
PROB_SUM_TOLERANCE: Final = 1e-3
# cleanlab's FLOATING_POINT_COMPARISON: slack on ">= threshold" and the argmax nudge towards
# the given label. Kept identical so results match the reference bit for bit.
_FP_SLACK: Final = 1e-6
# cleanlab's CONFIDENT_THRESHOLDS_LOWER_BOUND: a threshold must exceed the slack, otherwise a
# class whose items all have p ~ 0 would count *every* item as confidently in that class.
_THRESHOLD_FLOOR: Final = 2 * _FP_SLACK
# Threshold of a class nobody was given: unreachable by a probability, so no item is counted
# into a class without evidence for it.
_ABSENT_CLASS_THRESHOLD: Final = 2.0
# Guards divisions by empty rows/columns (cleanlab's TINY_VALUE).
_TINY: Final = 1e-100
# Noise rates are clipped below 1 so noise matrices stay invertible-ish (cleanlab's choice).
_MAX_NOISE_RATE: Final = 0.9999

FloatArray = npt.NDArray[np.floating[Any]]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class LabelIssue:
    """One item whose given label is probably wrong.

    ``margin`` is the raw ``p[given] - max_{j != given} p[j]`` in [-1, 1]; cleanlab's
    ``normalized_margin`` score is ``(margin + 1) / 2``. ``quality`` is the rank score actually
    used (``self_confidence`` or the normalized margin): lower means more likely an error.
    ``suggested_label`` is the most probable class other than the given one.
    """

    index: int
    given_label: int
    suggested_label: int
    self_confidence: float
    margin: float
    quality: float


@dataclass(frozen=True)
class NoiseEstimate:
    """Latent noise estimated from the calibrated confident joint (cleanlab's conventions).

    - ``noise_matrix[i, j]`` = P(given = i | true = j); columns sum to 1.
    - ``inverse_noise_matrix[j, i]`` = P(true = j | given = i); columns sum to 1.
    - ``estimated_error_rate`` = off-diagonal mass of the calibrated joint, i.e. the expected
      share of items whose given label differs from the true one.
    """

    noise_matrix: FloatArray
    inverse_noise_matrix: FloatArray
    estimated_error_rate: float


# --------------------------------------------------------------------------------- validation


def _validate(labels: npt.ArrayLike, pred_probs: npt.ArrayLike) -> tuple[IntArray, FloatArray]:
    """Return (labels as int64 1-D, pred_probs as float64 2-D) or raise a clear ValueError."""
    probs = np.asarray(pred_probs)
    if probs.ndim != 2:
        raise ValueError(f"pred_probs must be 2-D (n_items, n_classes), got shape {probs.shape}")
    if not np.issubdtype(probs.dtype, np.number) or np.issubdtype(probs.dtype, np.complexfloating):
        raise ValueError(f"pred_probs must be real numbers, got dtype {probs.dtype}")
    n, k = probs.shape
    if n == 0:
        raise ValueError("pred_probs has no rows: need at least one item")
    if k < 2:
        raise ValueError(f"need at least 2 classes (columns of pred_probs), got {k}")
    if probs.dtype not in (np.float32, np.float64):
        probs = probs.astype(np.float64)
    if not np.isfinite(probs).all():
        raise ValueError("pred_probs contains NaN or infinite values")
    if probs.min() < 0.0 or probs.max() > 1.0:
        raise ValueError(
            f"pred_probs must lie in [0, 1], got range [{probs.min():.6g}, {probs.max():.6g}]"
        )
    sums = probs.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > PROB_SUM_TOLERANCE)
    if bad.size:
        raise ValueError(
            f"pred_probs rows must sum to 1 (within {PROB_SUM_TOLERANCE}); {bad.size} rows do not,"
            f" e.g. row {bad[0]} sums to {sums[bad[0]]:.6g}"
        )

    lab = np.asarray(labels)
    if lab.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {lab.shape}")
    if lab.shape[0] != n:
        raise ValueError(f"labels has {lab.shape[0]} entries but pred_probs has {n} rows")
    if lab.dtype == np.bool_ or not np.issubdtype(lab.dtype, np.number):
        raise ValueError(f"labels must be integer class indices, got dtype {lab.dtype}")
    if not np.issubdtype(lab.dtype, np.integer):
        # Accept integral floats (e.g. from a DataFrame column), reject 1.5 or NaN.
        if not (np.isfinite(lab).all() and np.array_equal(lab, np.round(lab))):
            raise ValueError("labels must be integer class indices, got non-integral values")
    lab = lab.astype(np.int64)
    if lab.min() < 0 or lab.max() >= k:
        raise ValueError(
            f"labels must lie in [0, {k - 1}] (pred_probs has {k} columns),"
            f" got range [{lab.min()}, {lab.max()}]"
        )
    return lab, probs


# ---------------------------------------------------------------------------- confident joint


def _confident_thresholds(labels: IntArray, probs: FloatArray) -> FloatArray:
    """Per-class mean self-confidence ``t_k = mean(p_k | given = k)``."""
    # One np.mean per class (K calls, each vectorised) rather than a bincount-weighted sum:
    # np.mean's pairwise summation is what cleanlab uses, and a last-bit difference in t_k could
    # flip an item sitting exactly on the threshold.
    thresholds = np.array(
        [
            np.mean(probs[labels == c, c]) if np.any(labels == c) else _ABSENT_CLASS_THRESHOLD
            for c in range(probs.shape[1])
        ],
        dtype=probs.dtype,
    )
    return np.maximum(thresholds, _THRESHOLD_FLOOR)


def _confident_assignment(
    labels: IntArray, probs: FloatArray
) -> tuple[npt.NDArray[np.bool_], IntArray]:
    """For each item: whether it clears any class threshold, and its guessed true class."""
    above = probs >= _confident_thresholds(labels, probs) - _FP_SLACK
    n_above = above.sum(axis=1)
    # Several confident classes: trust the model's argmax; exactly one: that class. argmax of a
    # bool row is its first True, meaningless for all-False rows (they are masked out).
    guess = np.where(n_above > 1, probs.argmax(axis=1), above.argmax(axis=1))
    return n_above > 0, guess.astype(np.int64)


def _round_preserving_row_totals(matrix: FloatArray) -> IntArray:
    """Round each row to integers whose sum is the row's (rounded) float sum.

    The largest-remainder fix-up: entries with the largest rounding loss get +1 (or the largest
    gain -1). Per-element error <= 0.5 so one pass of <= K changes always suffices; argsort of
    each row (not a stable sort) mirrors cleanlab's ``round_preserving_sum`` so ties at the
    cut-off go the same way.
    """
    ints = matrix.round()
    deficit = (matrix.sum(axis=1).round() - ints.sum(axis=1)).astype(np.int64)
    residual = matrix - ints
    order = np.argsort(residual, axis=1)
    # Row rank r of an entry in the order in which cleanlab would increment/decrement it:
    # descending residual when adding, ascending when removing.
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(matrix.shape[1])[None, :], axis=1)
    rank_up = matrix.shape[1] - 1 - rank
    step = np.where(
        (deficit[:, None] > 0) & (rank_up < deficit[:, None]),
        1,
        np.where((deficit[:, None] < 0) & (rank < -deficit[:, None]), -1, 0),
    )
    return (ints + step).astype(np.int64)


def _calibrate(joint: IntArray, labels: IntArray) -> IntArray:
    """Rescale rows to the given-label counts (and the total to n), then round to integers.

    The raw counts only cover *confident* items; calibration turns them into an estimate of the
    joint counts of (given, true) over all n items (cleanlab's ``calibrate_confident_joint``).
    """
    label_counts = np.bincount(labels, minlength=joint.shape[0])
    rows = np.maximum(joint.sum(axis=1), _TINY)
    # Written as cleanlab writes it, transposes included, on a joint in the same (Fortran)
    # memory order: np.sum of the grand total follows memory order, and another order can
    # differ in the last bit, which flips the rounding of exact .5 cells (seen on quantised
    # probabilities).
    cal = (joint.T / rows * label_counts).T
    cal = cal / max(float(np.sum(cal)), _TINY) * label_counts.sum()
    return _round_preserving_row_totals(cal)


def _confident_joint(
    labels: IntArray, probs: FloatArray, calibrate: bool
) -> tuple[IntArray, IntArray]:
    """Confident joint plus the indices of confidently off-diagonal items (validated inputs)."""
    k = probs.shape[1]
    confident, guess = _confident_assignment(labels, probs)
    given_c, guess_c = labels[confident], guess[confident]
    # Counted as [true, given] and transposed, i.e. Fortran-ordered exactly like cleanlab's
    # ``confusion_matrix(...).T``: the memory order decides the summation order of the
    # calibration total (see ``_calibrate``).
    flat = np.bincount(guess_c * k + given_c, minlength=k * k).astype(np.int64)
    joint = flat.reshape(k, k).T
    # Every class keeps >= 1 correctly-labelled count, so calibration never divides an empty
    # row and no class is estimated to be entirely noise.
    np.fill_diagonal(joint, np.maximum(joint.diagonal(), 1))
    if calibrate:
        joint = _calibrate(joint, labels)
    off_diagonal = np.flatnonzero(confident)[given_c != guess_c]
    return joint, off_diagonal


def confident_joint(
    labels: np.ndarray, pred_probs: np.ndarray, *, calibrate: bool = True
) -> np.ndarray:
    """K x K confident joint: ``C[i, j]`` = items given label i confidently of true class j.

    Thresholds are the per-class mean self-confidence (confident learning). With ``calibrate``
    each row sums to the number of items given that label (so the matrix sums to n); without
    it, only confidently-assigned items are counted. The diagonal is at least 1 either way
    before calibration. Equal to ``cleanlab.count.compute_confident_joint``.
    """
    lab, probs = _validate(labels, pred_probs)
    return _confident_joint(lab, probs, calibrate)[0]


# -------------------------------------------------------------------------------- pruning


def _keep_at_least(joint: IntArray, n_min: int) -> IntArray:
    """Adjust joint so each diagonal is >= ``n_min``, taking the excess evenly from its row.

    Pruning never empties a class: raising C[k, k] lowers the number of items pruned from
    given-label k. Mirrors cleanlab's ``_keep_at_least_n_per_class`` (including truncation of
    the fractional counts, which makes pruning slightly conservative).
    """
    diag = joint.diagonal()
    new_diag = np.maximum(diag, n_min)
    raise_by = new_diag - diag
    # Non-zero off-diagonal cells per row share the decrease; never divide by 0.
    n_noise_cells = np.maximum(np.count_nonzero(joint, axis=1) - 1.0, 1.0)
    adjusted = joint - (raise_by / n_noise_cells)[:, None]
    adjusted[adjusted < 0] = 0
    np.fill_diagonal(adjusted, new_diag)
    return adjusted.astype(np.int64)


def _prune_mask(
    labels: IntArray, probs: FloatArray, prune: IntArray, by_class: bool, min_examples: int
) -> npt.NDArray[np.bool_]:
    """Flag items per given class k from the adjusted joint row ``prune[k]``.

    ``by_class``: the ``n_k - prune[k, k]`` lowest ``p_k``; else, for each j != k, the
    ``prune[k, j]`` items with the largest ``p_j - p_k``. The loop is over the K (or K^2) cells
    only; each cell is a vectorised argsort on that class's items, the same call cleanlab makes
    (same input order, same sort) so ties at a cut-off are resolved identically.
    """
    n, k = probs.shape
    mask = np.zeros(n, dtype=bool)
    for c in range(k):
        members = np.flatnonzero(labels == c)
        # Too-small classes are left alone; a class of one is never pruned even with
        # min_examples_per_class=0 (cleanlab ignores 1-item masks as well).
        if members.size <= max(min_examples, 1):
            continue
        sub = probs[members]
        flags = np.zeros(members.size, dtype=bool)
        if by_class:
            n_issues = members.size - prune[c, c]
            if n_issues >= 1:
                flags[np.argsort(sub[:, c])[:n_issues]] = True
        else:
            for j in range(k):
                n_prune = prune[c, j]
                if j != c and n_prune > 0:
                    flags[np.argsort(-(sub[:, j] - sub[:, c]))[:n_prune]] = True
        mask[members] = flags
    return mask


def _predicted_is_given(labels: IntArray, probs: FloatArray) -> npt.NDArray[np.bool_]:
    """Items whose argmax is the given label (with a 1e-6 nudge): never reported as issues."""
    nudged = probs.copy()
    nudged[np.arange(labels.size), labels] += _FP_SLACK
    return nudged.argmax(axis=1) == labels


def _best_other(labels: IntArray, probs: FloatArray) -> tuple[IntArray, FloatArray]:
    """Most probable class other than the given one, and its probability."""
    others = probs.copy()
    # -1 is below any probability, so the given class can never win.
    others[np.arange(labels.size), labels] = -1.0
    best = others.argmax(axis=1)
    return best.astype(np.int64), others[np.arange(labels.size), best]


def find_label_issues(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    filter_by: str = "prune_by_noise_rate",
    rank_by: str = "self_confidence",
    min_examples_per_class: int = 1,
) -> list[LabelIssue]:
    """Items whose given label is probably wrong, most likely error first.

    ``pred_probs`` must be out-of-sample (cross-validated) probabilities. ``filter_by`` is one
    of ``FILTER_BY`` with the semantics of ``cleanlab.filter.find_label_issues`` (the flagged
    set is identical); ``rank_by`` is ``"self_confidence"`` or ``"normalized_margin"``.
    ``min_examples_per_class`` items per given class are never pruned by the ``prune_*`` /
    ``both`` filters (``confident_learning`` ignores it, as cleanlab does).
    """
    if filter_by not in FILTER_BY:
        raise ValueError(f"filter_by must be one of {FILTER_BY}, got {filter_by!r}")
    if rank_by not in RANK_BY:
        raise ValueError(f"rank_by must be one of {RANK_BY}, got {rank_by!r}")
    if isinstance(min_examples_per_class, bool) or not isinstance(min_examples_per_class, int):
        raise ValueError(f"min_examples_per_class must be an int, got {min_examples_per_class!r}")
    if min_examples_per_class < 0:
        raise ValueError(f"min_examples_per_class must be >= 0, got {min_examples_per_class}")
    lab, probs = _validate(labels, pred_probs)

    joint, off_diagonal = _confident_joint(lab, probs, calibrate=True)
    if filter_by == "confident_learning":
        mask = np.zeros(lab.size, dtype=bool)
        mask[off_diagonal] = True
    else:
        prune = _keep_at_least(joint, min_examples_per_class)
        if filter_by == "prune_by_class":
            mask = _prune_mask(lab, probs, prune, True, min_examples_per_class)
        elif filter_by == "prune_by_noise_rate":
            mask = _prune_mask(lab, probs, prune, False, min_examples_per_class)
        else:  # "both": flagged by the class budget *and* the pairwise noise-rate budget
            mask = _prune_mask(lab, probs, prune, True, min_examples_per_class)
            mask &= _prune_mask(lab, probs, prune, False, min_examples_per_class)
    # The model agreeing with the given label overrides any budget-driven flag.
    mask &= ~_predicted_is_given(lab, probs)

    idx = np.flatnonzero(mask)
    given = lab[idx]
    self_conf = probs[idx, given]
    suggested, p_other = _best_other(given, probs[idx])
    margin = self_conf - p_other
    quality = self_conf if rank_by == "self_confidence" else (margin + 1.0) / 2.0
    # Stable: equal scores keep index order, so the ranking is reproducible run to run.
    order = np.argsort(quality, kind="stable")
    return [
        LabelIssue(
            index=int(idx[o]),
            given_label=int(given[o]),
            suggested_label=int(suggested[o]),
            self_confidence=float(self_conf[o]),
            margin=float(margin[o]),
            quality=float(quality[o]),
        )
        for o in order
    ]


# ------------------------------------------------------------------------------ noise model


def _clip_noise_rates(matrix: FloatArray) -> FloatArray:
    """Clip off-diagonal rates into [0, 0.9999], keep the diagonal, renormalise columns."""
    clipped = np.clip(matrix, 0.0, _MAX_NOISE_RATE)
    np.fill_diagonal(clipped, matrix.diagonal())
    return clipped / np.maximum(clipped.sum(axis=0), _TINY)


def estimate_noise(labels: np.ndarray, pred_probs: np.ndarray) -> NoiseEstimate:
    """Noise matrices and error rate from the calibrated confident joint.

    Matches ``cleanlab.count.estimate_latent(compute_confident_joint(...), labels)`` (default
    ``py_method="cnt"``, no convergence step) for the matrices, and
    ``num_label_issues(..., estimation_method="off_diagonal_calibrated") / n`` for the rate.
    """
    lab, probs = _validate(labels, pred_probs)
    joint = _confident_joint(lab, probs, calibrate=True)[0].astype(np.float64)
    noise = joint / np.maximum(joint.sum(axis=0), _TINY)  # P(given | true): column-normalised
    inverse = joint.T / np.maximum(joint.sum(axis=1), _TINY)  # P(true | given)
    total = max(float(joint.sum()), _TINY)
    return NoiseEstimate(
        noise_matrix=_clip_noise_rates(noise),
        inverse_noise_matrix=_clip_noise_rates(inverse),
        estimated_error_rate=float(1.0 - np.trace(joint) / total),
    )
