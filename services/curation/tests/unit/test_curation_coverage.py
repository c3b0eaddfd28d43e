"""Coverage analysis: rare clusters, edge cases, figures, determinism and tiny inputs."""

from __future__ import annotations

import numpy as np
import pytest
from labelops_curation.domain.coverage import CoverageReport, analyze_coverage, candidate_ks


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def clustered(
    sizes: tuple[int, ...],
    d: int = 64,
    *,
    seed: int = 0,
    spread: tuple[float, float] = (0.45, 0.75),
) -> np.ndarray:
    """Rows around random unit centers: ``unit(center + r u)``, u a random unit vector
    orthogonal to the center, r uniform in ``spread`` (cosine to the center 0.8-0.91, within a
    cluster ~0.7). Cluster c occupies a contiguous block of rows, in ``sizes`` order."""
    rng = np.random.default_rng(seed)
    centers = unit(rng.standard_normal((len(sizes), d)))
    parts = []
    for c, s in enumerate(sizes):
        g = rng.standard_normal((s, d))
        g -= (g @ centers[c])[:, None] * centers[c]
        r = rng.uniform(*spread, s)[:, None]
        parts.append(unit(centers[c] + r * unit(g)))
    return np.concatenate(parts).astype(np.float32)


BIG = (1000, 900, 800, 700, 600)


@pytest.fixture(scope="module")
def five_big_one_tiny() -> tuple[np.ndarray, set[int], CoverageReport]:
    x = clustered((*BIG, 12), seed=1)
    tiny = set(range(len(x) - 12, len(x)))
    return x, tiny, analyze_coverage(x, seed=0)


def test_tiny_planted_cluster_is_rare_and_in_edge_cases(five_big_one_tiny) -> None:
    x, tiny, report = five_big_one_tiny
    assert report.k_selection == "silhouette"
    assert report.n_clusters == 6
    assert [c.size for c in report.clusters] == [*BIG, 12]
    (rare,) = [c for c in report.clusters if c.is_rare]
    assert set(np.flatnonzero(report.labels == rare.cluster_id).tolist()) == tiny
    assert report.rare_clusters == (rare.cluster_id,)
    assert tiny <= set(report.edge_cases)
    assert not any(c.is_rare for c in report.clusters if c.size >= 600)
    assert set(report.outliers) <= set(report.edge_cases)
    assert len(report.outliers) == int(0.01 * len(x))


def test_rare_group_is_split_off_even_with_a_given_k(five_big_one_tiny) -> None:
    x, _, _ = five_big_one_tiny
    report = analyze_coverage(x, n_clusters=5)
    assert report.k_selection == "given"
    assert [c.size for c in report.clusters] == [*BIG, 12]
    assert report.clusters[-1].is_rare
    off = analyze_coverage(x, n_clusters=5, min_rare_size=0)
    assert off.n_clusters == 5  # without the split, k-means merges the 12 into a big cluster


def test_small_rare_group_near_a_big_cluster() -> None:
    rng = np.random.default_rng(4)
    x = clustered((*BIG, 5), d=128, seed=4)
    # move the 5 tiny rows to a direction at cosine ~0.5 of the first big cluster's center
    center = unit(x[:1000].mean(axis=0))
    g = rng.standard_normal(128)
    side = unit(g - center * (center @ g))
    near = unit(0.5 * center + np.sqrt(0.75) * side)
    x[-5:] = unit(near + 0.6 * unit(rng.standard_normal((5, 128)))).astype(np.float32)
    report = analyze_coverage(x)
    rare = [c for c in report.clusters if c.is_rare]
    assert [c.size for c in rare] == [5]
    assert set(range(len(x) - 5, len(x))) <= set(report.edge_cases)


def test_no_rare_clusters_without_a_tiny_group() -> None:
    report = analyze_coverage(clustered(BIG, seed=2))
    assert report.n_clusters == 5
    assert report.rare_clusters == ()
    assert 0.95 < report.balance < 1.0


def test_many_equal_clusters_are_not_all_rare() -> None:
    # 60 clusters of 100 rows: 1.7 % each, under rare_share=2 % but not under 0.25 / k
    # tight clusters, so that k-means++ recovers all 60 (with 60 loose clusters it often
    # merges two and splits another: a k-means local optimum, not what this test is about)
    x = clustered((100,) * 60, d=32, seed=3, spread=(0.05, 0.1))
    report = analyze_coverage(x, n_clusters=60)
    assert sorted(c.size for c in report.clusters) == [100] * 60
    assert report.rare_cut == pytest.approx(0.25 / report.n_clusters)
    assert report.rare_clusters == ()
    assert report.balance > 0.95


