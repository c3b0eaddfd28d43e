"""Text spans: clustered like boxes on the Jaccard index, fused by per-character majority."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._matching import _cluster, _default_support, _Labels

# --- text spans ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """A labelled text span: half-open character offsets ``[start, end)``."""

    class_id: str
    start: int
    end: int

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"span end must be >= start: {self}")


@dataclass(frozen=True)
class FusedSpan:
    """A consensus span. ``score``: mean Jaccard of the members with the fused span times the
    support fraction ``support / n_annotators`` (like ``FusedBox.score``)."""

    class_id: str
    start: int
    end: int
    support: int
    score: float
    #: The (annotator index, span index) pairs fused into it, in annotator order.
    members: tuple[tuple[int, int], ...] = ()


def _jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise Jaccard over character offsets of intervals (N x 2, M x 2 of start, end)."""
    inter = np.clip(
        np.minimum(a[:, None, 1], b[None, :, 1]) - np.maximum(a[:, None, 0], b[None, :, 0]),
        0.0,
        None,
    )
    union = (a[:, 1] - a[:, 0])[:, None] + (b[:, 1] - b[:, 0])[None, :] - inter
    # Empty spans cover no character: Jaccard 0, so they never match.
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _intervals(spans: Sequence[Span]) -> np.ndarray:
    return np.array([(s.start, s.end) for s in spans], dtype=np.float64).reshape(-1, 2)


def _majority_span(members: np.ndarray) -> tuple[int, int]:
    """Fused [start, end) of a cluster's intervals (K x 2) by per-character majority.

    Characters covered by strictly more than half of the members are on; the fused span runs
    from the first to the last of them (a span is contiguous, so an interior gap is bridged).
    When no character has a strict majority (an even split, possible because members only had
    to overlap the cluster's centroid, not each other), the most-covered characters are used
    instead, and when no member covers any character (all empty), the median start and end.
    """
    starts, ends = members[:, 0].astype(np.int64), members[:, 1].astype(np.int64)
    lo, hi = int(starts.min()), int(ends.max())
    # Coverage count per character in [lo, hi) from +1 / -1 events at starts / ends.
    delta = np.zeros(hi - lo + 1, dtype=np.int64)
    np.add.at(delta, starts - lo, 1)
    np.add.at(delta, ends - lo, -1)
    cover = np.cumsum(delta)[:-1]
    if cover.size == 0 or cover.max() == 0:
        return int(np.median(starts)), int(np.median(ends))
    on = np.flatnonzero(2 * cover > len(members))
    if on.size == 0:
        on = np.flatnonzero(cover == cover.max())
    return lo + int(on[0]), lo + int(on[-1]) + 1


def fuse_spans(
    annotations: Sequence[Sequence[Span]],
    *,
    min_overlap: float = 0.5,
    min_support: int | None = None,
) -> list[FusedSpan]:
    """Consensus text spans of several annotators' spans on one item.

    Clustered like boxes (package docstring): annotator by annotator, Hungarian matching on the
    Jaccard index over character offsets against each cluster's centroid (mean start, mean
    end of its members), same class only, Jaccard >= ``min_overlap``, then the merge pass.
    Clusters with at least ``min_support`` members (default: strict majority of all
    annotators) are fused by per-character majority (see ``_majority_span``: strict majority
    of the cluster's members, the first to the last such character). Sorted by start, end,
    class.
    """
    if not 0.0 < min_overlap <= 1.0:
        raise ValueError(f"min_overlap must lie in (0, 1], got {min_overlap}")
    n = len(annotations)
    need = _default_support(n, min_support)
    labels = _Labels(
        vectors=[_intervals(spans) for spans in annotations],
        weights=[np.ones(len(spans)) for spans in annotations],
        classes=[[s.class_id for s in spans] for spans in annotations],
        similarity=_jaccard,
        threshold=lambda cls: min_overlap,
    )
    fused: list[FusedSpan] = []
    for cluster in _cluster(labels):
        if len(cluster) < need:
            continue
        members = np.stack([labels.vectors[a][i] for a, i in cluster])
        start, end = _majority_span(members)
        agreement = float(_jaccard(members, np.array([[start, end]], dtype=np.float64)).mean())
        fused.append(
            FusedSpan(
                class_id=labels.class_of(cluster),
                start=start,
                end=end,
                support=len(cluster),
                score=agreement * len(cluster) / n,
                members=tuple(cluster),
            )
        )
    fused.sort(key=lambda f: (f.start, f.end, f.class_id))
    return fused
