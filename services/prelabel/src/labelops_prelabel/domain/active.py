"""Active learning: which unlabeled items should annotators label next (pure NumPy / sklearn).

The prelabel service runs the project's model over the unlabeled pool, scores every item with
this module and publishes the scores as queue priorities; routing serves tasks in
``priority DESC`` order, so the items the model learns most from are labeled first.

Public API
----------
- Uncertainty over a probability matrix ``P`` (items x classes, rows sum to 1), higher = more
  uncertain, one vectorized pass each:

  - ``least_confidence(P) = 1 - max_c p``, in ``[0, 1 - 1/K]``;
  - ``margin(P) = 1 - (p_(1) - p_(2))`` (top two probabilities), in ``[0, 1]``;
  - ``entropy(P) = -sum_c p log p / log K`` (natural log, 0 log 0 = 0), in ``[0, 1]``.

- Diversity over embeddings ``X`` (items x dims):

  - ``k_center_greedy``: the greedy 2-approximation of the k-center (core-set) problem: each
    pick is the candidate farthest from everything already labeled or picked;
  - ``cluster_balanced``: k-means, then the best-scoring items round-robin across clusters.

- ``select_batch``: uncertainty (or random) scores, then optionally diversity inside the
  ``pool_factor * k`` most uncertain items (top-k alone picks near-duplicates: ten images of
  the same ambiguous 1-vs-7 teach the model what one of them would).
- ``priorities``: scores -> integer priorities 0..1000 by rank.

Conventions
-----------
- Results are indices into the rows of ``P`` / ``X``, as ``np.intp`` arrays, in pick order.
- Everything is deterministic: a given input and ``seed`` always give the same output. Ties go
  to the lower index (``np.argmax`` and stable sorts return the first maximum).
- Invalid input (wrong shape, NaN / inf, negative probabilities, rows not summing to 1,
  out-of-range indices) raises ``ValueError``; asking for more items than exist is not an error,
  the result is just shorter (``min(k, available)`` items).

Distances
---------
``k_center_greedy`` uses Euclidean distance by default. ``metric="cosine"`` L2-normalizes the
rows first and then uses Euclidean distance, which orders pairs exactly as cosine distance does
(``|a - b|^2 = 2 - 2 cos(a, b)`` for unit vectors); use it for text / CLIP-style embeddings
whose norm carries no meaning. Memory stays O(n * d + n): the running minimum distance to the
centers is one length-n vector updated by one matrix-vector product per pick, and the initial
distances to an already-labeled set are computed in row blocks of bounded size (never an
n x n or n x m matrix).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from sklearn.cluster import KMeans, MiniBatchKMeans

__all__ = [
    "MAX_PRIORITY",
    "Diversity",
    "Metric",
    "Strategy",
    "cluster_balanced",
    "entropy",
    "k_center_greedy",
    "least_confidence",
    "margin",
    "priorities",
    "select_batch",
]

Strategy = Literal["least_confidence", "margin", "entropy", "random"]
Diversity = Literal["none", "k_center", "cluster"]
Metric = Literal["euclidean", "cosine"]

#: The highest queue priority ``priorities`` hands out (the most useful item gets it).
MAX_PRIORITY = 1000

#: Probability rows may miss 1 by this much (float32 softmax output, rounding in transit).
_ROW_SUM_TOL = 1e-4

#: Upper bound on the elements of one temporary distance block (~32 MiB of float64).
_BLOCK_ELEMENTS = 1 << 22

#: Above this many points ``cluster_balanced`` switches from KMeans to MiniBatchKMeans.
_MINIBATCH_ABOVE = 20_000


# --- validation --------------------------------------------------------------------------------


def _probabilities(P: ArrayLike) -> np.ndarray:
    """``P`` as a float64 (n, K) array with K >= 2, finite, non-negative, rows summing to 1."""
    arr = np.asarray(P, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"P must be 2-D (items x classes), got shape {arr.shape}")
    if arr.shape[1] < 2:
        raise ValueError(f"P needs at least 2 classes, got {arr.shape[1]}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("P must be finite (no NaN or inf)")
    if np.any(arr < 0):
        raise ValueError("P must be non-negative")
    sums = arr.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > _ROW_SUM_TOL)
    if bad.size:
        raise ValueError(
            f"rows of P must sum to 1 (probabilities, not logits); row {int(bad[0])} sums to "
            f"{float(sums[bad[0]])!r}"
        )
    return arr


def _embeddings(X: ArrayLike, name: str = "X") -> np.ndarray:
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (items x dims), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr


def _indices(idx: ArrayLike | None, n: int, name: str) -> np.ndarray:
    """Sorted unique row indices in ``[0, n)``; ``None`` is the empty set."""
    if idx is None:
        return np.empty(0, dtype=np.intp)
    arr = np.asarray(idx)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if arr.size == 0:
        return np.empty(0, dtype=np.intp)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integer indices, got {arr.dtype}")
    if int(arr.min()) < 0 or int(arr.max()) >= n:
        raise ValueError(f"{name} indices must lie in [0, {n})")
    return np.unique(arr).astype(np.intp)


def _count(k: int, name: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {k!r}")
    return int(k)


# --- uncertainty -------------------------------------------------------------------------------


def least_confidence(P: ArrayLike) -> np.ndarray:
    """``1 - max_c p``: how much probability the model puts outside its own answer.

    0 for a one-hot row, ``1 - 1/K`` for the uniform row (the bound depends on K; use
    ``entropy`` to compare items scored over different class sets).
    """
    p = _probabilities(P)
    out: np.ndarray = 1.0 - p.max(axis=1)
    return np.clip(out, 0.0, 1.0)


def margin(P: ArrayLike) -> np.ndarray:
    """``1 - (p_(1) - p_(2))``: one minus the gap between the two most likely classes.

    1 when the model cannot separate its top two classes (the item sits on a decision boundary),
    0 for a one-hot row. Uses ``np.partition`` (linear in K), not a full sort.
    """
    p = _probabilities(P)
    top2 = np.partition(p, p.shape[1] - 2, axis=1)[:, -2:]
    out: np.ndarray = 1.0 - (top2[:, 1] - top2[:, 0])
    return np.clip(out, 0.0, 1.0)


def entropy(P: ArrayLike) -> np.ndarray:
    """Shannon entropy (natural log) divided by ``log K``, so 0 = one-hot, 1 = uniform.

    ``0 log 0`` is taken as 0 (its limit), so exact zeros in ``P`` are fine.
    """
    p = _probabilities(P)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    out: np.ndarray = -terms.sum(axis=1) / np.log(p.shape[1])
    return np.clip(out, 0.0, 1.0)


_SCORERS = {"least_confidence": least_confidence, "margin": margin, "entropy": entropy}


# --- diversity ---------------------------------------------------------------------------------


def _normalized(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    out: np.ndarray = X / np.where(norms > 0, norms, 1.0)
    return out


def _min_sq_dist_to(
    Xc: np.ndarray, sq_c: np.ndarray, centers: np.ndarray, sq_centers: np.ndarray
) -> np.ndarray:
    """For each row of ``Xc``, the smallest squared distance to a row of ``centers``.

    ``|a - b|^2 = |a|^2 + |b|^2 - 2 a.b``, evaluated in blocks of centers so that no temporary
    exceeds ``_BLOCK_ELEMENTS`` values (clipped at 0 against rounding).
    """
    best = np.full(Xc.shape[0], np.inf)
    step = max(1, _BLOCK_ELEMENTS // max(1, Xc.shape[0]))
    for start in range(0, centers.shape[0], step):
        block = centers[start : start + step]
        d = sq_c[:, None] + sq_centers[None, start : start + step] - 2.0 * (Xc @ block.T)
        np.minimum(best, d.min(axis=1), out=best)
    return np.maximum(best, 0.0)


def k_center_greedy(
    X: ArrayLike,
    k: int,
    *,
    already: ArrayLike | None = None,
    candidates: ArrayLike | None = None,
    seed: int = 0,
    metric: Metric = "euclidean",
) -> np.ndarray:
    """Pick ``k`` rows of ``X``, each the candidate farthest from all labeled and picked rows.

    - ``already``: indices of rows that are labeled already; they act as centers from the
      start and are never picked.
    - ``candidates``: indices of the rows that may be picked (default: every row not in
      ``already``); candidates that are also in ``already`` are dropped.
    - ``seed``: only used when there is no center yet (``already`` empty): the first pick is
      then a uniformly random candidate, drawn with ``np.random.default_rng(seed)``. Every
      later pick is the ``argmax`` of the min-distance vector (lowest index on ties).
    - ``metric``: ``"euclidean"`` or ``"cosine"`` (Euclidean on L2-normalized rows).

    Greedy k-center is within a factor 2 of the best possible covering radius (Gonzalez 1985)
    and is the core-set selection of Sener & Savarese (2018). Returns ``min(k, n_candidates)``
    indices into ``X`` in pick order. Time O(n * d * (k + m)) for m labeled rows, memory O(n * d).
    """
    pts = _embeddings(X)
    k = _count(k)
    n = pts.shape[0]
    if metric == "cosine":
        pts = _normalized(pts)
    elif metric != "euclidean":
        raise ValueError(f"metric must be 'euclidean' or 'cosine', got {metric!r}")
    centers = _indices(already, n, "already")
    cand = (
        np.setdiff1d(np.arange(n, dtype=np.intp), centers)
        if candidates is None
        else np.setdiff1d(_indices(candidates, n, "candidates"), centers)
    ).astype(np.intp)
    k = min(k, cand.size)
    if k == 0:
        return np.empty(0, dtype=np.intp)

    Xc = pts[cand]
    sq_c = np.einsum("ij,ij->i", Xc, Xc)
    picks = np.empty(k, dtype=np.intp)
    if centers.size:
        sq_centers = np.einsum("ij,ij->i", pts[centers], pts[centers])
        min_d = _min_sq_dist_to(Xc, sq_c, pts[centers], sq_centers)
        start = 0
    else:
        first = int(np.random.default_rng(seed).integers(cand.size))
        picks[0] = first
        min_d = np.full(cand.size, np.inf)
        start = 1
        _update(min_d, Xc, sq_c, first)

    for i in range(start, k):
        j = int(np.argmax(min_d))
        picks[i] = j
        _update(min_d, Xc, sq_c, j)
    out: np.ndarray = cand[picks]
    return out


def _update(min_d: np.ndarray, Xc: np.ndarray, sq_c: np.ndarray, j: int) -> None:
    """Fold candidate ``j`` in as a new center; a picked candidate can never be picked again."""
    d = sq_c + sq_c[j] - 2.0 * (Xc @ Xc[j])
    np.minimum(min_d, np.maximum(d, 0.0), out=min_d)
    min_d[j] = -np.inf


def _scores(scores: ArrayLike, n: int) -> np.ndarray:
    arr = np.asarray(scores, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"scores must be one-dimensional, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"scores has {arr.shape[0]} entries for {n} items")
    if not np.all(np.isfinite(arr)):
        raise ValueError("scores must be finite (no NaN or inf)")
    return arr


def _by_score(scores: np.ndarray) -> np.ndarray:
    """Indices by descending score, ties to the lower index (stable sort of the negation)."""
    out: np.ndarray = np.argsort(-scores, kind="stable").astype(np.intp)
    return out


def cluster_balanced(
    X: ArrayLike,
    k: int,
    scores: ArrayLike,
    *,
    n_clusters: int,
    seed: int = 0,
) -> np.ndarray:
    """k-means on ``X``, then the best-scoring items of each cluster in turn until ``k`` picks.

    Clusters are visited in the order of their best item's score (most uncertain cluster
    first); round r takes every cluster's r-th best item (descending score, ties to the lower
    index), skipping exhausted clusters. So picks are spread evenly: two clusters' pick counts
    differ by at most one unless the smaller one ran out of items.

    k-means is ``KMeans(n_init=3, random_state=seed)`` (``MiniBatchKMeans`` above 20,000 points),
    so the result is deterministic for a seed. ``n_clusters`` is capped at the number of items.
    Returns ``min(k, n)`` indices into ``X`` in pick order.
    """
    pts = _embeddings(X)
    k = _count(k)
    n_clusters = _count(n_clusters, "n_clusters")
    if n_clusters == 0:
        raise ValueError("n_clusters must be at least 1")
    n = pts.shape[0]
    s = _scores(scores, n)
    k = min(k, n)
    if k == 0:
        return np.empty(0, dtype=np.intp)

    labels = _kmeans_labels(pts, min(n_clusters, n), seed)
    order = _by_score(s)
    # Each cluster's members, best first; clusters by the position of their best member.
    members = [order[labels[order] == c] for c in np.unique(labels)]
    rank = np.empty(n, dtype=np.intp)
    rank[order] = np.arange(n, dtype=np.intp)
    members.sort(key=lambda m: int(rank[m[0]]))
    picks: list[int] = []
    for r in range(max(m.size for m in members)):
        for m in members:
            if r < m.size:
                picks.append(int(m[r]))
                if len(picks) == k:
                    return np.asarray(picks, dtype=np.intp)
    return np.asarray(picks, dtype=np.intp)  # pragma: no cover - k <= n always fills


def _kmeans_labels(pts: np.ndarray, n_clusters: int, seed: int) -> np.ndarray:
    if n_clusters == 1:
        return np.zeros(pts.shape[0], dtype=np.intp)
    model: KMeans | MiniBatchKMeans
    if pts.shape[0] > _MINIBATCH_ABOVE:
        model = MiniBatchKMeans(n_clusters=n_clusters, n_init=3, random_state=seed, batch_size=4096)
    else:
        model = KMeans(n_clusters=n_clusters, n_init=3, random_state=seed)
    labels: np.ndarray = model.fit_predict(pts).astype(np.intp)
    return labels


# --- batch selection ---------------------------------------------------------------------------


def select_batch(
    P: ArrayLike,
    X: ArrayLike | None,
    k: int,
    *,
    strategy: Strategy,
    diversity: Diversity,
    pool_factor: int = 10,
    seed: int = 0,
    labeled_X: ArrayLike | None = None,
    metric: Metric = "euclidean",
) -> np.ndarray:
    """The ``k`` unlabeled items to label next, as row indices of ``P`` (and ``X``) in pick order.

    ``P`` holds the model's class probabilities and ``X`` the embeddings of the same unlabeled
    items, row for row (``X`` may be ``None`` when ``diversity="none"``).

    1. Score every item with ``strategy`` (``"random"``: i.i.d. uniform scores from
       ``np.random.default_rng(seed)``, i.e. a seeded random sample).
    2. ``diversity="none"``: the ``k`` best scores (ties to the lower index).
       Otherwise take the ``pool_factor * k`` best as the pool and diversify inside it:

       - ``"k_center"``: ``k_center_greedy`` over the pool. Pass ``labeled_X`` (embeddings of
         the items labeled so far) to make the already-labeled items initial centers, so the
         batch also covers what the labeled set does not (the core-set criterion); without it
         the first pick is the pool's most uncertain item and the rest spread out from there.
       - ``"cluster"``: ``cluster_balanced`` over the pool with ``k`` clusters, i.e. the most
         uncertain item of each of ``k`` groups of similar items.

    ``pool_factor=1`` makes diversity a no-op (the pool is the batch); larger pools trade
    uncertainty for spread. Returns ``min(k, n)`` indices.
    """
    p = _probabilities(P)
    n = p.shape[0]
    k = _count(k)
    pool_factor = _count(pool_factor, "pool_factor")
    if pool_factor < 1:
        raise ValueError("pool_factor must be at least 1")
    if diversity not in ("none", "k_center", "cluster"):
        raise ValueError(f"unknown diversity {diversity!r}")
    scores: np.ndarray
    if strategy == "random":
        scores = np.random.default_rng(seed).random((n,))
    elif strategy in _SCORERS:
        scores = _SCORERS[strategy](p)
    else:
        raise ValueError(f"unknown strategy {strategy!r}")
    order = _by_score(scores)
    k = min(k, n)
    if diversity == "none" or k == 0:
        return order[:k]

    if X is None:
        raise ValueError(f"diversity={diversity!r} needs embeddings X")
    emb = _embeddings(X)
    if emb.shape[0] != n:
        raise ValueError(f"X has {emb.shape[0]} rows for {n} items in P")
    pool = order[: min(n, pool_factor * k)]
    if diversity == "cluster":
        chosen = cluster_balanced(emb[pool], k, scores[pool], n_clusters=k, seed=seed)
        out: np.ndarray = pool[chosen]
        return out

    if labeled_X is None:
        # No labeled centers: start from the most uncertain item, not a random one.
        rest = k_center_greedy(emb[pool], k - 1, already=np.array([0]), seed=seed, metric=metric)
        return np.concatenate([pool[:1], pool[rest]])
    lab = _embeddings(labeled_X, "labeled_X")
    if lab.shape[1] != emb.shape[1]:
        raise ValueError(f"labeled_X has {lab.shape[1]} dims, X has {emb.shape[1]}")
    both = np.vstack([emb[pool], lab])
    already = np.arange(pool.size, both.shape[0], dtype=np.intp)
    chosen = k_center_greedy(both, k, already=already, seed=seed, metric=metric)
    out = pool[chosen]
    return out


# --- priorities --------------------------------------------------------------------------------


def priorities(scores: ArrayLike) -> np.ndarray:
    """Integer queue priorities in ``0..MAX_PRIORITY``: the higher the score, the higher.

    Rank-based, so the scale of the scores does not matter (entropy, margin, a model's own
    score all spread over the whole range) and a monotone change of the scores changes nothing.
    Items are ranked by descending score, ties to the lower index (a stable sort); rank q of n
    maps to ``round(MAX_PRIORITY * (n - 1 - q) / (n - 1))``: the best item gets 1000, the worst
    0, evenly in between. Past 1001 items neighbours share a priority (the order within a
    priority is then routing's tie-break). A single item gets ``MAX_PRIORITY``.
    Returns an ``np.int64`` array aligned with ``scores``.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"scores must be one-dimensional, got shape {s.shape}")
    s = _scores(s, s.shape[0])
    n = s.shape[0]
    out = np.empty(n, dtype=np.int64)
    if n == 0:
        return out
    if n == 1:
        out[0] = MAX_PRIORITY
        return out
    q = np.arange(n, dtype=np.int64)
    # Integer round-half-up of MAX_PRIORITY * (n - 1 - q) / (n - 1): exact, no float ties.
    levels = (2 * MAX_PRIORITY * (n - 1 - q) + (n - 1)) // (2 * (n - 1))
    out[_by_score(s)] = levels
    return out
