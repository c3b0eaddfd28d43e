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

Two ways to build a version, one file format and one manifest:

- ``materialize``: one table, sorted as a whole and cut into files of ``rows_per_file`` rows
  (the files, in order, are the sorted rows).
- Segments: the service groups rows by the log segment they came from (topic, partition,
  offset range) and writes each group as one file with ``write_segment`` / ``write_segments``:
  its bytes (rows sorted within the file, same settings and row-group layout), sha256, and
  mergeable ``stats``. ``assemble`` then lists any number of such files (new ones and ones
  reused from earlier versions, by sha256 and cached stats) in the caller's order and merges
  their stats into the counts and lineage. An incremental version re-writes only the segments
  that changed. Its manifest has the same keys as ``materialize``'s; ``sort_keys`` then orders
  the rows within each file, the files being in segment order.

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
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
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
    "FileEntry",
    "Materialized",
    "SegmentFile",
    "assemble",
    "canonical_json",
    "data_path",
    "materialize",
    "merge_stats",
    "read_version",
    "segment_format",
    "write_segment",
    "write_segments",
]

MANIFEST_PATH = "manifest.json"

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")

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


def _writer() -> dict[str, Any]:
    """The manifest's ``writer``: library, format and every setting that shapes the bytes."""
    return {"library": f"pyarrow {pa.__version__}", "format": "parquet", **_settings()}


def _default_workers() -> int:
    return max(1, min(pa.cpu_count(), _MAX_WORKERS))


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


@dataclass(frozen=True)
class FileEntry:
    """A data file as ``assemble`` lists it: what the service caches per segment file.

    ``stats`` is the file's ``SegmentFile.stats`` as written (a JSON round trip keeps it).
    """

    sha256: str
    rows: int
    bytes: int
    stats: dict[str, Any]


@dataclass(frozen=True)
class SegmentFile:
    """One segment's Parquet file (``write_segment``): bytes, sha256, rows, mergeable stats.

    ``stats`` is a JSON object (``json.loads(json.dumps(stats)) == stats``) holding the file's
    counts and lineage in mergeable form (see ``merge_stats``):

    - ``format``: ``segment_format()`` when written. A file written under another pyarrow,
      other writer settings, another row schema or stats layout is refused by ``assemble``:
      a rebuild would not reproduce its bytes, or its stats would be misread. Rewrite it.
    - ``rows``, ``labels``, ``label_events`` (distinct ``label_event_id``s: an event's rows all
      live in one segment, so these add up): ints.
    - ``per_split`` / ``items_per_split`` (every split, 0 included), ``per_class``,
      ``per_geometry_kind``, ``consensus_methods``, ``review_decisions``: {value: count};
      ``per_split_class`` (every split): {split: {class: labels}}; ``prelabel_models``: {model:
      {version: rows}}. ``items_per_split`` counts the distinct items *of this file*.
    - ``annotators``: the sorted distinct annotator ids (a set: unions across files).
    """

    data: bytes
    sha256: str
    rows: int
    stats: dict[str, Any]

    @property
    def entry(self) -> FileEntry:
        """The file as the service caches it (everything but the bytes)."""
        return FileEntry(sha256=self.sha256, rows=self.rows, bytes=len(self.data), stats=self.stats)


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

#: Bumped when the layout or meaning of ``SegmentFile.stats`` changes (part of
#: ``segment_format``, so stats cached under an older layout are refused, not misread).
_STATS_LAYOUT = 1

_SCALARS = ("rows", "labels", "label_events")
# {value: count}; the first two keyed by split, every split present.
_COUNTERS = (
    "per_split",
    "items_per_split",
    "per_class",
    "per_geometry_kind",
    "consensus_methods",
    "review_decisions",
)
# {key: {value: count}}; per_split_class keyed by split, every split present.
_NESTED = ("per_split_class", "prelabel_models")
_STATS_KEYS = frozenset({"format", "annotators", *_SCALARS, *_COUNTERS, *_NESTED})


