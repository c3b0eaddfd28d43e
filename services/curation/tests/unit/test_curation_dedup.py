"""Near-duplicate detection: recall/precision against brute force, grouping, determinism, edges.

Recall is measured two ways (see the dedup module docstring): pair recall over the edges of the
brute-force threshold graph, and co-membership recall over row pairs that share an exact
component.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from labelops_curation.domain.dedup import (
    SIM_TOLERANCE,
    DuplicateGroup,
    default_probe,
    exact_pairs,
    find_near_duplicates,
    group_duplicates,
    near_duplicate_pairs,
    planted_duplicates,
)
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def pair_set(pairs: tuple[np.ndarray, np.ndarray, np.ndarray]) -> set[tuple[int, int]]:
    return set(zip(pairs[0].tolist(), pairs[1].tolist(), strict=True))


def sim_map(pairs: tuple[np.ndarray, np.ndarray, np.ndarray]) -> dict[tuple[int, int], float]:
    i, j, s = (a.tolist() for a in pairs)
    return {(a, b): v for a, b, v in zip(i, j, s, strict=True)}


def recall_precision(got: set, ref: set) -> tuple[float, float]:
    hit = len(got & ref)
    return hit / max(1, len(ref)), hit / max(1, len(got))


def comembership_recall(n: int, ref: tuple, got: tuple) -> float:
    """Share of row pairs in one exact component that are also in one found component."""

    def labels(p: tuple) -> np.ndarray:
        g = coo_matrix((np.ones(len(p[0])), (p[0], p[1])), shape=(n, n))
        return connected_components(g, directed=False)[1]

    a, b = labels(ref), labels(got)
    _, both = np.unique(np.stack([a, b]), axis=1, return_counts=True)
    _, ref_sizes = np.unique(a, return_counts=True)
    ref_pairs = (ref_sizes * (ref_sizes - 1) // 2).sum()
    return float((both * (both - 1) // 2).sum() / max(1, ref_pairs))


@pytest.mark.parametrize(
    ("n", "d", "clusters"),
    [(20_000, 128, 0), (5_000, 384, 0), (20_000, 128, 20)],
    ids=["20k-128-isotropic", "5k-384-isotropic", "20k-128-clustered"],
)
def test_recall_and_precision_against_brute_force(n: int, d: int, clusters: int) -> None:
    x, true_groups = planted_duplicates(n, d, clusters=clusters, seed=1)
    ref = exact_pairs(x, 0.95)
    got = near_duplicate_pairs(x, 0.95)
    recall, precision = recall_precision(pair_set(got), pair_set(ref))
    assert len(ref[0]) > n // 20
    assert recall >= 0.99
    assert precision == 1.0  # every reported pair is scored exactly
    assert comembership_recall(n, ref, got) >= 0.99
    # same similarities for the pairs both report (both re-score in float64)
    common = sim_map(ref)
    for a, b, s in zip(*got, strict=True):
        assert common[(int(a), int(b))] == s
    # the planted groups are found as groups (unrelated rows are far below 0.95 at d >= 128)
    groups = find_near_duplicates(x, 0.95)
    found = {g.members for g in groups}
    assert sum(g in found for g in true_groups) / len(true_groups) >= 0.99


def test_clustered_data_keeps_partitions_balanced() -> None:
    """Clusters at within-cluster cosine ~0.7-0.8 must not turn into a brute-force join."""
    from labelops_curation.domain import similarity_join as join

    x, _ = planted_duplicates(30_000, 64, clusters=10, cluster_spread=0.5, seed=3)
    within = x[:2000] @ x[:2000].T
    assert np.median(within[within > 0.3]) > 0.6  # really clustered
    plan = join.partition_plan(len(x), 0.95, None, None)
    centroids = join.spherical_kmeans(
        x, plan.n_partitions, seed=0, iterations=8, sample=plan.kmeans_sample, threads=2
    )
    probes = join.top_centroids(x, centroids, plan.n_probe, 2)
    data = np.bincount(probes[:, 0], minlength=plan.n_partitions)
    queries = np.bincount(probes.ravel(), minlength=plan.n_partitions)
    work = int((data * queries).sum())
    balanced = len(x) ** 2 * plan.n_probe / plan.n_partitions
    assert work < 3 * balanced  # k-means splits big clusters; no partition holds one whole
    assert work < 0.1 * len(x) ** 2
    ref = exact_pairs(x, 0.95)
    recall, precision = recall_precision(pair_set(near_duplicate_pairs(x, 0.95)), pair_set(ref))
    assert recall >= 0.99 and precision == 1.0


def test_probing_every_partition_is_exact() -> None:
    x, _ = planted_duplicates(3_000, 32, seed=5)
    ref = exact_pairs(x, 0.9)
    got = near_duplicate_pairs(x, 0.9, n_partitions=6, n_probe=6, exact_max_n=0)
    for a, b in zip(ref, got, strict=True):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(0, 80),
    d=st.integers(2, 12),
    seed=st.integers(0, 2**16),
    threshold=st.floats(0.5, 1.0),
    k=st.integers(1, 9),
    p=st.integers(1, 9),
)
def test_partitioned_pairs_are_a_subset_of_brute_force(
    n: int, d: int, seed: int, threshold: float, k: int, p: int
) -> None:
    x, _ = (
        planted_duplicates(n, d, dup_fraction=0.4, seed=seed)
        if n
        else (
            np.empty((0, d), np.float32),
            [],
        )
    )
    ref = exact_pairs(x, threshold)
    got = near_duplicate_pairs(x, threshold, n_partitions=k, n_probe=p, exact_max_n=0)
    i, j, s = got
    assert np.all(i < j)
    assert np.all(np.diff(i * max(n, 1) + j) > 0)  # sorted, no repeats
    ref_sims = sim_map(ref)
    for a, b, sim in zip(i.tolist(), j.tolist(), s.tolist(), strict=True):
        assert ref_sims[(a, b)] == sim
        assert sim >= threshold - SIM_TOLERANCE
    if p >= min(k, n):
        assert pair_set(got) == set(ref_sims)


def test_deterministic_across_runs_and_thread_counts() -> None:
    x, _ = planted_duplicates(12_000, 48, clusters=8, seed=7)
    a = near_duplicate_pairs(x, 0.95, threads=2)
    b = near_duplicate_pairs(x, 0.95, threads=2)
    c = near_duplicate_pairs(x, 0.95, threads=1)
    for u, v, w in zip(a, b, c, strict=True):
        np.testing.assert_array_equal(u, v)
        np.testing.assert_array_equal(u, w)
    assert find_near_duplicates(x, 0.95, threads=1) == find_near_duplicates(x, 0.95, threads=2)


def test_representative_follows_preference_then_lowest_index() -> None:
    n = 10
    i = np.array([1, 2, 5, 7])
    j = np.array([2, 3, 6, 8])
    sim = np.array([0.99, 0.97, 0.96, 0.98])
    groups = group_duplicates(n, i, j, sim)
    assert [g.representative for g in groups] == [1, 5, 7]
    assert [g.members for g in groups] == [(1, 2, 3), (5, 6), (7, 8)]
    assert groups[0].max_similarity == pytest.approx(0.99)
    assert groups[0].min_similarity == pytest.approx(0.97)  # over the group's pairs

    pref = np.array([0, 1, 5, 5, 0, 0, 9, 2, 2, 0])
    groups = group_duplicates(n, i, j, sim, preference=pref)
    # {1,2,3}: 2 and 3 tie at 5 -> 2; {5,6}: 6; {7,8}: tie -> 7; ordered by representative
    assert [g.representative for g in groups] == [2, 6, 7]
    assert [g.members for g in groups] == [(1, 2, 3), (5, 6), (7, 8)]

    # datetime-like preference: the earliest registration wins -> prefer minus the time
    registered = np.array([5, 4, 3, 2, 1, 0, 9, 8, 7, 6], dtype="datetime64[s]")
    groups = group_duplicates(n, i, j, sim, preference=-registered.astype(np.int64))
    assert [g.representative for g in groups] == [3, 5, 8]


def test_similarities_to_the_representative_are_exact_with_vectors() -> None:
    rng = np.random.default_rng(0)
    base = rng.standard_normal(16)
    rows = [base, base + 0.1 * rng.standard_normal(16), base + 0.2 * rng.standard_normal(16)]
    x = np.array([r / np.linalg.norm(r) for r in rows], dtype=np.float32)
    pref = np.array([0.0, 0.0, 1.0])  # the noisiest row is preferred
    (g,) = find_near_duplicates(x, 0.9, preference=pref)
    assert g.representative == 2 and g.members == (0, 1, 2)
    sims = x[:2].astype(np.float64) @ x[2].astype(np.float64)
    assert g.max_similarity == pytest.approx(sims.max())
    assert g.min_similarity == pytest.approx(sims.min())
    assert g.size == 3


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 30),
    edges=st.lists(st.tuples(st.integers(0, 29), st.integers(0, 29)), max_size=40),
    pref=st.lists(st.integers(0, 3), min_size=30, max_size=30),
)
def test_groups_are_the_connected_components(
    n: int, edges: list[tuple[int, int]], pref: list[int]
) -> None:
    edges = [(min(a, b), max(a, b)) for a, b in edges if a < n and b < n and a != b]
    i = np.array([e[0] for e in edges], dtype=np.int64)
    j = np.array([e[1] for e in edges], dtype=np.int64)
    preference = np.array(pref[:n])
    groups = group_duplicates(n, i, j, np.ones(len(i)), preference=preference)
    # reference union-find
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in edges:
        parent[find(a)] = find(b)
    comps: dict[int, list[int]] = {}
    for v in range(n):
        comps.setdefault(find(v), []).append(v)
    expected = sorted(tuple(c) for c in comps.values() if len(c) >= 2)
    assert sorted(g.members for g in groups) == expected
    assert [g.representative for g in groups] == sorted(g.representative for g in groups)
    for g in groups:
        best = max(preference[list(g.members)])
        assert g.representative == min(m for m in g.members if preference[m] == best)
        assert list(g.members) == sorted(g.members)


def test_empty_single_and_no_duplicates() -> None:
    for n in (0, 1):
        x = np.ones((n, 8), dtype=np.float32) / np.sqrt(8)
        for f in (exact_pairs, near_duplicate_pairs):
            i, j, s = f(x, 0.9)
            assert len(i) == len(j) == len(s) == 0
            assert i.dtype == np.int64 and s.dtype == np.float32
        assert find_near_duplicates(x, 0.9) == []
    assert group_duplicates(0, [], [], []) == []
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6_000, 64)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    assert len(near_duplicate_pairs(x, 0.95)[0]) == 0
    assert find_near_duplicates(x, 0.95) == []


@pytest.mark.parametrize("exact_max_n", [0, 10_000], ids=["partitioned", "brute-force"])
def test_all_identical_vectors_form_one_group(exact_max_n: int) -> None:
    n = 2_000
    x = np.tile(np.linspace(1, 2, 16, dtype=np.float32), (n, 1))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    groups = find_near_duplicates(x, 1.0, exact_max_n=exact_max_n)  # 1.0: exact copies
    assert len(groups) == 1
    assert groups[0].members == tuple(range(n))
    assert groups[0].representative == 0
    assert groups[0].min_similarity == pytest.approx(1.0)
    i, _, _ = near_duplicate_pairs(x[:400], 1.0, exact_max_n=exact_max_n)
    assert len(i) == 400 * 399 // 2


@pytest.mark.parametrize("threshold", [0.0, -0.5, 1.0001, 2.0, float("nan")])
def test_threshold_outside_unit_interval_is_rejected(threshold: float) -> None:
    x = np.eye(3, dtype=np.float32)
    for f in (exact_pairs, near_duplicate_pairs, find_near_duplicates):
        with pytest.raises(ValueError, match="threshold"):
            f(x, threshold)


def test_input_validation() -> None:
    with pytest.raises(ValueError, match="2-d"):
        near_duplicate_pairs(np.ones(5, dtype=np.float32), 0.9)
    with pytest.raises(ValueError, match="NaN"):
        near_duplicate_pairs(np.full((3, 2), np.nan), 0.9)
    with pytest.raises(ValueError, match="same length"):
        group_duplicates(3, [0], [1, 2], [0.9])
    with pytest.raises(ValueError, match="indices"):
        group_duplicates(3, [0], [3], [0.9])
    with pytest.raises(ValueError, match="preference"):
        group_duplicates(3, [0], [1], [0.9], preference=[1, 2])
    with pytest.raises(ValueError, match="NaN"):
        group_duplicates(3, [0], [1], [0.9], preference=[1.0, np.nan, 0.0])
    with pytest.raises(ValueError, match="threads"):
        near_duplicate_pairs(np.eye(3), 0.9, threads=0)


def test_planted_generator() -> None:
    x, groups = planted_duplicates(5_000, 96, dup_fraction=0.1, seed=2)
    assert x.shape == (5_000, 96) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    members = [m for g in groups for m in g]
    assert len(members) == len(set(members))  # disjoint
    copies = sum(len(g) - 1 for g in groups)
    assert 0.09 * 5_000 <= copies <= 0.1 * 5_000
    assert {len(g) for g in groups} <= {2, 3, 4, 5}
    # every planted group is connected at 0.96 through its base
    found = {g.members for g in find_near_duplicates(x, 0.959)}
    assert all(g in found for g in groups)
    again, groups2 = planted_duplicates(5_000, 96, dup_fraction=0.1, seed=2)
    np.testing.assert_array_equal(x, again)
    assert groups == groups2


def test_default_probe_grows_as_the_threshold_drops() -> None:
    assert default_probe(0.99) == 8
    assert default_probe(0.95) == 12
    assert default_probe(0.9) > 12
    assert default_probe(0.0) == 64
    assert isinstance(DuplicateGroup(0, (0, 1), 1.0, 1.0).size, int)
