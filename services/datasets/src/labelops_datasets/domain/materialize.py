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
hashlib release the GIL); see ``pipeline._write_sorted`` and ``bench/bench_datasets.py``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from labelops_datasets.domain.manifest import (
    MANIFEST_PATH,
    _definition,
    _manifest,
    _plain,
    _sha256,
    canonical_json,
    data_path,
    read_version,
)
from labelops_datasets.domain.pipeline import _duplicate_in, _Lane, _write_sorted
from labelops_datasets.domain.rows import SCHEMA, SCHEMA_VERSION, SORT_KEYS, conform
from labelops_datasets.domain.stats import (
    STATS_LAYOUT,
    _check_stats,
    _count_tasks,
    _is_count,
    _merge,
    _stats,
)

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

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")

#: Rows per Parquet row group: ~30 MB compressed for typical label rows, large enough for
#: efficient scans, small enough that readers (``datasets``, DataLoaders) can stream a file.
ROW_GROUP_SIZE = 256 * 1024

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


def segment_format() -> str:
    """Fingerprint of what a segment file's bytes and stats depend on besides its rows.

    The pyarrow version, the writer settings (``WRITER_SETTINGS``, ``ROW_GROUP_SIZE``), the row
    schema and the stats layout. Stored in every ``SegmentFile.stats`` as ``format``; a cached
    file whose format differs from this one is refused by ``assemble`` and must be rewritten.
    """
    spec = {
        "schema": SCHEMA.to_string(show_schema_metadata=False),
        "schema_version": SCHEMA_VERSION,
        "stats_layout": STATS_LAYOUT,
        "writer": _writer(),
    }
    return _sha256(canonical_json(spec))[:32]


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


def _writer_options() -> dict[str, Any]:
    """Keyword arguments of ``pq.ParquetWriter``: the pinned settings plus the sort order."""
    options = dict(WRITER_SETTINGS)
    options["sorting_columns"] = pq.SortingColumn.from_ordering(SCHEMA, _SORT_ORDER)
    return options


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
    table = conform(table)

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
            row_group_size=ROW_GROUP_SIZE,
            writer_options=_writer_options(),
        )
        stats = _stats(table.num_rows, [f.result() for f in side], segment_format())
        files: dict[str, bytes] = {}
        entries = []
        for i, (done, rows) in enumerate(written):
            data, digest = done.result()
            files[data_path(i)] = data
            entries.append(
                {"path": data_path(i), "sha256": digest, "rows": rows, "bytes": len(data)}
            )

    manifest_bytes, digest, manifest = _manifest(definition, entries, stats, _writer())
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
    table = conform(table)
    stats = _stats(table.num_rows, [task() for task in _count_tasks(table)], segment_format())
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
    return _manifest(definition, files, _merge(stats, fmt), _writer())


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
