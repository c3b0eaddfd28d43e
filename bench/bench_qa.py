"""QA: Dawid-Skene consensus vs crowd-kit's ``DawidSkene`` on the same simulated crowd.

Data: ``simulate_crowd`` (fixed seed): 200k items x 5 labels = 1,000,000 annotations (quick:
20k items, 100k annotations), 10 classes with imbalanced priors (~0.7^k), 500 workers
(experts, ordinary workers, uniform and constant spammers, systematic two-class confusers) of
skewed activity, distinct workers per item.

Baseline: crowd-kit 1.4 ``DawidSkene`` at its defaults (``n_iter=100``, ``tol=1e-5``: stops
when its ELBO per annotation gains less than ``tol``), fitted on a ``task, worker, label``
DataFrame (building the frame is not timed, as building ``Annotations`` is not timed for us).
Measured: ``dawid_skene`` with the same ``max_iter=100, tol=1e-5`` (our stop: log-likelihood
per annotation or every posterior changes by less than ``tol``). Times are wall clock, best of
1 run for crowd-kit (~15 s at full size) and 2 for ours. The ratio is crowd-kit / ours (higher
is better; target >= 10). The two stopping rules are not identical, so the iterations of both
are reported, as is a same-work ratio: ours run for exactly crowd-kit's number of iterations
(``tol=0``). Accuracy of both (and of majority and weighted vote) is against the simulated
truth; ``label_agreement`` is the share of items where crowd-kit and we choose the same label.
Also: a warm start (the model fitted on 90 % of the annotations, then all of them) against the
cold fit. Pure CPU: Kafka and Postgres are not used.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from crowdkit.aggregation import DawidSkene
from labelops_qa.domain.aggregation import (
    Annotations,
    dawid_skene,
    majority_vote,
    simulate_crowd,
    weighted_vote,
)

MAX_ITER = 100  # crowd-kit's default n_iter
TOL = 1e-5  # crowd-kit's default tol
TARGET_RATIO = 10.0


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


def _crowdkit(df: pd.DataFrame, n_items: int) -> tuple[np.ndarray, int]:
    with warnings.catch_warnings():
        # crowd-kit 1.4 on pandas 3 warns about deprecated inplace= on every step.
        warnings.simplefilter("ignore")
        ds = DawidSkene(n_iter=MAX_ITER, tol=TOL).fit(df)
    labels = ds.labels_.reindex(range(n_items)).to_numpy()
    return labels, len(ds.loss_history_)


async def bench_qa(kafka: str, pg: str, *, quick: bool = False) -> dict:
    """Dawid-Skene on 1M simulated annotations (quick: 100k): crowd-kit (baseline) vs ours."""
    del kafka, pg  # pure CPU
    n_items, per_item, n_workers, k = (20_000 if quick else 200_000), 5, 500, 10
    ck_repeats, our_repeats = (2, 2) if quick else (1, 2)

    t_gen, crowd = _timed(
        lambda: simulate_crowd(n_items, n_workers, k, labels_per_item=(per_item, per_item), seed=0)
    )
    a, truth = crowd.annotations, crowd.truth
    df = pd.DataFrame({"task": a.items, "worker": a.workers, "label": a.labels})

    def acc(labels: np.ndarray) -> float:
        return round(float(np.mean(labels == truth)), 5)

    dawid_skene(a, max_iter=2)  # warm up allocator and BLAS threads (not timed)
    t_ck, (ck_labels, ck_iters) = _best_of(ck_repeats, lambda: _crowdkit(df, n_items))
    t_ours, (ours, model) = _best_of(
        our_repeats, lambda: dawid_skene(a, max_iter=MAX_ITER, tol=TOL)
    )
    t_same, (_, same_model) = _best_of(
        our_repeats, lambda: dawid_skene(a, max_iter=ck_iters, tol=0.0)
    )
    t_mv, mv = _best_of(our_repeats, lambda: majority_vote(a))
    t_wv, wv = _best_of(our_repeats, lambda: weighted_vote(a))

    # Incremental labelling: last run's model (90 % of the labels) as the start of this one.
    keep = np.sort(
        np.random.default_rng(1).permutation(a.n_annotations)[: a.n_annotations * 9 // 10]
    )
    earlier = Annotations(
        a.items[keep], a.workers[keep], a.labels[keep], a.n_items, a.n_workers, a.n_classes
    )
    _, previous = dawid_skene(earlier, max_iter=MAX_ITER, tol=TOL)
    t_warm, (warm, warm_model) = _best_of(
        our_repeats, lambda: dawid_skene(a, max_iter=MAX_ITER, tol=TOL, init=previous)
    )

    ratio = t_ck / t_ours
    return {
        "threads": os.cpu_count(),
        "annotations": a.n_annotations,
        "items": n_items,
        "workers": n_workers,
        "classes": k,
        "generate_s": round(t_gen, 2),
        "max_iter": MAX_ITER,
        "tol": TOL,
        "baseline_crowdkit_ds_s": round(t_ck, 2),
        "crowdkit_iterations": ck_iters,
        "ours_ds_s": round(t_ours, 3),
        "ours_iterations": model.iterations,
        "ours_converged": model.converged,
        "ratio_crowdkit_to_ours": round(ratio, 1),
        "target_ratio": TARGET_RATIO,
        "meets_target": ratio >= TARGET_RATIO,
        "ours_same_iterations_s": round(t_same, 3),
        "ratio_same_iterations": round(t_ck / t_same, 1),
        "ms_per_iteration": {
            "crowdkit": round(1000 * t_ck / max(1, ck_iters), 1),
            "ours": round(1000 * t_same / max(1, same_model.iterations), 2),
        },
        "accuracy": {
            "crowdkit_ds": acc(ck_labels),
            "ours_ds": acc(ours.labels),
            "majority_vote": acc(mv.labels),
            "weighted_vote": acc(wv.labels),
        },
        "label_agreement_with_crowdkit": round(float(np.mean(ours.labels == ck_labels)), 5),
        "majority_vote_s": round(t_mv, 3),
        "weighted_vote_s": round(t_wv, 3),
        "warm_start_from_90pct": {
            "seconds": round(t_warm, 3),
            "iterations": warm_model.iterations,
            "cold_iterations": model.iterations,
            "accuracy": acc(warm.labels),
            "label_agreement_with_cold": round(float(np.mean(warm.labels == ours.labels)), 5),
        },
    }


if __name__ == "__main__":  # python bench/bench_qa.py [--quick]
    import asyncio
    import json
    import sys

    res = asyncio.run(bench_qa("", "", quick="--quick" in sys.argv))
    print(json.dumps(res, indent=2))
