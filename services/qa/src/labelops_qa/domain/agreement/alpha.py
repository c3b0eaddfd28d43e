"""Krippendorff's alpha at the four levels of measurement (see the package docstring for the
sparse coincidence matrix and the parity with the ``krippendorff`` package)."""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import scipy.sparse as sp

from ._encoding import FloatArray, IntArray

LEVELS: Final = ("nominal", "ordinal", "interval", "ratio")

# Cap (in float64 elements) on the value x value block of the ratio level's expected
# disagreement, which has no closed form: ~32 MB per block whatever the number of values.
_RATIO_BLOCK: Final = 1 << 22


# --- Krippendorff's alpha ----------------------------------------------------------------------


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")


def krippendorff_alpha(reliability_data: np.ndarray, level: str = "nominal") -> float:
    """Krippendorff's alpha of a raters x units matrix (``np.nan`` = no value), as the package.

    ``level``: ``"nominal"``, ``"ordinal"``, ``"interval"`` or ``"ratio"`` (the distance
    between two values). Values are numbers; for nominal data they are just category codes.
    Units with fewer than two values are not pairable and are ignored. Returns ``nan`` when
    fewer than two distinct values are pairable (no expected disagreement: undefined).

    Raises ``ValueError`` on an empty or non-2-D matrix, non-numeric or infinite values, an
    unknown level, or when no unit has two values.
    """
    _check_level(level)
    try:
        data = np.asarray(reliability_data, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            "reliability_data must be numeric (encode categories as numbers, np.nan = missing)"
        ) from exc
    if data.ndim != 2:
        raise ValueError(f"reliability_data must be 2-D (raters x units), got shape {data.shape}")
    if data.size == 0:
        raise ValueError(f"reliability_data is empty (shape {data.shape})")
    if np.isinf(data).any():
        raise ValueError("reliability_data must not contain infinities (np.nan = missing)")
    present = ~np.isnan(data)
    units = np.nonzero(present)[1]
    if not (np.bincount(units) >= 2).any():
        raise ValueError("no unit has values from two raters: alpha needs pairable values")
    return _alpha(units, data[present], level)


def _alpha(units: IntArray, values: FloatArray, level: str) -> float:
    """Alpha from long-format data (unit index, value) per rating; nan when undefined."""
    if units.size == 0:
        return math.nan
    per_unit = np.bincount(units)
    pairable = per_unit[units] >= 2
    if not pairable.any():
        return math.nan
    units, values = units[pairable], values[pairable]
    domain, code = np.unique(values, return_inverse=True)
    code = code.reshape(-1)
    n_values = domain.size
    if n_values < 2:
        return math.nan
    n_v = np.bincount(code, minlength=n_values).astype(np.float64)
    n = float(n_v.sum())

    # Coincidence matrix o[c, k] = sum_u n_uc * n_uk / (m_u - 1) (minus the self-pairs on the
    # diagonal, which never matter: every level's distance d(c, c) is 0, so it is not done).
    unit_ids, unit = np.unique(units, return_inverse=True)
    unit = unit.reshape(-1)
    shape = (unit_ids.size, n_values)
    counts = sp.csr_array((np.ones(unit.size), (unit, code)), shape=shape)
    scaled = sp.csr_array((1.0 / (per_unit[unit_ids][unit] - 1.0), (unit, code)), shape=shape)
    o = (counts.T @ scaled).tocoo()
    rows, cols, weight = o.row, o.col, o.data

    if level == "nominal":
        observed = float(weight[rows != cols].sum())
        expected = n * n - float(n_v @ n_v)
    elif level == "ratio":
        observed = float(weight @ _ratio_distance(domain[rows], domain[cols]))
        expected = _ratio_expected(domain, n_v)
    else:
        # Ordinal: the package's distance (sum of n_g from c to k minus (n_c + n_k) / 2)^2 is
        # exactly the squared difference of mid-ranks N_{<=c} - n_c / 2.
        x = domain if level == "interval" else np.cumsum(n_v) - n_v / 2.0
        observed = float(weight @ (x[rows] - x[cols]) ** 2)
        # sum_{c,k} n_c n_k (x_c - x_k)^2 = 2 n sum_c n_c (x_c - mean)^2; centred, so no
        # cancellation between two large sums.
        centred = x - (n_v @ x) / n
        expected = 2.0 * n * float(n_v @ centred**2)
    # expected is the sum over value pairs of n_c n_k d_ck, i.e. (n - 1) * sum(e * d) with e
    # the package's expected coincidence matrix.
    if expected == 0:
        return math.nan
    return float(1.0 - (n - 1.0) * observed / expected)


def _ratio_distance(v1: FloatArray, v2: FloatArray) -> FloatArray:
    # ((v1 - v2) / (v1 + v2))^2, 0 where v1 + v2 == 0 (the package's convention).
    total = v1 + v2
    ratio = np.divide(
        v1 - v2, total, out=np.zeros(np.broadcast_shapes(v1.shape, v2.shape)), where=total != 0
    )
    return ratio * ratio


def _ratio_expected(domain: FloatArray, n_v: FloatArray) -> float:
    # sum_{c,k} n_c n_k d(c, k), in row blocks so memory stays bounded for many distinct values.
    step = max(1, _RATIO_BLOCK // domain.size)
    total = 0.0
    for start in range(0, domain.size, step):
        block = _ratio_distance(domain[start : start + step, None], domain[None, :])
        total += float(n_v[start : start + step] @ (block @ n_v))
    return total
