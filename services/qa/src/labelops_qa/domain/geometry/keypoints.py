"""Keypoints: object keypoint similarity (COCO OKS) and per-point median fusion."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from ._matching import _EPS

#: Per-keypoint OKS sigmas of the 17 COCO person keypoints (nose, eyes, ears, shoulders,
#: elbows, wrists, hips, knees, ankles), from the COCO evaluation code. Read-only.
COCO_PERSON_SIGMAS: Final = (
    np.array(
        [
            *(0.26, 0.25, 0.25, 0.35, 0.35),  # nose, eyes, ears
            *(0.79, 0.79, 0.72, 0.72, 0.62, 0.62),  # shoulders, elbows, wrists
            *(1.07, 1.07, 0.87, 0.87, 0.89, 0.89),  # hips, knees, ankles
        ]
    )
    / 10.0
)
COCO_PERSON_SIGMAS.flags.writeable = False

#: Sigma of every keypoint of a skeleton that is not the 17-point COCO person.
_DEFAULT_SIGMA: Final = 0.05


# --- keypoints ---------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Keypoints:
    """One annotator's keypoints of one object: a P x 3 array of COCO (x, y, v).

    The array is copied to float64 and made read-only, so the instance is really frozen.
    ``eq=False``: equality is identity (a generated ``==`` would compare arrays ambiguously);
    compare ``points`` with numpy instead. Coordinates of points with v = 0 are ignored.
    """

    points: np.ndarray

    def __post_init__(self) -> None:
        pts = np.array(self.points, dtype=np.float64)  # a copy: the caller's array may change
        if pts.ndim != 2 or pts.shape[1] != 3:
            raise ValueError(f"keypoints must be P x 3 (x, y, v), got shape {pts.shape}")
        v = pts[:, 2]
        if not np.isin(v, (0.0, 1.0, 2.0)).all():
            raise ValueError("keypoint visibility must be 0, 1 or 2")
        if not np.isfinite(pts[v > 0, :2]).all():
            raise ValueError("labeled keypoints must have finite coordinates")
        pts.flags.writeable = False
        object.__setattr__(self, "points", pts)


def _sigmas(p: int, sigmas: npt.ArrayLike | None) -> np.ndarray:
    if sigmas is None:
        return COCO_PERSON_SIGMAS if p == len(COCO_PERSON_SIGMAS) else np.full(p, _DEFAULT_SIGMA)
    s = np.asarray(sigmas, dtype=np.float64)
    if s.shape != (p,) or not np.isfinite(s).all() or (s <= 0).any():
        raise ValueError(f"sigmas must be {p} positive numbers, got {s!r}")
    return s


def _check_area(area: float) -> None:
    # OKS divides by the area (the object scale s^2): it must be a real, positive size.
    if not (math.isfinite(area) and area > 0):
        raise ValueError(f"area must be finite and > 0, got {area}")


def _oks(a: np.ndarray, b: np.ndarray, area: float, sigmas: np.ndarray) -> float:
    """OKS of two P x 3 arrays (validated elsewhere)."""
    va, vb = a[:, 2] > 0, b[:, 2] > 0
    both = va & vb
    if not both.any():
        # Nothing to compare: agreement only if neither labeled anything.
        return 0.0 if (va.any() or vb.any()) else 1.0
    d2 = np.sum((a[both, :2] - b[both, :2]) ** 2, axis=1)
    # COCO: e = d^2 / (2 s^2 k^2) with s^2 = area and k = 2 sigma.
    e = d2 / ((2.0 * sigmas[both]) ** 2) / area / 2.0
    return float(np.mean(np.exp(-e)))


def oks(a: Keypoints, b: Keypoints, *, area: float, sigmas: npt.ArrayLike | None = None) -> float:
    """Object keypoint similarity (COCO) of two annotations of one object, in [0, 1].

    ``OKS = mean_i exp(-d_i^2 / (2 * area * (2 sigma_i)^2))`` over the points labeled (v > 0)
    in **both** annotations. COCO's evaluation averages over the points labeled in the ground
    truth; between two annotators neither is ground truth, so the symmetric choice is made,
    and OKS measures localisation only (disagreement on visibility is not penalised here; the
    fusion settles it by vote). When no point is labeled in both: 1.0 if neither labeled any
    point, else 0.0. ``area`` is the object's area (COCO's s^2, e.g. its segment or box area).
    ``sigmas``: per-point; default the 17 COCO person sigmas when P == 17, else 0.05 each.
    """
    if a.points.shape != b.points.shape:
        raise ValueError(f"keypoint sets differ in size: {a.points.shape} vs {b.points.shape}")
    _check_area(area)
    return _oks(a.points, b.points, area, _sigmas(len(a.points), sigmas))


def _fuse_points(stack: np.ndarray) -> np.ndarray:
    """Fuse K x P x 3 annotations: per-point median of labeled coordinates, majority visibility.

    A point is labeled in the result when strictly more than half of the K annotations label it
    (v > 0); it is then visible (v = 2) unless more of its labels say occluded (v = 1), since a
    tie means someone saw it. Unlabeled points are (0, 0, 0), as in COCO.
    """
    k = stack.shape[0]
    v = stack[:, :, 2]
    labeled = v > 0
    n_labeled = labeled.sum(axis=0)
    keep = 2 * n_labeled > k
    vis = np.where((v == 2).sum(axis=0) >= (v == 1).sum(axis=0), 2.0, 1.0)
    xy = np.where(labeled[:, :, None], stack[:, :, :2], np.nan)
    # Points nobody labeled would make nanmedian warn about an all-NaN slice; they end up
    # unlabeled anyway, so give them a dummy value.
    xy[:, n_labeled == 0, :] = 0.0
    med = np.nanmedian(xy, axis=0)
    med[~keep] = 0.0
    return np.concatenate([med, np.where(keep, vis, 0.0)[:, None]], axis=1)


def fuse_keypoints(
    annotations: Sequence[Keypoints],
    *,
    area: float,
    sigmas: npt.ArrayLike | None = None,
    min_oks: float = 0.5,
) -> tuple[Keypoints, float]:
    """Consensus keypoints of several annotators' keypoints of one object (same skeleton).

    Each point's coordinates are the per-coordinate median over the annotations that labeled
    it (robust to one annotator clicking the wrong joint); it is labeled when a strict majority
    labeled it (see ``_fuse_points``). Then annotations whose OKS with that consensus is below
    ``min_oks`` (a wrong object, a mirrored skeleton) are left out and the consensus is
    recomputed from the rest, once; if none reaches ``min_oks`` all are kept.

    Returns the consensus and its score: the mean OKS of **all** annotations with it, so
    outliers lower the score even though they no longer move the points.
    """
    if not annotations:
        raise ValueError("fuse_keypoints needs at least one annotation")
    if len({k.points.shape for k in annotations}) != 1:
        raise ValueError("all keypoint annotations must have the same number of points")
    if not 0.0 <= min_oks <= 1.0:
        raise ValueError(f"min_oks must lie in [0, 1], got {min_oks}")
    _check_area(area)
    stack = np.stack([k.points for k in annotations])
    sig = _sigmas(stack.shape[1], sigmas)

    fused = _fuse_points(stack)
    scores = np.array([_oks(pts, fused, area, sig) for pts in stack])
    inliers = scores >= min_oks - _EPS
    if 0 < inliers.sum() < len(stack):
        fused = _fuse_points(stack[inliers])
        scores = np.array([_oks(pts, fused, area, sig) for pts in stack])
    return Keypoints(fused), float(scores.mean())