def segment_format() -> str:
    """Fingerprint of what a segment file's bytes and stats depend on besides its rows.

    The pyarrow version, the writer settings (``WRITER_SETTINGS``, ``ROW_GROUP_SIZE``), the row
    schema and the stats layout. Stored in every ``SegmentFile.stats`` as ``format``; a cached
    file whose format differs from this one is refused by ``assemble`` and must be rewritten.
    """
    spec = {
        "schema": SCHEMA.to_string(show_schema_metadata=False),
        "schema_version": SCHEMA_VERSION,
        "stats_layout": _STATS_LAYOUT,
        "writer": _writer(),
    }
    return _sha256(canonical_json(spec))[:32]


def _value_counts(array: pa.Array | pa.ChunkedArray) -> dict[str, int]:
    counts = pc.value_counts(array)
    values = counts.field("values").to_pylist()
    return dict(sorted(zip(values, counts.field("counts").to_pylist(), strict=True)))


def _group_counts(table: pa.Table, keys: list[str]) -> list[dict[str, Any]]:
    if table.num_rows == 0:
        return []
    grouped = table.group_by(keys, use_threads=False).aggregate([([], "count_all")])
    return grouped.to_pylist()  # type: ignore[no-any-return]


def _nested_counts(rows: Iterable[dict[str, Any]], outer: str, inner: str) -> dict[str, Any]:
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        out.setdefault(row[outer], {})[row[inner]] = row["count_all"]
    return out


