"""Inter-annotator agreement: Cohen's kappa, Fleiss' kappa, Krippendorff's alpha. Pure, vectorized.

The QA service measures how far annotators agree on a project's labels, as a whole, per annotator
pair, per ontology class and per time window (``MeasureAgreement`` -> ``AgreementMeasured``).

Public API
----------
- ``cohen_kappa(a, b, labels=None, weights=None)``: two raters, same items.
- ``fleiss_kappa(table, method="fleiss")``: items x categories count table.
- ``fleiss_kappa_from_ratings(ratings)``: items x raters categorical ratings.
- ``krippendorff_alpha(reliability_data, level="nominal")``: raters x units, ``np.nan`` missing.
- ``Annotation`` (item, annotator, label, class_id, at) and, over any iterable of them,
  ``pairwise_cohen``, ``agreement_summary`` (-> ``AgreementSummary``) and ``windowed``.

Parity with the references (checked by the unit and property tests to 1e-9)
---------------------------------------------------------------------------
- ``cohen_kappa`` = ``sklearn.metrics.cohen_kappa_score`` (same confusion matrix, chance matrix
  and weights; ``labels`` selects *and orders* the categories, pairs with a label outside it are
  dropped). Undefined cases return ``nan`` as sklearn does (sklearn also emits an
  ``UndefinedMetricWarning``; we do not, the nan is the signal): no pair left after the
  ``labels`` filter, or chance disagreement 0 (both raters used one and the same category:
  ``p_e == 1``). Like sklearn, ``labels`` none of which occurs in ``a`` raise ``ValueError``.
  Extensions: labels are any hashables compared by ``==``/hash (sklearn rejects floats it calls
  "continuous" and mixed str/int); unweighted kappa does not depend on category order, so
  unorderable labels are accepted there, while weighted kappa needs orderable labels or
  ``labels``. Duplicates in ``labels`` raise (sklearn silently miscounts them). NaN is not a
  usable label (NaN != NaN).
- ``fleiss_kappa`` = ``statsmodels.stats.inter_rater.fleiss_kappa`` for ``"fleiss"`` and
  ``"randolph"``; ``fleiss_kappa_from_ratings`` = ``fleiss_kappa(aggregate_raters(r)[0])``, so
  Randolph's chance term counts the categories that occur. ``p_e == 1`` gives ``nan``
  (statsmodels: nan plus a RuntimeWarning): for Fleiss when one category holds every rating,
  for Randolph (``p_e = 1 / columns``) only for a one-column table. Where statsmodels fails
  by assertion or divides by zero we raise ``ValueError``: unequal row sums, fewer than two
  ratings per item.
- ``krippendorff_alpha`` = ``krippendorff.alpha`` for all four levels. Units with fewer than
  two values are not pairable and contribute nothing (the package gives them zero weight).
  Fewer than two distinct pairable values gives ``nan`` (expected disagreement 0); the package
  returns nan there too when other values occur in unpairable units, but raises "There has to
  be more than one value in the domain" when the whole matrix holds one value. We return nan
  in both cases: the statistic is undefined either way and a dashboard needs a value, not an
  exception. No pairable unit at all raises ``ValueError`` (as the package does).

Implementation: the coincidence matrix ``o`` is built sparse as ``C.T @ (C / (m_u - 1))`` from
the units x values count matrix ``C`` (``m_u`` = values in unit u); the package materialises
units x values x values dense, which does not fit real projects. Observed disagreement is
``sum(o * d)`` over the non-zeros of ``o``; expected disagreement is closed-form for nominal
(``n^2 - sum n_c^2``), interval and ordinal (``2 n sum n_c (x_c - mean)^2``, where ordinal
replaces each value by its mid-rank ``x_c = N_{<=c} - n_c / 2``, which turns the package's
ordinal metric into a squared difference) and a blocked dense sum for ratio (O(values^2)
time, bounded memory: ~20 s for 70k distinct continuous values; the other levels take
milliseconds).

Annotation semantics (``pairwise_cohen``, ``agreement_summary``, ``windowed``)
-----------------------------------------------------------------------------
- An annotator's rating of an item is their *latest* annotation of it (largest ``at``; on
  equal ``at`` the later one in input order): a re-label replaces the earlier label.
- Item = unit, annotator = rater, ``label`` = category (nominal) or number (other levels).
- ``pairwise_cohen``: unweighted kappa per annotator pair over their shared items, keyed by
  the sorted id pair; ``(kappa, n_shared)``; pairs sharing < ``min_items`` items are omitted.
  Vectorized over all pairs at once (integer confusion statistics per pair).
- ``agreement_summary``: ``fleiss_kappa`` only when every item has the same number (>= 2) of
  ratings, else ``None``; ``krippendorff_alpha`` is ``nan`` when undefined (e.g. no item
  has two annotators) rather than an error, so any non-empty input yields a summary;
  ``per_class[c]`` is alpha over the annotations whose ``class_id`` is ``c`` (after the
  latest-wins rule, so a re-label moves the rating to its new class). If ``class_id`` is the
  label itself, every group holds one value and its alpha is nan by definition; a per-class
  figure then needs one-vs-rest labels (``label == c`` over the items anyone gave ``c``).
- ``windowed``: tumbling windows aligned to ``at = 0`` (``start = floor(at / w) * w``), each
  summarised on its own annotations (nominal level); windows where no item has ratings from two
  annotators are skipped; ordered by start.
- Empty input: the metric functions and ``agreement_summary`` raise ``ValueError``;
  ``pairwise_cohen`` returns ``{}`` and ``windowed`` ``[]`` (nothing to report is a valid
  answer for them).
"""

