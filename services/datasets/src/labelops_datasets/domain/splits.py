"""Deterministic train / val / test assignment of items (pure).

An item's split is a function of its id, the dataset's salt and the ratios, nothing else: not
the order items were labeled in, not how many items the dataset has, not the random state of
any process. So an item stays in the same split in every version of a dataset (no leakage of a
val image into a later version's train set), and a rebuild from the event log reassigns every
item exactly as before.

The rule: ``u = top 53 bits of blake2b-64(utf8(salt + item_id)) / 2**53``, a uniform number in
[0, 1) computed exactly in float64; ``u < train`` → "train", ``u < train + val`` → "val", else
"test". Changing the salt or the ratios re-splits items: that is a new split definition, to be
done on purpose (recorded in the version's filter) and never as a side effect.

``split_column`` is the vectorized form the projection uses (one hash per id, thresholds in
NumPy); it is guaranteed to equal ``split_of`` element-wise because both compute ``u`` from the
same bits with exact arithmetic and compare it to the same float64 thresholds.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["DEFAULT_RATIOS", "SPLITS", "split_column", "split_of"]

#: Split names, in threshold order.
SPLITS = ("train", "val", "test")

DEFAULT_RATIOS: tuple[float, float, float] = (0.8, 0.1, 0.1)

# 53 bits fit a float64 mantissa exactly, so u = bits / 2**53 is exact and strictly below 1.
_MANTISSA_BITS = 53
_SCALE = float(1 << _MANTISSA_BITS)
_DIGEST_SIZE = 8


def _thresholds(ratios: Sequence[float]) -> tuple[float, float]:
    """The two cut points in [0, 1]; validates the ratios."""
    if len(ratios) != 3:
        raise ValueError(f"ratios must be (train, val, test), got {tuple(ratios)!r}")
    r = tuple(float(x) for x in ratios)
    if any(not math.isfinite(x) or x < 0 for x in r):
        raise ValueError(f"ratios must be finite and non-negative, got {r!r}")
    if abs(sum(r) - 1.0) > 1e-9:
        raise ValueError(f"ratios must sum to 1, got {r!r} (sum {sum(r)!r})")
    # Computed once, the same way for both entry points: their results must agree bit for bit.
    return r[0], r[0] + r[1]


def _unit(digest: bytes) -> float:
    return (int.from_bytes(digest, "big") >> (64 - _MANTISSA_BITS)) / _SCALE


def _pick(u: float, t_train: float, t_val: float) -> str:
    if u < t_train:
        return SPLITS[0]
    if u < t_val:
        return SPLITS[1]
    return SPLITS[2]


def split_of(
    item_id: str, ratios: tuple[float, float, float] = DEFAULT_RATIOS, *, salt: str = ""
) -> str:
    """The split ("train" | "val" | "test") of ``item_id``; deterministic forever.

    ``u`` = the top 53 bits of ``blake2b(utf8(salt + item_id), digest_size=8)`` as a fraction of
    2**53. Same id, salt and ratios → same split, on every machine and Python version.
    Changing ``salt`` or ``ratios`` re-splits items (a new split definition, not a bug fix).
    """
    t_train, t_val = _thresholds(ratios)
    digest = hashlib.blake2b((salt + item_id).encode("utf-8"), digest_size=_DIGEST_SIZE)
    return _pick(_unit(digest.digest()), t_train, t_val)


def _as_strings(item_ids: pa.Array | pa.ChunkedArray | Sequence[str]) -> list[str]:
    if isinstance(item_ids, pa.ChunkedArray | pa.Array):
        if item_ids.null_count:
            raise ValueError("item ids must not be null")
        if not (pa.types.is_string(item_ids.type) or pa.types.is_large_string(item_ids.type)):
            raise ValueError(f"item ids must be strings, got {item_ids.type}")
        return item_ids.to_pylist()  # type: ignore[no-any-return]
    out = list(item_ids)
    if any(not isinstance(i, str) for i in out):
        raise ValueError("item ids must be str")
    return out


def split_column(
    item_ids: pa.Array | pa.ChunkedArray | Sequence[str],
    ratios: tuple[float, float, float] = DEFAULT_RATIOS,
    salt: str = "",
) -> pa.Array:
    """``split_of`` over many ids, as a ``pa.string()`` array (the ``split`` column).

    One blake2b per id is the only Python-level work (about 0.5-0.9 s per million ids); the
    bit extraction and thresholds run in NumPy, the names are a ``take`` from a 3-value array.
    """
    t_train, t_val = _thresholds(ratios)
    ids = _as_strings(item_ids)
    # Hash the salt once and copy its state per id: same digest as hashing salt + id (blake2b
    # is a streaming hash), cheaper than concatenating and re-hashing the prefix every time.
    copy_prefix = hashlib.blake2b(salt.encode("utf-8"), digest_size=_DIGEST_SIZE).copy

    def digest(item_id: str) -> bytes:
        h = copy_prefix()
        h.update(item_id.encode("utf-8"))
        return h.digest()

    bits = np.frombuffer(b"".join(map(digest, ids)), dtype=">u8") >> np.uint64(64 - _MANTISSA_BITS)
    # bits < 2**53, so the float64 conversion and the division by a power of two are exact:
    # the same u as ``_unit`` computes with Python ints.
    u = bits.astype(np.float64) / _SCALE
    codes = (u >= t_train).astype(np.int8) + (u >= t_val).astype(np.int8)
    return pc.take(pa.array(SPLITS, pa.string()), pa.array(codes, pa.int8()))
