"""Property tests: the agreement metrics equal their reference implementations to 1e-9.

References (tests only, the module must not import them): scikit-learn's
``cohen_kappa_score``, statsmodels' ``fleiss_kappa`` / ``aggregate_raters`` and the
``krippendorff`` package. Inputs are random; nothing is filtered out. Where a reference signals
an undefined statistic we check the documented behaviour instead of a number:

- a nan from the reference (sklearn's ``UndefinedMetricWarning`` cases, statsmodels' 0/0 when
  one category holds every rating, krippendorff's 0/0) must be a nan here too;
- a ``ValueError`` from the reference must be a ``ValueError`` here too, except krippendorff's
  "more than one value in the domain" (a single value in the whole matrix), where we return nan
  (module docstring: undefined, like the package's own nan when a second value only occurs in
  unpairable units).

Float-valued interval data is drawn from [-1e3, 1e3] without subnormals: near the underflow
limit both implementations lose every digit of (x - y)^2 (differently), which says nothing about
the formula; labelling values live far from it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import krippendorff
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from labelops_qa.domain.agreement import (
    Annotation,
    agreement_summary,
    cohen_kappa,
    fleiss_kappa,
    fleiss_kappa_from_ratings,
    krippendorff_alpha,
    pairwise_cohen,
)
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

TOL = 1e-9
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

INT_LABELS = [0, 1, 2, 3, 4]
STR_LABELS = ["cat", "dog", "bird", "fish"]


def same(ours: float, ref: float) -> bool:
    """Equal to TOL, nan matching nan."""
    if math.isnan(ref) or math.isnan(ours):
        return math.isnan(ref) and math.isnan(ours)
    return math.isclose(ours, ref, rel_tol=0.0, abs_tol=TOL)


def reference(fn: Callable[[], Any]) -> Any:
    """The reference's result, or the ValueError it raised; its warnings are the expected
    undefined-case warnings (checked through the nan instead)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn()
        except ValueError as exc:
            return exc


# --- Cohen -------------------------------------------------------------------------------------


@st.composite
def kappa_cases(draw: st.DrawFn) -> tuple[list[Any], list[Any], list[Any] | None, str | None]:
    pool = draw(st.sampled_from([INT_LABELS, STR_LABELS]))
    used = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=len(pool), unique=True))
    n = draw(st.integers(1, 40))
    a = draw(st.lists(st.sampled_from(used), min_size=n, max_size=n))
    b = draw(st.lists(st.sampled_from(used), min_size=n, max_size=n))
    # labels may miss used categories (their items are dropped), add unused ones (weights
    # see the gap) and come in any order (weights follow it).
    labels = draw(st.none() | st.lists(st.sampled_from(pool), min_size=1, unique=True))
    weights = draw(st.sampled_from([None, "linear", "quadratic"]))
    return a, b, labels, weights


@SETTINGS
@given(kappa_cases(), st.booleans())
def test_cohen_kappa_equals_sklearn(
    case: tuple[list[Any], list[Any], list[Any] | None, str | None], as_array: bool
) -> None:
    a, b, labels, weights = case
    ref = reference(lambda: cohen_kappa_score(a, b, labels=labels, weights=weights))
    xa: Any = np.asarray(a) if as_array else a
    xb: Any = np.asarray(b) if as_array else b
    if isinstance(ref, ValueError):
        # Only sklearn's "no label in labels occurs in y1" can fire on these inputs.
        assert labels is not None and not set(labels) & set(a)
        try:
            cohen_kappa(xa, xb, labels=labels, weights=weights)
        except ValueError:
            return
        raise AssertionError(f"sklearn raised {ref!r}, cohen_kappa did not")
    ours = cohen_kappa(xa, xb, labels=labels, weights=weights)
    assert same(ours, ref), (ours, ref)


# --- Fleiss ------------------------------------------------------------------------------------


@st.composite
def rating_matrices(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    n_categories = draw(st.integers(1, 6))
    n_raters = draw(st.integers(2, 9))
    n_items = draw(st.integers(1, 25))
    cells = st.integers(0, n_categories - 1)
    rows = draw(
        st.lists(
            st.lists(cells, min_size=n_raters, max_size=n_raters),
            min_size=n_items,
            max_size=n_items,
        )
    )
    return np.asarray(rows), n_categories


@SETTINGS
@given(rating_matrices(), st.sampled_from(["fleiss", "randolph"]))
def test_fleiss_kappa_equals_statsmodels(case: tuple[np.ndarray, int], method: str) -> None:
    ratings, n_categories = case
    # Fixed-width table: categories nobody used stay as zero columns (they matter to Randolph).
    table, _ = aggregate_raters(ratings, n_cat=n_categories)
    assert np.all(table.sum(axis=1) == ratings.shape[1])
    ref = reference(lambda: sm_fleiss_kappa(table, method=method))
    assert same(fleiss_kappa(table, method=method), ref)


@SETTINGS
@given(rating_matrices(), st.sampled_from([str, int]))
def test_fleiss_kappa_from_ratings_equals_statsmodels(
    case: tuple[np.ndarray, int], kind: type
) -> None:
    ratings, _ = case
    ref = reference(lambda: sm_fleiss_kappa(aggregate_raters(ratings)[0]))
    rows = [[kind(v) for v in row] for row in ratings.tolist()]
    assert same(fleiss_kappa_from_ratings(rows), ref)
    assert same(fleiss_kappa_from_ratings(ratings), ref)


# --- Krippendorff ------------------------------------------------------------------------------

FLOATS = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, allow_subnormal=False)