from __future__ import annotations

import math
import numbers
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = [
    "FLEISS_METHODS",
    "KAPPA_WEIGHTS",
    "LEVELS",
    "AgreementSummary",
    "Annotation",
    "agreement_summary",
    "cohen_kappa",
    "fleiss_kappa",
    "fleiss_kappa_from_ratings",
    "krippendorff_alpha",
    "pairwise_cohen",
    "windowed",
]

LEVELS: Final = ("nominal", "ordinal", "interval", "ratio")
KAPPA_WEIGHTS: Final = (None, "linear", "quadratic")
FLEISS_METHODS: Final = ("fleiss", "randolph")

# Cap (in float64 elements) on the value x value block of the ratio level's expected
# disagreement, which has no closed form: ~32 MB per block whatever the number of values.
_RATIO_BLOCK: Final = 1 << 22

IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]


# --- encoding ----------------------------------------------------------------------------------


def _vector(x: Sequence[Hashable] | np.ndarray, name: str) -> np.ndarray:
    """``x`` as a 1-D array; lists become object arrays so 1 and "1" stay different labels."""
    if isinstance(x, np.ndarray):
        arr = x
    else:
        # np.asarray would coerce a mixed list to one dtype ([1, "a"] -> ["1", "a"]).
        arr = _boxed(list(x))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _boxed(items: list[Hashable]) -> np.ndarray:
    """1-D object array of ``items`` (element-wise: tuples as labels must not become a 2-D
    array, as ``np.asarray`` or slice assignment would make them)."""
    out = np.empty(len(items), dtype=object)
    for i, v in enumerate(items):
        out[i] = v
    return out


def _factorize(x: np.ndarray) -> tuple[list[Hashable], IntArray]:
    """Distinct values of ``x`` and, per element, the index of its value among them."""
    if x.dtype != object:
        uniq, inverse = np.unique(x, return_inverse=True)
        return uniq.tolist(), inverse.reshape(-1).astype(np.intp)
    index: dict[Hashable, int] = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in x), dtype=np.intp, count=x.size)
    return list(index), codes


def _ordered(values: Iterable[Hashable]) -> tuple[list[Hashable], bool]:
    """Distinct values sorted when mutually comparable (as sklearn's ``unique_labels``), else
    in first-seen order; the flag says whether they could be sorted."""
    distinct = list(dict.fromkeys(values))
    try:
        return sorted(distinct), True  # type: ignore[type-var]
    except TypeError:
        return distinct, False


def _recode(uniq: list[Hashable], codes: IntArray, index: dict[Hashable, int]) -> IntArray:
    # Python touches each *distinct* value once; the per-element work is one take.
    lut = np.fromiter((index.get(v, -1) for v in uniq), dtype=np.intp, count=len(uniq))
    return lut[codes] if codes.size else codes


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


# --- Krippendorff's alpha ----------------------------------------------------------------------


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")


