"""Datasets: building a version (whole, and as segment files) vs pyarrow writing the same table.

Data: ``synthetic_rows`` (fixed seed), 1M label rows (quick: 100k) conforming to
``rows.SCHEMA``: ~4 labels per item over 250k items, 40 classes, 85 % boxes, 10 % polygons,
3 % masks, 2 % item-level rows, each row's ``label_proto`` a real deterministically
serialized ``labels.v1.Label`` (~100 bytes), 1-3 annotators, lineage strings, splits from
``split_column``. Rows are shuffled, as a projection in log order would deliver them. About
0.5 GB in memory.

Baseline: ``pq.write_table`` of the same in-memory table to a ``BytesIO`` with pyarrow's
default settings (snappy, one pass, no sort, no hashing). Measured: ``materialize`` end to end:
validation, sort by ``SORT_KEYS``, fixed-settings zstd writes, counts / lineage, sha256 of
every file and the canonical manifest. Baseline and measured runs alternate (5 pairs; quick:
3) so both see the same machine load; ``ratio`` = best materialize ÷ best pyarrow (lower is
better, target ≤ 1.5), ``ratio_median`` = the median of the per-pair ratios. Also reported:
output sizes, rows/s, that every run gave the same digest, and ``split_column`` on the item
ids.

``segments`` (the service's way): the same 1M rows (quick: 100k) cut, in log order, into
segments of ``SEGMENT_ROWS`` rows, each written as one sorted Parquet file by
``write_segments`` (threads) and listed by ``assemble`` (merged stats, canonical manifest):
validation, per-segment sort, fixed-settings zstd write, sha256 and stats of every file, the
manifest. Baseline: ``pq.write_table`` of the whole in-memory table to a ``BytesIO`` with
pyarrow's default settings but the same compression (zstd, pyarrow's default level). Runs
alternate, baseline first in one pair and last in the next (7 pairs; quick: 3); ``ratio`` =
the median of the per-pair ratios (target ≤ 1.5), ``ratio_best`` = best ÷ best. One run on
a single thread is reported beside it (``segments_1_worker_s``), to tell the work from the
parallelism. In this synthetic table an item's rows are spread over the log, so the
assembled ``items_per_split`` over-counts (an item is counted in every segment it is in); in
the service all rows of an item come from one event. Pure CPU: Kafka and Postgres are not
used.
"""

from __future__ import annotations

import asyncio
import io
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from labelops.labels.v1 import label_pb2
from labelops_datasets.domain.materialize import (
    Materialized,
    assemble,
    materialize,
    write_segments,
)
from labelops_datasets.domain.rows import SCHEMA, no_relations
from labelops_datasets.domain.splits import split_column

TARGET_RATIO = 1.5
SEGMENT_ROWS = 8_192  # the datasets service default segment_span
CLASSES = [f"class_{i:02d}" for i in range(40)]
ANNOTATORS = [f"annotator-{i:03d}" for i in range(60)]


def _hex_ids(rng: np.random.Generator, n: int, prefix: str) -> list[str]:
    """n distinct-enough random 32-hex-digit ids (uuid-like, as label and event ids are)."""
    raw = rng.integers(0, 1 << 63, size=(n, 2), dtype=np.int64)
    return [f"{prefix}{a:016x}{b:016x}" for a, b in raw.tolist()]


