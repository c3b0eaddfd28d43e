"""Consensus of geometric labels drawn by several annotators on one item (pure numpy / scipy).

``domain/consensus.py`` converts protobuf labels into the plain values below and back;
nothing here knows about protobuf, I/O or the clock.

Public API
----------
- Boxes: ``Box``, ``FusedBox``, ``iou_matrix``, ``fuse_boxes``, ``box_agreement``.
- Masks: ``RLE``, ``rle_encode``, ``rle_decode``, ``mask_iou``, ``vote_masks``.
- Text spans: ``Span``, ``FusedSpan``, ``fuse_spans``.
- Keypoints: ``Keypoints``, ``oks``, ``fuse_keypoints``, ``COCO_PERSON_SIGMAS``.

Conventions
-----------
- Boxes are COCO ``xywh``: (x, y) is the top-left corner, w and h the size, in pixels.
- Masks are *uncompressed* COCO RLE: run lengths over the **column-major** (Fortran order)
  flattened H x W mask, alternating 0-runs and 1-runs and **starting with a 0-run** (of length
  0 when the first pixel is on). The 2 x 2 mask ``[[0, 1], [1, 1]]`` flattens to 0, 1, 1, 1 and
  encodes as ``counts=(1, 3)``.
- Text spans are half-open character offsets ``[start, end)``.
- Keypoints are COCO triples (x, y, v): v = 0 not labeled, 1 labeled but occluded, 2 visible.

Matching and fusion
-------------------
Boxes and spans are clustered the same way: annotator by annotator (in the order given), the
annotator's labels are matched to the clusters built so far by the Hungarian algorithm
(``scipy.optimize.linear_sum_assignment``), maximising the summed similarity (IoU for boxes,
Jaccard over character offsets for spans) between each label and the cluster's current centroid.
Only pairs of the same class whose similarity reaches the threshold may be matched; a label that
is not matched opens a new cluster. Because an assignment is one-to-one and an annotator's
unmatched labels each open their *own* cluster, a cluster never holds two labels of one
annotator, so its size is the number of annotators that drew the object (its *support*).

Matching against running centroids depends on the annotators' order: if the first two
annotators' boxes of one object overlap a little less than the threshold, they open two
clusters, and the later annotators split between them. A final merge pass repairs that: while
two clusters of one class with *disjoint* annotators have centroids at or above the threshold,
the most similar such pair is merged (what a different order would have matched). Clusters that
share an annotator are never merged, so the one-label-per-annotator rule still holds.

A cluster is kept when ``support >= min_support``; the default is a strict majority of *all*
annotators, ``n // 2 + 1``, counting those that drew nothing (they said "no object here").
The same strict-majority rule decides ties everywhere in this package: half is not a majority.
"""

from .boxes import DEFAULT_IOU_THRESHOLD, Box, FusedBox, box_agreement, fuse_boxes, iou_matrix
from .keypoints import COCO_PERSON_SIGMAS, Keypoints, fuse_keypoints, oks
from .masks import RLE, mask_iou, rle_decode, rle_encode, vote_masks
from .spans import FusedSpan, Span, fuse_spans

__all__ = [
    "COCO_PERSON_SIGMAS",
    "DEFAULT_IOU_THRESHOLD",
    "RLE",
    "Box",
    "FusedBox",
    "FusedSpan",
    "Keypoints",
    "Span",
    "box_agreement",
    "fuse_boxes",
    "fuse_keypoints",
    "fuse_spans",
    "iou_matrix",
    "mask_iou",
    "oks",
    "rle_decode",
    "rle_encode",
    "vote_masks",
]
