"""Masks: uncompressed COCO RLE, IoU and pixel-vote consensus."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ._matching import _EPS

# --- masks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RLE:
    """Uncompressed COCO RLE of an ``height x width`` mask (see the package docstring).

    ``counts`` must sum to ``height * width``; runs alternate off/on starting with off.
    """

    height: int
    width: int
    counts: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.height < 0 or self.width < 0:
            raise ValueError(f"mask size must be >= 0, got {self.height} x {self.width}")
        # Checked in numpy, not per run in Python: a noisy mask can have millions of runs.
        arr = np.asarray(self.counts)
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise ValueError("RLE counts must be a sequence of integers")
        if arr.size and int(arr.min()) < 0:
            raise ValueError("RLE counts must be >= 0")
        total = int(arr.sum(dtype=np.int64))
        if total != self.height * self.width:
            pixels = self.height * self.width
            raise ValueError(f"RLE counts sum to {total}, the mask has {pixels} pixels")
        # Normalise lists/arrays to a tuple of ints so equal masks compare and hash equal.
        object.__setattr__(self, "counts", tuple(arr.tolist()))


def _decode_flat(rle: RLE) -> np.ndarray:
    """The mask as a column-major flat bool vector (what the counts describe)."""
    values = np.zeros(len(rle.counts), dtype=bool)
    values[1::2] = True  # runs alternate off, on, off, ...
    return np.repeat(values, np.asarray(rle.counts, dtype=np.int64))


def rle_decode(rle: RLE) -> np.ndarray:
    """The ``height x width`` bool mask of ``rle``."""
    return _decode_flat(rle).reshape((rle.height, rle.width), order="F")


def rle_encode(mask: npt.ArrayLike) -> RLE:
    """Uncompressed COCO RLE of a 2-D mask (non-zero = on).

    Run boundaries are where the column-major flattened mask changes value (``np.diff``), so
    the cost is a few vectorized passes, with no Python loop over pixels or runs.
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {m.shape}")
    height, width = m.shape
    flat = (m != 0).ravel(order="F")
    if flat.size == 0:
        return RLE(height, width, ())
    change = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    counts = np.diff(np.concatenate(([0], change, [flat.size])))
    if flat[0]:
        counts = np.concatenate(([0], counts))  # COCO RLE always starts with an off-run
    return RLE(height, width, tuple(counts.tolist()))


def _same_shape(masks: Sequence[RLE]) -> None:
    shapes = {(m.height, m.width) for m in masks}
    if len(shapes) > 1:
        raise ValueError(f"masks must all have the same size, got {sorted(shapes)}")


def _iou_flat(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    # Two empty masks say the same thing ("nothing here"): full agreement, not 0/0.
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


def mask_iou(a: RLE, b: RLE) -> float:
    """IoU of two masks of the same size; 1.0 when both are empty."""
    _same_shape([a, b])
    return _iou_flat(_decode_flat(a), _decode_flat(b))


def vote_masks(
    masks: Sequence[RLE],
    *,
    threshold: float = 0.5,
    weights: Sequence[float] | None = None,
) -> tuple[RLE, float]:
    """Pixel-vote consensus of several annotators' masks of one object class.

    A pixel is on when the weighted share of annotators marking it is **strictly greater**
    than ``threshold``, or when it is unanimous. So the default 0.5 is a strict majority and an
    exact tie (2 of 4 equal votes) is *off*; ``threshold=0`` is the union and ``threshold=1``
    the intersection. ``weights`` (>= 0, not all 0; default equal) weigh each mask's vote.

    Returns the consensus mask and the mean IoU of the input masks with it (unweighted: it
    measures how well the annotators agree, not how much each is trusted).
    """
    if not masks:
        raise ValueError("vote_masks needs at least one mask")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must lie in [0, 1], got {threshold}")
    _same_shape(masks)
    w = np.ones(len(masks)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(masks),):
        raise ValueError(f"need one weight per mask ({len(masks)}), got shape {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError("weights must be finite, >= 0 and not all 0")
    flats = [_decode_flat(m) for m in masks]
    votes = np.zeros(flats[0].size)
    for wi, flat in zip(w, flats, strict=True):  # a loop over annotators, not pixels
        votes[flat] += wi
    total = float(w.sum())
    on = (votes > (threshold + _EPS) * total) | (votes >= (1.0 - _EPS) * total)
    first = masks[0]
    result = rle_encode(on.reshape((first.height, first.width), order="F"))
    score = float(np.mean([_iou_flat(flat, on) for flat in flats]))
    return result, score
