"""Coverage analysis of an embedding space: which kinds of items a dataset has, how evenly, and
which items are edge cases. Pure numpy / scikit-learn, no I/O.

Algorithm
---------
1. Rows are L2-normalized (cosine = dot; Euclidean k-means on unit vectors is spherical k-means
   up to the centroid norm) and clustered with scikit-learn ``KMeans`` (k-means++,
   ``n_init=2``, ``random_state=seed``) fitted on at most ``FIT_SAMPLE`` rows drawn with the
   seed; every row is then assigned to its most similar centroid and centroids are recomputed
   (normalized mean) from all members, so every figure covers the whole dataset.
2. Choosing k (``n_clusters=None``): a silhouette scan (cosine distance) on a sample of at most
   ``SCAN_SAMPLE`` rows over k = 2..12, then steps of ~1.25x up to ``min(64, sqrt(n))``
   (15, 19, 23, 29, 37, 46, 57), then up to 8 more k between the grid neighbours of the best;
   highest mean silhouette wins, ties to the smaller k. The sample's distance matrix is
   computed once, so a candidate costs one small k-means fit. Silhouette finds the "natural"
   grouping (a sqrt(n) rule over-segments big homogeneous regions into fragments whose sizes
   say little about coverage). Below 3 rows: one cluster (none for n = 0).
3. Rare-group split. k-means and silhouette both under-weight tiny groups (measured: 5 big
   clusters + 12 planted points in their own direction -> silhouette picks k = 5, and KMeans
   with k = 6 splits a big cluster instead of isolating the 12), so a second pass looks for
   them among the rows atypical for their cluster: robust z of the centroid similarity
   ``(sim - median) / max(1.4826 MAD, 0.01) < -3`` (at most ``RARE_POOL_MAX`` rows). Two
   such rows are linked when they are more similar to each other than either is to its own
   centroid (+0.05); a connected group becomes its own cluster when it has at least
   ``min_rare_size`` distinct rows (near-duplicates at cosine >= 0.9 count once: a few copies
   are a duplicate group, not a cluster), its rows gain >= 0.15 cosine on average by moving to
   the group's own centroid, and that centroid is itself atypical for every cluster the rows
   were in (a group of one cluster's edge rows averages back to that cluster's centroid and is
   rejected). With ``n_clusters`` given, clusters found this way come on top of it.
4. Fragment merge. k-means sometimes splits one natural cluster into a big and a small part
   (measured: 100k rows in 50 clusters -> a fragment of 484 rows, centroid cosine 0.997 to
   its sibling, which the share rule would call rare). A cluster under the rare cut whose rows
   are on average typical (above median - 3 scale) for the most similar other centroid is
   folded into it. Rare groups from step 3 are atypical for every neighbour and stay.

Figures
-------
- per cluster: ``size``, ``share`` (size / n), ``medoid`` = the member most similar to the
  centroid, ``samples`` = up to ``max_samples_per_cluster`` members most similar to the
  centroid (medoid first), ``cohesion`` = mean pairwise cosine between distinct members
  (exact, in O(size d): ``(|sum|^2 - m) / (m (m - 1))`` for m unit rows; 1.0 for a singleton).
- ``is_rare``: ``share < rare_share`` **and** ``share < 0.25 / k`` (under a quarter of the
  share every cluster would have if the data were balanced); ``rare_cut`` is that minimum. The
  second condition keeps a dataset of many similar-size clusters (k = 60: ~1.7 % each, some
  at 1 %) from being reported as mostly rare.
- ``balance``: normalized entropy of the cluster shares, ``H / ln k`` in [0, 1] (1 = equal
  shares; 1.0 for k <= 1).
- ``outliers``: the ``floor(outlier_share * n)`` rows (default 1 %; none below 100 rows) with
  the lowest cosine similarity to their own centroid over the whole dataset (ties to the lower
  index): the rows no cluster prototype represents well.
- ``edge_cases``: members of rare clusters plus outliers, sorted.

Limits: k-means finds a local optimum; with many clusters (tens) it sometimes merges two
natural clusters and splits a third (measured on 100k rows in 50 clusters: two clusters of
~2x size and splits of 1202 + 789; more ``n_init`` did not help until 8, which costs 4x).
Step 4 undoes only splits that leave a part under the rare cut.

Cluster ids are ordered by size (descending), ties by lowest member index. Deterministic for a
given input and seed. Measured on 2 cores: 6 clusters of ~4k rows (d=384) ~1.6 s; 100k x 384
(50 clusters) ~3.5-5.5 s, isotropic ~2.5 s (bench/bench_curation.py).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import silhouette_score

__all__ = [
    "FIT_SAMPLE",
    "SCAN_SAMPLE",
    "ClusterSummary",
    "CoverageReport",
    "analyze_coverage",
    "candidate_ks",
]

#: Rows the final k-means is fitted on (all rows are assigned afterwards).
FIT_SAMPLE = 20_000
#: Rows the silhouette scan uses (its distance matrix is SCAN_SAMPLE^2 floats).
SCAN_SAMPLE = 3_000
AUTO_K_MAX = 64
#: Rare-group split (see the module docstring).
RARE_Z = 3.0
RARE_MIN_SCALE = 0.01
RARE_POOL_MAX = 4_000
RARE_LINK_MARGIN = 0.05
RARE_MIN_GAIN = 0.15
RARE_DUPLICATE_COSINE = 0.9


@dataclass(frozen=True, slots=True)
class ClusterSummary:
    cluster_id: int
    size: int
    share: float
    medoid: int
    samples: tuple[int, ...]
    cohesion: float
    is_rare: bool


@dataclass(frozen=True, slots=True)
class CoverageReport:
    n_items: int
    n_clusters: int
    #: How k was chosen: "given", "silhouette" or "trivial" (n < 3). ``n_clusters`` is the
    #: number reported, including groups found by the rare-group split.
    k_selection: str
    clusters: tuple[ClusterSummary, ...]
    #: Normalized entropy of the cluster shares (1.0 = perfectly balanced).
    balance: float
    #: Effective rare-share cut used (min(rare_share, 0.25 / k)).
    rare_cut: float
    outliers: tuple[int, ...]
    edge_cases: tuple[int, ...]
    #: Cluster id per row (int64, length n_items).
    labels: NDArray[np.int64] = field(compare=False, repr=False)
    #: Cosine similarity of each row to its cluster centroid (float32, length n_items).
    centroid_similarity: NDArray[np.float32] = field(compare=False, repr=False)

    @property
    def rare_clusters(self) -> tuple[int, ...]:
        return tuple(c.cluster_id for c in self.clusters if c.is_rare)


def candidate_ks(n: int) -> list[int]:
    """The k values the automatic scan tries for n rows (see the module docstring)."""
    k_max = min(AUTO_K_MAX, max(2, math.isqrt(max(n, 0))), n - 1)
    ks = list(range(2, min(12, k_max) + 1))
    k = 12.0
    while True:
        k *= 1.25
        if round(k) > k_max:
            break
        ks.append(round(k))
    return ks


def _normalize(vectors: ArrayLike) -> NDArray[np.float32]:
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"vectors must be a 2-d array (n, d), got shape {x.shape}")
    if x.size and not np.isfinite(x).all():
        raise ValueError("vectors contain NaN or infinity")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def _kmeans(x: NDArray[np.float32], k: int, seed: int) -> NDArray[np.float32]:
    with warnings.catch_warnings():  # fewer distinct rows than k: empty clusters are dropped
        warnings.simplefilter("ignore", ConvergenceWarning)
        # float64 input: sklearn's float32 path up-casts distances chunk by chunk (~1.5x slower)
        km = KMeans(n_clusters=k, n_init=2, random_state=seed).fit(x.astype(np.float64))
    centers: NDArray[np.float32] = km.cluster_centers_.astype(np.float32)
    return centers


def _scan_k(x: NDArray[np.float32], seed: int) -> int:
    n = len(x)
    rng = np.random.default_rng(seed)
    s = x[np.sort(rng.choice(n, SCAN_SAMPLE, replace=False))] if n > SCAN_SAMPLE else x
    s = s.astype(np.float64)
    dist = np.clip(1.0 - s @ s.T, 0.0, 2.0)
    np.fill_diagonal(dist, 0.0)
    scores: dict[int, float] = {}

    def score(k: int) -> float:
        if k not in scores:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                labels = KMeans(n_clusters=k, n_init=1, random_state=seed).fit_predict(s)
            ok = len(np.unique(labels)) >= 2
            scores[k] = float(silhouette_score(dist, labels, metric="precomputed")) if ok else -2
        return scores[k]

    grid = [k for k in candidate_ks(n) if k < len(s)]
    if not grid:
        return 1
    best = max(grid, key=lambda k: (score(k), -k))
    # refine between the grid neighbours of the best k (at most 8 more fits)
    pos = grid.index(best)
    lo = grid[pos - 1] if pos > 0 else best
    hi = grid[pos + 1] if pos + 1 < len(grid) else best
    step = max(1, math.ceil((hi - lo) / 9))
    for k in range(lo + 1, hi, step):
        score(k)
    return max(scores, key=lambda k: (scores[k], -k))


def _assign(x: NDArray[np.float32], centers: NDArray[np.float32]) -> NDArray[np.int64]:
    labels = np.empty(len(x), dtype=np.int64)
    step = max(1, (1 << 22) // max(1, len(centers)))
    for s in range(0, len(x), step):
        labels[s : s + step] = np.argmax(x[s : s + step] @ centers.T, axis=1)
    return labels


def _cluster_sums(x: NDArray[np.float32], labels: NDArray[np.int64], k: int) -> NDArray:
    """Per-cluster sums of rows (float64 accumulation of float32 one-hot products)."""
    sums = np.zeros((k, x.shape[1]), dtype=np.float64)
    step = 16_384
    for s in range(0, len(x), step):
        lab = labels[s : s + step]
        onehot = np.zeros((k, len(lab)), dtype=np.float32)
        onehot[lab, np.arange(len(lab))] = 1.0
        sums += onehot @ x[s : s + step]
    return sums


def _centroid_similarity(
    x: NDArray[np.float32], labels: NDArray[np.int64], k: int
) -> tuple[NDArray, NDArray[np.float32]]:
    sums = _cluster_sums(x, labels, k)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    unit = np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0).astype(np.float32)
    csim = np.empty(len(x), dtype=np.float32)
    step = 16_384
    for s in range(0, len(x), step):
        csim[s : s + step] = np.einsum("ij,ij->i", x[s : s + step], unit[labels[s : s + step]])
    return sums, csim


def _split_rare_groups(
    x: NDArray[np.float32],
    labels: NDArray[np.int64],
    k: int,
    csim: NDArray[np.float32],
    centroids: NDArray,
    min_size: int,
) -> tuple[NDArray[np.int64], int]:
    """Split off small groups that k-means merged into bigger clusters (see module docstring).

    Returns the new labels (new groups get ids k, k+1, ...) and the new cluster count.
    """
    n = len(x)
    if n < 2 * min_size or min_size < 1:
        return labels, k
    low = _robust_low(csim, labels, k)  # centroid similarity below which a row is atypical
    pool = np.flatnonzero(csim < low[labels])
    if len(pool) < min_size:
        return labels, k
    if len(pool) > RARE_POOL_MAX:  # keep the most atypical
        depth = csim[pool] - low[labels[pool]]
        pool = np.sort(pool[np.lexsort((pool, depth))[:RARE_POOL_MAX]])
    xp = x[pool]
    sims = xp @ xp.T
    own = csim[pool]
    link = sims > np.maximum(own[:, None], own[None, :]) + RARE_LINK_MARGIN
    np.fill_diagonal(link, False)
    _, comp = connected_components(csr_matrix(link), directed=False)
    # near-duplicates count once: a handful of copies is a duplicate group, not a rare cluster
    dup = sims >= RARE_DUPLICATE_COSINE
    np.fill_diagonal(dup, False)
    _, dup_comp = connected_components(csr_matrix(dup), directed=False)
    out = labels.copy()
    new_k = k
    for c in np.unique(comp).tolist():
        in_c = comp == c
        members = pool[in_c]
        if len(np.unique(dup_comp[in_c])) < min_size:
            continue
        mean = x[members].astype(np.float64).sum(axis=0)
        mean /= max(float(np.linalg.norm(mean)), 1e-12)
        gain = float(np.mean(x[members] @ mean.astype(np.float32) - csim[members]))
        parents = np.unique(labels[members])
        # the group as a whole must be atypical for every cluster it was put in (a group of
        # a cluster's edge rows averages back to that cluster's centroid)
        apart = bool(np.all(centroids[parents] @ mean < low[parents]))
        if gain >= RARE_MIN_GAIN and apart:
            out[members] = new_k
            new_k += 1
    return out, new_k


def _robust_low(csim: NDArray[np.float32], labels: NDArray[np.int64], k: int) -> NDArray:
    """Per cluster: ``median - RARE_Z * max(1.4826 MAD, RARE_MIN_SCALE)`` of the members'
    centroid similarity (-inf for clusters too small to tell)."""
    low = np.full(k, -np.inf)
    order = np.argsort(labels, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(labels, minlength=k))))
    for c in range(k):
        v = csim[order[bounds[c] : bounds[c + 1]]].astype(np.float64)
        if len(v) >= 6:
            med = float(np.median(v))
            scale = max(1.4826 * float(np.median(np.abs(v - med))), RARE_MIN_SCALE)
            low[c] = med - RARE_Z * scale
    return low


def _merge_fragments(
    x: NDArray[np.float32], labels: NDArray[np.int64], k: int, cut: float
) -> NDArray[np.int64]:
    """Fold small clusters (share < ``cut``) that are fragments of a neighbour back into it: a
    fragment's rows are, on average, typical for the most similar other centroid (k-means
    sometimes splits one natural cluster into a big and a small part)."""
    n = len(x)
    counts = np.bincount(labels, minlength=k)
    small = [c for c in np.argsort(counts, kind="stable").tolist() if 0 < counts[c] < cut * n]
    if not small or k < 2:
        return labels
    sums, csim = _centroid_similarity(x, labels, k)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    units = np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0).astype(np.float32)
    low = _robust_low(csim, labels, k)
    between = units @ units.T
    np.fill_diagonal(between, -np.inf)
    between[:, counts == 0] = -np.inf
    out = labels.copy()
    into = np.arange(k)
    for c in small:
        nb = int(np.argmax(between[c]))
        members = np.flatnonzero(labels == c)
        if np.isfinite(low[nb]) and float(np.mean(x[members] @ units[nb])) >= low[nb]:
            while into[nb] != nb:
                nb = int(into[nb])
            into[c] = nb
            out[members] = nb
            between[:, c] = -np.inf
    return out


def _empty_report(k_selection: str) -> CoverageReport:
    return CoverageReport(
        n_items=0,
        n_clusters=0,
        k_selection=k_selection,
        clusters=(),
        balance=1.0,
        rare_cut=0.0,
        outliers=(),
        edge_cases=(),
        labels=np.empty(0, dtype=np.int64),
        centroid_similarity=np.empty(0, dtype=np.float32),
    )


def analyze_coverage(
    vectors: ArrayLike,
    *,
    n_clusters: int | None = None,
    rare_share: float = 0.02,
    outlier_share: float = 0.01,
    seed: int = 0,
    max_samples_per_cluster: int = 5,
    min_rare_size: int = 3,
) -> CoverageReport:
    """Cluster ``vectors`` (n, d) and report coverage figures (see the module docstring).

    ``n_clusters``: k, or None to choose it by a silhouette scan; more clusters than rows are
    reduced to one per row. ``min_rare_size``: smallest group the rare-group split creates (0
    turns it off; with it, more than ``n_clusters`` clusters can be reported). Rows are
    normalized here (zero rows stay zero; they count as similarity 0 to everything).
    """
    if n_clusters is not None and n_clusters < 1:
        raise ValueError(f"n_clusters must be >= 1, got {n_clusters}")
    if not 0.0 <= rare_share <= 1.0:
        raise ValueError(f"rare_share must be in [0, 1], got {rare_share}")
    if not 0.0 <= outlier_share <= 1.0:
        raise ValueError(f"outlier_share must be in [0, 1], got {outlier_share}")
    if max_samples_per_cluster < 1:
        raise ValueError("max_samples_per_cluster must be >= 1")
    x = _normalize(vectors)
    n = len(x)
    if n_clusters is not None:
        k, how = min(n_clusters, n), "given"
    elif n < 3:
        k, how = min(n, 1), "trivial"
    else:
        k, how = _scan_k(x, seed), "silhouette"
    if n == 0:
        return _empty_report(how)
    labels, counts = _cluster(x, k, seed, rare_share, min_rare_size)
    k = len(counts)
    rare_cut = min(rare_share, 0.25 / k)
    clusters, csim = _summaries(x, labels, counts, rare_cut, max_samples_per_cluster)
    shares = counts / n
    balance = 1.0 if k <= 1 else float(-(shares * np.log(shares)).sum() / math.log(k))
    n_out = int(outlier_share * n)
    outliers = np.sort(np.lexsort((np.arange(n), csim))[:n_out])
    rare = np.flatnonzero([c.is_rare for c in clusters])
    edge = np.union1d(outliers, np.flatnonzero(np.isin(labels, rare)))
    return CoverageReport(
        n_items=n,
        n_clusters=k,
        k_selection=how,
        clusters=tuple(clusters),
        balance=balance,
        rare_cut=rare_cut,
        outliers=tuple(int(v) for v in outliers),
        edge_cases=tuple(int(v) for v in edge),
        labels=labels,
        centroid_similarity=csim,
    )


def _cluster(
    x: NDArray[np.float32], k: int, seed: int, rare_share: float, min_rare_size: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Cluster labels per row (ids by size, descending, then lowest member index; no empty
    clusters) and the size of each cluster: k-means fitted on a sample, every row assigned,
    merged rare groups split off, fragments folded back (steps 1, 3 and 4 of the docstring)."""
    n = len(x)
    rng = np.random.default_rng(seed)
    fit = x[np.sort(rng.choice(n, FIT_SAMPLE, replace=False))] if n > FIT_SAMPLE else x
    k = min(k, len(fit))
    centers = _kmeans(fit, k, seed) if k > 1 else np.ones((1, x.shape[1]), np.float32)
    raw = _assign(x, centers)
    k_raw = len(centers)
    if min_rare_size > 0:
        sums0, csim0 = _centroid_similarity(x, raw, k_raw)
        norms0 = np.linalg.norm(sums0, axis=1, keepdims=True)
        units0 = np.divide(sums0, norms0, out=np.zeros_like(sums0), where=norms0 > 0)
        raw, k_raw = _split_rare_groups(x, raw, k_raw, csim0, units0, min_rare_size)
    raw = _merge_fragments(x, raw, k_raw, min(rare_share, 0.25 / k_raw))
    # order clusters by size desc, then by lowest member index; drop empty ones
    counts = np.bincount(raw, minlength=k_raw)
    first = np.full(k_raw, n, dtype=np.int64)
    np.minimum.at(first, raw, np.arange(n))
    order = [c for c in np.lexsort((first, -counts)).tolist() if counts[c] > 0]
    remap = np.full(k_raw, -1, dtype=np.int64)
    remap[order] = np.arange(len(order))
    return remap[raw], counts[order]


