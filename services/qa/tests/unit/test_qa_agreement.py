"""Agreement metrics: known values, edge cases, and the annotation-level reports.

Randomized equality with scikit-learn, statsmodels and krippendorff is in
``test_qa_agreement_property.py``; this file pins published examples, every documented edge
case (undefined -> nan, bad input -> ValueError) and the semantics of ``pairwise_cohen``,
``agreement_summary`` and ``windowed`` on small hand-checked annotation sets.
"""

from __future__ import annotations

import ast
import math
import warnings
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from labelops_qa.domain import agreement
from labelops_qa.domain.agreement import (
    LEVELS,
    AgreementSummary,
    Annotation,
    agreement_summary,
    cohen_kappa,
    fleiss_kappa,
    fleiss_kappa_from_ratings,
    krippendorff_alpha,
    pairwise_cohen,
    windowed,
)
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

TOL = 1e-9

# krippendorff's docstring examples (Krippendorff 2011, and Hayes & Krippendorff 2007 p. 8).
K_NOMINAL = np.array(
    [
        [np.nan, np.nan, np.nan, np.nan, np.nan, 3, 4, 1, 2, 1, 1, 3, 3, np.nan, 3],
        [1, np.nan, 2, 1, 3, 3, 4, 3, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan],
        [np.nan, np.nan, 2, 1, 3, 4, 4, np.nan, 2, 1, 1, 3, 3, np.nan, 4],
    ]
)
K_ORDINAL = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, np.nan, np.nan, np.nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, np.nan, 3],
        [np.nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, np.nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, np.nan],
    ]
)
# Fleiss (1971) as on Wikipedia: 10 items, 14 raters, 5 categories; kappa 0.210.
FLEISS_TABLE = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)


def close(x: float, y: float) -> bool:
    return math.isclose(x, y, rel_tol=0.0, abs_tol=TOL)


def ref_alpha(data: np.ndarray, level: str) -> float:
    return float(krippendorff.alpha(data, level_of_measurement=level))


# --- Cohen -------------------------------------------------------------------------------------


def test_cohen_kappa_sklearn_docstring_example() -> None:
    y1 = ["negative", "positive", "negative", "neutral", "positive"]
    y2 = ["negative", "positive", "negative", "neutral", "negative"]
    assert close(cohen_kappa(y1, y2), 0.6875)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_kappa_weights_and_label_order(weights: str | None) -> None:
    a = [0, 1, 2, 3, 3, 1, 0, 2]
    b = [0, 2, 2, 3, 1, 1, 0, 3]
    assert close(cohen_kappa(a, b, weights=weights), cohen_kappa_score(a, b, weights=weights))
    # labels reorder the categories (weights follow) and drop pairs outside them.
    labels = [3, 0, 2]
    assert close(
        cohen_kappa(np.asarray(a), np.asarray(b), labels=labels, weights=weights),
        cohen_kappa_score(a, b, labels=labels, weights=weights),
    )


def test_cohen_kappa_hand_computed() -> None:
    # po = 3/4; margins a: x 2, y 2; b: x 1, y 3 -> pe = (2 + 6) / 16 = 1/2; kappa = 1/2.
    assert close(cohen_kappa(["x", "x", "y", "y"], ["x", "y", "y", "y"]), 0.5)
    # Perfect disagreement on two categories used equally: po = 0, pe = 1/2 -> -1.
    assert close(cohen_kappa([0, 1, 0, 1], [1, 0, 1, 0]), -1.0)


def test_cohen_kappa_undefined_is_nan_like_sklearn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Both raters used one and the same category: pe == 1.
        assert math.isnan(cohen_kappa_score(["a"] * 4, ["a"] * 4))
        assert math.isnan(cohen_kappa(["a"] * 4, ["a"] * 4))
        # No pair survives the labels filter.
        assert math.isnan(cohen_kappa_score([1, 2, 1], [3, 3, 3], labels=[1, 2]))
        assert math.isnan(cohen_kappa([1, 2, 1], [3, 3, 3], labels=[1, 2]))
    # One category each, but different ones: defined (kappa 0), as in sklearn.
    assert cohen_kappa(["a"] * 3, ["b"] * 3) == 0.0


def test_cohen_kappa_no_warning_on_nan() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(cohen_kappa([1, 1], [1, 1], weights="quadratic"))


