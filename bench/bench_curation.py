"""Curation: near-duplicate detection vs exact brute force, and coverage analysis, same data.

Data: ``planted_duplicates`` (fixed seed), 100k x 384 float32 unit rows (quick: 20k), 10 % of
rows are copies of a base row in groups of 2-5 at cosine 0.96-0.995 to the base; twice: with
isotropic random bases (the hardest case for the partitioning) and with bases in 50 gaussian
clusters (within-cluster cosine ~0.7, closer to real embeddings). Threshold 0.95.

Baseline: ``exact_pairs`` (blocked brute-force ``X @ X.T``, all rows, measured once, not
extrapolated), which is also the recall reference. Measured: ``find_near_duplicates`` (pairs +
grouping, best of 3) and ``near_duplicate_pairs`` alone; the ratio is ours / brute force
(lower is better). Pair recall = share of the brute-force threshold graph's edges reported;
co-membership recall = share of row pairs in one brute-force component that are in one found
group; precision = share of reported pairs that brute force reports. Also timed:
``analyze_coverage`` on the same rows (k chosen by the silhouette scan). Pure CPU: Kafka and
Postgres are not used.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from labelops_curation.domain.coverage import analyze_coverage
from labelops_curation.domain.dedup import (
    exact_pairs,
    find_near_duplicates,
    near_duplicate_pairs,
    planted_duplicates,
)
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

THRESHOLD = 0.95
TARGET_S = 10.0


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _best_of(repeats: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t, out = _timed(fn)
        best = min(best, t)
    return best, out


def _component_labels(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    g = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    return connected_components(g, directed=False)[1]


def _comembership_recall(ref: np.ndarray, got: np.ndarray) -> float:
    _, both = np.unique(np.stack([ref, got]), axis=1, return_counts=True)
    _, sizes = np.unique(ref, return_counts=True)
    return float((both * (both - 1) // 2).sum() / max(1, (sizes * (sizes - 1) // 2).sum()))


def _dedup_case(n: int, d: int, clusters: int, repeats: int) -> tuple[dict, np.ndarray]:
    t_gen, (x, planted) = _timed(lambda: planted_duplicates(n, d, clusters=clusters, seed=0))
    find_near_duplicates(x[: min(n, 20_000)], THRESHOLD)  # warm up threads and page cache
    t_exact, ref = _timed(lambda: exact_pairs(x, THRESHOLD))
    t_find, groups = _best_of(repeats, lambda: find_near_duplicates(x, THRESHOLD))
    t_pairs, got = _best_of(repeats, lambda: near_duplicate_pairs(x, THRESHOLD))

    ref_set = set(zip(ref[0].tolist(), ref[1].tolist(), strict=True))
    got_set = set(zip(got[0].tolist(), got[1].tolist(), strict=True))
    hit = len(ref_set & got_set)
    found_labels = np.arange(n)
    for g in groups:
        found_labels[list(g.members)] = g.representative
    ref_labels = _component_labels(n, ref[0], ref[1])
    found = {g.members for g in groups}
    return {
        "rows": n,
        "dim": d,
        "clusters": clusters,
        "threshold": THRESHOLD,
        "generate_s": round(t_gen, 2),
        "brute_force_pairs": len(ref_set),
        "planted_groups": len(planted),
        "baseline_exact_brute_force_s": round(t_exact, 2),
        "find_near_duplicates_s": round(t_find, 3),
        "near_duplicate_pairs_s": round(t_pairs, 3),
        "ratio_find_to_brute_force": round(t_find / t_exact, 4),
        "speedup_vs_brute_force": round(t_exact / t_find, 1),
        "pair_recall": round(hit / max(1, len(ref_set)), 5),
        "pair_precision": round(hit / max(1, len(got_set)), 5),
        "comembership_recall": round(_comembership_recall(ref_labels, found_labels), 5),
        "groups_found": len(groups),
        "planted_groups_recovered": round(sum(g in found for g in planted) / len(planted), 5),
        "target_s": TARGET_S,
        "within_target": t_find <= TARGET_S,
    }, x


async def bench_curation_dedup(kafka: str, pg: str, *, quick: bool = False) -> dict:
    """Near-duplicate detection vs exact brute force (baseline), plus coverage analysis."""
    del kafka, pg  # pure CPU
    n = 20_000 if quick else 100_000
    d = 384
    repeats = 3
    out: dict[str, Any] = {"threads": os.cpu_count()}
    for name, clusters in (("isotropic", 0), ("clustered", 50)):
        case, x = _dedup_case(n, d, clusters, repeats)
        t_cov, report = _best_of(1 if not quick else 2, lambda x=x: analyze_coverage(x))
        case["analyze_coverage_s"] = round(t_cov, 2)
        case["coverage_clusters"] = report.n_clusters
        case["coverage_rare_clusters"] = len(report.rare_clusters)
        case["coverage_balance"] = round(report.balance, 3)
        case["coverage_edge_cases"] = len(report.edge_cases)
        out[name] = case
    return out


if __name__ == "__main__":  # python bench/bench_curation.py [--quick]
    import asyncio
    import json
    import sys

    res = asyncio.run(bench_curation_dedup("", "", quick="--quick" in sys.argv))
    print(json.dumps(res, indent=2))