def _count_tasks(table: pa.Table) -> list[Callable[[], dict[str, Any]]]:
    """The table's stats (see ``SegmentFile``) as small independent tasks (see ``_stats``).

    Small, so the gather thread of ``materialize`` can run them in its idle time between row
    groups without making the encoder wait (``_Lane``); each returns a fragment of the stats.
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
            "per_split_class": _nested_counts(
                _group_counts(labels, ["split", "class_id"]), "split", "class_id"
            ),
        }

    def items() -> dict[str, Any]:
        if table.num_rows == 0:
            return {"items_per_split": {}}
        grouped = table.select(["split", "item_id"]).group_by("split", use_threads=False)
        rows = grouped.aggregate([("item_id", "count_distinct")]).to_pylist()
        return {"items_per_split": {r["split"]: r["item_id_count_distinct"] for r in rows}}

    def decisions() -> dict[str, Any]:
        return {
            "consensus_methods": _value_counts(column("consensus_method")),
            "review_decisions": _value_counts(column("review_decision")),
        }

    def people() -> dict[str, Any]:
        return {"annotators": pc.unique(pc.list_flatten(column("annotators"))).to_pylist()}

    def events() -> dict[str, Any]:
        # ``unique`` rather than ``count_distinct``: same number, 3x faster on 1M distinct ids.
        return {"label_events": len(pc.unique(column("label_event_id")))}

    def models() -> dict[str, Any]:
        pairs = table.select(["prelabel_model", "prelabel_model_version"]).filter(
            pc.not_equal(column("prelabel_model"), "")
        )
        rows = _group_counts(pairs, ["prelabel_model", "prelabel_model_version"])
        return {"prelabel_models": _nested_counts(rows, "prelabel_model", "prelabel_model_version")}

    # Cheapest first: a gather waits for the task in progress, so the short gaps between
    # gathers get short tasks, and the two hash-heavy ones tend to land in the last row
    # group's encoding, when no gather is left.
    return [splits, kinds, classes, decisions, people, models, items, events]


def _normalized(s: Mapping[str, Any], fmt: str) -> dict[str, Any]:
    """Stats in their one canonical form: every split present, maps sorted, annotators sorted.

    Python orders str by code point, the order canonical JSON sorts keys in.
    """

    def ordered(counts: Mapping[str, int]) -> dict[str, int]:
        return dict(sorted(counts.items()))

    return {
        "format": fmt,
        "rows": s["rows"],
        "labels": s["labels"],
        "per_split": {split: s["per_split"].get(split, 0) for split in SPLITS},
        "items_per_split": {split: s["items_per_split"].get(split, 0) for split in SPLITS},
        "per_class": ordered(s["per_class"]),
        "per_split_class": {
            split: ordered(s["per_split_class"].get(split, {})) for split in SPLITS
        },
        "per_geometry_kind": ordered(s["per_geometry_kind"]),
        "consensus_methods": ordered(s["consensus_methods"]),
        "review_decisions": ordered(s["review_decisions"]),
        "prelabel_models": {m: ordered(v) for m, v in sorted(s["prelabel_models"].items())},
        "label_events": s["label_events"],
        "annotators": sorted(set(s["annotators"])),
    }


def _check_values(s: Mapping[str, Any], where: str) -> None:
    """Split and geometry-kind values must be the known ones (the manifest lists them)."""
    splits = set(s["per_split"]) | set(s["items_per_split"]) | set(s["per_split_class"])
    unknown = sorted(splits - set(SPLITS))
    if unknown:
        raise ValueError(f"{where}split values must be one of {SPLITS}, got {unknown}")
    unknown = sorted(set(s["per_geometry_kind"]) - set(GEOMETRY_KINDS))
    if unknown:
        raise ValueError(
            f"{where}geometry_kind values must be one of GEOMETRY_KINDS, got {unknown}"
        )


def _stats(num_rows: int, fragments: list[dict[str, Any]]) -> dict[str, Any]:
    """The stats (see ``SegmentFile``) from the count tasks' fragments; validates values.

    Rows vs labels vs items: every row counts in ``per_split``; item-level rows (geometry kind
    "none") are not labels, so they are left out of the class counts; ``items_per_split``
    counts distinct item ids (of the table the tasks ran on).
    """
    f: dict[str, Any] = {k: v for fragment in fragments for k, v in fragment.items()}
    f["rows"] = num_rows
    _check_values(f, "")
    return _normalized(f, segment_format())


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_counter(value: Any, where: str) -> None:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and _is_count(v) for k, v in value.items()
    ):
        raise ValueError(f"{where}: expected {{str: non-negative int}}, got {value!r}")


def _check_stats(stats: Any, fmt: str, where: str) -> None:
    """``stats`` is a ``SegmentFile.stats`` of this ``segment_format()`` (e.g. from a cache)."""
    if not isinstance(stats, Mapping) or set(stats) != _STATS_KEYS:
        got = sorted(stats) if isinstance(stats, Mapping) else type(stats).__name__
        raise ValueError(f"{where}: not segment stats (keys {got})")
    if stats["format"] != fmt:
        raise ValueError(
            f"{where}: written under segment format {stats['format']!r}, this code writes "
            f"{fmt!r} (pyarrow, writer settings, row schema or stats layout changed): "
            "rewrite the file"
        )
    for key in _SCALARS:
        if not _is_count(stats[key]):
            raise ValueError(f"{where}.{key}: expected a non-negative int, got {stats[key]!r}")
    for key in _COUNTERS:
        _check_counter(stats[key], f"{where}.{key}")
    for key in _NESTED:
        if not isinstance(stats[key], Mapping):
            raise ValueError(f"{where}.{key}: expected an object, got {stats[key]!r}")
        for name, counts in stats[key].items():
            _check_counter(counts, f"{where}.{key}.{name}")
    annotators = stats["annotators"]
    if not isinstance(annotators, list) or not all(isinstance(a, str) for a in annotators):
        raise ValueError(f"{where}.annotators: expected a list of str, got {annotators!r}")
    _check_values(stats, f"{where}: ")
    if sum(stats["per_split"].values()) != stats["rows"]:
        raise ValueError(f"{where}: per_split does not add up to rows")


def merge_stats(stats: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The stats of several files merged (counts added, annotator sets united), exactly.

    Every count adds up across files as the files hold disjoint rows, with one caveat:
    ``items_per_split`` is the *sum of the files' distinct item counts*, exact when all rows of
    an item live in one file (true for the service: an item's rows come from one event, and
    an event from one segment), an over-count otherwise. ``label_events`` likewise assumes an
    event's rows are in one file. Each input is validated (ValueError), including its
    ``format`` against ``segment_format()``.
    """
    fmt = segment_format()
    stats = list(stats)
    for i, s in enumerate(stats):
        _check_stats(s, fmt, f"stats[{i}]")
    return _merge(stats, fmt)