def test_cohen_kappa_accepts_any_hashable_labels() -> None:
    # Mixed types cannot be ordered: fine unweighted (kappa ignores order), 1 and "1" differ.
    a = [1, "1", (2, 3), 1, None]
    b = [1, "1", (2, 3), "1", None]
    codes = {1: 0, "1": 1, (2, 3): 2, None: 3}
    assert close(cohen_kappa(a, b), cohen_kappa_score([codes[v] for v in a], [codes[v] for v in b]))
    with pytest.raises(ValueError, match="ordered categories"):
        cohen_kappa(a, b, weights="linear")
    # ...and with labels giving the order, weighted works.
    order = [None, 1, "1", (2, 3)]
    idx = {v: i for i, v in enumerate(order)}
    assert close(
        cohen_kappa(a, b, labels=order, weights="linear"),
        cohen_kappa_score([idx[v] for v in a], [idx[v] for v in b], labels=[0, 1, 2, 3],
                          weights="linear"),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "match"),
    [
        ([], [], {}, "at least one item"),
        ([1, 2], [1], {}, "same length"),
        ([1, 2], [1, 2], {"weights": "cubic"}, "weights must be one of"),
        ([1, 2], [1, 2], {"labels": []}, "at least one label"),
        ([1, 2], [1, 2], {"labels": [1, 1, 2]}, "duplicates"),
        ([1, 2], [3, 4], {"labels": [3, 4]}, "present in a"),
        ([[1, 2]], [[1, 2]], {}, "one-dimensional"),
    ],
)
def test_cohen_kappa_rejects_bad_input(a: list, b: list, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cohen_kappa(np.asarray(a) if a and isinstance(a[0], list) else a, b, **kwargs)


# --- Fleiss ------------------------------------------------------------------------------------


def test_fleiss_kappa_wikipedia_example() -> None:
    assert round(fleiss_kappa(FLEISS_TABLE), 3) == 0.210
    for method in ("fleiss", "randolph"):
        assert close(fleiss_kappa(FLEISS_TABLE, method), sm_fleiss_kappa(FLEISS_TABLE, method))


def test_fleiss_kappa_from_ratings_matches_table() -> None:
    ratings = [["a", "b", "b"], ["a", "a", "a"], ["c", "b", "c"], ["b", "b", "a"]]
    table = np.array([[1, 2, 0], [3, 0, 0], [0, 1, 2], [1, 2, 0]])
    assert close(fleiss_kappa_from_ratings(ratings), fleiss_kappa(table))
    assert close(fleiss_kappa_from_ratings(np.asarray(ratings)), fleiss_kappa(table))


def test_fleiss_kappa_single_category_is_nan() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels: 0/0 RuntimeWarning
        # Fleiss: one category holds every rating -> p_e = 1 -> undefined.
        for table in ([[3, 0], [3, 0]], [[3], [3]]):
            assert math.isnan(sm_fleiss_kappa(np.asarray(table), "fleiss"))
            assert math.isnan(fleiss_kappa(np.asarray(table), "fleiss"))
        # Randolph: p_e = 1 / columns, undefined only for a one-column table; with an unused
        # second column the same ratings are perfect agreement.
        assert math.isnan(sm_fleiss_kappa(np.asarray([[3], [3]]), "randolph"))
        assert math.isnan(fleiss_kappa(np.asarray([[3], [3]]), "randolph"))
        assert fleiss_kappa(np.asarray([[3, 0], [3, 0]]), "randolph") == 1.0
    assert math.isnan(fleiss_kappa_from_ratings([["x", "x"], ["x", "x"]]))


@pytest.mark.parametrize(
    ("table", "kwargs", "match"),
    [
        (np.zeros((0, 3)), {}, "empty"),
        (np.zeros((3, 0)), {}, "empty"),
        (np.array([1, 2]), {}, "2-D"),
        (np.array([[2, 1], [1, 1]]), {}, "same number of ratings"),
        (np.array([[1, 0], [0, 1]]), {}, ">= 2 ratings"),
        (np.array([[3, -1], [1, 1]]), {}, "non-negative"),
        (np.array([[1.0, np.inf], [1, 1]]), {}, "finite"),
        (FLEISS_TABLE, {"method": "cohen"}, "method must be one of"),
    ],
)
def test_fleiss_kappa_rejects_bad_tables(table: np.ndarray, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fleiss_kappa(table, **kwargs)


@pytest.mark.parametrize(
    ("ratings", "match"),
    [
        ([], "at least one item"),
        ([["a"], ["b"]], ">= 2 ratings"),
        ([["a", "b"], ["a"]], "same number of ratings"),
        (np.array(["a", "b"]), "2-D"),
    ],
)
def test_fleiss_kappa_from_ratings_rejects_bad_input(ratings: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fleiss_kappa_from_ratings(ratings)  # type: ignore[arg-type]


# --- Krippendorff ------------------------------------------------------------------------------


def test_krippendorff_alpha_published_examples() -> None:
    assert round(krippendorff_alpha(K_NOMINAL, "nominal"), 6) == 0.691358
    assert round(krippendorff_alpha(K_NOMINAL, "interval"), 6) == 0.810845
    assert round(krippendorff_alpha(K_ORDINAL, "ordinal"), 3) == 0.815
    assert round(krippendorff_alpha(K_ORDINAL, "ratio"), 3) == 0.797
    for data in (K_NOMINAL, K_ORDINAL):
        for level in LEVELS:
            assert close(krippendorff_alpha(data, level), ref_alpha(data, level)), level


def test_krippendorff_alpha_ignores_unpairable_units() -> None:
    # Column 2 has one value: not pairable, so a wild value there changes nothing.
    base = np.array([[1.0, 2.0, np.nan, 3.0], [1.0, 3.0, np.nan, 3.0]])
    lone = base.copy()
    lone[0, 2] = 99.0
    for level in LEVELS:
        assert close(krippendorff_alpha(lone, level), krippendorff_alpha(base, level))
        assert close(krippendorff_alpha(lone, level), ref_alpha(lone, level))


def test_krippendorff_alpha_single_value_is_nan() -> None:
    one_value = np.array([[2.0, 2.0, np.nan], [2.0, 2.0, 2.0]])
    # The package raises here; alpha is undefined (no expected disagreement) -> nan, documented.
    with pytest.raises(ValueError, match="more than one value in the domain"):
        krippendorff.alpha(one_value, level_of_measurement="nominal")
    # A second value only in an unpairable unit: the package's own answer is nan.
    second_unpaired = np.array([[2.0, 2.0, 5.0], [2.0, 2.0, np.nan]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert math.isnan(krippendorff.alpha(second_unpaired, level_of_measurement="nominal"))
    for level in LEVELS:
        assert math.isnan(krippendorff_alpha(one_value, level))
        assert math.isnan(krippendorff_alpha(second_unpaired, level))


@pytest.mark.parametrize(
    ("data", "kwargs", "match"),
    [
        (np.empty((0, 0)), {}, "empty"),
        (np.array([1.0, 2.0]), {}, "2-D"),
        (np.array([[1.0, np.nan], [np.nan, 2.0]]), {}, "two raters"),
        (np.array([[1.0, 2.0]]), {}, "two raters"),
        (np.array([[1.0, np.inf], [1.0, 2.0]]), {}, "infinities"),
        (np.array([["a", "b"], ["a", "b"]]), {}, "numeric"),
        (K_NOMINAL, {"level": "cardinal"}, "level must be one of"),
    ],
)
def test_krippendorff_alpha_rejects_bad_input(data: np.ndarray, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        krippendorff_alpha(data, **kwargs)


def test_krippendorff_alpha_many_distinct_values_scales() -> None:
    # 3 raters x 20,000 units of continuous values (~50k distinct): the package's
    # units x values x values array would need ~10^13 cells; the sparse coincidence matrix
    # needs a few per unit. Checked against the textbook pairwise formula for interval.
    rng = np.random.default_rng(7)
    truth = rng.normal(size=20_000)
    data = truth + rng.normal(scale=0.5, size=(3, truth.size))
    data[rng.random(data.shape) < 0.2] = np.nan
    m = (~np.isnan(data)).sum(axis=0)
    x = data[:, m >= 2]
    mk = m[m >= 2]
    filled = np.nan_to_num(x)
    present = ~np.isnan(x)
    # sum over ordered within-unit pairs (x_i - x_j)^2 = 2 (m sum x^2 - (sum x)^2).
    within = 2 * (mk * (filled**2).sum(axis=0) - filled.sum(axis=0) ** 2) / (mk - 1)
    values = x[present]
    n = values.size
    total = 2 * n * ((values - values.mean()) ** 2).sum()
    expected = 1 - (n - 1) * within.sum() / total
    assert math.isclose(krippendorff_alpha(data, "interval"), expected, abs_tol=1e-9)
    assert 0.7 < expected < 0.9  # signal variance 1 vs noise 0.25
    assert 0.0 <= krippendorff_alpha(data, "ordinal") <= 1.0


# --- annotations -------------------------------------------------------------------------------


def ann(item: str, who: str, label: object, cls: str = "", at: float = 0.0) -> Annotation:
    return Annotation(item, who, label, cls, at)


# a and b share i1..i4 (kappa 1/2, see test_cohen_kappa_hand_computed); c shares i1 with a.
PAIRS = [
    ann("i1", "b", "x"),
    ann("i1", "a", "x"),
    ann("i2", "a", "x"),
    ann("i2", "b", "y"),
    ann("i3", "a", "y"),
    ann("i3", "b", "y"),
    ann("i4", "a", "y"),
    ann("i4", "b", "y"),
    ann("i1", "c", "y"),
    ann("i5", "c", "x"),
]


def test_pairwise_cohen_shared_items_and_min_items() -> None:
    got = pairwise_cohen(PAIRS)
    assert list(got) == [("a", "b"), ("a", "c"), ("b", "c")]  # sorted ids, a < b
    kappa, n = got[("a", "b")]
    assert n == 4 and close(kappa, 0.5)
    # One shared item, different labels: defined, kappa 0 (as sklearn); same labels: nan.
    assert got[("a", "c")] == (0.0, 1) and got[("b", "c")] == (0.0, 1)
    (kappa_same, n_same) = pairwise_cohen([ann("i1", "a", "x"), ann("i1", "c", "x")])[("a", "c")]
    assert n_same == 1 and math.isnan(kappa_same)
    assert pairwise_cohen(PAIRS, min_items=2) == {("a", "b"): got[("a", "b")]}
    assert pairwise_cohen(PAIRS, min_items=5) == {}
    assert pairwise_cohen([]) == {}
    with pytest.raises(ValueError, match="min_items"):
        pairwise_cohen(PAIRS, min_items=0)


def test_pairwise_cohen_latest_label_wins() -> None:
    # a re-labels i2 x -> y later: now identical to b (two categories used) -> kappa 1.
    relabel = [*PAIRS, ann("i2", "a", "y", at=10.0)]
    assert pairwise_cohen(relabel)[("a", "b")] == (1.0, 4)
    # A re-label with an *older* timestamp (late delivery) does not replace the newer one.
    stale = [ann("i2", "a", "y", at=10.0), *PAIRS[:-2], ann("i2", "a", "x", at=5.0)]
    assert pairwise_cohen(stale)[("a", "b")] == (1.0, 4)


def test_agreement_summary_ragged_has_no_fleiss() -> None:
    s = agreement_summary(PAIRS)
    assert isinstance(s, AgreementSummary)
    assert (s.items, s.annotators) == (5, 3)
    assert s.fleiss_kappa is None  # i1 has 3 ratings, i2..i4 2, i5 1
    assert s.pairwise == pairwise_cohen(PAIRS)
    # alpha over annotators x items, x=0, y=1 (i5 is unpairable and ignored).
    matrix = np.array(
        [
            [0, 0, 1, 1, np.nan],
            [0, 1, 1, 1, np.nan],
            [1, np.nan, np.nan, np.nan, 0],
        ]
    )
    assert close(s.krippendorff_alpha, ref_alpha(matrix, "nominal"))
    assert close(s.per_class[""], s.krippendorff_alpha)  # default class_id: one group


def test_agreement_summary_balanced_has_fleiss() -> None:
    anns = [a for a in PAIRS if a.annotator_id != "c"]  # 4 items x 2 ratings
    s = agreement_summary(anns)
    assert s.fleiss_kappa is not None
    ratings = [["x", "x"], ["x", "y"], ["y", "y"], ["y", "y"]]
    assert close(s.fleiss_kappa, fleiss_kappa_from_ratings(ratings))
    # A single-rated item makes it unbalanced even when the rest are equal.
    assert agreement_summary([*anns, ann("i9", "a", "x")]).fleiss_kappa is None


def test_agreement_summary_per_class() -> None:
    vehicles = [
        ann("v1", "a", "car", "vehicle"),
        ann("v1", "b", "car", "vehicle"),
        ann("v2", "a", "truck", "vehicle"),
        ann("v2", "b", "truck", "vehicle"),
        ann("v3", "a", "car", "vehicle"),
        ann("v3", "b", "truck", "vehicle"),
    ]
    animals = [
        ann("p1", "a", "cat", "animal"),
        ann("p1", "b", "dog", "animal"),
        ann("p2", "a", "dog", "animal"),
        ann("p2", "b", "cat", "animal"),
    ]
    only_one = [ann("s1", "a", "stop", "sign"), ann("s1", "b", "stop", "sign")]
    s = agreement_summary(vehicles + animals + only_one)
    assert set(s.per_class) == {"vehicle", "animal", "sign"}
    veh = np.array([[0, 1, 0], [0, 1, 1]], dtype=float)  # car 0, truck 1
    anim = np.array([[0, 1], [1, 0]], dtype=float)  # cat 0, dog 1
    assert close(s.per_class["vehicle"], ref_alpha(veh, "nominal"))
    assert close(s.per_class["animal"], ref_alpha(anim, "nominal"))
    assert math.isnan(s.per_class["sign"])  # one value in the class: undefined
    assert s.fleiss_kappa is not None  # every item has exactly 2 ratings


def test_agreement_summary_interval_level() -> None:
    scores = [(0, "a", 1), (0, "b", 2), (1, "a", 4), (1, "b", 4), (1, "c", 5), (2, "c", 2.5)]
    anns = [ann(f"i{i}", who, v) for i, who, v in scores] + [ann("i2", "a", 3)]
    matrix = np.array([[1, 4, 3], [2, 4, np.nan], [np.nan, 5, 2.5]])
    for level in LEVELS:
        got = agreement_summary(anns, level=level).krippendorff_alpha
        assert close(got, ref_alpha(matrix, level)), level
    with pytest.raises(ValueError, match="numeric labels"):
        agreement_summary([*anns, ann("i3", "a", "high")], level="interval")


def test_agreement_summary_without_overlap_is_undefined_not_an_error() -> None:
    s = agreement_summary([ann("i1", "a", "x"), ann("i2", "b", "y")])
    assert (s.items, s.annotators, s.pairwise, s.fleiss_kappa) == (2, 2, {}, None)
    assert math.isnan(s.krippendorff_alpha)
    with pytest.raises(ValueError, match="at least one annotation"):
        agreement_summary([])
    with pytest.raises(ValueError, match="level must be one of"):
        agreement_summary(PAIRS, level="fuzzy")


def test_windowed_tumbling_windows() -> None:
    w0 = [ann("i1", "a", "x", at=1), ann("i1", "b", "x", at=59.9), ann("i2", "a", "y", at=3)]
    w0 += [ann("i2", "b", "y", at=4)]
    lonely = [ann("i3", "a", "x", at=60), ann("i4", "b", "y", at=119)]  # no shared item
    w2 = [ann("i1", "a", "y", at=125), ann("i1", "c", "x", at=130)]
    got = windowed(w2 + lonely + w0, 60)
    assert [start for start, _ in got] == [0.0, 120.0]
    assert got[0][1] == agreement_summary(w0)
    assert got[1][1] == agreement_summary(w2)
    # Each window uses its own annotations: a's later y for i1 does not leak into window 0.
    assert close(got[0][1].krippendorff_alpha, 1.0)
    assert got[1][1].pairwise.keys() == {("a", "c")}
    assert windowed([], 60) == []


def test_windowed_alignment_and_validation() -> None:
    anns = [ann("i1", "a", "x", at=-5), ann("i1", "b", "y", at=-1), ann("i2", "a", "x", at=0)]
    anns += [ann("i2", "b", "x", at=9.99), ann("i3", "a", "x", at=10), ann("i3", "b", "x", at=11)]
    got = windowed(anns, 10)
    assert [start for start, _ in got] == [-10.0, 0.0, 10.0]
    assert all(isinstance(start, float) for start, _ in got)
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="window_s"):
            windowed(anns, bad)
    with pytest.raises(ValueError, match="finite"):
        windowed([ann("i1", "a", "x", at=math.nan)], 10)


def test_module_imports_no_reference_implementation() -> None:
    # Every module of the package; imports within it (relative) are ours.
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for module in Path(agreement.__file__).parent.glob("*.py")
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8")))
        if isinstance(node, ast.Import) or (isinstance(node, ast.ImportFrom) and not node.level)
        for alias in node.names
    }
    roots = {name.split(".")[0] for name in imported}
    assert roots <= {"__future__", "math", "numbers", "collections", "dataclasses", "typing",
                     "numpy", "scipy"}, roots  # fmt: skip