VALUE_KINDS: dict[str, tuple[st.SearchStrategy[float], tuple[str, ...]]] = {
    "categories": (st.integers(0, 3).map(float), ("nominal", "ordinal", "interval", "ratio")),
    "integers": (st.integers(-5, 20).map(float), ("nominal", "ordinal", "interval", "ratio")),
    # A small pool mixed with free draws, so float values also repeat across raters.
    "floats": (
        st.sampled_from([-2.5, 0.1, 0.3, 7.25, 100.0]) | FLOATS,
        ("nominal", "ordinal", "interval", "ratio"),
    ),
}


@st.composite
def reliability_cases(draw: st.DrawFn) -> tuple[np.ndarray, str]:
    values, levels = VALUE_KINDS[draw(st.sampled_from(sorted(VALUE_KINDS)))]
    n_raters = draw(st.integers(1, 6))
    n_units = draw(st.integers(1, 20))
    cell = st.none() | values  # None = missing
    rows = draw(
        st.lists(
            st.lists(cell, min_size=n_units, max_size=n_units),
            min_size=n_raters,
            max_size=n_raters,
        )
    )
    data = np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)
    return data, draw(st.sampled_from(levels))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reliability_cases())
def test_krippendorff_alpha_equals_package(case: tuple[np.ndarray, str]) -> None:
    data, level = case
    ref = reference(lambda: krippendorff.alpha(data, level_of_measurement=level))
    pairable = bool(((~np.isnan(data)).sum(axis=0) >= 2).any())
    if isinstance(ref, ValueError) and "more than one value in the domain" in str(ref):
        # One value in the whole matrix: undefined; nan here (documented), unless nothing is
        # pairable, which is an error here as in the package.
        if pairable:
            assert math.isnan(krippendorff_alpha(data, level))
            return
        ref = ValueError("no pairable unit")
    if isinstance(ref, ValueError):
        assert not pairable
        try:
            krippendorff_alpha(data, level)
        except ValueError:
            return
        raise AssertionError(f"krippendorff raised {ref!r}, krippendorff_alpha did not")
    ours = krippendorff_alpha(data, level)
    assert same(ours, float(ref)), (ours, ref)


# --- annotations -------------------------------------------------------------------------------


@st.composite
def annotation_sets(draw: st.DrawFn) -> list[Annotation]:
    n_annotators = draw(st.integers(2, 5))
    n_items = draw(st.integers(1, 15))
    pool = draw(st.sampled_from([INT_LABELS[:3], STR_LABELS]))
    anns = []
    for item in range(n_items):
        for ann in range(n_annotators):
            if draw(st.booleans()):
                label = draw(st.sampled_from(pool))
                anns.append(Annotation(f"i{item}", f"a{ann}", label, class_id=str(label)))
    return anns


@SETTINGS
@given(annotation_sets())
def test_pairwise_and_summary_equal_references(anns: list[Annotation]) -> None:
    by_annotator: dict[str, dict[str, Any]] = {}
    for a in anns:
        by_annotator.setdefault(a.annotator_id, {})[a.item_id] = a.label
    expected = {}
    ids = sorted(by_annotator)
    for i, x in enumerate(ids):
        for y in ids[i + 1 :]:
            shared = sorted(by_annotator[x].keys() & by_annotator[y].keys())
            if shared:
                ref = reference(
                    lambda x=x, y=y, shared=shared: cohen_kappa_score(
                        [by_annotator[x][s] for s in shared], [by_annotator[y][s] for s in shared]
                    )
                )
                expected[(x, y)] = (ref, len(shared))
    got = pairwise_cohen(anns)
    assert got.keys() == expected.keys()
    for key, (kappa, n) in got.items():
        assert n == expected[key][1]
        assert same(kappa, expected[key][0]), (key, kappa, expected[key])
    if not anns:
        return

    summary = agreement_summary(anns)
    items = sorted({a.item_id for a in anns})
    codes = {lab: i for i, lab in enumerate(sorted({a.label for a in anns}))}
    matrix = np.full((len(ids), len(items)), np.nan)
    for a in anns:
        matrix[ids.index(a.annotator_id), items.index(a.item_id)] = codes[a.label]
    assert (summary.items, summary.annotators) == (len(items), len(ids))
    ref_alpha = reference(lambda: krippendorff.alpha(matrix, level_of_measurement="nominal"))
    if isinstance(ref_alpha, ValueError):
        # Undefined (one value, or no pairable unit): the summary reports nan, never raises.
        assert math.isnan(summary.krippendorff_alpha)
    else:
        assert same(summary.krippendorff_alpha, float(ref_alpha))
    per_item = (~np.isnan(matrix)).sum(axis=0)
    if per_item.min() >= 2 and per_item.min() == per_item.max():
        rows = [[v for v in matrix[:, j] if not np.isnan(v)] for j in range(len(items))]
        ref_fleiss = reference(lambda: sm_fleiss_kappa(aggregate_raters(np.asarray(rows))[0]))
        assert summary.fleiss_kappa is not None
        assert same(summary.fleiss_kappa, ref_fleiss)
    else:
        assert summary.fleiss_kappa is None
