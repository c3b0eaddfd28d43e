"""The clustering boxes and spans share: Hungarian matching against running centroids, then
the merge pass (see the package docstring)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from scipy.optimize import linear_sum_assignment

#: Slack for comparisons against thresholds: IoU, Jaccard and weighted vote shares are computed
#: in floating point, and an exact tie (identical boxes at threshold 1.0, two of four votes at
#: 0.5) must not flip on the last bit of round-off.
_EPS: Final = 1e-9

#: (annotator index, label index) pairs of one cluster, in annotator order.
_Cluster = list[tuple[int, int]]


# --- shared matching machinery ------------------------------------------------------------------


def _assign(sim: np.ndarray, valid: np.ndarray) -> list[tuple[int, int]]:
    """Maximum-similarity one-to-one matching restricted to ``valid`` pairs (Hungarian).

    Forbidden pairs get similarity 0 and are dropped afterwards. That is exact, not a
    heuristic: every valid pair has a positive similarity (thresholds are > 0), so removing the
    forbidden pairs from an optimal assignment leaves an optimal matching of the valid ones.
    """
    if not valid.any():
        return []
    rows, cols = linear_sum_assignment(np.where(valid, sim, 0.0), maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if valid[r, c]]


@dataclass(frozen=True)
class _Labels:
    """Every annotator's labels of one kind, in the form the clustering works on."""

    #: Per annotator, one row per label: box corners (x1, y1, x2, y2) or span (start, end).
    vectors: list[np.ndarray]
    #: Per annotator, each label's weight in its cluster's centroid.
    weights: list[np.ndarray]
    classes: list[list[str]]
    #: Pairwise similarity of two stacks of vectors (IoU, Jaccard), in [0, 1].
    similarity: Callable[[np.ndarray, np.ndarray], np.ndarray]
    #: Class -> the similarity a pair of that class needs to match (> 0).
    threshold: Callable[[str], float]

    def centroid(self, cluster: _Cluster) -> np.ndarray:
        pts = np.stack([self.vectors[a][i] for a, i in cluster])
        return _weighted_mean(pts, np.array([self.weights[a][i] for a, i in cluster]))

    def class_of(self, cluster: _Cluster) -> str:
        a, i = cluster[0]
        return self.classes[a][i]

    def allowed(self, sim: np.ndarray, rows: Sequence[str], cols: Sequence[str]) -> np.ndarray:
        """Pairs of the same class whose similarity reaches that class's threshold."""
        same = np.array(rows, dtype=object)[:, None] == np.array(cols, dtype=object)[None, :]
        need = np.array([self.threshold(c) for c in rows], dtype=np.float64).reshape(-1, 1)
        return np.asarray(same & (sim >= need - _EPS), dtype=bool)


def _cluster(labels: _Labels) -> list[_Cluster]:
    """Cluster labels across annotators, at most one label per annotator per cluster.

    Annotator by annotator, Hungarian matching against the current centroids; then the merge
    pass (package docstring). Members are listed in annotator order.
    """
    clusters: list[_Cluster] = []
    for a, vectors in enumerate(labels.vectors):
        if len(vectors) == 0:
            continue
        matched: set[int] = set()
        if clusters:
            centroids = np.stack([labels.centroid(c) for c in clusters])
            sim = labels.similarity(vectors, centroids)
            valid = labels.allowed(sim, labels.classes[a], [labels.class_of(c) for c in clusters])
            for row, col in _assign(sim, valid):
                clusters[col].append((a, row))
                matched.add(row)
        # Each unmatched label opens its own cluster; the next annotator is matched against it.
        clusters.extend([[(a, i)] for i in range(len(vectors)) if i not in matched])
    return _merge(labels, clusters)


def _merge(labels: _Labels, clusters: list[_Cluster]) -> list[_Cluster]:
    """Merge clusters of one class with disjoint annotators whose centroids match, best first.

    The similarity matrix of the centroids is computed once; a merge only recomputes the row of
    the merged cluster, so the pass costs one C x C matrix plus O(C) per merge.
    """
    k = len(clusters)
    if k < 2:
        return clusters
    classes = [labels.class_of(c) for c in clusters]
    centroids = np.stack([labels.centroid(c) for c in clusters])
    who = np.zeros((k, len(labels.vectors)), dtype=np.int64)  # cluster x annotator membership
    for c, cluster in enumerate(clusters):
        who[c, [a for a, _ in cluster]] = 1
    sim = labels.similarity(centroids, centroids)
    ok = labels.allowed(sim, classes, classes) & (who @ who.T == 0)
    ok = np.triu(ok, 1)  # each unordered pair once (and never a cluster with itself)
    while True:
        best = np.where(ok, sim, -1.0)
        i, j = divmod(int(np.argmax(best)), k)  # i < j; ties: first in row-major order
        if best[i, j] < 0.0:
            break
        clusters[i] = sorted(clusters[i] + clusters[j])
        clusters[j] = []
        who[i] += who[j]
        who[j] = 0
        centroids[i] = labels.centroid(clusters[i])
        row = labels.similarity(centroids[i : i + 1], centroids)[0]
        sim[i, :] = sim[:, i] = row
        ok[j, :] = ok[:, j] = ok[i, :] = ok[:, i] = False
        alive = who.sum(axis=1) > 0
        again = labels.allowed(row[None, :], [classes[i]], classes)[0] & (who @ who[i] == 0)
        again &= alive
        again[i] = False
        for other in np.flatnonzero(again):
            ok[min(i, other), max(i, other)] = True
    return [c for c in clusters if c]


def _default_support(n: int, min_support: int | None) -> int:
    if min_support is None:
        return n // 2 + 1  # strict majority: half of the annotators is not enough
    if min_support < 1:
        raise ValueError(f"min_support must be >= 1, got {min_support}")
    return min_support


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean over axis 0; plain mean when all weights are 0 (nothing to prefer)."""
    total = float(weights.sum())
    if total <= 0.0:
        return np.asarray(values.mean(axis=0))
    return np.asarray(weights @ values / total)
