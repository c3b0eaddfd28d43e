"""Agreement over annotations (item, annotator, label): latest-wins ratings, pairwise kappa,
summaries and tumbling windows (see the package docstring)."""

from __future__ import annotations

import math
import numbers
from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

import numpy as np

from ._encoding import FloatArray, IntArray, _boxed, _factorize
from .alpha import _alpha, _check_level
from .kappa import fleiss_kappa

# --- annotations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Annotation:
    """One label an annotator gave an item.

    ``class_id`` groups annotations for ``AgreementSummary.per_class`` (e.g. the ontology
    class of the label); ``at`` is the submission time in seconds (for ``windowed`` and to
    pick an annotator's latest label of an item).
    """

    item_id: str
    annotator_id: str
    label: Hashable
    class_id: str = ""
    at: float = 0.0


@dataclass(frozen=True)
class AgreementSummary:
    """Agreement over a set of annotations (see ``agreement_summary``)."""

    items: int
    annotators: int
    krippendorff_alpha: float
    fleiss_kappa: float | None
    pairwise: dict[tuple[str, str], tuple[float, int]]
    per_class: dict[str, float]


@dataclass(frozen=True)
class _Coded:
    """Latest ratings as integer codes: one row per (item, annotator)."""

    item: IntArray
    annotator: IntArray  # codes follow sorted annotator ids, so code order = id order
    label: IntArray
    n_labels: int
    n_items: int
    annotator_ids: list[str]
    anns: list[Annotation]


def _latest(annotations: Iterable[Annotation]) -> list[Annotation]:
    """One annotation per (item, annotator): the latest ``at``, later in input on ties."""
    latest: dict[tuple[str, str], Annotation] = {}
    for ann in annotations:
        key = (ann.item_id, ann.annotator_id)
        prev = latest.get(key)
        if prev is None or ann.at >= prev.at:
            latest[key] = ann
    return list(latest.values())


def _code(anns: list[Annotation]) -> _Coded:
    items: dict[str, int] = {}
    item = np.fromiter(
        (items.setdefault(a.item_id, len(items)) for a in anns), dtype=np.intp, count=len(anns)
    )
    annotator_ids = sorted({a.annotator_id for a in anns})
    rank = {a: i for i, a in enumerate(annotator_ids)}
    annotator = np.fromiter((rank[a.annotator_id] for a in anns), dtype=np.intp, count=len(anns))
    labels, label = _factorize(_boxed([a.label for a in anns]))
    return _Coded(item, annotator, label, len(labels), len(items), annotator_ids, anns)