def _summaries(
    x: NDArray[np.float32],
    labels: NDArray[np.int64],
    counts: NDArray[np.int64],
    rare_cut: float,
    max_samples: int,
) -> tuple[list[ClusterSummary], NDArray[np.float32]]:
    """Per-cluster figures (see "Figures" in the docstring) and each row's cosine similarity
    to its cluster's centroid."""
    n, k = len(x), len(counts)
    sums, csim = _centroid_similarity(x, labels, k)
    # per-cluster members by descending centroid similarity (ties: lowest index)
    by = np.lexsort((np.arange(n), -csim, labels))
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    sq = np.einsum("ij,ij->i", sums, sums)
    # sum of squared row norms per cluster (= size, except for zero rows)
    own = np.bincount(labels, weights=np.einsum("ij,ij->i", x, x), minlength=k)
    shares = counts / n
    clusters = []
    for c in range(k):
        m = int(counts[c])
        members = by[starts[c] : starts[c] + m]
        cohesion = 1.0 if m == 1 else float((sq[c] - own[c]) / (m * (m - 1)))
        clusters.append(
            ClusterSummary(
                cluster_id=c,
                size=m,
                share=float(shares[c]),
                medoid=int(members[0]),
                samples=tuple(int(v) for v in members[:max_samples]),
                cohesion=min(1.0, max(-1.0, cohesion)),
                is_rare=bool(shares[c] < rare_cut),
            )
        )
    return clusters, csim
