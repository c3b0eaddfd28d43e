"""Materialize a dataset version: sorted Parquet files plus a canonical manifest (pure).

A version is an immutable snapshot projected from the event log. Its bytes must depend only on
its *rows* and its definition (dataset, version number, cut, filter, ontology, creator), never
on the order the projection produced the rows in, the machine, or the time of day. That is what
makes "drop the projection, replay from offset 0, recreate the same cut" give sha256-identical
files and manifest, and what lets the object store address a version by the hash of its
manifest. How each source of variation is pinned:

- Row order: rows are sorted by ``rows.SORT_KEYS``. Those keys identify a row (one label as
  accepted by one event, or one item-level row), so duplicates are rejected rather than left
  to the sort's tie order, which would depend on the input order.
- Row layout: the sorted rows are cut into files of ``rows_per_file`` rows and each file into
  row groups of ``ROW_GROUP_SIZE`` rows, each row group handed to the writer as one contiguous
  chunk (page boundaries depend on the input chunking, so it is not left to the caller).
- Writer settings: every option that changes bytes is spelled out in ``WRITER_SETTINGS``
  (pinned, not pyarrow's defaults, which may change between releases). Parquet files carry no
  timestamps; the only writer-identifying field is the footer's ``created_by`` ("parquet-cpp-
  arrow version X"), which pyarrow does not let us set: it is constant for a pinned pyarrow,
  and a different pyarrow may encode differently anyway, so the version is recorded in the
  manifest (``writer.library``) to explain a mismatch instead of hiding it.
- Manifest: canonical JSON (sorted keys, compact separators, UTF-8, no NaN, one trailing
  newline) and *no wall-clock timestamp*: when a version was created belongs in the database /
  the ``DatasetVersionCreated`` event, not in the reproducible bytes (a timestamp would make
  every rebuild a different version).

Speed: sorting means a random-access gather of every column (``take``), which costs about
two thirds of the Parquet encoding itself, on top of the sort. So the sort is split over
threads (range partitions on ``item_id``), and the gather of row group k+1, the counts and
the sha256 of row group k-1 run on other threads while row group k is encoded (Arrow and
hashlib release the GIL); see ``_write_sorted`` and ``bench/bench_datasets.py``.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import math
import queue
import threading
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from labelops_datasets.domain.rows import GEOMETRY_KINDS, SCHEMA, SCHEMA_VERSION, SORT_KEYS
from labelops_datasets.domain.splits import SPLITS

__all__ = [
    "MANIFEST_PATH",
    "ROW_GROUP_SIZE",
    "WRITER_SETTINGS",
    "Materialized",
    "canonical_json",
    "data_path",
    "materialize",
    "read_version",
]

MANIFEST_PATH = "manifest.json"

#: Rows per Parquet row group: ~30 MB compressed for typical label rows, large enough for
#: efficient scans, small enough that readers (``datasets``, DataLoaders) can stream a file.
ROW_GROUP_SIZE = 256 * 1024

#: The item-level row of an item with no labels (see ``rows``): counted as a row and an item,
#: never as a label of some class.
NO_LABEL = "none"

# Low-cardinality columns, the only ones dictionary-encoded. Not ids, URIs or protobuf bytes:
# a dictionary would be built only to be abandoned at the page-size limit. Not the per-item
# columns either (item_uri, task_id, width, height): sorted by item they come in runs, which
# zstd compresses better and faster from plain pages than from dictionary indices.
_DICTIONARY_COLUMNS = (
    "split",
    "class_id",
    "geometry_kind",
    "answers_json",
    "annotators.list.element",
    "consensus_method",
    "review_decision",
    "reviewer",
    "prelabel_model",
    "prelabel_model_version",
    "ontology_id",
    "ontology_version",
    "labeled_ontology_version",
    "source_topic",
    "source_partition",
)

# Min / max statistics where a reader can prune with them (the sort keys, class, kind, the log
# position); not on geometry values or the serialized label, where they only cost.
_STATISTICS_COLUMNS = (
    "split",
    "item_id",
    "label_id",
    "label_event_id",
    "class_id",
    "geometry_kind",
    "width",
    "height",
    "source_partition",
    "source_offset",
)

#: Every Parquet writer option that affects the bytes, pinned. Recorded in the manifest.
WRITER_SETTINGS: Mapping[str, Any] = MappingProxyType(
    {
        "version": "2.6",
        "data_page_version": "2.0",
        "compression": "zstd",
        # Level 1: on the bench rows 3 % larger than level 3 (zstd's default) for two thirds of
        # its encoding time; negative "fast" levels skip entropy coding and grow files by a third
        # (hex ids and serialized labels stop shrinking). Part of the bytes, so pinned.
        "compression_level": 1,
        "use_dictionary": _DICTIONARY_COLUMNS,
        "write_statistics": _STATISTICS_COLUMNS,
        "data_page_size": 1 << 20,
        "dictionary_pagesize_limit": 1 << 20,
        "write_batch_size": 1024,
        "max_rows_per_page": 20_000,
        "use_content_defined_chunking": False,
        "use_byte_stream_split": False,
        "use_compliant_nested_type": True,
        # The Arrow schema in the footer: fixed_size_list, uint32 and non-null flags round-trip.
        "store_schema": True,
        "write_page_index": False,
        "write_page_checksum": False,
    }
)

_SORT_ORDER = [(key, "ascending") for key in SORT_KEYS]

# Below this many rows one sort_indices call beats partitioning + threads.
_PARALLEL_SORT_MIN_ROWS = 100_000
# Threads for sorting partitions, gathering row groups, counts and hashing (beside the caller's
# thread, which encodes): Arrow's CPU count, capped; more mostly adds memory.
_MAX_WORKERS = 8


def _settings() -> dict[str, Any]:
    """The writer settings as recorded in the manifest (row group size included)."""
    return {**WRITER_SETTINGS, "row_group_size": ROW_GROUP_SIZE}


@dataclass(frozen=True)
class Materialized:
    """A materialized version: its files and its content address.

    ``files`` maps relative paths ("data/labels-00000.parquet", ..., "manifest.json") to bytes;
    ``manifest`` is the parsed manifest.json; ``digest`` is the sha256 (hex) of the
    manifest.json bytes, which name every data file by its own sha256: the version's address.
    """

    files: dict[str, bytes]
    manifest: dict[str, Any]
    digest: str


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def data_path(index: int) -> str:
    """Relative path of the ``index``-th data file of a version."""
    return f"data/labels-{index:05d}.parquet"


def canonical_json(obj: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, compact, UTF-8 (not \\u-escaped), newline-terminated.

    ``allow_nan=False``: NaN / Infinity are not JSON, and would not round-trip through other
    readers, so they are refused rather than written.
    """
    text = json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return (text + "\n").encode("utf-8")


