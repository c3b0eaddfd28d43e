"""Pairs of unit vectors above a cosine threshold: the brute-force tiles and the partitioned
(IVF, multi-probe) join that ``dedup`` runs (see ``dedup``'s docstring for the algorithm and
its measurements). Pure numpy; blocks are produced lazily so callers can keep memory bounded.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from threadpoolctl import threadpool_limits

__all__ = [
    "BLOCK_ELEMS",
    "EXACT_MAX_N",
    "SIM_TOLERANCE",
    "Pairs",
    "PartitionPlan",
    "as_vectors",
    "check_threshold",
    "concat_sorted",
    "default_probe",
    "exact_blocks",
    "pair_blocks",
    "partition_plan",
    "rescore",
    "resolve_threads",
    "spherical_kmeans",
    "top_centroids",
]

_T = TypeVar("_T")
_R = TypeVar("_R")

#: ``(i, j, sim)``: int64, int64, float32 arrays of one length, ``i < j``, sorted by (i, j).
Pairs = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float32]]

#: A pair is reported when its similarity, re-computed in float64, is ``>= threshold -
#: SIM_TOLERANCE``: float32 unit vectors carry ~1e-7 of rounding, so without it a threshold of
#: 1.0 would miss copies whose dot product rounds to 0.99999994.
SIM_TOLERANCE = 1e-6
#: Candidates are taken from float32 matrix products at ``threshold - _GEMM_SLACK`` (the
#: float32 error of a unit-vector dot product is ~sqrt(d) 6e-8, ~1e-6 at d = 384) and then
#: re-scored in float64, so the reported set does not depend on BLAS blocking, thread count
#: or on which code path found it.
_GEMM_SLACK = 1e-4
#: Largest similarity block materialized at once (float32 elements: 32 MiB).
BLOCK_ELEMS = 1 << 23
#: Below this many vectors ``near_duplicate_pairs`` runs ``exact_pairs`` (measured crossover).
EXACT_MAX_N = 4_000


# --------------------------------------------------------------------------------------------
# validation and shared helpers


def as_vectors(vectors: ArrayLike) -> NDArray[np.float32]:
    """``vectors`` as a C-contiguous float32 (n, d) array; ValueError for another shape or
    NaN / infinity."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"vectors must be a 2-d array (n, d), got shape {x.shape}")
    if x.size and not np.isfinite(x).all():
        raise ValueError("vectors contain NaN or infinity")
    return x


def check_threshold(threshold: float) -> float:
    """The threshold as a float in (0, 1], else ValueError."""
    t = float(threshold)
    if not 0.0 < t <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    return t


def resolve_threads(threads: int | None) -> int:
    """Worker threads: ``os.cpu_count()`` for None, else at least 1 (ValueError below)."""
    if threads is None:
        return os.cpu_count() or 1
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    return int(threads)


def _empty_pairs() -> Pairs:
    return (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32))