def krippendorff_alpha(reliability_data: np.ndarray, level: str = "nominal") -> float:
    """Krippendorff's alpha of a raters x units matrix (``np.nan`` = no value), as the package.

    ``level``: ``"nominal"``, ``"ordinal"``, ``"interval"`` or ``"ratio"`` (the distance
    between two values). Values are numbers; for nominal data they are just category codes.
    Units with fewer than two values are not pairable and are ignored. Returns ``nan`` when
    fewer than two distinct values are pairable (no expected disagreement: undefined).

    Raises ``ValueError`` on an empty or non-2-D matrix, non-numeric or infinite values, an
    unknown level, or when no unit has two values.
    """
    _check_level(level)
    try:
        data = np.asarray(reliability_data, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            "reliability_data must be numeric (encode categories as numbers, np.nan = missing)"
        ) from exc
    if data.ndim != 2:
        raise ValueError(f"reliability_data must be 2-D (raters x units), got shape {data.shape}")
    if data.size == 0:
        raise ValueError(f"reliability_data is empty (shape {data.shape})")
    if np.isinf(data).any():
        raise ValueError("reliability_data must not contain infinities (np.nan = missing)")
    present = ~np.isnan(data)
    units = np.nonzero(present)[1]
    if not (np.bincount(units) >= 2).any():
        raise ValueError("no unit has values from two raters: alpha needs pairable values")
    return _alpha(units, data[present], level)


def _alpha(units: IntArray, values: FloatArray, level: str) -> float:
    """Alpha from long-format data (unit index, value) per rating; nan when undefined."""
    if units.size == 0:
        return math.nan
    per_unit = np.bincount(units)
    pairable = per_unit[units] >= 2
    if not pairable.any():
        return math.nan
    units, values = units[pairable], values[pairable]
    domain, code = np.unique(values, return_inverse=True)
    code = code.reshape(-1)
    n_values = domain.size
    if n_values < 2:
        return math.nan
    n_v = np.bincount(code, minlength=n_values).astype(np.float64)
    n = float(n_v.sum())

    # Coincidence matrix o[c, k] = sum_u n_uc * n_uk / (m_u - 1) (minus the self-pairs on the
    # diagonal, which never matter: every level's distance d(c, c) is 0, so it is not done).
    unit_ids, unit = np.unique(units, return_inverse=True)
    unit = unit.reshape(-1)
    shape = (unit_ids.size, n_values)
    counts = sp.csr_array((np.ones(unit.size), (unit, code)), shape=shape)
    scaled = sp.csr_array((1.0 / (per_unit[unit_ids][unit] - 1.0), (unit, code)), shape=shape)
    o = (counts.T @ scaled).tocoo()
    rows, cols, weight = o.row, o.col, o.data

    if level == "nominal":
        observed = float(weight[rows != cols].sum())
        expected = n * n - float(n_v @ n_v)
    elif level == "ratio":
        observed = float(weight @ _ratio_distance(domain[rows], domain[cols]))
        expected = _ratio_expected(domain, n_v)
    else:
        # Ordinal: the package's distance (sum of n_g from c to k minus (n_c + n_k) / 2)^2 is
        # exactly the squared difference of mid-ranks N_{<=c} - n_c / 2.
        x = domain if level == "interval" else np.cumsum(n_v) - n_v / 2.0
        observed = float(weight @ (x[rows] - x[cols]) ** 2)
        # sum_{c,k} n_c n_k (x_c - x_k)^2 = 2 n sum_c n_c (x_c - mean)^2; centred, so no
        # cancellation between two large sums.
        centred = x - (n_v @ x) / n
        expected = 2.0 * n * float(n_v @ centred**2)
    # expected is the sum over value pairs of n_c n_k d_ck, i.e. (n - 1) * sum(e * d) with e
    # the package's expected coincidence matrix.
    if expected == 0:
        return math.nan
    return float(1.0 - (n - 1.0) * observed / expected)


def _ratio_distance(v1: FloatArray, v2: FloatArray) -> FloatArray:
    # ((v1 - v2) / (v1 + v2))^2, 0 where v1 + v2 == 0 (the package's convention).
    total = v1 + v2
    ratio = np.divide(
        v1 - v2, total, out=np.zeros(np.broadcast_shapes(v1.shape, v2.shape)), where=total != 0
    )
    return ratio * ratio