def _plain(value: Any, where: str) -> Any:
    """A caller-supplied mapping as plain JSON values (Mapping → dict, tuple → list).

    Anything else (datetimes, sets, bytes, NaN) is refused: its JSON form would be ambiguous or
    unstable, and the manifest must read back exactly as written.
    """
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"{where}: keys must be str, got {k!r}")
            out[k] = _plain(v, f"{where}.{k}")
        return out
    if isinstance(value, list | tuple):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}: {value!r} is not valid JSON")
    if value is None or isinstance(value, str | int | float):  # bool is an int
        return value
    raise ValueError(f"{where}: {type(value).__name__} is not a JSON value")


# --------------------------------------------------------------------------------------------
# Validation


def _kind(t: pa.DataType) -> Any:
    """The type family a column may be cast within (width, offsets, dictionary aside)."""
    if pa.types.is_dictionary(t):
        return _kind(t.value_type)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return "binary"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t):
        return "floating"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return ("list", _kind(t.value_type))
    return str(t)


def _castable(given: pa.DataType, wanted: pa.DataType) -> bool:
    """Whether ``given`` may be cast to ``wanted``: within a family, or int → float.

    Arrow would also cast e.g. ints to strings; a column of the wrong kind is a projection
    bug to surface, not to paper over. An all-null column fits any type (nullability is
    checked separately).
    """
    if pa.types.is_null(given):
        return True
    a, b = _kind(given), _kind(wanted)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return _castable(given.value_type, wanted.value_type)
    return bool(a == b or (a == "integer" and b == "floating"))