def _lists(lengths: np.ndarray, values: pa.Array, valid: np.ndarray) -> pa.Array:
    """A list array from per-row lengths and flat values; rows where ``valid`` is False null."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(np.where(valid, lengths, 0), out=offsets[1:])
    mask = None if valid.all() else pa.array(~valid)
    return pa.ListArray.from_arrays(pa.array(offsets), values[: offsets[-1]], mask=mask)


def _label_protos(
    kind: np.ndarray,
    label_ids: list[str],
    class_ids: np.ndarray,
    bbox_values: np.ndarray,
    polygon: pa.Array,
    mask_counts: pa.Array,
    width: np.ndarray,
    height: np.ndarray,
    confidence: np.ndarray,
) -> pa.Array:
    """The ``label_proto`` column: each row's ``labels.v1.Label``, deterministically serialized.

    Real protos (not random bytes): what the column holds in production, and what its
    compression cost depends on. Item-level rows carry empty bytes.
    """
    boxes = bbox_values.reshape(-1, 4).tolist()
    polygons, masks = polygon.to_pylist(), mask_counts.to_pylist()
    out: list[bytes] = []
    for i, k in enumerate(kind.tolist()):
        if k == "none":
            out.append(b"")
            continue
        label = label_pb2.Label(
            label_id=label_ids[i], class_id=str(class_ids[i]), confidence=float(confidence[i])
        )
        if k == "box":
            x, y, bw, bh = boxes[i]
            label.box.CopyFrom(label_pb2.BoundingBox(x=x, y=y, width=bw, height=bh))
        elif k == "polygon":
            flat = polygons[i]
            label.polygon.points.extend(
                label_pb2.Point2D(x=flat[j], y=flat[j + 1]) for j in range(0, len(flat), 2)
            )
        else:
            label.mask.CopyFrom(
                label_pb2.Mask(height=int(height[i]), width=int(width[i]), counts=masks[i])
            )
        out.append(label.SerializeToString(deterministic=True))
    return pa.array(out, pa.binary())


def synthetic_rows(n: int, seed: int = 7) -> pa.Table:
    """``n`` shuffled rows conforming to ``rows.SCHEMA``; every column filled."""
    rng = np.random.default_rng(seed)
    n_items = max(1, n // 4)
    item_idx = np.sort(rng.integers(0, n_items, size=n))
    item_names = [f"item-{i:08d}" for i in range(n_items)]
    item_ids = pa.array(item_names).take(pa.array(item_idx))
    widths = rng.integers(320, 1920, size=n_items).astype(np.int32)
    heights = rng.integers(240, 1080, size=n_items).astype(np.int32)

    kind_roll = rng.random(n)
    kind = np.select(
        [kind_roll < 0.02, kind_roll < 0.05, kind_roll < 0.15], ["none", "mask", "polygon"], "box"
    )
    labeled = kind != "none"
    is_box, is_poly, is_mask = kind == "box", kind == "polygon", kind == "mask"

    w, h = widths[item_idx].astype(np.float64), heights[item_idx].astype(np.float64)
    x, y = rng.random(n) * w * 0.8, rng.random(n) * h * 0.8
    bw, bh = rng.random(n) * w * 0.2 + 1, rng.random(n) * h * 0.2 + 1
    bbox_values = np.round(np.stack([x, y, bw, bh], axis=1).ravel(), 2)
    bbox = pa.FixedSizeListArray.from_arrays(pa.array(bbox_values), 4, mask=pa.array(~is_box))

    poly_len = rng.integers(3, 12, size=n) * 2
    poly_values = np.round(rng.random(int(poly_len.sum())) * 500, 2)
    polygon = _lists(poly_len, pa.array(poly_values), is_poly)
    mask_len = rng.integers(4, 40, size=n) * 2
    mask_values = rng.integers(0, 400, size=int(mask_len.sum())).astype(np.uint32)
    mask_counts = _lists(mask_len, pa.array(mask_values), is_mask)
    n_ann = rng.integers(1, 4, size=n)
    ann_values = pa.array(ANNOTATORS).take(rng.integers(0, len(ANNOTATORS), int(n_ann.sum())))
    annotators = _lists(n_ann, ann_values, np.ones(n, dtype=bool))

    label_ids = _hex_ids(rng, n, "")
    event_ids = _hex_ids(rng, n, "evt-")
    class_ids = np.where(labeled, np.array(CLASSES)[rng.integers(0, len(CLASSES), n)], "")
    scores = np.round(rng.random(n), 4)
    protos = _label_protos(
        kind, label_ids, class_ids, bbox_values, polygon, mask_counts, w, h, scores
    )
    models = np.array(["", "", "yolo-v8", "sam-2"])[rng.integers(0, 4, n)]
    columns: dict[str, Any] = {
        "item_id": item_ids,
        "item_uri": pa.array([f"s3://bucket/images/{s}.jpg" for s in item_names]).take(
            pa.array(item_idx)
        ),
        "width": pa.array(widths[item_idx]),
        "height": pa.array(heights[item_idx]),
        "split": split_column(item_ids, salt="bench"),
        "task_id": pa.array([f"task-{i // 8:08d}" for i in item_idx.tolist()]),
        "label_id": pa.array(np.where(labeled, np.array(label_ids, dtype=object), "")),
        "class_id": pa.array(class_ids),
        "geometry_kind": pa.array(kind),
        "bbox": bbox,
        "polygon": polygon,
        "mask_counts": mask_counts,
        "keypoints": pa.nulls(n, pa.list_(pa.float64())),
        "span_start": pa.nulls(n, pa.int64()),
        "span_end": pa.nulls(n, pa.int64()),
        "answers_json": pa.array(np.where(rng.random(n) < 0.2, '{"occluded":true}', "{}")),
        "label_proto": protos,
        "relations": no_relations(n),
        "label_event_id": pa.array(event_ids),
        "annotators": annotators,
        "consensus_method": pa.array(
            np.array(["single", "majority_vote", "dawid_skene", "box_wbf"])[rng.integers(0, 4, n)]
        ),
        "consensus_score": pa.array(scores),
        "review_decision": pa.array(
            np.array(["accepted", "accepted", "corrected", ""])[rng.integers(0, 4, n)]
        ),
        "reviewer": pa.array(np.array(["", "rev-1", "rev-2"])[rng.integers(0, 3, n)]),
        "prelabel_model": pa.array(models),
        "prelabel_model_version": pa.array(np.where(models == "", "", "1.2.0")),
        "ontology_id": pa.array(np.full(n, "onto-vehicles")),
        "ontology_version": pa.array(np.full(n, "7")),
        "labeled_ontology_version": pa.array(np.full(n, "7")),
        "source_topic": pa.array(np.full(n, "labelops.qa.events")),
        "source_partition": pa.array(rng.integers(0, 3, n).astype(np.int32)),
        "source_offset": pa.array(np.arange(n, dtype=np.int64)),
    }
    table = pa.table(columns).cast(SCHEMA)
    # Log order, not sorted order: materialize has to do the sorting.
    return table.take(pa.array(rng.permutation(n)))


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _pyarrow_write(table: pa.Table, **options: Any) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, **options)
    return buf.getvalue()


def bench_segments(table: pa.Table, definition: dict[str, Any], pairs: int) -> dict[str, Any]:
    """``write_segments`` + ``assemble`` over ``SEGMENT_ROWS``-row segments vs zstd write_table."""
    n = table.num_rows

    def run(workers: int | None = None) -> tuple[int, str]:
        parts = [table.slice(i, SEGMENT_ROWS) for i in range(0, n, SEGMENT_ROWS)]
        segments = write_segments(parts, workers=workers)
        _, digest, manifest = assemble(segments, **definition)
        assert manifest["row_count"] == n
        return sum(f["bytes"] for f in manifest["files"]), digest

    base_times: list[float] = []
    ours_times: list[float] = []
    digests: set[str] = set()
    for i in range(pairs):
        # Baseline first, then last: neither side always runs on a warmer (or hotter) machine.
        for side in ("base", "ours") if i % 2 == 0 else ("ours", "base"):
            if side == "base":
                base_s, base_bytes = _timed(lambda: _pyarrow_write(table, compression="zstd"))
                base_times.append(base_s)
            else:
                ours_s, (ours_bytes, digest) = _timed(run)
                ours_times.append(ours_s)
                digests.add(digest)
    single_s, _ = _timed(lambda: run(workers=1))

    ratios = [o / b for o, b in zip(ours_times, base_times, strict=True)]
    ratio = statistics.median(ratios)
    ours_s, base_s = statistics.median(ours_times), statistics.median(base_times)
    return {
        "segment_rows": SEGMENT_ROWS,
        "segments": -(-n // SEGMENT_ROWS),
        "pairs": pairs,
        "pyarrow_zstd_write_s": round(base_s, 3),
        "pyarrow_zstd_write_bytes": len(base_bytes),
        "segments_s": round(ours_s, 3),
        "segments_bytes": ours_bytes,
        "segments_1_worker_s": round(single_s, 3),
        "ratio": round(ratio, 3),
        "ratio_best": round(min(ours_times) / min(base_times), 3),
        "ratios": [round(r, 3) for r in ratios],
        "target_ratio": TARGET_RATIO,
        "meets_target": ratio <= TARGET_RATIO,
        "segments_rows_per_s": round(n / ours_s),
        "pyarrow_zstd_rows_per_s": round(n / base_s),
        "deterministic": len(digests) == 1,
        "digest": digests.pop(),
    }


async def bench_datasets(kafka: str, pg: str, *, quick: bool = False) -> dict:
    """Materialize a 1M-label version (quick: 100k) vs ``pq.write_table`` of the same table."""
    del kafka, pg  # Pure CPU for now; the signature matches the other benches.
    n = 100_000 if quick else 1_000_000
    pairs = 3 if quick else 5
    table = synthetic_rows(n)
    definition: dict[str, Any] = {
        "dataset_id": "bench",
        "version": 1,
        "cut": {"labelops.qa.events": {"0": n}},
        "filter": {"splits": ["train", "val", "test"]},
        "ontology": {"ontology_id": "onto-vehicles", "version": "7"},
    }

    def run() -> Materialized:
        return materialize(table, **definition)

    base_times: list[float] = []
    ours_times: list[float] = []
    digests: set[str] = set()
    for _ in range(pairs):
        base_s, base_bytes = _timed(lambda: _pyarrow_write(table))
        ours_s, version = _timed(run)
        base_times.append(base_s)
        ours_times.append(ours_s)
        digests.add(version.digest)
    split_s, _ = _timed(lambda: split_column(table.column("item_id"), salt="bench"))
    segments = bench_segments(table, definition, pairs=3 if quick else 7)

    base_s, ours_s = min(base_times), min(ours_times)
    ratio = ours_s / base_s
    pair_ratios = [o / b for o, b in zip(ours_times, base_times, strict=True)]
    return {
        "rows": n,
        "table_bytes_in_memory": table.nbytes,
        "pyarrow_write_s": round(base_s, 3),
        "pyarrow_write_bytes": len(base_bytes),
        "materialize_s": round(ours_s, 3),
        "materialize_bytes": sum(f["bytes"] for f in version.manifest["files"]),
        "materialize_files": len(version.manifest["files"]),
        "ratio": round(ratio, 3),
        "ratio_median": round(statistics.median(pair_ratios), 3),
        "target_ratio": TARGET_RATIO,
        "meets_target": ratio <= TARGET_RATIO,
        "materialize_rows_per_s": round(n / ours_s),
        "pyarrow_rows_per_s": round(n / base_s),
        "deterministic": len(digests) == 1,
        "digest": version.digest,
        "split_column_s": round(split_s, 3),
        "segments": segments,
    }


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="100k rows instead of 1M")
    args = ap.parse_args()
    print(json.dumps(asyncio.run(bench_datasets("", "", quick=args.quick)), indent=2))