def _ratio_expected(domain: FloatArray, n_v: FloatArray) -> float:
    # sum_{c,k} n_c n_k d(c, k), in row blocks so memory stays bounded for many distinct values.
    step = max(1, _RATIO_BLOCK // domain.size)
    total = 0.0
    for start in range(0, domain.size, step):
        block = _ratio_distance(domain[start : start + step, None], domain[None, :])
        total += float(n_v[start : start + step] @ (block @ n_v))
    return total


# --- annotations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Annotation:
    """One label an annotator gave an item.

    ``class_id`` groups annotations for ``AgreementSummary.per_class`` (e.g. the ontology
    class of the label); ``at`` is the submission time in seconds (for ``windowed`` and to
    pick an annotator's latest label of an item).
    """

    item_id: str
    annotator_id: str
    label: Hashable
    class_id: str = ""
    at: float = 0.0


@dataclass(frozen=True)
class AgreementSummary:
    """Agreement over a set of annotations (see ``agreement_summary``)."""

    items: int
    annotators: int
    krippendorff_alpha: float
    fleiss_kappa: float | None
    pairwise: dict[tuple[str, str], tuple[float, int]]
    per_class: dict[str, float]


@dataclass(frozen=True)
class _Coded:
    """Latest ratings as integer codes: one row per (item, annotator)."""

    item: IntArray
    annotator: IntArray  # codes follow sorted annotator ids, so code order = id order
    label: IntArray
    n_labels: int
    n_items: int
    annotator_ids: list[str]
    anns: list[Annotation]


def _latest(annotations: Iterable[Annotation]) -> list[Annotation]:
    """One annotation per (item, annotator): the latest ``at``, later in input on ties."""
    latest: dict[tuple[str, str], Annotation] = {}
    for ann in annotations:
        key = (ann.item_id, ann.annotator_id)
        prev = latest.get(key)
        if prev is None or ann.at >= prev.at:
            latest[key] = ann
    return list(latest.values())


def _code(anns: list[Annotation]) -> _Coded:
    items: dict[str, int] = {}
    item = np.fromiter(
        (items.setdefault(a.item_id, len(items)) for a in anns), dtype=np.intp, count=len(anns)
    )
    annotator_ids = sorted({a.annotator_id for a in anns})
    rank = {a: i for i, a in enumerate(annotator_ids)}
    annotator = np.fromiter((rank[a.annotator_id] for a in anns), dtype=np.intp, count=len(anns))
    labels, label = _factorize(_boxed([a.label for a in anns]))
    return _Coded(item, annotator, label, len(labels), len(items), annotator_ids, anns)


def _pairwise(c: _Coded, min_items: int) -> dict[tuple[str, str], tuple[float, int]]:
    """Unweighted kappa of every annotator pair on their shared items, all pairs at once."""
    order = np.lexsort((c.annotator, c.item))
    item, rater, label = c.item[order], c.annotator[order], c.label[order]
    # Every within-item pair (p, q), p < q in (item, annotator) order: position p pairs with
    # the positions after it up to the end of its item's run.
    run_end = np.searchsorted(item, item, side="right")
    partners = run_end - np.arange(item.size) - 1
    first = np.repeat(np.arange(item.size), partners)
    if first.size == 0:
        return {}
    offset = np.arange(first.size) - np.repeat(np.cumsum(partners) - partners, partners) + 1
    second = first + offset
    # Within an item annotators are sorted, so rater[first] < rater[second]: sorted-id pairs.
    pair_key = rater[first].astype(np.int64) * len(c.annotator_ids) + rater[second]
    pairs, pair, shared = np.unique(pair_key, return_inverse=True, return_counts=True)
    pair = pair.reshape(-1).astype(np.int64)
    la, lb = label[first], label[second]
    agree = np.bincount(pair, weights=(la == lb), minlength=pairs.size)
    # Chance term S = sum_k s_a(k) s_b(k) over each pair's label counts, joined on (pair, k).
    ka_keys, ka_counts = np.unique(pair * c.n_labels + la, return_counts=True)
    kb_keys, kb_counts = np.unique(pair * c.n_labels + lb, return_counts=True)
    common, ia, ib = np.intersect1d(ka_keys, kb_keys, assume_unique=True, return_indices=True)
    chance = np.bincount(
        common // c.n_labels,
        weights=ka_counts[ia].astype(np.float64) * kb_counts[ib],
        minlength=pairs.size,
    )
    # sklearn's 1 - sum_offdiag(confusion) / sum_offdiag(expected) with expected = s_a s_b / n
    # is 1 - (n - agree) * n / (n^2 - S); all integers (exact in float64 below 2^53), so the
    # zero test for "both used one and the same label" is exact.
    n = shared.astype(np.float64)
    chance_disagreement = n * n - chance
    kappa = np.full(pairs.size, math.nan)
    ok = chance_disagreement > 0
    kappa[ok] = 1.0 - (n[ok] - agree[ok]) * n[ok] / chance_disagreement[ok]
    n_raters = len(c.annotator_ids)
    ids = c.annotator_ids
    return {
        (ids[int(key) // n_raters], ids[int(key) % n_raters]): (float(k), int(m))
        for key, k, m in zip(pairs, kappa, shared, strict=True)
        if m >= min_items
    }


def pairwise_cohen(
    annotations: Iterable[Annotation], *, min_items: int = 1
) -> dict[tuple[str, str], tuple[float, int]]:
    """Cohen's kappa of every annotator pair on the items both labelled.

    Returns ``{(a, b): (kappa, n_shared_items)}`` with ``a < b``; pairs that share fewer than
    ``min_items`` items are omitted, and ``kappa`` is ``nan`` where undefined (both used the
    same single label). Each annotator's latest label of an item counts. Empty input -> ``{}``.
    """
    if min_items < 1:
        raise ValueError(f"min_items must be >= 1, got {min_items}")
    anns = _latest(annotations)
    if not anns:
        return {}
    return _pairwise(_code(anns), min_items)


def _values(c: _Coded, level: str) -> FloatArray:
    """Per-rating values for alpha: label codes (nominal) or the labels as numbers."""
    if level == "nominal":
        return c.label.astype(np.float64)
    distinct: dict[Hashable, float] = {}
    for ann in c.anns:
        if ann.label in distinct:
            continue
        lab = ann.label
        if not isinstance(lab, numbers.Real) or not math.isfinite(float(lab)):
            raise ValueError(
                f"level {level!r} needs finite numeric labels, got {lab!r} "
                f"(item {ann.item_id!r}, annotator {ann.annotator_id!r})"
            )
        distinct[lab] = float(lab)
    return np.fromiter((distinct[a.label] for a in c.anns), dtype=np.float64, count=len(c.anns))


def _summary(anns: list[Annotation], level: str) -> AgreementSummary:
    c = _code(anns)
    values = _values(c, level)
    per_item = np.bincount(c.item, minlength=c.n_items)
    fleiss: float | None = None
    if per_item.min() >= 2 and per_item.min() == per_item.max():
        k = c.n_labels
        table = np.bincount(c.item * k + c.label, minlength=c.n_items * k)
        fleiss = fleiss_kappa(table.reshape(c.n_items, k))
    # per_class: one alpha per class_id group, each over its own (item, value) ratings.
    groups: dict[str, list[int]] = defaultdict(list)
    for i, ann in enumerate(anns):
        groups[ann.class_id].append(i)
    per_class = {}
    for class_id, idx in groups.items():
        sel = np.asarray(idx, dtype=np.intp)
        per_class[class_id] = _alpha(c.item[sel], values[sel], level)
    return AgreementSummary(
        items=c.n_items,
        annotators=len(c.annotator_ids),
        krippendorff_alpha=_alpha(c.item, values, level),
        fleiss_kappa=fleiss,
        pairwise=_pairwise(c, 1),
        per_class=per_class,
    )


def agreement_summary(
    annotations: Iterable[Annotation], *, level: str = "nominal"
) -> AgreementSummary:
    """Agreement report over annotations: alpha, Fleiss (when balanced), pairwise, per class.

    Items are units and annotators raters; each annotator's latest label of an item counts.
    ``level`` applies to alpha (overall and per class; labels must be numbers unless
    nominal). ``fleiss_kappa`` is ``None`` unless every item has the same number (>= 2) of
    ratings. Undefined statistics are ``nan`` (e.g. alpha when no item has two annotators).
    Raises ``ValueError`` on empty input or an unknown level.
    """
    _check_level(level)
    anns = _latest(annotations)
    if not anns:
        raise ValueError("agreement_summary needs at least one annotation")
    return _summary(anns, level)


def windowed(
    annotations: Iterable[Annotation], window_s: float, *, level: str = "nominal"
) -> list[tuple[float, AgreementSummary]]:
    """``agreement_summary`` (at ``level``) per tumbling window of ``window_s`` seconds of ``at``.

    Windows are aligned to ``at = 0`` (start ``floor(at / window_s) * window_s``) and summarise
    only their own annotations; windows where no item was labelled by two annotators are
    skipped. Returns ``[(window_start, summary), ...]`` ordered by start (``[]`` for no input).
    """
    if not (math.isfinite(window_s) and window_s > 0):
        raise ValueError(f"window_s must be a positive number of seconds, got {window_s!r}")
    buckets: dict[int, list[Annotation]] = defaultdict(list)
    for ann in annotations:
        if not math.isfinite(ann.at):
            raise ValueError(f"annotation at must be finite, got {ann.at!r} ({ann.item_id!r})")
        buckets[math.floor(ann.at / window_s)].append(ann)
    out: list[tuple[float, AgreementSummary]] = []
    for index in sorted(buckets):
        anns = _latest(buckets[index])
        items = [a.item_id for a in anns]
        # After _latest each (item, annotator) is unique, so a repeated item means two raters.
        if len(set(items)) == len(items):
            continue
        out.append((float(index * window_s), _summary(anns, level)))
    return out