def rescore(x: NDArray[np.float32], i: NDArray[np.int64], j: NDArray[np.int64]) -> NDArray:
    """float64 dot products of rows ``i`` and ``j`` (deterministic, independent of BLAS)."""
    out = np.empty(len(i), dtype=np.float64)
    step = max(1, BLOCK_ELEMS // (4 * max(1, x.shape[1])))
    for s in range(0, len(i), step):
        a = x[i[s : s + step]].astype(np.float64)
        b = x[j[s : s + step]].astype(np.float64)
        out[s : s + step] = np.einsum("ij,ij->i", a, b)
    return out


def _finish(
    x: NDArray[np.float32], i: NDArray[np.int64], j: NDArray[np.int64], threshold: float
) -> Pairs:
    """Canonical (i < j) candidates -> pairs whose float64 similarity passes the threshold."""
    sim = rescore(x, i, j)
    keep = sim >= threshold - SIM_TOLERANCE
    return i[keep], j[keep], sim[keep].astype(np.float32)


def concat_sorted(blocks: Sequence[Pairs]) -> Pairs:
    """The pairs of all ``blocks`` in one set of arrays, sorted by (i, j)."""
    if not blocks:
        return _empty_pairs()
    i = np.concatenate([b[0] for b in blocks])
    j = np.concatenate([b[1] for b in blocks])
    s = np.concatenate([b[2] for b in blocks])
    order = np.lexsort((j, i))
    return i[order], j[order], s[order]


def _ordered_map(fn: Callable[[_T], _R], items: Iterable[_T], threads: int) -> Iterator[_R]:
    """``map(fn, items)`` on ``threads`` worker threads, in order, with at most ``2 * threads``
    tasks in flight (results are consumed as they come, so memory stays bounded). numpy
    releases the GIL in matrix products, sorting and most element-wise work, and BLAS is
    limited to one thread per worker: on this workload's many mid-size products that is ~2x
    faster on 2 cores than one caller thread with a 2-thread BLAS (measured)."""
    if threads <= 1:
        with threadpool_limits(limits=1):
            yield from map(fn, items)
        return
    window: deque[Future[_R]] = deque()
    with threadpool_limits(limits=1), ThreadPoolExecutor(threads) as pool:
        for item in items:
            window.append(pool.submit(fn, item))
            if len(window) >= 2 * threads:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


# --------------------------------------------------------------------------------------------
# exact brute force

_TILE_ROWS = 2048


def exact_blocks(x: NDArray[np.float32], threshold: float, threads: int) -> Iterator[Pairs]:
    """Upper triangle of ``x @ x.T`` in tiles of at most ``BLOCK_ELEMS`` floats."""
    n = len(x)
    cut = np.float32(threshold - _GEMM_SLACK)
    cols = max(_TILE_ROWS, BLOCK_ELEMS // _TILE_ROWS)
    tiles = [(a, b) for a in range(0, n, _TILE_ROWS) for b in range(a, n, cols)]

    def tile(ab: tuple[int, int]) -> Pairs:
        a, b = ab
        li, lj = np.nonzero(x[a : a + _TILE_ROWS] @ x[b : b + cols].T >= cut)
        gi = li.astype(np.int64) + a
        gj = lj.astype(np.int64) + b
        upper = gi < gj
        return _finish(x, gi[upper], gj[upper], threshold)

    for block in _ordered_map(tile, tiles, threads):
        if len(block[0]):
            yield block


# --------------------------------------------------------------------------------------------
# partition-based candidate generation (IVF with multi-probe)


def top_centroids(
    x: NDArray[np.float32], centroids: NDArray[np.float32], p: int, threads: int
) -> NDArray[np.int64]:
    """Indices of the ``p`` most similar centroids per row, most similar first."""
    n, k = len(x), len(centroids)
    out = np.empty((n, p), dtype=np.int64)
    step = max(1, min(4096, BLOCK_ELEMS // max(1, k)))

    def chunk(s: int) -> None:
        sims = x[s : s + step] @ centroids.T
        if p == 1:
            out[s : s + step, 0] = np.argmax(sims, axis=1)
            return
        top = np.argpartition(-sims, p - 1, axis=1)[:, :p] if p < k else np.argsort(-sims, 1)
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1, kind="stable")
        out[s : s + step] = np.take_along_axis(top, order, axis=1)

    for _ in _ordered_map(chunk, range(0, n, step), threads):
        pass
    return out


def spherical_kmeans(
    x: NDArray[np.float32], k: int, *, seed: int, iterations: int, sample: int, threads: int
) -> NDArray[np.float32]:
    """Unit centroids from a few Lloyd iterations of spherical k-means on a random sample."""
    rng = np.random.default_rng(seed)
    n = len(x)
    m = min(n, max(sample, k))
    s = x[np.sort(rng.choice(n, m, replace=False))] if m < n else x
    c = s[np.sort(rng.choice(m, k, replace=False))].copy()
    for _ in range(iterations):
        assign = top_centroids(s, c, 1, threads)[:, 0]
        order = np.argsort(assign, kind="stable")
        counts = np.bincount(assign, minlength=k)
        sums = np.zeros_like(c)
        nonempty = np.flatnonzero(counts)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))[nonempty]
        sums[nonempty] = np.add.reduceat(s[order], starts, axis=0)
        empty = np.flatnonzero(counts == 0)
        if len(empty):  # re-seed empty clusters on random sample points
            sums[empty] = s[rng.choice(m, len(empty), replace=False)]
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        c = np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)
    return c


@dataclass(frozen=True, slots=True)
class PartitionPlan:
    """Partitioning parameters (see ``dedup``'s docstring for how the defaults were chosen)."""

    n_partitions: int
    n_probe: int
    kmeans_iterations: int
    kmeans_sample: int


#: Partitions: ``round(PARTITIONS_PER_SQRT_N * sqrt(n))``; k-means on
#: ``KMEANS_SAMPLE_PER_PARTITION * k`` sampled rows, ``KMEANS_ITERATIONS`` Lloyd steps.
PARTITIONS_PER_SQRT_N = 2.0
KMEANS_ITERATIONS = 8
KMEANS_SAMPLE_PER_PARTITION = 16
#: Probes at threshold 0.95; lower thresholds need more (see ``default_probe``).
BASE_PROBE = 12
MIN_PROBE = 8
MAX_PROBE = 64