def _pairwise(c: _Coded, min_items: int) -> dict[tuple[str, str], tuple[float, int]]:
    """Unweighted kappa of every annotator pair on their shared items, all pairs at once."""
    order = np.lexsort((c.annotator, c.item))
    item, rater, label = c.item[order], c.annotator[order], c.label[order]
    # Every within-item pair (p, q), p < q in (item, annotator) order: position p pairs with
    # the positions after it up to the end of its item's run.
    run_end = np.searchsorted(item, item, side="right")
    partners = run_end - np.arange(item.size) - 1
    first = np.repeat(np.arange(item.size), partners)
    if first.size == 0:
        return {}
    offset = np.arange(first.size) - np.repeat(np.cumsum(partners) - partners, partners) + 1
    second = first + offset
    # Within an item annotators are sorted, so rater[first] < rater[second]: sorted-id pairs.
    pair_key = rater[first].astype(np.int64) * len(c.annotator_ids) + rater[second]
    pairs, pair, shared = np.unique(pair_key, return_inverse=True, return_counts=True)
    pair = pair.reshape(-1).astype(np.int64)
    la, lb = label[first], label[second]
    agree = np.bincount(pair, weights=(la == lb), minlength=pairs.size)
    # Chance term S = sum_k s_a(k) s_b(k) over each pair's label counts, joined on (pair, k).
    ka_keys, ka_counts = np.unique(pair * c.n_labels + la, return_counts=True)
    kb_keys, kb_counts = np.unique(pair * c.n_labels + lb, return_counts=True)
    common, ia, ib = np.intersect1d(ka_keys, kb_keys, assume_unique=True, return_indices=True)
    chance = np.bincount(
        common // c.n_labels,
        weights=ka_counts[ia].astype(np.float64) * kb_counts[ib],
        minlength=pairs.size,
    )
    # sklearn's 1 - sum_offdiag(confusion) / sum_offdiag(expected) with expected = s_a s_b / n
    # is 1 - (n - agree) * n / (n^2 - S); all integers (exact in float64 below 2^53), so the
    # zero test for "both used one and the same label" is exact.
    n = shared.astype(np.float64)
    chance_disagreement = n * n - chance
    kappa = np.full(pairs.size, math.nan)
    ok = chance_disagreement > 0
    kappa[ok] = 1.0 - (n[ok] - agree[ok]) * n[ok] / chance_disagreement[ok]
    n_raters = len(c.annotator_ids)
    ids = c.annotator_ids
    return {
        (ids[int(key) // n_raters], ids[int(key) % n_raters]): (float(k), int(m))
        for key, k, m in zip(pairs, kappa, shared, strict=True)
        if m >= min_items
    }


def pairwise_cohen(
    annotations: Iterable[Annotation], *, min_items: int = 1
) -> dict[tuple[str, str], tuple[float, int]]:
    """Cohen's kappa of every annotator pair on the items both labelled.

    Returns ``{(a, b): (kappa, n_shared_items)}`` with ``a < b``; pairs that share fewer than
    ``min_items`` items are omitted, and ``kappa`` is ``nan`` where undefined (both used the
    same single label). Each annotator's latest label of an item counts. Empty input -> ``{}``.
    """
    if min_items < 1:
        raise ValueError(f"min_items must be >= 1, got {min_items}")
    anns = _latest(annotations)
    if not anns:
        return {}
    return _pairwise(_code(anns), min_items)


def _values(c: _Coded, level: str) -> FloatArray:
    """Per-rating values for alpha: label codes (nominal) or the labels as numbers."""
    if level == "nominal":
        return c.label.astype(np.float64)
    distinct: dict[Hashable, float] = {}
    for ann in c.anns:
        if ann.label in distinct:
            continue
        lab = ann.label
        if not isinstance(lab, numbers.Real) or not math.isfinite(float(lab)):
            raise ValueError(
                f"level {level!r} needs finite numeric labels, got {lab!r} "
                f"(item {ann.item_id!r}, annotator {ann.annotator_id!r})"
            )
        distinct[lab] = float(lab)
    return np.fromiter((distinct[a.label] for a in c.anns), dtype=np.float64, count=len(c.anns))


def _summary(anns: list[Annotation], level: str) -> AgreementSummary:
    c = _code(anns)
    values = _values(c, level)
    per_item = np.bincount(c.item, minlength=c.n_items)
    fleiss: float | None = None
    if per_item.min() >= 2 and per_item.min() == per_item.max():
        k = c.n_labels
        table = np.bincount(c.item * k + c.label, minlength=c.n_items * k)
        fleiss = fleiss_kappa(table.reshape(c.n_items, k))
    # per_class: one alpha per class_id group, each over its own (item, value) ratings.
    groups: dict[str, list[int]] = defaultdict(list)
    for i, ann in enumerate(anns):
        groups[ann.class_id].append(i)
    per_class = {}
    for class_id, idx in groups.items():
        sel = np.asarray(idx, dtype=np.intp)
        per_class[class_id] = _alpha(c.item[sel], values[sel], level)
    return AgreementSummary(
        items=c.n_items,
        annotators=len(c.annotator_ids),
        krippendorff_alpha=_alpha(c.item, values, level),
        fleiss_kappa=fleiss,
        pairwise=_pairwise(c, 1),
        per_class=per_class,
    )


def agreement_summary(
    annotations: Iterable[Annotation], *, level: str = "nominal"
) -> AgreementSummary:
    """Agreement report over annotations: alpha, Fleiss (when balanced), pairwise, per class.

    Items are units and annotators raters; each annotator's latest label of an item counts.
    ``level`` applies to alpha (overall and per class; labels must be numbers unless
    nominal). ``fleiss_kappa`` is ``None`` unless every item has the same number (>= 2) of
    ratings. Undefined statistics are ``nan`` (e.g. alpha when no item has two annotators).
    Raises ``ValueError`` on empty input or an unknown level.
    """
    _check_level(level)
    anns = _latest(annotations)
    if not anns:
        raise ValueError("agreement_summary needs at least one annotation")
    return _summary(anns, level)


def windowed(
    annotations: Iterable[Annotation], window_s: float, *, level: str = "nominal"
) -> list[tuple[float, AgreementSummary]]:
    """``agreement_summary`` (at ``level``) per tumbling window of ``window_s`` seconds of ``at``.

    Windows are aligned to ``at = 0`` (start ``floor(at / window_s) * window_s``) and summarise
    only their own annotations; windows where no item was labelled by two annotators are
    skipped. Returns ``[(window_start, summary), ...]`` ordered by start (``[]`` for no input).
    """
    if not (math.isfinite(window_s) and window_s > 0):
        raise ValueError(f"window_s must be a positive number of seconds, got {window_s!r}")
    buckets: dict[int, list[Annotation]] = defaultdict(list)
    for ann in annotations:
        if not math.isfinite(ann.at):
            raise ValueError(f"annotation at must be finite, got {ann.at!r} ({ann.item_id!r})")
        buckets[math.floor(ann.at / window_s)].append(ann)
    out: list[tuple[float, AgreementSummary]] = []
    for index in sorted(buckets):
        anns = _latest(buckets[index])
        items = [a.item_id for a in anns]
        # After _latest each (item, annotator) is unique, so a repeated item means two raters.
        if len(set(items)) == len(items):
            continue
        out.append((float(index * window_s), _summary(anns, level)))
    return out