def _merge(stats: Iterable[Mapping[str, Any]], fmt: str) -> dict[str, Any]:
    """``merge_stats`` of stats already checked."""
    total: dict[str, Any] = {key: 0 for key in _SCALARS}
    total.update({key: {} for key in (*_COUNTERS, *_NESTED)})
    annotators: set[str] = set()
    for s in stats:
        for key in _SCALARS:
            total[key] += s[key]
        for key in _COUNTERS:
            _add(total[key], s[key])
        for key in _NESTED:
            for name, counts in s[key].items():
                _add(total[key].setdefault(name, {}), counts)
        annotators.update(s["annotators"])
    total["annotators"] = annotators
    return _normalized(total, fmt)


def _add(into: dict[str, int], counts: Mapping[str, int]) -> None:
    for key, n in counts.items():
        into[key] = into.get(key, 0) + n


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

    settings = _writer_options()
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


def _writer_options() -> dict[str, Any]:
    """Keyword arguments of ``pq.ParquetWriter``: the pinned settings plus the sort order."""
    options = dict(WRITER_SETTINGS)
    options["sorting_columns"] = pq.SortingColumn.from_ordering(SCHEMA, _SORT_ORDER)
    return options


def _definition(
    *,
    dataset_id: str,
    version: int,
    cut: Mapping[str, Any] | Sequence[Any],
    filter: Mapping[str, Any],
    ontology: Mapping[str, Any],
    created_by: str,
) -> dict[str, Any]:
    """The manifest's definition keys, validated (ValueError) and as plain JSON values."""
    if not isinstance(dataset_id, str) or not isinstance(created_by, str):
        raise ValueError("dataset_id and created_by must be str")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ValueError(f"version must be a non-negative int, got {version!r}")
    return {
        "dataset_id": _plain(dataset_id, "dataset_id"),
        "version": version,
        "created_by": _plain(created_by, "created_by"),
        "cut": _plain(cut, "cut"),
        "filter": _plain(filter, "filter"),
        "ontology": _plain(ontology, "ontology"),
    }


