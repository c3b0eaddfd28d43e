"""Labels as integer codes: what every coefficient of the package starts from."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]


def _vector(x: Sequence[Hashable] | np.ndarray, name: str) -> np.ndarray:
    """``x`` as a 1-D array; lists become object arrays so 1 and "1" stay different labels."""
    if isinstance(x, np.ndarray):
        arr = x
    else:
        # np.asarray would coerce a mixed list to one dtype ([1, "a"] -> ["1", "a"]).
        arr = _boxed(list(x))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _boxed(items: list[Hashable]) -> np.ndarray:
    """1-D object array of ``items`` (element-wise: tuples as labels must not become a 2-D
    array, as ``np.asarray`` or slice assignment would make them)."""
    out = np.empty(len(items), dtype=object)
    for i, v in enumerate(items):
        out[i] = v
    return out


def _factorize(x: np.ndarray) -> tuple[list[Hashable], IntArray]:
    """Distinct values of ``x`` and, per element, the index of its value among them."""
    if x.dtype != object:
        uniq, inverse = np.unique(x, return_inverse=True)
        return uniq.tolist(), inverse.reshape(-1).astype(np.intp)
    index: dict[Hashable, int] = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in x), dtype=np.intp, count=x.size)
    return list(index), codes


def _ordered(values: Iterable[Hashable]) -> tuple[list[Hashable], bool]:
    """Distinct values sorted when mutually comparable (as sklearn's ``unique_labels``), else
    in first-seen order; the flag says whether they could be sorted."""
    distinct = list(dict.fromkeys(values))
    try:
        return sorted(distinct), True  # type: ignore[type-var]
    except TypeError:
        return distinct, False


def _recode(uniq: list[Hashable], codes: IntArray, index: dict[Hashable, int]) -> IntArray:
    # Python touches each *distinct* value once; the per-element work is one take.
    lut = np.fromiter((index.get(v, -1) for v in uniq), dtype=np.intp, count=len(uniq))
    return lut[codes] if codes.size else codes