def test_cluster_figures(five_big_one_tiny) -> None:
    x, _, report = five_big_one_tiny
    labels = report.labels
    assert labels.shape == (len(x),) and labels.dtype == np.int64
    assert sum(c.size for c in report.clusters) == len(x)
    assert sum(c.share for c in report.clusters) == pytest.approx(1.0)
    for c in report.clusters:
        members = np.flatnonzero(labels == c.cluster_id)
        assert len(members) == c.size
        centroid = unit(x[members].astype(np.float64).sum(axis=0))
        sims = x[members] @ centroid
        order = members[np.lexsort((members, -sims))]
        assert c.medoid == order[0]
        assert c.samples == tuple(order[:5].tolist())
        pairwise = x[members] @ x[members].T
        m = len(members)
        brute = (pairwise.sum() - np.trace(pairwise)) / (m * (m - 1))
        assert c.cohesion == pytest.approx(brute, abs=1e-4)
        assert 0.6 < c.cohesion < 0.85
    np.testing.assert_allclose(
        report.centroid_similarity,
        np.einsum(
            "ij,ij->i",
            x,
            np.stack([unit(x[labels == c].astype(np.float64).sum(axis=0)) for c in labels]).astype(
                np.float32
            ),
        ),
        atol=1e-5,
    )
    outliers = np.array(report.outliers)
    rest = np.setdiff1d(np.arange(len(x)), outliers)
    assert report.centroid_similarity[outliers].max() <= report.centroid_similarity[rest].min()


def test_deterministic_with_the_seed(five_big_one_tiny) -> None:
    x, _, report = five_big_one_tiny
    again = analyze_coverage(x, seed=0)
    assert again == report
    np.testing.assert_array_equal(again.labels, report.labels)
    np.testing.assert_array_equal(again.centroid_similarity, report.centroid_similarity)


@pytest.mark.parametrize("k", [None, 1, 5])
def test_tiny_inputs(k: int | None) -> None:
    x = clustered((3,), d=8)
    empty = analyze_coverage(x[:0], n_clusters=k)
    assert empty.n_items == 0 and empty.n_clusters == 0 and empty.clusters == ()
    assert empty.edge_cases == () and empty.labels.shape == (0,)

    one = analyze_coverage(x[:1], n_clusters=k)
    assert one.n_clusters == 1
    (c,) = one.clusters
    assert (c.size, c.medoid, c.samples, c.cohesion, c.is_rare) == (1, 0, (0,), 1.0, False)
    assert one.balance == 1.0 and one.outliers == ()

    two = analyze_coverage(x[:2], n_clusters=k)
    assert sum(c.size for c in two.clusters) == 2
    assert two.n_clusters == (1 if k in (None, 1) else 2)
    assert set(two.labels.tolist()) == set(range(two.n_clusters))


def test_fewer_distinct_rows_than_clusters() -> None:
    x = np.repeat(clustered((2,), d=8), 10, axis=0)  # 20 rows, 2 distinct
    report = analyze_coverage(x, n_clusters=6)
    assert report.n_clusters == 2
    assert sorted(c.size for c in report.clusters) == [10, 10]
    assert all(c.cohesion == pytest.approx(1.0) for c in report.clusters)


def test_validation() -> None:
    x = clustered((10,), d=8)
    with pytest.raises(ValueError, match="2-d"):
        analyze_coverage(x[0])
    with pytest.raises(ValueError, match="n_clusters"):
        analyze_coverage(x, n_clusters=0)
    with pytest.raises(ValueError, match="rare_share"):
        analyze_coverage(x, rare_share=1.5)
    with pytest.raises(ValueError, match="NaN"):
        analyze_coverage(np.full((3, 2), np.nan))


def test_candidate_ks() -> None:
    assert candidate_ks(3) == [2]
    assert candidate_ks(100) == [2, 3, 4, 5, 6, 7, 8, 9, 10]
    ks = candidate_ks(1_000_000)
    assert ks[:11] == list(range(2, 13)) and max(ks) <= 64


def test_kmeans_fragments_are_merged_back() -> None:
    from labelops_curation.domain.coverage import _merge_fragments

    x = clustered((1000, 1000, 8), seed=6)
    labels = np.repeat(np.arange(3), (1000, 1000, 8))
    labels[:30] = 3  # a k-means-like fragment of cluster 0
    merged = _merge_fragments(x, labels, 4, cut=0.02)
    assert (merged[:1000] == 0).all()  # the fragment is folded back
    assert (merged[2000:] == 2).all()  # the far small cluster stays on its own
    assert (merged[1000:2000] == 1).all()
