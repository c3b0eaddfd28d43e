"""Geometric consensus: boxes, RLE masks, text spans, keypoints.

Expected values are computed by hand in the comments (IoU, RLE counts, OKS) or follow from
the construction of the data (jittered copies of known objects with fixed seeds).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from labelops_qa.domain.geometry import (
    COCO_PERSON_SIGMAS,
    RLE,
    Box,
    FusedBox,
    Keypoints,
    Span,
    box_agreement,
    fuse_boxes,
    fuse_keypoints,
    fuse_spans,
    iou_matrix,
    mask_iou,
    oks,
    rle_decode,
    rle_encode,
    vote_masks,
)
from labelops_qa.domain.geometry.spans import _majority_span

# --- IoU ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((0, 0, 2, 2), (1, 1, 2, 2), 1 / 7),  # overlap 1x1, union 4 + 4 - 1
        ((0, 0, 10, 10), (5, 0, 10, 10), 1 / 3),  # overlap 50, union 150
        ((0, 0, 4, 4), (1, 1, 2, 2), 0.25),  # contained: 4 / 16
        ((0, 0, 4, 2), (0, 0, 2, 4), 1 / 3),  # a cross: overlap 4, union 8 + 8 - 4
        ((0, 0, 2, 2), (2, 0, 2, 2), 0.0),  # touching edges
        ((0, 0, 2, 2), (5, 5, 1, 1), 0.0),  # disjoint
        ((3, 4, 5, 6), (3, 4, 5, 6), 1.0),  # identical
        ((1, 1, 0, 0), (1, 1, 0, 0), 0.0),  # degenerate: no union, never matches
    ],
)
def test_iou_hand_computed(a: tuple[float, ...], b: tuple[float, ...], expected: float) -> None:
    m = iou_matrix([Box("c", *a)], [Box("c", *b)])
    assert m.shape == (1, 1)
    assert m[0, 0] == pytest.approx(expected)
    assert iou_matrix([Box("c", *b)], [Box("c", *a)])[0, 0] == pytest.approx(expected)


def scalar_iou(a: Box, b: Box) -> float:
    iw = max(0.0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    ih = max(0.0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    union = a.w * a.h + b.w * b.h - iw * ih
    return iw * ih / union if union > 0 else 0.0


def test_iou_matrix_matches_pairwise_reference_and_ignores_class() -> None:
    rng = np.random.default_rng(0)
    a = [Box("a", *rng.uniform(0, 50, 2), *rng.uniform(1, 30, 2)) for _ in range(7)]
    b = [Box("b", *rng.uniform(0, 50, 2), *rng.uniform(1, 30, 2)) for _ in range(5)]
    m = iou_matrix(a, b)
    assert m.shape == (7, 5)
    np.testing.assert_allclose(m, [[scalar_iou(x, y) for y in b] for x in a], rtol=1e-12)
    assert iou_matrix([], b).shape == (0, 5)
    assert iou_matrix(a, []).shape == (7, 0)


def test_box_validation() -> None:
    with pytest.raises(ValueError):
        Box("c", 0, 0, -1, 2)
    with pytest.raises(ValueError):
        Box("c", math.nan, 0, 1, 2)
    with pytest.raises(ValueError):
        Box("c", 0, 0, 1, 2, confidence=-0.5)


# --- fuse_boxes ---------------------------------------------------------------------------------

CAT = (10.0, 20.0, 40.0, 30.0)
DOG = (100.0, 60.0, 50.0, 80.0)


def jittered(rng: np.random.Generator, cls: str, xywh: tuple[float, ...]) -> Box:
    return Box(cls, *(np.asarray(xywh) + rng.normal(0.0, 1.5, 4)))


def three_annotators(seed: int) -> list[list[Box]]:
    """Three annotators draw the cat and the dog (jittered, in different orders); annotator 1
    adds a spurious box."""
    rng = np.random.default_rng(seed)
    return [
        [jittered(rng, "cat", CAT), jittered(rng, "dog", DOG)],
        [jittered(rng, "dog", DOG), Box("cat", 300, 300, 20, 20), jittered(rng, "cat", CAT)],
        [jittered(rng, "cat", CAT), jittered(rng, "dog", DOG)],
    ]


@pytest.mark.parametrize("seed", range(5))
def test_fuse_boxes_majority_drops_spurious_box(seed: int) -> None:
    anns = three_annotators(seed)
    fused = fuse_boxes(anns)
    assert [(f.class_id, f.support) for f in fused] == [("cat", 3), ("dog", 3)]
    cat, dog = fused
    assert cat.members == ((0, 0), (1, 2), (2, 0))
    assert dog.members == ((0, 1), (1, 0), (2, 1))
    for f, truth in ((cat, CAT), (dog, DOG)):
        np.testing.assert_allclose((f.x, f.y, f.w, f.h), truth, atol=4.0)
        # The fused box is the mean of its members (all confidences 1).
        members = np.array([[anns[a][i].x, anns[a][i].w] for a, i in f.members])
        assert (f.x, f.w) == pytest.approx(tuple(members.mean(axis=0)))
        # Score = mean IoU with the fused box x support fraction (3 / 3 here).
        member_boxes = [anns[a][i] for a, i in f.members]
        fused_box = [Box(f.class_id, f.x, f.y, f.w, f.h)]
        assert f.score == pytest.approx(float(iou_matrix(member_boxes, fused_box).mean()))
        assert 0.8 < f.score <= 1.0


def test_fuse_boxes_min_support_one_keeps_the_spurious_box() -> None:
    fused = fuse_boxes(three_annotators(0), min_support=1)
    spurious = [f for f in fused if f.support == 1]
    assert [(f.x, f.y, f.w, f.h, f.members) for f in spurious] == [(300, 300, 20, 20, ((1, 1),))]
    # Its own IoU is 1, but only one annotator in three drew it.
    assert spurious[0].score == pytest.approx(1 / 3)


def test_fuse_boxes_annotator_that_drew_nothing_counts_against() -> None:
    box = Box("cat", 0, 0, 10, 10)
    assert fuse_boxes([[box], [box], []]) != []  # 2 of 3
    assert fuse_boxes([[box], [], []]) == []  # 1 of 3
    assert fuse_boxes([[box], [box], [], []]) == []  # 2 of 4 is not a majority
    (f,) = fuse_boxes([[box], [box], [], []], min_support=2)
    assert f.score == pytest.approx(0.5)
    assert fuse_boxes([]) == []


def test_fuse_boxes_same_class_only() -> None:
    geometry = (0, 0, 10, 10)
    fused = fuse_boxes([[Box("cat", *geometry)], [Box("dog", *geometry)]], min_support=1)
    assert sorted((f.class_id, f.support) for f in fused) == [("cat", 1), ("dog", 1)]


def test_fuse_boxes_per_class_thresholds() -> None:
    # Shifted by 2 along x, 10 x 10 boxes: IoU = 8 / 12 = 0.667.
    def pair(cls: str) -> tuple[Box, Box]:
        return Box(cls, 0, 0, 10, 10), Box(cls, 2, 0, 10, 10)

    (car0, car1), (person0, person1), (bike0, bike1) = pair("car"), pair("person"), pair("bike")
    anns = [[car0, person0, bike0], [car1, person1, bike1]]

    def supports(threshold: float | dict[str, float]) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for f in fuse_boxes(anns, iou_threshold=threshold, min_support=1):
            out.setdefault(f.class_id, []).append(f.support)
        return out

    assert supports(0.5) == {"bike": [2], "car": [2], "person": [2]}
    assert supports(0.7) == {"bike": [1, 1], "car": [1, 1], "person": [1, 1]}
    # Per class; "*" is the default for unnamed classes; without "*" the default is 0.5.
    assert supports({"car": 0.7, "*": 0.6}) == {"bike": [2], "car": [1, 1], "person": [2]}
    assert supports({"car": 0.5, "*": 0.7}) == {"bike": [1, 1], "car": [2], "person": [1, 1]}
    assert supports({"person": 0.7}) == {"bike": [2], "car": [2], "person": [1, 1]}
    # The threshold itself matches (with slack for round-off: IoU 2/3 computed in floats).
    assert supports({"*": 2 / 3}) == {"bike": [2], "car": [2], "person": [2]}
    for bad in (0.0, 1.5, {"car": -0.1}):
        with pytest.raises(ValueError):
            fuse_boxes(anns, iou_threshold=bad)


def test_fuse_boxes_never_puts_two_boxes_of_one_annotator_in_a_cluster() -> None:
    # Annotator 0 drew the same object twice (IoU 0.9 between its own boxes).
    anns = [
        [Box("cat", 0, 0, 10, 10), Box("cat", 0, 0, 10, 9)],
        [Box("cat", 0, 0, 10, 10)],
        [Box("cat", 0, 0, 10, 9.5)],
    ]
    fused = fuse_boxes(anns, min_support=1)
    assert sorted(f.support for f in fused) == [1, 3]
    for f in fused:
        annotators = [a for a, _ in f.members]
        assert len(annotators) == len(set(annotators))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 5),
    threshold=st.sampled_from([0.1, 0.3, 0.5, 0.9]),
)
def test_fuse_boxes_clusters_partition_the_boxes(seed: int, n: int, threshold: float) -> None:
    rng = np.random.default_rng(seed)
    anns = [
        [
            Box(str(rng.choice(["a", "b"])), *rng.uniform(0, 30, 2), *rng.uniform(1, 20, 2))
            for _ in range(rng.integers(0, 6))
        ]
        for _ in range(n)
    ]
    fused = fuse_boxes(anns, iou_threshold=threshold, min_support=1)
    seen = [m for f in fused for m in f.members]
    assert sorted(seen) == [(a, i) for a in range(n) for i in range(len(anns[a]))]
    for f in fused:
        annotators = [a for a, _ in f.members]
        assert len(annotators) == len(set(annotators)) == f.support
        assert {anns[a][i].class_id for a, i in f.members} == {f.class_id}
        assert 0.0 <= f.score <= f.support / n + 1e-12
    keys = [(f.class_id, f.y, f.x) for f in fused]
    assert keys == sorted(keys)
    assert fuse_boxes(anns, iou_threshold=threshold, min_support=1) == fused  # deterministic


def test_fuse_boxes_hungarian_beats_greedy() -> None:
    # Annotator 0's two boxes (x = 0 and x = 3) are clusters C0, C1. Annotator 1's box at
    # x = 1.2 is closest to C0 (IoU 8.8/11.2 = .786 vs 8.2/11.8 = .695), but its box at x = -3
    # can only match C0 (IoU 7/13 = .538; with C1 4/16 = .25). Greedy would take (1.2, C0) and
    # leave -3 alone; the optimal assignment uses both: .695 + .538 > .786.
    anns = [
        [Box("c", 0, 0, 10, 10), Box("c", 3, 0, 10, 10)],
        [Box("c", 1.2, 0, 10, 10), Box("c", -3, 0, 10, 10)],
    ]
    fused = fuse_boxes(anns, min_support=1)
    assert [f.members for f in fused] == [((0, 0), (1, 1)), ((0, 1), (1, 0))]


def test_fuse_boxes_merges_clusters_split_by_annotator_order() -> None:
    # 20 x 20 boxes. The first two annotators are 4 px apart diagonally: IoU 16^2 / (800 - 256)
    # = .47, so they open two clusters. Annotator 2 (1.8 px) joins the first (.71 vs .66),
    # annotator 3 (3 px) the second (.82 vs .67). The centroids (0.9 and 3.5) have IoU .61:
    # one object drawn by all four, which the merge pass restores. Without it, no cluster
    # would reach the majority of 3 and the object would be lost.
    anns = [[Box("cat", d, d, 20, 20)] for d in (0.0, 4.0, 1.8, 3.0)]
    (f,) = fuse_boxes(anns)
    assert f.support == 4 and f.members == ((0, 0), (1, 0), (2, 0), (3, 0))
    assert (f.x, f.y) == pytest.approx((2.2, 2.2))
    # Clusters that share an annotator are never merged, however close.
    twice = [[Box("cat", 0, 0, 20, 20), Box("cat", 4, 4, 20, 20)], [Box("cat", 2, 2, 20, 20)]]
    assert sorted(f.support for f in fuse_boxes(twice, min_support=1)) == [1, 2]


def test_fuse_boxes_confidence_weighting() -> None:
    # IoU of the two boxes: 8 x 9 / (100 + 110 - 72) = .52, so they match.
    sure, unsure = Box("cat", 0, 0, 10, 10, 0.9), Box("cat", 2, 1, 10, 11, 0.1)
    (f,) = fuse_boxes([[sure], [unsure]])
    # Weighted 0.9 / 0.1: x = 0.2, y = 0.1, h = 10.1 (plain mean: x = 1, y = 0.5, h = 10.5).
    assert (f.x, f.y, f.w, f.h) == pytest.approx((0.2, 0.1, 10.0, 10.1))
    (flipped,) = fuse_boxes([[Box("cat", 0, 0, 10, 10, 0.1)], [Box("cat", 2, 1, 10, 11, 0.9)]])
    assert (flipped.x, flipped.y, flipped.h) == pytest.approx((1.8, 0.9, 10.9))
    (even,) = fuse_boxes([[Box("cat", 0, 0, 10, 10)], [Box("cat", 2, 1, 10, 11)]])
    assert (even.x, even.y, even.h) == pytest.approx((1.0, 0.5, 10.5))
    # All confidences 0: nothing to prefer, plain mean.
    (zero,) = fuse_boxes([[Box("cat", 0, 0, 10, 10, 0.0)], [Box("cat", 2, 1, 10, 11, 0.0)]])
    assert zero.x == pytest.approx(1.0)


def test_fuse_boxes_order() -> None:
    anns = [
        [Box("dog", 0, 0, 5, 5), Box("cat", 50, 10, 5, 5), Box("cat", 0, 10, 5, 5)],
        [Box("cat", 0, 40, 5, 5)],
    ]
    fused = fuse_boxes(anns, min_support=1)
    assert [(f.class_id, f.y, f.x) for f in fused] == [
        ("cat", 10, 0),
        ("cat", 10, 50),
        ("cat", 40, 0),
        ("dog", 0, 0),
    ]
    assert all(isinstance(f, FusedBox) for f in fused)


def test_box_agreement() -> None:
    a = [Box("cat", 0, 0, 10, 10), Box("dog", 20, 20, 10, 10)]
    b = [Box("cat", 1, 0, 10, 10), Box("dog", 20, 21, 10, 10), Box("cat", 60, 60, 5, 5)]
    assert box_agreement([a, a]) == 1.0
    assert box_agreement([a, b]) == pytest.approx(2 * 2 / 5)  # 2 matches, 2 + 3 boxes
    # Pairs (a, a) = 1, (a, b) = .8, (a, b) = .8.
    assert box_agreement([a, a, b]) == pytest.approx((1 + 0.8 + 0.8) / 3)
    assert box_agreement([a, [Box("fox", 0, 0, 10, 10)]]) == 0.0  # right place, wrong class
    assert box_agreement([[], []]) == 1.0  # both saw nothing
    assert box_agreement([a, []]) == 0.0
    assert box_agreement([a]) == 1.0  # no pair to disagree
    assert box_agreement([a, b], iou_threshold=0.95) == 0.0  # the jitter is too much


# --- RLE ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mask", "counts"),
    [
        ([[0, 1], [1, 1]], (1, 3)),  # column-major 0, 1, 1, 1
        ([[1, 0], [0, 0]], (0, 1, 3)),  # starts on: a 0-length off-run first
        ([[0, 0, 1], [1, 1, 1]], (1, 1, 1, 3)),  # column-major 0,1 | 0,1 | 1,1
        ([[1, 1, 0]], (0, 2, 1)),
        ([[0, 0], [0, 0], [0, 0]], (6,)),
        ([[1, 1], [1, 1], [1, 1]], (0, 6)),
    ],
)
def test_rle_matches_coco_convention(mask: list[list[int]], counts: tuple[int, ...]) -> None:
    m = np.array(mask, dtype=bool)
    rle = rle_encode(m)
    assert rle == RLE(m.shape[0], m.shape[1], counts)
    np.testing.assert_array_equal(rle_decode(RLE(m.shape[0], m.shape[1], counts)), m)


def test_rle_empty_and_validation() -> None:
    assert rle_encode(np.zeros((0, 5), bool)) == RLE(0, 5, ())
    assert rle_decode(RLE(0, 5, ())).shape == (0, 5)
    assert rle_encode(np.array([[0, 3], [-1, 0]])) == RLE(2, 2, (1, 2, 1))  # non-zero is on
    assert RLE(1, 3, [1, 2]).counts == (1, 2)  # normalised to a tuple
    with pytest.raises(ValueError):
        RLE(2, 2, (1, 2))  # sums to 3, not 4
    with pytest.raises(ValueError):
        RLE(1, 2, (3, -1))
    with pytest.raises(ValueError):
        rle_encode(np.zeros(4, bool))


@settings(max_examples=150, deadline=None)
@given(arrays(np.bool_, st.tuples(st.integers(0, 12), st.integers(0, 12))))
def test_rle_round_trip(mask: np.ndarray) -> None:
    rle = rle_encode(mask)
    assert (rle.height, rle.width) == mask.shape
    assert sum(rle.counts) == mask.size
    assert all(c > 0 for c in rle.counts[1:])  # canonical: only the first run may be empty
    np.testing.assert_array_equal(rle_decode(rle), mask)


@pytest.mark.parametrize("seed", range(10))
def test_rle_round_trip_large_random_masks(seed: int) -> None:
    rng = np.random.default_rng(seed)
    h, w = rng.integers(1, 300, 2)
    mask = rng.random((h, w)) < rng.uniform(0.01, 0.99)
    rle = rle_encode(mask)
    # Counts re-derived independently: run lengths of the column-major pixel sequence.
    flat = mask.T.ravel().tolist()
    expected = ([0] if flat[0] else []) + [len(list(run)) for _, run in itertools.groupby(flat)]
    assert rle.counts == tuple(expected)
    np.testing.assert_array_equal(rle_decode(rle), mask)


def test_mask_iou() -> None:
    a = rle_encode(np.array([[1, 1], [0, 0]]))
    b = rle_encode(np.array([[1, 0], [1, 0]]))
    assert mask_iou(a, b) == pytest.approx(1 / 3)  # 1 shared pixel, 3 in the union
    assert mask_iou(a, a) == 1.0
    empty = rle_encode(np.zeros((2, 2)))
    assert mask_iou(empty, empty) == 1.0  # both say "nothing": full agreement
    assert mask_iou(a, empty) == 0.0
    with pytest.raises(ValueError):
        mask_iou(a, rle_encode(np.zeros((2, 3))))


# --- vote_masks ---------------------------------------------------------------------------------


def test_vote_masks_majority() -> None:
    m1 = np.array([[1, 1, 0], [0, 0, 0]], bool)
    m2 = np.array([[1, 1, 1], [0, 0, 0]], bool)
    m3 = np.array([[1, 0, 0], [1, 0, 0]], bool)
    rle, score = vote_masks([rle_encode(m) for m in (m1, m2, m3)])
    expected = np.array([[1, 1, 0], [0, 0, 0]], bool)  # pixels with 2 or 3 votes of 3
    np.testing.assert_array_equal(rle_decode(rle), expected)
    # IoU with the result: m1 2/2, m2 2/3, m3 1/3.
    assert score == pytest.approx((1 + 2 / 3 + 1 / 3) / 3)


def test_vote_masks_ties_thresholds_and_weights() -> None:
    masks = [
        np.array([[1, 1, 1, 1]], bool),
        np.array([[1, 1, 1, 0]], bool),
        np.array([[1, 1, 0, 0]], bool),
        np.array([[1, 0, 0, 0]], bool),
    ]  # votes per pixel: 4, 3, 2, 1
    rles = [rle_encode(m) for m in masks]

    def voted(threshold: float = 0.5, weights: list[float] | None = None) -> list[int]:
        rle, _ = vote_masks(rles, threshold=threshold, weights=weights)
        return rle_decode(rle).astype(int).ravel().tolist()

    assert voted() == [1, 1, 0, 0]  # 2 of 4 is a tie, and a tie is off
    assert voted(threshold=0.0) == [1, 1, 1, 1]  # union
    assert voted(threshold=1.0) == [1, 0, 0, 0]  # intersection (unanimity)
    assert voted(threshold=0.25) == [1, 1, 1, 0]  # strictly more than a quarter
    # Weights 3, 1, 1, 1 (total 6): pixel 3 has 3 + 1 = 4 / 6 > .5; pixel 4 has 3 / 6, a tie.
    assert voted(weights=[3, 1, 1, 1]) == [1, 1, 1, 0]
    for threshold, weights in ((0.5, [1.0, 1.0]), (0.5, [0.0] * 4), (1.5, None), (-0.1, None)):
        with pytest.raises(ValueError):
            voted(threshold, weights)
    with pytest.raises(ValueError):
        vote_masks([])
    with pytest.raises(ValueError):
        vote_masks([rles[0], rle_encode(np.zeros((2, 2)))])


def test_vote_masks_recovers_truth_from_noisy_annotators() -> None:
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[:64, :80]
    truth = (yy - 30) ** 2 + (xx - 40) ** 2 < 20**2
    noisy = [truth ^ (rng.random(truth.shape) < 0.1) for _ in range(5)]
    rle, score = vote_masks([rle_encode(m) for m in noisy])
    result = rle_decode(rle)
    # A pixel is wrong only if 3+ of 5 flipped it: P ~ 0.86 %.
    assert np.mean(result != truth) < 0.02
    assert score == pytest.approx(np.mean([mask_iou(rle_encode(m), rle) for m in noisy]))


# --- spans --------------------------------------------------------------------------------------


def test_fuse_spans_majority() -> None:
    anns = [
        [Span("PER", 10, 20), Span("ORG", 30, 40)],
        [Span("ORG", 30, 39), Span("PER", 11, 20)],
        [Span("PER", 10, 21), Span("ORG", 31, 40), Span("LOC", 50, 55)],  # LOC: spurious
    ]
    fused = fuse_spans(anns)
    # Per character, PER: 10 -> 2 votes, 11..19 -> 3, 20 -> 1; ORG: 30 -> 2, 31..38 -> 3,
    # 39 -> 2. Strict majority = 2 of 3.
    assert [(f.class_id, f.start, f.end, f.support) for f in fused] == [
        ("PER", 10, 20, 3),
        ("ORG", 30, 40, 3),
    ]
    # Score: Jaccard of the members with [10, 20): 1, 9/10, 10/11.
    assert fused[0].score == pytest.approx((1 + 0.9 + 10 / 11) / 3)
    loc = [f for f in fuse_spans(anns, min_support=1) if f.class_id == "LOC"]
    assert [(f.start, f.end, f.support) for f in loc] == [(50, 55, 1)]
    assert loc[0].score == pytest.approx(1 / 3)


def test_fuse_spans_overlap_threshold_and_classes() -> None:
    # Jaccard of [0, 10) and [5, 15) = 5 / 15.
    anns = [[Span("X", 0, 10)], [Span("X", 5, 15)]]
    assert [f.support for f in fuse_spans(anns, min_support=1)] == [1, 1]
    (f,) = fuse_spans(anns, min_overlap=0.3)
    assert (f.start, f.end, f.support) == (5, 10, 2)  # both members agree on 5..9 only
    other_class = [[Span("X", 0, 10)], [Span("Y", 0, 10)]]
    assert [f.support for f in fuse_spans(other_class, min_support=1)] == [1, 1]
    with pytest.raises(ValueError):
        fuse_spans(anns, min_overlap=0.0)
    with pytest.raises(ValueError):
        Span("X", 5, 4)


def test_fuse_spans_one_span_per_annotator_per_cluster() -> None:
    anns = [[Span("X", 0, 10), Span("X", 1, 10)], [Span("X", 0, 10)]]
    fused = fuse_spans(anns, min_support=1)
    assert sorted(f.support for f in fused) == [1, 2]


def test_majority_span_bridges_gaps_and_falls_back() -> None:
    # Majority on 0..3 and 6..9 (2 of 3), 4..5 only 1 vote: the span bridges the gap.
    assert _majority_span(np.array([[0, 10], [0, 4], [6, 10]], float)) == (0, 10)
    # No strict majority anywhere (2 of 4 at most): the most covered characters, 4..5.
    assert _majority_span(np.array([[0, 6], [4, 10], [20, 21], [30, 31]], float)) == (4, 6)
    assert _majority_span(np.array([[5, 5], [7, 7]], float)) == (6, 6)  # all empty: medians


# --- keypoints ----------------------------------------------------------------------------------


def skeleton(rng: np.random.Generator, p: int = 17) -> np.ndarray:
    return np.column_stack([rng.uniform(0, 200, (p, 2)), np.full(p, 2.0)])


def test_oks_identical_and_decreasing_with_distance() -> None:
    pts = skeleton(np.random.default_rng(0))
    a = Keypoints(pts)
    assert oks(a, Keypoints(pts.copy()), area=5000.0) == 1.0
    values = []
    for d in (0.0, 1.0, 2.0, 4.0, 8.0, 16.0):
        moved = pts.copy()
        moved[:, 0] += d
        values.append(oks(a, Keypoints(moved), area=5000.0))
    assert values[0] == 1.0
    assert all(x > y for x, y in itertools.pairwise(values))
    assert values[-1] > 0.0
    # Symmetric; larger objects tolerate the same pixel error better.
    moved = pts.copy()
    moved[:, 1] -= 3.0
    assert oks(a, Keypoints(moved), area=5000.0) == oks(Keypoints(moved), a, area=5000.0)
    assert oks(a, Keypoints(moved), area=20000.0) > oks(a, Keypoints(moved), area=5000.0)


def test_oks_hand_computed() -> None:
    # P = 2 (not 17): sigma 0.05 each, so (2 sigma)^2 = 0.01. Point 0 moved by (0.6, 0.8):
    # d^2 = 1, e = 1 / 0.01 / 100 / 2 = 0.5. Point 1 identical: e = 0.
    a = Keypoints(np.array([[10.0, 10.0, 2], [20.0, 20.0, 2]]))
    b = Keypoints(np.array([[10.6, 10.8, 2], [20.0, 20.0, 1]]))
    assert oks(a, b, area=100.0) == pytest.approx((math.exp(-0.5) + 1.0) / 2)
    # Explicit sigmas: 0.1 for point 0 -> (2 sigma)^2 = 0.04, e = 1 / 0.04 / 100 / 2 = 0.125.
    value = oks(a, b, area=100.0, sigmas=[0.1, 0.05])
    assert value == pytest.approx((math.exp(-0.125) + 1.0) / 2)


def test_oks_default_coco_person_sigmas() -> None:
    pts = skeleton(np.random.default_rng(1))
    moved = pts.copy()
    moved[0, :2] += (3.0, 4.0)  # the nose, sigma 0.026: e = 25 / 0.052^2 / 1000 / 2
    e = 25 / (2 * 0.026) ** 2 / 1000 / 2
    assert oks(Keypoints(pts), Keypoints(moved), area=1000.0) == pytest.approx(
        (math.exp(-e) + 16) / 17
    )
    assert COCO_PERSON_SIGMAS[0] == pytest.approx(0.026)
    assert len(COCO_PERSON_SIGMAS) == 17


def test_oks_counts_only_points_labeled_in_both() -> None:
    a = np.array([[0.0, 0.0, 2], [50.0, 50.0, 2], [9.0, 9.0, 1]])
    b = a.copy()
    b[1] = (500.0, 500.0, 0)  # far away but unlabeled in b: ignored
    assert oks(Keypoints(a), Keypoints(b), area=100.0) == 1.0
    none = np.zeros((3, 3))
    assert oks(Keypoints(none), Keypoints(none), area=100.0) == 1.0  # neither labeled anything
    assert oks(Keypoints(a), Keypoints(none), area=100.0) == 0.0
    with pytest.raises(ValueError):
        oks(Keypoints(a), Keypoints(a[:2]), area=100.0)
    with pytest.raises(ValueError):
        oks(Keypoints(a), Keypoints(a), area=0.0)
    with pytest.raises(ValueError):
        oks(Keypoints(a), Keypoints(a), area=100.0, sigmas=[0.1, 0.1])
    with pytest.raises(ValueError):
        Keypoints(np.array([[0.0, 0.0, 3]]))
    with pytest.raises(ValueError):
        Keypoints(np.array([0.0, 0.0, 2]))


def test_keypoints_are_an_immutable_copy() -> None:
    pts = np.array([[1.0, 2.0, 2]])
    k = Keypoints(pts)
    pts[0, 0] = 99.0
    assert k.points[0, 0] == 1.0
    with pytest.raises(ValueError):
        k.points[0, 0] = 5.0


def test_fuse_keypoints_median_and_visibility_majority() -> None:
    anns = [
        Keypoints(np.array([[10.0, 20.0, 2], [5.0, 5.0, 2], [1.0, 1.0, 1], [7.0, 7.0, 0]])),
        Keypoints(np.array([[11.0, 21.0, 2], [6.0, 5.0, 1], [2.0, 1.0, 0], [0.0, 0.0, 0]])),
        Keypoints(np.array([[50.0, 19.0, 1], [7.0, 5.0, 1], [3.0, 1.0, 1], [0.0, 0.0, 0]])),
    ]
    fused, score = fuse_keypoints(anns, area=10_000.0, min_oks=0.0)
    np.testing.assert_array_equal(
        fused.points,
        [
            [11.0, 20.0, 2],  # medians of 10/11/50 and 20/21/19; visible 2 of 3
            [6.0, 5.0, 1],  # occluded by 2 of 3
            [2.0, 1.0, 1],  # labeled by 2 of 3 (median of those two: 1, 3 -> 2), occluded
            [0.0, 0.0, 0],  # labeled by 1 of 3: unlabeled, COCO's (0, 0, 0)
        ],
    )
    expected = np.mean([oks(k, fused, area=10_000.0) for k in anns])
    assert score == pytest.approx(expected)
    # Labeled by 1 of 2 is a tie, not a majority; visible vs occluded ties go to visible.
    tie, _ = fuse_keypoints(
        [
            Keypoints(np.array([[1.0, 1.0, 2], [4.0, 4.0, 2]])),
            Keypoints(np.array([[0, 0, 0], [6, 4, 1]])),
        ],
        area=100.0,
    )
    np.testing.assert_array_equal(tie.points, [[0.0, 0.0, 0], [5.0, 4.0, 2]])


def test_fuse_keypoints_drops_outliers_below_min_oks() -> None:
    rng = np.random.default_rng(3)
    truth = skeleton(rng)
    good = [truth + np.column_stack([rng.normal(0, 1.0, (17, 2)), np.zeros(17)]) for _ in range(3)]
    outlier = truth.copy()
    outlier[:, :2] = outlier[::-1, :2]  # a mirrored / scrambled skeleton
    anns = [Keypoints(p) for p in [*good, outlier]]

    fused, score = fuse_keypoints(anns, area=20_000.0)
    # The median of the 3 good annotations alone, not of all 4.
    np.testing.assert_allclose(fused.points[:, :2], np.median(np.stack(good)[:, :, :2], axis=0))
    np.testing.assert_array_equal(fused.points[:, 2], 2.0)
    members = [oks(k, fused, area=20_000.0) for k in anns]
    assert min(members[:3]) > 0.9 and members[3] < 0.5
    assert score == pytest.approx(np.mean(members))  # the outlier still lowers the score

    kept, _ = fuse_keypoints(anns, area=20_000.0, min_oks=0.0)  # no outlier rejection
    np.testing.assert_allclose(
        kept.points[:, :2], np.median(np.stack([*good, outlier])[:, :, :2], axis=0)
    )


def test_fuse_keypoints_identical_and_errors() -> None:
    pts = skeleton(np.random.default_rng(4), p=5)
    fused, score = fuse_keypoints([Keypoints(pts)] * 3, area=1000.0)
    np.testing.assert_array_equal(fused.points, pts)
    assert score == 1.0
    with pytest.raises(ValueError):
        fuse_keypoints([], area=1.0)
    with pytest.raises(ValueError):
        fuse_keypoints([Keypoints(pts), Keypoints(pts[:4])], area=1.0)
    with pytest.raises(ValueError):
        fuse_keypoints([Keypoints(pts)], area=1.0, min_oks=2.0)