def default_probe(threshold: float) -> int:
    """Probes per row: ``ceil(12 * ((1 - t) / 0.05) ** 0.6)`` clamped to [8, 64], i.e. 12 at
    t = 0.95, 19 at 0.9, 24 at 0.85 (fitted to reach recall >= 0.999 on isotropic random
    384-d data, the hardest case measured; clustered data needs fewer)."""
    p = math.ceil(BASE_PROBE * (max(1.0 - threshold, 1e-6) / 0.05) ** 0.6 - 1e-9)
    return max(MIN_PROBE, min(MAX_PROBE, p))


def partition_plan(
    n: int, threshold: float, n_partitions: int | None, n_probe: int | None
) -> PartitionPlan:
    """Partitions and probes for ``n`` rows (defaults: ``2 sqrt(n)``, ``default_probe``)."""
    k = n_partitions if n_partitions is not None else round(PARTITIONS_PER_SQRT_N * n**0.5)
    k = max(1, min(int(k), n))
    p = max(1, min(int(n_probe if n_probe is not None else default_probe(threshold)), k))
    return PartitionPlan(k, p, KMEANS_ITERATIONS, KMEANS_SAMPLE_PER_PARTITION * k)


def _ivf_blocks(
    x: NDArray[np.float32], threshold: float, plan: PartitionPlan, *, seed: int, threads: int
) -> Iterator[Pairs]:
    k, p = plan.n_partitions, plan.n_probe
    centroids = spherical_kmeans(
        x,
        k,
        seed=seed,
        iterations=plan.kmeans_iterations,
        sample=plan.kmeans_sample,
        threads=threads,
    )
    probes = top_centroids(x, centroids, p, threads)
    primary = probes[:, 0]
    # data lists: rows by primary partition; query lists: rows by every probed partition
    d_order = np.argsort(primary, kind="stable")
    d_bounds = np.concatenate(([0], np.cumsum(np.bincount(primary, minlength=k))))
    flat = probes.ravel()
    q_order = np.argsort(flat, kind="stable") // p
    q_bounds = np.concatenate(([0], np.cumsum(np.bincount(flat, minlength=k))))
    cut = np.float32(threshold - _GEMM_SLACK)
    # (partition, first query) tasks, each joining at most BLOCK_ELEMS similarities
    tasks: list[tuple[int, int, int]] = []
    for c in range(k):
        nd = int(d_bounds[c + 1] - d_bounds[c])
        if nd:
            step = max(1, BLOCK_ELEMS // nd)
            q0, q1 = int(q_bounds[c]), int(q_bounds[c + 1])
            tasks.extend((c, s, min(s + step, q1)) for s in range(q0, q1, step))

    def join(task: tuple[int, int, int]) -> Pairs:
        c, s, e = task
        data = d_order[d_bounds[c] : d_bounds[c + 1]]
        q = q_order[s:e]
        li, lj = np.nonzero(x[q] @ x[data].T >= cut)
        qi, dj = q[li], data[lj]
        # a pair is found in primary(d) when q probes it, and again in primary(q) when d
        # probes that: keep it only in the lowest such partition (and once inside one)
        a = primary[qi]
        seen_lower = (a < c) & (probes[dj] == a[:, None]).any(axis=1)
        keep = np.where(a == c, qi < dj, ~seen_lower)
        qi, dj = qi[keep], dj[keep]
        return _finish(x, np.minimum(qi, dj), np.maximum(qi, dj), threshold)

    for block in _ordered_map(join, tasks, threads):
        if len(block[0]):
            yield block


def pair_blocks(
    x: NDArray[np.float32],
    threshold: float,
    *,
    threads: int,
    seed: int,
    n_partitions: int | None,
    n_probe: int | None,
    exact_max_n: int,
) -> Iterator[Pairs]:
    """Blocks of pairs ``>= threshold`` (each pair once): brute force up to ``exact_max_n``
    rows, else the partitioned join."""
    n = len(x)
    if n < 2:
        return iter(())
    if n <= exact_max_n:
        return exact_blocks(x, threshold, threads)
    plan = partition_plan(n, threshold, n_partitions, n_probe)
    return _ivf_blocks(x, threshold, plan, seed=seed, threads=threads)
