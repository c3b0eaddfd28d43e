"""Geometry checks, one function per ``Label.geometry`` kind, and geometry areas.

Each checker is called only when the label's geometry oneof already matches its class, with
the item's upper bounds precomputed once per item (``hx``/``hy``: item width/height plus
``BOUNDS_TOLERANCE``, or ``BIG`` when unknown). The fast path is one chained comparison per
coordinate: ``LO <= x <= hx`` is False for NaN, ±inf and anything outside the item, so a valid
label pays for nothing else; only a failing label takes the slow path that works out which
field is wrong and builds the message.

Reason policy: a shape that is malformed on its own (non-finite numbers, width <= 0, too few
points, visibility not in {0,1,2}, RLE counts not summing to height*width, keyframes not
increasing, span end <= start, negative frame/slice/offset) is ``INVALID_GEOMETRY``; a shape
that is fine but does not fit the item described by ``ItemContext`` (outside width/height,
beyond frame_count / slice_count / text_length, mask size != item size) is ``OUT_OF_BOUNDS``.
Negative pixel coordinates are outside every item, so they are ``OUT_OF_BOUNDS`` even when the
item size is unknown.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Final

from labelops.labels.v1 import label_pb2
from labelops.ontology.v1 import definition_pb2

from .issues import LabelIssue
from .reasons import INVALID_GEOMETRY, OUT_OF_BOUNDS

#: Pixels a coordinate may exceed the item by. Absorbs float rounding of producers that
#: compute boxes in float32 after resizing (about 5e-4 px at 4096 px), nothing more.
BOUNDS_TOLERANCE: Final = 1e-3
#: Lower bound of every pixel coordinate.
LO: Final = -BOUNDS_TOLERANCE
#: Upper bound when the item size is unknown: the largest finite float, so the same chained
#: comparison still rejects NaN and infinity.
BIG: Final = 1.7976931348623157e308

#: Oneof name in ``Label.geometry`` for each ``GeometryKind``.
GEOMETRY_FIELD: Final[dict[int, str]] = {
    definition_pb2.GEOMETRY_KIND_BOUNDING_BOX: "box",
    definition_pb2.GEOMETRY_KIND_ROTATED_BOX: "rotated_box",
    definition_pb2.GEOMETRY_KIND_POLYGON: "polygon",
    definition_pb2.GEOMETRY_KIND_POLYLINE: "polyline",
    definition_pb2.GEOMETRY_KIND_POINT: "point",
    definition_pb2.GEOMETRY_KIND_KEYPOINTS: "keypoints",
    definition_pb2.GEOMETRY_KIND_MASK: "mask",
    definition_pb2.GEOMETRY_KIND_CUBOID: "cuboid",
    definition_pb2.GEOMETRY_KIND_TEXT_SPAN: "text_span",
    definition_pb2.GEOMETRY_KIND_CLASSIFICATION: "whole_item",
    definition_pb2.GEOMETRY_KIND_VIDEO_TRACK: "video_track",
    definition_pb2.GEOMETRY_KIND_DICOM_REGION: "dicom_region",
}

Problem = tuple[str, str, str]  # (field, description, reason)
Checker = Callable[..., None]


def _fin(v: float) -> bool:
    return v - v == 0.0  # False for NaN and ±inf; cheaper than math.isfinite on this path


def _limit(h: float) -> str:
    return "unknown" if h >= BIG else f"{h - BOUNDS_TOLERANCE:g}"


def coord_problem(prefix: str, x: float, y: float, hx: float, hy: float) -> Problem | None:
    """Why (x, y) is not a valid point inside the item, or None."""
    for name, v in (("x", x), ("y", y)):
        if not _fin(v):
            return f"{prefix}.{name}", f"{name} is {v}", INVALID_GEOMETRY
    if x < LO:
        return f"{prefix}.x", f"x {x:g} is left of the item", OUT_OF_BOUNDS
    if y < LO:
        return f"{prefix}.y", f"y {y:g} is above the item", OUT_OF_BOUNDS
    if x > hx:
        return f"{prefix}.x", f"x {x:g} is beyond the item width {_limit(hx)}", OUT_OF_BOUNDS
    if y > hy:
        return f"{prefix}.y", f"y {y:g} is beyond the item height {_limit(hy)}", OUT_OF_BOUNDS
    return None


def box_problem(b: label_pb2.BoundingBox, prefix: str, hx: float, hy: float) -> Problem | None:
    """Why an axis-aligned box is malformed or outside the item, or None."""
    x, y, w, h = b.x, b.y, b.width, b.height
    for name, v in (("x", x), ("y", y), ("width", w), ("height", h)):
        if not _fin(v):
            return f"{prefix}.{name}", f"{name} is {v}", INVALID_GEOMETRY
    if w <= 0.0:
        return f"{prefix}.width", f"width {w:g} must be > 0", INVALID_GEOMETRY
    if h <= 0.0:
        return f"{prefix}.height", f"height {h:g} must be > 0", INVALID_GEOMETRY
    p = coord_problem(prefix, x, y, hx, hy)
    if p is not None:
        return p
    if not x + w <= hx:
        if hx >= BIG:
            return f"{prefix}.width", "x + width overflows", INVALID_GEOMETRY
        return (
            f"{prefix}.width",
            f"right edge {x + w:g} is beyond the item width {_limit(hx)}",
            OUT_OF_BOUNDS,
        )
    if not y + h <= hy:
        if hy >= BIG:
            return f"{prefix}.height", "y + height overflows", INVALID_GEOMETRY
        return (
            f"{prefix}.height",
            f"bottom edge {y + h:g} is beyond the item height {_limit(hy)}",
            OUT_OF_BOUNDS,
        )
    return None


def points_problem(points: Any, prefix: str, minimum: int, hx: float, hy: float) -> Problem | None:
    """Why a point list (polygon / polyline) is malformed or outside the item, or None."""
    n = len(points)
    if n < minimum:
        return f"{prefix}.points", f"needs at least {minimum} points, has {n}", INVALID_GEOMETRY
    for p in points:
        x = p.x
        y = p.y
        if LO <= x <= hx and LO <= y <= hy:
            continue
        # Slow path only: find the index for the field path.
        for i, q in enumerate(points):
            pr = coord_problem(f"{prefix}.points[{i}]", q.x, q.y, hx, hy)
            if pr is not None:
                return pr
    return None


def _issue(issues: list[LabelIssue], ii: int, li: int, p: Problem) -> None:
    issues.append(LabelIssue(ii, li, p[0], p[1], p[2]))


# --- checkers: (label, spec, hx, hy, ctx, issues, item_index, label_index) -> None ----------


def check_box(label, spec, hx, hy, ctx, issues, ii, li):
    b = label.box
    x = b.x
    y = b.y
    w = b.width
    h = b.height
    if 0.0 < w <= BIG and 0.0 < h <= BIG and LO <= x and LO <= y and x + w <= hx and y + h <= hy:
        return
    p = box_problem(b, "geometry.box", hx, hy)
    if p is not None:
        _issue(issues, ii, li, p)


def check_rotated_box(label, spec, hx, hy, ctx, issues, ii, li):
    b = label.rotated_box
    w = b.width
    h = b.height
    a = b.angle_degrees
    cx = b.center_x
    cy = b.center_y
    if (
        0.0 < w <= BIG
        and 0.0 < h <= BIG
        and -180.0 <= a <= 180.0
        and LO <= cx <= hx
        and LO <= cy <= hy
    ):
        return
    prefix = "geometry.rotated_box"
    for name, v in (("width", w), ("height", h)):
        if not (_fin(v) and v > 0.0):
            _issue(
                issues, ii, li, (f"{prefix}.{name}", f"{name} {v} must be > 0", INVALID_GEOMETRY)
            )
            return
    if not -180.0 <= a <= 180.0:
        _issue(
            issues,
            ii,
            li,
            (f"{prefix}.angle_degrees", f"angle {a} must be in [-180, 180]", INVALID_GEOMETRY),
        )
        return
    # The centre must lie on the item; corners may not: the tightest rotated box around an
    # object touching the item edge can stick out at some angles.
    p = coord_problem(prefix, cx, cy, hx, hy)
    if p is not None:
        field = p[0].replace(".x", ".center_x").replace(".y", ".center_y")
        _issue(issues, ii, li, (field, "centre: " + p[1], p[2]))


def check_polygon(label, spec, hx, hy, ctx, issues, ii, li):
    pts = label.polygon.points
    if len(pts) >= 3:
        for p in pts:
            x = p.x
            y = p.y
            if not (LO <= x <= hx and LO <= y <= hy):
                break
        else:
            return
    pr = points_problem(pts, "geometry.polygon", 3, hx, hy)
    if pr is not None:
        _issue(issues, ii, li, pr)


def check_polyline(label, spec, hx, hy, ctx, issues, ii, li):
    pts = label.polyline.points
    if len(pts) >= 2:
        for p in pts:
            x = p.x
            y = p.y
            if not (LO <= x <= hx and LO <= y <= hy):
                break
        else:
            return
    pr = points_problem(pts, "geometry.polyline", 2, hx, hy)
    if pr is not None:
        _issue(issues, ii, li, pr)


def check_point(label, spec, hx, hy, ctx, issues, ii, li):
    p = label.point
    x = p.x
    y = p.y
    if LO <= x <= hx and LO <= y <= hy:
        return
    pr = coord_problem("geometry.point", x, y, hx, hy)
    if pr is not None:
        _issue(issues, ii, li, pr)


def check_keypoints(label, spec, hx, hy, ctx, issues, ii, li):
    pts = label.keypoints.points
    n = len(pts)
    if n != spec.skeleton_size:
        _issue(
            issues,
            ii,
            li,
            (
                "geometry.keypoints.points",
                f"has {n} keypoints, the skeleton of {spec.id!r} has {spec.skeleton_size}",
                INVALID_GEOMETRY,
            ),
        )
        return
    for i, p in enumerate(pts):
        v = p.visibility
        x = p.x
        y = p.y
        if v == 0:
            # COCO: an unlabeled keypoint's coordinates carry no meaning (often 0, 0), but
            # they must still be numbers.
            if _fin(x) and _fin(y):
                continue
            pr = coord_problem(f"geometry.keypoints.points[{i}]", x, y, BIG, BIG)
        elif v == 1 or v == 2:
            if LO <= x <= hx and LO <= y <= hy:
                continue
            pr = coord_problem(f"geometry.keypoints.points[{i}]", x, y, hx, hy)
        else:
            pr = (
                f"geometry.keypoints.points[{i}].visibility",
                f"visibility {v} must be 0 (not labeled), 1 (hidden) or 2 (visible)",
                INVALID_GEOMETRY,
            )
        if pr is not None:
            _issue(issues, ii, li, pr)
            return


def check_mask(label, spec, hx, hy, ctx, issues, ii, li):
    m = label.mask
    h = m.height
    w = m.width
    if h <= 0 or w <= 0:
        _issue(
            issues,
            ii,
            li,
            ("geometry.mask", f"mask size {w}x{h} must be positive", INVALID_GEOMETRY),
        )
        return
    iw = ctx.width
    ih = ctx.height
    if (iw > 0 and w != iw) or (ih > 0 and h != ih):
        _issue(
            issues,
            ii,
            li,
            (
                "geometry.mask",
                f"mask size {w}x{h} differs from the item size "
                f"{iw if iw > 0 else '?'}x{ih if ih > 0 else '?'}",
                OUT_OF_BOUNDS,
            ),
        )
        return
    total = sum(m.counts)
    if total != h * w:
        _issue(
            issues,
            ii,
            li,
            (
                "geometry.mask.counts",
                f"run lengths sum to {total}, expected height*width = {h * w}",
                INVALID_GEOMETRY,
            ),
        )


def check_cuboid(label, spec, hx, hy, ctx, issues, ii, li):
    c = label.cuboid
    d = c.dimensions
    for name, v in (("x", d.x), ("y", d.y), ("z", d.z)):
        if not (0.0 < v <= BIG):
            _issue(
                issues,
                ii,
                li,
                (
                    f"geometry.cuboid.dimensions.{name}",
                    f"dimension {v} must be > 0",
                    INVALID_GEOMETRY,
                ),
            )
            return
    for part in ("center", "rotation"):
        pt = getattr(c, part)
        for name, v in (("x", pt.x), ("y", pt.y), ("z", pt.z)):
            if not _fin(v):
                _issue(
                    issues,
                    ii,
                    li,
                    (f"geometry.cuboid.{part}.{name}", f"{name} is {v}", INVALID_GEOMETRY),
                )
                return


def check_text_span(label, spec, hx, hy, ctx, issues, ii, li):
    s = label.text_span
    start = s.start
    end = s.end
    if start < 0:
        _issue(
            issues,
            ii,
            li,
            ("geometry.text_span.start", f"start {start} must be >= 0", INVALID_GEOMETRY),
        )
    elif end <= start:
        _issue(
            issues,
            ii,
            li,
            (
                "geometry.text_span.end",
                f"end {end} must be greater than start {start}",
                INVALID_GEOMETRY,
            ),
        )
    else:
        n = ctx.text_length
        if n > 0 and end > n:
            _issue(
                issues,
                ii,
                li,
                (
                    "geometry.text_span.end",
                    f"end {end} is beyond the text length {n}",
                    OUT_OF_BOUNDS,
                ),
            )


def check_video_track(label, spec, hx, hy, ctx, issues, ii, li):
    kfs = label.video_track.keyframes
    if not kfs:
        _issue(
            issues,
            ii,
            li,
            (
                "geometry.video_track.keyframes",
                "a track needs at least one keyframe",
                INVALID_GEOMETRY,
            ),
        )
        return
    frames = ctx.frame_count
    prev = -1
    for i, kf in enumerate(kfs):
        f = kf.frame
        prefix = f"geometry.video_track.keyframes[{i}]"
        if f <= prev:
            desc = (
                f"frame {f} must be >= 0"
                if f < 0
                else f"frame {f} must be greater than the previous keyframe's {prev}"
            )
            _issue(issues, ii, li, (f"{prefix}.frame", desc, INVALID_GEOMETRY))
            return
        if frames > 0 and f >= frames:
            _issue(
                issues,
                ii,
                li,
                (f"{prefix}.frame", f"frame {f} is beyond the {frames} frames", OUT_OF_BOUNDS),
            )
            return
        prev = f
        if kf.outside:
            continue  # the object is out of view: its box carries nothing
        pr = box_problem(kf.box, f"{prefix}.box", hx, hy)
        if pr is not None:
            _issue(issues, ii, li, pr)
            return


def check_dicom_region(label, spec, hx, hy, ctx, issues, ii, li):
    r = label.dicom_region
    s = r.slice_index
    n = ctx.slice_count
    if s < 0:
        _issue(
            issues,
            ii,
            li,
            ("geometry.dicom_region.slice_index", f"slice {s} must be >= 0", INVALID_GEOMETRY),
        )
        return
    if n > 0 and s >= n:
        _issue(
            issues,
            ii,
            li,
            (
                "geometry.dicom_region.slice_index",
                f"slice {s} is beyond the {n} slices",
                OUT_OF_BOUNDS,
            ),
        )
        return
    shape = r.WhichOneof("shape")
    pr: Problem | None
    if shape == "box":
        pr = box_problem(r.box, "geometry.dicom_region.box", hx, hy)
    elif shape == "polygon":
        pr = points_problem(r.polygon.points, "geometry.dicom_region.polygon", 3, hx, hy)
    else:
        pr = ("geometry.dicom_region", "a region needs a box or a polygon", INVALID_GEOMETRY)
    if pr is not None:
        _issue(issues, ii, li, pr)


#: Checker per ``GeometryKind``; whole-item classifications have nothing to check.
CHECKERS: Final[dict[int, Checker | None]] = {
    definition_pb2.GEOMETRY_KIND_BOUNDING_BOX: check_box,
    definition_pb2.GEOMETRY_KIND_ROTATED_BOX: check_rotated_box,
    definition_pb2.GEOMETRY_KIND_POLYGON: check_polygon,
    definition_pb2.GEOMETRY_KIND_POLYLINE: check_polyline,
    definition_pb2.GEOMETRY_KIND_POINT: check_point,
    definition_pb2.GEOMETRY_KIND_KEYPOINTS: check_keypoints,
    definition_pb2.GEOMETRY_KIND_MASK: check_mask,
    definition_pb2.GEOMETRY_KIND_CUBOID: check_cuboid,
    definition_pb2.GEOMETRY_KIND_TEXT_SPAN: check_text_span,
    definition_pb2.GEOMETRY_KIND_CLASSIFICATION: None,
    definition_pb2.GEOMETRY_KIND_VIDEO_TRACK: check_video_track,
    definition_pb2.GEOMETRY_KIND_DICOM_REGION: check_dicom_region,
}


def area(label: label_pb2.Label) -> float | None:
    """Area in pixels² of a label's shape, or None when the geometry has no area.

    Box and rotated box: width*height; polygon: shoelace; mask: number of ones (odd runs of
    the column-major RLE); DICOM region: of its box or polygon. Used by split migrations.
    """
    g = label.WhichOneof("geometry")
    if g == "box":
        return label.box.width * label.box.height
    if g == "rotated_box":
        return label.rotated_box.width * label.rotated_box.height
    if g == "polygon":
        return polygon_area(label.polygon.points)
    if g == "mask":
        return float(sum(label.mask.counts[1::2]))
    if g == "dicom_region":
        r = label.dicom_region
        shape = r.WhichOneof("shape")
        if shape == "box":
            return r.box.width * r.box.height
        if shape == "polygon":
            return polygon_area(r.polygon.points)
    return None


def polygon_area(points: Any) -> float:
    """Shoelace area of a simple polygon given as Point2D messages (unsigned)."""
    xs = [p.x for p in points]
    ys = [p.y for p in points]
    n = len(xs)
    if n < 3:
        return 0.0
    s = 0.0
    for i in range(n):
        j = i + 1 if i + 1 < n else 0
        s += xs[i] * ys[j] - xs[j] * ys[i]
    a = abs(s) / 2.0
    return a if math.isfinite(a) else 0.0