def _conform(table: pa.Table) -> pa.Table:
    """``table`` with exactly ``rows.SCHEMA`` (columns reordered, types cast); else ValueError.

    Casts stay within a type family and are safe (no overflow, no truncation); extra and
    missing columns are errors, not silently dropped or null-filled: a version must hold what
    the projection meant.
    """
    if not isinstance(table, pa.Table):
        raise ValueError(f"expected a pyarrow.Table, got {type(table).__name__}")
    names = table.column_names
    dupes = sorted({n for n in names if names.count(n) > 1})
    missing = [n for n in SCHEMA.names if n not in names]
    extra = [n for n in names if n not in SCHEMA.names]
    if dupes or missing or extra:
        raise ValueError(
            f"table does not match rows.SCHEMA: missing {missing}, extra {extra}, "
            f"duplicated {dupes}"
        )
    table = table.select(SCHEMA.names)
    for field in SCHEMA:
        given = table.schema.field(field.name).type
        if not _castable(given, field.type):
            raise ValueError(f"column {field.name!r} is {given}, rows.SCHEMA has {field.type}")
    if not table.schema.equals(SCHEMA, check_metadata=True):
        try:
            # Non-null fields with nulls raise here too ("Casting field ... to non-nullable").
            table = table.cast(SCHEMA, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as e:
            raise ValueError(f"table does not conform to rows.SCHEMA: {e}") from e
    for name in SCHEMA.names:
        if not SCHEMA.field(name).nullable and table.column(name).null_count:
            raise ValueError(f"column {name!r} is not nullable but has nulls")
    # One contiguous chunk per column: the row-group slices the writer sees are then single
    # chunks whatever the caller's chunking was (page boundaries follow the chunking).
    if any(column.num_chunks != 1 for column in table.columns):
        table = table.combine_chunks()
    return table


# --------------------------------------------------------------------------------------------
# Counts and lineage (order-independent: computed on the unsorted table, while files are written)


def _value_counts(array: pa.Array | pa.ChunkedArray) -> dict[str, int]:
    counts = pc.value_counts(array)
    values = counts.field("values").to_pylist()
    return dict(sorted(zip(values, counts.field("counts").to_pylist(), strict=True)))


def _group_counts(table: pa.Table, keys: list[str]) -> list[dict[str, Any]]:
    if table.num_rows == 0:
        return []
    grouped = table.group_by(keys, use_threads=False).aggregate([([], "count_all")])
    return grouped.to_pylist()  # type: ignore[no-any-return]


def _count_tasks(table: pa.Table) -> list[Callable[[], dict[str, Any]]]:
    """The counts and lineage of the version as small independent tasks (see ``_summarize``).

    Small, so the gather thread can run them in its idle time between row groups without
    making the encoder wait (``_Lane``); each returns a fragment, merged by ``_summarize``.
    """
    column = table.column
    is_label = pc.not_equal(column("geometry_kind"), NO_LABEL)

    def splits() -> dict[str, Any]:
        return {"per_split": _value_counts(column("split"))}

    def kinds() -> dict[str, Any]:
        return {"per_geometry_kind": _value_counts(column("geometry_kind"))}

    def classes() -> dict[str, Any]:
        labels = table.select(["split", "class_id"]).filter(is_label)
        return {
            "labels": labels.num_rows,
            "per_class": _value_counts(labels.column("class_id")),
            "split_class": _group_counts(labels, ["split", "class_id"]),
        }

    def items() -> dict[str, Any]:
        if table.num_rows == 0:
            return {"items_per_split": []}
        grouped = table.select(["split", "item_id"]).group_by("split", use_threads=False)
        return {"items_per_split": grouped.aggregate([("item_id", "count_distinct")]).to_pylist()}

    def decisions() -> dict[str, Any]:
        return {
            "consensus_methods": _value_counts(column("consensus_method")),
            "review_decisions": _value_counts(column("review_decision")),
        }

    def people() -> dict[str, Any]:
        return {"annotators": len(pc.unique(pc.list_flatten(column("annotators"))))}

    def events() -> dict[str, Any]:
        # ``unique`` rather than ``count_distinct``: same number, 3x faster on 1M distinct ids.
        return {"label_events": len(pc.unique(column("label_event_id")))}

    def models() -> dict[str, Any]:
        pairs = table.select(["prelabel_model", "prelabel_model_version"]).filter(
            pc.not_equal(column("prelabel_model"), "")
        )
        return {"models": _group_counts(pairs, ["prelabel_model", "prelabel_model_version"])}

    # Cheapest first: a gather waits for the task in progress, so the short gaps between
    # gathers get short tasks, and the two hash-heavy ones tend to land in the last row
    # group's encoding, when no gather is left.
    return [splits, kinds, classes, decisions, people, models, items, events]


def _summarize(
    num_rows: int, fragments: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(counts, lineage)`` from the count tasks' fragments; validates split and kind values.

    Rows vs labels vs items: every row counts in ``per_split``; item-level rows (geometry kind
    "none") are not labels, so they are left out of the class counts; ``items_per_split``
    counts distinct item ids.
    """
    f: dict[str, Any] = {k: v for fragment in fragments for k, v in fragment.items()}
    unknown = sorted(set(f["per_split"]) - set(SPLITS))
    if unknown:
        raise ValueError(f"split values must be one of {SPLITS}, got {unknown}")
    unknown = sorted(set(f["per_geometry_kind"]) - set(GEOMETRY_KINDS))
    if unknown:
        raise ValueError(f"geometry_kind values must be one of GEOMETRY_KINDS, got {unknown}")

    per_split_class: dict[str, dict[str, int]] = {s: {} for s in SPLITS}
    for row in f["split_class"]:
        per_split_class[row["split"]][row["class_id"]] = row["count_all"]
    items_per_split = dict.fromkeys(SPLITS, 0)
    for row in f["items_per_split"]:
        items_per_split[row["split"]] = row["item_id_count_distinct"]
    models: dict[str, dict[str, int]] = {}
    for row in f["models"]:
        versions = models.setdefault(row["prelabel_model"], {})
        versions[row["prelabel_model_version"]] = row["count_all"]
    counts = {
        "rows": num_rows,
        "labels": f["labels"],
        "per_split": {s: f["per_split"].get(s, 0) for s in SPLITS},
        "items_per_split": items_per_split,
        "per_class": f["per_class"],
        "per_split_class": {s: dict(sorted(c.items())) for s, c in per_split_class.items()},
        "per_geometry_kind": f["per_geometry_kind"],
    }
    lineage = {
        # Rows per consensus method / review decision, "" (none recorded) included as such.
        "consensus_methods": f["consensus_methods"],
        "review_decisions": f["review_decisions"],
        "annotators": f["annotators"],
        "label_events": f["label_events"],
        # Rows per prelabel model and version; rows without a prelabel are not listed.
        "prelabel_models": {m: dict(sorted(v.items())) for m, v in sorted(models.items())},
    }
    return counts, lineage


# --------------------------------------------------------------------------------------------
# Sorting


def _array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _sort_partition(keys: pa.Table, mask: pa.Array) -> tuple[pa.Array, list[tuple[str, int]]]:
    """The rows of ``mask`` sorted: (their table indices in order, the run of each split)."""
    indices = pc.indices_nonzero(mask)
    part = keys.take(indices)
    order = pc.sort_indices(part, sort_keys=_SORT_ORDER)
    runs = _array(pc.run_end_encode(part.column("split").take(order)))
    ends = runs.run_ends.to_pylist() if len(runs) else []
    return _array(indices.take(order)), list(zip(runs.values.to_pylist(), ends, strict=True))


def _sort_order(table: pa.Table, pool: ThreadPoolExecutor, parts: int) -> pa.Array:
    """Indices of ``table``'s rows in ``SORT_KEYS`` order, sorted on up to ``parts`` threads.

    Arrow's sort runs on one thread. The rows are range-partitioned on ``item_id`` (pivots from
    an evenly spaced sample), each partition sorted on its own thread, and the sorted
    partitions interleaved split by split: as ``item_id`` is the second key, within a split
    every row of partition j precedes every row of partition j+1. The result is the one total
    order whatever the pivots (they only balance the work), so it is the same on any machine.
    """
    keys = table.select(list(SORT_KEYS))
    n = keys.num_rows
    if parts < 2 or n < _PARALLEL_SORT_MIN_ROWS:
        return _array(pc.sort_indices(keys, sort_keys=_SORT_ORDER))
    items = keys.column("item_id")
    sample = _array(items.take(pa.array(np.linspace(0, n - 1, 64 * parts + 1).astype(np.int64))))
    ranked = sample.take(pc.sort_indices(sample)).to_pylist()
    pivots = sorted({ranked[len(ranked) * j // parts] for j in range(1, parts)})
    # Partition of a row = how many pivots its item_id is >= (pivots ascending).
    bucket = pc.cast(pc.greater_equal(items, pivots[0]), pa.int8())
    for pivot in pivots[1:]:
        bucket = pc.add(bucket, pc.cast(pc.greater_equal(items, pivot), pa.int8()))
    masks = [pc.equal(bucket, j) for j in range(len(pivots) + 1)]
    futures = [pool.submit(_sort_partition, keys, mask) for mask in masks[1:]]
    sorted_parts = [_sort_partition(keys, masks[0]), *(f.result() for f in futures)]

    slices: list[dict[str, pa.Array]] = []
    for indices, runs in sorted_parts:
        start, by_split = 0, {}
        for split, end in runs:
            by_split[split] = indices.slice(start, end - start)
            start = end
        slices.append(by_split)
    # Python orders str by code point, which is the UTF-8 byte order Arrow sorts strings by.
    splits = sorted({split for by_split in slices for split in by_split})
    return pa.concat_arrays([s[split] for split in splits for s in slices if split in s])


# --------------------------------------------------------------------------------------------
# Pipelined writing


def _duplicate_in(part: pa.Table) -> dict[str, Any] | None:
    """The first repeated ``SORT_KEYS`` value within a sorted slice, or None."""
    n = part.num_rows
    if n < 2:
        return None
    same = None
    for key in SORT_KEYS:
        column = part.column(key)
        eq = pc.equal(column.slice(1), column.slice(0, n - 1))
        same = eq if same is None else pc.and_(same, eq)
    if not pc.any(same).as_py():
        return None
    at = pc.index(same, True).as_py() + 1
    return {k: part.column(k)[at].as_py() for k in SORT_KEYS}


def _row_key(part: pa.Table, i: int) -> tuple[Any, ...]:
    return tuple(part.column(k)[i].as_py() for k in SORT_KEYS)


def _key_dict(key: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(SORT_KEYS, key, strict=True))


def _file_slices(num_rows: int, rows_per_file: int) -> list[list[tuple[int, int]]]:
    """Per file, the ``(offset, length)`` of its row groups in the sorted order."""
    files: list[list[tuple[int, int]]] = []
    for start in range(0, max(num_rows, 1), rows_per_file):
        end = min(start + rows_per_file, num_rows)
        files.append(
            [(s, min(s + ROW_GROUP_SIZE, end) - s) for s in range(start, end, ROW_GROUP_SIZE)]
        )
    return files


class _Sink:
    """File-like sink for the Parquet writer; the file is hashed and assembled on ``worker``.

    The writer hands over each page as ``bytes``. After each row group the new pages go to
    ``worker`` (a single thread, so in order), which feeds them to sha256 and copies them into
    the file's buffer: both passes over the file overlap the encoding instead of following it.
    """

    closed = False

    def __init__(self, worker: ThreadPoolExecutor) -> None:
        self._worker = worker
        self._sha = hashlib.sha256()
        self._buffer = io.BytesIO()
        self._pages: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> int:
        self._pages.append(data if isinstance(data, bytes) else bytes(data))
        self._size += len(data)
        return len(data)

    def tell(self) -> int:
        return self._size

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def drain(self) -> None:
        """Hand the pages written since the last call to the worker."""
        pages, self._pages = self._pages, []
        self._worker.submit(_absorb, self._sha, self._buffer, pages)

    def finish(self) -> Future[tuple[bytes, str]]:
        """The file's bytes and their sha256 hex digest, once the worker is through."""
        self.drain()
        # BytesIO hands over its buffer without a copy when nothing else references it.
        return self._worker.submit(lambda: (self._buffer.getvalue(), self._sha.hexdigest()))


def _absorb(sha: Any, buffer: io.BytesIO, pages: list[bytes]) -> None:
    for page in pages:
        sha.update(page)  # releases the GIL for all but the tiny page headers
        buffer.write(page)


def _take(table: pa.Table, indices: pa.Array, pool: ThreadPoolExecutor, parts: int) -> pa.Table:
    """``table.take(indices)``, the columns split over ``parts`` threads (this one included).

    Same arrays as one ``take`` (the same kernel runs per column); only used where threads
    would otherwise idle: the first row group, which the writer has to wait for.
    """
    if parts < 2:
        return table.take(indices)
    names = table.column_names
    groups = [names[i::parts] for i in range(parts)]  # interleaved: spreads the heavy columns
    futures = [pool.submit(table.select(group).take, indices) for group in groups[1:]]
    taken = [table.select(groups[0]).take(indices), *(f.result() for f in futures)]
    columns = {name: t.column(name) for t in taken for name in t.column_names}
    return pa.Table.from_arrays([columns[name] for name in names], schema=table.schema)


class _Lane:
    """One worker thread that runs urgent work first and side work in its spare time.

    The gather of the next row group is urgent (the writer will wait for it); the counts are
    not. A plain executor runs them in submission order, so a count submitted at the wrong
    moment delays a gather, and counts left for the end run after the last row group is
    encoded. Here side work starts only when no urgent work is queued, and finishes in the
    time the lane would otherwise idle.
    """

    def __init__(self) -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, Any, tuple[Any, ...], Future[Any]]]
        self._queue = queue.PriorityQueue()
        self._order = itertools.count()
        self._thread = threading.Thread(target=self._run, name="materialize-lane", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any, urgent: bool = True) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.put((0 if urgent else 1, next(self._order), fn, args, future))
        return future

    def _run(self) -> None:
        while True:
            _, _, fn, args, future = self._queue.get()
            if fn is None:
                return
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as e:  # handed to whoever waits on the future
                    future.set_exception(e)
            del fn, args, future  # drop references now (e.g. a row group to free)

    def __enter__(self) -> _Lane:
        return self

    def __exit__(self, *exc: object) -> None:
        # Lowest priority: everything already queued runs first (or is cancelled on error).
        if exc[0] is not None:
            self._cancel_queued()
        self._queue.put((2, next(self._order), None, (), Future()))
        self._thread.join()

    def _cancel_queued(self) -> None:
        pending = []
        while True:
            try:
                pending.append(self._queue.get_nowait())
            except queue.Empty:
                break
        for item in pending:
            item[4].cancel()