def _manifest(
    definition: Mapping[str, Any], files: list[dict[str, Any]], stats: Mapping[str, Any]
) -> tuple[bytes, str, dict[str, Any]]:
    """The canonical manifest bytes, their sha256 and the manifest parsed back from them.

    One builder for ``materialize`` and ``assemble``: counts and lineage come from the
    version's stats (``SegmentFile`` layout), the annotator set reported as its size.
    """
    counts = {
        key: stats[key]
        for key in (
            "rows",
            "labels",
            "per_split",
            "items_per_split",
            "per_class",
            "per_split_class",
            "per_geometry_kind",
        )
    }
    lineage = {
        # Rows per consensus method / review decision, "" (none recorded) included as such.
        "consensus_methods": stats["consensus_methods"],
        "review_decisions": stats["review_decisions"],
        "annotators": len(stats["annotators"]),
        "label_events": stats["label_events"],
        # Rows per prelabel model and version; rows without a prelabel are not listed.
        "prelabel_models": stats["prelabel_models"],
    }
    manifest = {
        **definition,
        "schema_version": SCHEMA_VERSION,
        "sort_keys": list(SORT_KEYS),
        "writer": _writer(),
        "row_count": stats["rows"],
        "counts": counts,
        "files": files,
        "lineage": lineage,
    }
    manifest_bytes = canonical_json(manifest)
    # Parsed back from the bytes, so the dict is exactly what readers will see.
    return manifest_bytes, _sha256(manifest_bytes), json.loads(manifest_bytes)


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
    lineage. There is deliberately no creation time in it (see the module docstring). The
    rows are sorted across files, and ``counts.items_per_split`` counts distinct items over
    the whole table. An empty table gives one file with no rows. Same files, counts and
    manifest builder as ``write_segment`` + ``assemble``: a table of fewer than
    ``rows_per_file`` rows gives the version ``assemble([write_segment(table)])`` gives.
    """
    if isinstance(rows_per_file, bool) or not isinstance(rows_per_file, int) or rows_per_file < 1:
        raise ValueError(f"rows_per_file must be an int >= 1, got {rows_per_file!r}")
    definition = _definition(
        dataset_id=dataset_id,
        version=version,
        cut=cut,
        filter=filter,
        ontology=ontology,
        created_by=created_by,
    )
    table = _conform(table)

    workers = _default_workers()
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
        stats = _stats(table.num_rows, [f.result() for f in side])
        files: dict[str, bytes] = {}
        entries = []
        for i, (done, rows) in enumerate(written):
            data, digest = done.result()
            files[data_path(i)] = data
            entries.append(
                {"path": data_path(i), "sha256": digest, "rows": rows, "bytes": len(data)}
            )

    manifest_bytes, digest, manifest = _manifest(definition, entries, stats)
    files[MANIFEST_PATH] = manifest_bytes
    return Materialized(files=files, manifest=manifest, digest=digest)


# --------------------------------------------------------------------------------------------
# Segments


def write_segment(table: pa.Table) -> SegmentFile:
    """One segment's rows as one Parquet file; same rows in any order → same bytes.

    ``table`` is validated as by ``materialize`` (conformed to ``rows.SCHEMA``, known splits and
    geometry kinds, no two rows sharing ``SORT_KEYS``; else ValueError), sorted by
    ``SORT_KEYS`` and written with ``WRITER_SETTINGS`` in row groups of ``ROW_GROUP_SIZE`` rows,
    each one contiguous chunk: byte for byte what ``materialize`` writes for the same rows in
    one file. An empty table gives a valid file of no rows (``rows`` 0), which ``assemble``
    leaves out. ``stats``: see ``SegmentFile``.

    Single-threaded (a segment is small); ``write_segments`` writes several at once.
    """
    table = _conform(table)
    stats = _stats(table.num_rows, [task() for task in _count_tasks(table)])
    if table.num_rows:
        order = pc.sort_indices(table.select(list(SORT_KEYS)), sort_keys=_SORT_ORDER)
        table = table.take(order)
        duplicate = _duplicate_in(table)
        if duplicate is not None:
            raise ValueError(f"duplicate rows for sort key {duplicate}")
    buffer = io.BytesIO()
    with pq.ParquetWriter(buffer, SCHEMA, **_writer_options()) as writer:
        if table.num_rows:  # no row group at all for no rows, as materialize writes it
            writer.write_table(table, row_group_size=ROW_GROUP_SIZE)
    data = buffer.getvalue()
    return SegmentFile(data=data, sha256=_sha256(data), rows=table.num_rows, stats=stats)


def write_segments(tables: Sequence[pa.Table], *, workers: int | None = None) -> list[SegmentFile]:
    """``write_segment`` of each table, in input order, on up to ``workers`` threads.

    Arrow (sort, gather, encoding, compression) and hashlib release the GIL, so segments are
    written in parallel; each file's bytes are those of ``write_segment`` alone (a file is
    written on one thread, whatever the others do). ``workers``: default Arrow's CPU count,
    capped at 8. Every result is held in memory until all are done; for a very large version
    call it on batches of segments and store each batch (``ObjectStore.put_blob``). The first
    error (in input order) is raised, and segments not yet started are not written.
    """
    tables = list(tables)
    if workers is None:
        workers = _default_workers()
    elif isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
    workers = min(workers, len(tables))
    if workers <= 1:
        return [write_segment(table) for table in tables]
    with ThreadPoolExecutor(workers, thread_name_prefix="write-segment") as pool:
        futures = [pool.submit(write_segment, table) for table in tables]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def assemble(
    entries: Sequence[FileEntry | SegmentFile],
    *,
    dataset_id: str,
    version: int,
    cut: Mapping[str, Any] | Sequence[Any],
    filter: Mapping[str, Any],
    ontology: Mapping[str, Any],
    created_by: str = "",
    extra: Mapping[str, Any] | None = None,
) -> tuple[bytes, str, dict[str, Any]]:
    """A version's manifest over segment files: ``(bytes, sha256 hex of them, parsed back)``.

    The files are listed in the given order as ``data_path(0)``, ``data_path(1)``, ...
    (entries with no rows left out, the rest numbered without gaps); a version with no rows
    lists no file (``read_version`` gives an empty table). Counts and lineage are the entries'
    stats merged (``merge_stats``: exact, except that ``counts.items_per_split`` counts
    distinct items per file, summed, exact when an item's rows all live in one file, as they
    do for the service, where all rows of a task come from one event); each entry's stats are
    validated, their ``format`` included, and must have the entry's row count. The rows of
    different files must be disjoint (the caller's guarantee; two identical files are
    refused). The definition arguments are as for ``materialize`` (``cut`` may also be a JSON
    list, e.g. of {topic, partition, offset}); ``extra`` (a JSON object, e.g. the segments'
    log coordinates) is stored under the key "extra", only when given. Same keys and shape as
    ``materialize``'s manifest otherwise: ``read_version`` and ``ObjectStore.open_version``
    read it, given each file's bytes under its path (or sha256).

    Pure and cheap (no file bytes are read or hashed): the service can assemble from cached
    ``FileEntry``s alone, then store the new blobs and the manifest.
    """
    definition = _definition(
        dataset_id=dataset_id,
        version=version,
        cut=cut,
        filter=filter,
        ontology=ontology,
        created_by=created_by,
    )
    if extra is not None:
        if not isinstance(extra, Mapping):
            raise ValueError(f"extra must be a JSON object, got {type(extra).__name__}")
        definition["extra"] = _plain(extra, "extra")
    fmt = segment_format()
    files: list[dict[str, Any]] = []
    stats: list[Mapping[str, Any]] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        if isinstance(entry, SegmentFile):
            sha256, rows, size, entry_stats = entry.sha256, entry.rows, len(entry.data), entry.stats
        elif isinstance(entry, FileEntry):
            sha256, rows, size, entry_stats = entry.sha256, entry.rows, entry.bytes, entry.stats
        else:
            raise ValueError(f"entries[{i}]: expected a FileEntry or SegmentFile, got {entry!r}")
        if not isinstance(sha256, str) or not _SHA256_HEX.fullmatch(sha256):
            raise ValueError(f"entries[{i}]: not a sha256 hex digest: {sha256!r}")
        if not _is_count(rows) or not _is_count(size):
            raise ValueError(f"entries[{i}]: rows and bytes must be non-negative ints")
        _check_stats(entry_stats, fmt, f"entries[{i}].stats")
        if entry_stats["rows"] != rows:
            raise ValueError(f"entries[{i}]: {rows} rows, its stats say {entry_stats['rows']}")
        if rows == 0:
            continue
        if sha256 in seen:
            raise ValueError(
                f"entries[{i}] is the same file as entries[{seen[sha256]}] ({sha256}): "
                "its rows would be in the version twice"
            )
        seen[sha256] = i
        files.append({"path": data_path(len(files)), "sha256": sha256, "rows": rows, "bytes": size})
        stats.append(entry_stats)
    return _manifest(definition, files, _merge(stats, fmt))


# --------------------------------------------------------------------------------------------
# Reading


def read_version(files: Mapping[str, bytes], *, verify: bool = True) -> pa.Table:
    """The version's rows (``rows.SCHEMA``): its data files concatenated, in manifest order.

    Each file's rows are sorted by ``SORT_KEYS``; a ``materialize``d version's files are also
    in sorted order, an ``assemble``d version's in segment order.

    With a ``manifest.json`` in ``files`` the files are read in manifest order and checked
    against its row counts and, if ``verify``, its sha256 (ValueError on a mismatch; callers
    that verified the bytes already pass ``verify=False``); a manifest of another schema
    version is refused, a manifest listing no file (an assembled version of no rows) gives an
    empty table. Without a manifest, every "data/*.parquet" path is read in path order (the
    paths are zero-padded, so that is manifest order); there must be at least one.
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
        if not expected:
            return SCHEMA.empty_table()
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
