"""Cohen's and Fleiss' kappa (see the package docstring for the parity with sklearn and
statsmodels)."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Final

import numpy as np

from ._encoding import FloatArray, _boxed, _factorize, _ordered, _recode, _vector

KAPPA_WEIGHTS: Final = (None, "linear", "quadratic")
FLEISS_METHODS: Final = ("fleiss", "randolph")


# --- Cohen's kappa -----------------------------------------------------------------------------


def cohen_kappa(
    a: Sequence[Hashable] | np.ndarray,
    b: Sequence[Hashable] | np.ndarray,
    *,
    labels: Sequence[Hashable] | None = None,
    weights: str | None = None,
) -> float:
    """Cohen's kappa of two raters who labelled the same items, as sklearn's ``cohen_kappa_score``.

    ``a[i]`` and ``b[i]`` are the two labels of item ``i``. ``labels`` (default: every label
    seen, sorted) selects the categories and fixes their order for the weights; items where
    either label is outside ``labels`` are ignored. ``weights``: ``None`` (nominal),
    ``"linear"`` or ``"quadratic"`` (penalty ``|i - j|`` or ``(i - j)^2`` between category
    positions). Returns ``nan`` when kappa is undefined (no item left after the ``labels``
    filter, or chance disagreement 0 because both raters used one and the same category).

    Raises ``ValueError`` on empty or unequal-length input, an unknown ``weights``, empty or
    duplicated ``labels``, ``labels`` none of which occurs in ``a`` (as sklearn), or weighted
    kappa over labels that cannot be ordered without ``labels``.
    """
    if weights not in KAPPA_WEIGHTS:
        raise ValueError(f"weights must be one of {KAPPA_WEIGHTS}, got {weights!r}")
    xa, xb = _vector(a, "a"), _vector(b, "b")
    if xa.size != xb.size:
        raise ValueError(f"a and b must have the same length, got {xa.size} and {xb.size}")
    if xa.size == 0:
        raise ValueError("cohen_kappa needs at least one item; a and b are empty")
    ua, ca = _factorize(xa)
    ub, cb = _factorize(xb)
    if labels is None:
        categories, ordered = _ordered([*ua, *ub])
        if weights is not None and not ordered:
            raise ValueError(
                f"{weights} weights need ordered categories; the labels are not mutually "
                "comparable, so pass labels= in the intended order"
            )
    else:
        categories = list(labels)
        if not categories:
            raise ValueError("labels must contain at least one label")
        if len(dict.fromkeys(categories)) != len(categories):
            raise ValueError("labels must not contain duplicates")
    index = {c: i for i, c in enumerate(categories)}
    codes_a, codes_b = _recode(ua, ca, index), _recode(ub, cb, index)
    if labels is not None and not (codes_a >= 0).any():
        # sklearn's (asymmetric) rule, kept so the two agree on what is an error.
        raise ValueError("at least one label in labels must be present in a")
    k = len(categories)
    keep = (codes_a >= 0) & (codes_b >= 0)
    confusion = np.bincount(codes_a[keep] * k + codes_b[keep], minlength=k * k)
    return _kappa_from_confusion(confusion.reshape(k, k).astype(np.float64), weights)


def _kappa_from_confusion(confusion: FloatArray, weights: str | None) -> float:
    # Same operations as sklearn: kappa = 1 - sum(w * observed) / sum(w * expected).
    k = confusion.shape[0]
    sum0, sum1 = confusion.sum(axis=0), confusion.sum(axis=1)
    total = sum0.sum()
    if total == 0:
        return math.nan
    # Chance counts; sklearn's orientation (outer(col sums, row sums)) is the transpose of the
    # textbook one, harmless because every weight matrix is symmetric.
    expected = np.outer(sum0, sum1) / total
    if weights is None:
        w = 1.0 - np.eye(k)
    else:
        pos = np.arange(k, dtype=np.float64)
        diff = pos[:, None] - pos[None, :]
        w = np.abs(diff) if weights == "linear" else diff**2
    chance_disagreement = float((w * expected).sum())
    # Exact zero test is safe: a sum of non-negative products is 0 only if every term is.
    if chance_disagreement == 0:
        return math.nan
    return float(1.0 - (w * confusion).sum() / chance_disagreement)


# --- Fleiss' kappa -----------------------------------------------------------------------------


def fleiss_kappa(table: np.ndarray, method: str = "fleiss") -> float:
    """Fleiss' (or Randolph's) kappa of an items x categories count table, as statsmodels.

    ``table[i, c]`` = how many raters put item ``i`` in category ``c``; every row must sum to
    the same number of raters ``n >= 2``. ``method="fleiss"`` takes chance agreement from the
    category margins, ``"randolph"`` from a uniform distribution over the table's columns.
    Returns ``nan`` when chance agreement is 1 (Fleiss: only one category in use; Randolph:
    a one-column table).

    Raises ``ValueError`` on an empty or non-2-D table, negative or non-finite counts, unequal
    row sums, fewer than two ratings per item, or an unknown method.
    """
    if method not in FLEISS_METHODS:
        raise ValueError(f"method must be one of {FLEISS_METHODS}, got {method!r}")
    t = np.asarray(table, dtype=np.float64)
    if t.ndim != 2:
        raise ValueError(f"table must be 2-D (items x categories), got shape {t.shape}")
    if t.size == 0:
        raise ValueError(f"table is empty (shape {t.shape}); need >= 1 item and >= 1 category")
    if not np.isfinite(t).all() or (t < 0).any():
        raise ValueError("table must hold finite, non-negative counts")
    raters = t.sum(axis=1)
    n = float(raters.max())
    # Tolerance only for float round-off in count tables built by arithmetic.
    if not np.allclose(raters, n, rtol=1e-12, atol=0):
        raise ValueError(
            "every item must have the same number of ratings; row sums range "
            f"from {raters.min():g} to {n:g} (use krippendorff_alpha for missing ratings)"
        )
    if n < 2:
        raise ValueError(f"Fleiss' kappa needs >= 2 ratings per item, got {n:g}")
    n_categories = t.shape[1]
    p_category = t.sum(axis=0) / t.sum()
    p_agree = (((t * t).sum(axis=1) - n) / (n * (n - 1.0))).mean()
    p_chance = (p_category * p_category).sum() if method == "fleiss" else 1.0 / n_categories
    # p_chance is exactly 1.0 only when one category holds every rating (Fleiss) or the table
    # has one column (Randolph): agreement beyond chance is undefined, statsmodels' 0/0 = nan.
    if p_chance == 1.0:
        return math.nan
    return float((p_agree - p_chance) / (1.0 - p_chance))


def fleiss_kappa_from_ratings(ratings: Sequence[Sequence[Hashable]] | np.ndarray) -> float:
    """Fleiss' kappa of an items x raters matrix of categorical ratings.

    Row ``i`` holds the labels the raters gave item ``i`` (rater identity does not matter to
    Fleiss, only the counts). Every row must have the same length ``>= 2``; missing ratings are
    not supported (use ``krippendorff_alpha``). Equal to statsmodels'
    ``fleiss_kappa(aggregate_raters(ratings)[0])``.
    """
    if isinstance(ratings, np.ndarray):
        if ratings.ndim != 2:
            raise ValueError(f"ratings must be 2-D (items x raters), got shape {ratings.shape}")
        flat = ratings.reshape(-1)
        n_items, n_raters = ratings.shape
    else:
        rows = [list(r) for r in ratings]
        lengths = {len(r) for r in rows}
        if len(lengths) > 1:
            raise ValueError(
                f"every item must have the same number of ratings, got lengths {sorted(lengths)}"
                " (use krippendorff_alpha for missing ratings)"
            )
        n_items, n_raters = len(rows), (lengths.pop() if lengths else 0)
        flat = _boxed([v for r in rows for v in r])
    if n_items == 0 or n_raters == 0:
        raise ValueError("fleiss_kappa_from_ratings needs at least one item and one rating")
    if n_raters < 2:
        raise ValueError(f"Fleiss' kappa needs >= 2 ratings per item, got {n_raters}")
    categories, codes = _factorize(flat)
    k = len(categories)
    item = np.repeat(np.arange(n_items), n_raters)
    table = np.bincount(item * k + codes, minlength=n_items * k).reshape(n_items, k)
    return fleiss_kappa(table)