def _write_sorted(
    table: pa.Table,
    order: pa.Array,
    rows_per_file: int,
    *,
    pool: ThreadPoolExecutor,
    workers: int,
    lane: _Lane,
    hasher: ThreadPoolExecutor,
    side_tasks: list[Callable[[], Any]],
) -> tuple[list[tuple[Future[tuple[bytes, str]], int]], list[Future[Any]]]:
    """Per file (its bytes and sha256, its rows), rows gathered in ``order``; side results.

    A pipeline over row groups: ``lane`` gathers (``take``) and checks row group k+1 while this
    thread encodes row group k, and ``hasher`` hashes and copies out the pages of row group
    k-1. Encoding is the slowest stage and a gather takes ~2/3 of it, so the lane runs the
    ``side_tasks`` in the remaining third rather than a third thread taking CPU from the
    encoder. The first row group has nothing to overlap with: this thread and the
    ``workers`` of ``pool`` gather it together. Duplicate keys (see ``materialize``) are
    checked within a row group on the lane and across row-group boundaries here, where the
    groups come in order.
    """

    def gather(offset: int, length: int, parts: int = 1) -> pa.Table:
        part = _take(table, order.slice(offset, length), pool, parts)
        duplicate = _duplicate_in(part)
        if duplicate is not None:
            raise ValueError(f"duplicate rows for sort key {duplicate}")
        return part

    settings = dict(WRITER_SETTINGS)
    settings["sorting_columns"] = pq.SortingColumn.from_ordering(SCHEMA, _SORT_ORDER)
    files = _file_slices(table.num_rows, rows_per_file)
    slices = deque(s for groups in files for s in groups)
    side: list[Future[Any]] | None = None
    pending: Future[pa.Table] | None = None
    last_key: tuple[Any, ...] | None = None
    written: list[tuple[Future[tuple[bytes, str]], int]] = []
    for groups in files:
        sink = _Sink(hasher)
        rows = 0
        with pq.ParquetWriter(sink, SCHEMA, **settings) as writer:
            for _ in groups:
                if pending is None:
                    part = gather(*slices.popleft(), parts=workers + 1)
                else:
                    part = pending.result()
                pending = lane.submit(gather, *slices.popleft()) if slices else None
                if side is None:
                    # Queued once the first gather is: the lane runs them whenever no gather
                    # is waiting for it.
                    side = [lane.submit(task, urgent=False) for task in side_tasks]
                first = _row_key(part, 0)
                if first == last_key:
                    raise ValueError(f"duplicate rows for sort key {_key_dict(first)}")
                last_key = _row_key(part, part.num_rows - 1)
                writer.write_table(part, row_group_size=ROW_GROUP_SIZE)
                rows += part.num_rows
                sink.drain()
                # Freed on the lane, between two gathers: its allocator then reuses the memory
                # for the next gather at once instead of returning it to the OS and faulting
                # it back in (which costs as much as the gather itself on some VMs).
                holder = [part]
                del part
                lane.submit(holder.clear)
        written.append((sink.finish(), rows))
    if side is None:  # no row group at all: an empty version
        side = [lane.submit(task, urgent=False) for task in side_tasks]
    return written, side


def materialize(
    table: pa.Table,
    *,
    dataset_id: str,
    version: int,
    cut: Mapping[str, Any],
    filter: Mapping[str, Any],
    ontology: Mapping[str, str],
    rows_per_file: int = 1_000_000,
    created_by: str = "",
) -> Materialized:
    """The version's files and manifest; same rows (in any order) and arguments → same bytes.

    ``table`` must conform to ``rows.SCHEMA`` (columns in any order; safe casts applied) with
    ``split`` in train / val / test, known geometry kinds and no two rows sharing ``SORT_KEYS``
    (they identify a row; a tie would leave the order, hence the bytes, to the input order);
    otherwise ValueError. ``cut`` (the log positions the version includes), ``filter`` and
    ``ontology`` are recorded verbatim and must be JSON values. ``created_by`` is part of the
    manifest, so a rebuild must pass the version's original creator (from its event).

    Manifest keys: schema_version, dataset_id, version, created_by, cut, filter, ontology,
    sort_keys, writer, row_count, counts, files ([{path, sha256, rows, bytes}] in row order),
    lineage. There is deliberately no creation time in it (see the module docstring).
    """
    if rows_per_file < 1:
        raise ValueError(f"rows_per_file must be >= 1, got {rows_per_file}")
    if not isinstance(dataset_id, str) or not isinstance(created_by, str):
        raise ValueError("dataset_id and created_by must be str")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ValueError(f"version must be a non-negative int, got {version!r}")
    definition = {
        "dataset_id": _plain(dataset_id, "dataset_id"),
        "version": version,
        "created_by": _plain(created_by, "created_by"),
        "cut": _plain(cut, "cut"),
        "filter": _plain(filter, "filter"),
        "ontology": _plain(ontology, "ontology"),
    }
    table = _conform(table)

    workers = max(1, min(pa.cpu_count(), _MAX_WORKERS))
    with (
        ThreadPoolExecutor(workers, thread_name_prefix="materialize") as pool,
        _Lane() as lane,
        ThreadPoolExecutor(1, thread_name_prefix="materialize-sha256") as hasher,
    ):
        order = _sort_order(table, pool, workers)
        written, side = _write_sorted(
            table,
            order,
            rows_per_file,
            pool=pool,
            workers=workers,
            lane=lane,
            hasher=hasher,
            side_tasks=_count_tasks(table),
        )
        counts, lineage = _summarize(table.num_rows, [f.result() for f in side])
        files: dict[str, bytes] = {}
        entries = []
        for i, (done, rows) in enumerate(written):
            data, digest = done.result()
            files[data_path(i)] = data
            entries.append(
                {"path": data_path(i), "sha256": digest, "rows": rows, "bytes": len(data)}
            )

    manifest = {
        **definition,
        "schema_version": SCHEMA_VERSION,
        "sort_keys": list(SORT_KEYS),
        "writer": {"library": f"pyarrow {pa.__version__}", "format": "parquet", **_settings()},
        "row_count": table.num_rows,
        "counts": counts,
        "files": entries,
        "lineage": lineage,
    }
    manifest_bytes = canonical_json(manifest)
    files[MANIFEST_PATH] = manifest_bytes
    return Materialized(
        files=files,
        # Parsed back from the bytes, so ``manifest`` is exactly what readers will see.
        manifest=json.loads(manifest_bytes),
        digest=_sha256(manifest_bytes),
    )


# --------------------------------------------------------------------------------------------
# Reading


def read_version(files: Mapping[str, bytes], *, verify: bool = True) -> pa.Table:
    """The version's rows (``rows.SCHEMA``, in sorted order): its data files concatenated.

    With a ``manifest.json`` in ``files`` the files are read in manifest order and checked
    against its row counts and, if ``verify``, its sha256 (ValueError on a mismatch; callers
    that verified the bytes already pass ``verify=False``); a manifest of another schema
    version is refused. Without one, every "data/*.parquet" path is read in path order (the
    paths are zero-padded, so that is row order).
    """
    manifest_bytes = files.get(MANIFEST_PATH)
    expected: list[tuple[str, str | None, int | None]]
    if manifest_bytes is not None:
        manifest = json.loads(manifest_bytes)
        if manifest.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(
                f"version has schema_version {manifest.get('schema_version')!r}, "
                f"this code reads {SCHEMA_VERSION}"
            )
        expected = [(f["path"], f["sha256"], f["rows"]) for f in manifest["files"]]
    else:
        paths = sorted(p for p in files if p.startswith("data/") and p.endswith(".parquet"))
        expected = [(p, None, None) for p in paths]
    if not expected:
        raise ValueError("no data files in the version")

    tables = []
    for path, sha256, rows in expected:
        if path not in files:
            raise ValueError(f"data file {path} is missing")
        data = files[path]
        if verify and sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
            raise ValueError(f"data file {path} does not match its sha256 {sha256}")
        part = pq.ParquetFile(pa.BufferReader(data)).read()
        if rows is not None and part.num_rows != rows:
            raise ValueError(f"data file {path} has {part.num_rows} rows, manifest says {rows}")
        tables.append(part)
    return pa.concat_tables(tables)
